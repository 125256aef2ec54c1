/**
 * Link impairments (`netem set --delay 40ms --loss 2% --rate 10mbit`, a lab's `netem:`): the
 * values parsed once, at the edge, with tc's units, into one plain record the rest of nsnet
 * passes around (records, steps, rendering), and back into tc's words for `--dry-run` and
 * `netem show`. Pure: no kernel, no store.
 */
import { invalid } from './errors.js';

/**
 * An interface's impairment. Times in microseconds, the rate in bits per second, probabilities
 * in percent (0-100). An absent field is no impairment of that kind; an empty record is none.
 */
export interface Netem {
  delayUs?: number | undefined;
  jitterUs?: number | undefined;
  lossPct?: number | undefined;
  rateBit?: number | undefined;
  duplicatePct?: number | undefined;
  corruptPct?: number | undefined;
  reorderPct?: number | undefined;
}

/** The impairment as the user gives it: tc's words (`40ms`, `2%`, `10mbit`), any subset. */
export interface NetemInput {
  delay?: string | undefined;
  jitter?: string | undefined;
  loss?: string | undefined;
  rate?: string | undefined;
  duplicate?: string | undefined;
  corrupt?: string | undefined;
  reorder?: string | undefined;
}

export const NETEM_FIELDS = ['delay', 'jitter', 'loss', 'rate', 'duplicate', 'corrupt', 'reorder'] as const;

/** A delay past a minute is a typo (40s for 40ms), not an emulated link; netem's queue would hold every packet that long. */
export const MAX_DELAY_US = 60_000_000;
/** tbf's rate is a 64-bit byte count, but nothing nsnet makes goes faster than this (a veth tops out far below). */
const MAX_RATE_BIT = 100e9;
/** Below one kilobit per second a single full-size frame takes minutes. */
const MIN_RATE_BIT = 1000;

/** tc's time units (tc/tc_util.c get_time): a bare number is microseconds. */
const TIME_UNITS: Readonly<Record<string, number>> = { '': 1, us: 1, usec: 1, usecs: 1, ms: 1000, msec: 1000, msecs: 1000, s: 1e6, sec: 1e6, secs: 1e6 };

/**
 * tc's rate units (tc/tc_util.c get_rate): bits, or bytes for the `bps` forms (`10mbps` is
 * 80 Mbit/s, as tc reads it); a bare number is bits per second. Case does not matter.
 */
const RATE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  bit: 1,
  kbit: 1e3,
  mbit: 1e6,
  gbit: 1e9,
  kibit: 1024,
  mibit: 1024 ** 2,
  gibit: 1024 ** 3,
  bps: 8,
  kbps: 8e3,
  mbps: 8e6,
  gbps: 8e9,
  kibps: 8 * 1024,
  mibps: 8 * 1024 ** 2,
  gibps: 8 * 1024 ** 3,
};

const NUMBER = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z%]*)$/;

function split(text: string, what: string, expected: string): { value: number; unit: string } {
  const m = NUMBER.exec(String(text).trim());
  if (m === null) throw invalid(`invalid ${what} ${JSON.stringify(text)}: expected ${expected}`);
  return { value: Number(m[1]), unit: (m[2] ?? '').toLowerCase() };
}

/** `40ms`, `1.5s`, `500us` → microseconds; 0 to 60 s. */
export function parseTime(text: string, what: string): number {
  const expected = 'a time such as 40ms, 1.5s or 500us (0 to 60s)';
  const { value, unit } = split(text, what, expected);
  const scale = TIME_UNITS[unit];
  if (scale === undefined) throw invalid(`invalid ${what} ${JSON.stringify(text)}: unknown unit "${unit}": expected ${expected}`);
  const us = Math.round(value * scale);
  if (us > MAX_DELAY_US) throw invalid(`invalid ${what} ${JSON.stringify(text)}: more than 60s`, 'give a time from 0 to 60s, e.g. 40ms');
  return us;
}

