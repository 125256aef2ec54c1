import type { FirewallDriver } from '../firewall/driver.js';
import type { FirewallMapping, FirewallNetwork, FirewallPort, FirewallState } from '../firewall/model.js';
import type { Step } from '../plan/steps.js';
import type { LinkDriver } from './vlan-drivers.js';

/** What a plan needs to know about a network: already validated, addresses already chosen. */
export interface NetworkSpec extends FirewallNetwork {
  /** The IPv4 gateway and prefix length; null on an IPv6-only network. */
  gateway: string | null;
  prefixLen: number | null;
  /** The IPv6 gateway and prefix length; null when the network has no IPv6 (subnet6 null). */
  gateway6: string | null;
  prefixLen6: number | null;
  bridgeMac: string;
  mtu: number | undefined;
  /** How containers are wired (see vlan-drivers.ts); absent: into the bridge. */
  driver?: LinkDriver | undefined;
}

/** A macvlan/ipvlan network: containers sit on its parent link, the nsnet firewall has no part in it. */
export const onParent = (net: NetworkSpec): boolean => net.driver !== undefined && net.driver.kind !== 'bridge';

/** The endpoints the firewall knows: those with a bridge port (not macvlan/ipvlan ones). */
const bridged = (endpoints: readonly EndpointSpec[]): EndpointSpec[] => endpoints.filter((ep) => !onParent(ep.network));

/** One interface of a container on one network. */
export interface EndpointSpec {
  network: NetworkSpec;
  hostIf: string; // host end of the veth pair, enslaved to the bridge
  ifName: string; // eth0, eth1, ... inside the container
  /** Null on an IPv6-only network. */
  ip: string | null;
  /** Null when the network has no IPv6. */
  ip6: string | null;
  mac: string;
}

export const IP_FORWARD = 'net.ipv4.ip_forward';

export function portOf(ep: EndpointSpec): FirewallPort {
  return { hostIf: ep.hostIf, mac: ep.mac, ip: ep.ip, ip6: ep.ip6, network: ep.network };
}

/** A per-interface sysctl key; sysctl(8) writes a dot inside a name as '/'. */
export const confKey = (family: 'ipv4' | 'ipv6', dev: string, name: string): string => `net.${family}.conf.${dev.replace(/\./g, '/')}.${name}`;

/** Whether a network has IPv6 (Docker's EnableIPv6). */
export const hasIPv6 = (net: Pick<NetworkSpec, 'subnet6'>): boolean => net.subnet6 !== null;

export const IP6_FORWARD = 'net.ipv6.conf.all.forwarding';

/**
 * IPv6 settings of an interface, before it is up. A network without IPv6 has it off, as Docker
 * does: otherwise it is on with accept_ra=1, and one container's router advertisement gives the
 * interface a SLAAC address and a default route through that container (on a kernel booted with
 * ipv6.disable=1 the key does not exist and there is nothing to turn off). On an IPv6 network a
 * container's interface takes no router advertisements (its routes are nsnet's) and does no
 * duplicate address detection: its addresses are nsnet's to hand out, and in hairpin mode the
 * bridge reflects a port's own DAD probe back to it, which the kernel would take for a duplicate
 * and leave the link-local address dead.
 */
export function ipv6OffSteps(net: NetworkSpec, dev: string, ns?: string): Step[] {
  // The bridge (ns undefined) takes no RA either: the RA guard stops containers' advertisements,
  // and the host's own IPv6 is not a container network's to change.
  const settings: Array<[string, string]> = !hasIPv6(net)
    ? [['disable_ipv6', '1']]
    : ns === undefined
      ? [['accept_ra', '0']]
      : [
          ['accept_ra', '0'],
          ['accept_dad', '0'],
        ];
  return settings.map(([name, value]) => {
    const sysctl = { key: confKey('ipv6', dev, name), value, ignoreUnknown: !hasIPv6(net) };
    return ns === undefined ? { kind: 'sysctl', ...sysctl } : { kind: 'netns-sysctl', ns, ...sysctl };
  });
}

