/**
 * Operations on a fake machine, for unit tests of src/ops: a Context on a FakeHost (the Host and
 * the step runner at once) and an in-memory store, with a state directory of its own; a
 * normalized dump of the store; and the walks every operation test makes — failure at every step,
 * crash at every step (then recovery by a new process) — each on a twin of a base fixture, so the
 * setup is built once.
 *
 *   const base = await fixture().setUp(async (ctx) => { createNetwork(ctx, {...}); });
 *   await failEachStep(base, (ctx) => run(ctx, runInput({...})), ({ fx, before, error }) => {
 *     assert.deepEqual(stateOf(fx), before);
 *   });
 *
 * Two things of the real machine the fixture keeps tests away from:
 * - /etc/netns: a container without --rootfs gets /etc/netns/NAME/{resolv.conf,hosts} written on
 *   the real file system. `runInput` gives every container a --rootfs (ROOTFS, an empty directory
 *   with bin/), so none is written; container names in tests should still be unusual ones
 *   (`ut-...`), since rm and a failed run remove /etc/netns/NAME/{resolv.conf,hosts}.
 * - the DNS responder: the fake's spawnDaemon starts a process that never writes its record, and
 *   `ensureResponder` would poll for it for seconds; daemons spawned on a fixture's host exit at
 *   once (the responder "did not start": a warning, collected in `warnings`).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Context, type ContextOptions } from '../../src/ops/context.js';
import type { RunInput } from '../../src/ops/containers.js';
import { openMemoryStore, type Store } from '../../src/store/index.js';
import { removeAllContainerFiles } from '../../src/ops/dns-files.js';

/** store.path of an in-memory store; the /etc/netns files it makes say path.dirname of it. */
const MEMORY_STORE_PATH = ':memory:';
import { FakeHost, type FakeSnapshot } from './fake-host.js';
import type { Host, MonitorOptions } from '../../src/host/port.js';

/** An operation under test: whatever it returns (or throws) on this context. */
export type Op = (ctx: Context) => unknown;

const tempDirs: string[] = [];
process.on('exit', () => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  removeAllContainerFiles(path.dirname(MEMORY_STORE_PATH));
});

/**
 * tmpfs when the machine has one: a walk makes and removes a state directory per step, and on a
 * busy disk each directory operation costs milliseconds (ten times the operation under test).
 */
const TEMP_BASE = ((): string => {
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return '/dev/shm';
  } catch {
    return os.tmpdir();
  }
})();

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(TEMP_BASE, prefix));
  tempDirs.push(dir);
  return dir;
}

/** A root filesystem as far as `run --rootfs` checks one (it has bin/): containers get no /etc/netns files. */
export const ROOTFS = ((): string => {
  const dir = tempDir('nsnet-unit-rootfs-');
  fs.mkdirSync(path.join(dir, 'bin'));
  return dir;
})();

/** A detached `run` of `sleep 1000` with ROOTFS; the rest as given. */
export function runInput(input: Partial<RunInput> & { name: string }): RunInput {
  return { networks: [], env: {}, detach: true, remove: false, argv: ['sleep', '1000'], rootfs: ROOTFS, ...input };
}

export interface FixtureOptions {
  host?: FakeHost | undefined;
  store?: Store | undefined;
  /** The state directory (a fresh temporary one unless given). */
  root?: string | undefined;
  /** The firewall driver asked for ('nftables' unless given; the environment's NSNET_FIREWALL_DRIVER is not read). */
  firewallDriver?: string | undefined;
  lockTimeoutMs?: number | undefined;
}

/** One process's view of the machine: its context on the shared host, store and state directory. */
export class Fixture {
  readonly host: FakeHost;
  readonly store: Store;
  readonly root: string;
  readonly ctx: Context;
  /** What crash recovery reported when this fixture's context took the lock. */
  readonly recovered: string[] = [];
  /** Warnings of the operations (DNS trouble and the like). */
  readonly warnings: string[] = [];
  readonly firewallDriver: string;
  private readonly ownsRoot: boolean;

