/**
 * Point-to-point links between two containers (`nsnet link add r1:eth1 r2:eth1`, a lab's
 * `links:`): parsing and checking what the user gives, and the steps that make or remove one.
 * Pure: the operation (ops/p2p-links.ts) reads the records and the host, this decides.
 *
 * A link is a veth pair with one end in each container's namespace and no bridge: what
 * containerlab's `links: endpoints` and Mininet's `addLink` make. Its two addresses (optional)
 * share one subnet: a /30 (or any shorter prefix) gives two hosts besides the subnet's network
 * and broadcast addresses; a /31 (RFC 3021) has no such addresses, both are hosts. IPv6 pairs
 * likewise share a prefix (/127 is IPv6's point-to-point prefix, RFC 6164).
 */
import ipaddr from 'ipaddr.js';
import { invalid } from '../core/errors.js';
import * as validate from '../core/validate.js';
import type { Step } from '../plan/steps.js';
import { confKey } from './plans.js';

/** CONTAINER:IFACE, as the user wrote it and as parsed. */
export interface LinkEndpoint {
  container: string;
  ifName: string;
}

/** An address with its prefix, canonical ("10.0.12.1/30", "fd00:12::1/64"). */
export interface LinkAddress {
  address: string;
  prefixLen: number;
  family: 4 | 6;
}

/** One end as the steps need it: the namespace, the interface in it, its address if any. */
export interface LinkEnd {
  ns: string;
  ifName: string;
  ip?: LinkAddress | undefined;
}

const ENDPOINT_HINT = 'give CONTAINER:IFACE, e.g. r1:eth1';

/** `r1:eth1` → {container r1, ifName eth1}; the interface name by the kernel's rules (IFNAMSIZ, no '/', ':' or blanks). */
export function parseEndpoint(text: string): LinkEndpoint {
  const i = typeof text === 'string' ? text.indexOf(':') : -1;
  if (i <= 0 || i === text.length - 1) throw invalid(`invalid link endpoint ${JSON.stringify(text)}: expected CONTAINER:IFACE`, ENDPOINT_HINT);
  const container = text.slice(0, i);
  const ifName = text.slice(i + 1);
  try {
    validate.ifName(ifName);
  } catch (err) {
    throw invalid(`invalid link endpoint ${JSON.stringify(text)}: ${(err as Error).message}`, ENDPOINT_HINT);
  }
  if (ifName === 'lo') throw invalid(`invalid link endpoint ${JSON.stringify(text)}: lo is the loopback interface every namespace has`, ENDPOINT_HINT);
  return { container, ifName };
}

/** `10.0.12.1/30` → the address and prefix; the prefix is required. */
export function parseLinkAddress(text: string, what: string): LinkAddress {
  const [addr = '', len, ...rest] = typeof text === 'string' ? text.split('/') : [];
  const example = 'such as 10.0.12.1/30 or fd00:12::1/64';
  if (len === undefined || rest.length > 0 || !/^\d{1,3}$/.test(len)) throw invalid(`invalid ${what} ${JSON.stringify(text)}: expected an address with its prefix length, ${example}`);
  const prefixLen = Number(len);
  if (ipaddr.IPv4.isValidFourPartDecimal(addr)) {
    if (prefixLen > 31 || prefixLen < 1) throw invalid(`invalid ${what} ${JSON.stringify(text)}: an IPv4 link needs a prefix of /1 to /31 (/30 or /31 for two hosts)`);
    return { address: ipaddr.IPv4.parse(addr).toString(), prefixLen, family: 4 };
  }
  if (ipaddr.IPv6.isValid(addr) && !addr.includes('%')) {
    if (prefixLen > 127 || prefixLen < 1) throw invalid(`invalid ${what} ${JSON.stringify(text)}: an IPv6 link needs a prefix of /1 to /127 (/64 or /127 for two hosts)`);
    return { address: ipaddr.IPv6.parse(addr).toString(), prefixLen, family: 6 };
  }
  throw invalid(`invalid ${what} ${JSON.stringify(text)}: expected an address with its prefix length, ${example}`);
}

const bits = (a: LinkAddress): string =>
  ipaddr
    .parse(a.address)
    .toByteArray()
    .map((b) => b.toString(2).padStart(8, '0'))
    .join('');

/** The subnet of an address, as text ("10.0.12.0/30"). */
export function linkSubnet(a: LinkAddress): string {
  return `${networkOf(a)}/${a.prefixLen}`;
}

