/**
 * The targets of the benchmark's issue, judged on one run: each function reads the rows (the
 * attach/detach matrix) or one section of the extras and says pass, miss, measured (a figure with
 * no threshold), not built yet or not measured, with what was measured.
 */
import { growth, medianOf, type RuleCounts } from '../common.js';
import { dockerApiTargets } from './docker-api.js';
import { cniFigures, portDeltas } from './figures.js';
import { f, ratio } from './format.js';
import type { Matrix } from './rows.js';
import type { Extras, Target } from './types.js';

/** Every target, in the report's order. */
export function buildTargets(matrix: Matrix, extras: Extras): Target[] {
  return [
    ...libAttachTarget(matrix, extras),
    ...detachTarget(matrix),
    ...cliTargets(matrix, extras),
    ...batchTarget(matrix),
    ...nftRulesTarget(matrix),
    ...firewallTargets(extras),
    ...portTargets(extras),
    ...throughputTarget(extras),
    ...dnsTarget(extras),
    ...netemTarget(extras),
    ...partitionTarget(extras),
    ...dualStackTarget(extras),
    ...cniTargets(extras),
    ...dockerApiTargets(extras.dockerApi),
  ];
}

/**
 * The targets a full run failed to measure, as errors ("ID: reason"); one already named by an
 * error of the run (a section that found its tool missing) is not repeated.
 */
export function unmeasuredErrors(targets: readonly Target[], errors: readonly string[]): string[] {
  return targets.filter((t) => t.status === 'not measured' && !errors.some((e) => e.startsWith(`${t.id}: `))).map((t) => `${t.id}: ${t.measured}`);
}

/** Library attach (lib-kernel): ≤ 3 ms median, ≤ 0.5× floor, no child process. */
function libAttachTarget({ row, refN }: Matrix, extras: Extras): Target[] {
  const targets: Target[] = [];
  const n = refN('lib-kernel');
  const r = n === undefined ? undefined : row('lib-kernel', n);
  const nc = extras.noChild;
  if (r?.attach) {
    const ok = r.attach.median <= 3 && (r.attachVsFloor ?? Infinity) <= 0.5 && nc?.checked === true && nc.childProcesses === 0;
    targets.push({
      id: 'lib-attach',
      target: 'Library attach of one container ≤ 3 ms median and ≤ 0.5× floor, no child process',
      measured: `${f(r.attach.median)} ms median at N=${n} (${f(r.attachVsFloor)}× floor, ${f(r.attachVsByhand)}× by-hand); child processes during ${nc?.containers ?? '?'} attaches: ${nc?.checked ? nc.childProcesses : 'not checked (' + (nc?.note ?? 'no check') + ')'}`,
      status: ok ? 'pass' : 'miss',
    });
  } else targets.push({ id: 'lib-attach', target: 'Library attach ≤ 3 ms', measured: 'no lib-kernel attach in this run', status: 'not measured' });
  return targets;
}

/** Detach of a container being removed (judged on remove()). */
function detachTarget({ row, refN }: Matrix): Target[] {
  const targets: Target[] = [];
  const nr = refN('lib-run');
  const nk = refN('lib-kernel');
  const run = nr === undefined ? undefined : row('lib-run', nr);
  const ker = nk === undefined ? undefined : row('lib-kernel', nk);
  if (run?.detach || ker?.detach) {
    const judged = run?.detach ?? ker!.detach!;
    targets.push({
      id: 'detach',
      target: 'Detach of one container being removed ≤ 5 ms median',
      measured: `remove() ${f(run?.detach?.median)} ms at N=${nr ?? '—'} (kill + netns-del + store); KernelRunner netns-del alone ${f(ker?.detach?.median)} ms at N=${nk ?? '—'}; judged on remove()`,
      status: judged.median <= 5 ? 'pass' : 'miss',
    });
  } else targets.push({ id: 'detach', target: 'Detach of one container being removed ≤ 5 ms median', measured: 'no lib-run or lib-kernel detach in this run', status: 'not measured' });
  return targets;
}

