/**
 * A lab network's addressing, per family, as the file declares it: `subnet`, `gateway` and
 * `ip_range` are each one value or a list with one value per family (`subnet: [10.40.1.0/24,
 * 2001:db8:41::/64]`), `ipv6: true` asks for IPv6 (a unique local /64 when no IPv6 subnet is
 * given) and `ipv4: false` leaves IPv4 out. An IPv6 subnet in the list is IPv6 enough: a lab need
 * not say `ipv6: true` beside it (`network create` wants --ipv6 there, as Docker does).
 *
 * Each family is checked by the rules `network create` applies (ops/network-subnets.ts), so a
 * lab is refused before anything is made; only what the file says is checked here.
 */
import { NsnetError } from '../core/errors.js';
import { cidrOverlaps, ipToInt, parseCidr, type Cidr } from '../core/ipv4.js';
import { cidr6Overlaps, ip6ToInt, parseCidr6, parseIPv6, type Cidr6 } from '../core/ipv6.js';
import { subnet as validSubnet } from '../core/validate.js';
import { defaultGateway, validateGateway, validateRange } from '../engine/ipam.js';
import { defaultGateway6, validateGateway6, validateRange6, validateSubnet6 } from '../engine/ipam6.js';

/** What is wrong, and where: a path into the file's document (keys and sequence indexes). */
export interface AddressProblem {
  path: Array<string | number>;
  message: string;
}

/** One value, or one per family. */
export type OneOrPerFamily = string | readonly string[] | undefined;

export interface DeclaredNetwork {
  subnet?: OneOrPerFamily;
  gateway?: OneOrPerFamily;
  ip_range?: OneOrPerFamily;
  ipv4?: boolean | undefined;
  ipv6?: boolean | undefined;
}

/** One family of one network. */
export interface Family<C, A> {
  /** The network has this family. */
  on: boolean;
  /** The file gives its subnet (otherwise `up` picks one, and nothing in it can be checked). */
  declared: boolean;
  /** The declared subnet and gateway, when they are valid (an invalid one was reported). */
  subnet?: C | undefined;
  gateway?: A | undefined;
}

export interface NetworkAddressing {
  v4: Family<Cidr, number>;
  v6: Family<Cidr6, bigint>;
}

type Field = 'subnet' | 'gateway' | 'ip_range';
const FIELDS: readonly Field[] = ['subnet', 'gateway', 'ip_range'];

interface Located {
  text: string;
  path: Array<string | number>;
}

const isV6 = (text: string): boolean => text.includes(':');

/** The values of one field with where each is; a list of one is as good as the value. */
function located(key: string, n: DeclaredNetwork | null, field: Field): Located[] {
  const value = n?.[field];
  if (value === undefined) return [];
  if (typeof value === 'string') return [{ text: value, path: ['networks', key, field] }];
  return value.map((text, i) => ({ text, path: ['networks', key, field, i] }));
}

/** Whether a declared network has IPv6: `ipv6: true`, or an IPv6 subnet in its list. */
export function declaresIPv6(n: DeclaredNetwork | null): boolean {
  if (n?.ipv6 !== undefined) return n.ipv6;
  return located('', n, 'subnet').some((v) => isV6(v.text));
}

/** Whether a declared network has IPv4 (unless `ipv4: false`). */
export const declaresIPv4 = (n: DeclaredNetwork | null): boolean => n?.ipv4 !== false;

/** Each network's families and valid declared addressing; every problem found goes to `problems`. */
export function networkAddressing(networks: Record<string, DeclaredNetwork | null>, problems: AddressProblem[]): Map<string, NetworkAddressing> {
  const out = new Map<string, NetworkAddressing>();
  for (const [key, n] of Object.entries(networks)) {
    const refuse = (path: Array<string | number>, message: string): void => {
      const here = path.slice(0, 3).join('.') + path.slice(3).map((i) => `[${i}]`).join('');
      problems.push({ path, message: `${here}: network ${key}: ${message}` });
    };
    const ipv4 = declaresIPv4(n);
    const ipv6 = declaresIPv6(n);
    const given = { v4: {} as Partial<Record<Field, Located>>, v6: {} as Partial<Record<Field, Located>> };
    for (const field of FIELDS) {
      for (const v of located(key, n, field)) {
        const family = isV6(v.text) ? 'v6' : 'v4';
        const prior = given[family][field];
        if (prior !== undefined) {
          refuse(v.path, `${field} given twice for ${family === 'v6' ? 'IPv6' : 'IPv4'} (${prior.text} and ${v.text}): a network has one ${field} per family, e.g. [10.40.1.0/24, 2001:db8:41::/64]`);
          continue;
        }
        if (family === 'v4' && !ipv4) {
          refuse(v.path, `${field} ${v.text} is IPv4, but the network has ipv4: false (leave it out, or drop ipv4: false)`);
          continue;
        }
        // Without ipv6: false, an IPv6 gateway or range without an IPv6 subnet is told so below.
        if (family === 'v6' && n?.ipv6 === false) {
          refuse(v.path, `${field} ${v.text} is IPv6, but the network has ipv6: false (leave it out, or drop ipv6: false)`);
          continue;
        }
        given[family][field] = v;
      }
    }
    if (!ipv4 && !ipv6) refuse(['networks', key, 'ipv4'], 'ipv4: false needs IPv6 (ipv6: true, or an IPv6 subnet): a network needs at least one address family');
    for (const family of ['v4', 'v6'] as const) {
      if (given[family].subnet !== undefined) continue;
      for (const field of ['gateway', 'ip_range'] as const) {
        const v = given[family][field];
        if (v === undefined) continue;
        if (n?.subnet === undefined) refuse(v.path, `it declares no subnet: a ${field} needs one (add subnet: to networks.${key})`);
        else refuse(v.path, `${field} ${v.text} needs a subnet of its family: add one to networks.${key}.subnet, e.g. [10.40.1.0/24, 2001:db8:41::/64]`);
      }
    }
    const at = (family: 'v4' | 'v6') => (v: Located, message: string): void => refuse(v.path, message);
    out.set(key, {
      v4: { on: ipv4, declared: given.v4.subnet !== undefined, ...ipv4Addressing(given.v4, at('v4')) },
      v6: { on: ipv6, declared: given.v6.subnet !== undefined, ...ipv6Addressing(given.v6, at('v6')) },
    });
  }
  refuseOverlaps(out, problems, networks);
  return out;
}

