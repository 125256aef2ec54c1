/**
 * What every operation shares: the state store, the host (reads, processes, the host-wide
 * lock), the step runner and the dry-run switch. Operations decide and commit through
 * src/ops/pipeline.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NsnetError } from '../core/errors.js';
import type { Host } from '../host/port.js';
import { applyPlan } from '../plan/executor.js';
import { renderStep } from '../plan/render.js';
import type { StepRunner } from '../plan/runner.js';
import type { Step } from '../plan/steps.js';
import { openStore, STORE_FILE, type Store } from '../store/index.js';
import type { FirewallDriver } from '../firewall/driver.js';
import { chooseDriverName, driverFor } from './firewall-choice.js';
import { recover } from './journal.js';

export const DEFAULT_ROOT = '/var/lib/nsnet';

/**
 * Stores a long-lived process (the nsnet service, src/cli/service.ts) keeps open between
 * commands, by state root: opening one (SQLite, pragmas, prepared statements) costs a few
 * milliseconds, more than a whole `ps`. A Context's close() leaves such a store open. A store
 * whose file was replaced or removed (a reset, a removed root) is opened again.
 */
const keptOpen = new Map<string, { store: Store; ino: number }>();
let keepingOpen = false;

export function keepStoresOpen(on: boolean): void {
  keepingOpen = on;
  if (on) return;
  for (const kept of keptOpen.values()) kept.store.close();
  keptOpen.clear();
}

function keptStore(root: string): Store {
  const ino = fs.statSync(path.join(root, STORE_FILE), { throwIfNoEntry: false })?.ino ?? -1;
  const kept = keptOpen.get(root);
  if (kept !== undefined && kept.ino === ino && ino !== -1) return kept.store;
  kept?.store.close();
  keptOpen.delete(root);
  const store = openStore(root);
  keptOpen.set(root, { store, ino: fs.statSync(path.join(root, STORE_FILE)).ino });
  return store;
}

export interface ContextOptions {
  /** The machine: KernelHost for real (src/host/kernel-host.ts), a FakeHost in unit tests. */
  host: Host;
  /** Applies and undoes steps (a FakeHost is its own runner)... */
  runner?: StepRunner | undefined;
  /** ...or makes one when first needed, and again after close() (the kernel's: KernelRunner). */
  openRunner?: (() => StepRunner) | undefined;
  /** The state store; the SQLite file under the root unless given (unit tests give one in memory). */
  store?: Store | undefined;
  root?: string | undefined;
  dryRun?: boolean | undefined;
  lockTimeoutMs?: number | undefined;
  /** --firewall-driver (else NSNET_FIREWALL_DRIVER, else the recorded or detected one). */
  firewallDriver?: string | undefined;
  /** Told once when another nsnet process holds the lock for more than a second. */
  onLockWait?: (() => void) | undefined;
  /** Told what crash recovery did (one line per interrupted operation it recovered). */
  onRecover?: ((line: string) => void) | undefined;
  /** Told of trouble that does not fail the command (DNS files or responder); dropped when absent. */
  onWarning?: ((line: string) => void) | undefined;
}

/** The state directory; an empty one would silently mean the current directory. */
function stateRoot(given: string): string {
  if (given.trim() === '') {
    throw new NsnetError('INVALID_VALUE', 'invalid state root "": expected a directory such as /var/lib/nsnet', {
      hint: 'give --root DIR, or unset NSNET_ROOT to use /var/lib/nsnet',
    });
  }
  return path.resolve(given);
}

export class Context {
  readonly host: Host;
  readonly root: string;
  readonly dryRun: boolean;
  /** Commands printed by --dry-run, in order. */
  readonly planned: string[] = [];
  private storeHandle: Store | undefined;
  /** The store is one keepStoresOpen() keeps: close() leaves it open. */
  private storeKept = false;
  private runnerHandle: StepRunner | undefined;
  private readonly openRunner: (() => StepRunner) | undefined;
  private readonly lockTimeoutMs: number;
  private readonly onLockWait: (() => void) | undefined;
  private readonly requestedDriver: string | undefined;
  private firewallHandle: FirewallDriver | undefined;
  private readonly onRecover: ((line: string) => void) | undefined;
  private readonly onWarning: ((line: string) => void) | undefined;
  private lockDepth = 0;

  constructor(opts: ContextOptions) {
    this.host = opts.host;
    this.runnerHandle = opts.runner;
    this.openRunner = opts.openRunner;
    this.storeHandle = opts.store;
    this.root = stateRoot(opts.root ?? process.env['NSNET_ROOT'] ?? DEFAULT_ROOT);
    this.dryRun = opts.dryRun ?? false;
    this.lockTimeoutMs = opts.lockTimeoutMs ?? Number(process.env['NSNET_LOCK_TIMEOUT_MS'] ?? 30_000);
    this.onLockWait = opts.onLockWait;
    this.requestedDriver = opts.firewallDriver ?? process.env['NSNET_FIREWALL_DRIVER'];
    this.onRecover = opts.onRecover;
    this.onWarning = opts.onWarning;
  }

