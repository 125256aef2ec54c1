/**
 * Docker-shaped views of nsnet's records, so `network inspect` and `inspect` output feeds the
 * same scripts and jq filters people already use with Docker. Pure: records in, objects out.
 */
import type { ContainerRecord, EndpointRecord, NetworkRecord } from '../store/index.js';
import { isParentDriver } from './vlan-drivers.js';
import { prefixOf } from './inspect-container.js';

// A container's view lives in its own module; `inspect` is where callers find both.
export { containerView, type ContainerFacts, type LiveState } from './inspect-container.js';

export const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';
export const MTU_OPTION = 'com.docker.network.driver.mtu';
export const ICC_OPTION = 'com.docker.network.bridge.enable_icc';
export const MASQUERADE_OPTION = 'com.docker.network.bridge.enable_ip_masquerade';
export const HOST_BINDING_OPTION = 'com.docker.network.bridge.host_binding_ipv4';
export const ANTI_SPOOFING_OPTION = 'nsnet.bridge.anti_spoofing';

export function networkView(
  net: NetworkRecord,
  attached: ReadonlyArray<{ container: ContainerRecord; endpoint: EndpointRecord }>,
): Record<string, unknown> {
  const containers: Record<string, unknown> = {};
  for (const { container, endpoint } of attached) {
    containers[container.id] = {
      Name: container.name,
      EndpointID: endpoint.id,
      MacAddress: endpoint.mac,
      IPv4Address: endpoint.ip == null ? '' : `${endpoint.ip}/${prefixOf(net.subnet)}`,
      IPv6Address: endpoint.ip6 == null ? '' : `${endpoint.ip6}/${prefixOf(net.subnet6)}`,
    };
  }
  // One IPAM entry per family, IPv4 first (as Docker lists them).
  const configs: Array<Record<string, unknown>> = [];
  if (net.subnet !== null) {
    const config: Record<string, unknown> = { Subnet: net.subnet, Gateway: net.gateway };
    if (net.ipRange !== null) config['IPRange'] = net.ipRange;
    // Docker leaves AuxiliaryAddresses out when there are none (omitempty).
    const aux = net.auxAddresses ?? {};
    if (Object.keys(aux).length > 0) config['AuxiliaryAddresses'] = { ...aux };
    configs.push(config);
  }
  if (net.subnet6 != null) {
    const config: Record<string, unknown> = { Subnet: net.subnet6, Gateway: net.gateway6 };
    if (net.ipRange6 != null) config['IPRange'] = net.ipRange6;
    configs.push(config);
  }
  return {
    Name: net.name,
    Id: net.id,
    Created: net.created,
    Scope: 'local',
    Driver: net.driver ?? 'bridge',
    // Docker 28's EnableIPv4 is not in API 1.41; an IPv6-only network shows as one IPAM entry.
    EnableIPv6: net.subnet6 != null,
    IPAM: { Driver: 'default', Options: {}, Config: configs },
    Internal: net.internal,
    Attachable: net.attachable ?? false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    // A macvlan/ipvlan network has no bridge: its options are its own (parent, ipvlan_mode).
    Options: isParentDriver(net.driver) ? { ...net.options } : { ...net.options, [BRIDGE_NAME_OPTION]: net.bridge },
    Labels: { ...net.labels },
  };
}

export function networkRow(net: NetworkRecord, containerCount: number): Record<string, unknown> {
  return {
    ID: net.id.slice(0, 12),
    Name: net.name,
    Driver: net.driver ?? 'bridge',
    Scope: 'local',
    Subnet: [net.subnet, net.subnet6].filter((x) => x != null).join(', '),
    Gateway: [net.gateway, net.gateway6].filter((x) => x != null).join(', '),
    Bridge: net.bridge,
    Internal: net.internal,
    Containers: containerCount,
    Created: net.created,
  };
}

