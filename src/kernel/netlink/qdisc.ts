/**
 * Traffic control requests: the RTM_NEWQDISC / RTM_DELQDISC messages `tc qdisc add|del` sends,
 * for the two qdiscs an impairment is made of (core/netem.ts qdiscParts): netem and tbf.
 *
 * Layouts (include/uapi/linux/pkt_sched.h, tc/q_netem.c, tc/q_tbf.c; checked byte for byte
 * against what tc 6.1 sends, test/unit/netlink-qdisc.test.ts):
 *   tcmsg      { u8 family; u8 pad; u16 pad; s32 ifindex; u32 handle; u32 parent; u32 info }
 *   netem      TCA_OPTIONS = struct tc_netem_qopt { u32 latency, limit, loss, gap, duplicate,
 *              jitter } (times in psched ticks, probabilities scaled to 0..2^32-1) followed by
 *              plain attributes: TCA_NETEM_REORDER / CORRUPT { u32 probability, correlation }
 *              (tc sends them only when given; nsnet always, see netemOptions).
 *              Not a nested attribute: the kernel reads the struct, then attributes after it.
 *   tbf        TCA_OPTIONS nested { TCA_TBF_PARMS struct tc_tbf_qopt { tc_ratespec rate, peakrate;
 *              u32 limit, buffer, mtu }, TCA_TBF_BURST u32, TCA_TBF_RATE64 u64 when the rate
 *              passes 2^32-1 bytes/s }. With linklayer ethernet in the ratespec the kernel needs
 *              no rate table (TCA_TBF_RTAB), which tc still sends for old kernels.
 */
import fs from 'node:fs';
import { normalizeNetem, tbfParams, type Netem, type QdiscPart } from '../../core/netem.js';
import { MessageBuilder } from './message.js';
import { parseAttrs } from './parse.js';

export const RTM_NEWQDISC = 36;
export const RTM_DELQDISC = 37;
export const RTM_GETQDISC = 38;
export const NLM_F_REPLACE = 0x100;

export const TCA_KIND = 1;
export const TCA_OPTIONS = 2;

export const TC_H_ROOT = 0xffffffff;
const TCMSG_LEN = 20;

// enum { TCA_NETEM_UNSPEC, TCA_NETEM_CORR, TCA_NETEM_DELAY_DIST, TCA_NETEM_REORDER, TCA_NETEM_CORRUPT, ... }
const TCA_NETEM_REORDER = 3;
const TCA_NETEM_CORRUPT = 4;
const NETEM_QOPT_LEN = 24;
/** tc's default queue: 1000 packets. */
const NETEM_LIMIT = 1000;

// enum { TCA_TBF_UNSPEC, TCA_TBF_PARMS, TCA_TBF_RTAB, TCA_TBF_PTAB, TCA_TBF_RATE64, TCA_TBF_PRATE64, TCA_TBF_BURST }
const TCA_TBF_PARMS = 1;
const TCA_TBF_RATE64 = 4;
const TCA_TBF_BURST = 6;
const TC_LINKLAYER_ETHERNET = 1;
const TBF_QOPT_LEN = 36;

/**
 * The kernel's packet scheduler clock, as tc reads it from /proc/net/psched (tc/tc_core.c
 * tc_core_init): netem's times are in its ticks. On every kernel since 2.6.x with high-resolution
 * timers a tick is 64 ns (15.625 ticks per microsecond), but tc reads it, so nsnet does too.
 */
export interface PschedClock {
  tickInUsec: number;
}

export function parsePsched(text: string): PschedClock {
  const [t2us = 0, us2t = 1, clockRes = 1e6] = text.trim().split(/\s+/).map((h) => parseInt(h, 16));
  // tc's compatibility rule: a nanosecond clock advertises a multiplier of 1000 that really is 1.
  const ticksPerUs = clockRes === 1e9 ? us2t : t2us;
  return { tickInUsec: (ticksPerUs / us2t) * (clockRes / 1e6) };
}

let clock: PschedClock | undefined;
export function pschedClock(): PschedClock {
  clock ??= parsePsched(fs.readFileSync('/proc/net/psched', 'utf8'));
  return clock;
}

const ticks = (us: number, c: PschedClock): number => Math.min(Math.round(us * c.tickInUsec), 0xffffffff);
/** A percentage as netem's u32 probability: tc's rint(percent / 100 * UINT32_MAX). */
const probability = (pct: number | undefined): number => Math.round(((pct ?? 0) / 100) * 0xffffffff);

