/** What the host already uses, so an automatically chosen subnet never shadows it. */
import { cidrOf, ipToInt, type Cidr } from '../core/ipv4.js';
import type { Host } from '../host/port.js';

export function hostTakenSubnets(host: Host): Cidr[] {
  const taken: Cidr[] = [];
  for (const a of host.addresses(undefined, 4)) taken.push(cidrOf(ipToInt(a.address), a.prefixLen));
  for (const r of host.routes(undefined, 4)) {
    if (r.dst !== undefined && r.dstLen > 0) taken.push(cidrOf(ipToInt(r.dst), r.dstLen));
  }
  return taken;
}
