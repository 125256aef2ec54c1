/** Turns worker results into the stdout table, latest.json, latest.md and latest.svg. */
import { growth, medianOf, METHOD_LABEL, METHOD_SCOPE, stats, type Method, type Stats, type WorkerResult } from './common.js';

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
}

export interface Extras {
  noChild?: { checked: boolean; containers?: number; childProcesses?: number; note: string };
  connect?: { samples: Record<string, number[]>; rssMethod: string; straceConnect?: string };
  vethDel?: { samples: Record<string, number[]> };
  iperf?: { gbps: Record<string, number[]>; seconds: number; antiSpoofing: 'built' | 'not built yet' };
  iperfSkipped?: string;
  features?: { ports: boolean; dns: boolean; iptables: boolean };
  /** Drivers the CLI names but the library refuses ("not available in this version"). */
  driverUnavailable?: Record<string, string>;
  firewall?: Array<{ driver: string; n: number; attachMs: number[]; counts: Record<string, Array<number | null>>; labels: string[] }>;
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
  status: 'pass' | 'miss' | 'not built yet' | 'not measured';
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
    const later = 'appears in the CLI help, but this benchmark has no measurement for it yet';
    const ft = extras.features;
    const ipt = extras.firewall?.find((x) => x.driver === 'iptables');
    if (ipt !== undefined) {
      const c = ipt.counts['iptables'] ?? [];
      targets.push({
        id: 'iptables-rules',
        target: 'Rule count after N equals the count after 1, iptables driver',
        measured: `iptables rules (-A lines, legacy + nft backends): ${c.map((x) => x ?? '—').join(' → ')} (before network → after 1 → after ${ipt.n}); attach median ${f(medianOf(ipt.attachMs))} ms with this driver`,
        status: c[1] !== undefined && c[1] === c[2] ? 'pass' : 'miss',
      });
    } else if (extras.driverUnavailable?.['iptables'] !== undefined) {
      targets.push({ id: 'iptables-rules', target: 'Rule count, iptables driver', measured: `--firewall-driver accepts the name, but the library says: "${extras.driverUnavailable['iptables']}"`, status: 'not built yet' });
    } else {
      targets.push({ id: 'iptables-rules', target: 'Rule count, iptables driver', measured: ft?.iptables ? later : 'no iptables driver in the CLI', status: ft?.iptables ? 'not measured' : 'not built yet' });
    }
    targets.push({ id: 'port', target: 'One published port costs ≤ 1 ms more (added and removed)', measured: ft?.ports ? later : 'no port publishing in the CLI (run --help has no --publish)', status: ft?.ports ? 'not measured' : 'not built yet' });
  }
  {
    const ip = extras.iperf;
    const best = (k: string): number => Math.max(...(ip?.gbps[k] ?? [NaN]));
    if (ip === undefined) {
      targets.push({ id: 'throughput', target: 'Throughput between two containers ≥ 0.95× by-hand bridge, anti-spoofing on', measured: extras.iperfSkipped ?? 'not measured', status: 'not measured' });
    } else if (ip.antiSpoofing === 'built') {
      const r = ratio(best('nsnet, anti-spoofing on'), best('by-hand bridge'));
      targets.push({
        id: 'throughput',
        target: 'Throughput between two containers ≥ 0.95× by-hand bridge, anti-spoofing on',
        measured: `on ${f(best('nsnet, anti-spoofing on'), 1)} Gbit/s, off ${f(best('nsnet, anti-spoofing off'), 1)} Gbit/s, by-hand ${f(best('by-hand bridge'), 1)} Gbit/s (best of ${ip.gbps['by-hand bridge']?.length ?? 0} runs of ${ip.seconds} s): on = ${f(r)}× by-hand, off = ${f(ratio(best('nsnet, anti-spoofing off'), best('by-hand bridge')))}×`,
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
  targets.push({ id: 'dns-rss', target: 'Peak RSS of the DNS responder', measured: extras.features?.dns ? 'DNS appears in the CLI help, but this benchmark has no measurement for it yet' : 'no DNS responder in the CLI', status: extras.features?.dns ? 'not measured' : 'not built yet' });

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

function summarizeExtras(e: Extras): unknown {
  const s = (rec: Record<string, number[]> | undefined): unknown => (rec === undefined ? undefined : Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, stats(v)])));
  return {
    noChild: e.noChild,
    connect: e.connect === undefined ? undefined : { rssMethod: e.connect.rssMethod, stats: s(e.connect.samples), straceConnect: e.connect.straceConnect },
    vethDel: e.vethDel === undefined ? undefined : s(e.vethDel.samples),
    iperf: e.iperf ?? e.iperfSkipped,
    features: e.features,
    firewall: e.firewall?.map((x) => ({ driver: x.driver, n: x.n, counts: x.counts, labels: x.labels, attach: stats(x.attachMs) })),
  };
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
    if (e.connect.straceConnect) out.push('`strace -f -c` of one `nsnet network connect` (top syscalls by time):', '', '```', e.connect.straceConnect.trim(), '```', '');
  }
  if (e.firewall !== undefined && e.firewall.length > 0) {
    out.push('Firewall rule counts per driver (lib run(), one network; nft = rules in the nsnet tables, iptables = -A lines of iptables-legacy-save + iptables-nft-save):', '');
    out.push(mdTable([['driver', 'N', 'nft rules: before net → after 1 → after N', 'iptables rules: same', 'attach median ms'], ...e.firewall.map((x) => [x.driver, String(x.n), (x.counts['nft'] ?? []).map((v) => v ?? '—').join(' → '), (x.counts['iptables'] ?? []).map((v) => v ?? '—').join(' → '), f(medianOf(x.attachMs))])]), '');
  }
  if (e.vethDel !== undefined) {
    out.push('Detach by deleting the veth vs deleting the namespace (same run, containers made with KernelRunner, ms):', '');
    out.push(mdTable([['how', 'median', 'p95', 'min', 'max'], ...Object.entries(e.vethDel.samples).map(([k, v]) => { const s = stats(v); return [k, f(s?.median), f(s?.p95), f(s?.min), f(s?.max)]; })]), '');
  }
  if (e.iperf !== undefined) {
    out.push(`Throughput, iperf3 TCP, ${e.iperf.seconds} s per run, two containers on one bridge, Gbit/s per run (anti-spoofing: ${e.iperf.antiSpoofing}): ${Object.entries(e.iperf.gbps).map(([k, v]) => `${k} ${v.map((x) => x.toFixed(1)).join(', ')}`).join('; ')}.`, '');
  } else out.push(`Throughput: ${e.iperfSkipped ?? 'not measured'}.`, '');
  if (e.noChild !== undefined) out.push(`No-child check (lib-kernel attach loop under \`strace -f -e trace=process\`): ${e.noChild.checked ? `${e.noChild.childProcesses} child processes during ${e.noChild.containers} attaches` : e.noChild.note}.`, '');
  out.push('Not built yet (reported, not faked): published ports (cost of one port), DNS responder (peak RSS), anti-spoofing (throughput with it on), iptables driver (rule count).', '');

  out.push('## Step breakdowns', '');
  for (const method of ['lib-kernel', 'lib-run', 'byhand', 'floor'] as Method[]) {
    const r = [...runs].filter((x) => x.method === method).sort((a, b) => b.n - a.n)[0];
    if (r === undefined || Object.keys(r.breakdown).length === 0) continue;
    out.push(`**${method}, N=${r.n}** (each step's apply timed by wrapping the runner${method === 'byhand' || method === 'floor' ? '; each process timed' : ''}):`, '');
    out.push(breakdownTable(r, () => true), '');
    if (method === 'lib-run') {
      const steps = Object.entries(r.breakdown).filter(([k]) => k.startsWith('attach:')).reduce((a, [, v]) => a + v.reduce((x, y) => x + y, 0), 0);
      const total = r.attachMs.reduce((a, b) => a + b, 0);
      out.push(`lib-run: kernel steps are ${((steps / total) * 100).toFixed(0)} % of run() time; the other ${(100 - (steps / total) * 100).toFixed(0)} % (${f((total - steps) / r.attachMs.length)} ms per container) is the store transaction, lock, log directory and the container process launch (spawn of util-linux unshare + waiting for its child).`, '');
    }
  }
  out.push('## What dominates', '', ...whatDominates(rows, targets, input), '');
  if (input.errors.length) out.push('## Errors', '', ...input.errors.map((x) => '- ' + x.replace(/\n/g, ' ')), '');
  return out.join('\n');
}

