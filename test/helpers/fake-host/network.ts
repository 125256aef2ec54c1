/**
 * The fake machine's network: namespaces, their links, addresses, routes and sysctls, with the
 * kernel's rules where nsnet depends on them — names unique per namespace (EEXIST), a veth pair
 * goes as a whole, a namespace takes its links with it (and the host ends of veths whose peer was
 * inside), a link going down or away takes its routes, a bridge takes its per-link sysctls.
 *
 * All state is plain data (`NetworkState`), so it can be cloned with structuredClone and shown
 * as a deterministic snapshot that names links rather than indexes (indexes differ between two
 * runs that make the same things in another order; names do not).
 */
import { NsnetError } from '../../../src/core/errors.js';
import { cidrContains, cidrOf, intToIp, ipToInt } from '../../../src/core/ipv4.js';
import { cidr6Contains, cidr6Of, intToIp6, ip6ToInt } from '../../../src/core/ipv6.js';

/** An address's family, as the kernel tells them apart. */
const familyOf = (address: string): 4 | 6 => (address.includes(':') ? 6 : 4);

/** The network address of `address`/`prefixLen` as text, either family (malformed: thrown, a bug in the caller). */
function networkOf(address: string, prefixLen: number): string {
  return familyOf(address) === 6 ? intToIp6(cidr6Of(ip6ToInt(address), prefixLen).network) : intToIp(cidrOf(ipToInt(address), prefixLen).network);
}

function subnetHolds(network: string, prefixLen: number, address: string): boolean {
  if (familyOf(network) !== familyOf(address)) return false;
  return familyOf(address) === 6 ? cidr6Contains(cidr6Of(ip6ToInt(network), prefixLen), ip6ToInt(address)) : cidrContains(cidrOf(ipToInt(network), prefixLen), ipToInt(address));
}
import type { AddrInfo, LinkInfo, RouteInfo } from '../../../src/kernel/api.js';
import { EADDRNOTAVAIL, EEXIST, EINVAL, ENETUNREACH, ENOENT, EOPNOTSUPP, ESRCH } from '../../../src/kernel/libc.js';
import { kernelError } from './errors.js';
import { isNoImpairment, normalizeNetem, type Netem } from '../../../src/core/netem.js';

/** The key of the host's own namespace in `NetworkState.namespaces`. */
export const HOST = '';

export type LinkKind = 'loopback' | 'device' | 'bridge' | 'veth' | 'macvlan' | 'ipvlan' | 'dummy';

export interface FakeLink {
  name: string;
  kind: LinkKind;
  index: number;
  mtu: number;
  up: boolean;
  mac: string;
  /** Name of the bridge this link is enslaved to (same namespace). */
  master?: string | undefined;
  /** A bridge port's hairpin mode (`bridge link set dev NAME hairpin on`); goes with the port. */
  hairpin?: boolean | undefined;
  /** The other end of a veth pair: namespace key and name. */
  peer?: { ns: string; name: string } | undefined;
  /** A macvlan/ipvlan's parent on the host (deleting the parent deletes it, as the kernel does). */
  lower?: string | undefined;
  /** Its impairment (root qdiscs netem/tbf), as `tc qdisc` would show it; goes with the link. */
  netem?: Netem | undefined;
}

export interface FakeAddr {
  dev: string;
  address: string;
  prefixLen: number;
}

/** A route added explicitly (connected routes are derived from addresses, as the kernel does). */
export interface FakeRoute {
  dst: string | undefined;
  dstLen: number;
  gateway: string | undefined;
  dev: string;
}

export interface FakeNamespace {
  /** Made by a container runtime (an absolute path): nsnet may use it but never makes or deletes it. */
  runtime: boolean;
  /** /run/netns/NAME is a mount point (false: a leftover file). */
  mounted: boolean;
  links: FakeLink[];
  addrs: FakeAddr[];
  routes: FakeRoute[];
  sysctls: Record<string, string>;
}

export interface NetworkState {
  namespaces: Record<string, FakeNamespace>;
  nextIndex: number;
  nextMac: number;
}

/** What every fresh namespace holds besides its links' own keys. */
const NAMESPACE_SYSCTLS: Record<string, string> = {
  'net.ipv4.ip_forward': '0',
  'net.ipv6.conf.all.forwarding': '0',
  'net.ipv4.conf.all.route_localnet': '0',
  'net.ipv4.conf.default.route_localnet': '0',
};

