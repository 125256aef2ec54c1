/** Container operations: run, start, stop, rm, exec, and the live view of a container. */
import fs from 'node:fs';
import path from 'node:path';
import { NsnetError, wrap } from '../core/errors.js';
import { shellJoin } from '../core/quote.js';
import { capabilityOptions, privilegesOf, type CapabilityOptions } from '../core/capabilities.js';
import { unshareArgs, type Confinement } from '../core/unshare.js';
import * as validate from '../core/validate.js';
import { containerNameFor, newId } from '../engine/ids.js';
import { planCreateContainer, planRemoveContainer, type EndpointSpec } from '../engine/plans.js';
import { netnsPath, type Finished, type LaunchSpec, type MonitorOptions, type Started } from '../host/port.js';
import type { Step } from '../plan/steps.js';
import type { ContainerLink, ContainerRecord, EndpointRecord, NetworkRecord } from '../store/index.js';
import { markNamespace, stateDirOf } from './container-state.js';
import type { Context } from './context.js';
import { liveState } from './liveness.js';
import { addEndpoint, DEFAULT_NETWORK, resolveNetworkForUse } from './networks.js';
import { commit, commitThen, decide, type Decision, type Draft } from './pipeline.js';
import { doneOrThrow, eachRef, eachRefAsync, type EachOutcome } from './each.js';
import type { RecordWrite } from './records.js';
import { restoreSteps } from './restore.js';
import { decideRunMode, discardedPorts, joinedEtcNetns, killInOf, launchNetnsOf, netnsExecPrefix, refuseRemovingJoined, refuseStartShared, stopSharedProcess } from './netmodes.js';
import { NONE_MODE, ownsNamespace, sharesNamespace } from '../engine/netmode.js';
import { parseContainerPorts, parsePortSpec, portKey } from '../engine/ports.js';
import { sysctlSteps, validateSysctls } from '../engine/sysctls.js';
import { containerEndpoints, containerMappings, isCniContainer } from './specs.js';
import { releaseAll } from './cni.js';
import { publish } from './ports.js';
import { dnsInput, type DnsInput } from '../engine/dns-options.js';
import { removeContainerFiles } from './dns-files.js';
import { prepareContainerDns } from './dns-responder.js';
import { p2pRestoreSteps } from './p2p-links.js';
import { leavePartitionSteps } from './partitions.js';
import { parseRestartPolicy, restarts, type RestartPolicy } from '../core/restart-policy.js';
import { endRestarts, killMonitor, monitorEnd } from './monitors.js';
import { serviceLogPath } from './cni-service.js';

export { logs } from './container-logs.js';
import { interfaceStateSteps } from './impairments.js';
import { containerUser, decideImageConfig, hostnameFileOf, processArgv, resolveImage, rootfsDirs, rootfsSteps, unmountSteps, type ResolvedImage } from './container-image.js';

