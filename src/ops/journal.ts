/**
 * Crash safety. Every state-changing operation writes its intent to the store's journal in the
 * same transaction that records its decisions, so the entry is on disk before the first kernel
 * step; it deletes the entry in the same transaction as its final record update. An entry still
 * there when the next nsnet process takes the host lock belongs to a process that died half-way
 * (the lock is released by the kernel when its holder dies), and is recovered:
 *
 * - rollback (run, start, network create, connect): kill what runs in the half-made container's
 *   namespace, undo every step in reverse (undo tolerates what was never made or is already
 *   gone), and forget the records the operation inserted. The host is as before the command.
 * - finish (rm, network rm, disconnect): teardown cannot be undone (a deleted namespace and the
 *   process in it do not come back), so the remaining steps are applied again (each is
 *   idempotent) and the records are forgotten. The host is as after the command.
 *
 * Firewall steps are not replayed one by one (an incremental one, such as a port's set element,
 * cannot be undone when the table it goes into was never made): once the records are right, the
 * firewall is regenerated from the store in one transaction, as every network change does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KernelError, NsnetError, wrap } from '../core/errors.js';
import { describe } from '../plan/executor.js';
import type { Step } from '../plan/steps.js';
import type { Context } from './context.js';
import { applyWrite, forget, type RecordRefs, type RecordWrite } from './records.js';
import { firewallState } from './specs.js';
import { removeContainerFiles } from './dns-files.js';

/** EEXIST: a step of a finishing removal that was already applied (before a crash, or by a removal that failed). */
const EEXIST = 17;

/** Whether a removal's step failed only because it was applied before (the default route handed over). */
export function alreadyApplied(err: unknown): boolean {
  const cause = err instanceof NsnetError && !(err instanceof KernelError) ? err.cause : err;
  return cause instanceof KernelError && cause.errno === EEXIST;
}

export interface Intent {
  /** rollback: undo the steps and forget what was inserted; finish: apply them and forget what goes. */
  mode: 'rollback' | 'finish';
  steps: Step[];
  /** Records recovery deletes: those inserted (rollback) or those being removed (finish). */
  forget: RecordRefs;
  /** Namespaces whose processes recovery kills first (a container started half-way). */
  killIn?: string[] | undefined;
  /** Directories under the state root recovery removes (a container's log directory). */
  dirs?: string[] | undefined;
  /** rollback: record writes made instead of keeping the make (start keeps its container, exited). */
  onFailure?: RecordWrite[] | undefined;
}

function parseIntent(raw: unknown): Intent | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const i = raw as Partial<Intent>;
  if ((i.mode !== 'rollback' && i.mode !== 'finish') || !Array.isArray(i.steps) || i.forget === null || typeof i.forget !== 'object') {
    return undefined;
  }
  return i as Intent;
}

/**
 * Undo a make that failed or was interrupted: kill what runs in its namespaces, undo its steps in
 * reverse (`undo: false` when the executor already did), forget what it inserted (or make its
 * onFailure writes), remove its directories, and drop the journal entry — all in the same way
 * whether the make failed in process or its process died. Returns what could not be done.
 */
export function rollBack(ctx: Context, journalId: number, intent: Intent, opts: { undo: boolean }): NsnetError[] {
  const problems = killProcessesIn(ctx, intent.killIn ?? []);
  if (opts.undo) {
    for (const step of [...networkSteps(intent.steps)].reverse()) {
      try {
        ctx.runner.undo(step);
      } catch (err) {
        problems.push(wrap(`undo ${describe(step)}`, err));
      }
    }
    ctx.runner.releaseNamespaces?.();
  }
  problems.push(...settle(ctx, journalId, intent, intent.onFailure ?? []));
  return problems;
}

/** Forget the intent's records (and make `writes`) with the journal entry, then remove its directories. */
function settle(ctx: Context, journalId: number, intent: Intent, writes: readonly RecordWrite[]): NsnetError[] {
  const problems: NsnetError[] = [];
  try {
    ctx.store.tx(() => {
      forget(ctx.store, intent.forget);
      for (const w of writes) applyWrite(ctx.store, w);
      ctx.store.journal.delete(journalId);
    });
  } catch (err) {
    problems.push(wrap('forget records', err));
    ctx.store.tx(() => ctx.store.journal.delete(journalId));
  }
  removeDirs(ctx, intent.dirs ?? []);
  return problems;
}

