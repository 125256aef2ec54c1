/** Container operations: run, start, stop, rm, exec, and the live view of a container. */
import fs from 'node:fs';
import path from 'node:path';
import { NsnetError, wrap } from '../core/errors.js';
import { shellJoin } from '../core/quote.js';
import * as validate from '../core/validate.js';
import { newId } from '../engine/ids.js';
import type { LiveState } from '../engine/inspect.js';
import { planCreateContainer, planRemoveContainer, type EndpointSpec } from '../engine/plans.js';
import { netnsExists, netnsPath } from '../kernel/netns.js';
import {
  execInContainer,
  isAlive,
  launchDetached,
  launchForeground,
  stopProcess,
  unshareArgs,
  type Finished,
  type LaunchSpec,
  type Started,
} from '../kernel/process.js';
import { applyAll } from '../plan/executor.js';
import { faultPoint } from '../plan/faults.js';
import type { Step } from '../plan/steps.js';
import type { ContainerRecord, EndpointRecord } from '../store/index.js';
import { markNamespace, restoreSteps } from './check.js';
import type { Context } from './context.js';
import * as journal from './journal.js';
import { addEndpoint, applyOrForget, DEFAULT_NETWORK, resolveNetworkForUse } from './networks.js';
import { containerEndpoints, containerMappings, isCniContainer } from './specs.js';
import { releaseAll } from './cni.js';
import { publish } from './ports.js';
import type { DnsInput } from '../engine/dns-options.js';
import { removeContainerFiles } from './dns-files.js';
import { prepareContainerDns } from './dns-responder.js';

