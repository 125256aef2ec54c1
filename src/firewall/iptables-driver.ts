/**
 * The iptables driver: the compatibility path for hosts where nftables cannot be used. Same
 * behaviour as the nftables driver (isolation between networks, internal networks, ICC off,
 * routed networks, NAT networks closed to routing from outside, anti-spoofing of container
 * ports), written as chains nsnet owns and one jump into each from a built-in chain:
 *
 *   iptables filter  FORWARD     → NSNET-FORWARD   (→ NSNET-ISOLATION)
 *   iptables nat     POSTROUTING → NSNET-POSTROUTING
 *   iptables nat     PREROUTING  → NSNET-DNAT      (published ports; only for local destinations,
 *                    OUTPUT      → NSNET-DNAT       `-m addrtype --dst-type LOCAL`, as Docker does)
 *   iptables raw     PREROUTING  → NSNET-GUARD     (127.0.0.0/8 only from lo)
 *   ebtables nat     PREROUTING  → NSNET-PORTS     (what a container port may send)
 *                                → NSNET-IPV6-GUARD (no IPv6 RA, redirect, DHCPv6 reply from any port)
 *   ebtables filter  FORWARD     → NSNET-BRIDGED   (ICC off: nothing switched between ports)
 *
 * IPv6 (while a network has an IPv6 subnet): the same chains under the same names in ip6tables —
 * filter (the interface rules hold for both families), nat (NAT66 masquerade, hairpin, the host's
 * own connections, DNAT of published ports to `[ADDR]:PORT`) and raw (::1 only from lo). The
 * bridge part is ebtables for both families: a port's IPv6 source must be one of its own (global,
 * link-local from its MAC, or :: for duplicate address detection). ebtables cannot read a
 * neighbour advertisement's target address, so the NDP-spoofing check (an NA for a neighbour's
 * address) is the nftables driver's alone.
 *
 * nsnet never flushes, reorders or edits another chain or rule: each table is written by one
 * `*-restore --noflush` run declaring only nsnet's chains (see kernel/xtables.ts). NSNET-FORWARD
 * is the same chain the nftables driver keeps for coexistence (firewall/iptables-compat.ts): a
 * host runs one driver at a time (the store records which), and each replaces the chain whole.
 *
 * Every iptables rule in nsnet's chains carries `-m comment --comment "nsnet network NAME"`
 * (published ports and the loopback guard: what they are, see below). ebtables has no comment
 * match: its rules are nsnet's by the chain they are in, and each port rule names its container
 * port (`-i nsv...`), which is how a port's rules are found and removed.
 *
 * Rule growth: iptables rules grow with networks, and NSNET-DNAT holds one rule per published port
 * (the nftables driver keeps them as map elements behind one rule; iptables has no such maps, so
 * every new connection to a local address walks NSNET-DNAT). ebtables rules grow with containers
 * (four per anti-spoofed port, one per port on an ICC-off network): unlike nftables, ebtables has
 * no sets keyed by interface. This is the accepted cost of the compatibility driver. Publishing or
 * withdrawing ports does not rewrite the chain: one restore run adds or deletes just their rules.
 *
 * Published ports (the nftables driver's behaviour, see firewall/nftables.ts):
 *   - nat NSNET-DNAT: `[-d HOST_IP] -p PROTO --dport HP -j DNAT --to-destination CIP:CP`, one per
 *     mapping, commented `nsnet publish HOST_IP:HP/PROTO to CIP:CP` (+ ` (container NAME)` when
 *     the mapping names it); the comment is how the driver finds a mapping's rule again. Reached
 *     from PREROUTING (other machines, containers) and OUTPUT (the host itself, 127.0.0.1 too:
 *     route_localnet=1 on the bridges lets it be routed there), only for local destinations.
 *   - filter NSNET-FORWARD: DNATed connections to and from a network's bridge are accepted before
 *     nsnet's isolation and NAT-closed drops (a published port is reachable from the world and
 *     from other networks), but after an internal network's drops (nothing gets in or out of an
 *     internal network, published port or not). Only nsnet's bridges: a foreign DNAT (Docker's)
 *     is left to the host's own rules.
 *   - nat NSNET-POSTROUTING, per network: masquerade DNATed connections the host makes to the
 *     bridge (from 127.0.0.1 or its own addresses) and hairpin ones (from the network's subnet
 *     back out of its own bridge: `-i` cannot be matched in POSTROUTING, the subnet stands in for
 *     it). A client from the world keeps its own source address.
 *
 * Which traffic each family sees: traffic the host routes (between networks, to and from the
 * world) passes iptables FORWARD with the bridges as -i/-o. Traffic between two ports of one
 * bridge is switched: ebtables FORWARD sees it always, iptables FORWARD only with br_netfilter
 * (as -i BR -o BR). Frames from a port to the host (the gateway; routed traffic starts there)
 * pass ebtables INPUT. The rules below hold either way.
 *
 * Anti-spoofing sits in the ebtables nat table's PREROUTING (priority -300), the first thing a
 * frame from a port meets: with br_netfilter the bridge hands IPv4 frames to the IP prerouting
 * hooks (conntrack, other tools' raw/mangle rules) before the ebtables filter chains run, and a
 * forged packet must not even reach those. (nat chains may DROP; libvirt's nwfilter does the same.)
 */
