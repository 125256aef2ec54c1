/**
 * The fake machine's processes and sockets. A process lives "in" a network namespace (a
 * container's init, a foreground command) or in the host (a background daemon); it has a PID and
 * a start time, so a reused PID is told apart exactly as the real Host does. Nothing runs: a test
 * says when a process exits (`exit`), that the next launch fails or finishes at once, and what an
 * exec returns.
 */
import { NsnetError } from '../../../src/core/errors.js';
import type { Finished, LaunchSpec, Listener, Started } from '../../../src/host/port.js';

export type ProcessKind = 'container' | 'foreground' | 'daemon' | 'other';

export interface FakeProcess {
  pid: number;
  startTime: string;
  kind: ProcessKind;
  /** Namespace name or path; undefined: the host's. */
  netns: string | undefined;
  argv: string[];
  hostname?: string | undefined;
  logPath?: string | undefined;
  alive: boolean;
  exitCode?: number | undefined;
  /** Like a PID 1 without a SIGTERM handler: only SIGKILL ends it. */
  ignoresTerm: boolean;
}

export interface ProcessState {
  processes: FakeProcess[];
  nextPid: number;
  /** Start times are ticks of this clock: distinct and increasing. */
  clock: number;
  listeners: Array<Listener & { holder?: { pid: number; command: string } | undefined }>;
  nextInode: number;
}

/** What the next launch does instead of starting a process that runs. */
type LaunchOutcome = { fail: Error } | { finish: number };

const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 129, SIGINT: 130, SIGKILL: 137, SIGTERM: 143 };

export class ProcessModel {
  state: ProcessState = { processes: [], nextPid: 4000, clock: 100000, listeners: [], nextInode: 50000 };
  /** What `execInContainer` returns (and sees). */
  execHandler: (pid: number, argv: readonly string[]) => number = () => 0;
  readonly execs: Array<{ pid: number; argv: string[] }> = [];
  readonly signals: Array<{ pid: number; signal: NodeJS.Signals }> = [];
  private readonly outcomes: LaunchOutcome[] = [];
  private readonly waiters = new Map<number, Array<(code: number) => void>>();

  // ---------------------------------------------------------------------------------------------
  // test controls

  /** The next launch (detached or foreground) throws this (default: the real "did not start" error). */
  failNextLaunch(error: Error = new NsnetError('PROCESS', 'the container process did not start: injected failure')): void {
    this.outcomes.push({ fail: error });
  }

  /** The next launch's command finishes before it is seen running (`run -d true`). */
  finishNextLaunch(exitCode: number): void {
    this.outcomes.push({ finish: exitCode });
  }

  /** A process that runs without nsnet having started it (a socket holder, a PID to be reused). */
  start(opts: { kind?: ProcessKind; netns?: string | undefined; argv: readonly string[]; hostname?: string; logPath?: string; ignoresTerm?: boolean }): FakeProcess {
    const p: FakeProcess = {
      pid: this.state.nextPid++,
      startTime: String(this.state.clock++),
      kind: opts.kind ?? 'other',
      netns: opts.netns,
      argv: [...opts.argv],
      hostname: opts.hostname,
      logPath: opts.logPath,
      alive: true,
      ignoresTerm: opts.ignoresTerm ?? false,
    };
    this.state.processes.push(p);
    return p;
  }

  /** The process ends by itself with this exit code. */
  exit(pid: number, code: number): void {
    const p = this.get(pid);
    if (p === undefined || !p.alive) return;
    p.alive = false;
    p.exitCode = code;
    for (const resolve of this.waiters.get(pid) ?? []) resolve(code);
    this.waiters.delete(pid);
  }

  get(pid: number): FakeProcess | undefined {
    return this.state.processes.find((p) => p.pid === pid);
  }

  alive(): FakeProcess[] {
    return this.state.processes.filter((p) => p.alive);
  }

  // ---------------------------------------------------------------------------------------------
  // the Host port

