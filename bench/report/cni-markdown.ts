/** latest.md's CNI section: nsnet-cni against the reference bridge plugin. */
import { growth, stats, type Stats } from '../common.js';
import { cniFigures } from './figures.js';
import { f, mdTable, quantile, signed } from './format.js';
import type { CniBench } from './types.js';

/** The CNI section of latest.md. */
export function cniMarkdown(c: CniBench): string[] {
  if (c.available !== true || c.samples === undefined) return [`CNI plugins: ${c.reason ?? 'not measured'}.`, ''];
  const x = cniFigures(c);
  const out: string[] = [];
  out.push(
    `CNI plugins: nsnet-cni (the C client \`bin/nsnet-cni\` relaying to the nsnet CNI service of the namespace) vs the reference \`bridge\` plugin with \`host-local\` IPAM (containernetworking-plugins in /usr/lib/cni, \`isGateway\` and \`ipMasq\` on, so each ADD and DEL runs iptables), in the sandbox host namespace. ${c.n} containers per plugin, each with a namespace made beforehand (\`ip netns add\`, untimed): ADD of container i of both plugins (the order alternating with i), then the DELs likewise, so both share the machine's noise and see the same number of attached containers. Each call is timed from spawn to exit by the benchmark worker, which already runs in the sandbox host namespace (\`spawnSync\`, the same for both; no \`nsenter\` in the time). The first ADD of each plugin is timed apart (below), not in the medians. Configurations: \`${c.configs?.['nsnet-cni'] ?? ''}\` and \`${c.configs?.['bridge'] ?? ''}\`.`,
    '',
  );
  const cells: string[][] = [['call (ms)', 'n', 'median', 'p90', 'p95', 'min', 'max', 'mean']];
  const put = (k: string, v: number[] | Stats | null): void => {
    const st = Array.isArray(v) ? stats(v) : v;
    const p = Array.isArray(v) ? f(quantile(v, 0.9)) : '—';
    cells.push([k, String(st?.n ?? 0), f(st?.median), p, f(st?.p95), f(st?.min), f(st?.max), f(st?.mean)]);
  };
  const sm = c.samples;
  for (const k of ['nsnet-cni ADD', 'bridge ADD', 'nsnet-cni DEL', 'bridge DEL']) put(k, sm[k] ?? []);
  const svc = (xs: Array<number | null> | undefined): number[] => (xs ?? []).filter((v): v is number => v !== null);
  const restOf = (k: 'ADD' | 'DEL'): number[] => (sm[`nsnet-cni ${k}`] ?? []).flatMap((w, i) => { const s = c.service?.[k]?.[i]; return s === null || s === undefined ? [] : [w - s]; });
  put('nsnet-cni ADD: the service\'s handling (its log)', svc(c.service?.ADD));
  put('nsnet-cni ADD: the rest (wall − handling, per call)', restOf('ADD'));
  put('nsnet-cni DEL: the service\'s handling (its log)', svc(c.service?.DEL));
  put('nsnet-cni DEL: the rest (wall − handling, per call)', restOf('DEL'));
  put('spawn /bin/true (process floor)', sm['spawn /bin/true'] ?? []);
  put('nsnet-cni VERSION (client + relay, the service answers at once)', sm['nsnet-cni VERSION'] ?? []);
  put('nsnet-cni VERSION: the service\'s handling', c.service?.VERSION ?? []);
  put('bridge VERSION (process start of the Go plugin)', sm['bridge VERSION'] ?? []);
  out.push(mdTable(cells), '');
  const relay = (x.nsnetVersion?.median ?? NaN) - (x.trueSpawn?.median ?? NaN);
  out.push(
    `ADD: nsnet-cni ${f(x.add.nsnet?.median)} ms vs bridge ${f(x.add.bridge?.median)} ms (medians) = **${f(x.add.ratio)}×** (p90 ${f(x.add.nsnetP90)} vs ${f(x.add.bridgeP90)} ms). DEL: ${f(x.del.nsnet?.median)} vs ${f(x.del.bridge?.median)} ms = **${f(x.del.ratio)}×** (p90 ${f(x.del.nsnetP90)} vs ${f(x.del.bridgeP90)} ms). Both include starting a process from this worker (/bin/true: ${f(x.trueSpawn?.median)} ms); with that floor taken off both, ADD ${f(x.add.ratioNetOfSpawn)}×, DEL ${f(x.del.ratioNetOfSpawn)}×.`,
    '',
    `Where nsnet-cni's ADD goes (means add up, medians do not): of ${f(x.add.nsnet?.mean)} ms on average, the service's handling (\`handleCni\`, timed by the service itself) is ${f(x.addService?.mean)} ms and the rest ${f(x.addRest?.mean)} ms (medians ${f(x.addService?.median)} and ${f(x.addRest?.median)} ms). The rest is the client's process (spawning any process from this worker costs ${f(x.trueSpawn?.median)} ms: /bin/true), its connect, the request and reply over the socket and the service's event loop around the call: a VERSION call, which goes the same way but is answered at once (${f(x.versionService?.median, 1)} ms handling), takes ${f(x.nsnetVersion?.median)} ms against ${f(x.trueSpawn?.median)} ms for /bin/true (${signed(relay)} ms)${relay < 1 ? ': the connect and relay cost little beside starting the process' : ': what the connect, the relay and the service\'s event loop add to starting the process'}. The Go bridge plugin's own process start (its VERSION) is ${f(x.bridgeVersion?.median)} ms; its ADD spends the rest in host-local and in the iptables processes ipMasq runs.`,
    '',
  );
  const grown = ['nsnet-cni ADD', 'bridge ADD', 'nsnet-cni DEL', 'bridge DEL'].map((k) => [k, growth(sm[k] ?? [])] as const).filter(([, g]) => g !== null);
  if (grown.length > 0) {
    out.push(`With the containers accumulating (ADDs up to ${(c.n ?? 0) + 1} attached per plugin, the first call's container included, then DELs down to one), median of the last ${grown[0]![1]!.window} calls over the first ${grown[0]![1]!.window}: ${grown.map(([k, g]) => `${k} ${f(g!.ratio)}×`).join(', ')}.`, '');
  }
  const cold = Object.entries(c.cold ?? {});
  if (cold.length > 0) {
    out.push(`First calls, outside the medians (the nsnet CNI service answered ${f(c.serviceUpAfterColdMs, 0)} ms after the cold call returned; its first call through the service was ADD #1 of the loop: ${f(sm['nsnet-cni ADD']?.[0])} ms, ${f(c.service?.ADD[0] ?? null, 1)} ms handling):`, '');
    out.push(mdTable([['call', 'ms'], ...cold.map(([k, v]) => [k, f(v, 1)])]), '');
  }
  const left = c.leftRunning ?? [];
  out.push(
    `Clean-up: \`nsnet system reset --force\` in the sandbox host namespace: ${c.reset ?? '—'}; processes with the section's state root left after it: ${left.length === 0 ? 'none' : left.map((p) => `${p.pid} (${p.argv}, killed by PID)`).join('; ')}; iptables rules left in the sandbox host namespace after the bridge plugin's DELs: ${c.iptablesRulesAfter ?? '—'}; /var/lib/cni ${c.varLibCni === undefined ? '—' : c.varLibCni.after === c.varLibCni.before ? (c.varLibCni.after ? 'existed before and after' : 'absent before and after (host-local kept its state in the run\'s temp dir)') : c.varLibCni.after ? 'CREATED during the run' : 'removed during the run'}.${(c.notes ?? []).length > 0 ? ` Notes: ${c.notes!.join('; ')}.` : ''}`,
    '',
  );
  return out;
}
