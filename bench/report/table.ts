/** The plain-text table the run prints: the matrix and one line per target. */
import { f, pad } from './format.js';
import type { ReportInput, Row, Target } from './types.js';

/** The matrix, one row per (method, N): head row first. */
export function mainCells(rows: Row[]): string[][] {
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

export function renderTable(rows: Row[], targets: Target[], input: ReportInput): string {
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
