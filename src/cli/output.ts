/** Rendering for the terminal: tables, JSON, errors. Only src/cli writes to stdout and stderr. */
import { NsnetError } from '../core/errors.js';

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 4) + '\n');
}

export function printLines(lines: readonly string[]): void {
  if (lines.length > 0) process.stdout.write(lines.join('\n') + '\n');
}

/** Docker-style table: upper-case headers, columns padded with three spaces. */
export function printTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('');
  printLines([line(headers), ...rows.map(line)]);
}

export type Format = 'table' | 'json';

/** Exit codes: 2 for usage errors (as commander and Docker use), 1 for everything else. */
export function exitCodeFor(err: unknown): number {
  return err instanceof NsnetError && err.code === 'USAGE' ? 2 : 1;
}

export function printError(err: unknown, format: Format): void {
  const e =
    err instanceof NsnetError
      ? err
      : new NsnetError('STATE', err instanceof Error ? err.message : String(err), { cause: err });
  if (format === 'json') {
    const body: Record<string, string> = { code: e.code, message: e.message };
    if (e.hint !== undefined) body['hint'] = e.hint;
    process.stderr.write(JSON.stringify({ error: body }) + '\n');
    return;
  }
  process.stderr.write(`nsnet: ${e.message}\n`);
  if (e.hint !== undefined) process.stderr.write(`hint: ${e.hint}\n`);
  if (process.env['NSNET_DEBUG'] === '1' && !(err instanceof NsnetError)) {
    process.stderr.write(`${err instanceof Error ? err.stack : ''}\n`);
  }
}

/** "3 seconds", "5 minutes", "2 hours", as Docker prints ages. */
export function humanDuration(fromIso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(fromIso)) / 1000));
  const units: Array<[number, string]> = [[86400, 'day'], [3600, 'hour'], [60, 'minute'], [1, 'second']];
  for (const [size, name] of units) {
    const n = Math.floor(seconds / size);
    if (n >= 1 || size === 1) return `${n} ${name}${n === 1 ? '' : 's'}`;
  }
  return `${seconds} seconds`;
}