/** The CLI: run -d end to end, network connect over node's start-up. */
function cliTargets({ row, refN }: Matrix, extras: Extras): Target[] {
  const targets: Target[] = [];
  const n = refN('cli');
  const r = n === undefined ? undefined : row('cli', n);
  if (r?.attach) {
    targets.push({
      id: 'cli-run',
      target: 'CLI `nsnet run -d ... -- sleep 1000` ≤ 100 ms median end to end',
      measured: `${f(r.attach.median, 1)} ms at N=${n} (${f(r.attachVsFloor, 1)}× floor, ${f(r.attachVsByhand)}× by-hand)`,
      status: r.attach.median <= 100 ? 'pass' : 'miss',
    });
  } else targets.push({ id: 'cli-run', target: 'CLI `nsnet run -d ... -- sleep 1000` ≤ 100 ms median', measured: 'no cli attach in this run', status: 'not measured' });
  const s = extras.connect?.samples;
  if (s !== undefined) {
    const node = medianOf(s['node -e 0'] ?? []);
    const conn = medianOf(s['nsnet network connect'] ?? []);
    targets.push({
      id: 'cli-connect',
      target: '`nsnet network connect` ≤ bare `node -e 0` + 15 ms',
      measured: `connect ${f(conn, 1)} ms vs node -e 0 ${f(node, 1)} ms: +${f(conn - node, 1)} ms`,
      status: conn <= node + 15 ? 'pass' : 'miss',
    });
  } else targets.push({ id: 'cli-connect', target: '`nsnet network connect` ≤ bare `node -e 0` + 15 ms', measured: 'the CLI start-up section did not run', status: 'not measured' });
  return targets;
}

/** 1000 containers through one library batch. */
function batchTarget({ row }: Matrix): Target[] {
  const targets: Target[] = [];
  const r = row('lib-run', 1000);
  if (r?.attach) {
    const ok = r.attachTotalS < 15 && (r.attachGrowth?.ratio ?? Infinity) <= 1.2;
    targets.push({
      id: 'batch-1000',
      target: '1000 containers (each with a process) through one library batch < 15 s, last-100/first-100 ≤ 1.2×',
      measured: `${f(r.attachTotalS, 1)} s, growth ${f(r.attachGrowth?.ratio)}×`,
      status: ok ? 'pass' : 'miss',
    });
  } else targets.push({ id: 'batch-1000', target: '1000 containers through one library batch < 15 s', measured: 'N=1000 not in this run', status: 'not measured' });
  return targets;
}

/** nftables rules after N containers of the matrix equal the count after 1. */
function nftRulesTarget({ rows }: Matrix): Target[] {
  const targets: Target[] = [];
  const big = rows.filter((r) => r.method === 'lib-run' || r.method === 'cli').sort((a, b) => b.n - a.n)[0];
  if (big !== undefined) {
    targets.push({
      id: 'nft-rules',
      target: 'nftables rule count after N containers equals the count after 1',
      measured: `${big.method} N=${big.n}: ${big.nftRulesAfterN ?? '—'} rules after N, ${big.nftRulesAfter1 ?? '—'} after 1`,
      status: big.nftRulesAfterN !== null && big.nftRulesAfterN === big.nftRulesAfter1 ? 'pass' : 'miss',
    });
  } else targets.push({ id: 'nft-rules', target: 'nftables rule count after N containers equals the count after 1', measured: 'no lib-run or cli attach in this run', status: 'not measured' });
  return targets;
}

