/**
 * Attachments made for container runtimes through CNI (nsnet-cni). The runtime owns the
 * container's namespace (given by path) and its processes; nsnet owns the attachment: the veth
 * pair into the network's bridge, the address from the shared store, the default route, the
 * firewall's port entries and published ports. One container record per runtime container
 * (marked with the runtime and its container id), one endpoint per network it is attached to,
 * so `nsnet ps`, `network inspect` and `system check` see CNI and CLI containers alike, and
 * both allocate from the same pools under the same lock.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { NsnetError } from '../core/errors.js';
import { parseCidr } from '../core/ipv4.js';
import { ip6ToInt, parseCidr6 } from '../core/ipv6.js';
import * as validate from '../core/validate.js';
import { newId } from '../engine/ids.js';
import { ANTI_SPOOFING_OPTION, BRIDGE_NAME_OPTION, ICC_OPTION, MASQUERADE_OPTION, MTU_OPTION } from '../engine/inspect.js';
import { handoverRouteSteps, planDetach, publishSteps } from '../engine/plans.js';
import { isParentDriver } from '../engine/vlan-drivers.js';
import type { Step } from '../plan/steps.js';
import type { ContainerRecord, EndpointRecord, NetworkRecord } from '../store/index.js';
import type { CniNetConf, RequestedIp } from '../cni/config.js';
import type { Context } from './context.js';
import { addEndpoint, addNetwork, connectSteps, pool6Of, poolOf, type NetworkInput } from './networks.js';
import { commit, decide, type Decision, type Draft } from './pipeline.js';
import { allocate } from '../engine/ipam.js';
import { allocate6 } from '../engine/ipam6.js';
import { publish } from './ports.js';
import { containerEndpoints, endpointMappings, endpointSpec, networkSpec } from './specs.js';

/** Label on networks that nsnet-cni created from a CNI configuration. */
export const CNI_LABEL = 'nsnet.cni';

export interface CniAddRequest {
  conf: CniNetConf;
  containerId: string;
  netns: string;
  ifName: string;
  /** The addresses the runtime asks for (ips capability, IP=), one per family. */
  ip?: RequestedIp | undefined;
  ip6?: RequestedIp | undefined;
  mac?: string | undefined;
  /** Docker -p specs from the portMappings capability. */
  ports: string[];
  aliases: string[];
  /** Who called the plugin (podman, containerd, ...). */
  runtime: string;
}

export interface CniAttachment {
  network: NetworkRecord;
  container: ContainerRecord;
  endpoint: EndpointRecord;
  /** Whether this interface carries the container's default route. */
  carriesDefaultRoute: boolean;
}

/** The nsnet network a CNI configuration describes. */
function networkInputOf(conf: CniNetConf): NetworkInput {
  const options: Record<string, string> = {};
  if (conf.bridge !== undefined) options[BRIDGE_NAME_OPTION] = conf.bridge;
  if (conf.ipMasq !== undefined) options[MASQUERADE_OPTION] = String(conf.ipMasq);
  if (conf.mtu !== undefined) options[MTU_OPTION] = String(conf.mtu);
  if (conf.isolation !== undefined) options[ICC_OPTION] = String(conf.isolation === 'network');
  if (conf.antiSpoofing !== undefined) options[ANTI_SPOOFING_OPTION] = String(conf.antiSpoofing);
  // IPv6 when the configuration gives an IPv6 range; IPv6 only when it gives no IPv4 (host-local's
  // ranges with just an IPv6 set), as `network create --ipv4=false --ipv6` does.
  const ipv6 = conf.subnet6 !== undefined;
  const ipv4 = !ipv6 || conf.subnet !== undefined || conf.gateway !== undefined;
  return {
    name: conf.name,
    subnet: [conf.subnet, conf.subnet6].filter((v): v is string => v !== undefined),
    gateway: [conf.gateway, conf.gateway6].filter((v): v is string => v !== undefined),
    ipv4,
    ipv6,
    internal: conf.isGateway === false,
    options,
    labels: { [CNI_LABEL]: 'true' },
  };
}

/**
 * Where an existing network disagrees with what the configuration declares (only what it
 * declares: the rest is the network's own). Empty when they agree.
 */
