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
import { KernelError } from '../core/errors.js';
import { EEXIST } from '../kernel/libc.js';
import { netnsExists } from '../kernel/netns.js';
import { killNetnsProcesses } from '../kernel/netns-procs.js';
import { describe } from '../plan/executor.js';
import type { Step } from '../plan/steps.js';
import type { Context } from './context.js';
import { DRIVER_SETTING } from './firewall-choice.js';
import { firewallState } from './specs.js';

export interface RecordRefs {
  containers?: string[];
  networks?: string[];
  endpoints?: string[];
}

export interface Intent {
  /** rollback: undo the steps and forget what was inserted; finish: apply them and forget what goes. */
  mode: 'rollback' | 'finish';
  steps: Step[];
  /** Records recovery deletes: those inserted (rollback) or those being removed (finish). */
  forget: RecordRefs;
  /** Namespaces whose processes recovery kills first (a container started half-way). */
  killIn?: string[];
  /** Directories under the state root recovery removes (a container's log directory). */
  dirs?: string[];
}

/** Inside the operation's decide() transaction: record the intent. Returns the entry's id. */
export function begin(ctx: Context, op: string, intent: Intent): number {
  return ctx.store.journal.add(op, intent);
}

/** The operation finished (or failed and cleaned up): delete the entry with the final record update. */
export function end(ctx: Context, id: number | undefined, finalUpdate?: () => void): void {
  if (ctx.dryRun) return;
  ctx.store.tx(() => {
    finalUpdate?.();
    if (id !== undefined) ctx.store.journal.delete(id);
  });
}

function parseIntent(raw: unknown): Intent | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const i = raw as Partial<Intent>;
  if ((i.mode !== 'rollback' && i.mode !== 'finish') || !Array.isArray(i.steps) || i.forget === null || typeof i.forget !== 'object') {
    return undefined;
  }
  return i as Intent;
}

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

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
    const problems: string[] = [];
    const killed: number[] = [];
    const steps = intent.steps.filter((s) => NETWORK_KINDS.has(s.kind));
    if (steps.length !== intent.steps.length) firewallTouched = true;
    for (const ns of intent.killIn ?? []) {
      try {
        if (netnsExists(ns)) killed.push(...killNetnsProcesses(ns));
      } catch (err) {
        problems.push(`stop processes in ${ns}: ${errText(err)}`);
      }
    }
    if (intent.mode === 'rollback') {
      for (const step of [...steps].reverse()) {
        try {
          ctx.runner.undo(step);
        } catch (err) {
          problems.push(`undo ${describe(step)}: ${errText(err)}`);
        }
      }
    } else {
      for (const step of steps) {
        try {
          ctx.runner.apply(step);
        } catch (err) {
          // Applied before the crash: nothing left to do.
          if (err instanceof KernelError && err.errno === EEXIST) continue;
          problems.push(`${describe(step)}: ${errText(err)}`);
        }
      }
    }
    try {
      ctx.store.tx(() => {
        forget(ctx, intent.forget);
        ctx.store.journal.delete(entry.id);
      });
    } catch (err) {
      problems.push(`forget records: ${errText(err)}`);
      ctx.store.tx(() => ctx.store.journal.delete(entry.id));
    }
    for (const dir of intent.dirs ?? []) {
      // Only ever below the state root.
      const resolved = path.resolve(dir);
      if (resolved.startsWith(ctx.root + path.sep)) fs.rmSync(resolved, { recursive: true, force: true });
    }
    const did = intent.mode === 'rollback' ? 'undid it' : 'finished it';
    const kills = killed.length === 0 ? '' : `, stopped ${killed.length} process(es) it had started (${killed.join(', ')})`;
    const left = problems.length === 0 ? '' : `; could not: ${problems.join('; ')} (see nsnet system check)`;
    report.push(`recovered an interrupted "${entry.op}" (${entry.created}): ${did}${kills}${left}`);
  }
  if (firewallTouched) {
    try {
      const state = firewallState(ctx.store);
      for (const step of ctx.firewall.replace(state, state, 'match the firewall to the records')) ctx.runner.apply(step);
    } catch (err) {
      report.push(`could not regenerate the firewall after recovery: ${errText(err)} (see nsnet system check)`);
    }
  }
  return report;
}

/** Links, addresses, routes, namespaces: replayed one by one. Every other kind is the firewall's. */
const NETWORK_KINDS: ReadonlySet<Step['kind']> = new Set([
  'netns-add',
  'netns-del',
  'bridge-add',
  'link-up',
  'link-del',
  'veth-add',
  'addr-add',
  'route-add',
  'sysctl',
]);

function forget(ctx: Context, refs: RecordRefs): void {
  for (const id of refs.endpoints ?? []) ctx.store.endpoints.delete(id);
  for (const id of refs.containers ?? []) ctx.store.containers.delete(id);
  for (const id of refs.networks ?? []) ctx.store.networks.delete(id);
  // As network rm does: the driver record only guards existing networks.
  if ((refs.networks ?? []).length > 0 && ctx.store.networks.list().length === 0) ctx.store.settings.delete(DRIVER_SETTING);
}

/**
 * A removal under a journal entry of its own (nothing was inserted, so the entry need not share
 * the decide transaction): record, apply, then delete the entry with the final record update.
 * When a step fails the executor has undone the applied ones; the entry goes with onFailure.
 */
export function applyJournaled(ctx: Context, op: string, intent: Intent, finalUpdate: () => void, onFailure?: () => void): void {
  const id = ctx.dryRun ? undefined : ctx.store.tx(() => begin(ctx, op, intent));
  try {
    ctx.execute(intent.steps);
  } catch (err) {
    end(ctx, id, onFailure);
    throw err;
  }
  end(ctx, id, finalUpdate);
}