/** A network's addresses on an interface: the IPv4 one, then the IPv6 one (nodad: see the step). */
function addressSteps(dev: string, ns: string | undefined, v4: string | null, len4: number | null, v6: string | null, len6: number | null): Step[] {
  const steps: Step[] = [];
  if (v4 !== null && len4 !== null) steps.push({ kind: 'addr-add', ...(ns === undefined ? {} : { ns }), dev, address: v4, prefixLen: len4 });
  if (v6 !== null && len6 !== null) steps.push({ kind: 'addr-add', ...(ns === undefined ? {} : { ns }), dev, address: v6, prefixLen: len6 });
  return steps;
}

/**
 * The article's bridge steps: create it (IPv6 off), give it the gateway address, bring it up, and
 * the sysctls routing needs. The one recipe: network create, start after a reboot and system
 * check all build (and compare) a bridge with it.
 */
export function planBridge(net: NetworkSpec): Step[] {
  const steps: Step[] = [
    { kind: 'bridge-add', name: net.bridge, mac: net.bridgeMac, mtu: net.mtu },
    ...ipv6OffSteps(net, net.bridge),
    ...addressSteps(net.bridge, undefined, net.gateway, net.prefixLen, net.gateway6, net.prefixLen6),
    { kind: 'link-up', dev: net.bridge },
  ];
  if (!net.internal) {
    if (net.subnet !== null) steps.push({ kind: 'sysctl', key: IP_FORWARD, value: '1' });
    if (hasIPv6(net)) steps.push({ kind: 'sysctl', key: IP6_FORWARD, value: '1' });
    // Ports published on 127.0.0.1 are DNATed to the container with the loopback source still
    // on the packet; the kernel drops such packets on a non-loopback device unless told not to.
    // The source is masqueraded to the gateway before it leaves, and anti-spoofing keeps
    // containers from sending loopback sources themselves.
    steps.push({ kind: 'sysctl', key: confKey('ipv4', net.bridge, 'route_localnet'), value: '1' });
  }
  return steps;
}

/** A new network: its bridge, then the firewall with the network added (routing and NAT). */
export function planCreateNetwork(net: NetworkSpec, firewallBefore: FirewallState, fw: FirewallDriver): Step[] {
  if (onParent(net)) return planParent(net);
  const steps = planBridge(net);
  const after = { ...firewallBefore, networks: [...firewallBefore.networks, net] };
  steps.push(...fw.replace(firewallBefore, after, `add network ${net.name}`));
  return steps;
}

export function planRemoveNetwork(net: NetworkSpec, firewallBefore: FirewallState, fw: FirewallDriver): Step[] {
  if (onParent(net)) return planParent(net).length === 0 ? [] : [{ kind: 'link-del', dev: net.bridge }];
  const after = { ...firewallBefore, networks: firewallBefore.networks.filter((n) => n.id !== net.id) };
  return [{ kind: 'link-del', dev: net.bridge }, ...fw.replace(firewallBefore, after, `remove network ${net.name}`)];
}

/**
 * A macvlan/ipvlan network's own devices: none on a real parent (it is the user's), a dummy parent
 * (up, so its children can come up) for an --internal one. No ip_forward, no firewall: nothing is
 * routed or NATed through the host.
 */
export function planParent(net: NetworkSpec): Step[] {
  if (net.driver === undefined || net.driver.kind === 'bridge' || !net.driver.ownParent) return [];
  return [
    { kind: 'dummy-add', name: net.driver.parent },
    { kind: 'link-up', dev: net.driver.parent },
  ];
}

