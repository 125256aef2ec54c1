/**
 * What a listing of containers reads (`nsnet ps`, GET /containers/json): every container,
 * network, endpoint, published port and DNS setting, in a few queries rather than a few per
 * container, and kept while the store is unchanged. nsnet serve answers every `docker ps` from
 * one open store, and decoding the rows (fromRow, ~40 columns a container) cost more than the
 * rest of the answer; a kept listing is checked against store.version() at each call, so a change
 * made by this process or by another one is read at once (never a time-based cache). The records
 * are shared between callers: read-only.
 */
import type { DnsConfigs, DnsConfig } from './dns.js';
import type { Containers, Endpoints, Networks, Ports } from './repos.js';
import type { ContainerRecord, EndpointRecord, NetworkRecord, PortRecord } from './types.js';

export interface ContainerListing {
  /** The store.version() it was read at. */
  readonly version: string | undefined;
  /** Every container, in the store's order (created, name). */
  readonly containers: readonly ContainerRecord[];
  readonly networks: ReadonlyMap<string, NetworkRecord>;
  /** Each container's endpoints in endpoints.forContainer's order (created, interface name). */
  readonly endpoints: ReadonlyMap<string, readonly EndpointRecord[]>;
  /** Each publishing container's port records. */
  readonly ports: ReadonlyMap<string, readonly PortRecord[]>;
  readonly dns: ReadonlyMap<string, DnsConfig>;
}

export interface ListingSource {
  readonly containers: Containers;
  readonly networks: Networks;
  readonly endpoints: Endpoints;
  readonly ports: Ports;
  readonly dns: DnsConfigs;
  version(): string | undefined;
}

const kept = new WeakMap<ListingSource, ContainerListing>();

/** The listing of this store, read again only when store.version() has changed since. */
export function containerListing(store: ListingSource): ContainerListing {
  const version = store.version();
  const known = kept.get(store);
  if (version !== undefined && known?.version === version) return known;
  const listing = readListing(store, version);
  // A commit of another process between the queries: this answer may mix both; the next reads again.
  if (version !== undefined && store.version() === version) kept.set(store, listing);
  else kept.delete(store);
  return listing;
}

function readListing(store: ListingSource, version: string | undefined): ContainerListing {
  const networks = new Map(store.networks.list().map((n) => [n.id, n]));
  const endpoints = new Map<string, EndpointRecord[]>();
  // Every endpoint belongs to a network (a foreign key), so one query per network reads them all.
  for (const id of networks.keys()) {
    for (const e of store.endpoints.forNetwork(id)) {
      const list = endpoints.get(e.containerId);
      if (list === undefined) endpoints.set(e.containerId, [e]);
      else list.push(e);
    }
  }
  for (const list of endpoints.values()) list.sort(byCreatedThenInterface);
  const ports = new Map<string, PortRecord[]>();
  for (const p of store.ports.list()) {
    const list = ports.get(p.containerId);
    if (list === undefined) ports.set(p.containerId, [p]);
    else list.push(p);
  }
  return {
    version,
    containers: store.containers.list(),
    networks,
    endpoints,
    ports,
    dns: new Map(store.dns.list().map((d) => [d.containerId, d])),
  };
}

/** SQLite's ORDER BY created, if_name (BINARY collation: code-unit order, as JS compares strings). */
function byCreatedThenInterface(a: EndpointRecord, b: EndpointRecord): number {
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  return a.ifName < b.ifName ? -1 : a.ifName > b.ifName ? 1 : 0;
}