/** The per-link keys the kernel makes with a link and removes with it (sysctl(8) writes a dot in a name as '/'). */
const linkSysctls = (name: string): string[] => Object.keys(linkSysctlDefaults(name));

/** Those keys with the values a new link has (IPv6 on, router advertisements and DAD on, as the kernel's defaults). */
const linkSysctlDefaults = (name: string): Record<string, string> => {
  const dev = name.replace(/\./g, '/');
  return {
    [`net.ipv4.conf.${dev}.route_localnet`]: '0',
    [`net.ipv6.conf.${dev}.disable_ipv6`]: '0',
    [`net.ipv6.conf.${dev}.accept_ra`]: name === 'lo' ? '0' : '1',
    [`net.ipv6.conf.${dev}.accept_dad`]: name === 'lo' ? '-1' : '1',
  };
};

/** Keys whose value the kernel checks is 0 or 1. */
const BOOLEAN_SYSCTL = /\.(ip_forward|route_localnet|disable_ipv6|forwarding)$/;

const LOOPBACK_MTU = 65536;
const DEFAULT_MTU = 1500;

export class NetworkModel {
  state: NetworkState = { namespaces: {}, nextIndex: 2, nextMac: 1 };

  constructor() {
    this.state.namespaces[HOST] = this.freshNamespace(false);
  }

  // ---------------------------------------------------------------------------------------------
  // namespaces

  has(ns: string): boolean {
    return ns in this.state.namespaces;
  }

  /** The namespace, or the error a netlink socket opened in a missing one gives. */
  ns(ns: string | undefined): FakeNamespace {
    const found = this.state.namespaces[ns ?? HOST];
    if (found === undefined) throw kernelError(`open network namespace ${ns}`, ENOENT, `ip netns exec ${ns} true`);
    return found;
  }

  /** `ip netns add NAME`: EEXIST when taken; a runtime's path is refused as the real one does. */
  createNetns(name: string): void {
    refuseRuntimeNamespace(name);
    if (this.has(name)) throw kernelError(`create network namespace ${name}`, EEXIST, `ip netns add ${name}`);
    this.state.namespaces[name] = this.freshNamespace(false);
  }

  /** A namespace a container runtime made (an absolute path), for CNI tests. */
  addRuntimeNetns(path: string): void {
    if (!path.startsWith('/')) throw new Error(`fake host: a runtime namespace is an absolute path, not ${path}`);
    if (this.has(path)) throw new Error(`fake host: namespace ${path} already exists`);
    this.state.namespaces[path] = this.freshNamespace(true);
  }

  /** A runtime's namespace going away (the runtime deleted it): its links go with it. */
  removeRuntimeNetns(path: string): void {
    this.dropNamespace(path);
  }

  /** `ip netns del NAME`: a missing name is success; the namespace takes its links with it. */
  deleteNetns(name: string): void {
    refuseRuntimeNamespace(name);
    this.dropNamespace(name);
  }

  /** A leftover /run/netns/NAME file that is no mount point (a namespace lost in a reboot, half-cleaned). */
  addStrayNetnsFile(name: string): void {
    this.state.namespaces[name] = { ...this.freshNamespace(false), mounted: false, links: [] };
  }

  names(): string[] {
    return Object.keys(this.state.namespaces).filter((k) => k !== HOST);
  }

  // ---------------------------------------------------------------------------------------------
  // links

  link(ns: string | undefined, name: string): FakeLink | undefined {
    return this.ns(ns).links.find((l) => l.name === name);
  }

  /** The link, or the error KernelRunner gives when a step names a missing one. */
  mustLink(ns: string | undefined, name: string): FakeLink {
    const link = this.link(ns, name);
    if (link === undefined) throw new NsnetError('KERNEL', `link ${name} not found${ns === undefined ? '' : ` in ${ns}`}`);
    return link;
  }

  /** A new link; EEXIST when the name is taken in that namespace. */
  addLink(ns: string | undefined, spec: Omit<FakeLink, 'index' | 'mac'> & { mac?: string | undefined }, command?: string): FakeLink {
    const space = this.ns(ns);
    if (space.links.some((l) => l.name === spec.name)) throw kernelError(`create link ${spec.name}`, EEXIST, command);
    const link: FakeLink = { ...spec, index: this.state.nextIndex++, mac: spec.mac ?? this.nextMac() };
    space.links.push(link);
    Object.assign(space.sysctls, linkSysctlDefaults(link.name));
    return link;
  }