import { NsnetError } from '../core/errors.js';
import type { Step, XtablesChains, XtablesJump } from '../plan/steps.js';
import type { FirewallDriver } from './driver.js';
import { linkLocalFor } from '../core/ipv6.js';
import { COMPAT, COMPAT_CHAIN } from './iptables-compat.js';
import type { FirewallPartition } from './model.js';
import { iptablesPartitionSteps } from './partitions.js';
import { PORT_NAME_PREFIX, type FirewallMapping, type FirewallNetwork, type FirewallPort, type FirewallState } from './model.js';

/** What the driver needs to know about the host (probed lazily by the caller). */
export interface IptablesHostFacts {
  /** iptables, iptables-save and iptables-restore are installed (Debian's package brings ip6tables too). */
  iptables: boolean;
  /** ebtables for port rules: the nf_tables variant ('ok'), absent, or the legacy 2.0 one. */
  ebtables: 'ok' | 'missing' | 'legacy';
}

export const FORWARD_CHAIN = COMPAT_CHAIN; // NSNET-FORWARD, shared with the nftables driver's compat chain
export const ISOLATION_CHAIN = 'NSNET-ISOLATION';
export const POSTROUTING_CHAIN = 'NSNET-POSTROUTING';
export const DNAT_CHAIN = 'NSNET-DNAT';
export const PORTS_CHAIN = 'NSNET-PORTS';
export const BRIDGED_CHAIN = 'NSNET-BRIDGED';
export const GUARD_CHAIN = 'NSNET-GUARD';
export const IPV6_GUARD_CHAIN = 'NSNET-IPV6-GUARD';

export const FILTER: XtablesChains = {
  tool: 'iptables',
  table: 'filter',
  chains: [FORWARD_CHAIN, ISOLATION_CHAIN],
  jumps: COMPAT.jumps,
};
/** Published ports: only connections to one of the host's own addresses (Docker's jump). */
const LOCAL_DST = '-m addrtype --dst-type LOCAL';
const DNAT_JUMPS: readonly XtablesJump[] = [
  { from: 'PREROUTING', to: DNAT_CHAIN, match: LOCAL_DST },
  { from: 'OUTPUT', to: DNAT_CHAIN, match: LOCAL_DST },
];
export const NAT: XtablesChains = {
  tool: 'iptables',
  table: 'nat',
  chains: [POSTROUTING_CHAIN, DNAT_CHAIN],
  jumps: [{ from: 'POSTROUTING', to: POSTROUTING_CHAIN }, ...DNAT_JUMPS],
};
/**
 * Nothing addressed to 127.0.0.0/8 comes in on any interface but lo, as the kernel's martian rule
 * would have it without route_localnet. Bridges have route_localnet on (for ports published on
 * 127.0.0.1), which would let a container reach the host's loopback-only services by sending to
 * 127.0.0.1 itself (CVE-2020-8558); and a published port is DNATed before routing looks at the
 * address, so a machine on the uplink's LAN routing 127.0.0.0/8 to the host would reach
 * `-p 127.0.0.1:...` ports. Dropped in the raw table, before conntrack: replies to the host's own
 * connections to such ports still carry the gateway's address there.
 */
