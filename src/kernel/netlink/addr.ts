/** Address text ↔ bytes for netlink attributes (network byte order, as the kernel stores them). */
import { invalid } from '../../core/errors.js';
import { isIPv4, isIPv6 } from 'node:net';

export function isV6(address: string): boolean {
  return address.includes(':');
}

export function ipv4ToBytes(address: string): Buffer {
  if (!isIPv4(address)) throw invalid(`not an IPv4 address: ${address}`);
  return Buffer.from(address.split('.').map((p) => Number(p)));
}

export function ipv6ToBytes(address: string): Buffer {
  if (!isIPv6(address)) throw invalid(`not an IPv6 address: ${address}`);
  let text = address;
  // embedded IPv4 tail (::ffff:1.2.3.4)
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const b = ipv4ToBytes(tail);
    text = `${text.slice(0, lastColon + 1)}${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const headParts = head === '' ? [] : head.split(':');
  const restParts = rest === undefined || rest === '' ? [] : rest.split(':');
  const fill = rest === undefined ? 0 : 8 - headParts.length - restParts.length;
  const groups = [...headParts, ...Array<string>(fill).fill('0'), ...restParts];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

export function ipToBytes(address: string): Buffer {
  return isV6(address) ? ipv6ToBytes(address) : ipv4ToBytes(address);
}

export function bytesToIp(b: Buffer): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return b.toString('hex');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  // RFC 5952: compress the longest run (≥2) of zero groups
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Broadcast address of an IPv4 subnet (host bits all ones). /31 and /32 have none. */
export function ipv4Broadcast(address: string, prefixLen: number): Buffer | undefined {
  if (prefixLen >= 31) return undefined;
  const b = ipv4ToBytes(address);
  const n = b.readUInt32BE(0);
  const hostMask = prefixLen === 0 ? 0xffffffff : (0xffffffff >>> prefixLen) >>> 0;
  const out = Buffer.alloc(4);
  out.writeUInt32BE((n | hostMask) >>> 0, 0);
  return out;
}

export function macToBytes(mac: string): Buffer {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac)) throw invalid(`not a MAC address: ${mac}`);
  return Buffer.from(mac.split(':').map((p) => parseInt(p, 16)));
}

export function bytesToMac(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