function disagreements(network: NetworkRecord, conf: CniNetConf): string[] {
  const out: string[] = [];
  const differs = (what: string, theirs: string, ours: string | null): void => void (theirs !== ours && out.push(`${what} is ${ours}, the configuration says ${theirs}`));
  if (conf.subnet !== undefined) differs('subnet', validate.subnet(conf.subnet).text, network.subnet);
  if (conf.gateway !== undefined) differs('gateway', conf.gateway, network.gateway);
  // A configuration with an IPv6 range wants IPv6; one with only an IPv6 range wants no IPv4.
  if (conf.subnet6 !== undefined) differs('IPv6 subnet', conf.subnet6, network.subnet6 ?? 'none (no IPv6)');
  if (conf.gateway6 !== undefined) differs('IPv6 gateway', conf.gateway6, network.gateway6 ?? 'none');
  if (conf.subnet6 !== undefined && conf.subnet === undefined && conf.gateway === undefined && network.subnet !== null) {
    differs('IPv4 subnet', 'none (IPv6 only)', network.subnet);
  }
  if (conf.bridge !== undefined) differs('bridge', conf.bridge, network.bridge);
  if (conf.isGateway !== undefined) differs('isGateway', String(conf.isGateway), String(!network.internal));
  if (conf.mtu !== undefined) differs('mtu', String(conf.mtu), String(network.mtu ?? 'the default'));
  const option = (key: string): string => network.options[key] ?? 'true';
  if (conf.ipMasq !== undefined) differs('ipMasq', String(conf.ipMasq), option(MASQUERADE_OPTION));
  if (conf.antiSpoofing !== undefined) differs('antiSpoofing', String(conf.antiSpoofing), option(ANTI_SPOOFING_OPTION));
  if (conf.isolation !== undefined) differs('isolation', conf.isolation, option(ICC_OPTION) === 'false' ? 'container' : 'network');
  return out;
}

/** Deciding: the network, made from the configuration on first use. */
function networkFor(ctx: Context, draft: Draft, conf: CniNetConf): { network: NetworkRecord; steps: Step[] } {
  const found = ctx.store.networks.byName(conf.name);
  if (found === undefined) return addNetwork(ctx, draft, networkInputOf(conf), false);
  if (isParentDriver(found.driver)) {
    throw new NsnetError('INVALID_VALUE', `network ${conf.name} is a ${found.driver} network: nsnet-cni attaches to bridge networks only`, {
      hint: `name a bridge network in the configuration, or use the CNI project's own ${found.driver} plugin`,
    });
  }
  const diff = disagreements(found, conf);
  if (diff.length > 0) {
    throw new NsnetError('INVALID_VALUE', `network ${conf.name} already exists and its ${diff.join('; its ')}`, {
      hint: `make the configuration agree with nsnet network inspect ${conf.name}, or remove the network (nsnet network rm ${conf.name}) when nothing uses it`,
    });
  }
  return { network: found, steps: [] };
}

/** A readable, unique container name: cni- and the start of the runtime's id (Podman's short id). */
function containerNameFor(ctx: Context, cniId: string): string {
  const short = `cni-${cniId.slice(0, 12)}`;
  if (ctx.store.containers.byIdOrName(short) === undefined) return validate.containerName(short);
  return `cni-${createHash('sha256').update(cniId).digest('hex').slice(0, 16)}`;
}

function newContainer(ctx: Context, req: CniAddRequest): ContainerRecord {
  const id = newId();
  const name = containerNameFor(ctx, req.containerId);
  return {
    id,
    name,
    hostname: name,
    command: [],
    env: {},
    rootfs: null,
    detached: true,
    status: 'running',
    pid: null,
    pidStart: null,
    exitCode: null,
    logPath: path.join(ctx.root, 'containers', id, 'output.log'),
    created: new Date().toISOString(),
    startedAt: new Date().toISOString(),
    finishedAt: null,
    netns: req.netns,
    cniContainerId: req.containerId,
    runtime: req.runtime,
    // The runtime runs the processes: nsnet never starts one here.
    capAdd: [],
    capDrop: [],
    privileged: false,
  };
}

/** ADD: attach the runtime's namespace to the network. */
export function cniAdd(ctx: Context, req: CniAddRequest): CniAttachment {
  return ctx.locked(() => commit(ctx, decide(ctx, (draft) => decideAdd(ctx, draft, req))));
}

