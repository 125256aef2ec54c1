/** Network operations: create, remove, connect, disconnect, prune, and the default network. */
import { NsnetError, invalid, wrap } from '../core/errors.js';
import { intToIp, ipToInt, parseCidr, parseIPv4 } from '../core/ipv4.js';
import { intToIp6, ip6ToInt, parseCidr6, parseIPv6 } from '../core/ipv6.js';
import * as validate from '../core/validate.js';
import { bridgeMacFor, bridgeNameFor, macFor, newId, vethNameFor } from '../engine/ids.js';
import {
  ANTI_SPOOFING_OPTION,
  BRIDGE_NAME_OPTION,
  HOST_BINDING_OPTION,
  ICC_OPTION,
  MASQUERADE_OPTION,
  MTU_OPTION,
} from '../engine/inspect.js';
import { allocate, reserve, type Pool } from '../engine/ipam.js';
import { allocate6, reserve6, type Pool6 } from '../engine/ipam6.js';
import { validateDriver } from '../engine/network-drivers.js';
import { isParentDriver, linkDriverOf, PARENT_DRIVER_OPTIONS, PARENT_OPTION, validateParentOptions } from '../engine/vlan-drivers.js';
import { defaultRouteSteps, handoverRouteSteps, planConnect, routeFamily, planCreateNetwork, planDetach, planRemoveNetwork, type EndpointSpec } from '../engine/plans.js';
import type { ContainerRecord, EndpointRecord, NetworkRecord } from '../store/index.js';
import type { Step } from '../plan/steps.js';
import type { Context } from './context.js';
import { containerEndpoints, endpointMappings, endpointSpec, firewallState, isCniContainer, networkSpec } from './specs.js';
import { DRIVER_SETTING } from './firewall-choice.js';
import { commit, decide, failureOf, type Draft } from './pipeline.js';
import { DNS_OPTION, DNS_SERVERS_OPTION, dnsInput, validateNetworkDnsOptions } from '../engine/dns-options.js';
import { refreshContainerFiles } from './dns-files.js';
import { refuseModeChange, refuseRemovingPredefined } from './netmodes.js';
import { decideAddressing, type AddressingInput } from './network-subnets.js';
import { keepHostRa } from './host-ipv6.js';
import { linkIfNames } from './p2p-links.js';

export const DEFAULT_NETWORK = 'bridge';
export const DEFAULT_BRIDGE = 'nsnet0';
/** Names a user network cannot take: the default network's, and Docker's predefined host and none. */
const RESERVED_NETWORK_NAMES = [DEFAULT_NETWORK, 'host', 'none'];

/** Options nsnet understands; anything else is refused rather than silently ignored. */
const KNOWN_OPTIONS = [BRIDGE_NAME_OPTION, MTU_OPTION, ICC_OPTION, MASQUERADE_OPTION, ANTI_SPOOFING_OPTION, HOST_BINDING_OPTION, DNS_OPTION, DNS_SERVERS_OPTION];
/** A macvlan/ipvlan network has no bridge: its options are the driver's own, the MTU and DNS. */
const optionsOf = (driver: string): readonly string[] =>
  isParentDriver(driver) ? [...PARENT_DRIVER_OPTIONS[driver], MTU_OPTION, DNS_OPTION, DNS_SERVERS_OPTION] : KNOWN_OPTIONS;
const BOOLEAN_OPTIONS = [ICC_OPTION, MASQUERADE_OPTION, ANTI_SPOOFING_OPTION, DNS_OPTION];

export interface NetworkInput extends AddressingInput {
  name: string;
  internal?: boolean | undefined;
  options?: Record<string, string> | undefined;
  labels?: Record<string, string> | undefined;
  /** -d/--driver: see engine/network-drivers.ts. */
  driver?: string | undefined;
  /** --attachable: accepted and recorded (any container may join any nsnet network). */
  attachable?: boolean | undefined;
}

