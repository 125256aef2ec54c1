/**
 * The addresses a lab file declares, checked all together before anything is made: each
 * network's subnet, gateway and ip_range (by the rules `network create` applies), subnets of the
 * lab that overlap one another, and each static address — inside its network's subnet, not the
 * subnet's network, broadcast or gateway address, and given to one container only.
 *
 * `network create` and `run --ip` check the same, but one object at a time, and a lab makes its
 * objects one after the other: without this, a bad address in the second container is found
 * after the networks and the first container were made. Only what the file says is checked here;
 * what the host holds (its routes, other networks) is `network create`'s to refuse.
 */
import { NsnetError } from '../core/errors.js';
import { cidrOverlaps, firstHost, intToIp, ipToInt, lastHost, parseCidr, type Cidr } from '../core/ipv4.js';
import { subnet as validSubnet } from '../core/validate.js';
import { defaultGateway, reserve, validateGateway, validateRange } from '../engine/ipam.js';

/** What is wrong, and where: a path into the file's document (keys and sequence indexes). */
export interface AddressProblem {
  path: Array<string | number>;
  message: string;
}

export interface DeclaredNetwork {
  subnet?: string | undefined;
  gateway?: string | undefined;
  ip_range?: string | undefined;
}

/** A container's networks as the file gives them: a list of names (no addresses) or a map. */
export type DeclaredAttachments = string[] | Record<string, { ip?: string | undefined } | null>;

interface Addressing {
  subnet: Cidr;
  gateway: number;
}

/** Check every address of the file; networks not declared are another check's to report. */
export function addressProblems(
  networks: Record<string, DeclaredNetwork | null>,
  containers: Record<string, { networks: DeclaredAttachments }>,
): AddressProblem[] {
  const problems: AddressProblem[] = [];
  const addressing = networkAddressing(networks, problems);
  // Per network: address → the container (key in the file) given it first.
  const given = new Map<string, Map<number, string>>();
  for (const [key, c] of Object.entries(containers)) {
    if (Array.isArray(c.networks)) continue;
    for (const [net, attachment] of Object.entries(c.networks)) {
      const ip = attachment?.ip;
      if (ip === undefined || !Object.hasOwn(networks, net)) continue;
      const path = ['containers', key, 'networks', net, 'ip'];
      const here = `containers.${key}.networks.${net}.ip`;
      const n = addressing.get(net);
      if (n === undefined) {
        // A network whose own addressing is wrong was reported; one without a subnet gets its
        // subnet only when the lab comes up, so no address in it can be checked (or trusted).
        if (networks[net]?.subnet === undefined) {
          problems.push({ path, message: `${here}: container ${key} has the static address ${ip} on network ${net}, which declares no subnet: a static address needs one (add subnet: to networks.${net}, or leave ip out to get a free address)` });
        }
        continue;
      }
      const allowed = `allowed on ${net}: ${hostsOf(n)}`;
      const address = attempt(() => reserve({ subnet: n.subnet, gateway: n.gateway, name: net }, new Set(), ipToInt(ip)));
      if (typeof address === 'string') {
        problems.push({ path, message: `${here}: container ${key}: ${address} (${allowed})` });
        continue;
      }
      const holders = given.get(net) ?? new Map<number, string>();
      given.set(net, holders);
      const holder = holders.get(address);
      if (holder !== undefined) {
        problems.push({ path, message: `${here}: container ${key}: address ${ip} on network ${net} is already container ${holder}'s: each container needs an address of its own (${allowed})` });
      } else {
        holders.set(address, key);
      }
    }
  }
  return problems;
}

/** Each network's subnet and gateway, when the file declares them and they are valid. */
function networkAddressing(networks: Record<string, DeclaredNetwork | null>, problems: AddressProblem[]): Map<string, Addressing> {
  const out = new Map<string, Addressing>();
  for (const [key, n] of Object.entries(networks)) {
    const refuse = (field: keyof DeclaredNetwork, message: string): void => {
      problems.push({ path: ['networks', key, field], message: `networks.${key}.${field}: network ${key}: ${message}` });
    };
    if (n?.subnet === undefined) {
      for (const field of ['gateway', 'ip_range'] as const) {
        if (n?.[field] !== undefined) refuse(field, `it declares no subnet: a ${field} needs one (add subnet: to networks.${key})`);
      }
      continue;
    }
    const { subnet: text, gateway: gatewayText, ip_range: rangeText } = n;
    const subnet = attempt(() => validSubnet(text));
    if (typeof subnet === 'string') {
      refuse('subnet', subnet);
      continue;
    }
    const gateway = attempt(() => (gatewayText === undefined ? defaultGateway(subnet) : validateGateway(subnet, ipToInt(gatewayText))));
    if (typeof gateway === 'string') {
      refuse('gateway', gateway);
      continue;
    }
    const range = rangeText === undefined ? undefined : attempt(() => validateRange(subnet, parseCidr(rangeText, 'ip range'), gateway));
    if (typeof range === 'string') refuse('ip_range', range);
    const clash = [...out].find(([, other]) => cidrOverlaps(other.subnet, subnet));
    if (clash !== undefined) {
      refuse('subnet', `subnet ${subnet.text} overlaps network ${clash[0]}'s ${clash[1].subnet.text}: each network of a lab needs a subnet of its own`);
      continue;
    }
    out.set(key, { subnet, gateway });
  }
  return out;
}

/** The addresses a container may have on a network: the subnet's hosts but the gateway. */
function hostsOf({ subnet, gateway }: Addressing): string {
  const lo = firstHost(subnet);
  const hi = lastHost(subnet);
  if (gateway === lo) return `${intToIp(lo + 1)} to ${intToIp(hi)}`;
  if (gateway === hi) return `${intToIp(lo)} to ${intToIp(hi - 1)}`;
  return `${intToIp(lo)} to ${intToIp(hi)}, except the gateway ${intToIp(gateway)}`;
}

/** What `check` returns, or the message of the value error it throws (a bug's exception is not the file's problem). */
function attempt<T extends object | number>(check: () => T): T | string {
  try {
    return check();
  } catch (err) {
    if (err instanceof NsnetError) return err.message;
    throw err;
  }
}
