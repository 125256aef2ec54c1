/**
 * What the responder serves, read from the state store: the view of every DNS-enabled network and
 * its containers (names of the running ones, addresses of all, both families, for access.ts),
 * every network's subnets, and the gateways it must listen on. Liveness and the host's upstreams
 * are given by the caller (src/ops knows how to ask the host), so this stays free of I/O.
 */
import { dnsEnabled, networkServers } from '../engine/dns-options.js';
import type { ContainerRecord, DnsConfig, Store } from '../store/index.js';
import { buildView, type DnsView, type ViewContainer, type ViewNetwork } from './view.js';

export function loadView(store: Store, running: (c: ContainerRecord) => boolean, hostServers: readonly string[]): DnsView {
  const networks: ViewNetwork[] = store.networks
    .list()
    .map((n) => ({
      id: n.id,
      name: n.name,
      gateway: n.gateway,
      subnet: n.subnet,
      gateway6: n.gateway6 ?? null,
      subnet6: n.subnet6 ?? null,
      servers: networkServers(n),
      dns: dnsEnabled(n),
    }));
  const configs = new Map<string, DnsConfig>(store.dns.list().map((d) => [d.containerId, d]));
  const all = store.containers.list();
  const live = new Set(all.filter(running).map((c) => c.id));
  const isLive = (c: ContainerRecord): boolean => live.has(c.id);
  const byContainer = new Map<string, ViewContainer['endpoints']>();
  const links = linkAliases(store, all);
  for (const a of store.dns.addresses()) {
    if (a.ip === null && a.ip6 === null) continue;
    const list = byContainer.get(a.containerId) ?? [];
    list.push({ networkId: a.networkId, ip: a.ip, ip6: a.ip6, aliases: [...a.aliases, ...(links.get(`${a.containerId}/${a.networkId}`) ?? [])] });
    byContainer.set(a.containerId, list);
  }
  const containers: ViewContainer[] = all.map((c) => ({
    id: c.id,
    name: c.name,
    hostname: c.hostname,
    aliases: configs.get(c.id)?.aliases ?? [],
    servers: configs.get(c.id)?.servers ?? [],
    endpoints: byContainer.get(c.id) ?? [],
    running: isLive(c),
  }));
  // A container that does not run is passed with running: false; its names stay known (never
  // forwarded) and resolve nowhere.
  return buildView(networks, containers, hostServers);
}

/**
 * --link NAME:ALIAS: ALIAS is a name of container NAME on the default network (Docker's legacy
 * links live there). Keyed "containerId/networkId" of the linked container's endpoint.
 */
function linkAliases(store: Store, all: readonly ContainerRecord[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const defaultNet = store.networks.list().find((n) => n.isDefault);
  if (defaultNet === undefined) return out;
  for (const c of all) {
    for (const link of c.links ?? []) {
      const target = all.find((t) => t.name === link.name);
      if (target === undefined) continue;
      const key = `${target.id}/${defaultNet.id}`;
      out.set(key, [...(out.get(key) ?? []), link.alias]);
    }
  }
  return out;
}

/**
 * Gateways of the networks that need the responder: DNS on, at least one container attached.
 * Both gateways of a dual-stack network: its containers' resolv.conf names the IPv4 one, but a
 * container may ask either (and an IPv6-only network has only the IPv6 one).
 */
export function neededAddresses(store: Store): string[] {
  return store.networks
    .list()
    .filter((n) => dnsEnabled(n) && (store.networks.usedIps(n.id).size > 0 || store.networks.usedIps6(n.id).size > 0))
    .flatMap((n) => [n.gateway, n.gateway6 ?? null].filter((g): g is string => g !== null))
    .sort();
}
