/**
 * `up` and `down`: a whole lab in one process, through the library's own operations (network
 * create, run, connect, rm, network rm), under one hold of the host-wide lock.
 *
 * Ownership: a lab's networks carry the labels nsnet.lab=LAB and nsnet.lab.config-hash=HASH.
 * Containers have no labels, so the lab keeps a record of the containers it owns (name → hash)
 * in the store's settings, under `lab:LAB`. A container is claimed there before it is made and
 * unclaimed after it is gone, so an interrupted `up` never leaves a container no lab owns.
 * Objects are named LAB-NAME, and a name the lab does not own is never touched: `up` refuses it.
 */
import { NsnetError, NsnetErrors, wrap } from '../core/errors.js';
import { connect, createNetwork, removeNetwork } from '../ops/networks.js';
import { remove, run } from '../ops/containers.js';
import { liveState } from '../ops/liveness.js';
import { LAB_SETTING_PREFIX } from '../ops/system.js';
import { commit, decide } from '../ops/pipeline.js';
import type { Context } from '../ops/context.js';
import { dnsInput } from '../engine/dns-options.js';
import type { Step } from '../plan/steps.js';
import { diffLab, dropsWholeLab, isNoop, type LabPlan, type LabState } from './diff.js';
import { HASH_LABEL, LAB_LABEL, type LabContainer, type LabNetwork, type LabSpec } from './spec.js';
import { linkLabel, makeLink, missingLinks, type LabLink } from './links.js';
import { applyImpairmentChanges, impairmentChanges } from './impairments.js';
import { applyPartitionChanges, healLabPartitions, partitionChanges } from './partitions.js';

export interface LabProgress {
  action: 'create' | 'remove';
  kind: 'network' | 'container' | 'link';
  name: string;
  /** How many of `total` changes are done, this one included. */
  done: number;
  total: number;
  /** Set when this change failed. */
  error?: string | undefined;
}

export interface LabOptions {
  onProgress?: ((p: LabProgress) => void) | undefined;
  /** Containers made at the same time (their process starts overlap). Default 8. */
  parallel?: number | undefined;
  /** `up` may remove every object the lab has (the file declares none of them); refused otherwise. */
  removeAll?: boolean | undefined;
}

export interface UpResult {
  plan: LabPlan;
  noop: boolean;
  /** Interfaces whose impairment was set or cleared (netem:). */
  impaired?: number | undefined;
}

interface LabRecord {
  containers: Record<string, string>;
}

const recordKey = (lab: string): string => `${LAB_SETTING_PREFIX}${lab}`;

function readRecord(ctx: Context, lab: string): LabRecord {
  const text = ctx.store.settings.get(recordKey(lab));
  if (text === undefined) return { containers: {} };
  try {
    const parsed = JSON.parse(text) as Partial<LabRecord>;
    return { containers: { ...(parsed.containers ?? {}) } };
  } catch {
    return { containers: {} };
  }
}

/** Change the lab's record in its own transaction; the record goes when the lab owns nothing. */
function updateRecord(ctx: Context, lab: string, change: (r: LabRecord) => void): void {
  ctx.store.tx(() => {
    const r = readRecord(ctx, lab);
    change(r);
    if (Object.keys(r.containers).length === 0) ctx.store.settings.delete(recordKey(lab));
    else ctx.store.settings.set(recordKey(lab), JSON.stringify(r));
  });
}

/** The lab's objects now, and the names others hold. */
export function labState(ctx: Context, lab: string): LabState {
  const networks = new Map<string, string>();
  const foreignNetworks = new Set<string>();
  for (const n of ctx.store.networks.list()) {
    if (n.labels[LAB_LABEL] === lab) networks.set(n.name, n.labels[HASH_LABEL] ?? '');
    else foreignNetworks.add(n.name);
  }
  const owned = readRecord(ctx, lab).containers;
  const containers = new Map<string, { hash: string; running: boolean }>();
  const foreignContainers = new Set<string>();
  for (const c of ctx.store.containers.list()) {
    const hash = owned[c.name];
    if (hash === undefined) foreignContainers.add(c.name);
    else containers.set(c.name, { hash, running: liveState(ctx.host, c).status === 'running' });
  }
  return { networks, containers, foreignNetworks, foreignContainers };
}

class Progress {
  private done = 0;
  constructor(
    private readonly total: number,
    private readonly sink: LabOptions['onProgress'],
  ) {}
  tell(action: LabProgress['action'], kind: LabProgress['kind'], name: string, error?: string): void {
    this.done++;
    this.sink?.({ action, kind, name, done: this.done, total: this.total, error });
  }
}

