/** Records → the specs the planners and the firewall take. */
import { bridgeMacFor } from '../engine/ids.js';
import { forwardTargets } from '../engine/ports.js';
import { ANTI_SPOOFING_OPTION, ICC_OPTION, MASQUERADE_OPTION } from '../engine/inspect.js';
import type { EndpointSpec, NetworkSpec } from '../engine/plans.js';
import { linkDriverOf } from '../engine/vlan-drivers.js';
import type { IptablesCompat } from '../firewall/driver.js';
import { COMPAT_CHAIN, COMPAT_TABLE } from '../firewall/iptables-compat.js';
import type { Host } from '../host/port.js';
import { firewallPartitions } from './partition-state.js';
import type { FirewallMapping, FirewallNetwork, FirewallState } from '../firewall/model.js';
import type { ContainerRecord, EndpointRecord, NetworkRecord, PortRecord, Store } from '../store/index.js';

/** Docker's boolean options are on unless set to "false" (validated when the network is made). */
const enabled = (n: NetworkRecord, key: string): boolean => n.options[key] !== 'false';

export function firewallNetwork(n: NetworkRecord): FirewallNetwork {
  return {
    id: n.id,
    name: n.name,
    bridge: n.bridge,
    subnet: n.subnet,
    subnet6: n.subnet6 ?? null,
    internal: n.internal,
    icc: enabled(n, ICC_OPTION),
    masquerade: enabled(n, MASQUERADE_OPTION),
    antiSpoofing: enabled(n, ANTI_SPOOFING_OPTION),
  };
}

export function networkSpec(n: NetworkRecord): NetworkSpec {
  return {
    ...firewallNetwork(n),
    gateway: n.gateway,
    prefixLen: prefixOf(n.subnet),
    gateway6: n.gateway6 ?? null,
    prefixLen6: prefixOf(n.subnet6 ?? null),
    bridgeMac: bridgeMacFor(n.id),
    mtu: n.mtu ?? undefined,
    driver: linkDriverOf(n),
  };
}

const prefixOf = (cidr: string | null): number | null => (cidr === null ? null : Number(cidr.split('/')[1]));

/** Attached by a container runtime through CNI: nsnet owns its attachments, not its namespace or process. */
export const isCniContainer = (c: ContainerRecord): boolean => c.cniContainerId !== undefined && c.cniContainerId !== null;

/** The namespace a container's steps act in: its name under /run/netns, or the runtime's path. */
export const namespaceOf = (c: ContainerRecord): string => (isCniContainer(c) ? c.netns : c.name);

export function endpointSpec(network: NetworkRecord, ep: EndpointRecord): EndpointSpec {
  return { network: networkSpec(network), hostIf: ep.hostIf, ifName: ep.ifName, ip: ep.ip, ip6: ep.ip6 ?? null, mac: ep.mac };
}

/** A container's endpoints as specs, in interface order. */
export function containerEndpoints(store: Store, containerId: string): EndpointSpec[] {
  return store.endpoints.forContainer(containerId).map((ep) => endpointSpec(store.networks.get(ep.networkId)!, ep));
}

/** Everything the firewall should hold, from the store. */
export function firewallState(store: Store): FirewallState {
  // macvlan/ipvlan networks have no bridge and nothing in nsnet's firewall (see vlan-drivers.ts).
  const networks = store.networks.list().filter((n) => linkDriverOf(n).kind === 'bridge');
  // A created container (Docker's create) has nothing in the kernel, its firewall entries included, until it starts.
  const created = new Set(store.containers.list().filter((c) => c.status === 'created').map((c) => c.id));
  const wired = (n: NetworkRecord): EndpointRecord[] => store.endpoints.forNetwork(n.id).filter((ep) => !created.has(ep.containerId));
  const ports = networks.flatMap((n) => {
    const fw = firewallNetwork(n);
    return wired(n).map((ep) => ({ hostIf: ep.hostIf, mac: ep.mac, ip: ep.ip, ip6: ep.ip6 ?? null, network: fw }));
  });
  const mappings = networks.flatMap((n) => wired(n).flatMap((ep) => endpointMappings(store, ep)));
  return { networks: networks.map(firewallNetwork), ports, mappings, partitions: firewallPartitions(store) };
}

/** Whether the host's iptables (family 6: ip6tables) FORWARD chain needs nsnet's accept chain (see kernel/iptables.ts). */
export function iptablesCompat(host: Host, family: 4 | 6 = 4): IptablesCompat {
  if (!host.iptablesAvailable()) return { manage: false, existedBefore: false };
  const existedBefore = host.iptablesChainExists(COMPAT_TABLE, COMPAT_CHAIN, family);
  return { manage: existedBefore || host.iptablesForwardDrops(family), existedBefore };
}

/**
 * A published port's mappings, one per family it forwards: a port on every host address goes to
 * each address the container has (IPv4 and IPv6, as Docker publishes on 0.0.0.0 and [::]); one
 * on a host address only to the container's address of that family.
 */
function mappingOf(store: Store, p: PortRecord, ep: EndpointRecord | undefined): FirewallMapping[] {
  if (ep === undefined) return [];
  const container = store.containers.get(p.containerId)?.name;
  const targets = forwardTargets(p.hostIp ?? undefined, ep.ip, ep.ip6 ?? null);
  return targets.map((containerIp) => ({ hostIp: p.hostIp ?? undefined, hostPort: p.hostPort, proto: p.proto, containerIp, containerPort: p.containerPort, container }));
}

/** A container's published ports, as the firewall sees them. */
export function containerMappings(store: Store, containerId: string): FirewallMapping[] {
  const eps = new Map(store.endpoints.forContainer(containerId).map((e) => [e.id, e]));
  return store.ports.forContainer(containerId).flatMap((p) => mappingOf(store, p, eps.get(p.endpointId)));
}

export function endpointMappings(store: Store, ep: EndpointRecord): FirewallMapping[] {
  return store.ports.forEndpoint(ep.id).flatMap((p) => mappingOf(store, p, ep));
}