function decideAdd(ctx: Context, draft: Draft, req: CniAddRequest): Omit<Decision<CniAttachment>, 'writes'> {
  const { network, steps: networkSteps } = networkFor(ctx, draft, req.conf);
  let container = ctx.store.containers.byCniId(req.containerId);
  if (container === undefined) {
    container = newContainer(ctx, req);
    draft.write({ kind: 'insert-container', record: container });
  } else if (container.netns !== req.netns) {
    throw new NsnetError('IN_USE', `container ${req.containerId} is attached to nsnet in namespace ${container.netns}, not ${req.netns}`, {
      hint: 'DEL its attachments first (the runtime does so when the container stops)',
    });
  }
  const existing = ctx.store.endpoints.forContainer(container.id);
  if (ctx.store.endpoints.get(network.id, container.id) !== undefined) {
    throw new NsnetError('IN_USE', `container ${req.containerId} is already attached to network ${network.name}`, { hint: 'DEL that attachment first' });
  }
  if (existing.some((e) => e.ifName === req.ifName)) {
    throw new NsnetError('IN_USE', `container ${req.containerId} already has an interface ${req.ifName} from nsnet`, { hint: 'give each network its own CNI_IFNAME' });
  }
  refusePrefixMismatch(network, req.ip, network.subnet === null ? undefined : parseCidr(network.subnet).prefixLen, network.subnet);
  refusePrefixMismatch(network, req.ip6, network.subnet6 == null ? undefined : parseCidr6(network.subnet6).prefixLen, network.subnet6);
  const { endpoint, spec } = addEndpoint(ctx, draft, network, container, req.ifName, { ip: req.ip?.ip, ip6: req.ip6?.ip, mac: req.mac });
  const connect = connectSteps(ctx, container.netns, existing, spec);
  const steps: Step[] = [...networkSteps, ...connect.steps];
  if (req.ports.length > 0) {
    refuseInternalPublish(network);
    const mappings = publish(ctx, draft, container, endpoint, req.ports);
    steps.push(...publishSteps(ctx.firewall, mappings, `publish ${container.name} ${req.ifName}`));
  }
  if (req.aliases.length > 0) {
    const dns = ctx.store.dns.get(container.id);
    const aliases = [...new Set([...(dns?.aliases ?? []), ...req.aliases])];
    draft.write({ kind: 'set-dns', config: { containerId: container.id, servers: [], search: [], options: [], extraHosts: [], ...dns, aliases } });
  }
  return { op: 'cni add', mode: 'rollback', steps, result: { network, container, endpoint, carriesDefaultRoute: connect.carriesDefaultRoute } };
}

/** A requested address's prefix length (when given) must be its family's subnet's. */
function refusePrefixMismatch(network: NetworkRecord, req: RequestedIp | undefined, prefixLen: number | undefined, subnet: string | null | undefined): void {
  if (req?.prefixLen === undefined || req.prefixLen === prefixLen) return;
  throw new NsnetError('INVALID_VALUE', `requested address ${req.ip}/${req.prefixLen} does not match network ${network.name} (${subnet ?? `no ${req.ip.includes(':') ? 'IPv6' : 'IPv4'} subnet`})`, {
    hint: prefixLen === undefined ? undefined : `give the address with /${prefixLen}, or without a prefix length`,
  });
}

function refuseInternalPublish(network: NetworkRecord): void {
  if (network.internal) throw new NsnetError('INVALID_VALUE', `cannot publish ports on network ${network.name}: it has isGateway false (no way in or out)`);
}

/** The attachment of a runtime container to a network, if there is one. */
export function findAttachment(ctx: Context, cniId: string, networkName: string, ifName?: string): CniAttachment | undefined {
  const container = ctx.store.containers.byCniId(cniId);
  const network = ctx.store.networks.byName(networkName);
  if (container === undefined || network === undefined) return undefined;
  const endpoint = ctx.store.endpoints.get(network.id, container.id);
  if (endpoint === undefined || (ifName !== undefined && endpoint.ifName !== ifName)) return undefined;
  const all = ctx.store.endpoints.forContainer(container.id);
  const carrier = all.find((ep) => !ctx.store.networks.get(ep.networkId)!.internal);
  return { network, container, endpoint, carriesDefaultRoute: carrier?.id === endpoint.id };
}

/**
 * DEL: release the attachment: its published ports, the veth (if the namespace has not taken it
 * already), the firewall's port entries and the address. Idempotent: what is not there is done.
 * The runtime's namespace is never touched beyond the interface nsnet put there.
 */
export function cniDel(ctx: Context, cniId: string, networkName: string, ifName: string): boolean {
  return ctx.locked(() => {
    const found = findAttachment(ctx, cniId, networkName, ifName);
    if (found === undefined) return false;
    detachLocked(ctx, found, 'cni del');
    return true;
  });
}

