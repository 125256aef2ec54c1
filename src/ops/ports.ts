/** Published ports: choose host ports, refuse conflicts (naming the holder), record them. */
import { NsnetError } from '../core/errors.js';
import { HOST_BINDING_OPTION } from '../engine/inspect.js';
import { ANY_IPV6, anyAddressBindings, assignHostPorts, collides, forwardTargets, hostFamily, hostsOverlap, parsePortSpec, type PortMapping } from '../engine/ports.js';
import { isParentDriver } from '../engine/vlan-drivers.js';
import type { FirewallMapping } from '../firewall/model.js';
import type { Listener } from '../host/port.js';
import type { ContainerRecord, EndpointRecord } from '../store/index.js';
import type { Context } from './context.js';
import type { Draft } from './pipeline.js';

const stored = (p: { hostIp: string | null; hostPort: number; containerPort: number; proto: PortMapping['proto'] }): PortMapping => ({
  hostIp: p.hostIp ?? undefined,
  hostPort: p.hostPort,
  containerPort: p.containerPort,
  proto: p.proto,
});

function listenerFor(listeners: readonly Listener[], m: Pick<PortMapping, 'hostIp' | 'hostPort' | 'proto'>): Listener | undefined {
  // SCTP sockets are not in /proc/net/{tcp,udp}; such conflicts show up when the kernel is asked.
  return listeners.find(
    (l) => l.proto === m.proto && l.port === m.hostPort && hostsOverlap(l.address, m.hostIp),
  );
}

/**
 * Deciding: parse -p specs, pick free host ports, refuse conflicts with other
 * containers' mappings and with host processes, and record the mappings on the endpoint.
 */
export function publish(ctx: Context, draft: Draft, container: ContainerRecord, endpoint: EndpointRecord, specs: readonly string[]): FirewallMapping[] {
  if (specs.length === 0) return [];
  const network = ctx.store.networks.get(endpoint.networkId);
  if (network !== undefined && isParentDriver(network.driver)) {
    // No host end and no NAT: the host cannot even reach the container over the parent (macvlan's
    // known limitation), so a DNAT from a host port could never be answered. Docker has no port
    // publishing on these drivers either.
    throw new NsnetError('INVALID_VALUE', `cannot publish ports of ${container.name} on ${network.driver} network ${network.name}: its containers sit directly on the LAN of ${network.options['parent'] ?? 'a dummy parent'}`, {
      hint: 'reach the container at its own address, or publish through a bridge network listed first (--network)',
    });
  }
  // Docker's host_binding_ipv4: the address ports of this network bind to when -p names none.
  const option = network?.options[HOST_BINDING_OPTION];
  const binding = option === '0.0.0.0' ? undefined : option;
  const requests = specs.flatMap(parsePortSpec).map((r) => (r.hostIp === undefined && binding !== undefined ? { ...r, hostIp: binding } : r));
  refuseUnreachable(container, endpoint, network?.name, requests);
  refuseForeignAddresses(ctx, requests);
  const taken = ctx.store.ports.list();
  const listeners = ctx.dryRun ? [] : ctx.host.listeners();
  for (const r of requests) {
    if (r.hostPort === undefined) continue;
    const m = { hostIp: r.hostIp, hostPort: r.hostPort, proto: r.proto };
    const clash = taken.find((t) => collides(stored(t), m));
    if (clash !== undefined) {
      const holder = ctx.store.containers.get(clash.containerId)?.name ?? clash.containerId;
      throw new NsnetError('ADDRESS_IN_USE', `host port ${m.hostPort}/${m.proto} is already published by container ${holder}`, {
        hint: 'choose another host port, or leave it out (-p CONTAINER_PORT) to get a free one',
      });
    }
    const listener = listenerFor(listeners, m);
    if (listener !== undefined) {
      const who = ctx.host.socketHolder(listener.inode);
      throw new NsnetError(
        'ADDRESS_IN_USE',
        `host port ${m.hostPort}/${m.proto} is in use on ${listener.address ?? 'every address'} by ${who === undefined ? 'another process' : `process ${who.pid} (${who.command})`}`,
        { hint: 'stop that process or choose another host port' },
      );
    }
  }
  const seen: PortMapping[] = [];
  for (const r of requests) {
    if (r.hostPort === undefined) continue;
    const m = { ...r, hostPort: r.hostPort };
    if (seen.some((s) => collides(s, m))) throw new NsnetError('ADDRESS_IN_USE', `host port ${m.hostPort}/${m.proto} is given twice`);
    seen.push(m);
  }
  const mappings = assignHostPorts(requests, taken.map(stored), ctx.host.ephemeralPortRange(), (m) => listenerFor(listeners, m) !== undefined);
  for (const m of mappings) {
    draft.write({
      kind: 'insert-port',
      record: { endpointId: endpoint.id, containerId: container.id, hostIp: m.hostIp ?? null, hostPort: m.hostPort, containerPort: m.containerPort, proto: m.proto },
    });
  }
  // One firewall mapping per family the port forwards (see specs.ts mappingOf).
  return mappings.flatMap((m) => forwardTargets(m.hostIp, endpoint.ip, endpoint.ip6 ?? null).map((containerIp) => ({ ...m, containerIp, container: container.name })));
}

