/**
 * A new network's addresses, per family: `network create`'s --subnet, --gateway and --ip-range
 * may each be given once per family (Docker's form: `--subnet 10.30.0.0/24 --subnet
 * 2001:db8:30::/64`), --ipv4=false leaves IPv4 out, --ipv6 adds IPv6 (a free unique local /64
 * when no IPv6 subnet is given). Every subnet overlaps no other network and nothing the host uses.
 */
import { randomBytes } from 'node:crypto';
import { NsnetError, invalid } from '../core/errors.js';
import { cidrOverlaps, intToIp, ipToInt, parseCidr, parseIPv4 } from '../core/ipv4.js';
import { cidr6Overlaps, intToIp6, ip6ToInt, parseCidr6, parseIPv6, type Cidr6 } from '../core/ipv6.js';
import * as validate from '../core/validate.js';
import { defaultGateway, validateAuxAddresses, validateGateway, validateRange } from '../engine/ipam.js';
import { defaultGateway6, pickUla, validateGateway6, validateRange6, validateSubnet6 } from '../engine/ipam6.js';
import { pickSubnet } from '../engine/subnet-pool.js';
import type { NetworkRecord } from '../store/index.js';
import type { Context } from './context.js';
import { hostTakenSubnets, hostTakenSubnets6 } from './host-facts.js';

/** One value or one per family, as the CLI's repeatable flags give them. */
export type PerFamily = string | readonly string[] | undefined;

export interface AddressingInput {
  subnet?: PerFamily;
  gateway?: PerFamily;
  ipRange?: PerFamily;
  auxAddresses?: Record<string, string> | undefined;
  /** --ipv4=false: no IPv4 (Docker 28). Default true. */
  ipv4?: boolean | undefined;
  /** --ipv6: IPv6 too. Default false. */
  ipv6?: boolean | undefined;
}

export type Addressing = Pick<NetworkRecord, 'subnet' | 'gateway' | 'ipRange' | 'auxAddresses' | 'subnet6' | 'gateway6' | 'ipRange6'>;

/** One family's --subnet, --gateway and --ip-range. */
interface Given {
  subnet: string | undefined;
  gateway: string | undefined;
  ipRange: string | undefined;
}

const isV6 = (text: string): boolean => text.includes(':');

/** The values of one flag split by family; a family given twice is refused, naming both. */
function byFamily(flag: string, values: PerFamily): { v4: string | undefined; v6: string | undefined } {
  const list = values === undefined ? [] : typeof values === 'string' ? [values] : [...values];
  const out: { v4: string | undefined; v6: string | undefined } = { v4: undefined, v6: undefined };
  for (const v of list) {
    const key = isV6(v) ? 'v6' : 'v4';
    const prior = out[key];
    if (prior !== undefined) {
      throw invalid(`${flag} given twice for ${key === 'v6' ? 'IPv6' : 'IPv4'} ("${prior}" and "${v}"): a network has one ${flag.replace(/^--/, '').replace('-', ' ')} per family`, `give at most one IPv4 and one IPv6 ${flag}`);
    }
    out[key] = v;
  }
  return out;
}

const overlapError = (subnet: string, what: string, hint: string): NsnetError =>
  new NsnetError('SUBNET_OVERLAP', `subnet ${subnet} overlaps ${what}`, { hint });

function decideIPv4(ctx: Context, input: AddressingInput, given: Given, checkHost: boolean, existing: readonly NetworkRecord[]) {
  const others = existing.filter((n) => n.subnet !== null).map((n) => ({ cidr: parseCidr(n.subnet!), n }));
  let subnet;
  if (given.subnet !== undefined) {
    subnet = validate.subnet(given.subnet);
    const clash = others.find((o) => cidrOverlaps(o.cidr, subnet!));
    if (clash !== undefined) throw overlapError(subnet.text, `network ${clash.n.name} (${clash.n.subnet})`, 'choose a --subnet that no other network uses');
    // A subnet holding one of the host's own addresses or routes would cut the host off them.
    const used = checkHost ? hostTakenSubnets(ctx.host).find((t) => cidrOverlaps(t.cidr, subnet!)) : undefined;
    if (used !== undefined) {
      throw overlapError(subnet.text, used.what, 'choose a --subnet the host does not use (see ip addr and ip route), or leave --subnet out to get a free one');
    }
  } else {
    subnet = pickSubnet([...others.map((o) => o.cidr), ...hostTakenSubnets(ctx.host).map((t) => t.cidr)]);
  }
  const gateway = given.gateway === undefined ? defaultGateway(subnet) : validateGateway(subnet, ipToInt(parseIPv4(given.gateway, 'gateway')));
  const range = given.ipRange === undefined ? undefined : validateRange(subnet, parseCidr(given.ipRange, 'ip range'), gateway);
  const auxInts = Object.fromEntries(Object.entries(input.auxAddresses ?? {}).map(([k, v]) => [k, ipToInt(parseIPv4(v, `--aux-address ${k}`))]));
  const aux = validateAuxAddresses(subnet, gateway, auxInts);
  return {
    subnet: subnet.text,
    gateway: intToIp(gateway),
    ipRange: range?.text ?? null,
    auxAddresses: Object.fromEntries([...aux].map(([address, auxName]) => [auxName, intToIp(address)])),
  };
}

