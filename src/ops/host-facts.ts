/** What the host already uses, so a network's subnet never shadows it. */
import { cidrOf, ipToInt, type Cidr } from '../core/ipv4.js';
import { cidr6Of, ip6ToInt, type Cidr6 } from '../core/ipv6.js';
import type { Host } from '../host/port.js';

/** A subnet the host uses, and how (for an error message): an address on a link, or a route. */
export interface TakenSubnet {
  cidr: Cidr;
  what: string;
}

export function hostTakenSubnets(host: Host): TakenSubnet[] {
  const names = new Map(host.links().map((l) => [l.index, l.name]));
  const taken: TakenSubnet[] = [];
  for (const a of host.addresses(undefined, 4)) {
    taken.push({ cidr: cidrOf(ipToInt(a.address), a.prefixLen), what: `the host's address ${a.address}/${a.prefixLen} on ${names.get(a.index) ?? `link ${a.index}`}` });
  }
  for (const r of host.routes(undefined, 4)) {
    if (r.dst === undefined || r.dstLen === 0) continue;
    const via = r.gateway === undefined ? '' : ` via ${r.gateway}`;
    taken.push({ cidr: cidrOf(ipToInt(r.dst), r.dstLen), what: `the host's route to ${r.dst}/${r.dstLen}${via}` });
  }
  return taken;
}

/** The IPv6 subnets the host uses (link-local and multicast aside: every link has those). */
export function hostTakenSubnets6(host: Host): Array<{ cidr: Cidr6; what: string }> {
  const names = new Map(host.links().map((l) => [l.index, l.name]));
  const taken: Array<{ cidr: Cidr6; what: string }> = [];
  const special = (a: string): boolean => /^(fe[89ab]|ff)/i.test(a) || a === '::1';
  for (const a of host.addresses(undefined, 6)) {
    if (special(a.address)) continue;
    taken.push({ cidr: cidr6Of(ip6ToInt(a.address), a.prefixLen), what: `the host's address ${a.address}/${a.prefixLen} on ${names.get(a.index) ?? `link ${a.index}`}` });
  }
  for (const r of host.routes(undefined, 6)) {
    if (r.dst === undefined || r.dstLen === 0 || special(r.dst)) continue;
    const via = r.gateway === undefined ? '' : ` via ${r.gateway}`;
    taken.push({ cidr: cidr6Of(ip6ToInt(r.dst), r.dstLen), what: `the host's route to ${r.dst}/${r.dstLen}${via}` });
  }
  return taken;
}