/** Validate a `network create` request against the store and the host; returns the record to insert. */
function decideNetwork(ctx: Context, input: NetworkInput, isDefault: boolean): NetworkRecord {
  const name = validate.networkName(input.name);
  const driver = validateDriver(input.driver);
  if (!isDefault && RESERVED_NETWORK_NAMES.includes(name)) {
    throw new NsnetError('FORBIDDEN', `network name ${name} is reserved: ${name === DEFAULT_NETWORK ? 'it is the default network, made on first use' : `it is Docker's predefined ${name} network`}`, {
      hint: 'pick another name',
    });
  }
  if (ctx.store.networks.byName(name) !== undefined) {
    const hint = isDefault
      ? 'the default network is made on first use: create it with the options you want (e.g. --ipv6) before the first container, or after nsnet system reset'
      : 'pick another name, or see nsnet network ls';
    throw new NsnetError('NAME_IN_USE', `network with name ${name} already exists`, { hint });
  }
  const options = { ...(input.options ?? {}) };
  const known = optionsOf(driver);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw validateError(`unknown ${driver} network option "${key}": supported options are ${known.join(', ')}`);
    }
  }
  for (const key of BOOLEAN_OPTIONS) {
    const value = options[key];
    if (value !== undefined && value !== 'true' && value !== 'false') {
      throw validateError(`invalid value "${value}" for network option ${key}: expected true or false`);
    }
  }
  if (options[HOST_BINDING_OPTION] !== undefined) parseIPv4(options[HOST_BINDING_OPTION], HOST_BINDING_OPTION);
  if (input.internal === true && options[MASQUERADE_OPTION] === 'true') {
    throw validateError(`--internal contradicts ${MASQUERADE_OPTION}=true: an internal network has no way out to masquerade`);
  }
  validateNetworkDnsOptions(options);
  if (isParentDriver(driver)) {
    validateParentOptions(driver, options, input.internal === true, (link) => ctx.host.link(link) !== undefined);
    refuseTakenParent(ctx, options[PARENT_OPTION]);
  }
  const id = newId();
  const bridge = validate.ifName(options[BRIDGE_NAME_OPTION] ?? (isDefault ? DEFAULT_BRIDGE : bridgeNameFor(id)));
  const mtuText = options[MTU_OPTION];
  const mtu = mtuText === undefined ? null : validate.mtu(mtuText);
  const holder = ctx.store.networks.list().find((n) => n.bridge === bridge);
  if (holder !== undefined) {
    throw new NsnetError('NAME_IN_USE', `bridge device ${bridge} is already used by network ${holder.name}`);
  }
  if (!ctx.dryRun && ctx.host.link(bridge) !== undefined) {
    throw new NsnetError('NAME_IN_USE', `a network device named ${bridge} already exists on the host`, {
      hint: `choose another name with -o ${BRIDGE_NAME_OPTION}=NAME`,
    });
  }

  const addressing = decideAddressing(ctx, input, !isParentDriver(driver));
  const labels = input.labels ?? {};
  return {
    id,
    name,
    bridge,
    ...addressing,
    internal: input.internal === true,
    mtu,
    options: Object.fromEntries(Object.entries(options).filter(([k]) => k !== BRIDGE_NAME_OPTION)),
    labels,
    isDefault,
    created: new Date().toISOString(),
    ipamCursor: null,
    ipamCursor6: null,
    attachable: input.attachable === true,
    driver,
  };
}

const validateError = (message: string): NsnetError => new NsnetError('INVALID_VALUE', message);

/** One macvlan/ipvlan network per parent link, as Docker: two would hand out clashing addresses on one LAN. */
function refuseTakenParent(ctx: Context, parent: string | undefined): void {
  if (parent === undefined) return;
  const holder = ctx.store.networks.list().find((n) => {
    const d = linkDriverOf(n);
    return d.kind !== 'bridge' && d.parent === parent;
  });
  if (holder !== undefined) {
    throw new NsnetError('IN_USE', `network ${holder.name} is already using parent interface ${parent}`, { hint: `remove it first, or name another -o ${PARENT_OPTION}=` });
  }
}

