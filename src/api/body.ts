/**
 * Reading fields of a request's JSON body: each helper names the field and what it should have
 * been, so a client that sends the wrong type gets a 400 that says which field. Docker's clients
 * send null for absent lists and maps; null is treated as absent everywhere.
 */
import { badRequest } from './errors.js';

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`);

export function asRecord(v: unknown, field: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw badRequest(`invalid ${field}: expected a JSON object, got ${typeName(v)}`);
  return v as Record<string, unknown>;
}

export function optionalString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badRequest(`invalid ${field}: expected a string, got ${typeName(v)}`);
  return v;
}

export function bool(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badRequest(`invalid ${field}: expected true or false, got ${typeName(v)}`);
  return v;
}

export function int(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw badRequest(`invalid ${field}: expected a whole number, got ${typeName(v)}`);
  return v;
}

/** A list of strings; Docker's strslice also takes one string for a one-element list (Cmd, Entrypoint). */
export function stringList(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw badRequest(`invalid ${field}: expected a list of strings, got ${typeName(v)}`);
  return v as string[];
}

export function stringMap(v: unknown, field: string): Record<string, string> {
  const o = asRecord(v, field);
  for (const [k, x] of Object.entries(o)) if (typeof x !== 'string') throw badRequest(`invalid ${field}["${k}"]: expected a string, got ${typeName(x)}`);
  return o as Record<string, string>;
}

/** A query parameter as Docker's boolean: 1/true/yes and 0/false/no (an absent one is `fallback`). */
export function queryBool(q: URLSearchParams, name: string, fallback = false): boolean {
  const v = q.get(name);
  if (v === null || v === '') return fallback;
  if (/^(1|true|yes)$/i.test(v)) return true;
  if (/^(0|false|no)$/i.test(v)) return false;
  throw badRequest(`invalid value for ${name}: "${v}" (expected 1/true or 0/false)`);
}

export function queryInt(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`invalid value for ${name}: "${v}" (expected a whole number)`);
  return Number(v);
}