/** A random 40-bit ULA global ID (RFC 4193 §3.2.2 asks for a pseudo-random one). */
const randomGlobalId = (): bigint => BigInt(`0x${randomBytes(5).toString('hex')}`);

function decideIPv6(ctx: Context, given: Given, checkHost: boolean, existing: readonly NetworkRecord[], random: () => bigint) {
  const others = existing.filter((n) => n.subnet6 != null).map((n) => ({ cidr: parseCidr6(n.subnet6!), n }));
  const host = hostTakenSubnets6(ctx.host);
  let subnet: Cidr6;
  if (given.subnet !== undefined) {
    subnet = validateSubnet6(parseCidr6(given.subnet, 'IPv6 subnet'));
    const clash = others.find((o) => cidr6Overlaps(o.cidr, subnet));
    if (clash !== undefined) throw overlapError(subnet.text, `network ${clash.n.name} (${clash.n.subnet6})`, 'choose an IPv6 --subnet that no other network uses');
    const used = checkHost ? host.find((t) => cidr6Overlaps(t.cidr, subnet)) : undefined;
    if (used !== undefined) {
      throw overlapError(subnet.text, used.what, 'choose an IPv6 --subnet the host does not use (see ip -6 addr and ip -6 route), or leave it out to get a unique local one');
    }
  } else {
    subnet = pickUla([...others.map((o) => o.cidr), ...host.map((t) => t.cidr)], random);
  }
  const gateway = given.gateway === undefined ? defaultGateway6(subnet) : validateGateway6(subnet, ip6ToInt(parseIPv6(given.gateway, 'IPv6 gateway')));
  const range = given.ipRange === undefined ? undefined : validateRange6(subnet, parseCidr6(given.ipRange, 'IPv6 ip range'));
  return { subnet6: subnet.text, gateway6: intToIp6(gateway), ipRange6: range?.text ?? null };
}

/**
 * Decide a new network's subnets, gateways and ranges. `checkHost`: refuse subnets the host
 * uses (not for macvlan/ipvlan, whose subnet is the parent's LAN, which the host may be on too).
 */
export function decideAddressing(ctx: Context, input: AddressingInput, checkHost: boolean, random: () => bigint = randomGlobalId): Addressing {
  const subnets = byFamily('--subnet', input.subnet);
  const gateways = byFamily('--gateway', input.gateway);
  const ranges = byFamily('--ip-range', input.ipRange);
  const ipv4 = input.ipv4 !== false;
  const ipv6 = input.ipv6 === true;
  if (!ipv4 && !ipv6) throw invalid('--ipv4=false needs --ipv6: a network needs at least one address family');
  for (const [flag, v] of [['--subnet', subnets.v4], ['--gateway', gateways.v4], ['--ip-range', ranges.v4]] as const) {
    if (!ipv4 && v !== undefined) throw invalid(`${flag} ${v} is IPv4, but the network has --ipv4=false`, 'leave the IPv4 values out, or drop --ipv4=false');
  }
  for (const [flag, v] of [['--subnet', subnets.v6], ['--gateway', gateways.v6], ['--ip-range', ranges.v6]] as const) {
    if (!ipv6 && v !== undefined) throw invalid(`${flag} ${v} is IPv6, but the network does not have IPv6 enabled`, 'add --ipv6');
  }
  for (const [flag, v, s] of [['--gateway', gateways.v4, subnets.v4], ['--ip-range', ranges.v4, subnets.v4], ['--gateway', gateways.v6, subnets.v6], ['--ip-range', ranges.v6, subnets.v6]] as const) {
    if (v !== undefined && s === undefined) throw invalid(`${flag} ${v} needs a --subnet of its family`, 'give the --subnet the gateway or range belongs to');
  }
  if (!ipv4 && Object.keys(input.auxAddresses ?? {}).length > 0) throw invalid('--aux-address needs IPv4: the network has --ipv4=false');
  const existing = ctx.store.networks.list();
  const v4 = ipv4
    ? decideIPv4(ctx, input, { subnet: subnets.v4, gateway: gateways.v4, ipRange: ranges.v4 }, checkHost, existing)
    : { subnet: null, gateway: null, ipRange: null, auxAddresses: {} };
  const v6 = ipv6
    ? decideIPv6(ctx, { subnet: subnets.v6, gateway: gateways.v6, ipRange: ranges.v6 }, checkHost, existing, random)
    : { subnet6: null, gateway6: null, ipRange6: null };
  return { ...v4, ...v6 };
}