/** Deciding: the network's record and the steps that build it. */
export function addNetwork(ctx: Context, draft: Draft, input: NetworkInput, isDefault: boolean): { network: NetworkRecord; steps: Step[] } {
  const before = firewallState(ctx.store);
  const network = decideNetwork(ctx, input, isDefault);
  draft.write({ kind: 'insert-network', record: network });
  draft.write({ kind: 'set-setting', key: DRIVER_SETTING, value: ctx.firewall.name });
  const steps = planCreateNetwork(networkSpec(network), before, ctx.firewall);
  // The host keeps its router advertisements when the bridge turns IPv6 forwarding on.
  return { network, steps: network.subnet6 != null && !network.internal && !isParentDriver(network.driver) ? keepHostRa(ctx, draft, steps) : steps };
}

export function createNetwork(ctx: Context, input: NetworkInput): NetworkRecord {
  return ctx.locked(() =>
    commit(
      ctx,
      decide(ctx, (draft) => {
        // The default network is made on first use, as Docker's; made ahead by name it takes the
        // options given (the documented way to give it IPv6: network create bridge --ipv6 ...).
        const { network, steps } = addNetwork(ctx, draft, input, input.name === DEFAULT_NETWORK);
        return { op: 'network create', mode: 'rollback', steps, result: network };
      }),
    ),
  );
}

/**
 * Deciding: the network a container asks for, creating the default one on first use (its steps
 * are returned so they run before the container's own).
 */
export function resolveNetworkForUse(ctx: Context, draft: Draft, ref: string): { network: NetworkRecord; steps: Step[] } {
  const found = ctx.store.networks.byIdOrName(ref);
  if (found !== undefined) return { network: found, steps: [] };
  if (ref === DEFAULT_NETWORK) return addNetwork(ctx, draft, { name: DEFAULT_NETWORK }, true);
  return { network: ctx.store.networks.resolve(ref), steps: [] };
}

export function removeNetwork(ctx: Context, ref: string, opts: { allowDefault?: boolean } = {}): NetworkRecord {
  return ctx.locked(() => {
    const decision = decide(ctx, () => {
      refuseRemovingPredefined(ref);
      const network = ctx.store.networks.resolve(ref);
      if (network.isDefault && opts.allowDefault !== true) {
        throw new NsnetError('FORBIDDEN', `network ${network.name} is the default network and cannot be removed`, {
          hint: 'nsnet system reset --force removes everything nsnet made, the default network included',
        });
      }
      const attached = ctx.store.endpoints.forNetwork(network.id).map((ep) => ctx.store.containers.get(ep.containerId)?.name ?? ep.containerId);
      if (attached.length > 0) {
        throw new NsnetError('IN_USE', `network ${network.name} has containers attached: ${attached.join(', ')}`, {
          hint: `disconnect them (nsnet network disconnect ${network.name} NAME) or remove them first`,
        });
      }
      const steps = planRemoveNetwork(networkSpec(network), firewallState(ctx.store), ctx.firewall);
      return { op: 'network rm', mode: 'finish', steps, writes: [{ kind: 'delete-network', id: network.id }], result: network };
    });
    return commit(ctx, decision);
  });
}

/** The IPv4 addresses a network hands out: its subnet (or --ip-range), the gateway excepted. */
export function poolOf(network: NetworkRecord): Pool {
  if (network.subnet === null || network.gateway === null) throw new NsnetError('INVALID_VALUE', `network ${network.name} has no IPv4 (it was made with --ipv4=false)`);
  const pool: Pool = { subnet: parseCidr(network.subnet), gateway: ipToInt(network.gateway), name: network.name };
  if (network.ipRange !== null) pool.range = parseCidr(network.ipRange);
  const aux = Object.entries(network.auxAddresses ?? {});
  if (aux.length > 0) pool.reserved = new Map(aux.map(([auxName, ip]) => [ipToInt(ip), auxName]));
  return pool;
}