/** Under the lock: take one attachment away, and the container record with its last one. */
export function detachLocked(ctx: Context, a: CniAttachment, op: string): void {
  commit(
    ctx,
    decide(ctx, () => {
      const steps = planDetach(a.container.netns, endpointSpec(a.network, a.endpoint), ctx.firewall, endpointMappings(ctx.store, a.endpoint));
      // When the runtime deleted its namespace first, the veth went with it.
      const vethGone = ctx.host.link(a.endpoint.hostIf) === undefined;
      const kept = vethGone ? steps.filter((s) => !(s.kind === 'link-del' && s.dev === a.endpoint.hostIf)) : steps;
      // The container keeps a way out through its next network, as ADD gave one (and CHECK expects it).
      const ns = a.container.netns;
      if (ctx.host.netnsExists(ns)) kept.push(...handoverRouteSteps(ns, containerEndpoints(ctx.store, a.container.id), a.endpoint.hostIf));
      const last = ctx.store.endpoints.forContainer(a.container.id).length === 1;
      return {
        op,
        mode: 'finish',
        steps: kept,
        writes: [{ kind: 'delete-endpoint', id: a.endpoint.id }, ...(last ? [{ kind: 'delete-container' as const, id: a.container.id }] : [])],
        result: undefined,
      };
    }),
  );
}

/** GC: release every attachment on this network that the runtime no longer lists as valid. */
export function cniGc(ctx: Context, networkName: string, valid: ReadonlyArray<{ containerId: string; ifName: string }>): string[] {
  return ctx.locked(() => {
    const network = ctx.store.networks.byName(networkName);
    if (network === undefined) return [];
    const keep = new Set(valid.map((v) => `${v.containerId}/${v.ifName}`));
    const released: string[] = [];
    for (const endpoint of ctx.store.endpoints.forNetwork(network.id)) {
      const container = ctx.store.containers.get(endpoint.containerId);
      const cniId = container?.cniContainerId;
      if (container === undefined || cniId === undefined || cniId === null || keep.has(`${cniId}/${endpoint.ifName}`)) continue;
      detachLocked(ctx, { network, container, endpoint, carriesDefaultRoute: false }, 'cni gc');
      released.push(`${cniId}/${endpoint.ifName}`);
    }
    return released;
  });
}

/**
 * STATUS: can an ADD on this network succeed now? Problems are returned, not thrown: an
 * exhausted pool, or a network that exists in a shape the configuration contradicts.
 */
export function cniStatus(ctx: Context, conf: CniNetConf): string[] {
  const network = ctx.store.networks.byName(conf.name);
  if (network === undefined) return [];
  const diff = disagreements(network, conf);
  if (diff.length > 0) return [`network ${conf.name} exists and its ${diff.join('; its ')}`];
  try {
    // Each family the network has must have an address left: ADD takes one of each.
    if (network.subnet !== null) allocate(poolOf(network), ctx.store.networks.usedIps(network.id), network.ipamCursor ?? undefined);
    const pool6 = pool6Of(network);
    if (pool6 !== undefined) {
      const used6 = new Set([...ctx.store.networks.usedIps6(network.id)].map(ip6ToInt));
      allocate6(pool6, used6, network.ipamCursor6 == null ? undefined : BigInt(network.ipamCursor6));
    }
    return [];
  } catch (err) {
    if (err instanceof NsnetError && err.code === 'POOL_EXHAUSTED') return [err.message];
    throw err;
  }
}


/** Release every attachment of a CNI container (its runtime's namespace is gone, or rm -f). */
export function releaseAll(ctx: Context, c: ContainerRecord): void {
  ctx.locked(() => {
    for (const endpoint of ctx.store.endpoints.forContainer(c.id)) {
      const network = ctx.store.networks.get(endpoint.networkId)!;
      detachLocked(ctx, { network, container: c, endpoint, carriesDefaultRoute: false }, 'cni release');
    }
  });
}

/**
 * ADD of an nsnet-cni entry chained after the one that attached the container to this network
 * (portmap's role): publish the ports its runtimeConfig carries on that attachment. Podman 4.3
 * replaces the first plugin's capabilities with `ips` when --ip is given, so a conflist that
 * wants -p and --ip together declares portMappings on a second entry.
 */
export function cniPublish(ctx: Context, a: CniAttachment, ports: readonly string[]): void {
  if (ports.length === 0) return;
  ctx.locked(() => {
    refuseInternalPublish(a.network);
    const decision = decide(ctx, (draft) => {
      const mappings = publish(ctx, draft, a.container, a.endpoint, ports);
      const steps = publishSteps(ctx.firewall, mappings, `publish ${a.container.name} ${a.endpoint.ifName}`);
      // A crash half-way forgets the ports like a failure does; the runtime's DEL of the failed
      // ADD withdraws the attachment.
      return { op: 'cni publish', mode: 'rollback', steps, result: undefined };
    });
    commit(ctx, decision);
  });
}
