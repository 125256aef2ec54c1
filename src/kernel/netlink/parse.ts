/** Parsing netlink replies into the plain objects of ../api.ts. */
import type { AddrInfo, LinkInfo, RouteInfo } from '../api.js';
import { bytesToIp, bytesToMac } from './addr.js';
import {
  AF_INET6,
  IFA_ADDRESS,
  IFA_LOCAL,
  IFADDRMSG_LEN,
  IFF_UP,
  IFINFOMSG_LEN,
  IFLA_ADDRESS,
  IFLA_IFNAME,
  IFLA_INFO_KIND,
  IFLA_BRPORT_MODE,
  IFLA_INFO_SLAVE_DATA,
  IFLA_LINKINFO,
  IFLA_MASTER,
  IFLA_MTU,
  NLA_TYPE_MASK,
  NLMSG_HDRLEN,
  RTA_DST,
  RTA_GATEWAY,
  RTA_OIF,
  RTA_TABLE,
  RTMSG_LEN,
} from './constants.js';
import { align4 } from './message.js';

export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Bytes after the nlmsghdr, up to nlmsg_len. */
  payload: Buffer;
}

/** Split one datagram into messages (a datagram can hold several, each 4-byte aligned). */
export function splitMessages(buf: Buffer): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  let at = 0;
  while (at + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(at);
    if (len < NLMSG_HDRLEN || at + len > buf.length) break;
    out.push({
      type: buf.readUInt16LE(at + 4),
      flags: buf.readUInt16LE(at + 6),
      seq: buf.readUInt32LE(at + 8),
      pid: buf.readUInt32LE(at + 12),
      payload: buf.subarray(at + NLMSG_HDRLEN, at + len),
    });
    at += align4(len);
  }
  return out;
}

/** rtattrs from `start` to the end of buf, keyed by type with the NESTED/BYTEORDER bits masked off. */
export function parseAttrs(buf: Buffer, start = 0): Map<number, Buffer> {
  const attrs = new Map<number, Buffer>();
  let at = start;
  while (at + 4 <= buf.length) {
    const len = buf.readUInt16LE(at);
    if (len < 4 || at + len > buf.length) break;
    const type = buf.readUInt16LE(at + 2) & NLA_TYPE_MASK;
    if (!attrs.has(type)) attrs.set(type, buf.subarray(at + 4, at + len));
    at += align4(len);
  }
  return attrs;
}

const cstr = (b: Buffer): string => {
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul < 0 ? b.length : nul);
};

export function parseLink(payload: Buffer): LinkInfo {
  const index = payload.readInt32LE(4);
  const flags = payload.readUInt32LE(8);
  const attrs = parseAttrs(payload, IFINFOMSG_LEN);
  const name = attrs.get(IFLA_IFNAME);
  const mtu = attrs.get(IFLA_MTU);
  const master = attrs.get(IFLA_MASTER);
  const address = attrs.get(IFLA_ADDRESS);
  const linkinfo = attrs.get(IFLA_LINKINFO);
  let kind: string | undefined;
  let hairpin: boolean | undefined;
  if (linkinfo !== undefined) {
    const info = parseAttrs(linkinfo);
    const k = info.get(IFLA_INFO_KIND);
    if (k !== undefined) kind = cstr(k);
    // A bridge port's settings come with every link dump (what `ip -d link` prints).
    const mode = info.get(IFLA_INFO_SLAVE_DATA) === undefined ? undefined : parseAttrs(info.get(IFLA_INFO_SLAVE_DATA)!).get(IFLA_BRPORT_MODE);
    if (mode !== undefined) hairpin = mode.readUInt8(0) !== 0;
  }
  return {
    index,
    name: name === undefined ? '' : cstr(name),
    kind,
    mtu: mtu === undefined ? 0 : mtu.readUInt32LE(0),
    up: (flags & IFF_UP) !== 0,
    // loopback has an all-zero 6-byte address; tunnels may have other lengths
    mac: address !== undefined && address.length === 6 ? bytesToMac(address) : undefined,
    masterIndex: master === undefined || master.readUInt32LE(0) === 0 ? undefined : master.readUInt32LE(0),
    ...(hairpin === undefined ? {} : { hairpin }),
  };
}

export function parseAddr(payload: Buffer): AddrInfo {
  const family = payload.readUInt8(0);
  const prefixLen = payload.readUInt8(1);
  const index = payload.readUInt32LE(4);
  const attrs = parseAttrs(payload, IFADDRMSG_LEN);
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links
  // (and the only one present for IPv6).
  const raw = attrs.get(IFA_LOCAL) ?? attrs.get(IFA_ADDRESS);
  return {
    index,
    family: family === AF_INET6 ? 6 : 4,
    address: raw === undefined ? '' : bytesToIp(raw),
    prefixLen,
  };
}

export interface RouteInfoRaw extends RouteInfo {
  type: number;
  protocol: number;
  scope: number;
}

export function parseRoute(payload: Buffer): RouteInfoRaw {
  const family = payload.readUInt8(0);
  const dstLen = payload.readUInt8(1);
  const rtmTable = payload.readUInt8(4);
  const protocol = payload.readUInt8(5);
  const scope = payload.readUInt8(6);
  const type = payload.readUInt8(7);
  const attrs = parseAttrs(payload, RTMSG_LEN);
  const dst = attrs.get(RTA_DST);
  const gw = attrs.get(RTA_GATEWAY);
  const oif = attrs.get(RTA_OIF);
  const table = attrs.get(RTA_TABLE);
  return {
    family: family === AF_INET6 ? 6 : 4,
    dst: dst === undefined ? undefined : bytesToIp(dst),
    dstLen,
    gateway: gw === undefined ? undefined : bytesToIp(gw),
    oif: oif === undefined ? undefined : oif.readUInt32LE(0),
    // rtm_table is 8 bits; tables > 255 are only in RTA_TABLE
    table: table === undefined ? rtmTable : table.readUInt32LE(0),
    type,
    protocol,
    scope,
  };
}