/** The link that is the container's interface, per driver: a veth into the bridge, or a child of the parent. */
const INTERFACE_STEP: Record<LinkDriver['kind'], (netns: string, ep: EndpointSpec) => Step> = {
  bridge: (netns, ep) => ({
    kind: 'veth-add',
    hostIf: ep.hostIf,
    master: ep.network.bridge,
    peerNs: netns,
    peerIf: ep.ifName,
    peerMac: ep.mac,
    mtu: ep.network.mtu,
  }),
  macvlan: (netns, ep) => ({ kind: 'macvlan-add', parent: parentOf(ep.network), ns: netns, name: ep.ifName, mac: ep.mac, mtu: ep.network.mtu }),
  ipvlan: (netns, ep) => ({
    kind: 'ipvlan-add',
    parent: parentOf(ep.network),
    ns: netns,
    name: ep.ifName,
    mode: ep.network.driver?.kind === 'ipvlan' ? ep.network.driver.mode : 'l2',
    mtu: ep.network.mtu,
  }),
};

const parentOf = (net: NetworkSpec): string => (net.driver !== undefined && net.driver.kind !== 'bridge' ? net.driver.parent : net.bridge);

/**
 * Hairpin mode on a container's bridge port, as Docker sets it: a container reaching its own
 * published port through a host address is DNATed back to itself, and with br_netfilter the
 * bridge sends that frame straight back out of the port it came in on, which it does only in
 * hairpin mode (the firewall masquerades the flow, so the answer comes back the same way).
 * A macvlan/ipvlan interface has no bridge port.
 */
function hairpinSteps(ep: EndpointSpec): Step[] {
  return onParent(ep.network) ? [] : [{ kind: 'port-hairpin', dev: ep.hostIf, on: true }];
}

/**
 * The container's interface (a veth pair into the bridge, or a macvlan/ipvlan on the parent; IPv6
 * off inside), its address, and the link up: one network's worth of wiring. Every path that wires
 * an interface (run, start, connect, CNI ADD, check --fix) goes through here.
 */
export function planAttach(netns: string, ep: EndpointSpec): Step[] {
  return [
    INTERFACE_STEP[ep.network.driver?.kind ?? 'bridge'](netns, ep),
    ...hairpinSteps(ep),
    ...ipv6OffSteps(ep.network, ep.ifName, netns),
    ...addressSteps(ep.ifName, netns, ep.ip, ep.network.prefixLen, ep.ip6, ep.network.prefixLen6),
    { kind: 'link-up', ns: netns, dev: ep.ifName },
  ];
}

/** The family of a default-route step. */
export const routeFamily = (step: Step): 4 | 6 => (step.kind === 'route-add' && step.via.includes(':') ? 6 : 4);

/** The endpoint that carries a family's default route: the first, in order, whose network leads outside and has that family. */
function routeCarrier(endpoints: readonly EndpointSpec[], family: 4 | 6): EndpointSpec | undefined {
  return endpoints.find((ep) => !ep.network.internal && (family === 4 ? ep.network.gateway !== null : ep.network.gateway6 !== null));
}

/**
 * The default routes go via the first network that leads outside (internal networks have none),
 * per family: a container on an IPv4-only network and then a dual-stack one takes its IPv4 route
 * from the first and its IPv6 route from the second, as Docker does.
 */
export type RouteStep = Extract<Step, { kind: 'route-add' | 'route-dev' }>;

export function defaultRouteSteps(netns: string, endpoints: readonly EndpointSpec[]): RouteStep[] {
  const steps: RouteStep[] = [];
  const v4 = routeCarrier(endpoints, 4);
  if (v4 !== undefined) {
    // ipvlan l3: the parent routes for its children; there is no gateway on their link to go via.
    const driver = v4.network.driver;
    if (driver?.kind === 'ipvlan' && driver.mode === 'l3') steps.push({ kind: 'route-dev', ns: netns, dst: 'default', dev: v4.ifName });
    else steps.push({ kind: 'route-add', ns: netns, dst: 'default', via: v4.network.gateway!, dev: v4.ifName });
  }
  const v6 = routeCarrier(endpoints, 6);
  if (v6 !== undefined) steps.push({ kind: 'route-add', ns: netns, dst: 'default', via: v6.network.gateway6!, dev: v6.ifName });
  return steps;
}

