/**
 * IPv6 address allocation for one network, the IPv4 allocator's rules on 128-bit integers: the
 * gateway (by default the subnet's ::1), --ip-range for dynamic allocation, round robin after a
 * persisted cursor, a static --ip6 anywhere in the subnet. IPv6 has no broadcast address; the
 * subnet-router anycast address (the network address itself) is never handed out.
 */
import { NsnetError, invalid } from '../core/errors.js';
import { cidr6Contains, cidr6Overlaps, cidr6Within, intToIp6, lastAddress6, makeCidr6, parseCidr6, type Cidr6 } from '../core/ipv6.js';

export interface Pool6 {
  subnet: Cidr6;
  gateway: bigint;
  range?: Cidr6 | undefined;
  /** Network name, for error messages. */
  name?: string | undefined;
}

/** Shortest and longest IPv6 prefixes a network takes: /48 is a whole site, /120 leaves 255 addresses. */
export const MIN_PREFIX6 = 48;
export const MAX_PREFIX6 = 120;

/**
 * Blocks no bridge subnet can come from: the kernel refuses ::1 and multicast addresses on a
 * bridge (only after the command has started changing things), gives every interface its own
 * fe80::/64, and treats ::ffff:0:0/96 as IPv4 traffic.
 */
const RESERVED6: ReadonlyArray<{ block: Cidr6; what: string }> = [
  { block: parseCidr6('::/8'), what: 'the unspecified, loopback, IPv4-mapped and IPv4-compatible addresses' },
  { block: parseCidr6('fe80::/10'), what: 'the link-local addresses every interface already has' },
  { block: parseCidr6('ff00::/8'), what: 'the multicast addresses' },
];

/** The subnet rules of `network create`: a prefix between /48 and /120 (SLAAC needs /64, nsnet does not), outside the reserved blocks. */
export function validateSubnet6(subnet: Cidr6): Cidr6 {
  if (subnet.prefixLen < MIN_PREFIX6 || subnet.prefixLen > MAX_PREFIX6) {
    throw invalid(
      `invalid IPv6 subnet "${subnet.text}": prefix /${subnet.prefixLen} is outside /${MIN_PREFIX6}../${MAX_PREFIX6}`,
      'a container network is usually a /64 (e.g. 2001:db8:30::/64)',
    );
  }
  // Prefixes are at least /48 here, so a subnet touching a reserved /8 or /10 lies inside it.
  const reserved = RESERVED6.find((r) => cidr6Within(subnet, r.block));
  if (reserved !== undefined) {
    throw invalid(
      `invalid IPv6 subnet "${subnet.text}": it is inside ${reserved.block.text}, ${reserved.what}`,
      'use a global (2000::/3) or unique local (fd00::/8) subnet, or leave the IPv6 subnet out to get a unique local one',
    );
  }
  return subnet;
}

export const defaultGateway6 = (subnet: Cidr6): bigint => subnet.network + 1n;

export function validateGateway6(subnet: Cidr6, gateway: bigint): bigint {
  const ip = intToIp6(gateway);
  if (!cidr6Contains(subnet, gateway)) throw invalid(`invalid IPv6 gateway "${ip}": not inside subnet ${subnet.text}`);
  if (gateway === subnet.network) throw invalid(`invalid IPv6 gateway "${ip}": it is the subnet-router anycast address of ${subnet.text}; expected a host address`);
  return gateway;
}

export function validateRange6(subnet: Cidr6, range: Cidr6): Cidr6 {
  if (!cidr6Within(range, subnet)) throw invalid(`invalid IPv6 ip range "${range.text}": not inside subnet ${subnet.text}`);
  return range;
}

const label = (pool: Pool6): string => pool.name ?? pool.subnet.text;

/**
 * Next free address strictly after `cursor`, wrapping once. The search ends after at most
 * |used| + 2 probes whenever the range is larger than what is used, so a /64 costs no more than a /120.
 */
export function allocate6(pool: Pool6, used: ReadonlySet<bigint>, cursor: bigint | undefined): { address: bigint; cursor: bigint } {
  const range = pool.range ?? pool.subnet;
  const lo = range.network > pool.subnet.network ? range.network : pool.subnet.network + 1n;
  const hi = lastAddress6(range);
  const count = hi - lo + 1n;
  if (count > 0n) {
    const start = cursor !== undefined && cursor >= lo && cursor < hi ? cursor + 1n : lo;
    const probes = count < BigInt(used.size) + 2n ? count : BigInt(used.size) + 2n;
    for (let i = 0n; i < probes; i++) {
      const a = lo + ((start - lo + i) % count);
      if (a === pool.gateway || used.has(a)) continue;
      return { address: a, cursor: a };
    }
  }
  throw new NsnetError('POOL_EXHAUSTED', `network ${label(pool)} has no free IPv6 address in ${range.text}`, {
    hint: 'disconnect a container from it, or create a network with a larger IPv6 --subnet or --ip-range',
  });
}

/** Check a static --ip6: inside the subnet, not the anycast address or the gateway, not taken. */
export function reserve6(pool: Pool6, used: ReadonlySet<bigint>, requested: bigint): bigint {
  const ip = intToIp6(requested);
  const net = label(pool);
  if (!cidr6Contains(pool.subnet, requested)) throw invalid(`invalid address "${ip}": not inside IPv6 subnet ${pool.subnet.text} of network ${net}`);
  if (requested === pool.subnet.network) throw invalid(`invalid address "${ip}": it is the subnet-router anycast address of ${pool.subnet.text}`);
  if (requested === pool.gateway) throw invalid(`invalid address "${ip}": it is the IPv6 gateway of network ${net}`);
  if (used.has(requested)) {
    throw new NsnetError('ADDRESS_IN_USE', `address ${ip} is already in use on network ${net}`, { hint: 'choose another --ip6, or leave it out to get a free one' });
  }
  return requested;
}

/**
 * A unique local /64 (RFC 4193: fd00::/8, a random 40-bit global ID, subnet 0) that overlaps
 * none of `taken`, as Docker 27+ picks for `--ipv6` without a subnet. `random` is injectable so
 * tests are deterministic.
 */
export function pickUla(taken: readonly Cidr6[], random: () => bigint): Cidr6 {
  const relevant = taken.filter((t) => t.prefixLen > 0);
  for (let attempt = 0; attempt < 64; attempt++) {
    const globalId = random() & ((1n << 40n) - 1n);
    const candidate = makeCidr6((0xfdn << 120n) | (globalId << 80n), 64);
    if (!relevant.some((t) => cidr6Overlaps(candidate, t))) return candidate;
  }
  throw new NsnetError('POOL_EXHAUSTED', 'no free unique local IPv6 subnet found', { hint: 'use --subnet with an IPv6 subnet to choose one' });
}
