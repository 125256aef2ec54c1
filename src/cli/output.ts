/** Rendering for the terminal: tables, JSON, errors. Only src/cli writes to stdout and stderr. */
import { NsnetError, NsnetErrors } from '../core/errors.js';

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

/**
 * Exit codes, as Docker's (`docker run --help`, "Exit Status"): the container's command not found
 * 127, found but not executable 126 (run and exec); any other failure of `run`, its usage errors
 * included, 125 ("the error is with the daemon itself": the container was not made); other
 * commands: usage errors 2 (as commander's), everything else 1.
 */
export const RUN_FAILED = 125;

export function exitCodeFor(err: unknown, command?: string): number {
  const code = err instanceof NsnetError ? err.code : 'INTERNAL';
  // Only the commands that run the command itself report it so (Docker's start and compose's up exit 1).
  if (command === 'run' || command === 'exec') {
    if (code === 'COMMAND_NOT_FOUND') return 127;
    if (code === 'COMMAND_NOT_EXECUTABLE') return 126;
  }
  if (command === 'run') return RUN_FAILED;
  return code === 'USAGE' ? 2 : 1;
}

export function printError(err: unknown, format: Format): void {
  // Anything but an NsnetError is not something nsnet expects: a bug, reported as INTERNAL.
  const e =
    err instanceof NsnetError
      ? err
      : new NsnetError('INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
  const bug = e.code === 'INTERNAL';
  if (format === 'json') {
    process.stderr.write(JSON.stringify({ error: errorBody(e) }) + '\n');
    if (bug) process.stderr.write(`${stackOf(err)}\n`);
    return;
  }
  const each = e instanceof NsnetErrors ? e.errors : [e];
  if (each.length > 1) process.stderr.write(`nsnet: ${e.message.split('\n')[0]}\n`);
  for (const one of each) {
    process.stderr.write(`nsnet: ${each.length > 1 ? `[${one.code}] ` : ''}${one.message}\n`);
    if (one.hint !== undefined) process.stderr.write(`hint: ${one.hint}\n`);
  }
  if (bug) process.stderr.write(`nsnet: this is a bug in nsnet; please report it with this trace:\n${stackOf(err)}\n`);
}

/** `{code, message, hint}`, and for several failures each of them with its own code. */
function errorBody(e: NsnetError): Record<string, unknown> {
  const body: Record<string, unknown> = { code: e.code, message: e.message };
  if (e.hint !== undefined) body['hint'] = e.hint;
  if (e instanceof NsnetErrors) body['errors'] = e.errors.map(errorBody);
  return body;
}

function stackOf(err: unknown): string {
  const cause = err instanceof NsnetError && err.cause instanceof Error ? err.cause : err;
  return cause instanceof Error ? (cause.stack ?? cause.message) : String(cause);
}