export const RAW: XtablesChains = { tool: 'iptables', table: 'raw', chains: [GUARD_CHAIN], jumps: [{ from: 'PREROUTING', to: GUARD_CHAIN }] };

export const LOOPBACK_GUARD_RULE = `-A ${GUARD_CHAIN} -d 127.0.0.0/8 ! -i lo -m comment --comment "nsnet: 127.0.0.0/8 only from lo" -j DROP`;
/** The same for ::1 (the kernel drops it too, before any hook: see firewall/nftables.ts). */
export const LOOPBACK_GUARD_RULE6 = `-A ${GUARD_CHAIN} -d ::1/128 ! -i lo -m comment --comment "nsnet: ::1 only from lo" -j DROP`;

/**
 * The loopback guard, written as iptables-save prints it (`-d` before `! -i`), while nsnet has
 * networks (for IPv6: networks with IPv6). Null when there is none: the raw table is then not
 * touched at all.
 */
export function guardRules(networks: readonly FirewallNetwork[], family: Family = 4): string[] | null {
  if (family === 6) return hasIpv6(networks) ? [LOOPBACK_GUARD_RULE6] : null;
  return networks.length === 0 ? null : [LOOPBACK_GUARD_RULE];
}

/** NSNET-DNAT alone: what publishing and withdrawing ports touch. */
export const PUBLISHED: XtablesChains = { tool: 'iptables', table: 'nat', chains: [DNAT_CHAIN], jumps: DNAT_JUMPS };

/** The same chains and jumps in ip6tables (IPv6: NAT66, published ports over IPv6, ::1 guard). */
const in6 = (spec: XtablesChains): XtablesChains => ({ ...spec, tool: 'ip6tables' });
export const FILTER6 = in6(FILTER);
export const NAT6 = in6(NAT);
export const RAW6 = in6(RAW);
export const PUBLISHED6 = in6(PUBLISHED);

export type Family = 4 | 6;
const isV6 = (address: string): boolean => address.includes(':');
const familyOf = (m: FirewallMapping): Family => (isV6(m.containerIp) ? 6 : 4);
/** A network's subnet of one family (null: the network has none). */
const subnetOf = (n: FirewallNetwork, family: Family): string | null => (family === 4 ? n.subnet : (n.subnet6 ?? null));
/** IPv6 rules exist while some network has an IPv6 subnet. */
const hasIpv6 = (networks: readonly FirewallNetwork[]): boolean => networks.some((n) => subnetOf(n, 6) !== null);
/** Anti-spoofing: every frame from a container port, before anything else sees it. */
export const PORTS: XtablesChains = { tool: 'ebtables', table: 'nat', chains: [PORTS_CHAIN], jumps: [{ from: 'PREROUTING', to: PORTS_CHAIN }] };
/** ICC off: frames switched from a port to another port of its bridge. */
export const BRIDGED: XtablesChains = { tool: 'ebtables', table: 'filter', chains: [BRIDGED_CHAIN], jumps: [{ from: 'FORWARD', to: BRIDGED_CHAIN }] };
/** What no container port may send (IPv6 RAs, redirects, DHCPv6 replies), as it enters the bridge. */
export const IPV6_GUARD: XtablesChains = { tool: 'ebtables', table: 'nat', chains: [IPV6_GUARD_CHAIN], jumps: [{ from: 'PREROUTING', to: IPV6_GUARD_CHAIN }] };

