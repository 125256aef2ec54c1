/**
 * Pure address allocation for one network. The caller supplies the set of addresses in use
 * and the persisted cursor, and stores the returned cursor in the same transaction.
 */
import { NsnetError, invalid } from '../core/errors.js';
import {
  broadcast,
  cidrContains,
  cidrSize,
  cidrWithin,
  firstHost,
  intToIp,
  lastHost,
  type Cidr,
} from '../core/ipv4.js';

export interface Pool {
  subnet: Cidr;
  gateway: number;
  /** --ip-range: dynamic allocation is restricted to it. */
  range?: Cidr;
  /** Network name, only used to make error messages say which network. */
  name?: string;
  /** --aux-address: address → its name; never handed out, and refused as a static --ip. */
  reserved?: ReadonlyMap<number, string>;
}

function label(pool: Pool): string {
  return pool.name ?? pool.subnet.text;
}

/** Bounds of dynamic allocation: the range intersected with the subnet's host addresses. */
function bounds(pool: Pool): { lo: number; hi: number; text: string } {
  const { subnet, range } = pool;
  let lo = firstHost(subnet);
  let hi = lastHost(subnet);
  let text = subnet.text;
  if (range) {
    // CIDR blocks are nested or disjoint; disjoint yields lo > hi, i.e. nothing to allocate.
    lo = Math.max(lo, range.network);
    hi = Math.min(hi, broadcast(range));
    if (cidrWithin(range, subnet)) text = range.text;
  }
  return { lo, hi, text };
}

/**
 * Next free address strictly after `cursor`, wrapping around once. Round robin rather than
 * lowest-free so a just-released address (whose ARP entries and conntrack state may linger
 * in peers) is not reused before the rest of the range.
 */
export function allocate(
  pool: Pool,
  used: ReadonlySet<number>,
  cursor: number | undefined,
): { address: number; cursor: number } {
  const { lo, hi, text } = bounds(pool);
  const count = hi - lo + 1;
  if (count > 0) {
    const start = cursor !== undefined && cursor >= lo && cursor < hi ? cursor + 1 : lo;
    for (let i = 0; i < count; i++) {
      const a = lo + ((start - lo + i) % count);
      if (a === pool.gateway || used.has(a) || pool.reserved?.has(a) === true) continue;
      return { address: a, cursor: a };
    }
  }
  throw new NsnetError('POOL_EXHAUSTED', `network ${label(pool)} has no free address in ${text}`, {
    hint: 'disconnect a container from it, or create a network with a larger --subnet or --ip-range',
  });
}

/**
 * Check a static --ip. Like Docker, it may lie outside --ip-range as long as it is inside
 * the subnet: the range only governs dynamic allocation.
 */
export function reserve(pool: Pool, used: ReadonlySet<number>, requested: number): number {
  const { subnet } = pool;
  const ip = intToIp(requested);
  const net = label(pool);
  if (!cidrContains(subnet, requested)) {
    throw invalid(`invalid address "${ip}": not inside subnet ${subnet.text} of network ${net}`);
  }
  if (requested === subnet.network) {
    throw invalid(`invalid address "${ip}": it is the network address of ${subnet.text}`);
  }
  if (requested === broadcast(subnet)) {
    throw invalid(`invalid address "${ip}": it is the broadcast address of ${subnet.text}`);
  }
  if (requested === pool.gateway) {
    throw invalid(`invalid address "${ip}": it is the gateway of network ${net}`);
  }
  const aux = pool.reserved?.get(requested);
  if (aux !== undefined) {
    throw new NsnetError('ADDRESS_IN_USE', `address ${ip} is reserved as auxiliary address ${aux} of network ${net}`, {
      hint: 'choose another --ip, or leave it out to get a free one',
    });
  }
  if (used.has(requested)) {
    throw new NsnetError('ADDRESS_IN_USE', `address ${ip} is already in use on network ${net}`, {
      hint: 'choose another --ip, or leave it out to get a free one',
    });
  }
  return requested;
}

export function defaultGateway(subnet: Cidr): number {
  return firstHost(subnet);
}

export function validateGateway(subnet: Cidr, gateway: number): number {
  const ip = intToIp(gateway);
  if (!cidrContains(subnet, gateway)) {
    throw invalid(`invalid gateway "${ip}": not inside subnet ${subnet.text}`);
  }
  if (gateway === subnet.network || gateway === broadcast(subnet)) {
    throw invalid(
      `invalid gateway "${ip}": it is the ${gateway === subnet.network ? 'network' : 'broadcast'} address of ${subnet.text}; expected a host address`,
    );
  }
  return gateway;
}

export function validateRange(subnet: Cidr, range: Cidr, gateway: number): Cidr {
  if (!cidrWithin(range, subnet)) {
    throw invalid(`invalid ip range "${range.text}": not inside subnet ${subnet.text}`);
  }
  // The range's own network and broadcast addresses are usable when they are the subnet's hosts.
  const usable = cidrSize(range) - [subnet.network, broadcast(subnet), gateway].filter((a) => cidrContains(range, a)).length;
  if (usable < 1) {
    throw invalid(`invalid ip range "${range.text}": it leaves no address for a container in ${subnet.text} (gateway ${intToIp(gateway)})`, 'give a range with at least one address besides the gateway');
  }
  return range;
}

/**
 * Check --aux-address NAME=IP entries (Docker's AuxiliaryAddresses: addresses some other device
 * on the network uses): each inside the subnet, a host address, not the gateway, each address
 * given once. Returns address → name for the pool.
 */
export function validateAuxAddresses(subnet: Cidr, gateway: number, aux: Readonly<Record<string, number>>): Map<number, string> {
  const out = new Map<number, string>();
  for (const [name, address] of Object.entries(aux)) {
    const ip = intToIp(address);
    const what = `invalid --aux-address "${name}=${ip}"`;
    if (!cidrContains(subnet, address)) throw invalid(`${what}: not inside subnet ${subnet.text}`, 'give an address of the network\'s --subnet');
    if (address === subnet.network || address === broadcast(subnet)) {
      throw invalid(`${what}: it is the ${address === subnet.network ? 'network' : 'broadcast'} address of ${subnet.text}; expected a host address`);
    }
    if (address === gateway) throw invalid(`${what}: it is the gateway of the network`, 'the gateway is never handed out anyway');
    const other = out.get(address);
    if (other !== undefined) throw invalid(`${what}: address ${ip} is already given as ${other}`);
    out.set(address, name);
  }
  return out;
}
