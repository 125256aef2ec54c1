/**
 * `--filter NAME=VALUE` as Docker parses it: several values of one name match if any matches,
 * different names must all match. An unknown name or a bad value is refused before anything is
 * listed, with Docker's wording ("invalid filter 'foo'") and the names that exist.
 */
import { NsnetError, usage } from '../../core/errors.js';

export type Filters = ReadonlyMap<string, readonly string[]>;

export function parseFilters(items: readonly string[] | undefined, known: readonly string[], command: string): Filters {
  const out = new Map<string, string[]>();
  for (const item of items ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw usage(`invalid argument "${item}" for "-f, --filter" flag: bad format of filter (expected name=value)`);
    const name = item.slice(0, eq).trim().toLowerCase();
    if (!known.includes(name)) {
      throw new NsnetError('INVALID_VALUE', `invalid filter '${name}'`, { hint: `${command} filters: ${known.join(', ')}` });
    }
    out.set(name, [...(out.get(name) ?? []), item.slice(eq + 1)]);
  }
  return out;
}

export function invalidValue(name: string, value: string, expected: string): NsnetError {
  return new NsnetError('INVALID_VALUE', `invalid filter '${name}=${value}': expected ${expected}`);
}

/** Docker's filters.Match: the value equals the text, or is a regular expression found in it. */
export function textMatches(pattern: string, text: string): boolean {
  if (pattern === text) return true;
  try {
    return new RegExp(pattern).test(text);
  } catch {
    return false;
  }
}

/** `label=KEY` (present) or `label=KEY=VALUE` (equal). */
export function labelMatches(pattern: string, labels: Readonly<Record<string, string>>): boolean {
  const eq = pattern.indexOf('=');
  if (eq < 0) return Object.prototype.hasOwnProperty.call(labels, pattern);
  return labels[pattern.slice(0, eq)] === pattern.slice(eq + 1);
}

/** True when no filter of this name is given, or any of its values passes `test`. */
export function anyOf(filters: Filters, name: string, test: (value: string) => boolean): boolean {
  const values = filters.get(name);
  return values === undefined || values.some(test);
}

/** Docker's label filters: every one given must match (MatchKVList), unlike the other filters' any. */
export function allOf(filters: Filters, name: string, test: (value: string) => boolean): boolean {
  return (filters.get(name) ?? []).every(test);
}

export function labelsText(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
}
