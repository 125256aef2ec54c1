/** Records → the specs the planners take. */
import { bridgeMacFor } from '../engine/ids.js';
import type { EndpointSpec, NetworkSpec } from '../engine/plans.js';
import type { FirewallNetwork } from '../firewall/nftables.js';
import type { EndpointRecord, NetworkRecord } from '../store/index.js';

export function networkSpec(n: NetworkRecord): NetworkSpec {
  return {
    id: n.id,
    name: n.name,
    bridge: n.bridge,
    subnet: n.subnet,
    internal: n.internal,
    gateway: n.gateway,
    prefixLen: Number(n.subnet.split('/')[1]),
    bridgeMac: bridgeMacFor(n.id),
    mtu: n.mtu ?? undefined,
  };
}

export function firewallNetworks(all: readonly NetworkRecord[]): FirewallNetwork[] {
  return all.map((n) => ({ id: n.id, name: n.name, bridge: n.bridge, subnet: n.subnet, internal: n.internal }));
}

export function endpointSpec(network: NetworkRecord, ep: EndpointRecord): EndpointSpec {
  return { network: networkSpec(network), hostIf: ep.hostIf, ifName: ep.ifName, ip: ep.ip, mac: ep.mac };
}
