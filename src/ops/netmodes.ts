/**
 * `run --network host | none | container:NAME` (see engine/netmode.ts for what each means): the
 * refusals Docker makes for them, the record's mode and namespace, and where a container of each
 * mode runs, starts and goes. A container on nsnet's networks never gets here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NsnetError } from '../core/errors.js';
import {
  containerMode,
  HOST_MODE,
  isHostMode,
  isNoneMode,
  joinedContainerId,
  NONE_MODE,
  ownsNamespace,
  parseNetworkRequest,
  predefinedName,
  predefinedNetworkRow,
  predefinedNetworkView,
  PREDEFINED_NETWORKS,
  sharesNamespace,
  type NetworkMode,
  type NetworkRequest,
  type PredefinedName,
} from '../engine/netmode.js';
import { planCreateContainer } from '../engine/plans.js';
import { netnsPath } from '../host/port.js';
import type { Step } from '../plan/steps.js';
import type { ContainerRecord } from '../store/index.js';
import type { DnsInput } from '../engine/dns-options.js';
import type { Context } from './context.js';
import { etcDir } from './dns-files.js';
import { liveState } from './liveness.js';

/** The flags of a run that a network mode may refuse. */
export interface ModeFlags {
  networks: readonly string[];
  ip?: string | undefined;
  ip6?: string | undefined;
  mac?: string | undefined;
  hostname?: string | undefined;
  publish?: readonly string[] | undefined;
  dns?: DnsInput | undefined;
  networkAliases?: Readonly<Record<string, readonly string[]>> | undefined;
  exposedPorts?: readonly string[] | undefined;
  publishAll?: boolean | undefined;
  sysctls?: Readonly<Record<string, string>> | undefined;
}

/** What a special mode decides for a new container. */
export interface ModeRun {
  mode: NetworkMode;
  /** The record's netns: '' for the host's, the joined container's path, or its own. */
  netns: string;
  /** container: takes the joined container's hostname (Docker's ErrConflictNetworkHostname refuses another). */
  hostname: string | undefined;
  /** -p specs still to publish: none, whatever the mode (host and none discard them with a warning). */
  steps: Step[];
}

/** Docker's runconfig errors, word for word: scripts match on them. */
const conflict = (message: string, hint: string): NsnetError => new NsnetError('INVALID_VALUE', message, { hint });

/**
 * The special mode --network asks for, validated against the other flags as Docker's daemon does
 * (runconfig/hostconfig_unix.go); undefined when every --network names a network.
 */
export function decideRunMode(ctx: Context, flags: ModeFlags, name: string): ModeRun | undefined {
  const requests = flags.networks.map(parseNetworkRequest);
  const special = requests.find((r) => r.kind !== 'network');
  if (special === undefined) return undefined;
  if (requests.length > 1) {
    throw conflict('conflicting options: cannot attach both user-defined and non-user-defined network-modes', `give --network ${flags.networks.find((n) => parseNetworkRequest(n).kind !== 'network')} alone`);
  }
  refuseFlags(special, flags);
  if (special.kind === 'host') return { mode: HOST_MODE, netns: '', hostname: undefined, steps: [] };
  // A namespace with lo only: the same planner as a container on networks, with no network.
  if (special.kind === 'none') return { mode: NONE_MODE, netns: netnsPath(name), hostname: undefined, steps: planCreateContainer(name, [], ctx.firewall) };
  const joined = runningJoined(ctx, (special as { ref: string }).ref);
  return { mode: containerMode(joined.id), netns: joined.netns, hostname: joined.hostname, steps: [] };
}

