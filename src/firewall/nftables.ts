/**
 * nsnet's nftables rules, generated from the store. nsnet owns exactly two tables, both named
 * `nsnet` — `inet nsnet` (routing between networks, NAT) and `bridge nsnet` (what container
 * ports may send, and container-to-container traffic on ICC-off networks) — and never touches any
 * other table.
 *
 * Network changes replace both tables in one transaction ("add table; delete table; table {...}"
 * is applied atomically), so the kernel never holds a half-updated ruleset. Container changes only
 * add or delete set elements, so the number of rules grows with networks, never with containers.
 *
 * Both families live in the same tables: the inet table's interface rules (isolation, internal,
 * ICC, NAT-closed networks) hold for IPv4 and IPv6 alike; what is per family is said per family
 * (masquerade and hairpin per subnet, published ports in one map pair per family, a loopback guard
 * each, and in the bridge table port_addrs for IPv4 and port_addrs6 for IPv6).
 *
 * Note on hooks: traffic between two containers of one bridge is switched, not routed; it is seen
 * by the bridge family (and by the inet forward hook only when br_netfilter is on, with the bridge
 * as both input and output interface). Rules below are written to hold either way.
 */
import { ip6ToInt, linkLocalFor } from '../core/ipv6.js';
import { PORT_NAME_PREFIX, type FirewallMapping, type FirewallNetwork, type FirewallPort, type FirewallState } from './model.js';
import type { FirewallPartition } from './model.js';
import { PARTITION_RULES, partitionSetBlock } from './partitions.js';

export const TABLE_NAME = 'nsnet';
const INET = `inet ${TABLE_NAME}`;
const BRIDGE = `bridge ${TABLE_NAME}`;

const q = (s: string): string => `"${s}"`;
const comment = (n: FirewallNetwork): string => `comment "nsnet network ${n.name} ${n.id.slice(0, 12)}"`;

/** A base chain (`head`: its hook), or without a head a regular chain that rules jump to. */
function chain(name: string, head: string | undefined, rules: readonly string[]): string {
  return [`\tchain ${name} {`, ...(head === undefined ? [] : [`\t\t${head}`]), ...rules.map((r) => `\t\t${r}`), '\t}'].join('\n');
}

/** `type T` names a datatype; a raw payload key (no datatype of its own) is declared `typeof EXPR`. */
const declaration = (type: string): string => (type.startsWith('typeof ') ? type : `type ${type}`);

function collection(kind: 'set' | 'map', name: string, type: string, elements: readonly string[]): string {
  const body = [`\t\t${declaration(type)}`];
  if (elements.length > 0) body.push(`\t\telements = { ${elements.join(', ')} }`);
  return [`\t${kind} ${name} {`, ...body, '\t}'].join('\n');
}

const set = (name: string, type: string, elements: readonly string[]): string => collection('set', name, type, elements);
const map = (name: string, type: string, elements: readonly string[]): string => collection('map', name, type, elements);

const isV6 = (address: string): boolean => address.includes(':');

/** Every address of a family: Docker's 0.0.0.0 and [::] are the same as no host address (within the family). */
const isAny = (hostIp: string | undefined): boolean => hostIp === undefined || hostIp === '0.0.0.0' || hostIp === '::';

/**
 * Map elements for published ports, by map name: with a host address, and for every address; one
 * pair of maps per family, a mapping's family being its container address's (a dual-stack
 * container's `-p 8080:80` comes as two mappings, one each).
 */
function mappingElements(mappings: readonly FirewallMapping[]): Record<string, string[]> {
  const out: Record<string, string[]> = { published: [], published_any: [], published6: [], published6_any: [] };
  for (const m of mappings) {
    const to = `${m.containerIp} . ${m.containerPort}`;
    const six = isV6(m.containerIp) ? '6' : '';
    if (isAny(m.hostIp)) out[`published${six}_any`]!.push(`${m.proto} . ${m.hostPort} : ${to}`);
    else out[`published${six}`]!.push(`${m.hostIp} . ${m.proto} . ${m.hostPort} : ${to}`);
  }
  return out;
}

