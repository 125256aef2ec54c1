/** Turns worker results into the stdout table, latest.json, latest.md and latest.svg. */
import { growth, medianOf, METHOD_LABEL, METHOD_SCOPE, stats, type Method, type RuleCounts, type Stats, type WorkerResult } from './common.js';

export interface Machine {
  kernel: string;
  cpus: number;
  cpuModel: string;
  memGiB: number;
  node: string;
  nsnetCommit: string;
  srcDirty: string[];
  iproute2: string;
  nft: string;
  iperf3: string;
  date: string;
  codeMeasured?: string;
  loadAvgStart?: number[];
  loadAvgEnd?: number[];
  /** 1-minute load average every 10 s during the run. */
  loadSamples?: number[];
  /** Other processes using ≥ 5 % CPU at the end (ps: %CPU command). */
  otherLoad?: string[];
  /** bench/what-dominates.md says which commit its explanations were checked against. */
  notesReviewedAgainst?: { commit: string; srcChangedSince: string[] | null };
}

export interface PortsResult {
  driver: string;
  publishable: boolean;
  reason?: string;
  reps?: number;
  many?: number;
  /** The mapping step alone (KernelRunner), one port added then removed, ms. */
  steps?: { add: number[]; remove: number[] };
  /** 1000 mappings added one transaction each, then removed. */
  manyMs?: { add: number[]; remove: number[] };
  counts?: Array<{ label: string; mappings: number } & RuleCounts>;
  /** run()/remove() with and without -p 8080:80, interleaved. */
  lib?: Record<string, number[]>;
  libSteps?: Record<string, number[]>;
  /** Reading /proc/net/{tcp,tcp6,udp,udp6} in the sandbox namespace, ms. */
  procRead?: Record<string, number[]>;
  tcpEhashEntries?: number;
}

export interface DnsResult {
  running?: boolean;
  reason?: string;
  pid?: number;
  containers: number;
  queries: number;
  idle?: Record<string, number>;
  afterQueries?: Record<string, number>;
  load?: { sent?: number; got?: number; ms?: number; medianMs?: number | null; error?: string };
  command?: string;
  note?: string;
  leftRunning?: boolean;
}

export interface Extras {
  noChild?: { checked: boolean; containers?: number; childProcesses?: number; note: string };
  connect?: {
    samples: Record<string, number[]>;
    rssMethod: string;
    straceConnect?: string;
    /** node --cpu-prof of one CLI command: self and inclusive ms per function. */
    profiles?: Record<string, { spanMs: number; self: Array<[string, number]>; inclusive: Array<[string, number]> } | { error: string }>;
  };
  vethDel?: { samples: Record<string, number[]> };
  iperf?: { gbps: Record<string, number[]>; seconds: number; rounds?: number; antiSpoofing: 'built' | 'not built yet'; byHandHost?: string; brNetfilter?: string };
  iperfSkipped?: string;
  features?: { ports: boolean; dns: boolean; iptables: boolean };
  /** Drivers the CLI names but the library refuses ("not available in this version"). */
  driverUnavailable?: Record<string, string>;
  firewall?: Array<{ driver: string; n: number; made: number; attachMs: number[]; detachMs: number[]; counts: Array<{ label: string; containers: number | null } & RuleCounts>; failed?: string }>;
  ports?: PortsResult[];
  dns?: DnsResult;
  /** libnftables: element delete with a fresh context per call vs one kept open. */
  nftCtx?: { samples: Record<string, number[]> };
  /** nsnet-cni vs the reference CNI bridge plugin, ADD and DEL (the worker's cni job). */
  cni?: CniBench;
}

export interface CniBench {
  available: boolean;
  reason?: string;
  /** Containers per plugin in the interleaved loop. */
  n?: number;
  configs?: Record<string, string>;
  /** How the calls were timed. */
  timing?: string;
  /** Wall ms per call, spawn to exit: 'nsnet-cni ADD', 'bridge ADD', ... DEL, VERSION, 'spawn /bin/true'. */
  samples?: Record<string, number[]>;
  /** The service's own handling ms from its log, aligned with the nsnet-cni ADD/DEL samples (null: no line). */
  service?: { logLines: number; ADD: Array<number | null>; DEL: Array<number | null>; VERSION: number[] };
  /** Calls outside the medians: the first ADD of each plugin, the DEL of those containers. */
  cold?: Record<string, number>;
  serviceUpAfterColdMs?: number;
  reset?: string;
  leftRunning?: Array<{ pid: number; argv: string }>;
  iptablesRulesAfter?: number;
  varLibCni?: { before: boolean; after: boolean };
  notes?: string[];
}

/** The q-quantile of a sample (nearest rank, as stats() computes p95). */
function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** One command of both plugins: stats, p90, nsnet/bridge median ratio, and that ratio with the process floor (/bin/true) taken off both. */
interface CniPair {
  nsnet: Stats | null;
  bridge: Stats | null;
  nsnetP90: number;
  bridgeP90: number;
  ratio: number | null;
  ratioNetOfSpawn: number | null;
}

/** The figures the CNI section reports, from the raw samples. */
export function cniFigures(c: CniBench): {
  add: CniPair;
  del: CniPair;
  /** nsnet-cni per call: the service's handling (its log) and the rest (wall − handling), for calls with a log line. */
  addService: Stats | null;
  addRest: Stats | null;
  delService: Stats | null;
  delRest: Stats | null;
  trueSpawn: Stats | null;
  nsnetVersion: Stats | null;
  bridgeVersion: Stats | null;
  versionService: Stats | null;
} {
  const sm = c.samples ?? {};
  const split = (wall: number[], svc: Array<number | null> | undefined): { service: number[]; rest: number[] } => {
    const service: number[] = [];
    const rest: number[] = [];
    wall.forEach((w, i) => {
      const x = svc?.[i];
      if (x === null || x === undefined) return;
      service.push(x);
      rest.push(w - x);
    });
    return { service, rest };
  };
  const a = split(sm['nsnet-cni ADD'] ?? [], c.service?.ADD);
  const d = split(sm['nsnet-cni DEL'] ?? [], c.service?.DEL);
  const floor = medianOf(sm['spawn /bin/true'] ?? []);
  const pair = (k: 'ADD' | 'DEL'): CniPair => {
    const x = stats(sm[`nsnet-cni ${k}`] ?? []);
    const y = stats(sm[`bridge ${k}`] ?? []);
    return {
      nsnet: x,
      bridge: y,
      nsnetP90: quantile(sm[`nsnet-cni ${k}`] ?? [], 0.9),
      bridgeP90: quantile(sm[`bridge ${k}`] ?? [], 0.9),
      ratio: ratio(x?.median, y?.median),
      ratioNetOfSpawn: ratio((x?.median ?? NaN) - floor, (y?.median ?? NaN) - floor),
    };
  };
  return {
    add: pair('ADD'),
    del: pair('DEL'),
    addService: stats(a.service),
    addRest: stats(a.rest),
    delService: stats(d.service),
    delRest: stats(d.rest),
    trueSpawn: stats(sm['spawn /bin/true'] ?? []),
    nsnetVersion: stats(sm['nsnet-cni VERSION'] ?? []),
    bridgeVersion: stats(sm['bridge VERSION'] ?? []),
    versionService: stats(c.service?.VERSION ?? []),
  };
}

