/** Number and table formatting shared by the report's outputs. */

/** A number with d decimals, or — when there is none. */
export const f = (x: number | null | undefined, d = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d));

/** a / b, or null when either is missing or b is 0. */
export const ratio = (a: number | undefined, b: number | undefined): number | null =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? null : a / b;

export const round = (x: number): number => Math.round(x * 1000) / 1000;

/** f() with a + before a non-negative number. */
export const signed = (x: number): string => (Number.isFinite(x) && x >= 0 ? `+${f(x)}` : f(x));

/** The q-quantile of a sample (nearest rank, as stats() computes p95). */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** Plain-text table: the first column left-aligned, the others right-aligned. */
export function pad(cells: string[][]): string {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

/** Markdown table; the first row is the head. */
export function mdTable(cells: string[][]): string {
  const [head, ...body] = cells;
  return [`| ${head!.join(' | ')} |`, `|${head!.map((_, i) => (i < 1 ? '---' : '---:')).join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
