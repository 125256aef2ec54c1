/**
 * `--format` for listings (ps, network ls) as docker/cli's formatter reads it: `table TEMPLATE`
 * prints a header and aligns columns with a tabwriter, any other text is a template printed once
 * per row; `\t` and `\n` written in the shell become a tab and a newline.
 */
import { CallError } from '../template/functions.js';
import { compile, tabulate } from '../template/index.js';

export interface ListingShape {
  /** Docker's Go type of a row, named in errors about unknown fields. */
  structType: string;
  /** Column header of each field, as Docker prints them (ID → "CONTAINER ID"); `Label` makes one from its key. */
  headers: Readonly<Record<string, unknown>>;
  /** Docker's default table template for this listing. */
  defaultTable: string;
}

/** docker/cli's header for `{{.Label "com.example.some_key"}}`: the last dotted part, upper case, "-" and "_" as spaces. */
export function labelHeader(key: unknown): string {
  return String(key).split('.').pop()!.replace(/[-_]/g, ' ').toUpperCase();
}

/** `{{.Label "KEY"}}` on a row: the label's value, empty when it has none (docker/cli's Label method). */
export function labelMethod(labels: Readonly<Record<string, string>>): (...args: unknown[]) => string {
  return (...args) => {
    if (args.length !== 1) throw new CallError(`wrong number of args for Label: want 1 got ${args.length}`);
    return labels[String(args[0])] ?? '';
  };
}

export function renderListing(format: string, rows: ReadonlyArray<Record<string, unknown>>, shape: ListingShape): string[] {
  const text = format.trim() === 'table' ? shape.defaultTable : format;
  const table = text.startsWith('table');
  const body = (table ? text.slice('table'.length) : text).trim().replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const template = compile(body);
  const opts = { structType: shape.structType };
  const lines = rows.map((row) => template.render(row, opts));
  if (!table) return lines;
  const header = template.render(shape.headers, opts);
  return tabulate([header, ...lines].join('\n').split('\n'));
}

/** `inspect -f TEMPLATE`: the template once per object, each output on its own line (Docker's inspect). */
export function renderEach(source: string, objects: readonly unknown[]): string[] {
  const template = compile(source);
  return objects.map((o) => template.render(o));
}