interface Input {
  machine: Machine;
  ns: number[];
  methods: Method[];
  caps: Partial<Record<Method, number>>;
  runs: WorkerResult[];
  extras: Extras;
  errors: string[];
  durationS: number;
  /** Hand-written notes (bench/what-dominates.md), appended under "What dominates". */
  analysis?: string[];
}

export interface Row {
  method: Method;
  n: number;
  attach: Stats | null;
  detach: Stats | null;
  attachGrowth: { window: number; ratio: number } | null;
  detachGrowth: { window: number; ratio: number } | null;
  attachTotalS: number;
  nftRulesAfter1: number | null;
  nftRulesAfterN: number | null;
  /** attach median / same-run floor median, / by-hand median (and detach likewise). */
  attachVsFloor: number | null;
  attachVsByhand: number | null;
  detachVsFloor: number | null;
  detachVsByhand: number | null;
}

export interface Target {
  id: string;
  target: string;
  measured: string;
  /** 'measured': a figure the issue asks for without a pass/fail threshold. */
  status: 'pass' | 'miss' | 'not built yet' | 'not measured' | 'measured';
}

const f = (x: number | null | undefined, d = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d));
const ratio = (a: number | undefined, b: number | undefined): number | null =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? null : a / b;

export function buildReport(input: Input): { json: unknown; markdown: string; svg: string; table: string } {
  const { runs, extras, machine } = input;
  const find = (m: Method, n: number): WorkerResult | undefined => runs.find((r) => r.method === m && r.n === n);
  const rows: Row[] = [];
  for (const n of input.ns) {
    const floor = find('floor', n);
    const hand = find('byhand', n);
    for (const m of input.methods) {
      const r = find(m, n);
      if (r === undefined) continue;
      const a = stats(r.attachMs);
      const d = stats(r.detachMs);
      rows.push({
        method: m,
        n,
        attach: a,
        detach: d,
        attachGrowth: growth(r.attachMs),
        detachGrowth: growth(r.detachMs),
        attachTotalS: r.attachTotalMs / 1000,
        nftRulesAfter1: r.nftRulesAfter1,
        nftRulesAfterN: r.nftRulesAfterN,
        attachVsFloor: ratio(a?.median, floor ? medianOf(floor.attachMs) : undefined),
        attachVsByhand: ratio(a?.median, hand ? medianOf(hand.attachMs) : undefined),
        detachVsFloor: ratio(d?.median, floor ? medianOf(floor.detachMs) : undefined),
        detachVsByhand: ratio(d?.median, hand ? medianOf(hand.detachMs) : undefined),
      });
    }
  }
  const row = (m: Method, n: number): Row | undefined => rows.find((r) => r.method === m && r.n === n);
  /** The run a per-container target is judged on: N = 50 when measured, else the largest N. */
  const refN = (m: Method): number | undefined => {
    const have = rows.filter((r) => r.method === m).map((r) => r.n);
    return have.includes(50) ? 50 : have.length ? Math.max(...have) : undefined;
  };

  // ---------------------------------------------------------------- targets
  const targets: Target[] = [];
  {
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
    } else targets.push({ id: 'lib-attach', target: 'Library attach ≤ 3 ms', measured: '—', status: 'not measured' });
  }
  {
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
    }
  }
  {
    const n = refN('cli');
    const r = n === undefined ? undefined : row('cli', n);
    if (r?.attach) {
      targets.push({
        id: 'cli-run',
        target: 'CLI `nsnet run -d ... -- sleep 1000` ≤ 100 ms median end to end',
        measured: `${f(r.attach.median, 1)} ms at N=${n} (${f(r.attachVsFloor, 1)}× floor, ${f(r.attachVsByhand)}× by-hand)`,
        status: r.attach.median <= 100 ? 'pass' : 'miss',
      });
    }
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
    }
  }
  {
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
  }
  {
    const big = rows.filter((r) => r.method === 'lib-run' || r.method === 'cli').sort((a, b) => b.n - a.n)[0];
    if (big !== undefined) {
      targets.push({
        id: 'nft-rules',
        target: 'nftables rule count after N containers equals the count after 1',
        measured: `${big.method} N=${big.n}: ${big.nftRulesAfterN ?? '—'} rules after N, ${big.nftRulesAfter1 ?? '—'} after 1`,
        status: big.nftRulesAfterN !== null && big.nftRulesAfterN === big.nftRulesAfter1 ? 'pass' : 'miss',
      });
    }
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
    if (!(extras.firewall ?? []).some((x) => x.driver === 'iptables')) {
      if (extras.driverUnavailable?.['iptables'] !== undefined) {
        targets.push({ id: 'rules-iptables', target: 'Firewall rule count, iptables driver', measured: `--firewall-driver accepts the name, but the library says: "${extras.driverUnavailable['iptables']}"`, status: 'not built yet' });
      } else {
        targets.push({ id: 'rules-iptables', target: 'Firewall rule count, iptables driver', measured: ft?.iptables ? 'not measured in this run' : 'no iptables driver in the CLI', status: ft?.iptables ? 'not measured' : 'not built yet' });
      }
    }
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
  }
  {
    const ip = extras.iperf;
    const best = (k: string): number => Math.max(...(ip?.gbps[k] ?? [NaN]));
    const med = (k: string): number => medianOf(ip?.gbps[k] ?? []);
    if (ip === undefined) {
      targets.push({ id: 'throughput', target: 'Throughput between two containers ≥ 0.95× by-hand bridge, anti-spoofing on', measured: extras.iperfSkipped ?? 'not measured', status: 'not measured' });
    } else if (ip.antiSpoofing === 'built') {
      const r = ratio(best('nsnet, anti-spoofing on'), best('by-hand bridge'));
      targets.push({
        id: 'throughput',
        target: 'Throughput between two containers ≥ 0.95× by-hand bridge, anti-spoofing on',
        measured: `best of ${ip.gbps['by-hand bridge']?.length ?? 0} runs of ${ip.seconds} s: on ${f(best('nsnet, anti-spoofing on'), 1)}, off ${f(best('nsnet, anti-spoofing off'), 1)}, by-hand ${f(best('by-hand bridge'), 1)} Gbit/s: on = ${f(r)}× by-hand, off = ${f(ratio(best('nsnet, anti-spoofing off'), best('by-hand bridge')))}× (medians: on ${f(ratio(med('nsnet, anti-spoofing on'), med('by-hand bridge')))}×, off ${f(ratio(med('nsnet, anti-spoofing off'), med('by-hand bridge')))}×)`,
        status: r !== null && r >= 0.95 ? 'pass' : 'miss',
      });
    } else {
      targets.push({
        id: 'throughput',
        target: 'Throughput between two containers ≥ 0.95× by-hand bridge, anti-spoofing on',
        measured: `anti-spoofing not built; without it nsnet ${f(best('nsnet'), 1)} Gbit/s vs by-hand ${f(best('by-hand bridge'), 1)} Gbit/s = ${f(ratio(best('nsnet'), best('by-hand bridge')))}×`,
        status: 'not built yet',
      });
    }
  }
  {
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
  }

  {
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
    } else if (c !== undefined) {
      targets.push({ id: 'cni-add', target: "nsnet-cni ADD ≤ the reference CNI bridge plugin's ADD", measured: c.reason ?? 'not measured', status: /nsnet-cni/.test(c.reason ?? '') ? 'not built yet' : 'not measured' });
    }
  }

  // ---------------------------------------------------------------- outputs
  const table = renderTable(rows, targets, input);
  const svg = renderSvg(rows, input);
  const markdown = renderMarkdown(rows, targets, input, table);
  const breakdowns = Object.fromEntries(runs.map((r) => [`${r.method} N=${r.n}`, Object.fromEntries(Object.entries(r.breakdown).map(([k, v]) => [k, stats(v)]))]));
  const json = {
    machine,
    config: { ns: input.ns, methods: input.methods, caps: input.caps, scope: METHOD_SCOPE },
    durationS: input.durationS,
    rows,
    targets,
    breakdowns,
    extras: summarizeExtras(extras),
    errors: input.errors,
    raw: runs.map((r) => ({ method: r.method, n: r.n, attachMs: r.attachMs.map(round), detachMs: r.detachMs.map(round), attachTotalMs: round(r.attachTotalMs), detachTotalMs: round(r.detachTotalMs), notes: r.notes })),
  };
  return { json, markdown, svg, table };
}