  constructor(opts: FixtureOptions = {}) {
    // ip_forward on from the start: undo never turns it off, so only then is "as before" exact.
    this.host = opts.host ?? new FakeHost({ ipForward: '1' });
    quietDaemons(this.host);
    this.store = opts.store ?? openMemoryStore();
    this.ownsRoot = opts.root === undefined;
    this.root = opts.root ?? tempDir('nsnet-unit-root-');
    this.firewallDriver = opts.firewallDriver ?? 'nftables';
    this.ctx = contextOn(this.host, this.store, this.root, {
      firewallDriver: this.firewallDriver,
      lockTimeoutMs: opts.lockTimeoutMs,
      onRecover: (line) => this.recovered.push(line),
      onWarning: (line) => this.warnings.push(line),
    });
  }

  /** Run setup operations (they must succeed); returns this fixture. */
  async setUp(...ops: Op[]): Promise<this> {
    for (const op of ops) await op(this.ctx);
    return this;
  }

  /**
   * An independent copy: the machine cloned, the store copied, the state directory copied to a
   * new one (absolute paths in records, such as a container's log path, still name the old one).
   */
  twin(): Fixture {
    const twin = new Fixture({ host: this.host.clone(), store: openMemoryStore(this.store.serialize()), firewallDriver: this.firewallDriver });
    fs.cpSync(this.root, twin.root, { recursive: true });
    return twin;
  }

  /**
   * The next nsnet process after a crash: a new context on a store opened from `image` (what the
   * crashed one left on disk), the same machine (revived) and state directory. Taking the lock
   * runs recovery; its report is in `recovered`.
   */
  nextProcess(image: Buffer): Fixture {
    this.host.revive();
    const next = new Fixture({ host: this.host, store: openMemoryStore(image), root: this.root, firewallDriver: this.firewallDriver });
    next.ctx.locked(() => {});
    return next;
  }

  state(): MachineState {
    return stateOf(this);
  }

  /** Closes the store; a state directory the fixture made itself goes too (else at exit). */
  close(): void {
    this.ctx.close();
    if (this.ownsRoot) fs.rmSync(this.root, { recursive: true, force: true });
    // A test that runs a container without --rootfs (on purpose) gets real /etc/netns files; they
    // say which state wrote them, and an in-memory store's is ".": no real nsnet writes that.
    removeAllContainerFiles(path.dirname(MEMORY_STORE_PATH));
  }
}

export function fixture(opts: FixtureOptions = {}): Fixture {
  return new Fixture(opts);
}

/** A context on this host (also the runner) and store. */
/**
 * The monitor options each detached launch of the fixture's FakeHost is given, recorded as they
 * come (the FakeHost implements the Host port's launch without a monitor).
 */
export function watchLaunches(fx: Fixture): MonitorOptions[] {
  const seen: MonitorOptions[] = [];
  const host = fx.host as unknown as Pick<Host, 'launchDetached'>;
  const launch = host.launchDetached.bind(fx.host);
  host.launchDetached = async (spec, logPath, monitor) => {
    seen.push(monitor);
    return launch(spec, logPath, monitor);
  };
  return seen;
}

