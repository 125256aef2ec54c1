/**
 * Building netlink requests. A request is an nlmsghdr, a fixed family header (ifinfomsg, ifaddrmsg,
 * rtmsg) and a list of rtattrs. Every rtattr is {u16 len, u16 type, payload} padded to 4 bytes; the
 * len counts header + payload but not the padding. Nested attributes are an rtattr whose payload is
 * more rtattrs (its len covers all of them). Everything is host byte order except addresses.
 */
import { IFADDRMSG_LEN, IFINFOMSG_LEN, NLA_F_NESTED, NLMSG_HDRLEN, RTMSG_LEN } from './constants.js';

export const align4 = (n: number): number => (n + 3) & ~3;

export class MessageBuilder {
  private buf: Buffer;
  private len: number;
  private readonly nests: number[] = [];

  constructor(
    readonly type: number,
    readonly flags: number,
  ) {
    this.buf = Buffer.alloc(256);
    this.len = NLMSG_HDRLEN;
  }

  private reserve(n: number): number {
    const need = this.len + align4(n);
    if (need > this.buf.length) {
      const next = Buffer.alloc(Math.max(need, this.buf.length * 2));
      this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    }
    const at = this.len;
    this.len = need;
    return at;
  }

  /** struct ifinfomsg { u8 family; u8 pad; u16 type; s32 index; u32 flags; u32 change; } */
  ifinfomsg(m: { family?: number; type?: number; index?: number; flags?: number; change?: number } = {}): this {
    const at = this.reserve(IFINFOMSG_LEN);
    writeIfinfomsg(this.buf, at, m);
    return this;
  }

  /** struct ifaddrmsg { u8 family; u8 prefixlen; u8 flags; u8 scope; u32 index; } */
  ifaddrmsg(m: { family: number; prefixLen?: number; flags?: number; scope?: number; index?: number }): this {
    const at = this.reserve(IFADDRMSG_LEN);
    this.buf.writeUInt8(m.family, at);
    this.buf.writeUInt8(m.prefixLen ?? 0, at + 1);
    this.buf.writeUInt8(m.flags ?? 0, at + 2);
    this.buf.writeUInt8(m.scope ?? 0, at + 3);
    this.buf.writeUInt32LE(m.index ?? 0, at + 4);
    return this;
  }

  /** struct rtmsg { u8 family, dst_len, src_len, tos, table, protocol, scope, type; u32 flags; } */
  rtmsg(m: {
    family: number;
    dstLen?: number;
    srcLen?: number;
    tos?: number;
    table?: number;
    protocol?: number;
    scope?: number;
    type?: number;
    flags?: number;
  }): this {
    const at = this.reserve(RTMSG_LEN);
    const bytes = [m.family, m.dstLen ?? 0, m.srcLen ?? 0, m.tos ?? 0, m.table ?? 0, m.protocol ?? 0, m.scope ?? 0, m.type ?? 0];
    bytes.forEach((v, i) => this.buf.writeUInt8(v, at + i));
    this.buf.writeUInt32LE(m.flags ?? 0, at + 8);
    return this;
  }

  attr(type: number, payload: Buffer): this {
    const at = this.reserve(4 + payload.length);
    this.buf.writeUInt16LE(4 + payload.length, at);
    this.buf.writeUInt16LE(type, at + 2);
    payload.copy(this.buf, at + 4);
    return this;
  }

  u32(type: number, value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0, 0);
    return this.attr(type, b);
  }

  /** NUL-terminated string, as the kernel expects for names and kinds. */
  str(type: number, value: string): this {
    return this.attr(type, Buffer.from(`${value}\0`, 'utf8'));
  }

  /** Open a nested attribute; close it with end(). Extra fixed bytes (e.g. the veth peer's ifinfomsg) follow via raw(). */
  begin(type: number, nested = false): this {
    const at = this.reserve(4);
    this.buf.writeUInt16LE(nested ? type | NLA_F_NESTED : type, at + 2);
    this.nests.push(at);
    return this;
  }

  end(): this {
    const at = this.nests.pop();
    if (at === undefined) throw new Error('netlink builder: end() without begin()');
    this.buf.writeUInt16LE(this.len - at, at);
    return this;
  }

  /** Raw bytes inside the current nest, e.g. the peer ifinfomsg in VETH_INFO_PEER. */
  raw(bytes: Buffer): this {
    const at = this.reserve(bytes.length);
    bytes.copy(this.buf, at);
    return this;
  }

  /** Finish: fill nlmsghdr {u32 len; u16 type; u16 flags; u32 seq; u32 pid} and return the bytes. */
  finish(seq: number, pid = 0): Buffer {
    if (this.nests.length !== 0) throw new Error('netlink builder: unclosed nested attribute');
    this.buf.writeUInt32LE(this.len, 0);
    this.buf.writeUInt16LE(this.type, 4);
    this.buf.writeUInt16LE(this.flags, 6);
    this.buf.writeUInt32LE(seq >>> 0, 8);
    this.buf.writeUInt32LE(pid >>> 0, 12);
    return this.buf.subarray(0, this.len);
  }
}

export function writeIfinfomsg(
  buf: Buffer,
  at: number,
  m: { family?: number; type?: number; index?: number; flags?: number; change?: number },
): void {
  buf.writeUInt8(m.family ?? 0, at);
  buf.writeUInt8(0, at + 1);
  buf.writeUInt16LE(m.type ?? 0, at + 2);
  buf.writeInt32LE(m.index ?? 0, at + 4);
  buf.writeUInt32LE((m.flags ?? 0) >>> 0, at + 8);
  buf.writeUInt32LE((m.change ?? 0) >>> 0, at + 12);
}

export function ifinfomsgBytes(m: { family?: number; index?: number; flags?: number; change?: number } = {}): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN);
  writeIfinfomsg(b, 0, m);
  return b;
}
