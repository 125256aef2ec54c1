/**
 * Turns worker results into the stdout table, latest.json, latest.md and latest.svg: rows of the
 * attach/detach matrix (report/rows.ts), the targets judged on them (report/targets.ts), and one
 * module per output.
 */
import { buildJson } from './report/json.js';
import { renderMarkdown } from './report/markdown.js';
import { buildRows, matrixOf } from './report/rows.js';
import { renderSvg } from './report/svg.js';
import { renderTable } from './report/table.js';
import { buildTargets, unmeasuredErrors } from './report/targets.js';
import type { ReportInput } from './report/types.js';

export type { Extras, Machine, ReportInput } from './report/types.js';

export interface Report {
  json: unknown;
  markdown: string;
  svg: string;
  table: string;
  /** The run's errors, and in a full run every target it could not measure ("ID: reason"): the run fails when there is any. */
  errors: string[];
}

export function buildReport(input: ReportInput): Report {
  const rows = buildRows(input);
  const targets = buildTargets(matrixOf(rows), input.extras);
  const errors = [...input.errors, ...(input.everyTargetRequired === true ? unmeasuredErrors(targets, input.errors) : [])];
  const judged = { ...input, errors };
  return {
    json: buildJson(rows, targets, judged),
    markdown: renderMarkdown(rows, targets, judged),
    svg: renderSvg(rows, judged),
    table: renderTable(rows, targets, judged),
    errors,
  };
}
