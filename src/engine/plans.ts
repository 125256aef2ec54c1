import type { FirewallDriver } from '../firewall/driver.js';
import type { FirewallMapping, FirewallNetwork, FirewallPort, FirewallState } from '../firewall/model.js';
import type { Step } from '../plan/steps.js';
import type { LinkDriver } from './vlan-drivers.js';

/** What a plan needs to know about a network: already validated, addresses already chosen. */
export interface NetworkSpec extends FirewallNetwork {
  gateway: string;
  prefixLen: number;
  bridgeMac: string;
  mtu: number | undefined;
  /**
   * IPv6 on the network's bridge and its containers' interfaces. nsnet's networks are IPv4-only
   * for now: absent, and IPv6 is turned off there (see ipv6OffSteps); an IPv6-enabled network
   * will set it.
   */
  ipv6?: boolean | undefined;
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
  ip: string;
  mac: string;
}

export const IP_FORWARD = 'net.ipv4.ip_forward';

export function portOf(ep: EndpointSpec): FirewallPort {
  return { hostIf: ep.hostIf, mac: ep.mac, ip: ep.ip, network: ep.network };
}

/** A per-interface sysctl key; sysctl(8) writes a dot inside a name as '/'. */
const confKey = (family: 'ipv4' | 'ipv6', dev: string, name: string): string => `net.${family}.conf.${dev.replace(/\./g, '/')}.${name}`;

/**
 * IPv6 off on an interface of a network without IPv6, as Docker does: otherwise it is on with
 * accept_ra=1, and one container's router advertisement gives the interface a SLAAC address and
 * a default route through that container. On a kernel without IPv6 (ipv6.disable=1) the key does
 * not exist and there is nothing to turn off. Must follow the step that makes the interface, and
 * come before it is up.
 */
export function ipv6OffSteps(net: NetworkSpec, dev: string, ns?: string): Step[] {
  if (net.ipv6 === true) return [];
  const sysctl = { key: confKey('ipv6', dev, 'disable_ipv6'), value: '1', ignoreUnknown: true } as const;
  return [ns === undefined ? { kind: 'sysctl', ...sysctl } : { kind: 'netns-sysctl', ns, ...sysctl }];
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
    { kind: 'addr-add', dev: net.bridge, address: net.gateway, prefixLen: net.prefixLen },
    { kind: 'link-up', dev: net.bridge },
  ];
  if (!net.internal) {
    steps.push({ kind: 'sysctl', key: IP_FORWARD, value: '1' });
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
    { kind: 'addr-add', ns: netns, dev: ep.ifName, address: ep.ip, prefixLen: ep.network.prefixLen },
    { kind: 'link-up', ns: netns, dev: ep.ifName },
  ];
}

/** The default route goes via the first network that leads outside (internal networks have none). */
export function defaultRouteStep(netns: string, endpoints: readonly EndpointSpec[]): Step | undefined {
  const first = endpoints.find((ep) => !ep.network.internal);
  if (first === undefined) return undefined;
  // ipvlan l3: the parent routes for its children; there is no gateway on their link to go via.
  const driver = first.network.driver;
  if (driver?.kind === 'ipvlan' && driver.mode === 'l3') return { kind: 'route-dev', ns: netns, dst: 'default', dev: first.ifName };
  return { kind: 'route-add', ns: netns, dst: 'default', via: first.network.gateway, dev: first.ifName };
}

/**
 * The default route leaves with the interface that carried it: it is handed to the next network
 * that leads outside, as Docker does. Undefined when `leavingHostIf` did not carry it, or no other
 * network leads outside.
 */
export function handoverRouteStep(netns: string, endpoints: readonly EndpointSpec[], leavingHostIf: string): Step | undefined {
  if (endpoints.find((ep) => !ep.network.internal)?.hostIf !== leavingHostIf) return undefined;
  return defaultRouteStep(netns, endpoints.filter((ep) => ep.hostIf !== leavingHostIf));
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
  const route = defaultRouteStep(netns, endpoints);
  if (route !== undefined) steps.push(route);
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