/** Bring the lab to what the file declares: make what is new or changed, remove what is gone. */
export async function up(ctx: Context, spec: LabSpec, opts: LabOptions = {}): Promise<UpResult> {
  const release = ctx.lock();
  try {
    const state = labState(ctx, spec.name);
    const plan = diffLab(spec, state);
    // Links to make: those of containers made now (a remade container's went with it), and any missing.
    const creating = new Set(plan.createContainers.map((c) => c.name));
    const linking = spec.links.filter((l) => l.ends.some((e) => creating.has(e.name)) || missingLinks(ctx, [l]).length > 0);
    // Impairments apart: a changed one is set on the running container, which is kept.
    const impairing = impairmentChanges(ctx, spec.containers.map((c) => c.name).filter((n) => !creating.has(n)), spec.impairments);
    const partitioning = partitionChanges(ctx, spec.name, spec.partitions);
    const partitionsSame = partitioning.heal.length + partitioning.make.length === 0;
    if (isNoop(plan) && linking.length === 0 && impairing.length === 0 && partitionsSame) return { plan, noop: true };
    if (opts.removeAll !== true && dropsWholeLab(spec, state)) throw wouldRemoveAll(spec.name, plan);
    const total = plan.removeContainers.length + plan.removeNetworks.length + plan.createNetworks.length + plan.createContainers.length + linking.length;
    const progress = new Progress(total, opts.onProgress);
    const failures: NsnetError[] = [];

    for (const name of plan.removeContainers) removeOwnedContainer(ctx, spec.name, name, progress, failures);
    for (const name of plan.removeNetworks) removeLabNetwork(ctx, name, progress, failures);
    if (failures.length > 0) throw failed(spec.name, 'up', failures);

    for (const n of plan.createNetworks) {
      try {
        createNetwork(ctx, networkInput(spec.name, n));
        progress.tell('create', 'network', n.name);
      } catch (err) {
        progress.tell('create', 'network', n.name, message(err));
        throw failed(spec.name, 'up', [wrap(`create network ${n.name}`, err)]);
      }
    }

    // Claimed before they exist: an interrupted up leaves nothing the lab does not own.
    updateRecord(ctx, spec.name, (r) => {
      for (const c of plan.createContainers) r.containers[c.name] = c.hash;
    });
    const make = async (c: LabContainer): Promise<void> => {
      try {
        await createContainer(ctx, c);
        progress.tell('create', 'container', c.name);
      } catch (err) {
        if (!ctx.dryRun) updateRecord(ctx, spec.name, (r) => void delete r.containers[c.name]);
        progress.tell('create', 'container', c.name, message(err));
        failures.push(wrap(`create container ${c.name}`, err));
      }
    };
    // --dry-run prints each container's commands together, so one at a time there.
    await pool(plan.createContainers, ctx.dryRun ? 1 : Math.max(1, opts.parallel ?? 8), make);
    if (failures.length > 0) throw failed(spec.name, 'up', failures);
    makeLinks(ctx, spec, linking, progress, failures);
    if (failures.length > 0) throw failed(spec.name, 'up', failures);
    const impairments = impairmentChanges(ctx, spec.containers.map((c) => c.name), spec.impairments);
    applyImpairmentChanges(ctx, impairments, failures);
    if (failures.length > 0) throw failed(spec.name, 'up', failures);
    // Last: a partition's members are all there now (a remade member left its partition).
    try {
      applyPartitionChanges(ctx, partitionChanges(ctx, spec.name, spec.partitions));
    } catch (err) {
      throw failed(spec.name, 'up', [wrap('partitions', err)]);
    }
    return { plan, noop: false, impaired: impairments.length };
  } finally {
    release();
  }
}

export interface DownResult {
  containers: string[];
  networks: string[];
}

/** Remove every object the lab owns (whatever the file now says), and its record. */
export function down(ctx: Context, lab: string, opts: LabOptions = {}): DownResult {
  return ctx.locked(() => {
    const state = labState(ctx, lab);
    const containers = [...state.containers.keys()].sort();
    const networks = [...state.networks.keys()].sort();
    const progress = new Progress(containers.length + networks.length, opts.onProgress);
    const failures: NsnetError[] = [];
    for (const name of containers) removeOwnedContainer(ctx, lab, name, progress, failures);
    // Their members went with the containers (and their pairs with them): only the records are left.
    if (failures.length === 0) healLabPartitions(ctx, lab);
    for (const name of networks) removeLabNetwork(ctx, name, progress, failures);
    // Claims of containers that no longer exist (an interrupted up) go too.
    if (failures.length === 0) ctx.store.tx(() => ctx.store.settings.delete(recordKey(lab)));
    if (failures.length > 0) throw failed(lab, 'down', failures);
    return { containers, networks };
  });
}

/** The links, then the routes through them of both ends (a link made again lost its routes too). */
function makeLinks(ctx: Context, spec: LabSpec, links: readonly LabLink[], progress: Progress, failures: NsnetError[]): void {
  const ends = new Set<string>();
  for (const l of links) {
    try {
      makeLink(ctx, l);
      progress.tell('create', 'link', linkLabel(l));
      for (const e of l.ends) ends.add(e.name);
    } catch (err) {
      progress.tell('create', 'link', linkLabel(l), message(err));
      failures.push(wrap(`create link ${linkLabel(l)}`, err));
    }
  }
  for (const c of spec.containers.filter((x) => ends.has(x.name) && x.linkRoutes.length > 0)) {
    try {
      const steps: Step[] = c.linkRoutes.map((r) => ({ kind: 'route-to', ns: c.name, dst: r.to, via: r.via }));
      commit(ctx, decide(ctx, () => ({ op: `lab ${c.name} routes`, mode: 'rollback', steps, result: undefined })));
    } catch (err) {
      failures.push(wrap(`add routes of ${c.name} through its links`, err));
    }
  }
}