/** Rule counts per firewall driver (the firewall job); the iptables driver's when it was not measured. */
function firewallTargets(extras: Extras): Target[] {
  const targets: Target[] = [];
  const ft = extras.features;
  // Rule counts per driver (no threshold for iptables: the issue's target is the nftables one).
  for (const fw of extras.firewall ?? []) {
    const c1 = fw.counts.find((x) => x.containers === 1);
    const cN = fw.counts.find((x) => x.containers === fw.made && x.label.startsWith('after '));
    const total = (x: RuleCounts | undefined): number | null => (x === undefined ? null : (x.nftRules ?? 0) + x.iptables + x.ebtables);
    const per = c1 !== undefined && cN !== undefined && fw.made > 1 ? ((total(cN) ?? 0) - (total(c1) ?? 0)) / (fw.made - 1) : null;
    targets.push({
      id: `rules-${fw.driver}`,
      target: fw.driver === 'nftables' ? 'Firewall rule count after N containers equals the count after 1, nftables driver (firewall job)' : `Firewall rule count after N containers, ${fw.driver} driver (no target; reported)`,
      measured: `after 1 → after ${fw.made}: nft rules ${c1?.nftRules ?? '—'} → ${cN?.nftRules ?? '—'} (set elements ${c1?.nftSetElements ?? '—'} → ${cN?.nftSetElements ?? '—'}), iptables ${c1?.iptables ?? '—'} → ${cN?.iptables ?? '—'}, ebtables ${c1?.ebtables ?? '—'} → ${cN?.ebtables ?? '—'}; ${per === null ? '' : `${f(per)} rules per extra container; `}attach median ${f(medianOf(fw.attachMs))} ms${fw.failed ? `; stopped early: ${fw.failed.slice(0, 120)}` : ''}`,
      status: fw.driver === 'nftables' ? (total(c1) !== null && total(c1) === total(cN) && fw.made === fw.n ? 'pass' : 'miss') : 'measured',
    });
  }
  if (!(extras.firewall ?? []).some((x) => x.driver === 'nftables')) {
    targets.push({ id: 'rules-nftables', target: 'Firewall rule count after N containers equals the count after 1, nftables driver', measured: 'the rule-count section did not run', status: 'not measured' });
  }
  if (!(extras.firewall ?? []).some((x) => x.driver === 'iptables')) {
    targets.push({ id: 'rules-iptables', target: 'Firewall rule count, iptables driver', measured: ft?.iptables ? 'not measured in this run' : 'no iptables driver in the CLI', status: ft?.iptables ? 'not measured' : 'not built yet' });
  }
  return targets;
}

/** One published port, per driver, and the rule count after many. */
function portTargets(extras: Extras): Target[] {
  const targets: Target[] = [];
  const ft = extras.features;
  // One published port.
  const pn = extras.ports?.find((x) => x.driver === 'nftables');
  if (pn?.publishable === true && pn.lib !== undefined && pn.steps !== undefined) {
    const d = portDeltas(pn);
    targets.push({
      id: 'port',
      target: 'One published port costs ≤ 1 ms more, added and removed (library run() + remove() with -p 8080:80 vs without; nftables)',
      measured: `run() +${f(d.run)} ms, remove() +${f(d.remove)} ms: +${f(d.total)} ms in all (medians of ${pn.lib['run() with -p 8080:80']?.length ?? 0} interleaved pairs: ${f(d.runWith)} vs ${f(d.runWithout)} ms, ${f(d.removeWith)} vs ${f(d.removeWithout)} ms); the mapping step alone: add ${f(medianOf(pn.steps.add), 3)} ms + remove ${f(medianOf(pn.steps.remove), 3)} ms (median of ${pn.steps.add.length})`,
      status: d.total <= 1 ? 'pass' : 'miss',
    });
    const c = pn.counts ?? [];
    const one = c.find((x) => x.mappings === 1);
    const many = c.find((x) => x.mappings === pn.many);
    const g = growth(pn.manyMs?.add ?? []);
    targets.push({
      id: 'port-rules',
      target: `Rule count after ${pn.many} published ports equals the count after 1 (nftables: map elements, rules unchanged)`,
      measured: `nft rules ${one?.nftRules ?? '—'} → ${many?.nftRules ?? '—'}, map elements ${one?.nftMapElements ?? '—'} → ${many?.nftMapElements ?? '—'}; adding the ${pn.many}th mapping costs ${g === null ? '—' : f(g.ratio)}× the first ${g?.window ?? ''} (last-${g?.window ?? ''}/first-${g?.window ?? ''} medians)`,
      status: one !== undefined && many !== undefined && one.nftRules === many.nftRules && (many.nftMapElements ?? 0) - (one.nftMapElements ?? 0) === (pn.many ?? 0) - 1 ? 'pass' : 'miss',
    });
  } else {
    targets.push({
      id: 'port',
      target: 'One published port costs ≤ 1 ms more (added and removed)',
      measured: pn?.reason ?? (ft?.ports ? 'not measured in this run' : 'no port publishing in the CLI (run --help has no --publish)'),
      status: ft?.ports ? 'not measured' : 'not built yet',
    });
  }
  for (const px of (extras.ports ?? []).filter((x) => x.driver !== 'nftables')) {
    if (px.publishable && px.lib !== undefined) {
      const d = portDeltas(px);
      targets.push({ id: `port-${px.driver}`, target: `One published port, ${px.driver} driver (reported)`, measured: `run() +${f(d.run)} ms, remove() +${f(d.remove)} ms: +${f(d.total)} ms; mapping step alone add ${f(medianOf(px.steps?.add ?? []), 3)} + remove ${f(medianOf(px.steps?.remove ?? []), 3)} ms`, status: 'measured' });
    } else {
      targets.push({ id: `port-${px.driver}`, target: `One published port, ${px.driver} driver`, measured: px.reason ?? 'not publishable', status: 'not built yet' });
    }
  }
  return targets;
}

