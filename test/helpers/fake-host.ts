/**
 * An in-memory machine for unit tests of operations: a FakeHost is both the Host port
 * (src/host/port.ts: what an operation reads, plus processes and the lock) and the StepRunner
 * (src/plan/runner.ts: how it changes the kernel), so an operation run against it sees its own
 * steps take effect, and every run can be compared with `snapshot()`:
 *
 *   - success: the snapshot shows what the operation made;
 *   - failure at step i (`failAt(i)`): after the operation's undo, the snapshot equals the one
 *     taken before (mind: like the kernel runner, undo never turns `net.ipv4.ip_forward` back
 *     off — start with it on, `new FakeHost({ ipForward: '1' })`, when the plan sets it);
 *   - crash after step i (`crashAfter(i)`), or right after a container's process started
 *     (`crashAtNextLaunch()`): nothing more runs until `revive()`; then recovery must converge.
 *
 * The models live in test/helpers/fake-host/: network.ts (namespaces, links, addresses, routes,
 * sysctls), nft.ts and xtables.ts (the firewall), processes.ts (processes, sockets), mounts.ts
 * (a container's root filesystem from an image), steps.ts
 * (each step kind's apply and undo, as src/plan/kernel-runner.ts does them). Tests reach the
 * models through `net`, `nft`, `xt` and `procs` to set up a machine (an uplink, a foreign table,
 * a socket holder) and to look inside.
 */
import { NsnetError } from '../../src/core/errors.js';
import { NETNS_RUN_DIR, type EbtablesSupport, type Finished, type Host, type HostLock, type LaunchSpec, type Started } from '../../src/host/port.js';
import { ENOBUFS } from '../../src/kernel/libc.js';
import { renderStep } from '../../src/plan/render.js';
import type { StepRunner } from '../../src/plan/runner.js';
import type { Step } from '../../src/plan/steps.js';
import { kernelError, SimulatedCrash } from './fake-host/errors.js';
import { qdiscParts } from '../../src/core/netem.js';
import { HOST, NetworkModel } from './fake-host/network.js';
import { NftModel } from './fake-host/nft.js';
import { ProcessModel } from './fake-host/processes.js';
import { applyStep, undoStep } from './fake-host/steps.js';
import { XtablesModel } from './fake-host/xtables.js';
import { MountModel } from './fake-host/mounts.js';

export { FakeUnsupported, SimulatedCrash } from './fake-host/errors.js';

/** What the host's tools and kernel offer; change freely in a test. */
export interface FakeFacts {
  nftUsable: boolean;
  nftBackend: 'libnftables' | 'nft';
  iptables: boolean;
  /** The host's iptables FORWARD chain has policy DROP (as Docker leaves it). */
  forwardDrops: boolean;
  /** The same for ip6tables (Docker 27 and later). */
  forwardDrops6?: boolean;
  ebtables: EbtablesSupport;
  /** Commands found on PATH. */
  path: Set<string>;
  ephemeralPorts: [number, number];
  cli: string;
}

export interface FakeHostOptions {
  /** The host's net.ipv4.ip_forward (default '0', as on a fresh machine). */
  ipForward?: '0' | '1';
  /** The host's uplink: eth0 10.0.2.15/24 via 10.0.2.2 unless given; null for none. */
  uplink?: { name: string; address: string; prefixLen: number; gateway: string } | null;
}

type Fault = { match: (step: Step, index: number) => boolean; errno: number };
type UndoFault = { match: (step: Step) => boolean; errno: number };