const round = (x: number): number => Math.round(x * 1000) / 1000;
const signed = (x: number): string => (Number.isFinite(x) && x >= 0 ? `+${f(x)}` : f(x));

/** What one published port adds to run() and remove(): differences of medians of the interleaved samples. */
export function portDeltas(p: PortsResult): { run: number; remove: number; total: number; runWith: number; runWithout: number; removeWith: number; removeWithout: number } {
  const m = (k: string): number => medianOf(p.lib?.[k] ?? []);
  const runWith = m('run() with -p 8080:80');
  const runWithout = m('run() without -p');
  const removeWith = m('remove() with -p 8080:80');
  const removeWithout = m('remove() without -p');
  return { run: runWith - runWithout, remove: removeWith - removeWithout, total: runWith + removeWith - runWithout - removeWithout, runWith, runWithout, removeWith, removeWithout };
}

function summarizeExtras(e: Extras): unknown {
  const s = (rec: Record<string, number[]> | undefined): unknown => (rec === undefined ? undefined : Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, stats(v)])));
  return {
    noChild: e.noChild,
    connect: e.connect === undefined ? undefined : { rssMethod: e.connect.rssMethod, stats: s(e.connect.samples), straceConnect: e.connect.straceConnect, profiles: e.connect.profiles },
    vethDel: e.vethDel === undefined ? undefined : s(e.vethDel.samples),
    iperf: e.iperf ?? e.iperfSkipped,
    features: e.features,
    firewall: e.firewall?.map((x) => ({ driver: x.driver, n: x.n, made: x.made, counts: x.counts, attach: stats(x.attachMs), detach: stats(x.detachMs), failed: x.failed })),
    ports: e.ports?.map((p) => ({
      driver: p.driver,
      publishable: p.publishable,
      reason: p.reason,
      deltas: p.publishable ? portDeltas(p) : undefined,
      steps: p.steps === undefined ? undefined : { add: stats(p.steps.add), remove: stats(p.steps.remove) },
      many: p.many,
      manyMs: p.manyMs === undefined ? undefined : { add: stats(p.manyMs.add), remove: stats(p.manyMs.remove), addGrowth: growth(p.manyMs.add) },
      counts: p.counts,
      lib: p.lib === undefined ? undefined : Object.fromEntries(Object.entries(p.lib).map(([k, v]) => [k, stats(v)])),
      libSteps: p.libSteps === undefined ? undefined : Object.fromEntries(Object.entries(p.libSteps).map(([k, v]) => [k, stats(v)])),
      procRead: p.procRead === undefined ? undefined : Object.fromEntries(Object.entries(p.procRead).map(([k, v]) => [k, stats(v)])),
      tcpEhashEntries: p.tcpEhashEntries,
    })),
    dns: e.dns,
    nftCtx: e.nftCtx === undefined ? undefined : Object.fromEntries(Object.entries(e.nftCtx.samples).map(([k, v]) => [k, stats(v)])),
    cni: e.cni === undefined ? undefined : summarizeCni(e.cni),
  };
}

function summarizeCni(c: CniBench): unknown {
  if (c.available !== true || c.samples === undefined) return { available: c.available, reason: c.reason };
  const x = cniFigures(c);
  const withP90 = (v: number[]): unknown => ({ ...stats(v), p90: quantile(v, 0.9) });
  return {
    n: c.n,
    configs: c.configs,
    timing: c.timing,
    calls: Object.fromEntries(Object.entries(c.samples).map(([k, v]) => [k, withP90(v)])),
    ratios: { add: x.add.ratio, del: x.del.ratio, addNetOfSpawn: x.add.ratioNetOfSpawn, delNetOfSpawn: x.del.ratioNetOfSpawn },
    growth: Object.fromEntries(Object.entries(c.samples).map(([k, v]) => [k, growth(v)])),
    nsnetBreakdown: { addService: x.addService, addRest: x.addRest, delService: x.delService, delRest: x.delRest, versionService: x.versionService, serviceLogLines: c.service?.logLines },
    cold: c.cold,
    serviceUpAfterColdMs: c.serviceUpAfterColdMs,
    cleanup: { reset: c.reset, leftRunning: c.leftRunning, iptablesRulesAfter: c.iptablesRulesAfter, varLibCni: c.varLibCni },
    notes: c.notes,
    raw: { ...Object.fromEntries(Object.entries(c.samples).map(([k, v]) => [k, v.map(round)])), 'nsnet-cni ADD: service': c.service?.ADD, 'nsnet-cni DEL: service': c.service?.DEL },
  };
}