/** `2%`, `0.1%` (or a bare `2`, as tc takes it) → percent; 0 to 100. */
export function parsePercent(text: string, what: string): number {
  const expected = 'a percentage from 0% to 100%, such as 2% or 0.1%';
  const { value, unit } = split(text, what, expected);
  if (unit !== '' && unit !== '%') throw invalid(`invalid ${what} ${JSON.stringify(text)}: expected ${expected}`);
  if (value > 100) throw invalid(`invalid ${what} ${JSON.stringify(text)}: more than 100%`, `give ${expected}`);
  return value;
}

/** `10mbit`, `512kbit`, `1gbit`, `2mbps` (bytes) → bits per second; 1kbit to 100gbit. */
export function parseRate(text: string, what = 'rate'): number {
  const expected = 'a rate such as 10mbit, 512kbit or 1gbit (bit, kbit, mbit, gbit; kbps, mbps, gbps are bytes per second, as tc reads them)';
  const { value, unit } = split(text, what, expected);
  const scale = RATE_UNITS[unit];
  if (scale === undefined) throw invalid(`invalid ${what} ${JSON.stringify(text)}: unknown unit "${unit}": expected ${expected}`);
  const bit = Math.round(value * scale);
  if (bit < MIN_RATE_BIT || bit > MAX_RATE_BIT) throw invalid(`invalid ${what} ${JSON.stringify(text)}: out of range`, 'give a rate from 1kbit to 100gbit');
  return bit;
}

/**
 * Parse and check a whole impairment: each value as above, then what only makes sense together
 * (jitter varies a delay, so it needs one; reordering sends some packets at once while the others
 * wait for the delay, so it needs one too — tc refuses both alike).
 */
export function parseNetem(input: NetemInput): Netem {
  const out: Netem = {};
  if (input.delay !== undefined) out.delayUs = parseTime(input.delay, 'delay');
  if (input.jitter !== undefined) out.jitterUs = parseTime(input.jitter, 'jitter');
  if (input.loss !== undefined) out.lossPct = parsePercent(input.loss, 'loss');
  if (input.rate !== undefined) out.rateBit = parseRate(input.rate);
  if (input.duplicate !== undefined) out.duplicatePct = parsePercent(input.duplicate, 'duplicate');
  if (input.corrupt !== undefined) out.corruptPct = parsePercent(input.corrupt, 'corrupt');
  if (input.reorder !== undefined) out.reorderPct = parsePercent(input.reorder, 'reorder');
  const clean = normalizeNetem(out);
  if ((clean.jitterUs ?? 0) > 0 && (clean.delayUs ?? 0) === 0) {
    throw invalid(`invalid jitter ${JSON.stringify(input.jitter)}: jitter varies a delay, and no delay is given`, 'give --delay too, e.g. --delay 40ms --jitter 5ms');
  }
  if ((clean.reorderPct ?? 0) > 0 && (clean.delayUs ?? 0) === 0) {
    throw invalid(`invalid reorder ${JSON.stringify(input.reorder)}: reordering sends some packets ahead of delayed ones, and no delay is given`, 'give --delay too, e.g. --delay 10ms --reorder 25%');
  }
  return clean;
}

/** The same impairment without its zero fields (`--loss 0%` is no loss): equal impairments compare equal. */
export function normalizeNetem(n: Netem): Netem {
  const out: Netem = {};
  for (const key of ['delayUs', 'jitterUs', 'lossPct', 'rateBit', 'duplicatePct', 'corruptPct', 'reorderPct'] as const) {
    const v = n[key];
    if (v !== undefined && v !== 0) out[key] = v;
  }
  return out;
}

export const isNoImpairment = (n: Netem | undefined): boolean => n === undefined || Object.keys(normalizeNetem(n)).length === 0;

export function sameNetem(a: Netem | undefined, b: Netem | undefined): boolean {
  const x = normalizeNetem(a ?? {});
  const y = normalizeNetem(b ?? {});
  const keys = new Set([...Object.keys(x), ...Object.keys(y)]) as Set<keyof Netem>;
  return [...keys].every((k) => x[k] === y[k]);
}

/** Whether the impairment needs netem itself (anything but a rate, which tbf gives). */
export const needsNetemQdisc = (n: Netem): boolean =>
  [n.delayUs, n.lossPct, n.duplicatePct, n.corruptPct, n.reorderPct].some((v) => v !== undefined && v > 0);

