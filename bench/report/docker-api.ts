/** The Docker-API section: the docker CLI against nsnet serve and against dockerd — figures, targets, markdown, JSON. */
import { stats, type Stats } from '../common.js';
import type { DockerApiResult } from '../jobs/docker-api.js';
import { f, mdTable, quantile, round, signed } from './format.js';
import { ciAgainst, medianCiRanks, pairedSummary, type PairedSummary } from './paired.js';
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

/**
 * The two daemons' calls of one command compared round by round (the job keeps index i of both
 * arrays for round i); a string saying why not when one daemon has no figures or the arrays
 * cannot be paired (a bug in the job: never guess which rounds go together).
 */
function paired(r: DockerApiResult, command: string): PairedSummary | string {
  const a = r.samples[`nsnet ${command}`];
  const b = r.samples[`dockerd ${command}`];
  if (a === undefined || a.length === 0 || b === undefined || b.length === 0) return `no paired rounds (nsnet ${a?.length ?? 0} calls, dockerd ${b?.length ?? 0})`;
  if (a.length !== b.length) return `not paired: nsnet ${a.length} calls, dockerd ${b.length} (each round must time one of each)`;
  return pairedSummary(a, b);
}

/** A per-round ratio's interval, to 3 decimals: the targets are decided by differences of a few per cent. */
const ciText = (p: PairedSummary): string => (p.ratio.low === null || p.ratio.high === null ? 'no CI (too few rounds)' : `CI ${f(p.ratio.low, 3)}–${f(p.ratio.high, 3)}×`);

/** Whether one run decides the target: the interval wholly under it, wholly over it, or across it. */
function decidedText(p: PairedSummary, max: number): string {
  switch (ciAgainst(p.ratio, max)) {
    case 'under':
      return 'decided: the whole CI is under the target';
    case 'over':
      return 'decided: the whole CI is over the target';
    case 'straddles':
      return `within noise of the target: ${ciText(p)}`;
    case 'no interval':
      return 'undecided: too few rounds for a CI';
  }
}

const pct = (x: number | null): string => (x === null ? '—' : `${f(x * 100, 1)}%`);

/** One line of the paired figures: the verdict's statistic first. */
function pairedText(p: PairedSummary): string {
  const ci = p.coverage === null ? `no CI: ${p.rounds} rounds are too few` : `95% ${ciText(p)}, distribution-free, coverage ${pct(p.coverage)}, ${p.rounds} rounds`;
  const diffCi = p.diff.low === null || p.diff.high === null ? '' : ` (CI ${signed(p.diff.low)} to ${signed(p.diff.high)})`;
  return `per round nsnet / dockerd **${f(p.ratio.median, 3)}×** (${ci}), nsnet − dockerd ${signed(p.diff.median)} ms${diffCi}, nsnet faster in ${p.aFaster} of ${p.rounds} rounds (sign test p ${pText(p.signTestP)})`;
}

const pText = (p: number): string => (p < 0.001 ? '< 0.001' : `= ${f(p, 3)}`);

/** "40th and 61st values (coverage 96.5%)" for n rounds. */
function medianCiRanksText(n: number): string {
  const r = medianCiRanks(n);
  return r === null ? 'interval needs at least 6 rounds' : `interval is the ${ordinal(r.low)} to the ${ordinal(r.high)} value, coverage ${pct(r.coverage)}`;
}

const ordinal = (k: number): string => `${k}${k % 100 >= 11 && k % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][k % 10] ?? 'th')}`;

/** The by-hand floor of every docker command: the CLI's start and a round trip to the daemon. */
function floors(r: DockerApiResult): { cli: Stats | null; nsnet: Stats | null; dockerd: Stats | null } {
  return { cli: stats(r.samples['docker --version (the CLI alone)'] ?? []), nsnet: stats(r.samples['nsnet version'] ?? []), dockerd: stats(r.samples['dockerd version'] ?? []) };
}

const loadNote = (r: DockerApiResult): string => `1-min load average ${Object.entries(r.load).map(([k, v]) => `${k} ${f(v, 1)}`).join(', ')}`;

