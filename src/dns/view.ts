/**
 * What the responder knows, per network: which names resolve to which addresses (A and AAAA),
 * which address is whose (PTR), which addresses are its containers' (who may ask, see access.ts),
 * and where each client's other queries go. Built from nsnet's records; pure.
 *
 * A network has an IPv4 side, an IPv6 side or both (Docker 28's --ipv4=false --ipv6 gives a
 * network without IPv4). The responder listens on each side's gateway, and both gateways lead to
 * the same view: a dual-stack container asking either one gets the same answers.
 */
import { cidrContains, ipToInt, parseCidr, type Cidr } from '../core/ipv4.js';
import { cidr6Contains, ip6ToInt, isIPv6Text, parseCidr6, parseIPv6, type Cidr6 } from '../core/ipv6.js';

export interface ViewNetwork {
  id: string;
  name: string;
  /** The IPv4 gateway and subnet; null on an IPv6-only network. */
  gateway: string | null;
  subnet: string | null;
  /** The IPv6 gateway and subnet; absent or null on a network without IPv6. */
  gateway6?: string | null;
  subnet6?: string | null;
  /** -o nsnet.dns.servers: upstreams for every container on this network without --dns. */
  servers: string[];
  /**
   * False for a network with -o nsnet.dns=false: no responder on its gateway, but its subnet is
   * still nsnet's (its containers get REFUSED elsewhere, and its addresses never go upstream).
   */
  dns?: boolean;
}

export interface ViewContainer {
  id: string;
  name: string;
  hostname: string;
  aliases: string[];
  /** --dns */
  servers: string[];
  /**
   * `ip`/`ip6`: its addresses there (either may be null, never both: a network has at least one
   * family). `aliases`: names of this container on that network only (network connect --alias, --link).
   */
  endpoints: Array<{ networkId: string; ip: string | null; ip6?: string | null | undefined; aliases?: readonly string[] | undefined }>;
  /**
   * False for a container whose process does not run (yet): its names resolve nowhere, but its
   * addresses are still its network's members, so a container that queries while `run` is still
   * recording its process is answered, not refused.
   */
  running?: boolean;
}

export interface NetworkView {
  id: string;
  name: string;
  /** The addresses the responder answers this network on: its IPv4 gateway, its IPv6 gateway, or both. */
  gateways: string[];
  subnet: Cidr | null;
  subnet6: Cidr6 | null;
  /** Lower-cased name → IPv4 addresses on this network, for A (several containers may share an alias). */
  names: Map<string, string[]>;
  /** Lower-cased name → IPv6 addresses on this network, for AAAA. */
  names6: Map<string, string[]>;
  /** Address (either family, canonical text) → the name a PTR query gets (the container's name). */
  ptr: Map<string, string>;
  /** Client address (either family) → its own upstream servers (--dns, else the network's). */
  clientServers: Map<string, string[]>;
  /** Client address → the client's other networks: their names resolve for it too (after this network's). */
  clientNetworks: Map<string, NetworkView[]>;
  /** Every container address on this network (both families), running or not: the only clients answered here. */
  members: Set<string>;
  servers: string[];
}

export interface DnsView {
  /** Keyed by the gateway address the query arrived on (IPv4 or IPv6; a dual-stack network is under both). */
  byGateway: Map<string, NetworkView>;
  /** Every container name, hostname and alias on any network: never forwarded upstream. */
  known: Set<string>;
  /** The host's upstream resolvers, for clients with no servers of their own. */
  hostServers: string[];
  /** The subnet of every nsnet network, DNS on or off: addresses that are nsnet's, never the world's. */
  subnets: Cidr[];
  /** The same for IPv6. */
  subnets6: Cidr6[];
}

export const norm = (name: string): string => name.replace(/\.$/, '').toLowerCase();

/**
 * A container's short id (the first 12 hex digits, what `ps` shows) is one of its names, as in
 * Docker, where it is an alias on every user network: `ping 3f4e8a1b2c9d` reaches it. An id that
 * is not hex (none of nsnet's) gives no name.
 */
export function shortIdOf(id: string): string[] {
  return /^[0-9a-f]{12}/.test(id) ? [id.slice(0, 12)] : [];
}

/**
 * `stopped`: names of containers that do not run now; they resolve nowhere but are not forwarded
 * upstream either.
 */