/**
 * A port on a host address of a family the container has no address of would forward to nothing
 * (`-p [::]:80:80` for a container without IPv6); and IPv6 has no route_localnet: a connection to
 * [::1] DNATed to a container gets its answer back addressed to ::1 on the bridge, which the
 * kernel refuses to route (checked on 6.x: counted as Ip6InNoRoutes), so a [::1] binding could
 * never work without a userland proxy, which nsnet does not run.
 */
function refuseUnreachable(container: ContainerRecord, endpoint: EndpointRecord, network: string | undefined, requests: ReadonlyArray<{ hostIp?: string | undefined }>): void {
  const loop6 = requests.find((r) => r.hostIp === '::1');
  if (loop6 !== undefined) {
    throw new NsnetError('INVALID_VALUE', 'cannot publish on [::1]: IPv6 has no route_localnet, so the kernel drops the answers of a container to a connection from ::1', {
      hint: 'publish on 127.0.0.1 for a loopback-only port, or on an IPv6 address of the host (or [::]) and filter it there',
    });
  }
  const lost = requests.find((r) => r.hostIp !== undefined && forwardTargets(r.hostIp, endpoint.ip, endpoint.ip6 ?? null).length === 0);
  if (lost !== undefined) {
    const family = hostFamily(lost.hostIp) === 6 ? 'IPv6' : 'IPv4';
    const shown = lost.hostIp!.includes(':') ? `[${lost.hostIp}]` : lost.hostIp;
    throw new NsnetError('INVALID_VALUE', `cannot publish on ${shown} for ${container.name}: it has no ${family} address on network ${network ?? endpoint.networkId}, so there is no address to forward to`, {
      hint: `publish on ${family === 'IPv6' ? '0.0.0.0 or no host address' : `[${ANY_IPV6}] or no host address`}, or attach it to a network with ${family}`,
    });
  }
}

/** A port bound to an address the host does not have would never receive anything. */
function refuseForeignAddresses(ctx: Context, requests: ReadonlyArray<{ hostIp?: string | undefined; hostPort?: number | undefined }>): void {
  const wanted = requests.filter((r) => r.hostIp !== undefined && r.hostIp !== '0.0.0.0' && r.hostIp !== ANY_IPV6);
  if (wanted.length === 0) return;
  const own = new Set([...ctx.host.addresses(undefined, 4), ...ctx.host.addresses(undefined, 6)].map((a) => a.address));
  const foreign = wanted.find((r) => !own.has(r.hostIp!));
  if (foreign !== undefined) {
    throw new NsnetError('INVALID_VALUE', `cannot publish on ${foreign.hostIp}: it is not an address of this host`, {
      hint: `use one of ${[...own].map((a) => (a.includes(':') ? `[${a}]` : a)).join(', ')}, or 0.0.0.0 / [::] (every address of a family)`,
    });
  }
}

/**
 * A container's published ports as Docker shows them (`port`, `ps`, inspect): a port on every
 * address is one line per family the container has, `0.0.0.0:8080` and `[::]:8080`.
 */
export function containerPorts(ctx: Context, containerId: string): PortMapping[] {
  const endpoints = new Map(ctx.store.endpoints.forContainer(containerId).map((e) => [e.id, e]));
  return ctx.store.ports.forContainer(containerId).flatMap((p) => {
    const ep = endpoints.get(p.endpointId);
    const m = stored(p);
    if (ep === undefined || m.hostIp !== undefined) return [m];
    return anyAddressBindings(ep.ip, ep.ip6 ?? null).map((any) => (any === ANY_IPV6 ? { ...m, hostIp: ANY_IPV6 } : m));
  });
}