/**
 * The IPv6 guard (the nftables driver's, see firewall/nftables.ts): router advertisements and
 * redirects from a container would give its neighbours (and the host, where IPv6 is on) a SLAAC
 * address and a route through it; DHCPv6 server replies likewise. Every container port, whatever
 * its network's options (`-i nsv+`: ebtables-nft has no interface sets, and its `--logical-in`
 * needs the kernel's bridge meta support). The ip6 match walks extension headers. Written as
 * ebtables-save prints it. Null without networks.
 */
export function ipv6GuardRules(networks: readonly FirewallNetwork[]): string[] | null {
  if (networks.length === 0) return null;
  const from = `-A ${IPV6_GUARD_CHAIN} -p IPv6 -i ${PORT_NAME_PREFIX}+`;
  return [
    `${from} --ip6-proto ipv6-icmp --ip6-icmp-type router-advertisement -j DROP`,
    `${from} --ip6-proto ipv6-icmp --ip6-icmp-type redirect -j DROP`,
    `${from} --ip6-proto udp --ip6-sport 547 --ip6-dport 546 -j DROP`,
  ];
}

const comment = (n: FirewallNetwork): string => `-m comment --comment "nsnet network ${n.name}"`;

/**
 * nsnet's filter rules: first every drop (isolation, internal, ICC off, NAT networks closed to
 * new connections from outside), then the accepts that keep nsnet's traffic flowing when the
 * FORWARD policy is DROP. All drops come first so that no network's accept can let through
 * what another network's drop forbids. Null when there are no networks.
 */
export function filterRules(networks: readonly FirewallNetwork[]): string[] | null {
  if (networks.length === 0) return null;
  const internal: string[] = [];
  const published: string[] = [];
  const drops: string[] = [];
  const accepts: string[] = [];
  const isolation: string[] = [];
  const fwd = (spec: string, n: FirewallNetwork, target: string): string => `-A ${FORWARD_CHAIN} ${spec} ${comment(n)} -j ${target}`;
  for (const n of networks) {
    const br = n.bridge;
    // Whatever leaves another network's bridge for this one is dropped (Docker's isolation stage 2).
    isolation.push(`-A ${ISOLATION_CHAIN} -o ${br} ${comment(n)} -j DROP`);
    if (n.internal) {
      // No way in or out: only traffic that stays on the bridge (seen here with br_netfilter).
      internal.push(fwd(`-i ${br} ! -o ${br}`, n, 'DROP'), fwd(`-o ${br} ! -i ${br}`, n, 'DROP'));
    } else {
      // Published ports: a connection DNATed to this bridge is wanted, whatever network the
      // client is on; its replies (same conntrack status) leave the bridge.
      published.push(fwd(`-o ${br} -m conntrack --ctstate DNAT`, n, 'ACCEPT'), fwd(`-i ${br} -m conntrack --ctstate DNAT`, n, 'ACCEPT'));
      drops.push(fwd(`-i ${br} ! -o ${br}`, n, ISOLATION_CHAIN));
    }
    if (!n.icc) drops.push(fwd(`-i ${br} -o ${br}`, n, 'DROP'));
    if (!n.internal && n.masquerade) {
      // A NATed network is not reachable by routing from outside: only replies come in.
      drops.push(fwd(`-o ${br} ! -i ${br} -m conntrack ! --ctstate RELATED,ESTABLISHED`, n, 'DROP'));
    }
    if (n.internal) {
      accepts.push(fwd(`-i ${br} -o ${br}`, n, 'ACCEPT'));
    } else {
      accepts.push(fwd(`-i ${br}`, n, 'ACCEPT'), fwd(`-o ${br}`, n, 'ACCEPT'));
    }
  }
  return [...internal, ...published, ...drops, ...accepts, ...isolation];
}

