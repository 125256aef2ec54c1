/**
 * A lab container's `routes`, checked with the file's addresses before anything is made: the
 * destination and the gateway are of one family (IPv4 or IPv6; `default` takes the gateway's),
 * and an IPv6 gateway is on one of the container's networks (or on one of its point-to-point
 * links), where the kernel can reach it — otherwise the kernel refuses the route half-way through
 * `up` ("Network is unreachable"), after the networks and earlier containers were made.
 *
 * IPv4 gateways are not held to that yet: lab files written before this check (and tests) route
 * via addresses the file does not place, and refusing them now would break them.
 */
import { cidrContains, ipToInt, parseCidr } from '../core/ipv4.js';
import { cidr6Contains, ip6ToInt, parseCidr6, parseIPv6 } from '../core/ipv6.js';
import { attempt, type AddressProblem, type NetworkAddressing } from './address-families.js';

export interface DeclaredRoute {
  to: string;
  via: string;
}

/** Whether `via` is on one of container `key`'s point-to-point links. */
export type OnLink = (key: string, via: string) => boolean;

interface RoutingContainer {
  networks: string[] | Record<string, unknown>;
  routes?: readonly DeclaredRoute[] | undefined;
}

export function routeProblems(addressing: ReadonlyMap<string, NetworkAddressing>, containers: Record<string, RoutingContainer>, onLink: OnLink): AddressProblem[] {
  const problems: AddressProblem[] = [];
  for (const [key, c] of Object.entries(containers)) {
    const attached = (Array.isArray(c.networks) ? c.networks : Object.keys(c.networks)).filter((n) => addressing.has(n));
    (c.routes ?? []).forEach((route, i) => {
      const refuse = (field: keyof DeclaredRoute, message: string): void => {
        problems.push({ path: ['containers', key, 'routes', i, field], message: `containers.${key}.routes[${i}].${field}: container ${key}: route to ${route.to} via ${route.via}: ${message}` });
      };
      const v6 = route.via.includes(':');
      const family = v6 ? 'IPv6' : 'IPv4';
      if (route.to !== 'default' && route.to.includes(':') !== v6) {
        refuse('to', `the destination is ${v6 ? 'IPv4' : 'IPv6'} and the gateway ${family}: a route's destination and gateway are of one family`);
        return;
      }
      if (route.to !== 'default') {
        const to = attempt(() => (v6 ? parseCidr6(route.to, 'route destination') : parseCidr(route.to, 'route destination')));
        if (typeof to === 'string') refuse('to', to);
      }
      const via = attempt(() => (v6 ? ip6ToInt(parseIPv6(route.via, 'route gateway')) : ipToInt(route.via)));
      if (typeof via === 'string') {
        refuse('via', via);
        return;
      }
      if (!v6 || onLink(key, route.via)) return;
      const families = attached.map((n) => ({ name: n, f: v6 ? addressing.get(n)!.v6 : addressing.get(n)!.v4 }));
      // A subnet picked at up (or one already refused) cannot be checked: the gateway may be in it.
      if (families.some(({ f }) => f.on && f.subnet === undefined)) return;
      const reaches = attached.some((n) => {
        const { v4, v6: six } = addressing.get(n)!;
        return typeof via === 'bigint' ? six.subnet !== undefined && cidr6Contains(six.subnet, via) : v4.subnet !== undefined && cidrContains(v4.subnet, via);
      });
      if (reaches) return;
      const seen = families.map(({ name, f }) => `${name}: ${f.on ? f.subnet!.text : `no ${family}`}`).join('; ') || 'none';
      refuse('via', `the gateway ${route.via} is on none of its networks (${seen}): a route goes via an ${family} address on one of the container's own networks`);
    });
  }
  return problems;
}