  /** A physical-looking device (the host's uplink, say), for test setup. */
  addDevice(name: string, opts: { ns?: string; up?: boolean; mtu?: number; mac?: string } = {}): FakeLink {
    return this.addLink(opts.ns, { name, kind: 'device', mtu: opts.mtu ?? DEFAULT_MTU, up: opts.up ?? true, mac: opts.mac });
  }

  addBridge(name: string, mac: string, mtu: number | undefined, command?: string): void {
    this.addLink(undefined, { name, kind: 'bridge', mtu: mtu ?? DEFAULT_MTU, up: false, mac }, command);
  }

  /** A veth pair: `hostIf` in the host (enslaved, up), its peer inside `peerNs` (down), as nsnet makes them. */
  addVeth(opts: { hostIf: string; master: string; peerNs: string; peerIf: string; peerMac: string; mtu?: number | undefined }, command?: string): void {
    const master = this.mustLink(undefined, opts.master);
    const peerSpace = this.ns(opts.peerNs);
    if (this.link(undefined, opts.hostIf) !== undefined) throw kernelError(`create veth ${opts.hostIf}`, EEXIST, command);
    if (peerSpace.links.some((l) => l.name === opts.peerIf)) throw kernelError(`create veth peer ${opts.peerIf}`, EEXIST, command);
    const mtu = opts.mtu ?? DEFAULT_MTU;
    this.addLink(undefined, { name: opts.hostIf, kind: 'veth', mtu, up: true, master: master.name, peer: { ns: opts.peerNs, name: opts.peerIf } });
    this.addLink(opts.peerNs, { name: opts.peerIf, kind: 'veth', mtu, up: false, mac: opts.peerMac, peer: { ns: HOST, name: opts.hostIf } });
  }

  /** A point-to-point veth pair: `name` in `ns`, `peerName` in `peerNs`, both down (as nsnet makes them). */
  addP2pVeth(opts: { ns: string; name: string; peerNs: string; peerName: string }, command?: string): void {
    const space = this.ns(opts.ns);
    const peerSpace = this.ns(opts.peerNs);
    if (space.links.some((l) => l.name === opts.name)) throw kernelError(`create veth ${opts.name}`, EEXIST, command);
    if (peerSpace.links.some((l) => l.name === opts.peerName)) throw kernelError(`create veth peer ${opts.peerName}`, EEXIST, command);
    this.addLink(opts.ns, { name: opts.name, kind: 'veth', mtu: DEFAULT_MTU, up: false, peer: { ns: opts.peerNs, name: opts.peerName } });
    this.addLink(opts.peerNs, { name: opts.peerName, kind: 'veth', mtu: DEFAULT_MTU, up: false, peer: { ns: opts.ns, name: opts.name } });
  }

  /**
   * A macvlan/ipvlan in `ns` over the host's `parent`: ENODEV-like "not found" for a missing parent
   * (the kernel runner's own error), EEXIST for a taken name. An ipvlan carries the parent's MAC.
   */
  addOnParent(kind: 'macvlan' | 'ipvlan', opts: { parent: string; ns: string; name: string; mac?: string | undefined; mtu?: number | undefined }, command?: string): void {
    const parent = this.link(undefined, opts.parent);
    if (parent === undefined) throw new NsnetError('KERNEL', `parent link ${opts.parent} not found on the host`);
    const mac = kind === 'ipvlan' ? parent.mac : opts.mac;
    this.addLink(opts.ns, { name: opts.name, kind, mtu: opts.mtu ?? parent.mtu, up: false, mac, lower: opts.parent }, command);
  }

  /**
   * Up or down. Going down takes the routes through the link with it (IPv4 does); loopback
   * coming up gets 127.0.0.1/8 from the kernel (and keeps it when it goes down again).
   */
  setUp(ns: string | undefined, name: string, up: boolean): void {
    const link = this.mustLink(ns, name);
    const space = this.ns(ns);
    link.up = up;
    if (!up) space.routes = space.routes.filter((r) => r.dev !== name);
    const loopback = (a: FakeAddr): boolean => a.dev === name && a.address === '127.0.0.1' && a.prefixLen === 8;
    if (up && link.kind === 'loopback' && !space.addrs.some(loopback)) space.addrs.push({ dev: name, address: '127.0.0.1', prefixLen: 8 });
  }

