/**
 * The one commit pipeline. Every state-changing operation is two halves:
 *
 *   decide(ctx, draft => Decision)   what must change: the records to write, the kernel steps,
 *                                    and what the operation returns. It reads the store and the
 *                                    host and writes records only through the Draft, inside a
 *                                    transaction that is ALWAYS rolled back: later reads of the
 *                                    same decision see its own writes (a second network's
 *                                    address, the default network made on first use), and
 *                                    nothing stays. The result is data.
 *   commit(ctx, decision)            the only place that changes anything: journals the intent
 *                                    with the records, applies the steps, and on failure (or,
 *                                    after a crash, in recovery) uses the same forget list —
 *                                    derived from the decision's own writes.
 *
 * Two modes, as the journal has them: `rollback` (a make: records first, then the steps; a
 * failure undoes the applied steps in reverse and forgets what was inserted) and `finish` (a
 * removal: the steps, all of them even past failures, then the records go; a crash is finished
 * by recovery, since a deleted namespace cannot be brought back).
 */
import { NsnetError, NsnetErrors, wrap } from '../core/errors.js';
import { applyAll, undoAll } from '../plan/executor.js';
import { faultPoint } from '../plan/faults.js';
import { renderStep } from '../plan/render.js';
import type { Step } from '../plan/steps.js';
import type { Context } from './context.js';
import { alreadyApplied, killProcessesIn, removeDirs, rollBack, type Intent } from './journal.js';
import { applyWrite, deletedBy, forget, insertedBy, restoreOf, type RecordRefs, type RecordWrite } from './records.js';

export interface Decision<R> {
  /** The operation's name in the journal and in recovery's report: "run", "network rm". */
  op: string;
  mode: 'rollback' | 'finish';
  /** rollback: written before the steps; finish: written after them. */
  writes: RecordWrite[];
  steps: Step[];
  /** What the operation returns. */
  result: R;
  /** Namespaces whose processes a failure or recovery kills first (a container started half-way). */
  killIn?: string[] | undefined;
  /** Directories under the state root a failure or recovery removes (a new container's log directory). */
  dirs?: string[] | undefined;
  /** rollback only: writes a failure makes instead of keeping the make (start: the container is exited). */
  onFailure?: RecordWrite[] | undefined;
  /**
   * rollback only, from the draft: the writes that put back what the decision changed in place
   * (an allocation cursor, DNS settings), newest first; a failure or recovery makes them too.
   */
  restores?: RecordWrite[] | undefined;
}

/** The writes of a decision in the making; each is also done in the (rolled back) transaction so later reads see it. */
export class Draft {
  readonly writes: RecordWrite[] = [];
  readonly restores: RecordWrite[] = [];
  constructor(private readonly ctx: Context) {}
  write(w: RecordWrite): void {
    const restore = restoreOf(this.ctx.store, w);
    if (restore !== undefined) this.restores.unshift(restore);
    applyWrite(this.ctx.store, w);
    this.writes.push(w);
  }
}

class Discard {
  value: unknown;
}

/**
 * Decide: `fn` reads the store (and the host) and records its writes through the draft. The
 * transaction is rolled back whatever happens; the decision keeps the draft's writes.
 */
export function decide<R>(ctx: Context, fn: (draft: Draft) => Omit<Decision<R>, 'writes'> & { writes?: RecordWrite[] }): Decision<R> {
  const discard = new Discard();
  try {
    ctx.store.tx(() => {
      const draft = new Draft(ctx);
      const made = fn(draft);
      discard.value = { ...made, writes: [...draft.writes, ...(made.writes ?? [])], restores: draft.restores };
      throw discard;
    });
  } catch (err) {
    if (err !== discard) throw err;
  }
  return discard.value as Decision<R>;
}

/** The one forget list: what a make inserted, or what a removal deletes. */
export function forgetListOf(d: Pick<Decision<unknown>, 'mode' | 'writes'>): RecordRefs {
  return d.mode === 'rollback' ? insertedBy(d.writes) : deletedBy(d.writes);
}

function intentOf(d: Decision<unknown>): Intent {
  // A failed make forgets what it inserted and puts back what it changed in place.
  const onFailure = d.mode === 'rollback' && (d.restores ?? []).length > 0 ? [...d.restores!, ...(d.onFailure ?? [])] : d.onFailure;
  return { mode: d.mode, steps: d.steps, forget: forgetListOf(d), killIn: d.killIn, dirs: d.dirs, onFailure };
}