/**
 * Every process in these namespaces (a container's, and what exec started there), killed, and
 * the container's /etc/netns/NAME files gone with it (a start writes them again); what could not be.
 */
export function killProcessesIn(ctx: Context, namespaces: readonly string[]): NsnetError[] {
  const problems: NsnetError[] = [];
  for (const ns of namespaces) {
    try {
      if (ctx.host.netnsExists(ns)) ctx.host.killNetnsProcesses(ns);
      // A runtime's namespace (a path) has no files of nsnet's.
      if (!ns.startsWith('/')) removeContainerFiles(ns);
    } catch (err) {
      problems.push(wrap(`stop the processes in ${ns}`, err));
    }
  }
  return problems;
}

/** Directories an operation made or removes; only ever below the state root. */
export function removeDirs(ctx: Context, dirs: readonly string[]): void {
  for (const dir of dirs) {
    const resolved = path.resolve(dir);
    if (!resolved.startsWith(ctx.root + path.sep)) continue;
    // A container's root from an image still mounted there (its unmount failed, or never ran) is
    // detached first: removing through it would delete the files bind-mounted into it.
    for (const target of ctx.host.mountsUnder(resolved)) ctx.runner.apply({ kind: 'unmount', target });
    fs.rmSync(resolved, { recursive: true, force: true });
  }
}

/** Finish an interrupted removal: apply its steps again (each is idempotent) and forget its records. */
function finish(ctx: Context, journalId: number, intent: Intent): NsnetError[] {
  const problems = killProcessesIn(ctx, intent.killIn ?? []);
  for (const step of networkSteps(intent.steps)) {
    try {
      ctx.runner.apply(step);
    } catch (err) {
      // Applied before the crash: nothing left to do.
      if (alreadyApplied(err)) continue;
      problems.push(wrap(describe(step), err));
    }
  }
  ctx.runner.releaseNamespaces?.();
  problems.push(...settle(ctx, journalId, intent, []));
  return problems;
}

/**
 * Under the host lock: recover every unfinished operation, oldest first. Returns one line per
 * operation saying what was done (and what could not be); never throws for a single entry, and
 * always deletes the entry, so a step that keeps failing is reported once, not on every command
 * (`nsnet system check` finds what is left).
 */
export function recover(ctx: Context): string[] {
  const report: string[] = [];
  let firewallTouched = false;
  for (const entry of ctx.store.journal.list()) {
    const intent = parseIntent(entry.steps);
    if (intent === undefined) {
      ctx.store.tx(() => ctx.store.journal.delete(entry.id));
      report.push(`dropped an unreadable journal entry for an interrupted "${entry.op}" (${entry.created})`);
      continue;
    }
    if (networkSteps(intent.steps).length !== intent.steps.length) firewallTouched = true;
    const problems = intent.mode === 'rollback' ? rollBack(ctx, entry.id, intent, { undo: true }) : finish(ctx, entry.id, intent);
    const did = intent.mode === 'rollback' ? 'undid it' : 'finished it';
    const left = problems.length === 0 ? '' : `; could not: ${problems.map((p) => p.message).join('; ')} (see nsnet system check)`;
    report.push(`recovered an interrupted "${entry.op}" (${entry.created}): ${did}${left}`);
  }
  if (firewallTouched) {
    try {
      const state = firewallState(ctx.store);
      for (const step of ctx.firewall.replace(state, state, 'match the firewall to the records')) ctx.runner.apply(step);
    } catch (err) {
      report.push(`could not regenerate the firewall after recovery: ${err instanceof Error ? err.message : String(err)} (see nsnet system check)`);
    }
  }
  return report;
}

/** Links, addresses, routes, namespaces, mounts: replayed one by one. Every other kind is the firewall's. */
const NETWORK_KINDS: ReadonlySet<Step['kind']> = new Set([
  'netns-add',
  'netns-del',
  'bridge-add',
  'link-up',
  'link-del',
  'veth-add',
  'port-hairpin',
  'qdisc-netem',
  'qdisc-clear',
  'link-state',
  'macvlan-add',
  'ipvlan-add',
  'veth-p2p',
  'dummy-add',
  'addr-add',
  'route-add',
  'route-dev',
  'sysctl',
  // A container's root filesystem mounts (containers from images): replayed like links.
  'overlay-mount',
  'bind-mount',
  'fs-mount',
  'unmount',
]);

const networkSteps = (steps: readonly Step[]): Step[] => steps.filter((s) => NETWORK_KINDS.has(s.kind));
