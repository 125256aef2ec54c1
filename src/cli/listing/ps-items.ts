/** What `nsnet ps` lists: every container with its live state, networks and ports, newest first (as Docker). */
import type { Context } from '../../ops/context.js';
import { liveState, monitorWarning } from '../../ops/liveness.js';
import type { ContainerRecord, EndpointRecord, NetworkRecord } from '../../store/index.js';
import { containerPorts } from '../../ops/ports.js';
import type { PsItem } from './ps-rows.js';

/**
 * The store rows a listing needs, read in a few queries rather than a few per container: every
 * query prepares its statement anew (~10-25 µs), and ps and GET /containers/json run often.
 */
export interface ListingReads {
  networks: Map<string, NetworkRecord>;
  /** Each container's endpoints in endpoints.forContainer's order (created, interface name). */
  endpoints: Map<string, EndpointRecord[]>;
  /** Containers with at least one published port (only these need containerPorts' queries). */
  publishing: Set<string>;
}

export function listingReads(ctx: Context): ListingReads {
  const networks = new Map(ctx.store.networks.list().map((n) => [n.id, n]));
  const endpoints = new Map<string, EndpointRecord[]>();
  // Every endpoint belongs to a network (a foreign key), so one query per network reads them all.
  for (const id of networks.keys()) {
    for (const e of ctx.store.endpoints.forNetwork(id)) {
      const list = endpoints.get(e.containerId);
      if (list === undefined) endpoints.set(e.containerId, [e]);
      else list.push(e);
    }
  }
  for (const list of endpoints.values()) list.sort(byCreatedThenInterface);
  return { networks, endpoints, publishing: new Set(ctx.store.ports.list().map((p) => p.containerId)) };
}

/** SQLite's ORDER BY created, if_name (BINARY collation: code-unit order, as JS compares strings). */
function byCreatedThenInterface(a: EndpointRecord, b: EndpointRecord): number {
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  return a.ifName < b.ifName ? -1 : a.ifName > b.ifName ? 1 : 0;
}

export function psItems(ctx: Context, reads: ListingReads = listingReads(ctx)): PsItem[] {
  const items = ctx.store.containers.list().map((container) => ({
    container,
    live: warnedLiveState(ctx, container),
    networks: (reads.endpoints.get(container.id) ?? []).map((e) => ({ id: e.networkId, name: reads.networks.get(e.networkId)?.name ?? '?' })),
    ports: reads.publishing.has(container.id) ? containerPorts(ctx, container.id) : [],
  }));
  // Stable: containers created in the same millisecond keep the store's order, reversed.
  return items.reverse().sort((a, b) => (a.container.created < b.container.created ? 1 : a.container.created > b.container.created ? -1 : 0));
}

/** The live state, with a warning on stderr when the container's monitor is gone. */
function warnedLiveState(ctx: Context, c: ContainerRecord): PsItem['live'] {
  const live = liveState(ctx.host, c);
  const warning = monitorWarning(c, live);
  if (warning !== undefined) ctx.warn(warning);
  return live;
}
