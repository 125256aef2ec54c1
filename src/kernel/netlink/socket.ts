/**
 * A synchronous NETLINK_ROUTE socket. The socket is bound to the network namespace of the thread
 * that created it, for its whole life, no matter which namespace the thread is in later — that is
 * what lets one process hold sockets for many namespaces at once.
 *
 * Protocol: every request carries a sequence number; the kernel answers
 *  - a change with NLM_F_ACK: one NLMSG_ERROR whose error field is 0 (success) or -errno;
 *  - a dump (NLM_F_DUMP): datagrams of NLM_F_MULTI messages ending with NLMSG_DONE;
 *  - a single GET: one data message (or NLMSG_ERROR with -errno).
 * rtnetlink handles requests synchronously inside sendmsg(), so the reply is already queued when
 * send returns and recv does not really block.
 */
import { KernelError } from '../../core/errors.js';
import * as libc from '../libc.js';
import {
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  NETLINK_ROUTE,
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_MULTI,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  NLMSGERR_ATTR_MSG,
  SOL_NETLINK,
} from './constants.js';
import type { MessageBuilder } from './message.js';
import { parseAttrs, splitMessages, type NetlinkMessage } from './parse.js';

/**
 * The kernel sizes dump datagrams after the reader's buffer but caps them at 32 KiB, so 64 KiB is
 * always enough; MSG_TRUNC still reports a truncated datagram should that ever change.
 */
const RECV_BUFFER = 64 * 1024;
const RECV_TIMEOUT_S = 10;

export interface RequestContext {
  /** What was being done, e.g. "create bridge br0". */
  what: string;
  /**
   * The equivalent by-hand command, e.g. "ip link add br0 type bridge". A function is called only
   * when the request failed (it may look up interface names for the message).
   */
  command: string | (() => string);
}

function commandOf(ctx: RequestContext): string {
  if (typeof ctx.command === 'string') return ctx.command;
  try {
    return ctx.command();
  } catch {
    return '';
  }
}

export class NetlinkSocket {
  readonly fd: number;
  private seq: number;
  private readonly buf = Buffer.alloc(RECV_BUFFER);
  private closed = false;

  constructor() {
    const fd = libc.socket(libc.AF_NETLINK, libc.SOCK_RAW | libc.SOCK_CLOEXEC, NETLINK_ROUTE);
    try {
      // sockaddr_nl { u16 family; u16 pad; u32 pid (0 = kernel assigns); u32 groups (none) }
      const sa = Buffer.alloc(12);
      sa.writeUInt16LE(libc.AF_NETLINK, 0);
      libc.bind(fd, sa);
      // Best effort: shorter error replies, and the kernel's explanation text with them.
      try {
        libc.setsockoptInt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
        libc.setsockoptInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
      } catch {
        /* old kernels: plain errors */
      }
      // A safety net: a request the kernel never answers becomes EAGAIN instead of a hang.
      const tv = Buffer.alloc(16);
      tv.writeBigInt64LE(BigInt(RECV_TIMEOUT_S), 0);
      libc.setsockopt(fd, libc.SOL_SOCKET, libc.SO_RCVTIMEO, tv);
    } catch (err) {
      libc.close(fd);
      throw err;
    }
    this.fd = fd;
    this.seq = Math.floor(Date.now() / 1000) >>> 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc.close(this.fd);
  }

  /**
   * Send one request and collect its replies. Returns the data messages (empty for a plain ACK).
   * A negative error in NLMSG_ERROR or NLMSG_DONE becomes a KernelError carrying ctx.command.
   */
  request(msg: MessageBuilder, ctx: RequestContext): NetlinkMessage[] {
    if (this.closed) throw new KernelError(`${ctx.what}: netlink socket closed`, libc.EBADF, 'EBADF', commandOf(ctx));
    this.seq = (this.seq + 1) >>> 0;
    const seq = this.seq;
    const isDump = (msg.flags & NLM_F_DUMP) === NLM_F_DUMP;
    const wantsAck = (msg.flags & NLM_F_ACK) !== 0;
    const kernel = Buffer.alloc(12);
    kernel.writeUInt16LE(libc.AF_NETLINK, 0);
    libc.sendto(this.fd, msg.finish(seq), 0, kernel);

    const results: NetlinkMessage[] = [];
    for (;;) {
      let n: number;
      try {
        n = libc.recv(this.fd, this.buf, libc.MSG_TRUNC);
      } catch (err) {
        if (err instanceof KernelError && err.errno === libc.EAGAIN) {
          throw new KernelError(`${ctx.what}: no reply from the kernel`, err.errno, err.errnoName, commandOf(ctx));
        }
        throw err;
      }
      if (n > this.buf.length) {
        throw new KernelError(`${ctx.what}: netlink reply of ${n} bytes truncated`, libc.ENOBUFS, 'ENOBUFS', commandOf(ctx));
      }
      for (const m of splitMessages(this.buf.subarray(0, n))) {
        if (m.seq !== seq) continue; // a late reply to an earlier, abandoned request
        switch (m.type) {
          case NLMSG_NOOP:
            continue;
          case NLMSG_ERROR: {
            const error = m.payload.readInt32LE(0);
            if (error === 0) return results; // the ACK
            throw errorFrom(m, -error, ctx);
          }
          case NLMSG_DONE: {
            const error = m.payload.length >= 4 ? m.payload.readInt32LE(0) : 0;
            if (error < 0) throw errorFrom(m, -error, ctx);
            if ((m.flags & NLM_F_DUMP_INTR) !== 0) {
              // the table changed while being dumped; the caller may retry
              throw new KernelError(`${ctx.what}: dump interrupted`, 4, 'EINTR', commandOf(ctx));
            }
            return results;
          }
          case NLMSG_OVERRUN:
            throw new KernelError(`${ctx.what}: netlink overrun`, libc.ENOBUFS, 'ENOBUFS', commandOf(ctx));
          default:
            // m.payload points into the receive buffer, which the next recv overwrites
            results.push({ ...m, payload: Buffer.from(m.payload) });
            if (!isDump && !wantsAck && (m.flags & NLM_F_MULTI) === 0) return results;
        }
      }
    }
  }
}

/** NLMSG_ERROR payload: s32 error; struct nlmsghdr (whole request unless capped); TLVs if ACK_TLVS. */
function errorFrom(m: NetlinkMessage, errno: number, ctx: RequestContext): KernelError {
  let text: string | undefined;
  if ((m.flags & NLM_F_ACK_TLVS) !== 0 && m.payload.length >= 4 + NLMSG_HDRLEN) {
    const origLen = m.payload.readUInt32LE(4);
    const start = 4 + ((m.flags & NLM_F_CAPPED) !== 0 ? NLMSG_HDRLEN : origLen);
    const msg = parseAttrs(m.payload, start).get(NLMSGERR_ATTR_MSG);
    if (msg !== undefined) text = msg.toString('utf8').replace(/\0.*$/s, '');
  }
  const what = text === undefined || text === '' ? ctx.what : `${ctx.what} (${text})`;
  return new KernelError(what, errno, libc.errnoName(errno), commandOf(ctx));
}