/** The IPv6 addresses a network hands out; undefined when it has no IPv6. */
export function pool6Of(network: NetworkRecord): Pool6 | undefined {
  if (network.subnet6 == null || network.gateway6 == null) return undefined;
  return {
    subnet: parseCidr6(network.subnet6),
    gateway: ip6ToInt(network.gateway6),
    range: network.ipRange6 == null ? undefined : parseCidr6(network.ipRange6),
    name: network.name,
  };
}

/** Deciding: the endpoint's IPv4 address (undefined on an IPv6-only network). */
function chooseIPv4(ctx: Context, draft: Draft, network: NetworkRecord, requested: string | undefined): number | undefined {
  if (network.subnet === null) {
    if (requested !== undefined) throw invalid(`invalid address "${requested}": network ${network.name} has no IPv4 (it was made with --ipv4=false)`, 'give --ip6 instead');
    return undefined;
  }
  const pool = poolOf(network);
  const used = ctx.store.networks.usedIps(network.id);
  if (requested !== undefined) return reserve(pool, used, ipToInt(parseIPv4(requested, 'address')));
  const got = allocate(pool, used, network.ipamCursor ?? undefined);
  draft.write({ kind: 'set-cursor', networkId: network.id, cursor: got.cursor });
  network.ipamCursor = got.cursor;
  return got.address;
}

/** Deciding: the endpoint's IPv6 address (undefined when the network has no IPv6). */
function chooseIPv6(ctx: Context, draft: Draft, network: NetworkRecord, requested: string | undefined): bigint | undefined {
  const pool = pool6Of(network);
  if (pool === undefined) {
    if (requested !== undefined) throw invalid(`invalid address "${requested}": network ${network.name} has no IPv6`, 'create the network with --ipv6 (and an IPv6 --subnet), or leave --ip6 out');
    return undefined;
  }
  const used = new Set([...ctx.store.networks.usedIps6(network.id)].map(ip6ToInt));
  if (requested !== undefined) return reserve6(pool, used, ip6ToInt(parseIPv6(requested, '--ip6')));
  const got = allocate6(pool, used, network.ipamCursor6 == null ? undefined : BigInt(network.ipamCursor6));
  draft.write({ kind: 'set-cursor6', networkId: network.id, cursor: got.cursor.toString() });
  network.ipamCursor6 = got.cursor.toString();
  return got.address;
}

/**
 * Docker's MAC: 02:42 and the IPv4 address; on an IPv6-only network, 02:42 and the last four
 * bytes of the IPv6 address, so it is still stable and still unique on the network.
 */
const macOf = (ipInt: number | undefined, ip6: bigint | undefined): string => macFor(ipInt ?? Number((ip6 ?? 0n) & 0xffffffffn));

/** Deciding: pick the addresses (and MAC) of a new endpoint and record it. */
export function addEndpoint(
  ctx: Context,
  draft: Draft,
  network: NetworkRecord,
  container: ContainerRecord,
  ifName: string,
  opts: { ip?: string | undefined; ip6?: string | undefined; mac?: string | undefined; aliases?: readonly string[] | undefined },
): { endpoint: EndpointRecord; spec: EndpointSpec } {
  if (opts.mac !== undefined) refuseTakenMac(ctx, network, opts.mac);
  const ipInt = chooseIPv4(ctx, draft, network, opts.ip);
  const ip6Int = chooseIPv6(ctx, draft, network, opts.ip6);
  if (opts.mac === undefined) refuseTakenMac(ctx, network, macOf(ipInt, ip6Int));
  const id = newId();
  const ip = ipInt === undefined ? null : intToIp(ipInt);
  const ip6 = ip6Int === undefined ? null : intToIp6(ip6Int);
  const endpoint: EndpointRecord = {
    id,
    networkId: network.id,
    containerId: container.id,
    ifName,
    hostIf: vethNameFor(id),
    ip,
    ipInt: ipInt ?? null,
    ip6,
    mac: opts.mac ?? macOf(ipInt, ip6Int),
    created: new Date().toISOString(),
    // Kept so inspect shows them as Docker's IPAMConfig (static addresses, not ones IPAM chose).
    requestedIp: opts.ip === undefined ? null : ip,
    requestedIp6: opts.ip6 === undefined ? null : ip6,
    ...(opts.aliases === undefined || opts.aliases.length === 0 ? {} : { aliases: [...opts.aliases] }),
  };
  draft.write({ kind: 'insert-endpoint', record: endpoint });
  return { endpoint, spec: { network: networkSpec(network), hostIf: endpoint.hostIf, ifName, ip, ip6, mac: endpoint.mac } };
}

