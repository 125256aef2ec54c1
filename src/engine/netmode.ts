/**
 * Docker's network modes besides networks, as `run --network` takes them:
 *
 *   host            the process runs in the network namespace nsnet itself runs in (no namespace
 *                   of its own, no veth, no address, no DNS files: the host's /etc/resolv.conf);
 *                   it still gets its own PID, UTS, IPC and mount namespaces.
 *   none            a namespace of its own with only lo, up.
 *   container:NAME  another container's namespace, joined: its interfaces, addresses, published
 *                   ports and DNS files. The joined container owns it; the joiner never deletes it.
 *
 * Pure: what a mode means for planning, launching and removing. The record keeps the mode as
 * 'host', 'none' or 'container:<id>' (the id, so a rename or a new container of the same name
 * cannot redirect it).
 */
import { createHash } from 'node:crypto';
import type { ContainerRecord, NetworkMode } from '../store/index.js';

export type { NetworkMode };

export const HOST_MODE = 'host';
export const NONE_MODE = 'none';
const CONTAINER_PREFIX = 'container:';

/** What `--network VALUE` names: a special mode, or a network (nsnet's own, by name or id). */
export type NetworkRequest = { kind: 'host' } | { kind: 'none' } | { kind: 'container'; ref: string } | { kind: 'network'; ref: string };

export function parseNetworkRequest(value: string): NetworkRequest {
  if (value === HOST_MODE) return { kind: 'host' };
  if (value === NONE_MODE) return { kind: 'none' };
  if (value.startsWith(CONTAINER_PREFIX)) return { kind: 'container', ref: value.slice(CONTAINER_PREFIX.length) };
  return { kind: 'network', ref: value };
}

export const containerMode = (id: string): NetworkMode => `${CONTAINER_PREFIX}${id}`;

/** The id of the container whose namespace this one joins, or undefined. */
export function joinedContainerId(mode: NetworkMode | null | undefined): string | undefined {
  return mode?.startsWith(CONTAINER_PREFIX) === true ? mode.slice(CONTAINER_PREFIX.length) : undefined;
}

const modeOf = (c: Pick<ContainerRecord, 'networkMode'>): NetworkMode | null => c.networkMode ?? null;

/**
 * Whether nsnet makes (and deletes) a namespace named after the container: on networks and with
 * none; never with host (the host's own) or container: (the joined container's).
 */
export const ownsNamespace = (c: Pick<ContainerRecord, 'networkMode'>): boolean => {
  const mode = modeOf(c);
  return mode === null || mode === NONE_MODE;
};

/** A container whose network is not its own to change: it cannot be connected to networks. */
export const sharesNamespace = (c: Pick<ContainerRecord, 'networkMode'>): boolean => !ownsNamespace(c);

export const isHostMode = (c: Pick<ContainerRecord, 'networkMode'>): boolean => modeOf(c) === HOST_MODE;
export const isNoneMode = (c: Pick<ContainerRecord, 'networkMode'>): boolean => modeOf(c) === NONE_MODE;

/**
 * Docker's predefined `host` and `none` networks, as `network ls` and `network inspect` show
 * them: no records (nothing to make or remove), drivers `host` and `null`, a stable id derived
 * from the name so that ls, inspect and a container's NetworkID agree from one command to the next.
 */
export const PREDEFINED_NETWORKS: Readonly<Record<'host' | 'none', { driver: string }>> = { host: { driver: 'host' }, none: { driver: 'null' } };

export type PredefinedName = keyof typeof PREDEFINED_NETWORKS;

export function predefinedName(ref: string): PredefinedName | undefined {
  for (const name of Object.keys(PREDEFINED_NETWORKS) as PredefinedName[]) {
    // By name, or by id as ls shows it (12 characters or more: a shorter prefix could be a user network's).
    if (ref === name || (ref.length >= 12 && /^[0-9a-f]+$/.test(ref) && predefinedNetworkId(name).startsWith(ref))) return name;
  }
  return undefined;
}

export const predefinedNetworkId = (name: PredefinedName): string => createHash('sha256').update(`nsnet predefined network ${name}`).digest('hex');

/** A container's endpoint id on a predefined network (Docker gives each one): stable, from its id. */
const predefinedEndpointId = (c: Pick<ContainerRecord, 'id'>): string => createHash('sha256').update(`nsnet endpoint ${c.id}`).digest('hex');

/** When nsnet's first record was made is not known here: the epoch says "predefined". */
const PREDEFINED_CREATED = new Date(0).toISOString();

/** `network inspect host|none`; `members` are the running containers of that mode. */
export function predefinedNetworkView(name: PredefinedName, members: ReadonlyArray<Pick<ContainerRecord, 'id' | 'name'>>): Record<string, unknown> {
  const containers: Record<string, unknown> = {};
  for (const c of members) containers[c.id] = { Name: c.name, EndpointID: predefinedEndpointId(c), MacAddress: '', IPv4Address: '', IPv6Address: '' };
  return {
    Name: name,
    Id: predefinedNetworkId(name),
    Created: PREDEFINED_CREATED,
    Scope: 'local',
    Driver: PREDEFINED_NETWORKS[name].driver,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: {},
    Labels: {},
  };
}

/** A `network ls` row of a predefined network, with the keys networkRow (engine/inspect.ts) gives. */
export function predefinedNetworkRow(name: PredefinedName, containerCount: number): Record<string, unknown> {
  return {
    ID: predefinedNetworkId(name).slice(0, 12),
    Name: name,
    Driver: PREDEFINED_NETWORKS[name].driver,
    Scope: 'local',
    Subnet: '',
    Gateway: '',
    Bridge: '',
    Internal: false,
    Containers: containerCount,
    Created: PREDEFINED_CREATED,
  };
}

/**
 * A container's HostConfig.NetworkMode and NetworkSettings.Networks for a special mode, as Docker
 * shows them: `host` and `none` have an entry for their predefined network with no address;
 * container:<id> has none at all (the joined container's inspect shows the network).
 */
export function modeNetworkSettings(c: Pick<ContainerRecord, 'id' | 'networkMode'>): { networkMode: string; networks: Record<string, unknown> } | undefined {
  const mode = c.networkMode ?? null;
  if (mode === null) return undefined;
  if (mode !== HOST_MODE && mode !== NONE_MODE) return { networkMode: mode, networks: {} };
  const entry = {
    IPAMConfig: null,
    Links: null,
    Aliases: null,
    NetworkID: predefinedNetworkId(mode),
    EndpointID: predefinedEndpointId(c),
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    MacAddress: '',
    DriverOpts: null,
  };
  return { networkMode: mode, networks: { [mode]: entry } };
}