/** struct tcmsg. */
export function tcmsgBytes(m: { ifindex: number; handle: number; parent: number }): Buffer {
  const b = Buffer.alloc(TCMSG_LEN);
  b.writeInt32LE(m.ifindex, 4);
  b.writeUInt32LE(m.handle >>> 0, 8);
  b.writeUInt32LE(m.parent >>> 0, 12);
  return b;
}

/** TCA_OPTIONS of netem: the qopt struct, then REORDER and CORRUPT. */
export function netemOptions(n: Netem, c: PschedClock): Buffer {
  const x = normalizeNetem(n);
  const qopt = Buffer.alloc(NETEM_QOPT_LEN);
  qopt.writeUInt32LE(ticks(x.delayUs ?? 0, c), 0);
  qopt.writeUInt32LE(NETEM_LIMIT, 4);
  qopt.writeUInt32LE(probability(x.lossPct), 8);
  // Reordering in netem means "every gap-th packet goes at once, the others are delayed";
  // tc sets gap 1 with a reorder probability, so each packet is sent at once with that probability.
  qopt.writeUInt32LE(x.reorderPct !== undefined ? 1 : 0, 12);
  qopt.writeUInt32LE(probability(x.duplicatePct), 16);
  qopt.writeUInt32LE(ticks(x.jitterUs ?? 0, c), 20);
  const parts: Buffer[] = [qopt];
  const pair = (type: number, pct: number): Buffer => {
    const a = Buffer.alloc(12);
    a.writeUInt16LE(12, 0);
    a.writeUInt16LE(type, 2);
    a.writeUInt32LE(probability(pct), 4);
    return a;
  };
  // Always, zero when not asked for: a change in place keeps what a request leaves out (tc sends
  // them only when given, so its `tc qdisc change` keeps an old reorder probability).
  parts.push(pair(TCA_NETEM_REORDER, x.reorderPct ?? 0), pair(TCA_NETEM_CORRUPT, x.corruptPct ?? 0));
  return Buffer.concat(parts);
}

/** TCA_OPTIONS of tbf, written into the builder (a nested attribute). */
function tbfOptions(msg: MessageBuilder, rateBit: number): void {
  const { burstBytes, limitBytes } = tbfParams(rateBit);
  const bytesPerSec = Math.round(rateBit / 8);
  const qopt = Buffer.alloc(TBF_QOPT_LEN);
  // struct tc_ratespec { u8 cell_log; u8 linklayer; u16 overhead; s16 cell_align; u16 mpu; u32 rate; }
  qopt.writeUInt8(TC_LINKLAYER_ETHERNET, 1);
  qopt.writeInt16LE(-1, 4); // tc's cell_align
  qopt.writeUInt32LE(Math.min(bytesPerSec, 0xffffffff), 8);
  // peakrate (12..23) stays zero: no peak rate
  qopt.writeUInt32LE(limitBytes, 24);
  // buffer (28) and mtu (32) in ticks: the kernel derives the buffer from TCA_TBF_BURST instead.
  msg.begin(TCA_OPTIONS).attr(TCA_TBF_PARMS, qopt);
  if (bytesPerSec > 0xffffffff) {
    const r = Buffer.alloc(8);
    r.writeBigUInt64LE(BigInt(bytesPerSec));
    msg.attr(TCA_TBF_RATE64, r);
  }
  msg.u32(TCA_TBF_BURST, burstBytes).end();
}

/** tc's `1:` / `1:1` / `10:` as a 32-bit handle (major in the high 16 bits). */
export function tcHandle(text: string): number {
  const [major = '0', minor = '0'] = text.split(':');
  return ((parseInt(major, 16) << 16) | parseInt(minor === '' ? '0' : minor, 16)) >>> 0;
}

/** RTM_NEWQDISC for one part of an impairment (NLM_F_CREATE | NLM_F_EXCL: the caller cleared the root first). */
export function addQdiscMessage(flags: number, ifindex: number, part: QdiscPart, n: Netem, c: PschedClock): MessageBuilder {
  const parent = part.parent === 'root' ? TC_H_ROOT : tcHandle(part.parent);
  const handle = part.handle === undefined ? 0 : tcHandle(part.handle);
  const msg = new MessageBuilder(RTM_NEWQDISC, flags).raw(tcmsgBytes({ ifindex, handle, parent })).str(TCA_KIND, part.kind);
  if (part.kind === 'netem') msg.attr(TCA_OPTIONS, netemOptions(n, c));
  else tbfOptions(msg, normalizeNetem(n).rateBit ?? 0);
  return msg;
}