/** Two interfaces with one MAC on a bridge cut one of them off: refused, naming the holder. */
function refuseTakenMac(ctx: Context, network: NetworkRecord, mac: string): void {
  const wanted = mac.toLowerCase();
  if (bridgeMacFor(network.id) === wanted) {
    throw new NsnetError('ADDRESS_IN_USE', `MAC address ${wanted} is the one of network ${network.name}'s bridge ${network.bridge}`, { hint: 'choose another --mac-address' });
  }
  const holder = ctx.store.endpoints.forNetwork(network.id).find((ep) => ep.mac.toLowerCase() === wanted);
  if (holder !== undefined) {
    const name = ctx.store.containers.get(holder.containerId)?.name ?? holder.containerId;
    throw new NsnetError('ADDRESS_IN_USE', `MAC address ${wanted} is already used by container ${name} on network ${network.name}`, {
      hint: 'choose another --mac-address (or leave it out: nsnet derives one from the address)',
    });
  }
}

/**
 * The steps that wire a new endpoint into a container that has `existing` ones: its port
 * admitted, the veth and address, and the default route when none of its networks led outside
 * yet (a container that had only internal networks gets its way out through this one).
 */
export function connectSteps(ctx: Context, netns: string, existing: readonly EndpointRecord[], spec: EndpointSpec): { steps: Step[]; carriesDefaultRoute: boolean } {
  const steps = planConnect(netns, spec, ctx.firewall);
  // Per family: the container's first way out of that family keeps the route (see defaultRouteSteps).
  const before = existing.map((ep) => endpointSpec(ctx.store.networks.get(ep.networkId)!, ep));
  const had = new Set(defaultRouteSteps(netns, before).map(routeFamily));
  const routes = defaultRouteSteps(netns, [...before, spec]).filter((r) => !had.has(routeFamily(r)));
  steps.push(...routes);
  return { steps, carriesDefaultRoute: routes.length > 0 };
}

/** The first ethN the container does not use yet (on a network, or for a point-to-point link: `alsoTaken`). */
export function nextIfName(endpoints: readonly EndpointRecord[], alsoTaken: readonly string[] = []): string {
  const taken = new Set([...endpoints.map((e) => e.ifName), ...alsoTaken]);
  for (let i = 0; ; i++) if (!taken.has(`eth${i}`)) return `eth${i}`;
}

/** A runtime's container (CNI) gets its networks from the runtime's configuration, not from nsnet. */
function refuseCniContainer(c: ContainerRecord): void {
  if (!isCniContainer(c)) return;
  throw new NsnetError('FORBIDDEN', `container ${c.name} belongs to ${c.runtime ?? 'a container runtime'} (CNI container ${c.cniContainerId})`, {
    hint: `connect or disconnect it through ${c.runtime ?? 'the runtime'} (e.g. podman network connect)`,
  });
}

