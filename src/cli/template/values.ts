/**
 * Values as Go's templates see them, for data that came from JSON-shaped objects: truthiness,
 * printing as fmt's %v prints (maps as map[k:v], slices as [a b], nil as <nil>) and Go's type names
 * for error messages.
 */

/** A map lookup that found no key: printed as Go prints it, "<no value>". */
export const MISSING: unique symbol = Symbol('no value');
export type Value = unknown;

export function isMap(v: Value): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Go's truth: false, 0, nil, and empty strings, slices and maps are false. */
export function truthy(v: Value): boolean {
  if (v === MISSING || v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

export function goType(v: Value): string {
  if (v === MISSING || v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return '[]interface {}';
  return 'map[string]interface {}';
}

/** fmt.Sprint of one value (%v). */
export function show(v: Value): string {
  if (v === MISSING) return '<no value>';
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(show).join(' ')}]`;
  // A row's methods (functions, e.g. Label) are not data: Go's %v of a struct does not print them.
  if (isMap(v)) return `map[${Object.keys(v).filter((k) => typeof v[k] !== 'function').sort().map((k) => `${k}:${show(v[k])}`).join(' ')}]`;
  return String(v);
}

/** Go's json.Marshal, as Docker's `json` function calls it (no HTML escaping, no trailing newline). */
export function toJson(v: Value): string {
  return JSON.stringify(v === MISSING || v === undefined ? null : v) ?? 'null';
}