/** The CNI section of latest.md. */
function cniMarkdown(c: CniBench): string[] {
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

function pad(cells: string[][]): string {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

function mainCells(rows: Row[]): string[][] {
  const head = ['method', 'N', 'attach med', 'p95', 'min', 'max', '×floor', '×by-hand', 'detach med', 'p95', 'min', 'max', 'growth', 'total s', 'nft 1→N'];
  const body = rows.map((r) => [
    r.method,
    String(r.n),
    f(r.attach?.median),
    f(r.attach?.p95),
    f(r.attach?.min),
    f(r.attach?.max),
    r.method === 'floor' ? '1' : f(r.attachVsFloor),
    r.method === 'byhand' ? '1' : f(r.attachVsByhand),
    f(r.detach?.median),
    f(r.detach?.p95),
    f(r.detach?.min),
    f(r.detach?.max),
    r.attachGrowth === null ? '—' : `${f(r.attachGrowth.ratio)} (${r.attachGrowth.window})`,
    f(r.attachTotalS, 1),
    r.nftRulesAfterN === null ? '—' : `${r.nftRulesAfter1 ?? '—'}→${r.nftRulesAfterN}`,
  ]);
  return [head, ...body];
}

function renderTable(rows: Row[], targets: Target[], input: Input): string {
  const lines = [
    `nsnet benchmark — ${input.machine.kernel}, ${input.machine.cpus} CPUs, node ${input.machine.node}, nsnet ${input.machine.nsnetCommit.slice(0, 10)}${input.machine.codeMeasured?.startsWith('HEAD') ? ' (HEAD, private build)' : input.machine.srcDirty.length ? ' (+uncommitted src changes)' : ''}`,
    'per-container milliseconds; ×floor / ×by-hand = attach median over the same-run floor / by-hand median; growth = last-W/first-W median (W)',
    '',
    pad(mainCells(rows)),
    '',
    'targets:',
    ...targets.map((t) => `  [${t.status.toUpperCase()}] ${t.target}: ${t.measured}`),
  ];
  if (input.errors.length) lines.push('', 'errors:', ...input.errors.map((e) => '  ' + e.split('\n')[0]));
  return lines.join('\n');
}

function mdTable(cells: string[][]): string {
  const [head, ...body] = cells;
  return [`| ${head!.join(' | ')} |`, `|${head!.map((_, i) => (i < 1 ? '---' : '---:')).join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function breakdownTable(r: WorkerResult, filter: (k: string) => boolean): string {
  const cells = [['step', 'count', 'median ms', 'p95', 'max', 'share of attach (sum of medians)']];
  const entries = Object.entries(r.breakdown).filter(([k]) => filter(k));
  const total = entries.filter(([k]) => !k.includes('netns-add') && !k.startsWith('detach')).reduce((a, [, v]) => a + medianOf(v), 0);
  for (const [k, v] of entries) {
    const s = stats(v)!;
    const share = k.startsWith('detach') || k.includes('netns-add') ? '—' : `${((s.median / total) * 100).toFixed(0)} %`;
    cells.push([k, String(s.n), f(s.median, 3), f(s.p95, 3), f(s.max, 3), share]);
  }
  return mdTable(cells);
}

function renderMarkdown(rows: Row[], targets: Target[], input: Input, _table: string): string {
  const { machine: m, extras: e, runs } = input;
  const out: string[] = [];
  out.push('# nsnet benchmark results', '');
  out.push(`Generated by \`npm run bench\` (bench/run.ts) on ${m.date}, ${input.durationS.toFixed(0)} s in all. Ratios are the figures of record; absolute times are for this machine only.`, '');
  out.push('## Machine', '');
  out.push(
    mdTable([
      ['fact', 'value'],
      ['kernel', m.kernel],
      ['CPUs', `${m.cpus} × ${m.cpuModel}`],
      ['memory', `${m.memGiB} GiB`],
      ['node', m.node],
      ['nsnet commit', m.nsnetCommit],
      ['code measured', `${m.codeMeasured ?? 'working tree'}${m.srcDirty.length ? ` (src/ had ${m.srcDirty.length} uncommitted changes at the time: ${m.srcDirty.map((l) => l.trim()).join(', ')})` : ''}`],
      ['iproute2', m.iproute2],
      ['nftables', m.nft],
      ['iperf3', m.iperf3],
      ['load average (1, 5, 15 min) at start / end', `${m.loadAvgStart?.join(', ') ?? '—'} / ${m.loadAvgEnd?.join(', ') ?? '—'} (the machine is shared: other sessions' builds and tests run at the same time, so absolute times are noisy; same-run ratios less so)`],
      ['1-min load average every 10 s during the run', m.loadSamples === undefined ? '—' : `min ${f(Math.min(...m.loadSamples), 1)}, median ${f(medianOf(m.loadSamples), 1)}, max ${f(Math.max(...m.loadSamples), 1)} over ${m.loadSamples.length} samples`],
      ['other processes ≥ 5 % CPU at the end', m.otherLoad === undefined || m.otherLoad.length === 0 ? 'none' : m.otherLoad.join('; ')],
      ['N list', `${input.ns.join(', ')}${Object.keys(input.caps).length ? ` (caps: ${JSON.stringify(input.caps)})` : ''}`],
    ]),
    '',
  );
  out.push('## What each method measures', '');
  out.push(mdTable([['method', 'attach includes', 'detach includes'], ...input.methods.map((k) => [`**${k}**: ${METHOD_LABEL[k]}`, METHOD_SCOPE[k].attach, METHOD_SCOPE[k].detach])]), '');
  out.push(
    'All methods attach containers one after another to one fresh bridge per (method, N), inside a sandbox host namespace; every container is detached afterwards. Times are wall-clock per container from the measuring process (spawnSync for the process-based methods, so one fork/exec/wait per process is included, as a user would pay it). Growth = median of the last W attaches / median of the first W (W = 100 for N ≥ 200, 10 for N ≥ 20).',
    '',
  );
  out.push('## Per-container times (ms)', '', mdTable(mainCells(rows)), '');
  out.push('Detach ratios (detach median / same-run floor, by-hand detach median):', '');
  out.push(mdTable([['method', 'N', 'detach ×floor', 'detach ×by-hand', 'detach growth'], ...rows.filter((r) => r.method !== 'floor' && r.method !== 'byhand').map((r) => [r.method, String(r.n), f(r.detachVsFloor), f(r.detachVsByhand), r.detachGrowth ? `${f(r.detachGrowth.ratio)} (${r.detachGrowth.window})` : '—'])]), '');
  out.push('![median time per container vs N](latest.svg)', '');
  out.push('## Targets (issue 8)', '', mdTable([['target', 'measured', 'result'], ...targets.map((t) => [t.target, t.measured, `**${t.status}**`])]), '');

  out.push('## Other measurements', '');
  if (e.connect !== undefined) {
    out.push(`CLI start-up (${e.connect.samples['node -e 0']?.length ?? 0} runs each, interleaved) and peak RSS (${e.connect.rssMethod}):`, '');
    out.push(mdTable([['command', 'median', 'p95', 'min', 'max'], ...Object.entries(e.connect.samples).map(([k, v]) => { const s = stats(v); return [k, f(s?.median, k.includes('KiB') ? 0 : 1), f(s?.p95, k.includes('KiB') ? 0 : 1), f(s?.min, k.includes('KiB') ? 0 : 1), f(s?.max, k.includes('KiB') ? 0 : 1)]; })]), '');
    for (const [cmd, prof] of Object.entries(e.connect.profiles ?? {})) {
      if ('error' in prof) {
        out.push(`\`node --cpu-prof\` of \`${cmd}\`: ${prof.error}`, '');
        continue;
      }
      out.push(`\`node --cpu-prof\` of one \`${cmd}\` (${f(prof.spanMs, 1)} ms profiled; nsnet.mjs is the bundle; left: self time per function; right: each sample charged to the nearest nsnet function on its stack, with the Node internals it called, or to Node itself):`, '');
      out.push(mdTable([['function (self time)', 'ms', 'nearest nsnet function (or Node)', 'ms'], ...Array.from({ length: Math.max(prof.self.length, Math.min(12, prof.inclusive.length)) }, (_, i) => [prof.self[i]?.[0] ?? '', prof.self[i] ? f(prof.self[i]![1], 1) : '', prof.inclusive[i]?.[0] ?? '', prof.inclusive[i] ? f(prof.inclusive[i]![1], 1) : ''])]), '');
    }
    if (e.connect.straceConnect) out.push('`strace -f -c` of one `nsnet network connect` (top syscalls by time):', '', '```', e.connect.straceConnect.trim(), '```', '');
  }
  if (e.firewall !== undefined && e.firewall.length > 0) {
    out.push('Firewall rule counts per driver, one network, containers made with the library run() (nft rules = rules in nsnet\'s tables; set elements = elements of its sets; iptables = `-A` lines of iptables-legacy-save + iptables-nft-save; ebtables = `-A` lines of ebtables-save; all in the sandbox host namespace, where nothing else has rules):', '');
    const cells = [['driver', 'when', 'nft rules', 'nft set elements', 'nft map elements', 'iptables rules', 'ebtables rules']];
    for (const x of e.firewall) for (const c of x.counts) cells.push([x.driver, c.label, String(c.nftRules ?? '—'), String(c.nftSetElements ?? '—'), String(c.nftMapElements ?? '—'), String(c.iptables), String(c.ebtables)]);
    out.push(mdTable(cells), '');
    out.push(mdTable([['driver', 'N', 'run() median ms', 'p95', 'remove() median ms', 'p95', 'growth (run)'], ...e.firewall.map((x) => { const a = stats(x.attachMs); const d = stats(x.detachMs); const g = growth(x.attachMs); return [x.driver, String(x.made), f(a?.median), f(a?.p95), f(d?.median), f(d?.p95), g === null ? '—' : `${f(g.ratio)} (${g.window})`]; })]), '');
  }
  for (const p of e.ports ?? []) {
    if (!p.publishable) {
      out.push(`Published ports, ${p.driver} driver: ${p.reason ?? 'not publishable'}.`, '');
      continue;
    }
    out.push(`Published ports, ${p.driver} driver (ms; "step alone" = the driver's addMappings/removeMappings steps applied with KernelRunner for one port 8080→80, ${p.steps?.add.length ?? 0} times; "${p.many} mappings" = ${p.many} ports added one transaction each, then removed; run()/remove() = ${p.lib?.['run() without -p']?.length ?? 0} interleaved pairs with and without \`publish: ['8080:80']\`):`, '');
    const rowsP: string[][] = [['what', 'median', 'p95', 'min', 'max']];
    const put = (k: string, v: number[] | undefined): void => { const st = stats(v ?? []); rowsP.push([k, f(st?.median, 3), f(st?.p95, 3), f(st?.min, 3), f(st?.max, 3)]); };
    put('step alone: add one mapping', p.steps?.add);
    put('step alone: remove one mapping', p.steps?.remove);
    put(`${p.many} mappings: add (each)`, p.manyMs?.add);
    put(`${p.many} mappings: remove (each)`, p.manyMs?.remove);
    for (const [k, v] of Object.entries(p.lib ?? {})) put(k, v);
    for (const [k, v] of Object.entries(p.libSteps ?? {})) if (k.includes('nft')) put(`step inside ${k}`, v);
    out.push(mdTable(rowsP), '');
    const d = portDeltas(p);
    const g = growth(p.manyMs?.add ?? []);
    out.push(`One port adds ${f(d.run)} ms to run() and ${f(d.remove)} ms to remove() (differences of medians); adding mappings grows ${g === null ? '—' : `${f(g.ratio)}× (last-${g.window}/first-${g.window})`} from the 1st to the ${p.many}th.`, '');
    if (p.procRead !== undefined) {
      out.push(`Reading the files publish() scans for host listeners, in the sandbox namespace (ms, 20 reads each; TCP established hash: ${p.tcpEhashEntries === undefined ? '?' : `${Math.abs(p.tcpEhashEntries)} buckets${p.tcpEhashEntries < 0 ? ', the initial namespace\'s, shared (tcp_ehash_entries is negative here)' : ''}`}): ${Object.entries(p.procRead).map(([k, v]) => `${k} ${f(medianOf(v), 3)}`).join(', ')}.`, '');
    }
    if (p.counts !== undefined) out.push(mdTable([['mappings', 'nft rules', 'nft map elements', 'nft set elements', 'iptables rules', 'ebtables rules'], ...p.counts.map((c) => [c.label, String(c.nftRules ?? '—'), String(c.nftMapElements ?? '—'), String(c.nftSetElements ?? '—'), String(c.iptables), String(c.ebtables)])]), '');
  }
  if (e.dns !== undefined) {
    const d = e.dns;
    if (d.running === true) {
      const cells = [['when', 'VmHWM (peak RSS) KiB', 'VmRSS KiB', 'threads']];
      for (const [k, v] of [['after start, before queries', d.idle], [`after ${d.load?.got ?? '?'} of ${d.queries} queries`, d.afterQueries]] as const) cells.push([k, String(v?.['VmHWM'] ?? '—'), String(v?.['VmRSS'] ?? '—'), String(v?.['Threads'] ?? '—')]);
      out.push(`DNS responder (\`${d.command ?? 'dns-serve'}\`, started by \`nsnet run -d\` for ${d.containers} containers on one network; queries for the containers' names over UDP from one container, 8 in flight):`, '', mdTable(cells), '');
    } else out.push(`DNS responder: ${d.reason ?? 'did not start'}.`, '');
  }
  if (e.nftCtx !== undefined) {
    out.push('nftables transactions that delete a set element, libnftables in-process, on a table of the benchmark\'s own (ms): a fresh context per call (what nsnet does) closes its netlink socket after every transaction, and that close waits for the kernel to free the deleted element after an RCU grace period; with one context kept open the delete itself is as cheap as the add, and the wait moves to the close:', '');
    out.push(mdTable([['what', 'n', 'median', 'p95', 'min', 'max'], ...Object.entries(e.nftCtx.samples).map(([k, v]) => { const st = stats(v); return [k, String(st?.n ?? 0), f(st?.median, 3), f(st?.p95, 3), f(st?.min, 3), f(st?.max, 3)]; })]), '');
  }
  if (e.vethDel !== undefined) {
    out.push('Detach by deleting the veth vs deleting the namespace (same run, containers made with KernelRunner, ms):', '');
    out.push(mdTable([['how', 'median', 'p95', 'min', 'max'], ...Object.entries(e.vethDel.samples).map(([k, v]) => { const s = stats(v); return [k, f(s?.median), f(s?.p95), f(s?.min), f(s?.max)]; })]), '');
  }
  if (e.iperf !== undefined) {
    out.push(`Throughput, iperf3 TCP, ${e.iperf.seconds} s per run, ${e.iperf.rounds ?? 2} rounds (each round runs every configuration once, rotating the order), two containers on one bridge, Gbit/s (anti-spoofing: ${e.iperf.antiSpoofing}; by-hand bridge: ${e.iperf.byHandHost ?? 'in the sandbox host namespace, beside nsnet\'s tables'}; br_netfilter bridge-nf-call-iptables in the sandbox: ${e.iperf.brNetfilter ?? '?'}):`, '');
    const hand = Math.max(...(e.iperf.gbps['by-hand bridge'] ?? [NaN]));
    const handMed = medianOf(e.iperf.gbps['by-hand bridge'] ?? []);
    out.push(mdTable([['configuration', 'runs', 'best', 'median', 'best ×by-hand', 'median ×by-hand'], ...Object.entries(e.iperf.gbps).map(([k, v]) => [k, v.map((x) => x.toFixed(1)).join(', '), f(Math.max(...v), 1), f(medianOf(v), 1), f(ratio(Math.max(...v), hand)), f(ratio(medianOf(v), handMed))])]), '');
  } else out.push(`Throughput: ${e.iperfSkipped ?? 'not measured'}.`, '');
  if (e.cni !== undefined) out.push(...cniMarkdown(e.cni));
  if (e.noChild !== undefined) out.push(`No-child check (lib-kernel attach loop under \`strace -f -e trace=process\`): ${e.noChild.checked ? `${e.noChild.childProcesses} child processes during ${e.noChild.containers} attaches` : e.noChild.note}.`, '');
  const notBuilt = targets.filter((t) => t.status === 'not built yet');
  out.push(notBuilt.length === 0 ? 'Everything the issue asks to measure exists in the measured build.' : `Not built yet in the measured build (reported, not faked): ${notBuilt.map((t) => t.target).join('; ')}.`, '');

  out.push('## Step breakdowns', '');
  for (const method of ['lib-kernel', 'lib-run', 'byhand', 'floor'] as Method[]) {
    const r = [...runs].filter((x) => x.method === method).sort((a, b) => b.n - a.n)[0];
    if (r === undefined || Object.keys(r.breakdown).length === 0) continue;
    out.push(`**${method}, N=${r.n}** (each step's apply timed by wrapping the runner${method === 'byhand' || method === 'floor' ? '; each process timed' : ''}):`, '');
    out.push(breakdownTable(r, () => true), '');
    if (method === 'lib-run') {
      const steps = Object.entries(r.breakdown).filter(([k]) => k.startsWith('attach:')).reduce((a, [, v]) => a + v.reduce((x, y) => x + y, 0), 0);
      const total = r.attachMs.reduce((a, b) => a + b, 0);
      out.push(`lib-run: kernel steps are ${((steps / total) * 100).toFixed(0)} % of run() time; the other ${(100 - (steps / total) * 100).toFixed(0)} % (${f((total - steps) / r.attachMs.length)} ms per container) is everything else run() does: store and journal transactions, lock, log directory, the container's DNS files and the process launch (see the notes below).`, '');
    }
  }
  out.push('## What dominates', '', ...whatDominates(rows, targets, input), '');
  if (input.errors.length) out.push('## Errors', '', ...input.errors.map((x) => '- ' + x.replace(/\n/g, ' ')), '');
  return out.join('\n');
}

/**
 * Per-container cost of each step kind, from a breakdown: median × steps per container, or the
 * mean × steps per container (means add up, medians do not: a decomposition of a total into steps
 * and "the rest" uses means).
 */
function perContainer(r: WorkerResult, pfx: string, how: 'median' | 'mean' = 'median'): Array<[string, number]> {
  const n = Math.max(1, r.attachMs.length);
  return Object.entries(r.breakdown)
    .filter(([k]) => k.startsWith(pfx))
    .map(([k, v]): [string, number] => [k.slice(pfx.length), (how === 'mean' ? (stats(v)?.mean ?? NaN) : medianOf(v)) * (v.length / n)])
    .sort((a, b) => b[1] - a[1]);
}

const list = (xs: Array<[string, number]>, d = 2): string => xs.map(([k, v]) => `${k} ${v.toFixed(d)}`).join(', ');
const sum = (xs: Array<[string, number]>): number => xs.reduce((a, [, v]) => a + v, 0);

/** The numbers behind each miss, from this run (the explanations are in bench/what-dominates.md). */
function whatDominates(rows: Row[], targets: Target[], input: Input): string[] {
  const out: string[] = [];
  const e = input.extras;
  const miss = new Set(targets.filter((t) => t.status === 'miss').map((t) => t.id));
  const runOf = (m: Method, n?: number): WorkerResult | undefined =>
    n === undefined ? [...input.runs].filter((x) => x.method === m).sort((a, b) => b.n - a.n)[0] : input.runs.find((x) => x.method === m && x.n === n);
  const ref = (m: Method): WorkerResult | undefined => runOf(m, 50) ?? runOf(m);
  const rowOf = (m: Method, n: number | undefined): Row | undefined => rows.find((x) => x.method === m && x.n === n);
  const nftCtx = e.nftCtx?.samples;
  const ctxLine =
    nftCtx === undefined
      ? ''
      : ` An nft transaction that deletes an element costs ${f(medianOf(nftCtx['fresh context per call: delete element'] ?? []))} ms with a fresh libnftables context (the close of its netlink socket waits for the kernel's deferred free), ${f(medianOf(nftCtx['one context kept open: delete element'] ?? []), 3)} ms with one kept open (adds: ${f(medianOf(nftCtx['fresh context per call: add element'] ?? []), 3)} / ${f(medianOf(nftCtx['one context kept open: add element'] ?? []), 3)} ms).`;
  if (miss.size === 0) out.push('No target missed in this run.');
  if (miss.has('lib-attach')) {
    const r = ref('lib-kernel');
    const big = runOf('lib-kernel');
    const row = rowOf('lib-kernel', r?.n);
    if (r !== undefined) {
      const steps = perContainer(r, 'attach: ').filter(([k]) => k !== 'netns-add');
      out.push(`- **Library attach** (N=${r.n}: median ${f(row?.attach?.median)} ms, p95 ${f(row?.attach?.p95)} ms, ${f(row?.attachVsFloor)}× floor): step medians per container ${list(steps)} ms (sum ${f(sum(steps))} ms; netns-add, outside the metric, ${f(medianOf(r.breakdown['attach: netns-add'] ?? []))} ms).${big !== undefined && big.n !== r.n ? ` At N=${big.n}: ${list(perContainer(big, 'attach: ').filter(([k]) => k !== 'netns-add'))} ms.` : ''}`);
    }
  }
  if (miss.has('detach')) {
    const r = ref('lib-run');
    const k = ref('lib-kernel');
    const row = rowOf('lib-run', r?.n);
    if (r !== undefined) {
      const steps = perContainer(r, 'detach: ');
      const means = perContainer(r, 'detach: ', 'mean');
      out.push(`- **Detach** (remove() at N=${r.n}: median ${f(row?.detach?.median)} ms, mean ${f(row?.detach?.mean)} ms): its steps' medians ${list(steps)} ms; in means, steps ${list(means)} ms, and the rest (${f((row?.detach?.mean ?? NaN) - sum(means))} ms) is stopping the process, the store, the lock and the container's files. KernelRunner alone (N=${k?.n}): ${k === undefined ? '—' : list(perContainer(k, 'detach: '))} ms; the floor's \`ip netns del\` ${f(medianOf(runOf('floor', r.n)?.detachMs ?? []))} ms.${ctxLine}`);
    }
  }
  if (miss.has('cli-run') || miss.has('cli-connect')) {
    const s = e.connect?.samples;
    const cli = rowOf('cli', 50) ?? rows.filter((x) => x.method === 'cli').sort((a, b) => b.n - a.n)[0];
    const lib = rowOf('lib-run', cli?.n);
    if (s) {
      const node = medianOf(s['node -e 0'] ?? []);
      const ver = medianOf(s['nsnet --version'] ?? []);
      const ps = medianOf(s['nsnet ps -q'] ?? []);
      const conn = medianOf(s['nsnet network connect'] ?? []);
      out.push(`- **CLI**: node -e 0 ${f(node, 1)} ms; nsnet --version ${f(ver, 1)} ms (+${f(ver - node, 1)} ms: loading nsnet); ps -q ${f(ps, 1)} ms (+${f(ps - ver, 1)} ms: opening the store); network connect ${f(conn, 1)} ms (+${f(conn - ps, 1)} ms over ps -q: the work). run -d ${f(cli?.attach?.median, 1)} ms at N=${cli?.n} vs the same work in-process (lib run()) ${f(lib?.attach?.median, 1)} ms: ${f((cli?.attach?.median ?? NaN) - (lib?.attach?.median ?? NaN), 1)} ms for being a process of its own (ps -q, which only starts, loads nsnet and opens the store, costs ${f(ps, 1)} ms; the start-up samples are taken in their own minutes, so compare them with each other rather than with run -d).`);
    }
  }
  if (miss.has('batch-1000')) {
    const r = runOf('lib-run', 1000);
    const small = ref('lib-run');
    const row = rowOf('lib-run', 1000);
    const fl = rowOf('floor', 1000);
    if (r !== undefined && small !== undefined) {
      const kBig = perContainer(r, 'attach: ', 'mean');
      const kSmall = perContainer(small, 'attach: ', 'mean');
      const restBig = (row?.attach?.mean ?? NaN) - sum(kBig);
      const restSmall = (rowOf('lib-run', small.n)?.attach?.mean ?? NaN) - sum(kSmall);
      out.push(`- **1000-container batch**: ${f(row?.attachTotalS, 1)} s, growth ${f(row?.attachGrowth?.ratio)}× (the floor grows ${f(fl?.attachGrowth?.ratio)}× in the same run). run() median ${f(rowOf('lib-run', small.n)?.attach?.median)} ms at N=${small.n} → ${f(row?.attach?.median)} ms at N=1000; in means (which add up): run() ${f(rowOf('lib-run', small.n)?.attach?.mean)} → ${f(row?.attach?.mean)} ms, kernel steps ${f(sum(kSmall))} → ${f(sum(kBig))} ms (at N=1000: ${list(kBig.slice(0, 3))} ms), the rest (store, journal, lock, log directory, DNS files, process launch) ${f(restSmall)} → ${f(restBig)} ms.`);
    }
  }
  if (miss.has('port')) {
    const p = e.ports?.find((x) => x.driver === 'nftables');
    if (p?.lib !== undefined) {
      const d = portDeltas(p);
      const st = (k: string): number => medianOf(p.libSteps?.[k] ?? []);
      const proc = Object.values(p.procRead ?? {}).reduce((a, v) => a + medianOf(v), 0);
      out.push(`- **One published port** (+${f(d.total)} ms: run() +${f(d.run)}, remove() +${f(d.remove)}): inside run(), the publish nft step costs ${f(st('run() with -p: nft (publish ports)'), 3)} ms; publish() reads /proc/net/{tcp,tcp6,udp,udp6} to find host listeners: ${f(proc)} ms per read of the four files in this run (the kernel walks the TCP established hash for the tcp files: ${p.tcpEhashEntries === undefined ? '?' : Math.abs(p.tcpEhashEntries)} buckets${(p.tcpEhashEntries ?? 0) < 0 ? ', shared with the machine\'s own namespace' : ''}); the rest of the run() difference is the port's store rows and noise. Inside remove(), the withdraw nft step costs ${f(st('remove() with -p: nft (withdraw ports)'))} ms (a delete transaction, see below) while the netns-del step after it gets ${f(st('remove() without -p: netns-del') - st('remove() with -p: netns-del'))} ms cheaper (the kernel had that much longer to free the namespace).${ctxLine}`);
    }
  }
  if (miss.has('cni-add') && e.cni !== undefined) {
    const x = cniFigures(e.cni);
    out.push(`- **nsnet-cni ADD** (${f(x.add.nsnet?.median)} ms vs bridge ${f(x.add.bridge?.median)} ms, ${f(x.add.ratio)}×): in means, the service's handling ${f(x.addService?.mean)} ms and the rest ${f(x.addRest?.mean)} ms (client process and socket relay; /bin/true ${f(x.trueSpawn?.median)} ms, a VERSION round trip ${f(x.nsnetVersion?.median)} ms).`);
  }
  if (miss.has('throughput')) {
    const g = e.iperf?.gbps ?? {};
    const best = (k: string): number => Math.max(...(g[k] ?? [NaN]));
    out.push(`- **Throughput** (best of runs): anti-spoofing on ${f(best('nsnet, anti-spoofing on'), 1)}, off ${f(best('nsnet, anti-spoofing off'), 1)}, by-hand ${f(best('by-hand bridge'), 1)} Gbit/s: off/by-hand ${f(ratio(best('nsnet, anti-spoofing off'), best('by-hand bridge')))}× (what every nsnet network adds), on/off ${f(ratio(best('nsnet, anti-spoofing on'), best('nsnet, anti-spoofing off')))}× (what anti-spoofing adds). Runs: ${Object.entries(g).map(([k, v]) => `${k} ${v.map((x) => x.toFixed(1)).join('/')}`).join('; ')}.`);
  }
  const m = input.machine;
  if (m.loadSamples !== undefined) out.push(`- **Noise**: 1-minute load average during the run min ${f(Math.min(...m.loadSamples), 1)}, median ${f(medianOf(m.loadSamples), 1)}, max ${f(Math.max(...m.loadSamples), 1)} on ${m.cpus} CPUs, the benchmark's own processes included (about 1–2)${medianOf(m.loadSamples) > m.cpus ? ': the machine was busy with other work for much of the run, so absolute times and p95/max are inflated; same-run ratios less so' : Math.max(...m.loadSamples) > m.cpus + 1 ? ': other work ran during part of it, which shows in p95/max more than in medians' : ': a quiet run'}; other processes using ≥ 5 % CPU at the end: ${m.otherLoad === undefined || m.otherLoad.length === 0 ? 'none' : m.otherLoad.join('; ')}.`);
  const rv = m.notesReviewedAgainst;
  if (rv !== undefined) {
    const changed = rv.srcChangedSince;
    out.push(
      '',
      changed === null
        ? `_The notes below were checked against commit ${rv.commit}, which git does not know here: read them with care._`
        : changed.length === 0
          ? `_The notes below were checked against commit ${rv.commit}; src/ has not changed since._`
          : `_The notes below were checked against commit ${rv.commit}; src/ changed since in ${changed.length} file(s) (${changed.slice(0, 8).join(', ')}${changed.length > 8 ? ', …' : ''}): where they name code, check it still holds._`,
    );
  }
  for (const note of input.analysis ?? []) out.push(note);
  return out;
}

// ---------------------------------------------------------------- SVG

const COLORS: Record<Method, string> = { floor: '#222222', byhand: '#d62728', cli: '#ff7f0e', 'lib-kernel': '#2ca02c', 'lib-run': '#1f77b4' };

function renderSvg(rows: Row[], input: Input): string {
  const W = 980;
  const H = 440;
  const panels = [
    { title: 'attach: median ms per container', get: (r: Row) => r.attach?.median, x0: 0 },
    { title: 'detach: median ms per container', get: (r: Row) => r.detach?.median, x0: W / 2 },
  ];
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`, `<rect width="${W}" height="${H}" fill="white"/>`];
  const ns = input.ns.length ? input.ns : [1];
  const xMin = Math.min(...ns);
  const xMax = Math.max(...ns);
  for (const p of panels) {
    const vals = rows.map(p.get).filter((v): v is number => v !== undefined && v > 0);
    if (vals.length === 0) continue;
    const yMin = 10 ** Math.floor(Math.log10(Math.min(...vals)));
    const yMax = 10 ** Math.ceil(Math.log10(Math.max(...vals)));
    const L = p.x0 + 60;
    const R = p.x0 + W / 2 - 20;
    const T = 40;
    const B = H - 110;
    const sx = (n: number): number => (xMax === xMin ? (L + R) / 2 : L + ((Math.log10(n) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * (R - L));
    const sy = (v: number): number => B - ((Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (B - T);
    parts.push(`<text x="${(L + R) / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${p.title}</text>`);
    parts.push(`<rect x="${L}" y="${T}" width="${R - L}" height="${B - T}" fill="none" stroke="#999"/>`);
    for (let d = yMin; d <= yMax * 1.0001; d *= 10) {
      for (const mul of [1, 2, 5]) {
        const v = d * mul;
        if (v > yMax * 1.0001) break;
        parts.push(`<line x1="${L}" x2="${R}" y1="${sy(v).toFixed(1)}" y2="${sy(v).toFixed(1)}" stroke="${mul === 1 ? '#ccc' : '#eee'}"/>`);
        parts.push(`<text x="${L - 6}" y="${(sy(v) + 4).toFixed(1)}" text-anchor="end" fill="#555">${v >= 1 ? v : v.toPrecision(1)}</text>`);
      }
    }
    for (const n of ns) {
      parts.push(`<line x1="${sx(n).toFixed(1)}" x2="${sx(n).toFixed(1)}" y1="${T}" y2="${B}" stroke="#eee"/>`);
      parts.push(`<text x="${sx(n).toFixed(1)}" y="${B + 16}" text-anchor="middle" fill="#555">${n}</text>`);
    }
    parts.push(`<text x="${(L + R) / 2}" y="${B + 34}" text-anchor="middle">N containers on one bridge (log scale)</text>`);
    parts.push(`<text x="${p.x0 + 16}" y="${(T + B) / 2}" text-anchor="middle" transform="rotate(-90 ${p.x0 + 16} ${(T + B) / 2})">ms per container (log scale)</text>`);
    for (const m of input.methods) {
      const pts = rows.filter((r) => r.method === m).map((r) => [r.n, p.get(r)] as const).filter((x): x is readonly [number, number] => x[1] !== undefined && x[1] > 0);
      if (pts.length === 0) continue;
      parts.push(`<polyline fill="none" stroke="${COLORS[m]}" stroke-width="2" points="${pts.map(([n, v]) => `${sx(n).toFixed(1)},${sy(v).toFixed(1)}`).join(' ')}"/>`);
      for (const [n, v] of pts) parts.push(`<circle cx="${sx(n).toFixed(1)}" cy="${sy(v).toFixed(1)}" r="3" fill="${COLORS[m]}"><title>${m} N=${n}: ${v.toFixed(2)} ms</title></circle>`);
    }
  }
  input.methods.forEach((m, i) => {
    const x = 60 + (i % 3) * 310;
    const y = H - 50 + Math.floor(i / 3) * 20;
    parts.push(`<line x1="${x}" x2="${x + 24}" y1="${y - 4}" y2="${y - 4}" stroke="${COLORS[m]}" stroke-width="3"/>`);
    parts.push(`<text x="${x + 30}" y="${y}">${escapeXml(METHOD_LABEL[m])}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