export function connect(ctx: Context, networkRef: string, containerRef: string, opts: { ip?: string | undefined; ip6?: string | undefined; aliases?: readonly string[] | undefined }): EndpointRecord {
  const aliases = dnsInput({ alias: [...(opts.aliases ?? [])] }).aliases;
  return ctx.locked(() => {
    const decision = decide(ctx, (draft) => {
      const container = ctx.store.containers.resolve(containerRef);
      refuseCniContainer(container);
      refuseModeChange(container, networkRef, 'connect');
      const { network, steps: networkSteps } = resolveNetworkForUse(ctx, draft, networkRef);
      if (ctx.store.endpoints.get(network.id, container.id) !== undefined) {
        throw new NsnetError('IN_USE', `container ${container.name} is already connected to network ${network.name}`);
      }
      refuseShadowingAliases(ctx, network, container, aliases);
      const existing = ctx.store.endpoints.forContainer(container.id);
      const { endpoint, spec } = addEndpoint(ctx, draft, network, container, nextIfName(existing, linkIfNames(ctx.store, container.id)), { ip: opts.ip, ip6: opts.ip6, aliases });
      // A created container has nothing in the kernel yet: the endpoint is recorded, start wires it.
      const steps = [...networkSteps, ...(container.status === 'created' ? [] : connectSteps(ctx, container.name, existing, spec).steps)];
      return { op: 'network connect', mode: 'rollback', steps, result: endpoint };
    });
    const endpoint = commit(ctx, decision);
    refreshContainerFiles(ctx, endpoint.containerId);
    return endpoint;
  });
}

/** An alias equal to another container's name on the network would shadow it in DNS (as run's --network-alias). */
function refuseShadowingAliases(ctx: Context, network: NetworkRecord, container: ContainerRecord, aliases: readonly string[]): void {
  const names = new Set(ctx.store.endpoints.forNetwork(network.id).map((ep) => ctx.store.containers.get(ep.containerId)?.name));
  const clash = aliases.find((a) => a !== container.name && names.has(a));
  if (clash !== undefined) {
    throw new NsnetError('NAME_IN_USE', `--alias ${clash} would shadow container ${clash} on network ${network.name} in DNS`, { hint: 'choose another --alias' });
  }
}

export function disconnect(ctx: Context, networkRef: string, containerRef: string): EndpointRecord {
  return ctx.locked(() => {
    const decision = decide(ctx, () => {
      const container = ctx.store.containers.resolve(containerRef);
      refuseCniContainer(container);
      refuseModeChange(container, networkRef, 'disconnect');
      const network = ctx.store.networks.resolve(networkRef);
      const endpoint = ctx.store.endpoints.get(network.id, container.id);
      if (endpoint === undefined) {
        throw new NsnetError('NOT_FOUND', `container ${container.name} is not connected to network ${network.name}`);
      }
      if (container.status === 'created') {
        return { op: 'network disconnect', mode: 'finish', steps: [], writes: [{ kind: 'delete-endpoint', id: endpoint.id }], result: endpoint };
      }
      const steps = planDetach(container.name, endpointSpec(network, endpoint), ctx.firewall, endpointMappings(ctx.store, endpoint));
      // The default route leaves with the interface that carried it; hand it to the next
      // network that leads outside, as Docker does.
      steps.push(...handoverRouteSteps(container.name, containerEndpoints(ctx.store, container.id), endpoint.hostIf));
      return { op: 'network disconnect', mode: 'finish', steps, writes: [{ kind: 'delete-endpoint', id: endpoint.id }], result: endpoint };
    });
    const endpoint = commit(ctx, decision);
    refreshContainerFiles(ctx, endpoint.containerId);
    return endpoint;
  });
}

/**
 * Remove every network no container uses, except the default one. Goes on past a network that
 * cannot be removed and reports every failure, each with its own code. Returns the names removed.
 */
export function pruneNetworks(ctx: Context): string[] {
  const unused = ctx.store.networks
    .list()
    .filter((n) => !n.isDefault && ctx.store.endpoints.forNetwork(n.id).length === 0);
  const removed: string[] = [];
  const failures: NsnetError[] = [];
  for (const n of unused) {
    try {
      removed.push(removeNetwork(ctx, n.id).name);
    } catch (err) {
      failures.push(err instanceof NsnetError ? err : wrap(`remove network ${n.name}`, err));
    }
  }
  if (failures.length > 0) throw failureOf('network prune', failures);
  return removed;
}