// -------------------------------------------------------------------------------------------------
// back into tc's words

/** 40000 → `40ms`, 1500 → `1500us`, 2000000 → `2s`. */
export function formatTime(us: number): string {
  if (us !== 0 && us % 1_000_000 === 0) return `${us / 1_000_000}s`;
  if (us % 1000 === 0) return `${us / 1000}ms`;
  return `${us}us`;
}

/** 10_000_000 → `10mbit`. */
export function formatRate(bit: number): string {
  if (bit % 1e9 === 0) return `${bit / 1e9}gbit`;
  if (bit % 1e6 === 0) return `${bit / 1e6}mbit`;
  if (bit % 1e3 === 0) return `${bit / 1e3}kbit`;
  return `${bit}bit`;
}

export const formatPercent = (pct: number): string => `${pct}%`;

/** The impairment in tc's words, field by field (`netem show`, inspect, graph); absent fields are absent. */
export function netemWords(n: Netem): Partial<Record<(typeof NETEM_FIELDS)[number], string>> {
  const c = normalizeNetem(n);
  const out: Partial<Record<(typeof NETEM_FIELDS)[number], string>> = {};
  if (c.delayUs !== undefined) out.delay = formatTime(c.delayUs);
  if (c.jitterUs !== undefined) out.jitter = formatTime(c.jitterUs);
  if (c.lossPct !== undefined) out.loss = formatPercent(c.lossPct);
  if (c.rateBit !== undefined) out.rate = formatRate(c.rateBit);
  if (c.duplicatePct !== undefined) out.duplicate = formatPercent(c.duplicatePct);
  if (c.corruptPct !== undefined) out.corrupt = formatPercent(c.corruptPct);
  if (c.reorderPct !== undefined) out.reorder = formatPercent(c.reorderPct);
  return out;
}

/** One line: `delay 40ms 5ms loss 2% rate 10mbit` (graph labels, ps-like summaries). */
export function netemSummary(n: Netem): string {
  const w = netemWords(n);
  const parts: string[] = [];
  if (w.delay !== undefined) parts.push(`delay ${w.delay}${w.jitter === undefined ? '' : ` ${w.jitter}`}`);
  for (const k of ['loss', 'rate', 'duplicate', 'corrupt', 'reorder'] as const) if (w[k] !== undefined) parts.push(`${k} ${w[k]}`);
  return parts.join(' ');
}

// -------------------------------------------------------------------------------------------------
// the qdiscs that carry an impairment

/**
 * tbf's bucket and queue for a rate, in bytes, as the kernel runner sends them and `--dry-run`
 * prints them. The bucket holds 10 ms of traffic, at least 16 KiB: tbf drops (or splits) any
 * packet bigger than the bucket, and a jumbo frame or a GSO segment must fit. The queue holds
 * 50 ms more on top (tc's `latency 50ms`), so a TCP sender sees a link, not a wall of drops.
 */
export function tbfParams(rateBit: number): { burstBytes: number; limitBytes: number } {
  const bytesPerSec = rateBit / 8;
  const burstBytes = Math.max(Math.ceil(bytesPerSec / 100), 16 * 1024);
  return { burstBytes, limitBytes: Math.ceil(bytesPerSec / 20) + burstBytes };
}

/**
 * The qdiscs an impairment is made of, root first. netem for delay, loss, duplication,
 * corruption and reordering; tbf for a rate. A rate is tbf's rather than netem's own `rate`
 * because tbf is in kernels without netem (CONFIG_NET_SCH_NETEM is often left out of small
 * kernels; CONFIG_NET_SCH_TBF rarely), so a rate limit works there too. With both, tbf is the
 * root (handle 1:) and netem its child (parent 1:1): packets are paced, then delayed.
 */
export interface QdiscPart {
  kind: 'netem' | 'tbf';
  /** 'root', or the parent class as tc writes it (`1:1`). */
  parent: 'root' | '1:1';
  /** tc's handle (`1:`), or undefined for the kernel's choice. */
  handle: '1:' | '10:' | undefined;
}