const MAP_TYPES: Record<string, string> = {
  published: 'ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service',
  published_any: 'inet_proto . inet_service : ipv4_addr . inet_service',
  published6: 'ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service',
  published6_any: 'inet_proto . inet_service : ipv6_addr . inet_service',
};

/**
 * Nothing addressed to 127.0.0.0/8 comes in on any interface but `lo`: what the kernel's martian
 * rule does without route_localnet. Bridges have route_localnet on (for ports published on
 * 127.0.0.1), which would let a container reach the host's loopback-only services by sending to
 * 127.0.0.1 itself (CVE-2020-8558, kube-proxy's guard), and the DNAT to a container happens
 * before routing looks at the address at all, so a machine on the uplink's LAN that routes
 * 127.0.0.0/8 to the host would reach `-p 127.0.0.1:...` ports. Dropped at raw priority, before
 * conntrack: the replies of the host's own connections to such a port still carry the gateway's
 * address there (they are turned back into 127.0.0.1 later, by the NAT).
 */
const LOOPBACK_GUARD = 'iifname != "lo" ip daddr 127.0.0.0/8 drop';
/**
 * The same for ::1. The kernel itself drops a packet to or from ::1 that arrives on any other
 * interface (ip6_rcv_core, RFC 4291 2.5.3) before any hook sees it; the rule states the same
 * promise for IPv6 in nsnet's own table, so it holds whatever the kernel's behaviour becomes.
 */
const LOOPBACK_GUARD6 = 'iifname != "lo" ip6 daddr ::1 drop';

/** nft's match on a source address of the family of `cidr` (an IPv6 subnet gets `ip6 saddr`). */
const saddrOf = (cidr: string): string => `${cidr.includes(':') ? 'ip6' : 'ip'} saddr ${cidr}`;

/**
 * Hairpin: a container reaching a published port of its own network through a host address
 * (its own port too, as Docker allows). Masqueraded to the gateway, so the answer goes back
 * through the host's NAT: without it a container talking to itself would get the answer straight
 * from its own address, which its socket does not expect, and a neighbour's answer would be
 * switched past the host. Matched by the source subnet, not `iifname`: a flow DNATed back onto
 * its own bridge is forwarded by the bridge when br_netfilter is on, and br_netfilter's
 * postrouting hook passes no input interface (iifname never matches there).
 */
const hairpinMasquerade = (n: FirewallNetwork, subnet: string): string => `${saddrOf(subnet)} oifname ${q(n.bridge)} ct status dnat masquerade ${comment(n)}`;

/** The network's subnets, IPv4 first: one of them may be absent (IPv6-only, or no IPv6). */
const subnetsOf = (n: FirewallNetwork): string[] => [n.subnet, n.subnet6].filter((s): s is string => s !== null && s !== undefined);

