/** latest.md's "What dominates": the numbers behind each missed target, from this run. */
import { medianOf, stats, type Method, type WorkerResult } from '../common.js';
import { cniFigures, portDeltas } from './figures.js';
import { f, ratio } from './format.js';
import type { ReportInput, Row, Target } from './types.js';

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
export function whatDominates(rows: Row[], targets: Target[], input: ReportInput): string[] {
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
