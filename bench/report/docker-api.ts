/** The Docker-API section: the docker CLI against nsnet serve and against dockerd — figures, targets, markdown, JSON. */
import { stats, type Stats } from '../common.js';
import type { DockerApiResult } from '../jobs/docker-api.js';
import { f, mdTable, quantile, round } from './format.js';
import type { Machine, Target } from './types.js';

/** Issue 18's targets: nsnet's median over dockerd's, same run. */
const TARGETS = [
  { id: 'docker-run', command: 'run -d', shown: 'docker run -d busybox sleep 1000', max: 0.5 },
  { id: 'docker-ps', command: 'ps', shown: 'docker ps', max: 1 },
  { id: 'docker-load', command: 'load', shown: 'docker load -i busybox.tar', max: 1 },
] as const;

interface Pair {
  nsnet: (Stats & { p90: number }) | null;
  dockerd: (Stats & { p90: number }) | null;
  /** nsnet median / dockerd median, and likewise p90. */
  ratio: number | null;
  ratioP90: number | null;
}

const withP90 = (xs: readonly number[] | undefined): (Stats & { p90: number }) | null => {
  const s = stats(xs ?? []);
  return s === null ? null : { ...s, p90: quantile(xs!, 0.9) };
};

function pair(r: DockerApiResult, command: string): Pair {
  const nsnet = withP90(r.samples[`nsnet ${command}`]);
  const dockerd = withP90(r.samples[`dockerd ${command}`]);
  return {
    nsnet,
    dockerd,
    ratio: nsnet !== null && dockerd !== null ? nsnet.median / dockerd.median : null,
    ratioP90: nsnet !== null && dockerd !== null ? nsnet.p90 / dockerd.p90 : null,
  };
}

/** The by-hand floor of every docker command: the CLI's start and a round trip to the daemon. */
function floors(r: DockerApiResult): { cli: Stats | null; nsnet: Stats | null; dockerd: Stats | null } {
  return { cli: stats(r.samples['docker --version (the CLI alone)'] ?? []), nsnet: stats(r.samples['nsnet version'] ?? []), dockerd: stats(r.samples['dockerd version'] ?? []) };
}

const loadNote = (r: DockerApiResult): string => `1-min load average ${Object.entries(r.load).map(([k, v]) => `${k} ${f(v, 1)}`).join(', ')}`;

export function dockerApiTargets(r: DockerApiResult | undefined): Target[] {
  return TARGETS.map(({ id, command, shown, max }): Target => {
    const target = `\`${shown}\` through nsnet serve ≤ ${max === 1 ? '' : `${max}× `}dockerd's, same docker CLI, same run (medians)`;
    if (r === undefined) return { id, target, measured: 'the Docker-API section did not run', status: 'not measured' };
    const p = pair(r, command);
    const fl = floors(r);
    if (p.nsnet === null) return { id, target, measured: r.nsnet.reason ?? 'nsnet was not measured', status: 'not measured' };
    const nsnetPart = `nsnet ${f(p.nsnet.median)} ms (p90 ${f(p.nsnet.p90)}, n=${p.nsnet.n})`;
    if (p.dockerd === null) {
      return { id, target, measured: `${nsnetPart}; dockerd not measured: ${r.dockerd.reason ?? 'no figures'}; floor: the CLI alone ${f(fl.cli?.median)} ms, a round trip to nsnet (docker version) ${f(fl.nsnet?.median)} ms`, status: 'not measured' };
    }
    const api = command === 'ps' ? pair(r, 'GET /containers/json (no CLI)') : undefined;
    const apiPart = api?.ratio === null || api === undefined ? '' : `; the request alone (GET /containers/json, no CLI) ${f(api.nsnet?.median)} vs ${f(api.dockerd?.median)} ms = ${f(api.ratio)}× (p90 ${f(api.nsnet?.p90)} vs ${f(api.dockerd?.p90)})`;
    return {
      id,
      target,
      measured: `${nsnetPart} vs dockerd ${f(p.dockerd.median)} ms (p90 ${f(p.dockerd.p90)}): **${f(p.ratio)}×** (p90 ${f(p.ratioP90)}×)${apiPart}; ${r.cli.path}; ${loadNote(r)}`,
      status: p.ratio !== null && p.ratio <= max ? 'pass' : 'miss',
    };
  });
}