export function dockerApiTargets(r: DockerApiResult | undefined): Target[] {
  return TARGETS.map(({ id, command, shown, max }): Target => {
    const target = `\`${shown}\` through nsnet serve ≤ ${max === 1 ? '' : `${max}× `}dockerd's, same docker CLI, same run (median of the per-round ratios of interleaved calls)`;
    if (r === undefined) return { id, target, measured: 'the Docker-API section did not run', status: 'not measured' };
    const p = pair(r, command);
    const fl = floors(r);
    if (p.nsnet === null) return { id, target, measured: r.nsnet.reason ?? 'nsnet was not measured', status: 'not measured' };
    const nsnetPart = `nsnet ${f(p.nsnet.median)} ms (p90 ${f(p.nsnet.p90)}, n=${p.nsnet.n})`;
    if (p.dockerd === null) {
      return { id, target, measured: `${nsnetPart}; dockerd not measured: ${r.dockerd.reason ?? 'no figures'}; floor: the CLI alone ${f(fl.cli?.median)} ms, a round trip to nsnet (docker version) ${f(fl.nsnet?.median)} ms`, status: 'not measured' };
    }
    const pr = paired(r, command);
    const api = command === 'ps' ? pair(r, 'GET /containers/json (no CLI)') : undefined;
    const apiPaired = command === 'ps' ? paired(r, 'GET /containers/json (no CLI)') : undefined;
    const apiPart =
      api?.ratio === null || api === undefined
        ? ''
        : `; the request alone (GET /containers/json, no CLI) ${f(api.nsnet?.median)} vs ${f(api.dockerd?.median)} ms = ${f(api.ratio)}× (p90 ${f(api.nsnet?.p90)} vs ${f(api.dockerd?.p90)})${typeof apiPaired === 'object' ? `, per round ${f(apiPaired.ratio.median, 3)}× (${ciText(apiPaired)})` : ''}`;
    const medians = `ratio of medians: ${nsnetPart} vs dockerd ${f(p.dockerd.median)} ms (p90 ${f(p.dockerd.p90)}) = ${f(p.ratio)}× (p90 ${f(p.ratioP90)}×)`;
    if (typeof pr === 'string') return { id, target, measured: `${pr}; ${medians}`, status: 'not measured' };
    return {
      id,
      target,
      measured: `${pairedText(pr)}; ${decidedText(pr, max)}; ${medians}${apiPart}; ${r.cli.path}; ${loadNote(r)}`,
      status: pr.ratio.median <= max ? 'pass' : 'miss',
    };
  });
}

