/**
 * IPv4 and CIDR maths on 32-bit unsigned integers. ipaddr.js does the parsing so that odd
 * spellings (octal "010.0.0.1", hex, three-part "10.0.1") are rejected instead of being
 * silently reinterpreted the way inet_aton would.
 */
import ipaddr from 'ipaddr.js';
import { invalid } from './errors.js';

export type IPv4 = string & { __brand: 'IPv4' };

export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  network: number;
  prefixLen: number;
  /** Canonical text, e.g. "10.0.0.0/24". */
  text: string;
}

const U32 = 0x1_0000_0000;

/** Strict dotted quad; `what` names the value in the error ("gateway", "--ip", ...). */
export function parseIPv4(text: string, what = 'address'): IPv4 {
  if (typeof text !== 'string' || !ipaddr.IPv4.isValidFourPartDecimal(text)) {
    throw invalid(`invalid ${what} "${String(text)}": expected an IPv4 address such as 10.0.0.2`);
  }
  // Normalises nothing today (leading zeros are rejected), but keeps the brand honest.
  return ipaddr.IPv4.parse(text).toString() as IPv4;
}

export function ipToInt(ip: IPv4 | string): number {
  const parts = parseIPv4(ip).split('.');
  let n = 0;
  for (const p of parts) n = n * 256 + Number(p);
  return n;
}

export function intToIp(n: number): IPv4 {
  if (!Number.isInteger(n) || n < 0 || n >= U32) {
    throw invalid(`invalid address integer ${n}: expected 0..${U32 - 1}`);
  }
  return `${Math.floor(n / 2 ** 24) % 256}.${Math.floor(n / 2 ** 16) % 256}.${Math.floor(n / 256) % 256}.${n % 256}` as IPv4;
}

/** Number of addresses covered by a prefix length (2^(32-len)); plain arithmetic avoids the sign bit of `<<`. */
function blockSize(prefixLen: number): number {
  return 2 ** (32 - prefixLen);
}

export function formatCidr(network: number, prefixLen: number): string {
  return `${intToIp(network)}/${prefixLen}`;
}

function makeCidr(network: number, prefixLen: number): Cidr {
  return { network, prefixLen, text: formatCidr(network, prefixLen) };
}

/**
 * Parse "a.b.c.d/len" (prefix 0..32). Host bits set is an error rather than being masked off,
 * because "10.0.0.1/24" usually means the user confused a subnet with an address.
 */
export function parseCidr(text: string, what = 'subnet'): Cidr {
  const shown = String(text);
  const bad = () => invalid(`invalid ${what} "${shown}": expected an IPv4 CIDR such as 10.0.0.0/24`);
  if (typeof text !== 'string') throw bad();
  const m = /^([^/]+)\/(0|[1-9][0-9]?)$/.exec(text);
  if (!m || !ipaddr.IPv4.isValidFourPartDecimal(m[1]!)) throw bad();
  const prefixLen = Number(m[2]);
  if (prefixLen > 32) throw bad();
  const addr = ipToInt(m[1]!);
  const size = blockSize(prefixLen);
  const network = addr - (addr % size);
  if (network !== addr) {
    throw invalid(`invalid ${what} "${shown}": host bits set; did you mean ${formatCidr(network, prefixLen)}?`);
  }
  return makeCidr(network, prefixLen);
}

export function cidrSize(cidr: Cidr): number {
  return blockSize(cidr.prefixLen);
}

export function broadcast(cidr: Cidr): number {
  return cidr.network + cidrSize(cidr) - 1;
}

export function firstHost(cidr: Cidr): number {
  return cidr.network + 1;
}

export function lastHost(cidr: Cidr): number {
  return broadcast(cidr) - 1;
}

export function cidrContains(cidr: Cidr, ipInt: number): boolean {
  return ipInt >= cidr.network && ipInt <= broadcast(cidr);
}

/** CIDR blocks are either nested or disjoint, so overlap means one contains the other's network. */
export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b.network) || cidrContains(b, a.network);
}

/** True if `inner` lies entirely inside `outer`. */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  return inner.prefixLen >= outer.prefixLen && cidrContains(outer, inner.network);
}

/** Build a Cidr from an address inside it (host bits masked off), e.g. for a host route or interface address. */
export function cidrOf(ipInt: number, prefixLen: number): Cidr {
  const size = blockSize(prefixLen);
  return makeCidr(ipInt - (ipInt % size), prefixLen);
}