/** A stable inode per namespace key (FNV-1a), so identities compare as the kernel's do. */
function fakeInode(key: string): number {
  let h = 0x811c9dc5;
  for (const ch of key) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

export class FakeHost implements Host, StepRunner {
  readonly net = new NetworkModel();
  readonly nft = new NftModel();
  readonly xt = new XtablesModel();
  readonly procs = new ProcessModel();
  readonly mounts = new MountModel();
  readonly facts: FakeFacts = {
    nftUsable: true,
    nftBackend: 'libnftables',
    iptables: false,
    forwardDrops: false,
    ebtables: 'missing',
    path: new Set(['ip', 'nsenter', 'unshare', 'nft']),
    ephemeralPorts: [32768, 60999],
    cli: '/opt/nsnet/bin/nsnet',
  };
  /** `apply KIND` / `undo KIND`, in order, as the RecordingRunner logs them. */
  readonly log: string[] = [];
  /** Daemons started with spawnDaemon (their processes are in `procs`, kind 'daemon'). */
  readonly daemons: Array<{ pid: number; script: string; args: string[]; logPath: string }> = [];
  closed = false;
  releases = 0;
  private applies = 0;
  private readonly faults: Fault[] = [];
  private readonly undoFaults: UndoFault[] = [];
  private crash: { index: number; atCrash: (() => void) | undefined } | undefined;
  private launchCrash: { atCrash: (() => void) | undefined } | undefined;
  private down = false;
  private readonly locks = new Map<string, symbol>();

  constructor(opts: FakeHostOptions = {}) {
    this.net.setUp(undefined, 'lo', true);
    this.net.setSysctl('net.ipv4.ip_forward', opts.ipForward ?? '0');
    const uplink = opts.uplink === undefined ? { name: 'eth0', address: '10.0.2.15', prefixLen: 24, gateway: '10.0.2.2' } : opts.uplink;
    if (uplink !== null) {
      this.net.addDevice(uplink.name, { mac: '52:54:00:12:34:56' });
      this.net.addAddr(undefined, uplink.name, uplink.address, uplink.prefixLen);
      this.net.addRoute(undefined, { gateway: uplink.gateway, dev: uplink.name });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // fault injection

  /** Applies so far, failed ones included; apply number i (from 0) is the i-th call. */
  get applyCount(): number {
    return this.applies;
  }

  /**
   * Apply number `index` throws a KernelError (errno ENOBUFS unless given) before changing
   * anything. Numbers count from the fake's creation: after setting up with steps, fail the
   * i-th step of what follows with `failAt(host.applyCount + i)`.
   */
  failAt(index: number, errno = ENOBUFS): void {
    this.failWhen((_, i) => i === index, errno);
  }

  /** Every apply for which `match` holds throws a KernelError before changing anything. */
  failWhen(match: (step: Step, index: number) => boolean, errno = ENOBUFS): void {
    this.faults.push({ match, errno });
  }

  /** Every undo for which `match` holds throws a KernelError (to see undo failures reported). */
  failUndoWhen(match: (step: Step) => boolean, errno = ENOBUFS): void {
    this.undoFaults.push({ match, errno });
  }

  /**
   * Apply number `index` takes effect, then the process "dies" there, as NSNET_FAULT=N:kill
   * makes it die after fault point N: `atCrash` runs (copy the store there: that is what the
   * next process finds), the host's locks are released (flock locks die with their holder),
   * and that apply, every later apply or undo and every process control call throws
   * SimulatedCrash — so the operation's own failure path changes nothing on this machine —
   * until `revive()` (a new process, for recovery).
   */
  crashAfter(index: number, atCrash?: () => void): void {
    this.crash = { index, atCrash };
  }

  /**
   * The next launch (detached or foreground) starts its process, then the nsnet process "dies"
   * there, as NSNET_FAULT=N:kill at the fault point after a container's start: the process runs,
   * its PID is not recorded yet. Then as crashAfter.
   */
  crashAtNextLaunch(atCrash?: () => void): void {
    this.launchCrash = { atCrash };
  }

  get crashed(): boolean {
    return this.down;
  }

  revive(): void {
    this.down = false;
    this.crash = undefined;
    this.launchCrash = undefined;
  }

  clearFaults(): void {
    this.faults.length = 0;
    this.undoFaults.length = 0;
    this.crash = undefined;
    this.launchCrash = undefined;
  }

  /** The process dies here: what the next one finds is copied in `atCrash`; the locks die with it. */
  private die(atCrash: (() => void) | undefined, message: string): never {
    atCrash?.();
    this.down = true;
    this.locks.clear();
    throw new SimulatedCrash(message);
  }

  private crashIfAskedAtLaunch(): void {
    const asked = this.launchCrash;
    if (asked === undefined) return;
    this.launchCrash = undefined;
    this.die(asked.atCrash, 'simulated crash after a launch');
  }

  // ---------------------------------------------------------------------------------------------
  // StepRunner

  apply(step: Step): void {
    this.checkAlive(step.kind);
    const index = this.applies++;
    const fault = this.faults.find((f) => f.match(step, index));
    if (fault !== undefined) throw kernelError(`injected failure at apply #${index} (${step.kind})`, fault.errno, renderStep(step));
    applyStep(this, step);
    this.log.push(`apply ${step.kind}`);
    if (index === this.crash?.index) this.die(this.crash.atCrash, `simulated crash after apply #${index} (${step.kind})`);
  }

  undo(step: Step): void {
    this.checkAlive(step.kind);
    const fault = this.undoFaults.find((f) => f.match(step));
    if (fault !== undefined) throw kernelError(`injected failure at undo of ${step.kind}`, fault.errno, renderStep(step));
    undoStep(this, step);
    this.log.push(`undo ${step.kind}`);
  }

  /** For the step kinds: whether the tool behind them is there (a missing one fails like the real run). */
  toolUsable(tool: 'nft' | 'iptables' | 'ip6tables' | 'ebtables'): boolean {
    if (tool === 'nft') return this.facts.nftUsable;
    // Debian's iptables package brings ip6tables with it.
    return tool === 'ebtables' ? this.facts.ebtables === 'ok' : this.facts.iptables;
  }

  releaseNamespaces(): void {
    this.releases++;
  }

  close(): void {
    this.closed = true;
  }

  // ---------------------------------------------------------------------------------------------
  // Host: network facts

  link = (name: string, ns?: string) => {
    const l = this.net.link(ns, name);
    return l === undefined ? undefined : this.net.linkInfo(ns, l);
  };
  links = (ns?: string) => this.net.links(ns);
  addresses = (ns?: string, family?: 4 | 6) => this.net.addresses(ns, family);
  routes = (ns?: string, family?: 4 | 6) => this.net.routes(ns, family);
  netnsExists = (ns: string) => this.net.has(ns);
  isMountedNetns = (name: string) => this.net.has(name) && this.net.ns(name).mounted;
  /**
   * Paths that lead to a namespace besides its key and /run/netns/KEY, as /proc/PID/ns/net does on
   * the real machine: the plugin's own (the host's) out of the box; a test adds a process's.
   */
  readonly netnsAliases = new Map<string, string>([['/proc/self/ns/net', HOST], ['/proc/thread-self/ns/net', HOST]]);
  netnsIdentity = (ns?: string) => {
    const named = ns?.startsWith(`${NETNS_RUN_DIR}/`) === true ? ns.slice(NETNS_RUN_DIR.length + 1) : undefined;
    const key = ns === undefined ? HOST : (this.netnsAliases.get(ns) ?? (this.net.has(ns) ? ns : named));
    if (key === undefined || !this.net.has(key)) return undefined;
    // A leftover file under /run/netns is a plain file on tmpfs: another device than nsfs.
    return { dev: this.net.ns(key).mounted ? 4 : 23, ino: fakeInode(key) };
  };
  sysctl = (key: string, ns?: string) => this.net.sysctl(key, ns);
  mountsUnder = (dir: string) => this.mounts.mountsUnder(dir);
  impairment = (dev: string, ns?: string) => {
    const l = this.net.link(ns, dev);
    return l === undefined ? undefined : { kinds: qdiscParts(l.netem ?? {}).map((p) => p.kind), netem: l.netem ?? {} };
  };

  // ---------------------------------------------------------------------------------------------
  // Host: processes and sockets

  startTime = (pid: number) => this.procs.startTime(pid);
  isAlive = (pid: number, startTime: string) => this.procs.isAlive(pid, startTime);
  livenessSnapshot = <T>(fn: () => T): T => fn();
  listeners = () => this.procs.listeners();
  socketHolder = (inode: number) => this.procs.socketHolder(inode);
  ephemeralPortRange = (): [number, number] => [...this.facts.ephemeralPorts];

  launchDetached = async (spec: LaunchSpec, logPath: string): Promise<Started | Finished> => {
    this.checkAlive('launch');
    const launched = this.procs.launch(spec, 'container', this.canEnter(spec.netns), logPath);
    this.crashIfAskedAtLaunch();
    return launched;
  };

  launchForeground = async (spec: LaunchSpec): Promise<{ started: Started | undefined; exit: Promise<number> }> => {
    this.checkAlive('launch');
    const r = this.procs.launch(spec, 'foreground', this.canEnter(spec.netns));
    this.crashIfAskedAtLaunch();
    if ('exitCode' in r) return { started: undefined, exit: Promise.resolve(r.exitCode) };
    return { started: r, exit: this.procs.exited(r.pid) };
  };

  /** --network host enters nothing: the host's namespace is always there. */
  private canEnter(ns: string | undefined): boolean {
    return ns === undefined || this.net.has(ns);
  }

  execInContainer = async (pid: number, argv: readonly string[]): Promise<number> => {
    this.checkAlive('exec');
    return this.procs.exec(pid, argv);
  };

  stopProcess = (pid: number, startTime: string, graceMs: number) => {
    this.checkAlive('stop a process');
    return this.procs.stop(pid, startTime, graceMs);
  };

  sendSignal = (pid: number, startTime: string, signal: NodeJS.Signals) => {
    this.checkAlive('send a signal');
    this.procs.sendSignal(pid, startTime, signal);
  };

  killNetnsProcesses = (ns: string) => {
    this.checkAlive('kill a namespace\'s processes');
    return this.procs.killNetns(ns);
  };

  spawnDaemon = (script: string, args: readonly string[], logPath: string): number => {
    this.checkAlive('spawn a daemon');
    const p = this.procs.start({ kind: 'daemon', argv: ['node', script, ...args], logPath });
    this.daemons.push({ pid: p.pid, script, args: [...args], logPath });
    return p.pid;
  };

  nsnetCli = () => this.facts.cli;
  sleep = (_ms: number) => {};

  /** A test's way to end a process (the command finished, or crashed): its waiters see `code`. */
  exitProcess(pid: number, code: number): void {
    this.procs.exit(pid, code);
  }

  // ---------------------------------------------------------------------------------------------
  // Host: firewall facts

  nftUsable = () => this.facts.nftUsable;
  nftBackend = () => this.facts.nftBackend;
  nftTable = (family: string, name: string) => this.nft.list(family, name);
  nftOutput = (args: string[]) => this.nft.output(args);
  iptablesAvailable = () => this.facts.iptables;
  iptablesChainExists = (table: string, chain: string, family: 4 | 6 = 4): boolean => {
    if (!this.facts.iptables) return false;
    try {
      return this.xt.chainExists(family === 6 ? 'ip6tables' : 'iptables', table, chain);
    } catch {
      return false; // no such table: `iptables -t TABLE -S CHAIN` fails too
    }
  };
  iptablesForwardDrops = (family: 4 | 6 = 4) => this.facts.iptables && (family === 6 ? this.facts.forwardDrops6 === true : this.facts.forwardDrops);
  ebtablesSupport = () => this.facts.ebtables;
  onPath = (cmd: string) => this.facts.path.has(cmd);

  /** nft scripts run on a fresh, empty model, listed like `nftTable` lists the live one. */
  renderNftTables(scripts: readonly string[], tables: ReadonlyArray<{ family: string; name: string }>): string {
    const scratch = new NftModel();
    for (const s of scripts) scratch.run(s);
    return tables
      .map((t) => scratch.list(t.family, t.name)?.trim() ?? '')
      .filter((t) => t !== '')
      .join('\n');
  }

  // ---------------------------------------------------------------------------------------------
  // Host: the lock

  /**
   * Like flock: a second acquire of a held path fails, in this process too. The real lock waits
   * by sleeping, which blocks the only thread that could release it, so failing at once (after
   * the wait notice, for a wait of a second or more) is what it would do.
   */
  acquire = (path: string, opts: { timeoutMs: number; onWait?: () => void }): HostLock => {
    this.checkAlive('acquire the lock');
    if (this.locks.has(path)) {
      if (opts.timeoutMs >= 1000) opts.onWait?.();
      throw new NsnetError('LOCK_TIMEOUT', `another nsnet command holds the lock ${path} (waited ${opts.timeoutMs} ms)`, {
        hint: `wait for it to finish; \`fuser -v ${path}\` shows who holds it`,
      });
    }
    // The lock dies with its holder (a crash clears them all): a release after that is a no-op.
    const token = Symbol(path);
    this.locks.set(path, token);
    return {
      release: () => {
        if (this.locks.get(path) === token) this.locks.delete(path);
      },
    };
  };

  lockHeld(path: string): boolean {
    return this.locks.has(path);
  }

  // ---------------------------------------------------------------------------------------------
  // the whole machine

  /** Deterministic and JSON-able: compare two with deepEqual. */
  snapshot(): FakeSnapshot {
    return { network: this.net.snapshot(), nft: this.nft.snapshot(), xtables: this.xt.snapshot(), processes: this.procs.snapshot(), mounts: this.mounts.snapshot() };
  }

  /** An independent copy of the machine (state and facts; not fault settings, logs or waiters). */
  clone(): FakeHost {
    const copy = new FakeHost({ uplink: null });
    copy.net.state = structuredClone(this.net.state);
    copy.nft.state = structuredClone(this.nft.state);
    copy.xt.state = structuredClone(this.xt.state);
    copy.procs.state = structuredClone(this.procs.state);
    copy.mounts.state = structuredClone(this.mounts.state);
    Object.assign(copy.facts, { ...this.facts, path: new Set(this.facts.path), ephemeralPorts: [...this.facts.ephemeralPorts] });
    return copy;
  }

  private checkAlive(what: string): void {
    if (this.down) throw new SimulatedCrash(`the process crashed earlier: ${what} not run`);
  }
}

export interface FakeSnapshot {
  network: Record<string, unknown>;
  nft: Record<string, string>;
  xtables: Record<string, Record<string, string[]>>;
  processes: string[];
  /** Mount points under which a container's root is, with what is mounted there. */
  mounts: string[];
}