/** Rules for traffic the host routes: published ports, isolation between networks, internal networks, NAT. */
function inetTable(networks: readonly FirewallNetwork[], mappings: readonly FirewallMapping[], partitions: readonly FirewallPartition[] = []): string {
  // Internal networks are sealed first, so not even a published port is a way out of them.
  const sealed: string[] = [];
  // Then published ports: a connection DNATed to a container is wanted, whatever network the
  // client is on (the reply direction carries the same conntrack status).
  const published = ['ct status dnat accept'];
  // Every drop comes before every accept: one network's accept must not let through what
  // another network's drop forbids, whatever order the networks were made in.
  const drops: string[] = [];
  const accepts: string[] = [];
  const postrouting: string[] = [
    // The host reaching a published port (also through 127.0.0.1): the container answers
    // the gateway, so the reply comes back through the host's NAT.
    'oifname @bridges ct status dnat fib saddr type local masquerade',
  ];
  for (const n of networks) {
    const c = comment(n);
    if (n.internal) {
      // No way in or out: only traffic that stays on the bridge (seen here with br_netfilter).
      sealed.push(`iifname ${q(n.bridge)} oifname != ${q(n.bridge)} drop ${c}`);
      sealed.push(`oifname ${q(n.bridge)} iifname != ${q(n.bridge)} drop ${c}`);
      continue;
    }
    for (const subnet of subnetsOf(n)) postrouting.push(hairpinMasquerade(n, subnet));
    // Isolation: nothing from this network's bridge to another nsnet bridge (the other
    // network's own rule covers the opposite direction).
    drops.push(`iifname ${q(n.bridge)} oifname != ${q(n.bridge)} oifname @bridges drop ${c}`);
    if (!n.icc) drops.push(`iifname ${q(n.bridge)} oifname ${q(n.bridge)} drop ${c}`);
    if (n.masquerade) {
      // A NATed network is not reachable by routing from outside: only replies come in.
      drops.push(`oifname ${q(n.bridge)} iifname != ${q(n.bridge)} ct state != { established, related } drop ${c}`);
      // Docker's masquerade rule: from the subnet, leaving by any interface but the bridge,
      // so nsnet need not know which interface is the uplink. For IPv6 this is NAT66, Docker
      // 27's default: the world sees the host's address. With enable_ip_masquerade=false both
      // families are routed: the world sees the container's own address and needs a route back.
      for (const subnet of subnetsOf(n)) postrouting.push(`${saddrOf(subnet)} oifname != ${q(n.bridge)} masquerade ${c}`);
    }
    accepts.push(`iifname ${q(n.bridge)} accept ${c}`);
    accepts.push(`oifname ${q(n.bridge)} accept ${c}`);
  }
  // Partitions first: a partitioned pair is dropped whatever else would let it through.
  const forward = [...PARTITION_RULES, ...sealed, ...published, ...drops, ...accepts];
  const bridges = networks.map((n) => q(n.bridge));
  const maps = mappingElements(mappings);
  // One rule per hook and map, whatever the number of published ports. A lookup in the other
  // family's `_any` map may match (its key has no address), but a NAT statement of one family does
  // nothing to a packet of the other (nft_nat_inet_eval), so the packet goes on to its own rule.
  const dnat = [
    'fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @published',
    'fib daddr type local dnat ip to meta l4proto . th dport map @published_any',
    'fib daddr type local dnat ip6 to ip6 daddr . meta l4proto . th dport map @published6',
    'meta nfproto ipv6 fib daddr type local dnat ip6 to meta l4proto . th dport map @published6_any',
  ];
  return [
    `table ${INET} {`,
    set('bridges', 'ifname', bridges),
    partitionSetBlock(partitions),
    ...Object.keys(MAP_TYPES).map((name) => map(name, MAP_TYPES[name]!, maps[name]!)),
    chain('guard', 'type filter hook prerouting priority raw; policy accept;', [LOOPBACK_GUARD, LOOPBACK_GUARD6]),
    chain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', dnat),
    // The host's own connections to a published port (127.0.0.1 included) are DNATed on output.
    chain('output', 'type nat hook output priority -100; policy accept;', dnat),
    chain('forward', 'type filter hook forward priority filter; policy accept;', forward),
    chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', postrouting),
    '}',
  ].join('\n');
}

/** A 128-bit raw payload's literal: the address as one hex integer (network byte order). */
const rawAddress6 = (address: string): string => `0x${ip6ToInt(address).toString(16).padStart(32, '0')}`;

/**
 * Set elements for container ports, by set name. IPv6: a port may send from its global address
 * (when its network has IPv6), from its link-local address (the kernel derives it from the MAC,
 * which anti-spoofing pins, so a port on an IPv4-only network has one too if the container turns
 * IPv6 back on) and from :: (duplicate address detection, MLD before an address is ready).
 */