/** RTM_DELQDISC of the root qdisc: the interface goes back to its default (noqueue on a veth). */
export function delRootQdiscMessage(flags: number, ifindex: number): MessageBuilder {
  return new MessageBuilder(RTM_DELQDISC, flags).raw(tcmsgBytes({ ifindex, handle: 0, parent: TC_H_ROOT }));
}

// -------------------------------------------------------------------------------------------------
// reading back (system check)

/** One qdisc of a dump: its link, handle, parent, kind and TCA_OPTIONS. */
export interface QdiscEntry {
  ifindex: number;
  handle: number;
  parent: number;
  kind: string;
  options: Buffer | undefined;
}

/** A RTM_NEWQDISC message of a dump (after the nlmsghdr). */
export function parseQdisc(payload: Buffer): QdiscEntry {
  const attrs = parseAttrs(payload, TCMSG_LEN);
  const kind = attrs.get(TCA_KIND);
  return {
    ifindex: payload.readInt32LE(4),
    handle: payload.readUInt32LE(8),
    parent: payload.readUInt32LE(12),
    kind: kind === undefined ? '' : kind.toString('utf8').replace(/\0.*$/s, ''),
    options: attrs.get(TCA_OPTIONS),
  };
}

/** RTM_GETQDISC dump of every qdisc in the socket's namespace. */
export function dumpQdiscsMessage(flags: number): MessageBuilder {
  return new MessageBuilder(RTM_GETQDISC, flags).raw(tcmsgBytes({ ifindex: 0, handle: 0, parent: 0 }));
}

/** A probability back to percent, to the millionth (what a user can write is far coarser). */
const percent = (p: number): number => Math.round((p / 0xffffffff) * 100 * 1e6) / 1e6;

/**
 * The impairment a link's qdiscs make, read back in nsnet's terms (core/netem.ts Netem), and the
 * kinds they are (root first): `{kinds: ['tbf', 'netem'], netem: {...}}`; no kinds for the
 * default. A root qdisc nsnet does not make (fq_codel, htb) is named in `kinds` and adds nothing.
 */
export function impairmentOf(qdiscs: readonly QdiscEntry[], ifindex: number, c: PschedClock): { kinds: string[]; netem: Netem } {
  const own = qdiscs.filter((q) => q.ifindex === ifindex);
  const root = own.find((q) => q.parent === TC_H_ROOT && q.handle !== 0);
  if (root === undefined) return { kinds: [], netem: {} };
  const netem: Netem = {};
  const kinds = [root.kind];
  const readNetem = (q: QdiscEntry): void => {
    if (q.options === undefined || q.options.length < NETEM_QOPT_LEN) return;
    const o = q.options;
    const us = (ticks: number): number => Math.round(ticks / c.tickInUsec);
    Object.assign(netem, { delayUs: us(o.readUInt32LE(0)), lossPct: percent(o.readUInt32LE(8)), duplicatePct: percent(o.readUInt32LE(16)), jitterUs: us(o.readUInt32LE(20)) });
    const attrs = parseAttrs(o, NETEM_QOPT_LEN);
    const reorder = attrs.get(TCA_NETEM_REORDER);
    const corrupt = attrs.get(TCA_NETEM_CORRUPT);
    if (reorder !== undefined && o.readUInt32LE(12) !== 0) netem.reorderPct = percent(reorder.readUInt32LE(0));
    if (corrupt !== undefined) netem.corruptPct = percent(corrupt.readUInt32LE(0));
  };
  if (root.kind === 'netem') readNetem(root);
  if (root.kind === 'tbf' && root.options !== undefined) {
    const attrs = parseAttrs(root.options);
    const parms = attrs.get(TCA_TBF_PARMS);
    const rate64 = attrs.get(TCA_TBF_RATE64);
    const bytes = rate64 !== undefined ? Number(rate64.readBigUInt64LE(0)) : parms === undefined ? 0 : parms.readUInt32LE(8);
    if (bytes > 0) netem.rateBit = bytes * 8;
    const child = own.find((q) => q.parent === ((root.handle | 1) >>> 0) && q.kind === 'netem');
    if (child !== undefined) {
      kinds.push('netem');
      readNetem(child);
    }
  }
  return { kinds, netem: normalizeNetem(netem) };
}