function refuseFlags(request: NetworkRequest, flags: ModeFlags): void {
  const hint = 'leave the flag out, or use a network (nsnet network create)';
  const isContainer = request.kind === 'container';
  if (isContainer && (request as { ref: string }).ref === '') {
    throw conflict('Invalid network mode: invalid container format container:<name|id>', 'nsnet run --network container:web ...');
  }
  // --ip6 too, as Docker's daemon checks both IPAMConfig addresses (it was dropped unseen).
  if (flags.ip !== undefined || flags.ip6 !== undefined) throw conflict('user specified IP address is supported on user defined networks only', hint);
  if ([...(flags.dns?.aliases ?? []), ...Object.values(flags.networkAliases ?? {}).flat()].length > 0) throw conflict('network-scoped alias is supported only for containers in user defined networks', hint);
  // Docker refuses a MAC with host and container:; with none it would be dropped unseen, so nsnet refuses it there too.
  if (flags.mac !== undefined) throw conflict('conflicting options: mac-address and the network mode', hint);
  if (isContainer) {
    if (flags.hostname !== undefined) throw conflict('conflicting options: hostname and the network mode', 'the container takes the hostname of the one it joins');
    if ((flags.dns?.servers ?? []).length > 0 || (flags.dns?.search ?? []).length > 0 || (flags.dns?.options ?? []).length > 0) {
      throw conflict('conflicting options: dns and the network mode', 'the container uses the DNS settings of the one it joins');
    }
    if ((flags.dns?.extraHosts ?? []).length > 0) throw conflict('conflicting options: custom host-to-IP mapping and the network mode', 'the container uses the /etc/hosts of the one it joins');
    if ((flags.publish ?? []).length > 0 || flags.publishAll === true) {
      throw conflict('conflicting options: port publishing and the container type network mode', 'publish the ports on the container it joins');
    }
    if ((flags.exposedPorts ?? []).length > 0) throw conflict('conflicting options: port exposing and the container type network mode', 'expose the ports on the container it joins');
  }
  if (request.kind === 'host') {
    const dns = flags.dns;
    if (dns !== undefined && [dns.servers, dns.search, dns.options, dns.extraHosts].some((l) => (l ?? []).length > 0)) {
      // Docker writes a resolv.conf for a host-mode container; nsnet's runs with the host's /etc.
      throw conflict('--dns, --dns-search, --dns-option and --add-host do not apply with --network host: the container uses the host\'s /etc/resolv.conf and /etc/hosts', 'leave them out, or use a network');
    }
    const netSysctl = Object.keys(flags.sysctls ?? {}).find((k) => k.startsWith('net.'));
    if (netSysctl !== undefined) throw conflict(`sysctl ${netSysctl} is not allowed in host network namespace`, 'leave it out: it would change the host');
  }
}

/** The container a container: mode joins: it must run (Docker: "cannot join network of a non running container"). */
function runningJoined(ctx: Context, ref: string): ContainerRecord {
  const joined = ctx.store.containers.resolve(ref);
  if (liveState(ctx.host, joined).status !== 'running') {
    throw new NsnetError('STATE', `cannot join network of a non running container: ${joined.name}`, { hint: `start it first (nsnet start ${joined.name})` });
  }
  if (joined.cniContainerId !== null) {
    throw new NsnetError('FORBIDDEN', `cannot join the network of ${joined.name}: ${joined.runtime ?? 'a container runtime'} owns its namespace (CNI container ${joined.cniContainerId})`, { hint: 'join a container nsnet runs' });
  }
  return joined;
}

/** -p given with host or none: discarded with Docker's warning (container: refuses it above). */
export function discardedPorts(ctx: Context, mode: NetworkMode, publish: readonly string[], publishAll: boolean): void {
  if (publish.length === 0 && !publishAll) return;
  ctx.warn(`Published ports are discarded when using ${mode} network mode`);
}

/**
 * The named namespace a container's process enters: undefined for the host's own (no setns at
 * all), the joined container's for container:, its own otherwise.
 */
export function launchNetnsOf(c: ContainerRecord): string | undefined {
  if (isHostMode(c)) return undefined;
  if (ownsNamespace(c)) return c.name;
  // The joined namespace's name, from its path (/run/netns/NAME); '' is the host's (it joined a host-mode container).
  return c.netns === '' ? undefined : path.basename(c.netns);
}

/** Namespaces whose processes a failed make, a crash, rm or reset kill: never the host's or a joined one. */
export const killInOf = (c: ContainerRecord): string[] => (ownsNamespace(c) ? [c.name] : []);

/** A joiner runs with the joined container's /etc/netns files (resolv.conf, hosts), as Docker shares them. */
export function joinedEtcNetns(c: ContainerRecord): boolean {
  const ns = launchNetnsOf(c);
  return ns !== undefined && ns !== c.name && fs.existsSync(path.join(etcDir(ns), 'resolv.conf'));
}

/**
 * Starting a container of the host or container: mode: nothing to wire; a joiner needs the
 * container it joins running (its namespace is there while that container is).
 */
export function refuseStartShared(ctx: Context, c: ContainerRecord): void {
  const joinedId = joinedContainerId(c.networkMode);
  if (joinedId === undefined) return;
  const joined = ctx.store.containers.get(joinedId);
  const ns = launchNetnsOf(c);
  if (joined === undefined || liveState(ctx.host, joined).status !== 'running' || (ns !== undefined && !ctx.host.netnsExists(ns))) {
    throw new NsnetError('STATE', `cannot join network of a non running container: ${joined?.name ?? joinedId.slice(0, 12)}`, {
      hint: joined === undefined ? `the container it joined is gone: remove ${c.name} and run it again` : `start ${joined.name} first`,
    });
  }
}