export interface RunInput {
  name?: string | undefined;
  networks: string[];
  ip?: string | undefined;
  /** --ip6: the IPv6 address on the first network. */
  ip6?: string | undefined;
  mac?: string | undefined;
  hostname?: string | undefined;
  /** Without hostname: the id's first 12 characters, as dockerd names a container's host (the API); else the name. */
  hostnameFromId?: boolean | undefined;
  env: Record<string, string>;
  rootfs?: string | undefined;
  detach: boolean;
  remove: boolean;
  argv: string[];
  /** -p specs, Docker syntax. */
  publish?: string[] | undefined;
  /** --dns, --dns-search, --dns-option, --add-host; `aliases`: names on every network (a lab's). */
  dns?: DnsInput | undefined;
  /**
   * Names the container has on one network only, keyed by the entry of `networks` (or the default
   * network when none is given): run's --network-alias (the first network's, as Docker's) and the
   * API's NetworkingConfig.EndpointsConfig[NET].Aliases. Recorded on that endpoint, as connect --alias.
   */
  networkAliases?: Readonly<Record<string, readonly string[]>> | undefined;
  /** --cap-add, --cap-drop (names as given), --privileged. */
  capAdd?: string[] | undefined;
  capDrop?: string[] | undefined;
  privileged?: boolean | undefined;
  /** --expose PORT[-END][/PROTO] and -P/--publish-all; --sysctl KEY=VALUE; --link NAME[:ALIAS]. */
  expose?: string[] | undefined;
  publishAll?: boolean | undefined;
  sysctls?: Record<string, string> | undefined;
  links?: string[] | undefined;
  /** --restart no|on-failure[:N]|always|unless-stopped (Docker's syntax). */
  restart?: string | undefined;
  /** --image REF: the root filesystem, environment and command from an image of the image store. */
  image?: string | undefined;
  /** --entrypoint (replaces the image's Entrypoint and drops its Cmd; [""] clears it). */
  entrypoint?: string[] | undefined;
  /** -w/--workdir: the working directory inside the root filesystem. */
  workdir?: string | undefined;
  /** -u/--user: numeric UID[:GID]. */
  user?: string | undefined;
  labels?: Record<string, string> | undefined;
  /** Docker's HostConfig.AutoRemove (run's --rm sets it too). */
  autoRemove?: boolean | undefined;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker does not pass the caller's environment into a container: PATH, HOSTNAME and -e only. */
function containerEnv(c: ContainerRecord): Record<string, string> {
  return { PATH: DEFAULT_PATH, HOSTNAME: c.hostname, HOME: '/root', ...c.env };
}

/**
 * What the container's processes (its own and exec's) are confined to. Its User is looked up in
 * its mounted root's /etc/passwd and /etc/group ('resolved'); --dry-run, which mounts nothing,
 * prints it as given.
 */
function confinementOf(c: ContainerRecord, user: 'resolved' | 'as given' = 'resolved'): Confinement {
  const entered = c.user == null ? undefined : user === 'resolved' ? containerUser(c) : c.user;
  // An image's WorkingDir and User only when it has them (the launch enters them with nsenter).
  return { privileges: privilegesOf(c), rootfs: c.rootfs ?? undefined, ...(c.workingDir == null ? {} : { workdir: c.workingDir }), ...(entered === undefined ? {} : { user: entered }) };
}

function launchSpec(c: ContainerRecord): LaunchSpec {
  return { netns: launchNetnsOf(c), hostname: c.hostname, argv: processArgv(c), env: containerEnv(c), ...confinementOf(c) };
}

/** The process start as a by-hand command, for --dry-run. */
function renderLaunch(c: ContainerRecord): string {
  // The hostname is set first: that needs CAP_SYS_ADMIN, which the command does not keep.
  const hostname = ['sh', '-c', 'hostname "$0" && exec "$@"', c.hostname, 'unshare'];
  const line = `${netnsExecPrefix(c)}unshare --uts --ipc ${shellJoin([...hostname, ...unshareArgs({ ...confinementOf(c, 'as given'), argv: processArgv(c) })])}`;
  // A detached container in a script: in the background, its output away from the terminal.
  return c.detached ? `${line} </dev/null >/dev/null 2>&1 &` : line;
}

function validateRun(input: RunInput): RunInput {
  if (input.image !== undefined && input.rootfs !== undefined) {
    throw new NsnetError('USAGE', `--rootfs ${input.rootfs} and --image ${input.image} both give the root filesystem`, { hint: 'give one of them' });
  }
  if (input.image === undefined) refuseImageOptions(input);
  if (input.argv.length === 0 && input.image === undefined) throw new NsnetError('USAGE', 'run needs a command, or an image (--image) that has one', { hint: 'nsnet run -d --name red -- sleep 1000' });
  if (input.argv.length > 0 && input.argv[0]!.trim() === '') throw new NsnetError('USAGE', 'invalid command "": the program to run is empty', { hint: 'nsnet run -d --name red -- sleep 1000' });
  if (input.rootfs !== undefined && !fs.existsSync(path.join(input.rootfs, 'bin'))) {
    throw new NsnetError('INVALID_VALUE', `invalid --rootfs "${input.rootfs}": not a directory holding a root filesystem (no bin/)`);
  }
  if (input.mac !== undefined) validate.mac(input.mac);
  const caps = capabilityOptions(input.capAdd ?? [], input.capDrop ?? [], input.privileged === true);
  refuseRootfsWithoutChroot(input.rootfs ?? input.image, caps);
  const sysctls = validateSysctls(input.sysctls ?? {});
  validateRestart(input);
  refuseStrayAliases(input);
  return { ...input, capAdd: [...caps.capAdd], capDrop: [...caps.capDrop], privileged: caps.privileged, sysctls, expose: exposedPorts(input) };
}

/** Aliases are per network: for a network the container does not join they would be dropped unseen. */
function refuseStrayAliases(input: RunInput): void {
  const refs = input.networks.length > 0 ? input.networks : [DEFAULT_NETWORK];
  const stray = Object.keys(input.networkAliases ?? {}).find((ref) => !refs.includes(ref));
  if (stray !== undefined) {
    throw new NsnetError('INVALID_VALUE', `network aliases for ${stray}, which is not one of the container's networks (${refs.join(', ')})`, { hint: `add --network ${stray}, or give the aliases for one of its networks` });
  }
}

/** --restart as Docker checks it; a foreground container has no monitor to restart it (nsnet's difference). */
function validateRestart(input: RunInput): RestartPolicy {
  const policy = parseRestartPolicy(input.restart ?? '');
  if (!restarts(policy)) return policy;
  // create records --rm as AutoRemove (and so does the API's HostConfig.AutoRemove).
  if (input.remove || input.autoRemove === true) throw new NsnetError('USAGE', 'Conflicting options: --restart and --rm', { hint: 'leave one of them out' });
  if (!input.detach) {
    throw new NsnetError('USAGE', `--restart ${input.restart} needs -d: nsnet restarts detached containers (their monitor does), a foreground run ends with its command`, { hint: 'add -d, and read its output with nsnet logs' });
  }
  return policy;
}

/** --entrypoint, -w and -u change what an image gives; without one there is nothing to change. */
function refuseImageOptions(input: RunInput): void {
  const given = [input.entrypoint !== undefined && '--entrypoint', input.workdir !== undefined && '--workdir', input.user !== undefined && '--user'].filter((f): f is string => f !== false);
  if (given.length === 0) return;
  throw new NsnetError('USAGE', `${given.join(', ')} needs --image: nsnet runs host programs otherwise, as root in /`, { hint: 'nsnet run --image busybox -w /tmp -- pwd' });
}

/** The container's restart policy as its record keeps it. */
const restartPolicyOf = (c: ContainerRecord): RestartPolicy => ({ name: c.restartPolicy ?? 'no', maximumRetryCount: c.restartMax ?? 0 });

/** With --rootfs, chroot(8) runs after the capabilities are dropped (core/unshare.ts), so it must keep CAP_SYS_CHROOT. */
function refuseRootfsWithoutChroot(rootfs: string | undefined, caps: CapabilityOptions): void {
  const p = privilegesOf(caps);
  if (rootfs === undefined || p.privileged || p.capabilities.includes('CAP_SYS_CHROOT')) return;
  throw new NsnetError('INVALID_VALUE', `invalid --cap-drop ${caps.capDrop.join(',')} with --rootfs: nsnet enters the root filesystem with chroot(8) after dropping capabilities, which needs CAP_SYS_CHROOT`, {
    hint: 'add --cap-add SYS_CHROOT, or leave --rootfs out',
  });
}

/**
 * Docker's Config.ExposedPorts: --expose and the container ports of -p, as "PORT/PROTO", each
 * once. A lab or rootfs image would add its own; nsnet has no images, so these are all.
 */
function exposedPorts(input: RunInput): string[] {
  const fromExpose = (input.expose ?? []).flatMap((e) => parseContainerPorts(e, '--expose', true)).map(portKey);
  const fromPublish = (input.publish ?? []).flatMap(parsePortSpec).map((r) => portKey({ port: r.containerPort, proto: r.proto }));
  return [...new Set([...fromExpose, ...fromPublish])];
}

/** -P: every exposed port that no -p publishes yet, on a free host port (Docker's ephemeral choice). */
function publishAllSpecs(input: RunInput): string[] {
  if (input.publishAll !== true) return [];
  const published = new Set((input.publish ?? []).flatMap(parsePortSpec).map((r) => portKey({ port: r.containerPort, proto: r.proto })));
  return (input.expose ?? []).filter((key) => !published.has(key));
}

/** The host's namespace and another container's are not this container's to tune (Docker refuses them too). */
function refuseSysctlsWithout(mode: string, sysctls: Readonly<Record<string, string>>): void {
  const key = Object.keys(sysctls)[0];
  if (key === undefined || mode === NONE_MODE) return;
  throw new NsnetError('INVALID_VALUE', `invalid --sysctl ${key} with --network ${mode.split(':')[0]}: net.* sysctls are not allowed when the container shares another network namespace`, {
    hint: 'leave --sysctl out, or give the container a network namespace of its own',
  });
}

/**
 * --link NAME[:ALIAS] (legacy, as in Docker): the linked container must exist and be on the
 * default network, where ALIAS (NAME when not given) then resolves to it.
 */
function decideLinks(ctx: Context, input: RunInput): ContainerLink[] {
  const links = (input.links ?? []).map(parseLink);
  if (links.length === 0) return [];
  const onDefault = input.networks.length === 0 || input.networks.includes(DEFAULT_NETWORK);
  if (!onDefault) {
    throw new NsnetError('INVALID_VALUE', `invalid --link ${input.links![0]}: links are a feature of the default network (${DEFAULT_NETWORK}) and this container is not on it`, {
      hint: 'on a user network every container resolves the others by name; use --network-alias for another name',
    });
  }
  ctx.warn('--link is a legacy feature of Docker and may eventually be removed; user networks resolve containers by name (nsnet network create, --network-alias)');
  const net = ctx.store.networks.byName(DEFAULT_NETWORK);
  return links.map((l) => {
    const target = ctx.store.containers.byIdOrName(l.name);
    if (target === undefined) throw new NsnetError('NOT_FOUND', `invalid --link ${l.name}:${l.alias}: no container named ${l.name}`, { hint: 'run it first, or see nsnet ps -a' });
    if (net === undefined || ctx.store.endpoints.get(net.id, target.id) === undefined) {
      throw new NsnetError('INVALID_VALUE', `invalid --link ${l.name}:${l.alias}: container ${target.name} is not on the default network`, { hint: `nsnet network connect ${DEFAULT_NETWORK} ${target.name}` });
    }
    validate.hostname(l.alias);
    return { name: target.name, alias: l.alias };
  });
}

/** NAME[:ALIAS] */
function parseLink(text: string): { name: string; alias: string } {
  const [name = '', alias, ...rest] = text.split(':');
  if (name === '' || alias === '' || rest.length > 0) throw new NsnetError('INVALID_VALUE', `invalid --link "${text}": expected NAME or NAME:ALIAS`);
  return { name, alias: alias ?? name };
}

/** Deciding: the container's records, its addresses and ports, and the steps that wire it. */
function decideRun(ctx: Context, draft: Draft, input: RunInput, image: ResolvedImage | undefined, verb: 'run' | 'create'): Omit<Decision<ContainerRecord>, 'writes'> {
  const id = newId();
  const fromImage = image === undefined ? undefined : decideImageConfig(image, { argv: input.argv, env: input.env, entrypoint: input.entrypoint, workdir: input.workdir, user: input.user, labels: input.labels, expose: input.expose ?? [] });
  // Ports the image exposes are published by -P as --expose'd ones are.
  input = { ...input, expose: fromImage?.expose ?? input.expose };
  const name = validate.containerName(input.name ?? containerNameFor(id));
  const special = decideRunMode(ctx, input, name);
  const hostname = validate.hostname(input.hostname ?? special?.hostname ?? (input.hostnameFromId === true ? id.slice(0, 12) : name.slice(0, 63)));
  if (!ctx.dryRun && (special === undefined || special.mode === 'none') && ctx.host.netnsExists(name) && ctx.store.containers.byIdOrName(name)?.name !== name) {
    throw new NsnetError('NAME_IN_USE', `a network namespace named ${name} already exists and nsnet did not create it`, {
      hint: `choose another --name (see ip netns list)`,
    });
  }
  const logDir = stateDirOf(ctx.root, id);
  const container: ContainerRecord = {
    id,
    name,
    hostname,
    command: fromImage?.command ?? input.argv,
    env: fromImage?.env ?? input.env,
    rootfs: image === undefined ? (input.rootfs ?? null) : rootfsDirs(ctx.root, id).merged,
    // A created container is started later, in the background (Docker's start without -a).
    detached: input.detach || verb === 'create',
    status: 'created',
    pid: null,
    pidStart: null,
    exitCode: null,
    // Docker's json-file name: one JSON object per line, written by the monitor (engine/log-lines.ts).
    logPath: path.join(logDir, input.detach ? `${id}-json.log` : 'output.log'),
    created: new Date().toISOString(),
    startedAt: null,
    finishedAt: null,
    netns: special?.netns ?? netnsPath(name),
    cniContainerId: null,
    runtime: null,
    capAdd: [...(input.capAdd ?? [])],
    capDrop: [...(input.capDrop ?? [])],
    privileged: input.privileged === true,
    sysctls: input.sysctls ?? {},
    exposedPorts: input.expose ?? [],
    publishAll: input.publishAll === true,
    links: decideLinks(ctx, input),
    // As given, for inspect's PortBindings (the bound ports are the endpoint's port records).
    publishSpecs: [...(input.publish ?? [])],
    restartPolicy: parseRestartPolicy(input.restart ?? '').name,
    restartMax: parseRestartPolicy(input.restart ?? '').maximumRetryCount,
    restartCount: 0,
    manuallyStopped: false,
    imageId: image?.id ?? null,
    imageRef: image === undefined ? null : input.image!,
    imageLayers: image === undefined ? null : [...image.layers],
    entrypoint: fromImage?.entrypoint ?? null,
    workingDir: fromImage?.workingDir ?? null,
    user: fromImage?.user ?? null,
    labels: { ...(fromImage?.labels ?? input.labels ?? {}) },
    autoRemove: input.remove || input.autoRemove === true,
    ...(special === undefined ? {} : { networkMode: special.mode }),
  };
  draft.write({ kind: 'insert-container', record: container });
  if (input.dns !== undefined) draft.write({ kind: 'set-dns', config: { containerId: id, ...input.dns } });
  if (special !== undefined) {
    discardedPorts(ctx, special.mode, input.publish ?? [], input.publishAll === true);
    refuseSysctlsWithout(special.mode, input.sysctls ?? {});
    if (verb === 'create') return { op: 'create', mode: 'rollback', steps: [], result: container, dirs: [logDir] };
    return { op: 'run', mode: 'rollback', steps: [...special.steps, ...sysctlSteps(name, input.sysctls ?? {}), ...rootfsSteps(container)], result: container, killIn: killInOf(container), dirs: [logDir] };
  }
  const steps: Step[] = [];
  const specs: EndpointSpec[] = [];
  const endpoints: Array<{ endpoint: EndpointRecord; internal: boolean }> = [];
  const refs = input.networks.length > 0 ? input.networks : [DEFAULT_NETWORK];
  const joined = new Set<string>();
  refs.forEach((ref, i) => {
    const { network, steps: networkSteps } = resolveNetworkForUse(ctx, draft, ref);
    if (joined.has(network.id)) throw new NsnetError('INVALID_VALUE', `network ${network.name} is given twice (--network ${ref})`, { hint: 'give each network once' });
    joined.add(network.id);
    const aliases = dnsInput({ alias: [...(input.networkAliases?.[ref] ?? [])] }).aliases;
    refuseShadowing(ctx, network, input, aliases);
    steps.push(...networkSteps);
    // Like Docker, --ip and --mac-address belong to the first network; the others allocate.
    const first = i === 0;
    const { spec, endpoint } = addEndpoint(ctx, draft, network, container, `eth${i}`, { ip: first ? input.ip : undefined, ip6: first ? input.ip6 : undefined, mac: first ? input.mac : undefined, aliases });
    specs.push(spec);
    endpoints.push({ endpoint, internal: network.internal });
  });
  // Ports are published on the network that carries the default route (internal ones have none).
  const publishing = [...(input.publish ?? []), ...publishAllSpecs(input)];
  const carrier = endpoints.find((e) => !e.internal);
  if (publishing.length > 0 && carrier === undefined) {
    throw new NsnetError('INVALID_VALUE', `cannot publish ports of ${name}: its networks are all internal`, {
      hint: 'connect it to a network that is not --internal',
    });
  }
  const mappings = carrier === undefined ? [] : publish(ctx, draft, container, carrier.endpoint, publishing);
  // Docker's create: the records (addresses and host ports taken), nothing of the container in the
  // kernel; start wires it from them. A network made on first use is made now, for everyone.
  if (verb === 'create') return { op: 'create', mode: 'rollback', steps, result: container, dirs: [logDir] };
  steps.push(...planCreateContainer(name, specs, ctx.firewall, mappings), ...sysctlSteps(name, input.sysctls ?? {}), ...rootfsSteps(container));
  return { op: 'run', mode: 'rollback', steps, result: container, killIn: [name], dirs: [logDir] };
}

/**
 * On a network, a container's name resolves to it; another container's --hostname or
 * --network-alias equal to that name would shadow it in DNS.
 */
function refuseShadowing(ctx: Context, network: NetworkRecord, input: RunInput, networkAliases: readonly string[]): void {
  const aliases = [...(input.dns?.aliases ?? []), ...networkAliases];
  const claimed = [...(input.hostname === undefined ? [] : [{ flag: '--hostname', name: input.hostname }]), ...aliases.map((a) => ({ flag: '--network-alias', name: a }))];
  if (claimed.length === 0) return;
  const names = new Set(ctx.store.endpoints.forNetwork(network.id).map((ep) => ctx.store.containers.get(ep.containerId)?.name));
  const clash = claimed.find((c) => names.has(c.name));
  if (clash !== undefined) {
    throw new NsnetError('NAME_IN_USE', `${clash.flag} ${clash.name} would shadow container ${clash.name} on network ${network.name} in DNS`, {
      hint: `choose another ${clash.flag.slice(2)}`,
    });
  }
}

export interface RunResult {
  container: ContainerRecord;
  /** The exit code of a foreground container. */
  exitCode?: number;
}

export async function run(ctx: Context, raw: RunInput): Promise<RunResult> {
  const input = validateRun(raw);
  const release = ctx.lock();
  let container: ContainerRecord;
  let exit: Promise<number> | undefined;
  try {
    const image = imageOf(ctx, input);
    const decision = decide(ctx, (draft) => decideRun(ctx, draft, input, image, 'run'));
    container = decision.result;
    if (ctx.dryRun) {
      commit(ctx, decision);
      // What the launch records: later decisions of the same dry run (a lab's connect of a second
      // network) must see a started container, not a created one (whose connect only records).
      if (ctx.keepsDryRunDecisions) ctx.store.tx(() => ctx.store.containers.update(container.id, { status: 'running' }));
      ctx.note(renderLaunch(container));
      return { container };
    }
    ({ exit } = await wireAndLaunch(ctx, decision, input.detach));
  } finally {
    release();
  }
  if (exit === undefined) return { container };
  const exitCode = await exit;
  ctx.locked(() => {
    ctx.store.tx(() => ctx.store.containers.update(container.id, { status: 'exited', exitCode, finishedAt: new Date().toISOString() }));
    // An image's root is unmounted when its foreground process ends (rm below unmounts it anyway).
    if (!input.remove) unmountRoot(ctx, container);
  });
  if (input.remove) remove(ctx, [container.id], { force: true });
  return { container, exitCode };
}

/**
 * Docker's create: the container recorded with its endpoints (addresses allocated) and ports, in
 * the 'created' state, nothing made in the kernel for it; `start` wires and starts it. Takes run's
 * input (detach is implied; remove is recorded as AutoRemove).
 */
export async function create(ctx: Context, raw: RunInput): Promise<ContainerRecord> {
  // Started later in the background: --restart needs nothing more; --rm is recorded (AutoRemove).
  const input = validateRun({ ...raw, detach: true, remove: false, autoRemove: raw.remove || raw.autoRemove === true });
  return ctx.locked(() => {
    const image = imageOf(ctx, input);
    return commit(ctx, decide(ctx, (draft) => decideRun(ctx, draft, input, image, 'create')));
  });
}

/** Under the lock: the image run/create names, from the image store (removing it waits for the lock too). */
const imageOf = (ctx: Context, input: RunInput): ResolvedImage | undefined => (input.image === undefined ? undefined : resolveImage(ctx.root, ctx.store, input.image));

/** After its process ended: an image's root unmounted (a typed teardown, journalled as every one). */
function unmountRoot(ctx: Context, c: ContainerRecord): void {
  const steps = unmountSteps(c);
  if (steps.length === 0) return;
  commit(ctx, decide(ctx, () => ({ op: `unmount ${c.name}`, mode: 'finish', steps, result: undefined })));
}

/**
 * Under the host lock: commit the wiring, then start the process and record it; when the start
 * fails, the wiring is undone like a failed step's (run forgets the container, start keeps it
 * exited). Gives the exit promise of a foreground process.
 */
async function wireAndLaunch(ctx: Context, decision: Decision<ContainerRecord>, detach: boolean): Promise<{ exit: Promise<number> | undefined }> {
  const container = decision.result;
  if (ownsNamespace(container)) markNamespace(ctx, container);
  let exit: Promise<number> | undefined;
  await commitThen(ctx, decision, async (): Promise<RecordWrite[]> => {
    let started: Started | Finished | undefined;
    try {
      fs.mkdirSync(path.dirname(container.logPath), { recursive: true, mode: 0o700 });
      // Docker's /etc/hostname (bind-mounted into an image's root by a step), written in place.
      if (container.imageLayers != null) fs.writeFileSync(hostnameFileOf(container), `${container.hostname}\n`, { mode: 0o644 });
      const spec = { ...launchSpec(container), etcNetns: sharesNamespace(container) ? joinedEtcNetns(container) : prepareContainerDns(ctx, container) };
      if (detach) {
        started = await ctx.host.launchDetached(spec, container.logPath, { stateDir: path.dirname(container.logPath), restart: restartPolicyOf(container), ...removalOf(ctx, container) });
      } else {
        const fg = await ctx.host.launchForeground(spec);
        started = fg.started;
        exit = fg.exit;
      }
    } catch (err) {
      removeContainerFiles(container.name);
      // The launcher's typed failure (command not found or not executable) keeps its code: it sets the exit code.
      const code = err instanceof NsnetError ? err.code : 'PROCESS';
      throw new NsnetError(code, `start container ${container.name}: ${(err as Error).message}`, { cause: err, ...(err instanceof NsnetError && err.hint !== undefined ? { hint: err.hint } : {}) });
    }
    // A command can finish before nsnet sees it running (`run -d true`): it is recorded as exited,
    // with its exit code when known (a foreground run records it when `exit` resolves).
    const now = new Date().toISOString();
    const monitor = { monitorPid: started?.monitor?.pid ?? null, monitorStart: started?.monitor?.startTime ?? null, manuallyStopped: false, restartCount: 0 };
    // With a restart policy the monitor goes on after a first run that ended at once: it runs.
    let update: Partial<ContainerRecord>;
    if (started !== undefined && !('exitCode' in started)) {
      update = { status: 'running', pid: started.pid, pidStart: started.startTime, startedAt: now, exitCode: null, ...monitor };
    } else if (started?.monitor !== undefined && restarts(restartPolicyOf(container))) {
      update = { status: 'running', pid: null, pidStart: null, startedAt: now, exitCode: null, ...monitor };
    } else {
      update = { status: 'exited', pid: null, pidStart: null, startedAt: now, finishedAt: now, exitCode: started?.exitCode ?? null, ...monitor };
    }
    Object.assign(container, update);
    return [{ kind: 'update-container', id: container.id, patch: update }];
  });
  // Wrapped: an async function returning a bare promise would wait for it.
  return { exit };
}

/**
 * --rm (AutoRemove) of a detached container: its monitor has it removed when its run ends, as
 * dockerd does (a foreground run removes its own); a failed removal is told in the service log.
 */
function removalOf(ctx: Context, c: ContainerRecord): Pick<MonitorOptions, 'removeOnExit'> {
  return c.autoRemove === true ? { removeOnExit: { containerId: c.id, root: ctx.root, logPath: serviceLogPath(ctx.root) } } : {};
}

export function stop(ctx: Context, refs: readonly string[], graceSeconds: number): string[] {
  return doneOrThrow('stop', stopEach(ctx, refs, graceSeconds));
}

/** Stop each container it can; the ones it cannot (missing, a runtime's) are reported, as Docker's stop does. */
export function stopEach(ctx: Context, refs: readonly string[], graceSeconds: number): EachOutcome<string> {
  return eachRef(refs, 'stop', (ref) =>
    ctx.locked(() => {
      const c = ctx.store.containers.resolve(ref);
      refuseCni(c, 'stop');
      if (ctx.dryRun) {
        if (c.pid !== null) ctx.note(`kill -TERM ${c.pid}; sleep ${graceSeconds}; kill -KILL ${c.pid}`);
        unmountRoot(ctx, c);
        return c.name;
      }
      stopContainer(ctx, c, graceSeconds * 1000);
      unmountRoot(ctx, c);
      return c.name;
    }),
  );
}

/**
 * A process, not a kernel step: its monitor told to restart it no more, the process stopped, and
 * its end recorded in one transaction — the status the monitor saw when it has one (Docker's: 143
 * for SIGTERM, 137 for SIGKILL, the command's own when it exits on SIGTERM).
 */
function stopContainer(ctx: Context, c: ContainerRecord, graceMs: number): void {
  if (c.status !== 'running') return;
  endRestarts(ctx, c);
  const live = liveState(ctx.host, c);
  let run = live.pid > 0 && live.pidStart !== undefined ? { pid: live.pid, pidStart: live.pidStart } : undefined;
  let how: 'term' | 'kill' | 'gone' = 'gone';
  let seen: ReturnType<typeof monitorEnd> = {};
  // At most a second run: a restart the monitor was starting as it was told to stop.
  for (let round = 0; round < 2; round++) {
    if (run !== undefined) how = ctx.host.stopProcess(run.pid, run.pidStart, graceMs);
    seen = monitorEnd(ctx, c, run?.pid ?? 0);
    if (seen.started === undefined) break;
    run = seen.started;
  }
  const exitCode = seen.ended?.exitCode ?? (how === 'kill' ? 137 : how === 'term' ? 143 : live.exitCode ?? c.exitCode);
  ctx.store.tx(() =>
    ctx.store.containers.update(c.id, { status: 'exited', exitCode, finishedAt: new Date().toISOString(), manuallyStopped: true, restartCount: seen.ended?.restartCount ?? live.restartCount ?? 0 }),
  );
}

/** Start stopped containers again; a namespace lost with a reboot is rebuilt from the store. */
export async function start(ctx: Context, refs: readonly string[]): Promise<string[]> {
  return doneOrThrow('start', await startEach(ctx, refs));
}

/** Start each container it can, reporting the ones it cannot (as Docker's start, which goes on past them). */
export async function startEach(ctx: Context, refs: readonly string[]): Promise<EachOutcome<string>> {
  return eachRefAsync(refs, 'start', async (ref) => {
    const release = ctx.lock();
    try {
      const c = ctx.store.containers.resolve(ref);
      refuseCni(c, 'start');
      if (liveState(ctx.host, c).status === 'running') return c.name;
      const decision = decide(ctx, () => decideStart(ctx, c));
      if (ctx.dryRun) {
        commit(ctx, decision);
        ctx.note(renderLaunch(c));
        return c.name;
      }
      await wireAndLaunch(ctx, decision, true);
      return c.name;
    } finally {
      release();
    }
  });
}

/**
 * Deciding a start: after a reboot the namespace, the bridges and the firewall are gone too; they
 * are planned again from the records with the same planners as create. A start that fails keeps
 * the container, exited, to be started again.
 */
function decideStart(ctx: Context, c: ContainerRecord): Omit<Decision<ContainerRecord>, 'writes'> {
  // host and container: have no namespace of their own to rebuild (a joiner needs the joined one running).
  refuseStartShared(ctx, c);
  const rewire = ownsNamespace(c) && (ctx.dryRun || !ctx.host.netnsExists(c.name));
  const steps: Step[] = rewire
    ? [
        ...restoreSteps(ctx, c),
        ...planCreateContainer(c.name, containerEndpoints(ctx.store, c.id), ctx.firewall, containerMappings(ctx.store, c.id)),
        ...sysctlSteps(c.name, c.sysctls ?? {}),
        ...p2pRestoreSteps(ctx, c),
        ...interfaceStateSteps(ctx, c),
      ]
    : [];
  // An image's root is mounted at every start (stop and rm unmount it; a stale one is replaced).
  steps.push(...rootfsSteps(c));
  // A created container that fails to start stays created (as Docker's); a stopped one stays exited.
  const onFailure: RecordWrite[] = [{ kind: 'update-container', id: c.id, patch: c.status === 'created' ? { status: 'created' } : { status: 'exited', finishedAt: new Date().toISOString() } }];
  return { op: 'start', mode: 'rollback', steps, result: c, killIn: killInOf(c), onFailure };
}

/**
 * Remove containers: stop the process (SIGKILL), delete the namespace (its veths go with it),
 * forget the records. Keeps going past failures and reports them all at the end, each with its
 * own code.
 */
export interface RemoveOptions {
  force: boolean;
  /**
   * A --rm container's monitor removing it (rm --auto-remove): only while its last run is still
   * that monitor's and has ended. A container started again meanwhile has a new monitor, which
   * removes it in its turn; one removed meanwhile is no failure.
   */
  endedUnder?: MonitorRef | undefined;
}

/** A monitor process: its PID and start time (field 22 of /proc/PID/stat), as the record keeps them. */
export interface MonitorRef {
  pid: number;
  start: string;
}

/** rm --auto-remove PID:START */
export function parseMonitorRef(text: string): MonitorRef {
  const m = /^([1-9]\d*):(\d+)$/.exec(text);
  if (m === null) throw new NsnetError('INVALID_VALUE', `invalid --auto-remove "${text}": expected a monitor as PID:START (its start time in clock ticks)`);
  return { pid: Number(m[1]), start: m[2]! };
}

const endedUnder = (ctx: Context, c: ContainerRecord, m: MonitorRef): boolean =>
  c.monitorPid === m.pid && c.monitorStart === m.start && liveState(ctx.host, c).status !== 'running';

export function remove(ctx: Context, refs: readonly string[], opts: RemoveOptions): string[] {
  return doneOrThrow('rm', removeEach(ctx, refs, opts));
}

/**
 * rm's outcome name by name. With -f a container that does not exist is not a failure (Docker
 * 20.10's `rm -f` ignores missing containers, so scripts can clean up without checking first).
 */
export function removeEach(ctx: Context, refs: readonly string[], opts: RemoveOptions): EachOutcome<string> {
  return eachRef(refs, 'remove', (ref) =>
    ctx.locked(() => {
      const c = opts.force ? ctx.store.containers.byIdOrName(ref) : ctx.store.containers.resolve(ref);
      if (c === undefined) return undefined;
      if (opts.endedUnder !== undefined && !endedUnder(ctx, c, opts.endedUnder)) return undefined;
      if (isCniContainer(c)) {
        removeCniContainer(ctx, c, opts.force);
        return c.name;
      }
      const running = liveState(ctx.host, c).status === 'running';
      if (running && !opts.force) {
        throw new NsnetError('IN_USE', `container ${c.name} is running`, { hint: `stop it first (nsnet stop ${c.name}) or use rm -f` });
      }
      refuseRemovingJoined(ctx, c);
      if (ctx.dryRun && running) ctx.note(`kill -KILL ${c.pid}`);
      if (!ctx.dryRun) killMonitor(ctx, c);
      stopSharedProcess(ctx, c);
      commit(ctx, decide(ctx, () => decideRemove(ctx, c)));
      if (!ctx.dryRun) removeContainerFiles(c.name);
      return c.name;
    }),
  );
}

/** Deciding an rm: its processes killed, the namespace deleted, the records and the state directory gone. */
function decideRemove(ctx: Context, c: ContainerRecord): Omit<Decision<string>, 'writes'> & { writes: RecordWrite[] } {
  // The host's namespace and a joined one are never deleted: only a namespace of its own goes.
  // A created container has nothing in the kernel; an image's root is unmounted first.
  const wired = ownsNamespace(c) && c.status !== 'created';
  const steps = [...unmountSteps(c), ...(wired ? planRemoveContainer(c.name, containerEndpoints(ctx.store, c.id), ctx.firewall, containerMappings(ctx.store, c.id)) : [])];
  // Its addresses out of the partitions it is in (they would hold the next container that gets them).
  steps.push(...leavePartitionSteps(ctx, c));
  return {
    op: `rm ${c.name}`,
    mode: 'finish',
    steps,
    writes: [{ kind: 'delete-container', id: c.id }],
    result: c.name,
    killIn: killInOf(c),
    dirs: [path.dirname(c.logPath)],
  };
}

/**
 * rm of a container a runtime attached through CNI: its attachments are released (the runtime
 * keeps its namespace and processes). While the runtime still has it, only with -f.
 */
function removeCniContainer(ctx: Context, c: ContainerRecord, force: boolean): void {
  if (liveState(ctx.host, c).status === 'running' && !force) {
    throw new NsnetError('IN_USE', `container ${c.name} is ${c.runtime ?? 'a runtime'}'s container ${c.cniContainerId} (attached through CNI)`, {
      hint: `remove it with ${c.runtime ?? 'the runtime'}; nsnet rm -f ${c.name} releases its addresses and ports here, leaving the runtime's namespace without them`,
    });
  }
  releaseAll(ctx, c); // with --dry-run: prints the steps
}

/** stop, start and exec are the runtime's business for a CNI container. */
function refuseCni(c: ContainerRecord, what: string): void {
  if (!isCniContainer(c)) return;
  throw new NsnetError('FORBIDDEN', `cannot ${what} ${c.name}: ${c.runtime ?? 'a container runtime'} runs it (CNI container ${c.cniContainerId}); nsnet only wires its network`, {
    hint: `use ${c.runtime ?? 'the runtime'} for that`,
  });
}

export async function exec(ctx: Context, ref: string, argv: readonly string[]): Promise<number> {
  const c = ctx.store.containers.resolve(ref);
  refuseCni(c, 'exec in');
  const live = liveState(ctx.host, c);
  if (live.status !== 'running') {
    throw new NsnetError('STATE', `container ${c.name} is not running`, { hint: `start it with nsnet start ${c.name}` });
  }
  if (live.restarting === true || live.pid === 0) {
    throw new NsnetError('STATE', `container ${c.name} is restarting, wait until the container is running`, { hint: `nsnet ps -a -f name=${c.name}` });
  }
  if (argv.length === 0) throw new NsnetError('USAGE', 'exec needs a command', { hint: `nsnet exec ${c.name} ip addr` });
  return ctx.host.execInContainer(live.pid, argv, containerEnv(c), confinementOf(c));
}

