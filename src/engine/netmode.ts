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