/**
 * rm of a container whose namespace running containers joined is refused: deleting it would leave
 * them in a namespace nsnet no longer knows, holding this one's veths and addresses (Docker lets
 * the rm go through and the joiners keep an unmanaged namespace).
 */
export function refuseRemovingJoined(ctx: Context, c: ContainerRecord): void {
  if (!ownsNamespace(c)) return;
  const path_ = netnsPath(c.name);
  const joiners = ctx.store.containers
    .list()
    .filter((o) => o.id !== c.id && !ownsNamespace(o) && o.netns === path_ && liveState(ctx.host, o).status === 'running')
    .map((o) => o.name);
  if (joiners.length === 0) return;
  throw new NsnetError('IN_USE', `container ${c.name}'s network namespace is in use by running container${joiners.length > 1 ? 's' : ''} ${joiners.join(', ')} (--network container:${c.name})`, {
    hint: `stop or remove ${joiners.join(' ')} first`,
  });
}

/**
 * rm of a host or container: mode container: its process is killed by PID (killing by namespace
 * would kill the host's or the joined container's processes). The PID namespace goes with its PID 1.
 */
export function stopSharedProcess(ctx: Context, c: ContainerRecord): void {
  if (ownsNamespace(c) || ctx.dryRun) return;
  // The process its monitor last started (a restart gives a new PID), else the one nsnet recorded.
  const live = liveState(ctx.host, c);
  if (live.pid > 0 && live.pidStart !== undefined) ctx.host.stopProcess(live.pid, live.pidStart, 0);
  else if (c.pid !== null && c.pidStart !== null) ctx.host.stopProcess(c.pid, c.pidStart, 0);
}

/** How the start line runs by hand: `ip netns exec NAME` for a named namespace, nothing for the host's. */
export function netnsExecPrefix(c: ContainerRecord): string {
  const ns = launchNetnsOf(c);
  return ns === undefined ? '' : `ip netns exec ${ns} `;
}

/** Docker's runconfig errors for network connect and disconnect, word for word. */
const SHARED_NETWORK = 'container sharing network namespace with another container or host cannot be connected to any other network';
const HOST_NETWORK = 'container cannot be disconnected from host network or connected to host network';
const NO_NETWORK = 'container cannot be connected to multiple networks with one of the networks in private (none) mode';

/**
 * network connect and disconnect with a special mode on either side, refused as Docker's daemon
 * refuses them: the host network takes no one and keeps its own; a container sharing another's
 * namespace (or the host's) has no network of its own to change; none excludes every other network.
 */
export function refuseModeChange(c: ContainerRecord, networkRef: string, what: 'connect' | 'disconnect'): void {
  const hint = `run the container again with the networks it should have (nsnet rm -f ${c.name}; nsnet run --network ...)`;
  const network = predefinedName(networkRef);
  if (network === 'host') throw new NsnetError('FORBIDDEN', HOST_NETWORK, { hint });
  if (what === 'connect' && sharesNamespace(c)) throw new NsnetError('FORBIDDEN', SHARED_NETWORK, { hint });
  if (what === 'connect' && (network === 'none' || isNoneMode(c))) throw new NsnetError('FORBIDDEN', NO_NETWORK, { hint });
  if (what === 'disconnect' && network === 'none') {
    throw new NsnetError('FORBIDDEN', `container ${c.name} cannot be disconnected from the none network: it would have no network mode at all`, { hint });
  }
}

/** network rm host|none: as Docker, "host is a pre-defined network and cannot be removed". */
export function refuseRemovingPredefined(ref: string): void {
  const name = predefinedName(ref);
  if (name !== undefined) throw new NsnetError('FORBIDDEN', `${name} is a pre-defined network and cannot be removed`);
}

/** The running containers of a predefined network's mode (Docker lists only running ones). */
function membersOf(ctx: Context, name: PredefinedName): ContainerRecord[] {
  return ctx.store.containers.list().filter((c) => c.networkMode === name && liveState(ctx.host, c).status === 'running');
}

/** `network ls` rows of host and none, after nsnet's own networks. */
export function predefinedNetworkRows(ctx: Context): Record<string, unknown>[] {
  return (Object.keys(PREDEFINED_NETWORKS) as PredefinedName[]).map((name) => predefinedNetworkRow(name, membersOf(ctx, name).length));
}

/** `network inspect host|none` (by name or id); undefined for any other network. */
export function inspectPredefined(ctx: Context, ref: string): Record<string, unknown> | undefined {
  const name = predefinedName(ref);
  return name === undefined ? undefined : predefinedNetworkView(name, membersOf(ctx, name));
}