export function dockerApiMarkdown(r: DockerApiResult): string[] {
  const out: string[] = [];
  out.push(
    `Docker API: the same docker CLI, \`${r.cli.path}\` (${r.cli.version}), against \`nsnet serve\` (in the sandbox host namespace, its own state root) and against dockerd ${r.dockerd.available ? `(${r.dockerd.version ?? ''}; storage driver ${r.dockerd.storageDriver ?? '?'}; started by the benchmark in a network and mount namespace of its own, with \`${(r.dockerd.flags ?? []).join(' ')}\`, a tmpfs over /run, a refusing modprobe; see bench/jobs/dockerd.ts)` : `— **dockerd could not run here**: ${r.dockerd.reason ?? 'no reason given'}`}. Both loaded the same archive (busybox from the host's /bin/busybox; no pull). Each call is timed from spawn to exit by the benchmark worker (spawnSync), the two daemons' calls interleaved with the order alternating: ${r.reps} loads each (from no image: \`docker rmi\` before each, untimed), ${r.n} \`docker run -d busybox sleep 1000\` each after one cold run (below), then ${r.reps} \`docker ps\` each with ${r.n + 1} containers running, each round also the API request behind it (\`GET /v1.41/containers/json\` over the socket from the worker, no CLI) and the CLI alone (\`docker --version\`, once per round of every phase). ${loadNote(r)} (the machine is shared with other engineers' tests); the worker, both daemons and every call ran at ${r.scheduling}.`,
    '',
  );
  const cells: string[][] = [['command (ms)', 'n', 'median', 'p90', 'min', 'max', 'mean']];
  const put = (k: string): void => {
    const xs = r.samples[k] ?? [];
    const s = stats(xs);
    if (s !== null) cells.push([k, String(s.n), f(s.median), f(quantile(xs, 0.9)), f(s.min), f(s.max), f(s.mean)]);
  };
  for (const { command } of TARGETS) for (const d of ['nsnet', 'dockerd']) put(`${d} ${command}`);
  for (const k of ['nsnet GET /containers/json (no CLI)', 'dockerd GET /containers/json (no CLI)', 'docker --version (the CLI alone)', 'nsnet version', 'dockerd version']) put(k);
  out.push(mdTable(cells), '');
  const cli = floors(r).cli?.median;
  const rows: string[][] = [['command', 'nsnet / dockerd (medians)', 'p90s', 'medians less the CLI alone', 'target', 'result']];
  for (const t of dockerApiTargets(r)) {
    const spec = TARGETS.find((x) => x.id === t.id)!;
    const p = pair(r, spec.command);
    const less = (x: number | undefined): number | undefined => (x === undefined || cli === undefined ? undefined : x - cli);
    const net = less(p.nsnet?.median) !== undefined && less(p.dockerd?.median) !== undefined ? less(p.nsnet?.median)! / less(p.dockerd?.median)! : null;
    rows.push([`\`${spec.shown}\``, `${f(p.nsnet?.median)} / ${f(p.dockerd?.median)} ms = ${f(p.ratio)}×`, `${f(p.nsnet?.p90)} / ${f(p.dockerd?.p90)} ms = ${f(p.ratioP90)}×`, `${f(less(p.nsnet?.median))} / ${f(less(p.dockerd?.median))} ms = ${f(net)}×`, `≤ ${spec.max}×`, `**${t.status}**`]);
  }
  out.push(mdTable(rows), '', 'The target is judged on the whole command as a user runs it (the medians); the column "less the CLI alone" takes the docker CLI\'s own start (`docker --version`, the same for both) off both, to show the daemons\' share.', '');
  const fl = floors(r);
  out.push(
    `Floor (what any docker command pays): the CLI alone (\`docker --version\`, no daemon) ${f(fl.cli?.median)} ms; \`docker version\` (the CLI, /_ping and /version) ${f(fl.nsnet?.median)} ms against nsnet, ${f(fl.dockerd?.median)} ms against dockerd. First \`docker run -d\` of each daemon, outside the medians: ${Object.entries(r.cold).map(([k, v]) => `${k} ${f(v, 1)} ms`).join('; ') || '—'}. Daemon start to the first /_ping answer: nsnet serve ${f(r.nsnet.startMs, 0)} ms, dockerd ${f(r.dockerd.startMs, 0)} ms.`,
    '',
  );
  const c = r.cleanup;
  const d = c.dockerd;
  out.push(
    `${machineCheck(r)} Clean-up: \`docker rm -f\` of every container ${f(c.nsnetRmMs, 0)} ms on nsnet, ${f(c.dockerdRmMs, 0)} ms on dockerd; nsnet serve ${c.nsnetStop ?? '—'}, \`nsnet system reset --force\` ${c.nsnetReset ?? '—'}; ${d === undefined ? 'no dockerd to stop' : `dockerd ${d.stopped} on SIGTERM; processes killed after it (by PID, in its namespace or cgroups): ${d.killedAfter.length === 0 ? 'none' : d.killedAfter.join(', ')}; cgroups left: ${d.cgroupsLeft.length === 0 ? 'none' : d.cgroupsLeft.join(', ')}; mounts under its directory in the machine's mount namespace: ${d.mountsLeft.length === 0 ? 'none' : d.mountsLeft.join(', ')}; its namespace ${d.netnsDeleted ? 'deleted' : 'NOT deleted'}, its directory ${d.dirRemoved ? 'removed' : 'NOT removed'}`}.${r.dockerd.failures !== undefined && r.dockerd.failures.length > 0 && r.dockerd.available ? ` Storage drivers that failed first: ${r.dockerd.failures.join('; ')}.` : ''}${r.notes.length > 0 ? ` Notes: ${r.notes.join('; ')}.` : ''}`,
    '',
  );
  return out;
}

/** The orchestrator's before/after comparison of the machine's own namespace. */
function machineCheck(r: DockerApiResult): string {
  const m = r.machineNamespace;
  if (m === undefined) return 'The machine\'s own namespace was not compared before and after.';
  return `The machine's own namespace before and after the section (${m.checked.join(', ')}): ${m.changes.length === 0 ? 'no change' : `**CHANGED**: ${m.changes.join('; ')}`}.`;
}

/** bench/results/docker-api.md: the section alone, with the machine and the targets. */
export function dockerApiReport(r: DockerApiResult, m: Machine): string {
  const rows = dockerApiTargets(r).map((t) => [t.target, t.measured, `**${t.status}**`]);
  return [
    '# nsnet Docker-API benchmark (issue 18)',
    '',
    `Generated by \`node dist/bench/run.js --only docker\` (bench/run.ts, bench/jobs/docker-api.ts) on ${m.date}: ${m.cpus} × ${m.cpuModel}, kernel ${m.kernel}, node ${m.node}; nsnet ${m.nsnetCommit.slice(0, 12)} (${m.codeMeasured ?? 'working tree'}). Load average (1, 5, 15 min) at the start of the run ${m.loadAvgStart?.join(', ') ?? '—'}: the machine is shared with other engineers' tests, so absolute times are noisy; the calls are interleaved so the ratios share the noise.`,
    '',
    mdTable([['target', 'measured', 'result'], ...rows]),
    '',
    ...dockerApiMarkdown(r),
  ].join('\n');
}

export function dockerApiJson(r: DockerApiResult): unknown {
  return {
    cli: r.cli,
    n: r.n,
    reps: r.reps,
    nsnet: r.nsnet,
    dockerd: r.dockerd,
    ratios: Object.fromEntries(TARGETS.map(({ command }) => [command, { median: pair(r, command).ratio, p90: pair(r, command).ratioP90 }])),
    calls: Object.fromEntries(Object.entries(r.samples).map(([k, v]) => [k, withP90(v)])),
    cold: r.cold,
    load: r.load,
    cleanup: r.cleanup,
    notes: r.notes,
    raw: Object.fromEntries(Object.entries(r.samples).map(([k, v]) => [k, v.map(round)])),
  };
}