export function dockerApiMarkdown(r: DockerApiResult): string[] {
  const out: string[] = [];
  out.push(
    `Docker API: the same docker CLI, \`${r.cli.path}\` (${r.cli.version}), against \`nsnet serve\` (in the sandbox host namespace, its own state root) and against dockerd ${r.dockerd.available ? `(${r.dockerd.version ?? ''}; storage driver ${r.dockerd.storageDriver ?? '?'}; started by the benchmark in a network and mount namespace of its own, with \`${(r.dockerd.flags ?? []).join(' ')}\`, a tmpfs over /run, a refusing modprobe; see bench/jobs/dockerd.ts)` : `— **dockerd could not run here**: ${r.dockerd.reason ?? 'no reason given'}`}. Both loaded the same archive (busybox from the host's /bin/busybox; no pull). Each call is timed from spawn to exit by the benchmark worker (spawnSync), the two daemons' calls interleaved with the order alternating: ${r.reps} loads each (from no image: \`docker rmi\` before each, untimed), ${r.n} \`docker run -d busybox sleep 1000\` each after one cold run (below), then ${r.psReps} \`docker ps\` each with ${r.n + 1} containers running, each round also the API request behind it (\`GET /v1.41/containers/json\` over the socket from the worker, no CLI) and the CLI alone (\`docker --version\`, once per round of every phase). ${loadNote(r)} (the machine is shared with other engineers' tests); the worker, both daemons and every call ran at ${r.scheduling}.`,
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
  // The verdict: round by round.
  const verdicts: string[][] = [['command', 'rounds', 'nsnet / dockerd per round: median (95% CI)', 'nsnet − dockerd per round, ms: median (95% CI)', 'nsnet faster', 'sign test p', 'ratio of medians', 'target', 'result']];
  const statuses = new Map(dockerApiTargets(r).map((t) => [t.id, t.status]));
  const verdictRow = (command: string, shown: string, max: number | undefined, status: string | undefined): void => {
    const p = paired(r, command);
    const ratioOfMedians = f(pair(r, command).ratio);
    if (typeof p === 'string') {
      verdicts.push([`\`${shown}\``, '—', p, '—', '—', '—', `${ratioOfMedians}×`, max === undefined ? '—' : `≤ ${max}×`, status === undefined ? '—' : `**${status}**`]);
      return;
    }
    const range = (lo: number | null, hi: number | null, fmt: (x: number) => string): string => (lo === null || hi === null ? 'no CI' : `${fmt(lo)} to ${fmt(hi)}`);
    verdicts.push([
      `\`${shown}\``,
      String(p.rounds),
      `**${f(p.ratio.median, 3)}×** (${range(p.ratio.low, p.ratio.high, (x) => f(x, 3))})`,
      `${signed(p.diff.median)} (${range(p.diff.low, p.diff.high, signed)})`,
      `${p.aFaster} of ${p.rounds}`,
      pText(p.signTestP).replace('= ', ''),
      `${ratioOfMedians}×`,
      max === undefined ? '—' : `≤ ${max}×`,
      max === undefined || status === undefined ? '(the daemon\'s share alone, no target)' : `**${status}**; ${decidedText(p, max)}`,
    ]);
  };
  for (const { id, command, shown, max } of TARGETS) verdictRow(command, shown, max, statuses.get(id));
  verdictRow('GET /containers/json (no CLI)', 'GET /v1.41/containers/json', undefined, undefined);
  const n = r.psReps;
  out.push(
    mdTable(verdicts),
    '',
    `The targets are judged on the median of the per-round ratios. In each round the two daemons' calls ran back to back (the order alternating), so they met the same machine (its load at that moment, other engineers' tests) and comparing them round by round takes that shared part of the noise out; what remains is each call's own variation, mostly the docker CLI's own start (${f(floors(r).cli?.median, 0)} ms of every command here), and the interval shows how much. The ratio of the two medians (the old verdict, shown beside it) keeps all of it: a ratio of medians near 1 wanders a few per cent from run to run. The 95% interval is distribution-free: the l-th and (n+1−l)-th of the n sorted per-round values, l from the binomial distribution (bench/report/paired.ts; at ${n} rounds, as for \`docker ps\` here, the ${medianCiRanksText(n)}). A result whose interval contains the target is **within noise of the target**: that run does not decide it either way. The sign test asks whether one daemon was faster in more rounds than a coin would give: a small p says one was, consistently; a large p says this run cannot tell.`,
    '',
  );

  const cli = floors(r).cli?.median;
  const rows: string[][] = [['command', 'nsnet / dockerd (medians)', 'p90s', 'medians less the CLI alone']];
  for (const { command, shown } of TARGETS) {
    const p = pair(r, command);
    const less = (x: number | undefined): number | undefined => (x === undefined || cli === undefined ? undefined : x - cli);
    const net = less(p.nsnet?.median) !== undefined && less(p.dockerd?.median) !== undefined ? less(p.nsnet?.median)! / less(p.dockerd?.median)! : null;
    rows.push([`\`${shown}\``, `${f(p.nsnet?.median)} / ${f(p.dockerd?.median)} ms = ${f(p.ratio)}×`, `${f(p.nsnet?.p90)} / ${f(p.dockerd?.p90)} ms = ${f(p.ratioP90)}×`, `${f(less(p.nsnet?.median))} / ${f(less(p.dockerd?.median))} ms = ${f(net)}×`]);
  }
  out.push(mdTable(rows), '', 'The same calls as independent samples: the column "less the CLI alone" takes the docker CLI\'s own start (`docker --version`, the same for both, timed in every round) off both medians, to show the daemons\' share.', '');
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
    psReps: r.psReps,
    nsnet: r.nsnet,
    dockerd: r.dockerd,
    /** The ratio of the two medians (and of the p90s): the verdict before paired rounds, kept for older readers. */
    ratios: Object.fromEntries(TARGETS.map(({ command }) => [command, { median: pair(r, command).ratio, p90: pair(r, command).ratioP90 }])),
    /** Round by round (nsnet_i against dockerd_i): the figures the targets are judged on. */
    paired: Object.fromEntries([...TARGETS.map((t) => t.command), 'GET /containers/json (no CLI)'].map((command) => [command, pairedJson(paired(r, command))])),
    verdicts: Object.fromEntries(
      TARGETS.map(({ command, max }) => {
        const p = paired(r, command);
        return [command, { basis: 'median of the per-round ratios', max, status: typeof p === 'string' ? 'not measured' : p.ratio.median <= max ? 'pass' : 'miss', ci: typeof p === 'string' ? p : ciAgainst(p.ratio, max) }];
      }),
    ),
    calls: Object.fromEntries(Object.entries(r.samples).map(([k, v]) => [k, withP90(v)])),
    cold: r.cold,
    load: r.load,
    cleanup: r.cleanup,
    notes: r.notes,
    raw: Object.fromEntries(Object.entries(r.samples).map(([k, v]) => [k, v.map(round)])),
  };
}

function pairedJson(p: PairedSummary | string): unknown {
  if (typeof p === 'string') return { reason: p };
  const r3 = (x: number | null): number | null => (x === null ? null : round(x));
  return {
    rounds: p.rounds,
    ratio: { median: p.ratio.median, low: p.ratio.low, high: p.ratio.high },
    diffMs: { median: r3(p.diff.median), low: r3(p.diff.low), high: r3(p.diff.high) },
    coverage: p.coverage,
    nsnetFaster: p.aFaster,
    dockerdFaster: p.bFaster,
    ties: p.ties,
    signTestP: p.signTestP,
  };
}
