/**
 * A detached container's log, as its monitor writes it (native/nsnet-monitor.c): Docker's
 * json-file format, one JSON object per line of output,
 *
 *   {"log":"hello\n","stream":"stdout","time":"2026-12-06T04:10:44.144482118Z"}
 *
 * with the line's own newline inside "log" (a last line without one has none; a line longer
 * than 16 KiB comes in parts, as Docker splits it), and the time in RFC 3339 with nine fraction
 * digits, UTC — so times compare as text. A line that is not such an object is plain text from
 * a container started before nsnet had monitors, without a time.
 *
 * And `nsnet logs`' options, as docker logs takes them: --since/--until (a time or a duration
 * before now), --tail N, -t. Pure: text in, text out.
 */
import { NsnetError } from '../core/errors.js';

export interface LogLine {
  stream: 'stdout' | 'stderr';
  /** RFC 3339, nine fraction digits, UTC; undefined for a plain-text line. */
  time: string | undefined;
  /** The output, with its newline when it had one. */
  text: string;
}

const isJsonEntry = (line: string): boolean => line.startsWith('{"log":');

/** One line of the file (without its newline). */
export function parseLogLine(line: string): LogLine {
  if (isJsonEntry(line)) {
    try {
      const o = JSON.parse(line) as { log?: unknown; stream?: unknown; time?: unknown };
      if (typeof o.log === 'string') return { stream: o.stream === 'stderr' ? 'stderr' : 'stdout', time: typeof o.time === 'string' ? fixedNano(o.time) : undefined, text: o.log };
    } catch {
      // not an entry after all: plain text
    }
  }
  return { stream: 'stdout', time: undefined, text: `${line}\n` };
}

/** The complete lines of a log's text (a last line still being written is left out). */
export function parseLog(text: string): LogLine[] {
  const lines = text.split('\n');
  lines.pop(); // after the last newline: empty, or a line not finished yet
  return lines.map(parseLogLine);
}

/** Docker's RFC3339NanoFixed, from any RFC 3339 time: "2026-12-06T04:10:44.144482118Z". */
export function fixedNano(time: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (m === null) return time;
  const fraction = (m[2] ?? '').slice(0, 9).padEnd(9, '0');
  if (m[3] === 'Z') return `${m[1]}.${fraction}Z`;
  const seconds = Math.floor(Date.parse(`${m[1]}${m[3]}`) / 1000);
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${fraction}Z`;
}

/** Nanoseconds since the epoch as RFC3339NanoFixed. */
function fromEpochNanos(seconds: number, nanos: number): string {
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${String(nanos).padStart(9, '0')}Z`;
}

const GO_UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, 'µs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** Go's time.ParseDuration, in seconds; undefined when the text is not a duration. */
export function parseGoDuration(text: string): number | undefined {
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(text);
  if (m === null) return text === '0' ? 0 : undefined;
  let total = 0;
  for (const part of text.slice(m[1]!.length).matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) total += Number(part[1]) * GO_UNITS[part[2]!]!;
  return m[1] === '-' ? -total : total;
}

/**
 * docker logs --since/--until: an RFC 3339 time (a date, a date and time, with or without zone and
 * fraction; without a zone, local time), a Unix time in seconds (with a fraction), or a Go duration
 * before `now` ("10m", "1h30m"; whole seconds, as Docker). As RFC3339NanoFixed, UTC.
 */
export function parseLogTime(text: string, flag: string, now: number): string {
  const bad = (): NsnetError =>
    new NsnetError('INVALID_VALUE', `invalid ${flag} "${text}": failed to parse value as time or duration`, {
      hint: 'give a time (2026-12-06T04:10:00Z, 2026-12-06), a Unix time (1796530200.5) or a duration before now (10m, 1h30m)',
    });
  const duration = text === '0' ? undefined : parseGoDuration(text);
  if (duration !== undefined) return fromEpochNanos(Math.floor(now / 1000 - duration), 0);
  if (text.includes('-')) {
    const m = /^(\d{4}-\d\d-\d\d)(?:T(\d\d)(?::(\d\d))?(?::(\d\d))?(?:\.(\d+))?)?(Z|z|[+-]\d\d:\d\d)?$/.exec(text);
    if (m === null) throw bad();
    const [, date, hh = '00', mm = '00', ss = '00', fraction = '', zone] = m;
    const base = `${date}T${hh}:${mm}:${ss}`;
    // Without a zone, local time, as Docker's ParseInLocation.
    const ms = Date.parse(zone === undefined ? base : `${base}${zone.toUpperCase()}`);
    if (Number.isNaN(ms)) throw bad();
    return fromEpochNanos(Math.floor(ms / 1000), Number(fraction.slice(0, 9).padEnd(9, '0')));
  }
  const unix = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text);
  if (unix === null) throw bad();
  return fromEpochNanos(Number(unix[1]), Number((unix[2] ?? '').padEnd(9, '0')));
}

/** docker logs --tail: "all" or a number of lines (a negative one means all, as Docker). */
export function parseTail(text: string): number | 'all' {
  if (text === 'all') return 'all';
  if (!/^-?\d+$/.test(text)) throw new NsnetError('INVALID_VALUE', `invalid --tail "${text}": expected a number of lines or "all"`, { hint: 'e.g. --tail 20' });
  const n = Number(text);
  return n < 0 ? 'all' : n;
}

export interface LogSelection {
  since?: string | undefined;
  until?: string | undefined;
  tail?: number | 'all' | undefined;
}

/**
 * The lines docker logs prints, in its order of work: the last --tail lines of the file, then
 * those at or after --since and at or before --until. A line without a time (plain text from
 * before the monitor) passes the time filters.
 */
export function selectLog(lines: readonly LogLine[], sel: LogSelection): LogLine[] {
  const tail = sel.tail ?? 'all';
  const last = tail === 'all' ? lines : tail === 0 ? [] : lines.slice(-tail);
  return last.filter((l) => l.time === undefined || ((sel.since === undefined || l.time >= sel.since) && (sel.until === undefined || l.time <= sel.until)));
}

/** A line as docker logs prints it: with -t, its time and a space first. */
export function renderLogLine(line: LogLine, timestamps: boolean): string {
  return timestamps && line.time !== undefined ? `${line.time} ${line.text}` : line.text;
}
