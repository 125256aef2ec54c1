/**
 * The addresses a lab file declares, checked all together before anything is made: each
 * network's subnet, gateway and ip_range per family (address-families.ts), subnets of the lab
 * that overlap one another, each static address — `ip` (IPv4) and `ip6` (IPv6) — inside its
 * network's subnet of that family, not the subnet's network, broadcast (IPv4) or gateway address,
 * and given to one container only, and each route's gateway (routes.ts).
 *
 * `network create` and `run --ip`/`--ip6` check the same, but one object at a time, and a lab
 * makes its objects one after the other: without this, a bad address in the second container is
 * found after the networks and the first container were made. Only what the file says is checked
 * here; what the host holds (its routes, other networks) is `network create`'s to refuse.
 */
import { firstHost, intToIp, ipToInt, lastHost, type Cidr } from '../core/ipv4.js';
import { intToIp6, ip6ToInt, lastAddress6, parseIPv6, type Cidr6 } from '../core/ipv6.js';
import { reserve } from '../engine/ipam.js';
import { reserve6 } from '../engine/ipam6.js';
import { attempt, networkAddressing, type AddressProblem, type DeclaredNetwork, type NetworkAddressing } from './address-families.js';
import { routeProblems, type DeclaredRoute, type OnLink } from './routes.js';

export type { AddressProblem, DeclaredNetwork };

/** A container's networks as the file gives them: a list of names (no addresses) or a map. */
export type DeclaredAttachments = string[] | Record<string, { ip?: string | undefined; ip6?: string | undefined } | null>;

export interface DeclaredContainer {
  networks: DeclaredAttachments;
  routes?: readonly DeclaredRoute[] | undefined;
}

/**
 * Check every address of the file; networks not declared are another check's to report.
 * `onLink` says whether a route's gateway is on one of the container's point-to-point links.
 */
export function addressProblems(
  networks: Record<string, DeclaredNetwork | null>,
  containers: Record<string, DeclaredContainer>,
  onLink: OnLink = () => false,
): AddressProblem[] {
  const problems: AddressProblem[] = [];
  const addressing = networkAddressing(networks, problems);
  // Per network and family: address → the container (key in the file) given it first.
  const given = new Map<string, Map<number | bigint, string>>();
  for (const [key, c] of Object.entries(containers)) {
    if (Array.isArray(c.networks)) continue;
    for (const [net, attachment] of Object.entries(c.networks)) {
      const n = addressing.get(net);
      if (n === undefined) continue;
      for (const field of ['ip', 'ip6'] as const) {
        const ip = attachment?.[field];
        if (ip === undefined) continue;
        const problem = staticAddressProblem(key, net, field, ip, n, given);
        if (problem !== undefined) problems.push({ path: ['containers', key, 'networks', net, field], message: `containers.${key}.networks.${net}.${field}: ${problem}` });
      }
    }
  }
  problems.push(...routeProblems(addressing, containers, onLink));
  return problems;
}

/** What is wrong with one static address, or undefined (then it is recorded as the container's). */
function staticAddressProblem(
  key: string,
  net: string,
  field: 'ip' | 'ip6',
  ip: string,
  n: NetworkAddressing,
  given: Map<string, Map<number | bigint, string>>,
): string | undefined {
  const v6 = field === 'ip6';
  const family = v6 ? n.v6 : n.v4;
  const name = v6 ? 'IPv6' : 'IPv4';
  if (!family.on) {
    return v6
      ? `container ${key} has the static IPv6 address ${ip} on network ${net}, which has no IPv6 (add ipv6: true and an IPv6 subnet to networks.${net}, or leave ip6 out)`
      : `container ${key} has the static IPv4 address ${ip} on network ${net}, which has ipv4: false (leave ip out, or drop ipv4: false)`;
  }
  // A network whose own addressing is wrong was reported; one without a subnet gets its subnet
  // only when the lab comes up, so no address in it can be checked (or trusted).
  if (!family.declared) {
    return v6
      ? `container ${key} has the static IPv6 address ${ip} on network ${net}, which declares no IPv6 subnet: a static ip6 needs one (list it in networks.${net}.subnet, e.g. [10.40.1.0/24, 2001:db8:41::/64], or leave ip6 out to get a free address)`
      : `container ${key} has the static address ${ip} on network ${net}, which declares no subnet: a static address needs one (add subnet: to networks.${net}, or leave ip out to get a free address)`;
  }
  if (family.subnet === undefined) return undefined;
  const allowed = `allowed on ${net}: ${v6 ? hostsOf6(n.v6.subnet!, n.v6.gateway!) : hostsOf(n.v4.subnet!, n.v4.gateway!)}`;
  const address = v6
    ? attempt(() => reserve6({ subnet: n.v6.subnet!, gateway: n.v6.gateway!, name: net }, new Set(), ip6ToInt(parseIPv6(ip, 'ip6'))))
    : attempt(() => reserve({ subnet: n.v4.subnet!, gateway: n.v4.gateway!, name: net }, new Set(), ipToInt(ip)));
  if (typeof address === 'string') return `container ${key}: ${address} (${allowed})`;
  const slot = `${net}/${name}`;
  const holders = given.get(slot) ?? new Map<number | bigint, string>();
  given.set(slot, holders);
  const holder = holders.get(address);
  if (holder !== undefined) return `container ${key}: address ${ip} on network ${net} is already container ${holder}'s: each container needs an address of its own (${allowed})`;
  holders.set(address, key);
  return undefined;
}

/** The addresses a container may have on a network: the subnet's hosts but the gateway. */
function hostsOf(subnet: Cidr, gateway: number): string {
  const lo = firstHost(subnet);
  const hi = lastHost(subnet);
  if (gateway === lo) return `${intToIp(lo + 1)} to ${intToIp(hi)}`;
  if (gateway === hi) return `${intToIp(lo)} to ${intToIp(hi - 1)}`;
  return `${intToIp(lo)} to ${intToIp(hi)}, except the gateway ${intToIp(gateway)}`;
}

/** The same for IPv6: no broadcast address, but the subnet-router anycast address is not a host's. */
function hostsOf6(subnet: Cidr6, gateway: bigint): string {
  const lo = subnet.network + 1n;
  const hi = lastAddress6(subnet);
  if (gateway === lo) return `${intToIp6(lo + 1n)} to ${intToIp6(hi)}`;
  if (gateway === hi) return `${intToIp6(lo)} to ${intToIp6(hi - 1n)}`;
  return `${intToIp6(lo)} to ${intToIp6(hi)}, except the gateway ${intToIp6(gateway)}`;
}
