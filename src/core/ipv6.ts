/**
 * IPv6 addresses and CIDR maths on 128-bit BigInts. ipaddr.js parses (every RFC 4291 spelling,
 * embedded IPv4 included); text out is RFC 5952's canonical form, the one `ip -6 addr` prints
 * and Docker's inspect shows, so records compare as strings.
 */
import ipaddr from 'ipaddr.js';
import { invalid } from './errors.js';

export interface Cidr6 {
  /** Network address as an unsigned 128-bit integer. */
  network: bigint;
  prefixLen: number;
  /** Canonical text, e.g. "2001:db8:30::/64". */
  text: string;
}

const BITS = 128n;

/** True for text that is an IPv6 address (no zone, no prefix). */
export function isIPv6Text(text: string): boolean {
  return typeof text === 'string' && text.includes(':') && !text.includes('%') && ipaddr.IPv6.isValid(text);
}

/** Strict IPv6 address, canonical; `what` names the value in the error ("--ip6", "gateway", ...). */
export function parseIPv6(text: string, what = 'address'): string {
  if (!isIPv6Text(text)) throw invalid(`invalid ${what} "${String(text)}": expected an IPv6 address such as 2001:db8::10`);
  return ipaddr.IPv6.parse(withHexTail(text)).toRFC5952String();
}

/**
 * A dotted IPv4 tail as its two hex groups (::1.2.3.4 → ::102:304): ipaddr.js reads any address
 * with one as IPv4-mapped (::1.2.3.4 as ::ffff:1.2.3.4), a different address.
 */
function withHexTail(text: string): string {
  const tail = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (tail === null) return text;
  const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number];
  return `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

export function ip6ToInt(text: string): bigint {
  const bytes = ipaddr.IPv6.parse(parseIPv6(text)).toByteArray();
  return bytes.reduce((n, b) => (n << 8n) | BigInt(b), 0n);
}

export function intToIp6(n: bigint): string {
  if (n < 0n || n >= 1n << BITS) throw invalid(`invalid IPv6 address integer ${n}`);
  const bytes: number[] = [];
  for (let i = 15; i >= 0; i--) bytes.push(Number((n >> BigInt(i * 8)) & 0xffn));
  return ipaddr.fromByteArray(bytes).toString();
}

const blockSize = (prefixLen: number): bigint => 1n << (BITS - BigInt(prefixLen));

export function makeCidr6(network: bigint, prefixLen: number): Cidr6 {
  return { network, prefixLen, text: `${intToIp6(network)}/${prefixLen}` };
}

/** Parse "addr/len" (0..128). Host bits set is an error, as for IPv4: it is usually a typo. */
export function parseCidr6(text: string, what = 'subnet'): Cidr6 {
  const shown = String(text);
  const bad = () => invalid(`invalid ${what} "${shown}": expected an IPv6 CIDR such as 2001:db8:30::/64`);
  if (typeof text !== 'string') throw bad();
  const m = /^([^/]+)\/(0|[1-9][0-9]{0,2})$/.exec(text);
  if (!m || !isIPv6Text(m[1]!)) throw bad();
  const prefixLen = Number(m[2]);
  if (prefixLen > 128) throw bad();
  const addr = ip6ToInt(m[1]!);
  const network = addr - (addr % blockSize(prefixLen));
  if (network !== addr) throw invalid(`invalid ${what} "${shown}": host bits set; did you mean ${makeCidr6(network, prefixLen).text}?`);
  return makeCidr6(network, prefixLen);
}

export const lastAddress6 = (c: Cidr6): bigint => c.network + blockSize(c.prefixLen) - 1n;

export function cidr6Contains(c: Cidr6, n: bigint): boolean {
  return n >= c.network && n <= lastAddress6(c);
}

export function cidr6Overlaps(a: Cidr6, b: Cidr6): boolean {
  return cidr6Contains(a, b.network) || cidr6Contains(b, a.network);
}

export function cidr6Within(inner: Cidr6, outer: Cidr6): boolean {
  return inner.prefixLen >= outer.prefixLen && cidr6Contains(outer, inner.network);
}

/** The CIDR around an address (host bits masked off), e.g. for a host route or interface address. */
export function cidr6Of(n: bigint, prefixLen: number): Cidr6 {
  return makeCidr6(n - (n % blockSize(prefixLen)), prefixLen);
}

/** The IPv6 link-local address the kernel derives from a MAC (EUI-64, RFC 4291 appendix A). */
export function linkLocalFor(mac: string): string {
  const b = mac.split(':').map((h) => parseInt(h, 16));
  const eui = [b[0]! ^ 0x02, b[1]!, b[2]!, 0xff, 0xfe, b[3]!, b[4]!, b[5]!];
  return ipaddr.fromByteArray([0xfe, 0x80, 0, 0, 0, 0, 0, 0, ...eui]).toString();
}