export function qdiscParts(n: Netem): QdiscPart[] {
  const c = normalizeNetem(n);
  const netem = needsNetemQdisc(c);
  if (c.rateBit === undefined) return netem ? [{ kind: 'netem', parent: 'root', handle: undefined }] : [];
  const tbf: QdiscPart = { kind: 'tbf', parent: 'root', handle: '1:' };
  return netem ? [tbf, { kind: 'netem', parent: '1:1', handle: '10:' }] : [tbf];
}

/** tc's arguments after the kind: `delay 40ms 5ms loss 2%`, `rate 10mbit burst 16384 limit 78884`. */
export function qdiscArgs(part: QdiscPart, n: Netem): string {
  const c = normalizeNetem(n);
  if (part.kind === 'tbf') {
    const { burstBytes, limitBytes } = tbfParams(c.rateBit ?? 0);
    return `rate ${formatRate(c.rateBit ?? 0)} burst ${burstBytes} limit ${limitBytes}`;
  }
  const w = netemWords(c);
  const parts: string[] = [];
  if (w.delay !== undefined) parts.push(`delay ${w.delay}${w.jitter === undefined ? '' : ` ${w.jitter}`}`);
  for (const k of ['loss', 'duplicate', 'corrupt', 'reorder'] as const) if (w[k] !== undefined) parts.push(`${k} ${w[k]}`);
  return parts.join(' ');
}

/**
 * Whether an impairment read back from the kernel is the recorded one, as far as the kernel can
 * hold it: times within a microsecond (ticks of 64 ns), probabilities within a millionth of a
 * percent (2^32 steps), a rate to the byte per second (tbf counts bytes).
 */
export function sameAsKernel(recorded: Netem, kernel: Netem): boolean {
  const r = normalizeNetem(recorded);
  const k = normalizeNetem(kernel);
  const near = (a: number | undefined, b: number | undefined, tolerance: number): boolean => Math.abs((a ?? 0) - (b ?? 0)) <= tolerance;
  return (
    near(r.delayUs, k.delayUs, 1) &&
    near(r.jitterUs, k.jitterUs, 1) &&
    near(r.lossPct, k.lossPct, 1e-5) &&
    near(r.duplicatePct, k.duplicatePct, 1e-5) &&
    near(r.corruptPct, k.corruptPct, 1e-5) &&
    near(r.reorderPct, k.reorderPct, 1e-5) &&
    Math.round((r.rateBit ?? 0) / 8) === Math.round((k.rateBit ?? 0) / 8)
  );
}

/** Whether two impairments are made of the same qdiscs (then the second is a change of the first's parameters). */
export function sameQdiscs(a: Netem | undefined, b: Netem | undefined): boolean {
  const x = qdiscParts(a ?? {}).map((p) => p.kind);
  const y = qdiscParts(b ?? {}).map((p) => p.kind);
  return x.length > 0 && x.join() === y.join();
}

/**
 * The tc commands that make `netem` an interface's impairment when it has `previous` (after
 * `tc qdisc`, without the namespace): a change of the parameters in place when both are made of
 * the same qdiscs (no moment without an impairment, no RCU grace period for a graft); else the
 * old root deleted (when there was one) and the new qdiscs added.
 */
export function impairmentCommands(dev: string, netem: Netem, previous: Netem | undefined): string[] {
  const verb = sameQdiscs(previous, netem) ? 'change' : 'add';
  const lines = verb === 'add' && !isNoImpairment(previous) ? [`del dev ${dev} root`] : [];
  for (const part of qdiscParts(netem)) lines.push(qdiscCommand(verb, dev, part, netem));
  return lines;
}

/** `add dev eth0 root handle 1: tbf rate 10mbit ...` (after `tc qdisc`). */
export function qdiscCommand(verb: 'add' | 'change', dev: string, part: QdiscPart, netem: Netem): string {
  const where = part.parent === 'root' ? 'root' : `parent ${part.parent}`;
  return `${verb} dev ${dev} ${where}${part.handle === undefined ? '' : ` handle ${part.handle}`} ${part.kind} ${qdiscArgs(part, netem)}`;
}