function portElements(ports: readonly FirewallPort[]): Record<string, string[]> {
  const out: Record<string, string[]> = { ports: [], port_macs: [], port_addrs: [], port_addrs6: [], port_targets6: [], icc_off_ports: [] };
  for (const p of ports) {
    if (p.network.antiSpoofing) {
      const port = `${q(p.hostIf)} . ${p.mac}`;
      out['ports']!.push(q(p.hostIf));
      out['port_macs']!.push(port);
      // An IPv6-only port has no IPv4 address: every IPv4 and ARP frame from it is dropped.
      if (p.ip !== null) out['port_addrs']!.push(`${port} . ${p.ip}`);
      const own6 = [...(p.ip6 === null || p.ip6 === undefined ? [] : [p.ip6]), linkLocalFor(p.mac)];
      out['port_addrs6']!.push(...[...own6, '::'].map((a) => `${port} . ${a}`));
      out['port_targets6']!.push(...own6.map((a) => `${port} . ${rawAddress6(a)}`));
    }
    if (!p.network.icc) out['icc_off_ports']!.push(q(p.hostIf));
  }
  return out;
}

/** The target address of a neighbour solicitation or advertisement: ICMPv6 bytes 8-23. */
const ND_TARGET = '@th,64,128';

const SET_TYPES: Record<string, string> = {
  ports: 'ifname',
  port_macs: 'ifname . ether_addr',
  port_addrs: 'ifname . ether_addr . ipv4_addr',
  port_addrs6: 'ifname . ether_addr . ipv6_addr',
  // nft 1.0.6 has no keyword for the ND target (`icmpv6 taddr` came later): a raw payload, whose
  // set can only be declared by the expression it is matched with.
  port_targets6: `typeof iifname . ether saddr . ${ND_TARGET}`,
  icc_off_ports: 'ifname',
};

/**
 * What a container may never send, whatever its network's options: IPv6 router advertisements
 * and redirects (one container's RA would give its neighbours, and the host if IPv6 is on there,
 * a SLAAC address and a default route through it: the class of CVE-2020-13401) and DHCPv6 server
 * replies. On an IPv4-only network IPv6 is off on the bridge and the container interfaces; this
 * holds also for a neighbour that turned IPv6 back on, and on an IPv6 network it is what keeps
 * the gateway the only router. `icmpv6` walks extension headers (nft's dependency is
 * `meta l4proto`, not the next-header field).
 */
const IPV6_GUARD = [`icmpv6 type { nd-router-advert, nd-redirect } drop`, `udp sport 547 udp dport 546 drop`];

/**
 * IPv6 frames from a container port (the chain `from_port6`): the IPv6 guard for every container
 * port, then IPv6 anti-spoofing for the anti-spoofed ones — the source address is one of the
 * port's own (port_addrs6), and a neighbour advertisement may only advertise one of them (else a
 * container could claim a neighbour's or the gateway's address: NDP spoofing, the IPv6 form of
 * ARP spoofing). A neighbour solicitation asks about someone else's address by design; only one
 * sent from :: (duplicate address detection) must name the port's own, or it would make a
 * neighbour give up the address it is bringing up.
 *
 * A port without anti-spoofing `return`s to the calling chain. An anti-spoofed port's frame that
 * passed the source check is accepted here: port_addrs6's key holds the source MAC too, so the
 * calling chain's MAC check would only repeat it (and its two lookups are most of an IPv6
 * frame's cost); a frame that is not ICMPv6 (the bulk: TCP, UDP) has nothing more to be checked.
 */
const FROM_PORT6 = [
  `iifname != "${PORT_NAME_PREFIX}*" return`,
  ...IPV6_GUARD,
  'iifname != @ports return',
  'iifname . ether saddr . ip6 saddr != @port_addrs6 drop',
  'meta l4proto != ipv6-icmp accept',
  `icmpv6 type nd-neighbor-advert iifname . ether saddr . ${ND_TARGET} != @port_targets6 drop`,
  `ip6 saddr :: icmpv6 type nd-neighbor-solicit iifname . ether saddr . ${ND_TARGET} != @port_targets6 drop`,
  'accept',
];

/**
 * Frames entering the bridge from a container port. A container with CAP_NET_ADMIN in its own
 * namespace can change its address or MAC; anti-spoofing drops every frame whose source MAC,
 * source address or ARP sender is not the one nsnet gave that port, before any other container,
 * the host or the world can see it. IPv6 frames go through their own chain first (FROM_PORT6):
 * one comparison of the EtherType is all an IPv4 frame pays for IPv6.
 */