/** With --dry-run: the steps as by-hand commands, nothing changed (but a planning context's scratch records). */
function plan(ctx: Context, d: Decision<unknown>): void {
  ctx.planned.push(...d.steps.map(renderStep));
  // Removals too: a lab's converge removes containers before the network they are on, or before
  // making them again under the same name, and each decision must see the ones before it.
  if (ctx.keepsDryRunDecisions) ctx.store.tx(() => d.writes.forEach((w) => applyWrite(ctx.store, w)));
}

/**
 * Commit a decision: journal, records, steps. A make that fails is undone and forgotten; a
 * removal that fails keeps its records (the kernel may still hold part of it) and reports every
 * step that failed, each with its own code.
 */
export function commit<R>(ctx: Context, d: Decision<R>): R {
  if (ctx.dryRun) {
    plan(ctx, d);
    return d.result;
  }
  const id = begin(ctx, d);
  if (d.mode === 'rollback') {
    try {
      ctx.execute(d.steps);
    } catch (err) {
      // The executor undid the applied steps; forget what was inserted (and kill, and remove dirs).
      rollBack(ctx, id, intentOf(d), { undo: false });
      throw err;
    }
    end(ctx, id);
    return d.result;
  }
  const failures = [...killProcesses(ctx, d.killIn ?? []), ...teardown(ctx, d.steps)];
  if (failures.length > 0) {
    end(ctx, id);
    throw failureOf(d.op, failures);
  }
  end(ctx, id, d.writes);
  removeDirs(ctx, d.dirs ?? []);
  return d.result;
}

/** A removal's first part: every process in the namespaces it deletes. */
function killProcesses(ctx: Context, namespaces: readonly string[]): NsnetError[] {
  const failures = killProcessesIn(ctx, namespaces);
  faultPoint();
  return failures;
}

/**
 * A make whose last part is not a kernel step (starting a container's process): the steps are
 * applied, then `then` runs; when it fails, everything is undone and forgotten as if a step had
 * failed. `then` returns the writes that finish the make (the process's PID, its status).
 */
export async function commitThen<R>(ctx: Context, d: Decision<R>, then: () => Promise<RecordWrite[]>): Promise<R> {
  if (d.mode !== 'rollback') throw new NsnetError('INTERNAL', `commitThen is for makes, not ${d.op}`);
  if (ctx.dryRun) {
    plan(ctx, d);
    return d.result;
  }
  const id = begin(ctx, d);
  try {
    ctx.execute(d.steps);
  } catch (err) {
    rollBack(ctx, id, intentOf(d), { undo: false });
    throw err;
  }
  let finished: RecordWrite[];
  try {
    finished = await then();
    faultPoint();
  } catch (err) {
    // Every step was applied: after the processes in the namespace are killed, each is undone in
    // reverse, the firewall's too, as a failed step's plan is undone (rollBack's own undo leaves
    // the firewall to recovery, which regenerates it from the records; nothing does that here).
    const problems = [...killProcessesIn(ctx, d.killIn ?? []), ...undoSteps(ctx, d.steps), ...rollBack(ctx, id, intentOf(d), { undo: false })];
    const cause = err instanceof NsnetError ? err : wrap(d.op, err);
    throw problems.length === 0 ? cause : new NsnetError(cause.code, `${cause.message}; cleanup also failed: ${problems.map((p) => p.message).join('; ')}`, { cause, hint: cause.hint });
  }
  end(ctx, id, finished);
  return d.result;
}

function begin(ctx: Context, d: Decision<unknown>): number {
  return ctx.store.tx(() => {
    if (d.mode === 'rollback') for (const w of d.writes) applyWrite(ctx.store, w);
    return ctx.store.journal.add(d.op, intentOf(d));
  });
}

function end(ctx: Context, id: number, writes: readonly RecordWrite[] = []): void {
  ctx.store.tx(() => {
    for (const w of writes) applyWrite(ctx.store, w);
    ctx.store.journal.delete(id);
  });
}

function teardown(ctx: Context, steps: readonly Step[]): NsnetError[] {
  try {
    // A removal run again after a failure finds some steps done: a route already added is no failure.
    return applyAll(steps, ctx.runner).filter((f) => !alreadyApplied(f));
  } finally {
    ctx.runner.releaseNamespaces?.();
  }
}

/** One failure as it is; several as one error that keeps each (with its own code). */
export function failureOf(what: string, failures: readonly NsnetError[]): NsnetError {
  if (failures.length === 1) return wrap(what, failures[0]);
  return new NsnetErrors(what, failures);
}

/** Undo steps that were all applied (a make whose last part failed); the failures of the undo. */
export function undoSteps(ctx: Context, steps: readonly Step[]): NsnetError[] {
  try {
    return undoAll(steps, ctx.runner);
  } finally {
    ctx.runner.releaseNamespaces?.();
  }
}

export { forget };
