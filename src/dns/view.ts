/**
 * What the responder knows, per network: which names resolve to which addresses, which address
 * is whose (PTR), which addresses are its containers' (who may ask, see access.ts), and where each
 * client's other queries go. Built from nsnet's records; pure.
 */
import { cidrContains, ipToInt, parseCidr, type Cidr } from '../core/ipv4.js';

export interface ViewNetwork {
  id: string;
  name: string;
  gateway: string;
  subnet: string;
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
  /** `aliases`: names of this container on that network only (network connect --alias, --link). */
  endpoints: Array<{ networkId: string; ip: string; aliases?: readonly string[] | undefined }>;
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
  gateway: string;
  subnet: Cidr;
  /** Lower-cased name → addresses on this network (several containers may share an alias). */
  names: Map<string, string[]>;
  /** Address → the name a PTR query gets (the container's name). */
  ptr: Map<string, string>;
  /** Client address → its own upstream servers (--dns, else the network's). */
  clientServers: Map<string, string[]>;
  /** Client address → the client's other networks: their names resolve for it too (after this network's). */
  clientNetworks: Map<string, NetworkView[]>;
  /** Every container address on this network, running or not: the only clients answered here. */
  members: Set<string>;
  servers: string[];
}

export interface DnsView {
  /** Keyed by the gateway address the query arrived on. */
  byGateway: Map<string, NetworkView>;
  /** Every container name, hostname and alias on any network: never forwarded upstream. */
  known: Set<string>;
  /** The host's upstream resolvers, for clients with no servers of their own. */
  hostServers: string[];
  /** The subnet of every nsnet network, DNS on or off: addresses that are nsnet's, never the world's. */
  subnets: Cidr[];
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
  const subnets = networks.map((n) => parseCidr(n.subnet));
  for (const n of networks) {
    if (n.dns === false) continue;
    const v: NetworkView = {
      id: n.id,
      name: n.name,
      gateway: n.gateway,
      subnet: parseCidr(n.subnet),
      names: new Map(),
      ptr: new Map(),
      clientServers: new Map(),
      clientNetworks: new Map(),
      members: new Set(),
      servers: [...n.servers],
    };
    byId.set(n.id, v);
    byGateway.set(n.gateway, v);
  }
  const known = new Set<string>(stopped.map(norm));
  for (const c of containers) {
    const names = [...new Set([c.name, c.hostname, ...c.aliases, ...shortIdOf(c.id)].map(norm).filter((n) => n !== ''))];
    for (const n of names) known.add(n);
    for (const e of c.endpoints) for (const a of e.aliases ?? []) known.add(norm(a));
    for (const e of c.endpoints) byId.get(e.networkId)?.members.add(e.ip);
    if (c.running === false) continue;
    for (const e of c.endpoints) {
      const v = byId.get(e.networkId);
      if (v === undefined) continue;
      const own = (e.aliases ?? []).map(norm).filter((n) => n !== '' && !names.includes(n));
      for (const n of [...names, ...new Set(own)]) {
        const list = v.names.get(n);
        // Addresses are unique per network, so no duplicate check is needed.
        if (list === undefined) v.names.set(n, [e.ip]);
        else list.push(e.ip);
      }
      v.ptr.set(e.ip, c.name);
      const servers = c.servers.length > 0 ? c.servers : v.servers;
      if (servers.length > 0) v.clientServers.set(e.ip, [...servers]);
    }
    for (const e of c.endpoints) {
      const v = byId.get(e.networkId);
      if (v === undefined) continue;
      const others = c.endpoints.filter((o) => o.networkId !== e.networkId).map((o) => byId.get(o.networkId));
      v.clientNetworks.set(e.ip, others.filter((o): o is NetworkView => o !== undefined));
    }
  }
  return { byGateway, known, hostServers: [...hostServers], subnets };
}

/** "4.3.2.1.in-addr.arpa" → "1.2.3.4"; undefined for anything else. */
export function ptrAddress(name: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(norm(name));
  if (m === null) return undefined;
  const parts = [m[4], m[3], m[2], m[1]].map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return parts.join('.');
}

export function inSubnet(v: NetworkView, ip: string): boolean {
  return cidrContains(v.subnet, ipToInt(ip));
}

/** The address as an integer, or undefined when it is not a strict dotted quad (a socket may give "" or IPv6). */
export function addressInt(ip: string): number | undefined {
  try {
    return ipToInt(ip);
  } catch {
    return undefined;
  }
}

/** Whether an address belongs to one of nsnet's networks (false for anything that is not an IPv4 address). */
export function isNsnetAddress(view: DnsView, ip: string): boolean {
  const n = addressInt(ip);
  return n !== undefined && view.subnets.some((s) => cidrContains(s, n));
}