/**
 * nsnet's nat rules: per network, Docker's masquerade rule (from the subnet, leaving by any
 * interface but the bridge, so nsnet need not know which interface is the uplink) and the two
 * published-port masquerades (the host's own connections, hairpin); then one DNAT rule per
 * published port. Null when there is nothing (internal networks only): the nat table is then not
 * touched at all.
 */
export function natRules(networks: readonly FirewallNetwork[], mappings: readonly FirewallMapping[] = [], family: Family = 4): string[] | null {
  const post = (spec: string, n: FirewallNetwork): string => `-A ${POSTROUTING_CHAIN} ${spec} ${comment(n)} -j MASQUERADE`;
  const rules: string[] = [];
  for (const n of networks) {
    const subnet = subnetOf(n, family);
    // No subnet of this family: no container of the network has an address of it.
    if (n.internal || subnet === null) continue;
    // For IPv6 this is NAT66 (Docker 27's default); enable_ip_masquerade=false routes both families.
    if (n.masquerade) rules.push(post(`-s ${subnet} ! -o ${n.bridge}`, n));
    // The host reaching a published port (127.0.0.1 or ::1 included): the container answers the gateway.
    rules.push(post(`-o ${n.bridge} -m addrtype --src-type LOCAL -m conntrack --ctstate DNAT`, n));
    // Hairpin: a container reaching a published port of its own network through a host address;
    // without NAT the answer would be switched straight back to it and dropped.
    rules.push(post(`-s ${subnet} -o ${n.bridge} -m conntrack --ctstate DNAT`, n));
  }
  rules.push(...dnatRules(mappings.filter((m) => familyOf(m) === family)));
  return rules.length === 0 ? null : rules;
}

/** ip6tables' filter rules: the interface rules of filterRules, while some network has IPv6. */
export function filterRules6(networks: readonly FirewallNetwork[]): string[] | null {
  return hasIpv6(networks) ? filterRules(networks) : null;
}

/** ip6tables' nat rules (NAT66, hairpin, published ports over IPv6), while some network has IPv6. */
export function natRules6(networks: readonly FirewallNetwork[], mappings: readonly FirewallMapping[] = []): string[] | null {
  return hasIpv6(networks) ? natRules(networks, mappings, 6) : null;
}

/** 0.0.0.0, :: (or none) is every address of the mapping's family: no `-d`. */
const hostAddress = (m: FirewallMapping): string | undefined => (m.hostIp === undefined || m.hostIp === '0.0.0.0' || m.hostIp === '::' ? undefined : m.hostIp);

/** ADDR:PORT, with an IPv6 address in brackets (`[::1]:8081`), as DNAT's --to-destination and Docker write it. */
const withPort = (address: string, port: number): string => (isV6(address) ? `[${address}]:${port}` : `${address}:${port}`);

/** What a published port's rule is found by: its comment, up to the optional container name. */
export function mappingKey(m: FirewallMapping): string {
  const any = familyOf(m) === 6 ? '::' : '0.0.0.0';
  return `nsnet publish ${withPort(hostAddress(m) ?? any, m.hostPort)}/${m.proto} to ${withPort(m.containerIp, m.containerPort)}`;
}

/** xt_comment holds at most 255 characters. */
const COMMENT_MAX = 255;

/**
 * One DNAT rule per published port, written as iptables-save prints it (`-d A/32`, the implicit
 * protocol match named) so that `--dry-run` shows what the kernel will hold.
 */