  /** Report trouble that does not fail the command (ops never write to the terminal themselves). */
  warn(line: string): void {
    this.onWarning?.(line);
  }

  /** The firewall driver for this command (see firewall-choice.ts). */
  get firewall(): FirewallDriver {
    this.firewallHandle ??= driverFor(this.host, chooseDriverName(this.host, this.store, this.requestedDriver));
    return this.firewallHandle;
  }

  /**
   * A long-lived process (the CNI service) chooses again before each request: the networks that
   * pinned the driver may have been removed and others made with another driver since.
   */
  forgetFirewallChoice(): void {
    this.firewallHandle = undefined;
  }

  get store(): Store {
    if (this.storeHandle === undefined) {
      this.storeKept = keepingOpen;
      this.storeHandle = keepingOpen ? keptStore(this.root) : openStore(this.root);
      // A command that reads without the lock (ps, inspect, ls) still shows recovered state.
      if (this.lockDepth === 0) this.recoverIfIdle();
    }
    return this.storeHandle;
  }

  get runner(): StepRunner {
    if (this.runnerHandle === undefined) {
      if (this.openRunner === undefined) throw new NsnetError('INTERNAL', 'this Context was made without a step runner');
      this.runnerHandle = this.openRunner();
    }
    return this.runnerHandle;
  }

  /** Use another runner (tests record steps instead of touching the kernel). */
  setRunner(runner: StepRunner): void {
    this.runnerHandle = runner;
  }

  /**
   * Take the host-wide lock, so concurrent nsnet processes take turns; returns its release.
   * Re-entrant within one process: nested operations (run creating the default network) share it.
   */
  lock(): () => void {
    return this.acquire(this.lockTimeoutMs, this.onLockWait);
  }

  private acquire(timeoutMs: number, onWait: (() => void) | undefined): () => void {
    if (this.lockDepth++ > 0) return () => void this.lockDepth--;
    try {
      this.store; // creates the state directory the lock file lives in
      const lock = this.host.acquire(path.join(this.root, 'lock'), { timeoutMs, ...(onWait === undefined ? {} : { onWait }) });
      // First thing under the lock: whatever a process that died half-way left unfinished.
      this.recoverNow();
      return () => {
        if (--this.lockDepth === 0) lock.release();
      };
    } catch (err) {
      this.lockDepth--;
      throw err;
    }
  }

  /**
   * Under the lock: undo (or finish) what an nsnet process that died half-way left in the
   * journal. Never fails the command that found it; what it did and what went wrong is reported.
   */
  private recoverNow(): void {
    if (this.dryRun) return;
    let lines: string[];
    try {
      if (this.store.journal.list().length === 0) return;
      lines = recover(this);
    } catch (err) {
      lines = [`crash recovery failed: ${err instanceof Error ? err.message : String(err)}`];
    }
    for (const line of lines) this.onRecover?.(line);
  }

  /**
   * Without the lock (ps, inspect, ls): when the journal has entries and nobody holds the lock,
   * their writer died; take the lock just long enough to recover. A held lock means a live writer
   * (or one that recovers as it takes the lock), so a reader never waits for it.
   */
  private recoverIfIdle(): void {
    if (this.dryRun || process.getuid?.() !== 0) return;
    if (this.storeHandle?.journal.list().length === 0) return;
    let release: () => void;
    try {
      release = this.acquire(0, undefined);
    } catch {
      return; // busy
    }
    release();
  }

  locked<T>(fn: () => T): T {
    const release = this.lock();
    try {
      return fn();
    } finally {
      release();
    }
  }

  /**
   * With --dry-run, whether a decision's record writes are kept (in a scratch copy of the state)
   * so the next decision builds on them: `up --dry-run` plans a whole lab (src/lab/planning.ts).
   */
  get keepsDryRunDecisions(): boolean {
    return false;
  }

  /** Apply steps (undoing them all if one fails), or print them with --dry-run. */
  execute(steps: readonly Step[]): void {
    if (this.dryRun) {
      this.planned.push(...steps.map(renderStep));
      return;
    }
    try {
      applyPlan(steps, this.runner);
    } finally {
      this.runner.releaseNamespaces?.();
    }
  }

  /** A line for --dry-run output that is not a step (the process nsnet would start). */
  note(line: string): void {
    if (this.dryRun) this.planned.push(line);
  }

  close(): void {
    this.runnerHandle?.close();
    if (!this.storeKept) this.storeHandle?.close();
    this.runnerHandle = undefined;
    this.storeHandle = undefined;
  }
}