/** Throughput between two containers against the by-hand bridge. */
function throughputTarget(extras: Extras): Target[] {
  const targets: Target[] = [];
  const ip = extras.iperf;
  const best = (k: string): number => Math.max(...(ip?.gbps[k] ?? [NaN]));
  const med = (k: string): number => medianOf(ip?.gbps[k] ?? []);
  if (ip === undefined) {
    targets.push({ id: 'throughput', target: 'Throughput between two containers ≥ 0.95× by-hand bridge, anti-spoofing on', measured: extras.iperfSkipped ?? 'not measured', status: 'not measured' });
  } else {
    const r = ratio(best('nsnet, anti-spoofing on'), best('by-hand bridge'));
    targets.push({
      id: 'throughput',
      target: 'Throughput between two containers ≥ 0.95× by-hand bridge, anti-spoofing on',
      measured: `best of ${ip.gbps['by-hand bridge']?.length ?? 0} runs of ${ip.seconds} s: on ${f(best('nsnet, anti-spoofing on'), 1)}, off ${f(best('nsnet, anti-spoofing off'), 1)}, by-hand ${f(best('by-hand bridge'), 1)} Gbit/s: on = ${f(r)}× by-hand, off = ${f(ratio(best('nsnet, anti-spoofing off'), best('by-hand bridge')))}× (medians: on ${f(ratio(med('nsnet, anti-spoofing on'), med('by-hand bridge')))}×, off ${f(ratio(med('nsnet, anti-spoofing off'), med('by-hand bridge')))}×)`,
      status: r !== null && r >= 0.95 ? 'pass' : 'miss',
    });
    // IPv6 (issue 15): a dual-stack network's containers against the by-hand bridge with IPv6
    // addresses; IPv6 frames take the bridge table's own chain (anti-spoofing, NDP, RA guard).
    const target6 = 'IPv6 throughput between two containers ≥ 0.95× by-hand IPv6 bridge, anti-spoofing on';
    const r6 = ratio(best('nsnet IPv6, anti-spoofing on'), best('by-hand bridge IPv6'));
    targets.push(
      ip.gbps['nsnet IPv6, anti-spoofing on'] === undefined
        ? { id: 'throughput-ipv6', target: target6, measured: 'not measured in this run', status: 'not measured' }
        : {
            id: 'throughput-ipv6',
            target: target6,
            measured: `best of ${ip.gbps['by-hand bridge IPv6']?.length ?? 0} runs of ${ip.seconds} s: nsnet ${f(best('nsnet IPv6, anti-spoofing on'), 1)}, by-hand ${f(best('by-hand bridge IPv6'), 1)} Gbit/s: ${f(r6)}× (medians: ${f(ratio(med('nsnet IPv6, anti-spoofing on'), med('by-hand bridge IPv6')))}×)`,
            status: r6 !== null && r6 >= 0.95 ? 'pass' : 'miss',
          },
    );
  }
  return targets;
}