  launch(spec: LaunchSpec, kind: 'container' | 'foreground', netnsExists: boolean, logPath?: string): Started | Finished {
    const outcome = this.outcomes.shift();
    if (outcome !== undefined && 'fail' in outcome) throw outcome.fail;
    if (!netnsExists) throw new NsnetError('PROCESS', `the container process did not start: cannot enter network namespace ${spec.netns}`);
    if (outcome !== undefined) return { exitCode: outcome.finish };
    const p = this.start({ kind, netns: spec.netns, argv: spec.argv, hostname: spec.hostname, logPath });
    return { pid: p.pid, startTime: p.startTime };
  }

  /** Resolves with the exit code once the process ends (at once when it already has). */
  exited(pid: number): Promise<number> {
    const p = this.get(pid);
    if (p === undefined) return Promise.resolve(127);
    if (!p.alive) return Promise.resolve(p.exitCode ?? 0);
    return new Promise((resolve) => this.waiters.set(pid, [...(this.waiters.get(pid) ?? []), resolve]));
  }

  startTime(pid: number): string | undefined {
    const p = this.get(pid);
    return p?.alive === true ? p.startTime : undefined;
  }

  isAlive(pid: number, startTime: string): boolean {
    return this.startTime(pid) === startTime;
  }

  sendSignal(pid: number, startTime: string, signal: NodeJS.Signals): void {
    if (!this.isAlive(pid, startTime)) return;
    this.signals.push({ pid, signal });
    const p = this.get(pid)!;
    const code = SIGNAL_EXIT[signal];
    if (code === undefined || (signal === 'SIGTERM' && p.ignoresTerm)) return;
    this.exit(pid, code);
  }

  /** Docker's stop, as the real one: SIGTERM when there is a grace period, else (or when ignored) SIGKILL. */
  stop(pid: number, startTime: string, graceMs: number): 'term' | 'kill' | 'gone' {
    if (!this.isAlive(pid, startTime)) return 'gone';
    if (graceMs > 0) {
      this.sendSignal(pid, startTime, 'SIGTERM');
      if (!this.isAlive(pid, startTime)) return 'term';
    }
    this.sendSignal(pid, startTime, 'SIGKILL');
    return 'kill';
  }

  killNetns(ns: string): number[] {
    const pids = this.alive()
      .filter((p) => p.netns === ns)
      .map((p) => p.pid);
    for (const pid of pids) this.sendSignal(pid, this.get(pid)!.startTime, 'SIGKILL');
    return pids;
  }

  exec(pid: number, argv: readonly string[]): number {
    if (this.get(pid)?.alive !== true) throw new NsnetError('PROCESS', `process ${pid} is not running`);
    this.execs.push({ pid, argv: [...argv] });
    return this.execHandler(pid, argv);
  }

  // ---------------------------------------------------------------------------------------------
  // sockets

  addListener(l: { proto: 'tcp' | 'udp'; address?: string | undefined; port: number }, holder?: { pid: number; command: string }): Listener {
    const listener = { proto: l.proto, address: l.address, port: l.port, inode: this.state.nextInode++ };
    this.state.listeners.push({ ...listener, holder });
    return listener;
  }

  removeListener(inode: number): void {
    this.state.listeners = this.state.listeners.filter((l) => l.inode !== inode);
  }

  listeners(): Listener[] {
    return this.state.listeners.map(({ proto, address, port, inode }) => ({ proto, address, port, inode }));
  }

  socketHolder(inode: number): { pid: number; command: string } | undefined {
    return this.state.listeners.find((l) => l.inode === inode)?.holder;
  }

  /** Deterministic and PID-free (two runs that start the same processes compare equal). */
  snapshot(): string[] {
    return this.alive()
      .map((p) => `${p.kind} in ${p.netns ?? 'host'}${p.hostname === undefined ? '' : ` as ${p.hostname}`}: ${p.argv.join(' ')}`)
      .sort();
  }
}
