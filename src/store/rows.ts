/**
 * Mapping between camelCase records and snake_case rows. SQLite has no booleans or JSON
 * columns, so those are converted here and nowhere else.
 */
import { NsnetError } from '../core/errors.js';

type Kind = 'plain' | 'bool' | 'json';
export type Fields<R> = { readonly [K in keyof R]-?: readonly [column: string, kind: Kind] };

type Row = Record<string, unknown>;

export function toRow<R>(fields: Fields<R>, rec: Partial<R>): Row {
  const row: Row = {};
  for (const key of Object.keys(rec) as (keyof R)[]) {
    const f = fields[key];
    if (!f) throw new NsnetError('STATE', `unknown field "${String(key)}"`);
    const v = rec[key];
    // An optional field left undefined keeps the column's default.
    if (v === undefined) continue;
    row[f[0]] = f[1] === 'bool' ? (v ? 1 : 0) : f[1] === 'json' ? JSON.stringify(v) : v;
  }
  return row;
}

export function fromRow<R>(fields: Fields<R>, row: Row): R {
  const rec: Record<string, unknown> = {};
  for (const key of Object.keys(fields) as (keyof R & string)[]) {
    const [col, kind] = fields[key];
    const v = row[col];
    rec[key] = kind === 'bool' ? v === 1 : kind === 'json' ? (v == null ? v : JSON.parse(String(v))) : v;
  }
  return rec as R;
}

export function insertSql(table: string, row: Row): string {
  const cols = Object.keys(row);
  return `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`;
}

export function updateSql(table: string, row: Row): string {
  return `UPDATE ${table} SET ${Object.keys(row).map((c) => `${c} = @${c}`).join(', ')} WHERE id = @__id`;
}

/** better-sqlite3's SqliteError: an Error with an extended result code such as SQLITE_CONSTRAINT_UNIQUE. */
export interface SqliteLikeError extends Error {
  code: string;
}

export function isSqliteError(err: unknown, codePrefix: string): err is SqliteLikeError {
  if (!(err instanceof Error)) return false;
  const code: unknown = (err as Partial<SqliteLikeError>).code;
  return typeof code === 'string' && code.startsWith(codePrefix);
}

/** "UNIQUE constraint failed: endpoints.container_id, endpoints.network_id" → the column list. */
export function uniqueColumns(err: Error): string {
  return err.message.replace(/^UNIQUE constraint failed: /, '');
}