export function contextOn(host: FakeHost, store: Store, root: string, extra: Partial<ContextOptions> = {}): Context {
  return new Context({ lockTimeoutMs: 30_000, ...withoutUndefined(extra), host, runner: host, store, root });
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Daemons spawned on this host exit at once (see the header). Idempotent. */
const quieted = new WeakSet<FakeHost>();
export function quietDaemons(host: FakeHost): void {
  if (quieted.has(host)) return;
  quieted.add(host);
  const spawn = host.spawnDaemon;
  host.spawnDaemon = (script, args, logPath) => {
    const pid = spawn(script, args, logPath);
    host.exitProcess(pid, 1);
    return pid;
  };
}

// -------------------------------------------------------------------------------------------------
// states

/** The store's records, in a fixed order; the journal without its ids and times. */
export interface StoreDump {
  networks: unknown[];
  containers: unknown[];
  endpoints: unknown[];
  ports: unknown[];
  settings: Record<string, string | undefined>;
  dns: unknown[];
  /** Impairments and held-down links (netem set, link down). */
  interfaces: unknown[];
  journal: Array<{ op: string; steps: unknown }>;
  /** Point-to-point links and partitions (issue 19). */
  links: unknown[];
  partitions: unknown[];
}

const byKey = <T>(key: (t: T) => string) => (a: T, b: T): number => key(a).localeCompare(key(b));

export function dumpStore(store: Store): StoreDump {
  const networks = store.networks.list().sort(byKey((n) => n.name));
  const containers = store.containers.list().sort(byKey((c) => c.name));
  return {
    networks,
    containers,
    endpoints: networks.flatMap((n) => store.endpoints.forNetwork(n.id)).sort(byKey((e) => `${e.containerId} ${e.ifName}`)),
    ports: store.ports.list(),
    settings: Object.fromEntries(store.settings.keys('').map((k) => [k, store.settings.get(k)])),
    dns: store.dns.list(),
    interfaces: store.interfaces.list(),
    journal: store.journal.list().map((j) => ({ op: j.op, steps: j.steps })),
    links: store.links.list(),
    partitions: store.partitions.list(),
  };
}

export interface MachineState {
  store: StoreDump;
  host: FakeSnapshot;
}

export function stateOf(fx: Fixture): MachineState {
  return { store: dumpStore(fx.store), host: fx.host.snapshot() };
}

/**
 * Same store records and same machine, with a message that says which part differs.
 * `ignoreCursors`: leave out the networks' IPAM cursors — a container run and removed again leaves
 * its network's round-robin cursor moved on (the next container gets the next address).
 */
export function assertSameState(actual: MachineState, expected: MachineState, what: string, opts: { ignoreCursors?: boolean } = {}): void {
  const store = (s: MachineState): StoreDump =>
    opts.ignoreCursors === true ? { ...s.store, networks: s.store.networks.map((n) => ({ ...(n as object), ipamCursor: 'ignored' })) } : s.store;
  assert.deepEqual(store(actual), store(expected), `${what}: the store differs`);
  assert.deepEqual(actual.host, expected.host, `${what}: the machine differs`);
}

// -------------------------------------------------------------------------------------------------
// walks

async function attempt(op: Op, ctx: Context): Promise<unknown> {
  try {
    await op(ctx);
  } catch (err) {
    return err;
  }
  return undefined;
}

/** How many steps `op` applies when nothing fails (on a twin of `base`, which is left as it is). */
export async function stepsOf(base: Fixture, op: Op): Promise<number> {
  const fx = base.twin();
  const before = fx.host.applyCount;
  try {
    await op(fx.ctx);
    return fx.host.applyCount - before;
  } finally {
    fx.close();
  }
}

/** What a successful `op` leaves (on a twin of `base`): to compare a finished removal with. */
export async function stateAfter(base: Fixture, op: Op): Promise<MachineState> {
  const fx = base.twin();
  try {
    await op(fx.ctx);
    return fx.state();
  } finally {
    fx.close();
  }
}

export interface FailedStep {
  /** The step that failed (from 0) of the `n` the operation applies. */
  i: number;
  n: number;
  /** The twin the operation failed on. */
  fx: Fixture;
  /** Its state before the operation. */
  before: MachineState;
  /** What the operation threw. */
  error: unknown;
}

/**
 * For i = 0..n-1 (n = the steps `op` applies when nothing fails): on a fresh twin of `base`, step
 * i fails (a KernelError, ENOBUFS); `op` must throw, then `check` looks at what it left. Returns n.
 */
export async function failEachStep(base: Fixture, op: Op, check: (r: FailedStep) => void | Promise<void>): Promise<number> {
  const n = await stepsOf(base, op);
  assert.ok(n > 0, 'the operation applies no step: nothing to fail');
  for (let i = 0; i < n; i++) {
    const fx = base.twin();
    try {
      const before = fx.state();
      fx.host.failAt(fx.host.applyCount + i);
      const error = await attempt(op, fx.ctx);
      assert.ok(error !== undefined, `step ${i} of ${n} failed, yet the operation succeeded`);
      await check({ i, n, fx, before, error });
    } finally {
      fx.close();
    }
  }
  return n;
}

export interface Recovered {
  /** The step after which the process died (from 0) of the `n` the operation applies; -1: at a launch. */
  i: number;
  n: number;
  /** The crashed process's fixture (its store is what the dead process held, not what is on disk). */
  crashed: Fixture;
  /** The next process's: it has taken the lock, so recovery has run (its report in `recovered`). */
  fx: Fixture;
  /** The state before the operation. */
  before: MachineState;
  /** What the crashed operation threw (a SimulatedCrash, possibly wrapped). */
  error: unknown;
}

/**
 * On a twin of `base`: `arm` sets the crash point on the machine (passing on `atCrash`, which copies
 * the store as the next process finds it), `op` runs and "dies", the next process recovers.
 */
export async function crashAndRecover(
  base: Fixture,
  op: Op,
  arm: (host: FakeHost, atCrash: () => void) => void,
  where: { i: number; n: number } = { i: -1, n: 0 },
): Promise<Recovered> {
  const crashed = base.twin();
  const before = crashed.state();
  let image: Buffer | undefined;
  arm(crashed.host, () => {
    image = crashed.store.serialize();
  });
  const error = await attempt(op, crashed.ctx);
  assert.ok(image !== undefined && crashed.host.crashed, `the crash point ${where.i} of ${where.n} was never reached (${String(error)})`);
  return { ...where, crashed, fx: crashed.nextProcess(image), before, error };
}

/** For i = 0..n-1: the process dies right after step i; a new one recovers; `check` looks. Returns n. */
export async function crashEachStep(base: Fixture, op: Op, check: (r: Recovered) => void | Promise<void>): Promise<number> {
  const n = await stepsOf(base, op);
  assert.ok(n > 0, 'the operation applies no step: nothing to crash at');
  for (let i = 0; i < n; i++) {
    const r = await crashAndRecover(base, op, (host, atCrash) => host.crashAfter(host.applyCount + i, atCrash), { i, n });
    try {
      await check(r);
    } finally {
      r.crashed.close();
      r.fx.close();
    }
  }
  return n;
}

/** The code of an NsnetError (or of what is not one: its name, so assertions say what came instead). */
export function codeOf(err: unknown): string {
  if (err !== null && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.name : String(err);
}

// -------------------------------------------------------------------------------------------------
// what the walks check, for the two kinds of operation

/** A make that failed at a step: a typed error naming the injected failure; records and machine as before. */
export function assertUndone({ i, fx, before, error }: FailedStep): void {
  assert.equal(codeOf(error), 'KERNEL', `step ${i}: ${String(error)}`);
  assert.match((error as Error).message, /injected failure/);
  assertSameState(fx.state(), before, `failure at step ${i}`);
}

/** A make interrupted by a crash: the next process undid it (one recovery line for `op`); records and machine as before. */
export function assertRecoveredAsBefore(op: string): (r: Recovered) => void {
  return ({ i, fx, before }) => {
    assert.equal(fx.recovered.length, 1, `crash after step ${i}: ${fx.recovered.join('; ')}`);
    assert.ok(fx.recovered[0]!.startsWith(`recovered an interrupted "${op}" `) && fx.recovered[0]!.endsWith(': undid it'), fx.recovered[0]);
    assertSameState(fx.state(), before, `crash after step ${i}`);
  };
}

/**
 * A removal that failed at a step: it went on past it, kept its records, and its error (prefixed
 * `op: `) names the step. With `retry`: once the fault is gone, running `retry.op` again (the user
 * repeating the command) finishes the removal, the steps already done counting as done.
 */
export function assertKept(op: string, retry?: { op: Op; removed: MachineState }): (r: FailedStep) => Promise<void> {
  return async ({ i, fx, before, error }) => {
    assert.equal(codeOf(error), 'KERNEL', `step ${i}: ${String(error)}`);
    const message = (error as Error).message;
    assert.ok(message.startsWith(`${op}: `) && message.includes('injected failure'), `step ${i}: ${message}`);
    assert.deepEqual(fx.state().store, before.store, `failure at step ${i}: the records stay`);
    if (retry === undefined) return;
    fx.host.clearFaults();
    await retry.op(fx.ctx);
    assertSameState(fx.state(), retry.removed, `failure at step ${i}, then run again`);
  };
}

/** A removal interrupted by a crash: the next process finished it; records and machine as `removed` (see stateAfter). */
export function assertFinishedAs(op: string, removed: MachineState): (r: Recovered) => void {
  return ({ i, fx }) => {
    assert.ok(fx.recovered.some((l) => l.startsWith(`recovered an interrupted "${op}" `) && l.endsWith(': finished it')), `crash after step ${i}: ${fx.recovered.join('; ')}`);
    assertSameState(fx.state(), removed, `crash after step ${i}`);
  };
}