function removeOwnedContainer(ctx: Context, lab: string, name: string, progress: Progress, failures: NsnetError[]): void {
  try {
    remove(ctx, [name], { force: true });
    if (!ctx.dryRun) updateRecord(ctx, lab, (r) => void delete r.containers[name]);
    progress.tell('remove', 'container', name);
  } catch (err) {
    progress.tell('remove', 'container', name, message(err));
    failures.push(wrap(`remove container ${name}`, err));
  }
}

function removeLabNetwork(ctx: Context, name: string, progress: Progress, failures: NsnetError[]): void {
  try {
    removeNetwork(ctx, name);
    progress.tell('remove', 'network', name);
  } catch (err) {
    progress.tell('remove', 'network', name, message(err));
    failures.push(wrap(`remove network ${name}`, err));
  }
}

function networkInput(lab: string, n: LabNetwork): Parameters<typeof createNetwork>[1] {
  return {
    name: n.name,
    subnet: n.subnet,
    gateway: n.gateway,
    ipRange: n.ipRange,
    ipv4: n.ipv4,
    ipv6: n.ipv6,
    internal: n.internal,
    options: n.options,
    labels: { ...n.labels, [LAB_LABEL]: lab, [HASH_LABEL]: n.hash },
  };
}

/**
 * run (the first network, or all of them when only the first has static addresses: `run --ip`
 * and `--ip6` belong to the first network), connect the rest, then the container's own sysctls and routes.
 */
async function createContainer(ctx: Context, c: LabContainer): Promise<void> {
  const [first, ...rest] = c.networks;
  if (first === undefined) throw new NsnetError('INVALID_VALUE', `container ${c.name} has no networks`);
  const laterStatic = rest.some((a) => a.ip !== undefined || a.ip6 !== undefined);
  const atRun = laterStatic ? [first] : c.networks;
  await run(ctx, {
    name: c.name,
    networks: atRun.map((a) => a.name),
    ip: first.ip,
    ip6: first.ip6,
    hostname: c.hostname,
    env: c.env,
    rootfs: c.rootfs,
    capAdd: c.capAdd,
    capDrop: c.capDrop,
    privileged: c.privileged,
    detach: true,
    remove: false,
    argv: c.command,
    publish: c.ports.length > 0 ? c.ports : undefined,
    // Reachable by its name in the file (web, db) on every network, as well as LAB-NAME, as a
    // Compose service is; a network's `aliases` on that network only, as Compose's are.
    dns: dnsInput({ alias: [c.key] }),
    networkAliases: Object.fromEntries(atRun.filter((a) => a.aliases.length > 0).map((a) => [a.name, a.aliases])),
  });
  try {
    for (const a of c.networks.slice(atRun.length)) connect(ctx, a.name, c.name, { ip: a.ip, ip6: a.ip6, aliases: a.aliases });
    const steps = containerSteps(c);
    if (steps.length > 0) commit(ctx, decide(ctx, () => ({ op: `lab ${c.name} routes`, mode: 'rollback', steps, result: undefined })));
  } catch (err) {
    if (!ctx.dryRun) {
      try {
        remove(ctx, [c.name], { force: true });
      } catch {
        /* reported with the original error below */
      }
    }
    throw err;
  }
}

/** A lab container's own sysctls (in its namespace) and routes: what makes a router a router. */
export function containerSteps(c: LabContainer): Step[] {
  const steps: Step[] = Object.entries(c.sysctls).map(([key, value]) => ({ kind: 'netns-sysctl' as const, ns: c.name, key, value }));
  for (const r of c.routes) steps.push({ kind: 'route-to', ns: c.name, dst: r.to, via: r.via });
  return steps;
}

/** Run fn over items, at most `size` at a time. */
async function pool<T>(items: readonly T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function wouldRemoveAll(lab: string, plan: LabPlan): NsnetError {
  const what = `${plan.removeNetworks.length} network${plan.removeNetworks.length === 1 ? '' : 's'} and ${plan.removeContainers.length} container${plan.removeContainers.length === 1 ? '' : 's'}`;
  return new NsnetError('FORBIDDEN', `up ${lab}: the file declares none of the lab's objects, so up would remove all of them (${what}); nothing was changed`, {
    hint: `to remove the lab, use nsnet down; to replace it with what the file declares, run up again with --remove-all`,
  });
}

/** Each failure keeps its own code (a kernel step, a port in use): one is the command's error; several are listed. */
function failed(lab: string, verb: string, failures: readonly NsnetError[]): NsnetError {
  if (failures.length > 1) return new NsnetErrors(`${verb} ${lab}`, failures);
  const only = failures[0]!;
  return new NsnetError(only.code, `${verb} ${lab}: ${only.message}`, {
    cause: only,
    hint: verb === 'up' ? 'fix the cause and run up again: it converges from where it stopped' : 'fix the cause and run down again',
  });
}
