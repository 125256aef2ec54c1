/**
 * Docker-shaped views of nsnet's records, so `network inspect` and `inspect` output feeds the
 * same scripts and jq filters people already use with Docker. Pure: records in, objects out.
 */
import type { ContainerRecord, EndpointRecord, NetworkRecord } from '../store/index.js';
import { portsView, type PortMapping } from './ports.js';

export const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';
export const MTU_OPTION = 'com.docker.network.driver.mtu';
export const ICC_OPTION = 'com.docker.network.bridge.enable_icc';
export const MASQUERADE_OPTION = 'com.docker.network.bridge.enable_ip_masquerade';
export const HOST_BINDING_OPTION = 'com.docker.network.bridge.host_binding_ipv4';
export const ANTI_SPOOFING_OPTION = 'nsnet.bridge.anti_spoofing';

export interface LiveState {
  status: 'created' | 'running' | 'exited';
  pid: number;
  exitCode: number | null;
}

const prefixOf = (cidr: string): number => Number(cidr.split('/')[1]);

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
      IPv4Address: `${endpoint.ip}/${prefixOf(net.subnet)}`,
      IPv6Address: '',
    };
  }
  const config: Record<string, string> = { Subnet: net.subnet, Gateway: net.gateway };
  if (net.ipRange !== null) config['IPRange'] = net.ipRange;
  return {
    Name: net.name,
    Id: net.id,
    Created: net.created,
    Scope: 'local',
    Driver: 'bridge',
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [config] },
    Internal: net.internal,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: { ...net.options, [BRIDGE_NAME_OPTION]: net.bridge },
    Labels: { ...net.labels },
  };
}

export function networkRow(net: NetworkRecord, containerCount: number): Record<string, unknown> {
  return {
    ID: net.id.slice(0, 12),
    Name: net.name,
    Driver: 'bridge',
    Scope: 'local',
    Subnet: net.subnet,
    Gateway: net.gateway,
    Bridge: net.bridge,
    Internal: net.internal,
    Containers: containerCount,
    Created: net.created,
  };
}

export function containerView(
  c: ContainerRecord,
  live: LiveState,
  endpoints: ReadonlyArray<{ network: NetworkRecord; endpoint: EndpointRecord }>,
  ports: readonly PortMapping[] = [],
): Record<string, unknown> {
  const networks: Record<string, unknown> = {};
  for (const { network, endpoint } of endpoints) {
    networks[network.name] = {
      NetworkID: network.id,
      EndpointID: endpoint.id,
      Gateway: network.gateway,
      IPAddress: endpoint.ip,
      IPPrefixLen: prefixOf(network.subnet),
      MacAddress: endpoint.mac,
      IPv6Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      Aliases: null,
      DriverOpts: null,
      InterfaceName: endpoint.ifName,
      HostInterface: endpoint.hostIf,
    };
  }
  const first = endpoints[0];
  // nsnet's own addition: who owns a container attached through CNI.
  const runtime = c.cniContainerId == null ? {} : { Runtime: { Kind: 'cni', Name: c.runtime ?? '', ContainerID: c.cniContainerId } };
  return {
    Id: c.id,
    ...runtime,
    Created: c.created,
    Path: c.command[0] ?? '',
    Args: c.command.slice(1),
    State: {
      Status: live.status,
      Running: live.status === 'running',
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: live.pid,
      ExitCode: live.exitCode ?? 0,
      StartedAt: c.startedAt ?? '0001-01-01T00:00:00Z',
      FinishedAt: c.finishedAt ?? '0001-01-01T00:00:00Z',
    },
    Name: `/${c.name}`,
    LogPath: c.logPath,
    Config: {
      Hostname: c.hostname,
      Env: Object.entries(c.env).map(([k, v]) => `${k}=${v}`),
      Cmd: c.command,
      Rootfs: c.rootfs,
    },
    HostConfig: {
      NetworkMode: first?.network.name ?? 'none',
      // As Docker prints them: the normalised names given, null when none.
      CapAdd: c.capAdd.length > 0 ? c.capAdd : null,
      CapDrop: c.capDrop.length > 0 ? c.capDrop : null,
      Privileged: c.privileged,
    },
    NetworkSettings: {
      SandboxKey: c.netns,
      Ports: portsView(ports),
      Gateway: first?.network.gateway ?? '',
      IPAddress: first?.endpoint.ip ?? '',
      IPPrefixLen: first === undefined ? 0 : prefixOf(first.network.subnet),
      MacAddress: first?.endpoint.mac ?? '',
      Networks: networks,
    },
  };
}