export interface RunInput {
  name?: string | undefined;
  networks: string[];
  ip?: string | undefined;
  mac?: string | undefined;
  hostname?: string | undefined;
  env: Record<string, string>;
  rootfs?: string | undefined;
  detach: boolean;
  remove: boolean;
  argv: string[];
  /** -p specs, Docker syntax. */
  publish?: string[] | undefined;
  /** --dns, --dns-search, --dns-option, --add-host, --network-alias. */
  dns?: DnsInput | undefined;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker does not pass the caller's environment into a container: PATH, HOSTNAME and -e only. */
function containerEnv(c: ContainerRecord): Record<string, string> {
  return { PATH: DEFAULT_PATH, HOSTNAME: c.hostname, HOME: '/root', ...c.env };
}

function launchSpec(c: ContainerRecord): LaunchSpec {
  return { netns: c.name, hostname: c.hostname, argv: c.command, env: containerEnv(c), rootfs: c.rootfs ?? undefined };
}

/** The process start as a by-hand command, for --dry-run. */
function renderLaunch(c: ContainerRecord): string {
  const inner = ['sh', '-c', 'hostname "$0" && exec "$@"', c.hostname, ...c.command];
  const line = `ip netns exec ${c.name} unshare --uts --ipc ${shellJoin(unshareArgs({ argv: inner, rootfs: c.rootfs ?? undefined }))}`;
  // A detached container in a script: in the background, its output away from the terminal.
  return c.detached ? `${line} </dev/null >/dev/null 2>&1 &` : line;
}

function validateRun(input: RunInput): RunInput {
  if (input.argv.length === 0) throw new NsnetError('USAGE', 'run needs a command', { hint: 'nsnet run -d --name red -- sleep 1000' });
  if (input.rootfs !== undefined && !fs.existsSync(path.join(input.rootfs, 'bin'))) {
    throw new NsnetError('INVALID_VALUE', `invalid --rootfs "${input.rootfs}": not a directory holding a root filesystem (no bin/)`);
  }
  if (input.mac !== undefined) validate.mac(input.mac);
  return input;
}

function generatedName(id: string): string {
  return `nsnet-${id.slice(0, 8)}`;
}

interface Prepared {
  container: ContainerRecord;
  steps: Step[];
  journalId: number;
}

/** Inside a decide(): the container's records, its addresses and the steps that wire it. */
function prepareRun(ctx: Context, input: RunInput): Prepared {
  const id = newId();
  const name = validate.containerName(input.name ?? generatedName(id));
  const hostname = validate.hostname(input.hostname ?? name.slice(0, 63));
  if (!ctx.dryRun && netnsExists(name) && ctx.store.containers.byIdOrName(name)?.name !== name) {
    throw new NsnetError('NAME_IN_USE', `a network namespace named ${name} already exists and nsnet did not create it`, {
      hint: `choose another --name (see ip netns list)`,
    });
  }
  const logDir = path.join(ctx.root, 'containers', id);
  const container: ContainerRecord = {
    id,
    name,
    hostname,
    command: input.argv,
    env: input.env,
    rootfs: input.rootfs ?? null,
    detached: input.detach,
    status: 'created',
    pid: null,
    pidStart: null,
    exitCode: null,
    logPath: path.join(logDir, 'output.log'),
    created: new Date().toISOString(),
    startedAt: null,
    finishedAt: null,
    netns: netnsPath(name),
    cniContainerId: null,
    runtime: null,
  };
  ctx.store.containers.insert(container);
  if (input.dns !== undefined) ctx.store.dns.set({ containerId: id, ...input.dns });
  const steps: Step[] = [];
  const specs: EndpointSpec[] = [];
  const endpoints: Array<{ endpoint: EndpointRecord; internal: boolean }> = [];
  const madeNetworks: string[] = [];
  const refs = input.networks.length > 0 ? input.networks : [DEFAULT_NETWORK];
  refs.forEach((ref, i) => {
    const { network, steps: networkSteps } = resolveNetworkForUse(ctx, ref);
    if (networkSteps.length > 0) madeNetworks.push(network.id);
    steps.push(...networkSteps);
    // Like Docker, --ip and --mac-address belong to the first network; the others allocate.
    const first = i === 0;
    const { spec, endpoint } = addEndpoint(ctx, network, container, `eth${i}`, { ip: first ? input.ip : undefined, mac: first ? input.mac : undefined });
    specs.push(spec);
    endpoints.push({ endpoint, internal: network.internal });
  });
  // Ports are published on the network that carries the default route (internal ones have none).
  const publishing = input.publish ?? [];
  const carrier = endpoints.find((e) => !e.internal);
  if (publishing.length > 0 && carrier === undefined) {
    throw new NsnetError('INVALID_VALUE', `cannot publish ports of ${name}: its networks are all internal`, {
      hint: 'connect it to a network that is not --internal',
    });
  }
  const mappings = carrier === undefined ? [] : publish(ctx, container, carrier.endpoint, publishing);
  steps.push(...planCreateContainer(name, specs, ctx.firewall, mappings));
  const forget = { containers: [id], networks: madeNetworks };
  const journalId = journal.begin(ctx, 'run', { mode: 'rollback', steps, forget, killIn: [name], dirs: [logDir] });
  return { container, steps, journalId };
}

export interface RunResult {
  container: ContainerRecord;
  /** The exit code of a foreground container. */
  exitCode?: number;
}

export async function run(ctx: Context, raw: RunInput): Promise<RunResult> {
  const input = validateRun(raw);
  if (ctx.dryRun) {
    const { container, steps } = ctx.locked(() => ctx.decide(() => prepareRun(ctx, input)));
    ctx.execute(steps);
    ctx.note(renderLaunch(container));
    return { container };
  }
  const release = ctx.lock();
  let launched: { container: ContainerRecord; exit: Promise<number> | undefined };
  try {
    const { container, steps, journalId } = ctx.decide(() => prepareRun(ctx, input));
    launched = { container, ...(await wireAndLaunch(ctx, container, steps, input.detach, journalId)) };
  } finally {
    release();
  }
  const { container, exit } = launched;
  if (exit === undefined) return { container };
  const exitCode = await exit;
  ctx.locked(() => {
    ctx.store.tx(() => ctx.store.containers.update(container.id, { status: 'exited', exitCode, finishedAt: new Date().toISOString() }));
  });
  if (input.remove) remove(ctx, [container.id], { force: true });
  return { container, exitCode };
}

/**
 * Under the host lock: apply the wiring steps, start the process, record it as running. When
 * anything fails, what was made is undone and the records are forgotten. Gives the exit
 * promise of a foreground process.
 */
async function wireAndLaunch(
  ctx: Context,
  container: ContainerRecord,
  steps: Step[],
  detach: boolean,
  journalId: number,
  onFailure: 'forget' | 'keep' = 'forget',
): Promise<{ exit: Promise<number> | undefined }> {
  markNamespace(ctx, container);
  // run forgets a container it could not make; start keeps it, exited, to be started again.
  const settle =
    onFailure === 'forget'
      ? (): void => ctx.store.containers.delete(container.id)
      : (): void => ctx.store.containers.update(container.id, { status: 'exited', finishedAt: new Date().toISOString() });
  applyOrForget(ctx, steps, settle, journalId);
  let started: Started | Finished | undefined;
  let exit: Promise<number> | undefined;
  try {
    fs.mkdirSync(path.dirname(container.logPath), { recursive: true, mode: 0o700 });
    const spec = { ...launchSpec(container), etcNetns: prepareContainerDns(ctx, container) };
    if (detach) {
      started = await launchDetached(spec, container.logPath);
    } else {
      const fg = await launchForeground(spec);
      started = fg.started;
      exit = fg.exit;
    }
    faultPoint();
  } catch (err) {
    removeContainerFiles(container.name);
    const failures = applyAll(planRemoveContainer(container.name, containerEndpoints(ctx.store, container.id), ctx.firewall, containerMappings(ctx.store, container.id)), ctx.runner);
    journal.end(ctx, journalId, settle);
    const extra = failures.length > 0 ? `; cleanup also failed: ${failures.join('; ')}` : '';
    throw new NsnetError('PROCESS', `start container ${container.name}: ${(err as Error).message}${extra}`, { cause: err });
  }
  // A command can finish before nsnet sees it running (`run -d true`): it is recorded as exited,
  // with its exit code when known (a foreground run records it when `exit` resolves).
  const now = new Date().toISOString();
  const update: Partial<ContainerRecord> =
    started === undefined || 'exitCode' in started
      ? { status: 'exited', pid: null, pidStart: null, startedAt: now, finishedAt: now, exitCode: started?.exitCode ?? null }
      : { status: 'running', pid: started.pid, pidStart: started.startTime, startedAt: now, exitCode: null };
  journal.end(ctx, journalId, () => ctx.store.containers.update(container.id, update));
  Object.assign(container, update);
  // Wrapped: an async function returning a bare promise would wait for it.
  return { exit };
}

/** What a container is doing now: the store's word, corrected by looking at the process. */
export function liveState(c: ContainerRecord): LiveState {
  // A runtime's container (CNI) runs as far as nsnet can tell while its namespace is there.
  if (isCniContainer(c)) return { status: netnsExists(c.netns) ? 'running' : 'exited', pid: 0, exitCode: null };
  if (c.status === 'running' && c.pid !== null && c.pidStart !== null) {
    if (isAlive(c.pid, c.pidStart)) return { status: 'running', pid: c.pid, exitCode: null };
    return { status: 'exited', pid: 0, exitCode: c.exitCode };
  }
  return { status: c.status, pid: 0, exitCode: c.exitCode };
}

export function stop(ctx: Context, refs: readonly string[], graceSeconds: number): string[] {
  return refs.map((ref) =>
    ctx.locked(() => {
      const c = ctx.store.containers.resolve(ref);
      refuseCni(c, 'stop');
      if (ctx.dryRun) {
        if (c.pid !== null) ctx.note(`kill -TERM ${c.pid}; sleep ${graceSeconds}; kill -KILL ${c.pid}`);
        return c.name;
      }
      stopContainer(ctx, c, graceSeconds * 1000);
      return c.name;
    }),
  );
}

function stopContainer(ctx: Context, c: ContainerRecord, graceMs: number): void {
  if (c.pid === null || c.pidStart === null || c.status !== 'running') return;
  const how = stopProcess(c.pid, c.pidStart, graceMs);
  const exitCode = how === 'kill' ? 137 : how === 'term' ? 143 : c.exitCode;
  ctx.store.tx(() => ctx.store.containers.update(c.id, { status: 'exited', exitCode, finishedAt: new Date().toISOString() }));
}

/** Start stopped containers again; a namespace lost with a reboot is rebuilt from the store. */
export async function start(ctx: Context, refs: readonly string[]): Promise<string[]> {
  const names: string[] = [];
  for (const ref of refs) {
    const c = ctx.store.containers.resolve(ref);
    refuseCni(c, 'start');
    if (liveState(c).status === 'running') {
      names.push(c.name);
      continue;
    }
    const steps = netnsExists(c.name) && !ctx.dryRun ? [] : rewireSteps(ctx, c);
    if (ctx.dryRun) {
      ctx.execute(steps);
      ctx.note(renderLaunch(c));
    } else {
      const release = ctx.lock();
      try {
        const journalId = ctx.store.tx(() => journal.begin(ctx, 'start', { mode: 'rollback', steps, forget: {}, killIn: [c.name] }));
        await wireAndLaunch(ctx, c, steps, true, journalId, 'keep');
      } finally {
        release();
      }
    }
    names.push(c.name);
  }
  return names;
}

function rewireSteps(ctx: Context, c: ContainerRecord): Step[] {
  // After a reboot the bridges and the firewall are gone too.
  const create = planCreateContainer(c.name, containerEndpoints(ctx.store, c.id), ctx.firewall, containerMappings(ctx.store, c.id));
  return [...restoreSteps(ctx, c), ...create];
}

/**
 * Remove containers: stop the process (SIGKILL with force), delete the namespace (its veths go
 * with it), forget the records. Keeps going past failures and reports them all at the end.
 */
export function remove(ctx: Context, refs: readonly string[], opts: { force: boolean }): string[] {
  const removed: string[] = [];
  const failures: NsnetError[] = [];
  for (const ref of refs) {
    try {
      ctx.locked(() => {
        const c = ctx.store.containers.resolve(ref);
        if (isCniContainer(c)) {
          removeCniContainer(ctx, c, opts.force);
          removed.push(c.name);
          return;
        }
        if (liveState(c).status === 'running' && !opts.force) {
          throw new NsnetError('IN_USE', `container ${c.name} is running`, { hint: `stop it first (nsnet stop ${c.name}) or use rm -f` });
        }
        const steps = planRemoveContainer(c.name, containerEndpoints(ctx.store, c.id), ctx.firewall, containerMappings(ctx.store, c.id));
        if (ctx.dryRun) {
          if (c.pid !== null && liveState(c).status === 'running') ctx.note(`kill -KILL ${c.pid}`);
          ctx.execute(steps);
          return;
        }
        const intent = { mode: 'finish' as const, steps, forget: { containers: [c.id] }, killIn: [c.name], dirs: [path.dirname(c.logPath)] };
        const journalId = ctx.store.tx(() => journal.begin(ctx, 'rm', intent));
        stopContainer(ctx, c, 0);
        faultPoint();
        const problems = applyAll(steps, ctx.runner);
        if (problems.length > 0) {
          journal.end(ctx, journalId);
          throw new NsnetError('KERNEL', `remove ${c.name}: ${problems.join('; ')}`);
        }
        journal.end(ctx, journalId, () => ctx.store.containers.delete(c.id));
        removeContainerFiles(c.name);
        fs.rmSync(path.dirname(c.logPath), { recursive: true, force: true });
        removed.push(c.name);
      });
    } catch (err) {
      failures.push(err instanceof NsnetError ? err : wrap(`remove ${ref}`, err));
    }
  }
  if (failures.length === 1) throw failures[0]!;
  if (failures.length > 1) {
    throw new NsnetError(failures[0]!.code, failures.map((f) => f.message).join('\n'), { cause: failures });
  }
  return removed;
}

/**
 * rm of a container a runtime attached through CNI: its attachments are released (the runtime
 * keeps its namespace and processes). While the runtime still has it, only with -f.
 */
function removeCniContainer(ctx: Context, c: ContainerRecord, force: boolean): void {
  if (liveState(c).status === 'running' && !force) {
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
  const live = liveState(c);
  if (live.status !== 'running') {
    throw new NsnetError('STATE', `container ${c.name} is not running`, { hint: `start it with nsnet start ${c.name}` });
  }
  if (argv.length === 0) throw new NsnetError('USAGE', 'exec needs a command', { hint: `nsnet exec ${c.name} ip addr` });
  return execInContainer(live.pid, argv, containerEnv(c));
}

export function logs(ctx: Context, ref: string): Buffer {
  const c = ctx.store.containers.resolve(ref);
  try {
    return fs.readFileSync(c.logPath);
  } catch {
    return Buffer.alloc(0);
  }
}