  /** `bridge link set dev NAME hairpin on|off`: only a bridge port has the setting (EOPNOTSUPP, as the kernel). */
  /** Replace a link's root qdiscs with those of `netem` (none: the default back), as the kernel runner does. */
  setImpairment(ns: string | undefined, name: string, netem: Netem): void {
    const link = this.mustLink(ns, name);
    link.netem = isNoImpairment(netem) ? undefined : normalizeNetem(netem);
  }

  setHairpin(name: string, on: boolean, command?: string): void {
    const link = this.mustLink(undefined, name);
    if (link.master === undefined) throw kernelError(`set hairpin of ${name}`, EOPNOTSUPP, command);
    link.hairpin = on;
  }

  /** `ip link del`: already gone is success; a veth takes its peer, a bridge frees its ports. */
  deleteLink(ns: string | undefined, name: string): void {
    const space = this.ns(ns);
    const link = space.links.find((l) => l.name === name);
    if (link === undefined) return;
    if (link.kind === 'loopback') throw kernelError(`delete link ${name}`, EOPNOTSUPP, `ip link del ${name}`);
    this.dropLink(space, link);
    if (link.peer !== undefined) {
      const peerSpace = this.state.namespaces[link.peer.ns];
      const peer = peerSpace?.links.find((l) => l.name === link.peer!.name);
      if (peerSpace !== undefined && peer !== undefined) this.dropLink(peerSpace, peer);
    }
    // A host link takes the macvlans and ipvlans over it with it, wherever they live.
    if (space === this.ns(undefined)) {
      for (const other of Object.values(this.state.namespaces)) {
        for (const child of other.links.filter((l) => l.lower === name)) this.dropLink(other, child);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // addresses and routes

  /** EEXIST when the link already has this address with this prefix. */
  addAddr(ns: string | undefined, dev: string, address: string, prefixLen: number, command?: string): void {
    this.mustLink(ns, dev);
    networkOf(address, prefixLen); // a malformed address is a bug in the caller: say so
    const space = this.ns(ns);
    if (space.addrs.some((a) => a.dev === dev && a.address === address && a.prefixLen === prefixLen)) {
      throw kernelError(`add address ${address}/${prefixLen} to ${dev}`, EEXIST, command);
    }
    space.addrs.push({ dev, address, prefixLen });
  }

  /** EADDRNOTAVAIL when the link does not have it. */
  delAddr(ns: string | undefined, dev: string, address: string, prefixLen: number): void {
    const space = this.ns(ns);
    const i = space.addrs.findIndex((a) => a.dev === dev && a.address === address && a.prefixLen === prefixLen);
    if (i < 0) throw kernelError(`delete address ${address}/${prefixLen} from ${dev}`, EADDRNOTAVAIL);
    space.addrs.splice(i, 1);
  }

  /**
   * A route in the main table. The gateway must be reachable through a connected route (an
   * address on an up link, on `dev` when given), else ENETUNREACH; the same destination twice is
   * EEXIST (nsnet asks with NLM_F_EXCL).
   */
  addRoute(ns: string | undefined, r: { dst?: string | undefined; dstLen?: number | undefined; gateway: string; dev?: string | undefined }, command?: string): void {
    const space = this.ns(ns);
    const dst = r.dst;
    const family = familyOf(r.gateway);
    const dstLen = dst === undefined ? 0 : (r.dstLen ?? (family === 6 ? 128 : 32));
    const what = `add route to ${dst === undefined ? 'default' : `${dst}/${dstLen}`} via ${r.gateway}`;
    if (r.dev !== undefined) this.mustLink(ns, r.dev);
    const via = this.connectedDev(space, r.gateway, r.dev);
    if (via === undefined) throw kernelError(what, ENETUNREACH, command);
    if (space.routes.some((x) => x.dst === dst && x.dstLen === dstLen && routeFamily(x) === family)) throw kernelError(what, EEXIST, command);
    space.routes.push({ dst, dstLen, gateway: r.gateway, dev: via });
  }

  /** ESRCH when no route matches (gateway and dev only narrow the match when given). */
  /** `ip route add default dev DEV`: no gateway, the link itself routes (ipvlan l3). */
  addDefaultDevRoute(ns: string, dev: string, command?: string): void {
    const space = this.ns(ns);
    this.mustLink(ns, dev);
    if (space.routes.some((x) => x.dst === undefined && routeFamily(x) === 4)) throw kernelError('add default route', EEXIST, command);
    space.routes.push({ dst: undefined, dstLen: 0, gateway: undefined, dev });
  }

  delRoute(ns: string | undefined, r: { dst?: string | undefined; dstLen?: number | undefined; gateway?: string | undefined; dev?: string | undefined }): void {
    const space = this.ns(ns);
    const family = [r.dst, r.gateway].some((a) => a !== undefined && familyOf(a) === 6) ? 6 : 4;
    const dstLen = r.dst === undefined ? 0 : (r.dstLen ?? (family === 6 ? 128 : 32));
    const i = space.routes.findIndex(
      (x) =>
        x.dst === r.dst && x.dstLen === dstLen && routeFamily(x) === family && (r.gateway === undefined || x.gateway === r.gateway) && (r.dev === undefined || x.dev === r.dev),
    );
    if (i < 0) throw kernelError(`delete route to ${r.dst ?? 'default'}`, ESRCH);
    space.routes.splice(i, 1);
  }

  // ---------------------------------------------------------------------------------------------
  // sysctls

  sysctl(key: string, ns?: string): string | undefined {
    return this.ns(ns).sysctls[key];
  }

  /**
   * What `sysctl -w` does: ENOENT for a key the namespace does not have (none with `ignoreUnknown`,
   * sysctl -e), EINVAL for a non-boolean flag.
   */
  writeSysctl(ns: string | undefined, key: string, value: string, ignoreUnknown = false): void {
    const space = this.ns(ns);
    const command = `sysctl -w ${key}=${value}`;
    if (!(key in space.sysctls)) {
      if (ignoreUnknown) return;
      throw kernelError(`write sysctl ${key}`, ENOENT, command);
    }
    if (BOOLEAN_SYSCTL.test(key) && value !== '0' && value !== '1') throw kernelError(`write sysctl ${key}`, EINVAL, command);
    space.sysctls[key] = value;
  }

  /** Test setup: make a key exist (a module loaded, say) with this value. */
  setSysctl(key: string, value: string, ns?: string): void {
    this.ns(ns).sysctls[key] = value;
  }

  // ---------------------------------------------------------------------------------------------
  // what the Host port reads

  linkInfo(ns: string | undefined, link: FakeLink): LinkInfo {
    const master = link.master === undefined ? undefined : this.link(ns, link.master);
    return {
      index: link.index,
      name: link.name,
      kind: link.kind === 'loopback' || link.kind === 'device' ? undefined : link.kind,
      mtu: link.mtu,
      up: link.up,
      mac: link.mac,
      masterIndex: master?.index,
      ...(link.master === undefined ? {} : { hairpin: link.hairpin === true }),
    };
  }

  links(ns?: string): LinkInfo[] {
    return this.ns(ns).links.map((l) => this.linkInfo(ns, l));
  }

  addresses(ns?: string, family?: 4 | 6): AddrInfo[] {
    return this.ns(ns)
      .addrs.filter((a) => family === undefined || familyOf(a.address) === family)
      .map((a) => ({ index: this.mustLink(ns, a.dev).index, family: familyOf(a.address), address: a.address, prefixLen: a.prefixLen }));
  }

  /** The main table: a connected route per address on an up link (not loopback's: those are in the local table), then the added ones. */
  routes(ns?: string, family?: 4 | 6): RouteInfo[] {
    const space = this.ns(ns);
    const route = (f: 4 | 6, dst: string | undefined, dstLen: number, gateway: string | undefined, dev: string): RouteInfo => ({
      family: f,
      dst,
      dstLen,
      gateway,
      oif: this.mustLink(ns, dev).index,
      table: 254,
    });
    return [
      ...this.connected(space).map((c) => route(familyOf(c.network), c.network, c.prefixLen, undefined, c.dev)),
      ...space.routes.map((r) => route(routeFamily(r), r.dst, r.dstLen, r.gateway, r.dev)),
    ].filter((r) => family === undefined || r.family === family);
  }

  /** Deterministic, index-free: links by name, addresses as `DEV A/LEN`, routes as `ip route` prints them. */
  snapshot(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(this.state.namespaces).sort()) {
      const space = this.state.namespaces[key]!;
      out[key === HOST ? 'host' : key] = {
        ...(space.runtime ? { runtime: true } : {}),
        ...(space.mounted ? {} : { mounted: false }),
        links: [...space.links]
          .sort((a, b) => a.name.localeCompare(b.name))
          .map((l) => ({
            name: l.name,
            kind: l.kind,
            mtu: l.mtu,
            up: l.up,
            mac: l.mac,
            ...(l.master === undefined ? {} : { master: l.master }),
            ...(l.hairpin === true ? { hairpin: true } : {}),
            ...(l.netem === undefined ? {} : { netem: l.netem }),
            ...(l.peer === undefined ? {} : { peer: `${l.peer.ns === HOST ? 'host' : l.peer.ns}:${l.peer.name}` }),
          })),
        addresses: space.addrs.map((a) => `${a.dev} ${a.address}/${a.prefixLen}`).sort(),
        routes: space.routes.map((r) => `${r.dst === undefined ? 'default' : `${r.dst}/${r.dstLen}`} via ${r.gateway} dev ${r.dev}`).sort(),
        sysctls: Object.fromEntries(Object.entries(space.sysctls).sort(([a], [b]) => a.localeCompare(b))),
      };
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------

  private freshNamespace(runtime: boolean): FakeNamespace {
    const space: FakeNamespace = { runtime, mounted: true, links: [], addrs: [], routes: [], sysctls: { ...NAMESPACE_SYSCTLS } };
    // Every namespace starts with its own loopback, index 1, down.
    space.links.push({ name: 'lo', kind: 'loopback', index: 1, mtu: LOOPBACK_MTU, up: false, mac: '00:00:00:00:00:00' });
    Object.assign(space.sysctls, linkSysctlDefaults('lo'));
    return space;
  }

  private nextMac(): string {
    const n = this.state.nextMac++;
    const hex = (v: number): string => v.toString(16).padStart(2, '0');
    return `02:fa:ce:${hex((n >> 16) & 255)}:${hex((n >> 8) & 255)}:${hex(n & 255)}`;
  }

  /** A namespace goes: its links go, and with each veth its peer outside. */
  private dropNamespace(name: string): void {
    const space = this.state.namespaces[name];
    if (space === undefined) return;
    delete this.state.namespaces[name];
    for (const link of space.links) {
      if (link.peer === undefined) continue;
      const peerSpace = this.state.namespaces[link.peer.ns];
      const peer = peerSpace?.links.find((l) => l.name === link.peer!.name);
      if (peerSpace !== undefined && peer !== undefined) this.dropLink(peerSpace, peer);
    }
  }

  private dropLink(space: FakeNamespace, link: FakeLink): void {
    space.links = space.links.filter((l) => l !== link);
    for (const l of space.links) {
      if (l.master !== link.name) continue;
      l.master = undefined;
      l.hairpin = undefined; // a port's settings go with the port
    }
    space.addrs = space.addrs.filter((a) => a.dev !== link.name);
    space.routes = space.routes.filter((r) => r.dev !== link.name);
    for (const key of linkSysctls(link.name)) delete space.sysctls[key];
  }

  /** Connected routes: the subnet of each address on an up, non-loopback link. */
  private connected(space: FakeNamespace): Array<{ network: string; prefixLen: number; dev: string }> {
    const up = new Set(space.links.filter((l) => l.up && l.kind !== 'loopback').map((l) => l.name));
    const seen = new Set<string>();
    const out: Array<{ network: string; prefixLen: number; dev: string }> = [];
    for (const a of space.addrs) {
      if (!up.has(a.dev)) continue;
      const network = networkOf(a.address, a.prefixLen);
      const key = `${network}/${a.prefixLen} ${a.dev}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ network, prefixLen: a.prefixLen, dev: a.dev });
    }
    return out;
  }

  /** The link whose connected route holds `gateway` (restricted to `dev` when given). */
  private connectedDev(space: FakeNamespace, gateway: string, dev: string | undefined): string | undefined {
    return this.connected(space).find((c) => (dev === undefined || c.dev === dev) && subnetHolds(c.network, c.prefixLen, gateway))?.dev;
  }
}

/** A route's family: its destination's or gateway's (a device route without either is IPv4: ipvlan l3). */
function routeFamily(r: FakeRoute): 4 | 6 {
  const a = r.dst ?? r.gateway;
  return a !== undefined && familyOf(a) === 6 ? 6 : 4;
}

function refuseRuntimeNamespace(ref: string): void {
  if (ref.startsWith('/')) throw new NsnetError('STATE', `${ref} belongs to the container runtime: nsnet neither creates nor deletes it`);
}