/** IPv6 (issue 15): a dual-stack attach costs ≤ 0.5 ms more than an IPv4-only one; rules do not grow with containers. */
function dualStackTarget(extras: Extras): Target[] {
  const target = 'A dual-stack attach costs ≤ 0.5 ms more than an IPv4-only attach (library path), and the nft rule count does not grow with dual-stack containers';
  const e = extras.attachDual;
  if (e === undefined) return [{ id: 'attach-dual', target, measured: 'not measured in this run', status: 'not measured' }];
  const v4 = medianOf(e.samples['IPv4-only attach'] ?? []);
  const dual = medianOf(e.samples['dual-stack attach'] ?? []);
  const flat = e.nftRulesAfter1 !== null && e.nftRulesAfter1 === e.nftRulesAfterN;
  return [{
    id: 'attach-dual',
    target,
    measured: `median ${f(dual, 3)} vs ${f(v4, 3)} ms (${e.reps} interleaved pairs): ${dual >= v4 ? '+' : '−'}${f(Math.abs(dual - v4), 3)} ms; nft rules with 1 / ${e.n} dual-stack containers: ${e.nftRulesAfter1 ?? '—'} / ${e.nftRulesAfterN ?? '—'}`,
    status: dual - v4 <= 0.5 && flat ? 'pass' : 'miss',
  }];
}

/**
 * `nsnet netem set` through the library: ≤ 2 ms median with one container and with many, and no
 * slower with many (within 0.3 ms or 1.5×: its work is one interface's records and qdisc).
 */
function netemTarget(extras: Extras): Target[] {
  const target = 'nsnet netem set (library path) ≤ 2 ms median, independent of how many containers the host has';
  const e = extras.netem;
  if (e === undefined) return [{ id: 'netem-set', target, measured: 'not measured in this run', status: 'not measured' }];
  const one = medianOf(e.samples['netem set, 1 container'] ?? []);
  const many = medianOf(e.samples[`netem set, ${e.n} containers`] ?? []);
  const kernel = (k: string): number => medianOf(Object.entries(e.steps).filter(([s]) => s.startsWith(k)).flatMap(([, v]) => v));
  const flat = many <= Math.max(one * 1.5, one + 0.3);
  return [{
    id: 'netem-set',
    target,
    measured: `${f(one, 3)} ms median with 1 container, ${f(many, 3)} ms with ${e.n} (${e.reps} sets each; the qdisc step itself ${f(kernel('1 container: '), 3)} / ${f(kernel(`${e.n} containers: `), 3)} ms)`,
    status: one <= 2 && many <= 2 && flat ? 'pass' : 'miss',
  }];
}

/**
 * `nsnet partition create` and `heal` through the library: ≤ 2 ms median each, with two containers
 * and with many, and no slower with many (within 0.3 ms or 1.5×: set elements of one partition).
 */
function partitionTarget(extras: Extras): Target[] {
  const target = 'nsnet partition create/heal (library path) ≤ 2 ms median, independent of how many containers the host has';
  const e = extras.partition;
  if (e === undefined) return [{ id: 'partition', target, measured: 'not measured in this run', status: 'not measured' }];
  const m = (what: string, count: number): number => medianOf(e.samples[`partition ${what}, ${count} containers`] ?? []);
  const [c2, cN, h2, hN] = [m('create', 2), m('create', e.n), m('heal', 2), m('heal', e.n)];
  const flat = (one: number, many: number): boolean => many <= Math.max(one * 1.5, one + 0.3);
  return [{
    id: 'partition',
    target,
    measured: `create ${f(c2, 3)} ms with 2 containers, ${f(cN, 3)} ms with ${e.n}; heal ${f(h2, 3)} / ${f(hN, 3)} ms (${e.reps} of each)`,
    status: Math.max(c2, cN, h2, hN) <= 2 && flat(c2, cN) && flat(h2, hN) ? 'pass' : 'miss',
  }];
}

