/**
 * The functions a Docker --format template can call: Go's builtins (index, len, eq..., print...)
 * and the ones docker/cli's templates package adds (json, join, split, lower, upper, title,
 * truncate, pad). `and` and `or` are evaluated lazily by the executor, as Go does.
 */
import { sprintf } from './printf.js';
import { isMap, MISSING, goType, show, toJson, truthy, type Value } from './values.js';

export type TemplateFunction = (args: Value[]) => Value;

/** A function's error, which the executor reports as Go does: "error calling NAME: MESSAGE". */
export class CallError extends Error {}

function arity(name: string, args: readonly Value[], n: number): void {
  if (args.length !== n) throw new CallError(`wrong number of args for ${name}: want ${n} got ${args.length}`);
}

function str(v: Value): string {
  if (typeof v !== 'string') throw new CallError(`wrong type for value; expected string; got ${goType(v)}`);
  return v;
}

function int(v: Value): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new CallError(`wrong type for value; expected int; got ${goType(v)}`);
  return v;
}

/** Go compares basic values only; numbers with numbers, strings with strings. */
function basic(v: Value): string | number | boolean | null {
  if (v === MISSING || v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  throw new CallError(`invalid type for comparison`);
}

function equal(a: Value, b: Value): boolean {
  const x = basic(a);
  const y = basic(b);
  if (x !== null && y !== null && typeof x !== typeof y) throw new CallError('incompatible types for comparison');
  return x === y;
}

function order(a: Value, b: Value): number {
  const x = basic(a);
  const y = basic(b);
  if (typeof x === 'boolean' || x === null) throw new CallError(`invalid type for comparison`);
  if (typeof x !== typeof y) throw new CallError('incompatible types for comparison');
  return x < y! ? -1 : x > y! ? 1 : 0;
}

function index(args: Value[]): Value {
  if (args.length === 0) throw new CallError('wrong number of args for index: want at least 1 got 0');
  let v = args[0];
  for (const key of args.slice(1)) {
    if (Array.isArray(v) || typeof v === 'string') {
      const i = int(key);
      if (i < 0 || i >= v.length) throw new CallError(`index out of range: ${i}`);
      v = typeof v === 'string' ? Buffer.from(v)[i] : v[i];
    } else if (isMap(v)) {
      v = Object.prototype.hasOwnProperty.call(v, show(key)) ? v[show(key)] : MISSING;
    } else if (v === MISSING || v === null || v === undefined) {
      throw new CallError('index of untyped nil');
    } else throw new CallError(`can't index item of type ${goType(v)}`);
  }
  return v;
}

function len(args: Value[]): Value {
  arity('len', args, 1);
  const v = args[0];
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (isMap(v)) return Object.keys(v).length;
  throw new CallError(`len of ${v === MISSING || v === null ? 'nil pointer' : `type ${goType(v)}`}`);
}

/** fmt.Sprint: a space between operands when neither is a string. */
function sprint(args: readonly Value[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += show(a);
  });
  return out;
}

/** strings.Title: upper-case the first letter of each word. */
function title(s: string): string {
  return s.replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, before: string, letter: string) => before + letter.toUpperCase());
}

export const FUNCTIONS: ReadonlyMap<string, TemplateFunction> = new Map<string, TemplateFunction>([
  ['not', (a) => (arity('not', a, 1), !truthy(a[0]))],
  ['len', len],
  ['index', index],
  ['print', sprint],
  ['println', (a) => a.map(show).join(' ') + '\n'],
  ['printf', (a) => sprintf(str(a[0]), a.slice(1))],
  ['eq', (a) => {
    if (a.length < 2) throw new CallError('missing argument for comparison');
    return a.slice(1).some((b) => equal(a[0], b));
  }],
  ['ne', (a) => (arity('ne', a, 2), !equal(a[0], a[1]))],
  ['lt', (a) => (arity('lt', a, 2), order(a[0], a[1]) < 0)],
  ['le', (a) => (arity('le', a, 2), order(a[0], a[1]) <= 0)],
  ['gt', (a) => (arity('gt', a, 2), order(a[0], a[1]) > 0)],
  ['ge', (a) => (arity('ge', a, 2), order(a[0], a[1]) >= 0)],
  ['html', (a) => sprint(a).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;')],
  ['urlquery', (a) => encodeURIComponent(sprint(a))],
  // Docker's additions (github.com/docker/cli/templates).
  ['json', (a) => (arity('json', a, 1), toJson(a[0]))],
  ['split', (a) => (arity('split', a, 2), str(a[0]).split(str(a[1])))],
  ['join', (a) => {
    arity('join', a, 2);
    if (!Array.isArray(a[0])) throw new CallError(`wrong type for value; expected []string; got ${goType(a[0])}`);
    return a[0].map((x) => str(x)).join(str(a[1]));
  }],
  ['title', (a) => (arity('title', a, 1), title(str(a[0])))],
  ['lower', (a) => (arity('lower', a, 1), str(a[0]).toLowerCase())],
  ['upper', (a) => (arity('upper', a, 1), str(a[0]).toUpperCase())],
  // pad "s" 1 2: one space before, two after; an empty string stays empty (Docker's padWithSpace).
  ['pad', (a) => {
    arity('pad', a, 3);
    const s = str(a[0]);
    return s === '' ? s : ' '.repeat(int(a[1])) + s + ' '.repeat(int(a[2]));
  }],
  ['truncate', (a) => {
    arity('truncate', a, 2);
    const s = str(a[0]);
    const n = int(a[1]);
    return s.length < n ? s : s.slice(0, n);
  }],
]);

/** Every name a template may call, for the parser's "function not defined" check. */
export const FUNCTION_NAMES: ReadonlySet<string> = new Set([...FUNCTIONS.keys(), 'and', 'or']);