function networkOf(a: LinkAddress): string {
  const b = bits(a);
  const net = b.slice(0, a.prefixLen).padEnd(b.length, '0');
  const bytes = net.match(/.{8}/g)!.map((x) => parseInt(x, 2));
  return ipaddr.fromByteArray(bytes).toString();
}

/** Whether two subnets (address/prefix) overlap: the shorter prefix's bits agree. */
export function subnetsOverlap(a: LinkAddress, b: LinkAddress): boolean {
  if (a.family !== b.family) return false;
  const len = Math.min(a.prefixLen, b.prefixLen);
  return bits(a).slice(0, len) === bits(b).slice(0, len);
}

/**
 * The link's two addresses, checked as a pair: both or neither, one family, the same prefix
 * length and subnet, two different host addresses (on an IPv4 prefix up to /30, neither the
 * subnet's network nor its broadcast address).
 */
export function linkAddresses(ips: readonly string[] | undefined, ends: readonly [string, string]): [LinkAddress, LinkAddress] | undefined {
  if (ips === undefined || ips.length === 0) return undefined;
  if (ips.length !== 2) {
    throw invalid(`invalid link addresses ${ips.join(' ')}: give two, one for each end (${ends[0]} first, then ${ends[1]}), or none`, 'e.g. --ip 10.0.12.1/30 --ip 10.0.12.2/30');
  }
  const a = parseLinkAddress(ips[0]!, `address of ${ends[0]}`);
  const b = parseLinkAddress(ips[1]!, `address of ${ends[1]}`);
  const pair = `${ips[0]} and ${ips[1]}`;
  if (a.family !== b.family) throw invalid(`invalid link addresses ${pair}: one is IPv4, the other IPv6; both ends need the same family`);
  if (a.prefixLen !== b.prefixLen) {
    throw invalid(`invalid link addresses ${pair}: different prefix lengths (/${a.prefixLen} and /${b.prefixLen}); both ends of a link share one subnet`, `e.g. 10.0.12.1/30 and 10.0.12.2/30, or 10.0.12.0/31 and 10.0.12.1/31`);
  }
  if (!subnetsOverlap(a, b)) {
    throw invalid(`invalid link addresses ${pair}: not in the same subnet (${linkSubnet(a)} and ${linkSubnet(b)})`, `pick both from one /${a.prefixLen}`);
  }
  if (a.address === b.address) throw invalid(`invalid link addresses ${pair}: both ends have the same address`);
  if (a.family === 4 && a.prefixLen <= 30) {
    for (const x of [a, b]) {
      const hostBits = bits(x).slice(x.prefixLen);
      const which = /^0+$/.test(hostBits) ? 'network' : /^1+$/.test(hostBits) ? 'broadcast' : undefined;
      if (which !== undefined) {
        throw invalid(`invalid link address ${x.address}/${x.prefixLen}: it is the ${which} address of ${linkSubnet(x)}`, `on a /${x.prefixLen} use two of its host addresses; a /31 has no network or broadcast address`);
      }
    }
  }
  return [a, b];
}

export const formatLinkAddress = (a: LinkAddress): string => `${a.address}/${a.prefixLen}`;

/**
 * Make a link: the pair with one end in each namespace, IPv6 off on an end without an IPv6
 * address (as on a network's interfaces: no router advertisement from the other container gives
 * it an address or a route), the addresses, both ends up.
 */
export function planP2pLink(a: LinkEnd, b: LinkEnd): Step[] {
  const steps: Step[] = [{ kind: 'veth-p2p', ns: a.ns, name: a.ifName, peerNs: b.ns, peerName: b.ifName }];
  for (const end of [a, b]) {
    if (end.ip?.family !== 6) steps.push({ kind: 'netns-sysctl', ns: end.ns, key: confKey('ipv6', end.ifName, 'disable_ipv6'), value: '1', ignoreUnknown: true });
  }
  for (const end of [a, b]) {
    if (end.ip !== undefined) steps.push({ kind: 'addr-add', ns: end.ns, dev: end.ifName, address: end.ip.address, prefixLen: end.ip.prefixLen });
  }
  for (const end of [a, b]) steps.push({ kind: 'link-up', ns: end.ns, dev: end.ifName });
  return steps;
}

/** Remove a link: deleting one end deletes both (from whichever namespace is still there). */
export function planRemoveP2pLink(a: LinkEnd | undefined, b: LinkEnd | undefined): Step[] {
  const end = a ?? b;
  return end === undefined ? [] : [{ kind: 'link-del', ns: end.ns, dev: end.ifName }];
}