export function dnatRules(mappings: readonly FirewallMapping[]): string[] {
  return mappings.map((m) => {
    const host = hostAddress(m);
    const name = m.container === undefined ? '' : ` (container ${m.container})`;
    const text = `${mappingKey(m)}${name}`.slice(0, COMMENT_MAX);
    return [
      `-A ${DNAT_CHAIN}`,
      ...(host === undefined ? [] : [`-d ${host}/${isV6(host) ? 128 : 32}`]),
      `-p ${m.proto} -m ${m.proto} --dport ${m.hostPort}`,
      `-m comment --comment "${text}"`,
      `-j DNAT --to-destination ${withPort(m.containerIp, m.containerPort)}`,
    ].join(' ');
  });
}

const needsPortRules = (n: Pick<FirewallNetwork, 'icc' | 'antiSpoofing'>): boolean => n.antiSpoofing || !n.icc;

/**
 * A container port's anti-spoofing rules. A container has CAP_NET_ADMIN in its own namespace and
 * can change its address or MAC: every frame whose source MAC, source address or ARP sender is
 * not the one nsnet gave that port is dropped on entry, before another container, the host or
 * the world sees it.
 */
export function spoofRules(ports: readonly FirewallPort[]): string[] {
  return ports.filter((p) => p.network.antiSpoofing).flatMap((p) => [...spoofRules4(p), ...spoofRules6(p)]);
}

/** IPv4 and ARP: its own address only; a port without one (IPv6-only network) sends neither. */
function spoofRules4(p: FirewallPort): string[] {
  const from = `-A ${PORTS_CHAIN} -i ${p.hostIf}`;
  if (p.ip === null) return [`${from} -s ! ${p.mac} -j DROP`, `${from} -p IPv4 -j DROP`, `${from} -p ARP -j DROP`];
  return [
    `${from} -s ! ${p.mac} -j DROP`,
    `${from} -p IPv4 --ip-src ! ${p.ip} -j DROP`,
    `${from} -p ARP --arp-ip-src ! ${p.ip} -j DROP`,
    `${from} -p ARP --arp-mac-src ! ${p.mac} -j DROP`,
  ];
}

/**
 * IPv6: the port's global address, its link-local one (from its MAC, which the first rule pins)
 * or :: (duplicate address detection), else dropped. ebtables negates one address per rule, so
 * the allowed sources RETURN (the port's earlier rules have passed) and the last rule drops.
 */
function spoofRules6(p: FirewallPort): string[] {
  const from = `-A ${PORTS_CHAIN} -i ${p.hostIf} -p IPv6`;
  const own = [...(p.ip6 === null || p.ip6 === undefined ? [] : [p.ip6]), linkLocalFor(p.mac), '::'];
  return [...own.map((a) => `${from} --ip6-src ${a} -j RETURN`), `${from} -j DROP`];
}

/**
 * ICC off: nothing is switched from the port to another port. The host (the gateway) is reached
 * through the bridge's INPUT, not FORWARD, so it stays reachable, and so does the world.
 */
export function iccRules(ports: readonly FirewallPort[]): string[] {
  return ports.filter((p) => !p.network.icc).map((p) => `-A ${BRIDGED_CHAIN} -i ${p.hostIf} -j DROP`);
}

/** Full content of nsnet's ebtables chains for a state; null when no network needs them. */
export function spoofTable(state: FirewallState): string[] | null {
  return state.networks.some((n) => n.antiSpoofing) ? spoofRules(state.ports) : null;
}
export function iccTable(state: FirewallState): string[] | null {
  return state.networks.some((n) => !n.icc) ? iccRules(state.ports) : null;
}

function ebtablesError(facts: IptablesHostFacts, what: string, net: Pick<FirewallNetwork, 'icc' | 'antiSpoofing'>): NsnetError {
  const why = facts.ebtables === 'legacy' ? 'the installed ebtables is the legacy one (nsnet needs the nf_tables variant, ebtables-nft)' : 'ebtables is not installed';
  const needs = [net.antiSpoofing ? 'anti-spoofing' : '', net.icc ? '' : 'ICC off'].filter(Boolean).join(' and ');
  const without = [net.antiSpoofing ? '-o nsnet.bridge.anti_spoofing=false' : '', net.icc ? '' : 'without -o com.docker.network.bridge.enable_icc=false'].filter(Boolean).join(' ');
  const fix = facts.ebtables === 'legacy' ? 'update-alternatives --set ebtables /usr/sbin/ebtables-nft' : "apt-get install -y iptables (Debian's iptables package brings ebtables-nft)";
  return new NsnetError('FIREWALL', `${what} needs ebtables (${needs} filter bridge ports), but ${why}`, {
    hint: `${fix}, or create the network ${without}`,
  });
}