/** The DNS responder's peak RSS. */
function dnsTarget(extras: Extras): Target[] {
  const targets: Target[] = [];
  const d = extras.dns;
  if (d?.running === true) {
    const kb = (x: Record<string, number> | undefined, k: string): string => (x?.[k] === undefined ? '—' : `${(x[k]! / 1024).toFixed(1)} MiB`);
    targets.push({
      id: 'dns-rss',
      target: 'Peak RSS of the DNS responder (reported; no threshold)',
      measured: `peak (VmHWM) ${kb(d.afterQueries, 'VmHWM')} after ${d.containers} containers and ${d.load?.got ?? '?'}/${d.queries} queries answered (${d.load?.ms ?? '?'} ms, median ${f(d.load?.medianMs ?? null, 2)} ms each); ${kb(d.idle, 'VmHWM')} before the queries`,
      status: 'measured',
    });
  } else if (d !== undefined) {
    targets.push({ id: 'dns-rss', target: 'Peak RSS of the DNS responder', measured: d.reason ?? 'the responder did not start', status: 'miss' });
  } else {
    targets.push({ id: 'dns-rss', target: 'Peak RSS of the DNS responder', measured: extras.features?.dns ? 'DNS appears in the CLI help, but it was not measured in this run' : 'not built yet: the measured build has no DNS responder (no --dns in `nsnet run --help`, no dns in `nsnet --help`)', status: extras.features?.dns ? 'not measured' : 'not built yet' });
  }
  return targets;
}

/** nsnet-cni against the reference bridge plugin. */
function cniTargets(extras: Extras): Target[] {
  const targets: Target[] = [];
  const c = extras.cni;
  if (c?.available === true && c.samples !== undefined) {
    const x = cniFigures(c);
    const coldNsnet = Object.entries(c.cold ?? {}).find(([k]) => k.startsWith('nsnet-cni ADD'))?.[1];
    const coldBridge = Object.entries(c.cold ?? {}).find(([k]) => k.startsWith('bridge ADD'))?.[1];
    targets.push({
      id: 'cni-add',
      target: "nsnet-cni ADD costs no more than the reference CNI bridge plugin's ADD (host-local IPAM, ipMasq), same run (medians)",
      measured: `nsnet-cni ${f(x.add.nsnet?.median)} ms (p90 ${f(x.add.nsnetP90)}) vs bridge ${f(x.add.bridge?.median)} ms (p90 ${f(x.add.bridgeP90)}): ${f(x.add.ratio)}× over ${x.add.nsnet?.n ?? 0} interleaved calls each (${f(x.add.ratioNetOfSpawn)}× with the process floor, /bin/true ${f(x.trueSpawn?.median)} ms, taken off both); nsnet-cni = service handling ${f(x.addService?.median)} ms + the rest (client process, socket relay) ${f(x.addRest?.median)} ms (medians); first call, no service yet: nsnet-cni ${f(coldNsnet, 1)} ms, bridge ${f(coldBridge, 1)} ms (not in the medians)`,
      status: x.add.ratio !== null && x.add.ratio <= 1 ? 'pass' : 'miss',
    });
    targets.push({
      id: 'cni-del',
      target: 'nsnet-cni DEL vs the reference bridge plugin DEL, same run (reported; no threshold)',
      measured: `nsnet-cni ${f(x.del.nsnet?.median)} ms (p90 ${f(x.del.nsnetP90)}) vs bridge ${f(x.del.bridge?.median)} ms (p90 ${f(x.del.bridgeP90)}): ${f(x.del.ratio)}×; nsnet-cni = service handling ${f(x.delService?.median)} ms + the rest ${f(x.delRest?.median)} ms`,
      status: 'measured',
    });
  } else {
    targets.push({ id: 'cni-add', target: "nsnet-cni ADD ≤ the reference CNI bridge plugin's ADD", measured: c?.reason ?? 'the CNI section did not run', status: 'not measured' });
  }
  return targets;
}