export function buildView(
  networks: readonly ViewNetwork[],
  containers: readonly ViewContainer[],
  hostServers: readonly string[],
  stopped: readonly string[] = [],
): DnsView {
  const byId = new Map<string, NetworkView>();
  const byGateway = new Map<string, NetworkView>();
  const subnets = networks.flatMap((n) => (n.subnet == null ? [] : [parseCidr(n.subnet)]));
  const subnets6 = networks.flatMap((n) => (n.subnet6 == null ? [] : [parseCidr6(n.subnet6)]));
  for (const n of networks) {
    if (n.dns === false) continue;
    const gateways = [n.gateway, n.gateway6 == null ? null : canonical6(n.gateway6)].filter((g): g is string => g != null);
    const v: NetworkView = {
      id: n.id,
      name: n.name,
      gateways,
      subnet: n.subnet == null ? null : parseCidr(n.subnet),
      subnet6: n.subnet6 == null ? null : parseCidr6(n.subnet6),
      names: new Map(),
      names6: new Map(),
      ptr: new Map(),
      clientServers: new Map(),
      clientNetworks: new Map(),
      members: new Set(),
      servers: [...n.servers],
    };
    byId.set(n.id, v);
    for (const g of gateways) byGateway.set(g, v);
  }
  const known = new Set<string>(stopped.map(norm));
  for (const c of containers) {
    const names = [...new Set([c.name, c.hostname, ...c.aliases, ...shortIdOf(c.id)].map(norm).filter((n) => n !== ''))];
    for (const n of names) known.add(n);
    for (const e of c.endpoints) for (const a of e.aliases ?? []) known.add(norm(a));
    for (const e of c.endpoints) for (const ip of addressesOf(e)) byId.get(e.networkId)?.members.add(ip);
    if (c.running === false) continue;
    for (const e of c.endpoints) {
      const v = byId.get(e.networkId);
      if (v === undefined) continue;
      const own = (e.aliases ?? []).map(norm).filter((n) => n !== '' && !names.includes(n));
      const ip6 = e.ip6 == null ? null : canonical6(e.ip6);
      for (const n of [...names, ...new Set(own)]) {
        // Addresses are unique per network, so no duplicate check is needed.
        if (e.ip !== null) append(v.names, n, e.ip);
        if (ip6 !== null) append(v.names6, n, ip6);
      }
      const servers = c.servers.length > 0 ? c.servers : v.servers;
      for (const ip of addressesOf(e)) {
        v.ptr.set(ip, c.name);
        if (servers.length > 0) v.clientServers.set(ip, [...servers]);
      }
    }
    for (const e of c.endpoints) {
      const v = byId.get(e.networkId);
      if (v === undefined) continue;
      const others = c.endpoints.filter((o) => o.networkId !== e.networkId).map((o) => byId.get(o.networkId));
      const list = others.filter((o): o is NetworkView => o !== undefined);
      for (const ip of addressesOf(e)) v.clientNetworks.set(ip, list);
    }
  }
  return { byGateway, known, hostServers: [...hostServers], subnets, subnets6 };
}

function append(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** An endpoint's addresses, IPv6 in canonical text (what a socket reports and a PTR name gives). */
function addressesOf(e: ViewContainer['endpoints'][number]): string[] {
  const out: string[] = [];
  if (e.ip !== null) out.push(e.ip);
  if (e.ip6 != null) out.push(canonical6(e.ip6));
  return out;
}

/**
 * Canonical text of the IPv6 addresses in records, remembered across rebuilds: a parse takes
 * ipaddr.js tens of microseconds, and the view of 1000 dual-stack containers is rebuilt on every
 * store change. Bounded: cleared when it holds more addresses than any host will have.
 */
const canonicalCache = new Map<string, string>();
function canonical6(ip: string): string {
  let c = canonicalCache.get(ip);
  if (c === undefined) {
    if (canonicalCache.size >= 65536) canonicalCache.clear();
    c = parseIPv6(ip);
    canonicalCache.set(ip, c);
  }
  return c;
}

/**
 * "4.3.2.1.in-addr.arpa" → "1.2.3.4"; the 32 nibbles of an ip6.arpa name (RFC 3596, least
 * significant first) → the IPv6 address in canonical text; undefined for anything else (a
 * shorter ip6.arpa name is a zone, not an address).
 */
export function ptrAddress(name: string): string | undefined {
  const n = norm(name);
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(n);
  if (m !== null) {
    const parts = [m[4], m[3], m[2], m[1]].map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return parts.join('.');
  }
  if (!/^([0-9a-f]\.){32}ip6\.arpa$/.test(n)) return undefined;
  const hex = n.slice(0, 64).split('.').reverse().join('');
  // An IPv4-mapped address (::ffff:10.1.0.2) is the IPv4 address: its PTR is answered (or refused
  // upstream) as the IPv4 one's, never forwarded as a stranger's.
  if (hex.startsWith('00000000000000000000ffff')) return [24, 26, 28, 30].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.');
  return parseIPv6(hex.match(/.{4}/g)!.join(':'));
}

/** The ip6.arpa name of an IPv6 address (the PTR question for it). */
export function ip6ArpaName(ip: string): string {
  return ip6ToInt(ip).toString(16).padStart(32, '0').split('').reverse().join('.') + '.ip6.arpa';
}

export function inSubnet(v: NetworkView, ip: string): boolean {
  const n = addressInt(ip);
  if (n !== undefined) return v.subnet !== null && cidrContains(v.subnet, n);
  const n6 = address6Int(ip);
  return n6 !== undefined && v.subnet6 !== null && cidr6Contains(v.subnet6, n6);
}

/** The address as an integer, or undefined when it is not a strict dotted quad (a socket may give "" or IPv6). */
export function addressInt(ip: string): number | undefined {
  try {
    return ipToInt(ip);
  } catch {
    return undefined;
  }
}

/** An IPv6 address as a 128-bit integer, or undefined when it is none (a zone index makes it none: it is link-local). */
export function address6Int(ip: string): bigint | undefined {
  return isIPv6Text(ip) ? ip6ToInt(ip) : undefined;
}

/**
 * A socket's peer address as the view keys it: an IPv4-mapped IPv6 address (::ffff:10.1.0.2) is
 * the IPv4 address, an IPv6 address is its canonical text; anything else is returned as it is
 * (access.ts ignores it). IPv4 text, the common case, is returned without parsing.
 */
export function clientAddress(raw: string): string {
  if (!raw.includes(':')) return raw;
  const mapped = /^::ffff:(\d{1,3}(\.\d{1,3}){3})$/i.exec(raw);
  if (mapped !== null) return mapped[1]!;
  return isIPv6Text(raw) ? parseIPv6(raw) : raw;
}

/** Whether an address belongs to one of nsnet's networks, IPv4 or IPv6 (false for anything that is no address). */
export function isNsnetAddress(view: DnsView, ip: string): boolean {
  const n = addressInt(ip);
  if (n !== undefined) return view.subnets.some((s) => cidrContains(s, n));
  const n6 = address6Int(ip);
  return n6 !== undefined && view.subnets6.some((s) => cidr6Contains(s, n6));
}