function xtablesStep(spec: XtablesChains, rules: readonly string[] | null, undoRules: readonly string[] | null, summary: string): Step {
  return { kind: 'xtables-restore', ...spec, rules, undoRules, summary };
}

export function iptablesDriver(facts: () => IptablesHostFacts): FirewallDriver {
  let known: IptablesHostFacts | undefined;
  const host = (): IptablesHostFacts => (known ??= facts());
  return {
    name: 'iptables',
    replace(before: FirewallState, after: FirewallState, summary: string): Step[] {
      const f = host();
      const removing = after.networks.length === 0;
      if (!removing && !f.iptables) {
        throw new NsnetError('FIREWALL', 'the iptables firewall driver needs iptables, iptables-save and iptables-restore', {
          hint: 'apt-get install -y iptables, or use the nftables driver (--firewall-driver nftables)',
        });
      }
      if (after.networks.some(needsPortRules) && f.ebtables !== 'ok') {
        const n = after.networks.find(needsPortRules)!;
        throw ebtablesError(f, `network ${n.name}`, n);
      }
      const steps: Step[] = [];
      // A table nsnet has nothing in, before or after, is left alone; except when everything is
      // removed (reset): then each table is cleaned whatever the records say, and a table without
      // nsnet's chains costs one read.
      const add = (spec: XtablesChains, r: readonly string[] | null, u: readonly string[] | null): void => {
        if (r === null && u === null && !removing) return;
        steps.push(xtablesStep(spec, r, u, summary));
      };
      if (f.iptables) {
        add(FILTER, filterRules(after.networks), filterRules(before.networks));
        // Published ports are carried over: a network change rewrites NSNET-DNAT whole.
        add(NAT, natRules(after.networks, after.mappings ?? []), natRules(before.networks, before.mappings ?? []));
        add(RAW, guardRules(after.networks), guardRules(before.networks));
        // ip6tables only while a network has IPv6 (or when everything is removed): a host whose
        // networks are IPv4-only never runs it.
        add(FILTER6, filterRules6(after.networks), filterRules6(before.networks));
        add(NAT6, natRules6(after.networks, after.mappings ?? []), natRules6(before.networks, before.mappings ?? []));
        add(RAW6, guardRules(after.networks, 6), guardRules(before.networks, 6));
      }
      // Without a usable ebtables (and no network that needs port rules) the IPv6 guard is not
      // made: IPv6 is still off on the bridges and container interfaces (engine/plans.ts).
      if (f.ebtables === 'ok') {
        add(PORTS, spoofTable(after), spoofTable(before));
        add(BRIDGED, iccTable(after), iccTable(before));
        add(IPV6_GUARD, ipv6GuardRules(after.networks), ipv6GuardRules(before.networks));
      }
      if (f.iptables) {
        // replace(state, state) is the firewall regenerated from the records (recovery, start
        // after a reboot, check --fix): it also removes a partitions chain no record wants (one
        // a crash left behind), as a reset does; ip6tables' as ip6tables' other chains: while a
        // network has IPv6, or when everything is removed.
        const mode = removing || before === after ? 'reset' : 'replace';
        const resetIp6 = removing || filterRules6(after.networks) !== null;
        steps.push(...iptablesPartitionSteps(before.partitions ?? [], after.partitions ?? [], { bridged: f.ebtables === 'ok', mode, summary, resetIp6 }));
      }
      return steps;
    },
    addPorts(ports: readonly FirewallPort[], summary: string): Step[] {
      const relevant = ports.filter((p) => needsPortRules(p.network));
      if (relevant.length === 0) return [];
      const f = host();
      if (f.ebtables !== 'ok') throw ebtablesError(f, `container port ${relevant[0]!.hostIf}`, relevant[0]!.network);
      return portSteps('add', relevant, summary);
    },
    removePorts(ports: readonly FirewallPort[], summary: string): Step[] {
      const relevant = ports.filter((p) => needsPortRules(p.network));
      // Without a usable ebtables no port rule can have been made.
      if (relevant.length === 0 || host().ebtables !== 'ok') return [];
      return portSteps('remove', relevant, summary);
    },
    addMappings(mappings: readonly FirewallMapping[], summary: string): Step[] {
      if (mappings.length === 0) return [];
      if (!host().iptables) {
        throw new NsnetError('FIREWALL', 'the iptables firewall driver needs iptables, iptables-save and iptables-restore', {
          hint: 'apt-get install -y iptables, or use the nftables driver (--firewall-driver nftables)',
        });
      }
      return mappingSteps('add', mappings, summary);
    },
    removeMappings(mappings: readonly FirewallMapping[], summary: string): Step[] {
      // Without iptables no mapping rule can have been made.
      if (mappings.length === 0 || !host().iptables) return [];
      return mappingSteps('remove', mappings, summary);
    },
    updatePartitions(before: readonly FirewallPartition[], after: readonly FirewallPartition[], summary: string): Step[] {
      const f = host();
      if (after.some((p) => p.pairs.length > 0) && (!f.iptables || f.ebtables !== 'ok')) {
        throw new NsnetError('FIREWALL', `a partition with the iptables driver needs iptables and ebtables (nf_tables variant): ${!f.iptables ? 'iptables is not installed' : f.ebtables === 'legacy' ? 'the installed ebtables is the legacy one' : 'ebtables is not installed'}`, {
          hint: "apt-get install -y iptables (Debian's package brings ebtables-nft), or use the nftables driver",
        });
      }
      if (!f.iptables) return [];
      return iptablesPartitionSteps(before, after, { bridged: f.ebtables === 'ok', mode: 'update', summary });
    },
  };
}

