/** What the host already uses, so an automatically chosen subnet never shadows it. */
import { cidrOf, ipToInt, type Cidr } from '../core/ipv4.js';
import type { LinkInfo } from '../kernel/api.js';
import { openRtnl } from '../kernel/netlink/rtnl.js';

export function hostTakenSubnets(): Cidr[] {
  const rtnl = openRtnl();
  try {
    const taken: Cidr[] = [];
    for (const a of rtnl.listAddrs(4)) taken.push(cidrOf(ipToInt(a.address), a.prefixLen));
    for (const r of rtnl.listRoutes(4)) {
      if (r.dst !== undefined && r.dstLen > 0) taken.push(cidrOf(ipToInt(r.dst), r.dstLen));
    }
    return taken;
  } finally {
    rtnl.close();
  }
}

/** One host link by name (a single netlink request, not a dump of every link). */
export function hostLink(name: string): LinkInfo | undefined {
  const rtnl = openRtnl();
  try {
    return rtnl.getLink(name);
  } finally {
    rtnl.close();
  }
}