type Refuse = (v: Located, message: string) => void;

function ipv4Addressing(given: Partial<Record<Field, Located>>, refuse: Refuse): { subnet?: Cidr; gateway?: number } {
  const { subnet: s, gateway: g, ip_range: r } = given;
  if (s === undefined) return {};
  const subnet = attempt(() => validSubnet(s.text));
  if (typeof subnet === 'string') return void refuse(s, subnet), {};
  const gateway = attempt(() => (g === undefined ? defaultGateway(subnet) : validateGateway(subnet, ipToInt(g.text))));
  if (typeof gateway === 'string') return void refuse(g!, gateway), {};
  if (r !== undefined) {
    const range = attempt(() => validateRange(subnet, parseCidr(r.text, 'ip range'), gateway));
    if (typeof range === 'string') refuse(r, range);
  }
  return { subnet, gateway };
}

function ipv6Addressing(given: Partial<Record<Field, Located>>, refuse: Refuse): { subnet?: Cidr6; gateway?: bigint } {
  const { subnet: s, gateway: g, ip_range: r } = given;
  if (s === undefined) return {};
  const subnet = attempt(() => validateSubnet6(parseCidr6(s.text, 'IPv6 subnet')));
  if (typeof subnet === 'string') return void refuse(s, subnet), {};
  const gateway = attempt(() => (g === undefined ? defaultGateway6(subnet) : validateGateway6(subnet, ip6ToInt(parseIPv6(g.text, 'IPv6 gateway')))));
  if (typeof gateway === 'string') return void refuse(g!, gateway), {};
  if (r !== undefined) {
    const range = attempt(() => validateRange6(subnet, parseCidr6(r.text, 'IPv6 ip range')));
    if (typeof range === 'string') refuse(r, range);
  }
  return { subnet, gateway };
}

/** Subnets of the lab that overlap: the later network's subnet is refused, and not checked against further. */
function refuseOverlaps(out: Map<string, NetworkAddressing>, problems: AddressProblem[], networks: Record<string, DeclaredNetwork | null>): void {
  const seen4: Array<[string, Cidr]> = [];
  const seen6: Array<[string, Cidr6]> = [];
  for (const [key, a] of out) {
    const where = (v6: boolean): Array<string | number> => {
      const subnet = networks[key]?.subnet;
      if (typeof subnet === 'string' || subnet === undefined) return ['networks', key, 'subnet'];
      return ['networks', key, 'subnet', subnet.findIndex((s) => isV6(s) === v6)];
    };
    const s4 = a.v4.subnet;
    const clash4 = s4 === undefined ? undefined : seen4.find(([, other]) => cidrOverlaps(other, s4));
    if (s4 !== undefined && clash4 !== undefined) {
      problems.push({ path: where(false), message: `networks.${key}.subnet: network ${key}: subnet ${s4.text} overlaps network ${clash4[0]}'s ${clash4[1].text}: each network of a lab needs a subnet of its own` });
      a.v4 = { ...a.v4, subnet: undefined, gateway: undefined };
    } else if (s4 !== undefined) seen4.push([key, s4]);
    const s6 = a.v6.subnet;
    const clash6 = s6 === undefined ? undefined : seen6.find(([, other]) => cidr6Overlaps(other, s6));
    if (s6 !== undefined && clash6 !== undefined) {
      problems.push({ path: where(true), message: `networks.${key}.subnet: network ${key}: IPv6 subnet ${s6.text} overlaps network ${clash6[0]}'s ${clash6[1].text}: each network of a lab needs a subnet of its own` });
      a.v6 = { ...a.v6, subnet: undefined, gateway: undefined };
    } else if (s6 !== undefined) seen6.push([key, s6]);
  }
}

/** What `check` returns, or the message of the value error it throws (a bug's exception is not the file's problem). */
export function attempt<T extends object | number | bigint>(check: () => T): T | string {
  try {
    return check();
  } catch (err) {
    if (err instanceof NsnetError) return err.message;
    throw err;
  }
}