function bridgeTable(ports: readonly FirewallPort[], partitions: readonly FirewallPartition[] = []): string {
  const elements = portElements(ports);
  const prerouting = [
    'ether type ip6 jump from_port6',
    'iifname != @ports accept',
    'iifname . ether saddr != @port_macs drop',
    'ether type arp iifname . arp saddr ether . arp saddr ip != @port_addrs drop',
    'ether type ip iifname . ether saddr . ip saddr != @port_addrs drop',
  ];
  return [
    `table ${BRIDGE} {`,
    ...Object.keys(SET_TYPES).map((name) => set(name, SET_TYPES[name]!, elements[name]!)),
    partitionSetBlock(partitions),
    chain('prerouting', 'type filter hook prerouting priority filter; policy accept;', prerouting),
    chain('from_port6', undefined, FROM_PORT6),
    // ICC off: nothing switched from such a port to another port; the host (the gateway) is
    // reached through the bridge's input path, not forwarded, so it stays reachable.
    chain('forward', 'type filter hook forward priority filter; policy accept;', [...PARTITION_RULES, 'iifname @icc_off_ports drop']),
    '}',
  ].join('\n');
}

const RESET = [`add table ${INET}`, `delete table ${INET}`, `add table ${BRIDGE}`, `delete table ${BRIDGE}`];

/** The transaction that makes the kernel hold exactly this state; no networks removes the tables. */
export function replaceScript(state: FirewallState): string {
  if (state.networks.length === 0) return RESET.join('\n') + '\n';
  return [...RESET, inetTable(state.networks, state.mappings ?? [], state.partitions ?? []), bridgeTable(state.ports, state.partitions ?? [])].join('\n') + '\n';
}

function elementCommands(verb: 'add' | 'delete', ports: readonly FirewallPort[]): string[] {
  const elements = portElements(ports);
  return Object.entries(elements)
    .filter(([, els]) => els.length > 0)
    .map(([name, els]) => `${verb} element ${BRIDGE} ${name} { ${els.join(', ')} }`);
}

/** Admit container ports (one transaction); empty when no port needs a rule. */
export function addPortsScript(ports: readonly FirewallPort[]): string {
  const lines = elementCommands('add', ports);
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

/**
 * Forget container ports. Adding an element that exists is a no-op and deleting one that does
 * not is an error, so each delete is preceded by an add: the transaction succeeds whether or not
 * the elements are still there (nft 1.0.6 has no `destroy element`).
 */
export function removePortsScript(ports: readonly FirewallPort[]): string {
  const adds = elementCommands('add', ports);
  if (adds.length === 0) return '';
  // After a reboot the table may be gone while the records remain: declaring it and its sets
  // (a no-op when they exist) lets the removal succeed either way.
  const declare = [`add table ${BRIDGE}`, ...Object.entries(SET_TYPES).map(([name, type]) => `add set ${BRIDGE} ${name} { ${declaration(type)}; }`)];
  return [...declare, ...adds, ...elementCommands('delete', ports)].join('\n') + '\n';
}

function mappingCommands(verb: 'add' | 'delete', mappings: readonly FirewallMapping[]): string[] {
  return Object.entries(mappingElements(mappings))
    .filter(([, els]) => els.length > 0)
    .map(([name, els]) => `${verb} element ${INET} ${name} { ${verb === 'add' ? els.join(', ') : els.map((e) => e.split(' : ')[0]).join(', ')} }`);
}

/** Publish ports: one map element each, one transaction. */
export function addMappingsScript(mappings: readonly FirewallMapping[]): string {
  const lines = mappingCommands('add', mappings);
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

/** Withdraw published ports; like removePortsScript, succeeds whether or not they are there. */
export function removeMappingsScript(mappings: readonly FirewallMapping[]): string {
  const adds = mappingCommands('add', mappings);
  if (adds.length === 0) return '';
  const declare = [`add table ${INET}`, ...Object.entries(MAP_TYPES).map(([name, type]) => `add map ${INET} ${name} { type ${type}; }`)];
  return [...declare, ...adds, ...mappingCommands('delete', mappings)].join('\n') + '\n';
}
