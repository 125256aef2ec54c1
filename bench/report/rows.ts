/** The attach/detach matrix as rows: one per (method, N) measured, with same-run ratios to the floor and the by-hand recipe. */
import { growth, medianOf, stats, type Method, type WorkerResult } from '../common.js';
import { ratio } from './format.js';
import type { ReportInput, Row } from './types.js';

export function buildRows(input: Pick<ReportInput, 'ns' | 'methods' | 'runs'>): Row[] {
  const find = (m: Method, n: number): WorkerResult | undefined => input.runs.find((r) => r.method === m && r.n === n);
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
  return rows;
}

/** The rows, and how the targets look them up. */
export interface Matrix {
  rows: Row[];
  row(m: Method, n: number): Row | undefined;
  /** The N a per-container target is judged on: 50 when measured, else the largest N. */
  refN(m: Method): number | undefined;
}

export function matrixOf(rows: Row[]): Matrix {
  return {
    rows,
    row: (m, n) => rows.find((r) => r.method === m && r.n === n),
    refN: (m) => {
      const have = rows.filter((r) => r.method === m).map((r) => r.n);
      return have.includes(50) ? 50 : have.length ? Math.max(...have) : undefined;
    },
  };
}