/**
 * A default route leaves with the interface that carried it: it is handed to the next network
 * that leads outside, as Docker does, per family. Empty when `leavingHostIf` carried none, or no
 * other network leads outside.
 */
export function handoverRouteSteps(netns: string, endpoints: readonly EndpointSpec[], leavingHostIf: string): RouteStep[] {
  const rest = endpoints.filter((ep) => ep.hostIf !== leavingHostIf);
  const next = defaultRouteSteps(netns, rest);
  const carried = ([4, 6] as const).filter((f) => routeCarrier(endpoints, f)?.hostIf === leavingHostIf);
  return next.filter((s) => carried.includes(routeFamily(s)));
}

/** A container's namespace with loopback up, one interface per network, and its default route. */
export function planCreateContainer(
  netns: string,
  endpoints: readonly EndpointSpec[],
  fw: FirewallDriver,
  mappings: readonly FirewallMapping[] = [],
): Step[] {
  const steps: Step[] = [
    { kind: 'netns-add', name: netns },
    { kind: 'link-up', ns: netns, dev: 'lo' },
  ];
  // The filters know the ports before they exist, so no frame ever passes unchecked.
  const ports = bridged(endpoints);
  if (ports.length > 0) steps.push(...fw.addPorts(ports.map(portOf), `admit ${netns}`));
  for (const ep of endpoints) steps.push(...planAttach(netns, ep));
  steps.push(...defaultRouteSteps(netns, endpoints));
  // Published last: the container answers as soon as traffic is sent its way.
  steps.push(...publishSteps(fw, mappings, `publish ${netns}`));
  return steps;
}

/**
 * Removing the namespace takes its veth ends with it (and so the host ends): one step, and about
 * ten times faster than deleting each veth (the kernel frees them in one batch).
 */
export function planRemoveContainer(
  netns: string,
  endpoints: readonly EndpointSpec[],
  fw: FirewallDriver,
  mappings: readonly FirewallMapping[] = [],
): Step[] {
  // A macvlan/ipvlan interface has no host end to wait for, and no port in the firewall.
  const ports = bridged(endpoints);
  return [
    ...withdrawSteps(fw, mappings, `withdraw ${netns}`),
    { kind: 'netns-del', name: netns, hostIfs: ports.map((e) => e.hostIf) },
    ...(ports.length === 0 ? [] : fw.removePorts(ports.map(portOf), `forget ${netns}`)),
  ];
}

/** Steps that publish ports. */
export function publishSteps(fw: FirewallDriver, mappings: readonly FirewallMapping[], summary: string): Step[] {
  return mappings.length === 0 ? [] : fw.addMappings(mappings, summary);
}

export function withdrawSteps(fw: FirewallDriver, mappings: readonly FirewallMapping[], summary: string): Step[] {
  return mappings.length === 0 ? [] : fw.removeMappings(mappings, summary);
}

/** Connect: the port is admitted first, then wired. */
export function planConnect(netns: string, ep: EndpointSpec, fw: FirewallDriver): Step[] {
  if (onParent(ep.network)) return planAttach(netns, ep);
  return [...fw.addPorts([portOf(ep)], `admit ${netns} ${ep.ifName}`), ...planAttach(netns, ep)];
}

export function planDetach(netns: string, ep: EndpointSpec, fw: FirewallDriver, mappings: readonly FirewallMapping[] = []): Step[] {
  if (onParent(ep.network)) return [...withdrawSteps(fw, mappings, `withdraw ${netns} ${ep.ifName}`), { kind: 'link-del', ns: netns, dev: ep.ifName }];
  return [
    ...withdrawSteps(fw, mappings, `withdraw ${netns} ${ep.ifName}`),
    { kind: 'link-del', dev: ep.hostIf },
    ...fw.removePorts([portOf(ep)], `forget ${netns} ${ep.ifName}`),
  ];
}