/** Published ports in or out of NSNET-DNAT, found by their comments; one restore run per family. */
function mappingSteps(op: 'add' | 'remove', mappings: readonly FirewallMapping[], summary: string): Step[] {
  const steps: Step[] = [];
  for (const [family, spec] of [
    [4, PUBLISHED],
    [6, PUBLISHED6],
  ] as const) {
    const mine = mappings.filter((m) => familyOf(m) === family);
    if (mine.length === 0) continue;
    steps.push({
      kind: 'iptables-rules',
      // Absent for iptables: the steps journalled before IPv6 came carry no tool.
      ...(spec.tool === 'ip6tables' ? { tool: 'ip6tables' as const } : {}),
      op,
      table: spec.table,
      chains: spec.chains,
      jumps: spec.jumps,
      keys: mine.map(mappingKey),
      rules: dnatRules(mine),
      summary,
    });
  }
  return steps;
}

/** One step per ebtables table that has rules for these ports (most networks: only nat). */
function portSteps(op: 'add' | 'remove', ports: readonly FirewallPort[], summary: string): Step[] {
  const steps: Step[] = [];
  for (const [spec, rules] of [
    [PORTS, spoofRules(ports)],
    [BRIDGED, iccRules(ports)],
  ] as const) {
    if (rules.length === 0) continue;
    const ifaces = [...new Set(rules.map((r) => r.split(' ')[3]!))];
    steps.push({ kind: 'ebtables-ports', op, table: spec.table, chains: spec.chains, jumps: spec.jumps, baseRules: [], ifaces, rules, summary });
  }
  return steps;
}