function whatDominates(rows: Row[], targets: Target[], input: Input): string[] {
  const out: string[] = [];
  const miss = new Set(targets.filter((t) => t.status === 'miss').map((t) => t.id));
  const last = (m: Method): WorkerResult | undefined => [...input.runs].filter((x) => x.method === m).sort((a, b) => b.n - a.n)[0];
  const stepMedians = (r: WorkerResult, pfx: string): string =>
    Object.entries(r.breakdown)
      .filter(([k]) => k.startsWith(pfx))
      .map(([k, v]) => [k.slice(pfx.length), medianOf(v)] as const)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v.toFixed(3)} ms`)
      .join(', ');
  if (miss.size === 0) out.push('No target missed in this run.');
  if (miss.has('lib-attach')) {
    const r = last('lib-kernel');
    out.push(`- **Library attach**: per-step medians (N=${r?.n}): ${r ? stepMedians(r, 'attach: ') : '—'}.`);
  }
  if (miss.has('detach')) {
    const r = last('lib-run');
    const k = last('lib-kernel');
    out.push(`- **Detach**: KernelRunner netns-del median ${k ? f(medianOf(k.breakdown['detach: netns-del'] ?? [])) : '—'} ms (N=${k?.n}); remove() ${r ? f(medianOf(r.detachMs)) : '—'} ms (N=${r?.n}), whose netns-del step is ${r ? f(medianOf(r.breakdown['detach: netns-del'] ?? [])) : '—'} ms.`);
  }
  if (miss.has('cli-run') || miss.has('cli-connect')) {
    const s = input.extras.connect?.samples;
    if (s) out.push(`- **CLI**: node -e 0 ${f(medianOf(s['node -e 0'] ?? []), 1)} ms, nsnet --version ${f(medianOf(s['nsnet --version'] ?? []), 1)} ms (start-up + bundle load), nsnet ps -q ${f(medianOf(s['nsnet ps -q'] ?? []), 1)} ms (+ store open), network connect ${f(medianOf(s['nsnet network connect'] ?? []), 1)} ms.`);
  }
  if (miss.has('batch-1000')) {
    const r = rows.find((x) => x.method === 'lib-run' && x.n === 1000);
    out.push(`- **1000-container batch**: ${f(r?.attachTotalS, 1)} s total, median ${f(r?.attach?.median)} ms, growth ${f(r?.attachGrowth?.ratio)}×.`);
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
