/**
 * Integration-test sandbox: a throwaway "host" network namespace in which nsnet runs, with a veth
 * uplink to a "world" namespace that plays the internet. Only documentation addresses are used:
 *
 *   host  uplink 198.51.100.2/24 and 2001:db8:ffff::2/64, default routes via the world's
 *   world uplink 198.51.100.1/24 and 2001:db8:ffff::1/64, lo 203.0.113.8/32 and 2001:db8:8::8/128
 *         (the stand-in "internet addresses")
 *
 * The world has no route back to any container subnet, so a container can only be answered from
 * the world when nsnet masquerades its traffic behind the host's uplink address.
 *
 * Nothing here touches the machine's own network namespace: namespaces are created with
 * `ip netns add` (which only adds a bind mount under /run/netns) and every link, address and route
 * is made inside them. nsnet itself runs as `nsenter --net=/run/netns/HOST bin/nsnet --root ROOT`.
 * destroy() removes everything the sandbox (and nsnet inside it) made, even after failures, and
 * kills only processes whose network namespace is one of the sandbox's own, by PID.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onPath } from '../../src/kernel/which.js';

/** The checkout: dist/test/helpers/sandbox.js → three levels up (test/helpers/sandbox.ts → two). */
function findRepo(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'tsconfig.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the nsnet checkout above ' + fileURLToPath(import.meta.url));
}

export const REPO = findRepo();
export const NSNET_BIN = path.join(REPO, 'bin', 'nsnet');
export const NETNS_DIR = '/run/netns';
const ETC_NETNS_DIR = '/etc/netns';

/** Names under /etc/netns whose resolv.conf nsnet wrote for the state root `root`. */
function etcNetnsOf(root: string): string[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(ETC_NETNS_DIR);
  } catch {
    return [];
  }
  return names.filter((name) => {
    try {
      return (fs.readFileSync(path.join(ETC_NETNS_DIR, name, 'resolv.conf'), 'utf8').split('\n')[0] ?? '').includes(`(state ${root})`);
    } catch {
      return false;
    }
  });
}
export const STATE_DIR_PREFIX = 'nsnet-test-';
/** One small JSON file per live sandbox in os.tmpdir(): which test process owns which names. */
export const REGISTRY_PREFIX = 'nsnet-sandbox-';
/** Every namespace the suite creates starts with this (the residue test looks for it). */
export const NS_PREFIX = 'nst';

export const HOST_UPLINK_IP = '198.51.100.2';
export const WORLD_UPLINK_IP = '198.51.100.1';
export const WORLD_IP = '203.0.113.8';
export const UPLINK_PREFIX_LEN = 24;
/** The IPv6 uplink (2001:db8::/32 is documentation space): host ::2, world ::1, and the world's "internet" address. */
export const HOST_UPLINK_IP6 = '2001:db8:ffff::2';
export const WORLD_UPLINK_IP6 = '2001:db8:ffff::1';
export const WORLD_IP6 = '2001:db8:8::8';
export const UPLINK_IF = 'uplink';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The command line, for assertion messages. */
  cmd: string;
  /** Set when the process exited but something it left behind kept stdout/stderr open. */
  stdioHeldOpen?: boolean;
  timedOut?: boolean;
}

export interface RunOptions {
  /** Milliseconds before the command is killed (SIGKILL). Default 30 s. */
  timeoutMs?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
}

export interface DestroyReport {
  reset: RunResult | undefined;
  killed: number[];
  problems: string[];
}

export interface Sandbox {
  /** Short per-sandbox random part, e.g. "a1b2". */
  id: string;
  hostNs: string;
  worldNs: string;
  /** Prefix for every container/network/bridge name a test makes in this sandbox, e.g. "nsta1b2a". */
  prefix: string;
  /** Fresh NSNET state directory. */
  root: string;
  nsnet(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  nsnetSync(args: readonly string[], opts?: RunOptions): RunResult;
  /** The argv that runs nsnet in the sandbox (for tests that manage the process themselves). */
  nsnetArgv(args: readonly string[]): string[];
  /** Run argv inside the sandbox's host / world network namespace (nsenter --net). */
  inHost(argv: readonly string[], opts?: RunOptions): RunResult;
  inWorld(argv: readonly string[], opts?: RunOptions): RunResult;
  inHostAsync(argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
  inWorldAsync(argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Start a long-running process in the world namespace; destroy() kills it if still alive. */
  spawnInWorld(argv: readonly string[]): ChildProcess;
  /** The same in the sandbox's host namespace. */
  spawnInHost(argv: readonly string[]): ChildProcess;
  /** Network-namespace inode of /run/netns/NAME if it is a live (mounted) namespace. */
  netnsInode(name: string): number | undefined;
  destroy(): Promise<DestroyReport>;
}

// ---------------------------------------------------------------------------------------------
// Process running

const quote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
export const cmdline = (argv: readonly string[]): string => argv.map(quote).join(' ');

export function runSync(argv: readonly string[], opts: RunOptions = {}): RunResult {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('runSync: empty argv');
  const r = spawnSync(file, args, {
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 30_000,
    killSignal: 'SIGKILL',
    input: opts.input,
    env: opts.env ?? process.env,
    maxBuffer: 64 * 1024 * 1024,
  });
  const res: RunResult = {
    code: r.status,
    signal: r.signal,
    stdout: r.stdout ?? '',
    stderr: (r.stderr ?? '') + (r.error ? `\n[spawn error: ${r.error.message}]` : ''),
    cmd: cmdline(argv),
  };
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') res.timedOut = true;
  return res;
}

/**
 * Run argv without a shell. Resolves when the process has exited and its stdio closed; if the
 * process exits but a child it left behind keeps the pipes open, resolves 2 s later anyway with
 * stdioHeldOpen set (a detached container must not hold the caller's stdio).
 */
export function runAsync(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('runAsync: empty argv'));
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let done = false;
    let timedOut = false;
    let graceTimer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    const finish = (held: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (graceTimer) clearTimeout(graceTimer);
      if (held) {
        child.stdout.destroy();
        child.stderr.destroy();
      }
      const res: RunResult = {
        code: exit?.code ?? null,
        signal: exit?.signal ?? null,
        stdout,
        stderr,
        cmd: cmdline(argv),
      };
      if (held) res.stdioHeldOpen = true;
      if (timedOut) res.timedOut = true;
      resolve(res);
    };
    child.on('error', (err) => {
      stderr += `\n[spawn error: ${err.message}]`;
      exit = { code: null, signal: null };
      finish(false);
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      graceTimer = setTimeout(() => finish(true), 2000);
    });
    child.on('close', (code, signal) => {
      exit ??= { code, signal };
      finish(false);
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** One-line description of a result, for assertion messages. */
export function describeResult(r: RunResult): string {
  return (
    `$ ${r.cmd}\n→ exit ${r.code}${r.signal ? ` (signal ${r.signal})` : ''}${r.timedOut ? ' TIMED OUT' : ''}` +
    `${r.stdioHeldOpen ? ' (stdio held open after exit)' : ''}\n` +
    `stdout: ${r.stdout.trimEnd() || '(empty)'}\nstderr: ${r.stderr.trimEnd() || '(empty)'}`
  );
}

// ---------------------------------------------------------------------------------------------
// Namespace / process inspection (read-only, machine-wide)

/** Decode mountinfo's octal escapes (\040 for space etc.). */
const unescapeMount = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Mount points listed in our mount namespace's /proc/self/mountinfo. */
export function mountPoints(): string[] {
  const text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4];
    if (mp !== undefined) out.push(unescapeMount(mp));
  }
  return out;
}

export function netnsEntries(prefix = ''): string[] {
  try {
    return fs.readdirSync(NETNS_DIR).filter((n) => n.startsWith(prefix)).sort();
  } catch {
    return [];
  }
}

/** Inode of the network namespace mounted at /run/netns/NAME, undefined if it is not a live mount. */
export function netnsInode(name: string): number | undefined {
  const p = path.join(NETNS_DIR, name);
  if (!mountPoints().includes(p)) return undefined;
  try {
    return fs.statSync(p).ino;
  } catch {
    return undefined;
  }
}

/** Inode of a process's network namespace, undefined if the process is gone or unreadable. */
export function pidNetnsInode(pid: number): number | undefined {
  try {
    const link = fs.readlinkSync(`/proc/${pid}/ns/net`);
    const m = /^net:\[(\d+)\]$/.exec(link);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function allPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** PIDs whose network namespace is one of these inodes (never our own process). */
export function pidsInNetns(inodes: ReadonlySet<number>): number[] {
  if (inodes.size === 0) return [];
  const out: number[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    const ino = pidNetnsInode(pid);
    if (ino !== undefined && inodes.has(ino)) out.push(pid);
  }
  return out;
}

/** /proc/PID/stat fields after the command name: [state, ppid, ..., starttime at index 19]. */
function statFields(pid: number): string[] | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Start time of a process (field 22 of /proc/PID/stat), to recognise a reused PID. */
export function pidStartTime(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

export function pidState(pid: number): string | undefined {
  return statFields(pid)?.[0];
}

export function pidParent(pid: number): number | undefined {
  const f = statFields(pid)?.[1];
  return f === undefined ? undefined : Number(f);
}

export function pidCmdline(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/** PIDs whose command line mentions needle (e.g. a test state dir). */
export function pidsWithCmdline(needle: string): number[] {
  const out: number[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    const c = pidCmdline(pid);
    if (c !== undefined && c.includes(needle)) out.push(pid);
  }
  return out;
}

export function pidAlive(pid: number): boolean {
  try {
    fs.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** The machine's own net.ipv4.ip_forward (this test process runs in the machine's namespace). */
export function readMachineForward(): string {
  try {
    return fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  } catch {
    return '?';
  }
}

// ---------------------------------------------------------------------------------------------
// What the suite needs (see requirements.ts: how a suite declares it, and what happens without it)

/** Why sandboxed integration tests cannot run here, or undefined when they can (needs.integration). */
export function integrationSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'integration tests need Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'integration tests need root';
  const missing = ['ip', 'nft', 'ping', 'nsenter', 'unshare'].filter((c) => !onPath(c));
  if (missing.length > 0) return `integration tests need ${missing.join(', ')} (not found in PATH)`;
  if (!fs.existsSync(NSNET_BIN)) return `${NSNET_BIN} does not exist (build the CLI first)`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Registry of live sandboxes (so a residue check can tell a concurrent run from a leak)

export interface RegistryEntry {
  pid: number;
  start: string;
  nsPrefix: string;
  root: string;
}

/** The test process that registered a sandbox still runs (same pid and start time: not a reused pid). */
export function ownerIsLive(e: Pick<RegistryEntry, 'pid' | 'start'>): boolean {
  return pidStartTime(e.pid) === e.start;
}

/** Sandboxes whose owning test process is still running (another test run, concurrently). */
export function liveSandboxesOfOtherProcesses(): RegistryEntry[] {
  const out: RegistryEntry[] = [];
  let files: string[] = [];
  try {
    files = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(REGISTRY_PREFIX) && f.endsWith('.json'));
  } catch {
    return out;
  }
  for (const f of files) {
    try {
      const e = JSON.parse(fs.readFileSync(path.join(os.tmpdir(), f), 'utf8')) as RegistryEntry;
      if (e.pid !== process.pid && ownerIsLive(e)) out.push(e);
    } catch {
      /* unreadable: not live */
    }
  }
  return out;
}

/**
 * Clean up after test processes that died without cleaning up (killed, crashed, interrupted CI):
 * their registry entry names the namespaces and state directory they owned. Processes are found
 * through namespaces that are still mounted, so their inodes cannot have been reused.
 */
export function sweepAbandonedSandboxes(): string[] {
  const swept: string[] = [];
  let files: string[] = [];
  try {
    files = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(REGISTRY_PREFIX) && f.endsWith('.json'));
  } catch {
    return swept;
  }
  for (const f of files) {
    const file = path.join(os.tmpdir(), f);
    let e: RegistryEntry;
    try {
      e = JSON.parse(fs.readFileSync(file, 'utf8')) as RegistryEntry;
    } catch {
      continue;
    }
    if (ownerIsLive(e)) continue;
    const names = netnsEntries(e.nsPrefix).filter((n) => mountPoints().includes(path.join(NETNS_DIR, n)));
    const inodes = new Set(names.map((n) => netnsInode(n)).filter((i): i is number => i !== undefined));
    for (const pid of pidsInNetns(inodes)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const n of netnsEntries(e.nsPrefix)) runSync(['ip', 'netns', 'del', n]);
    fs.rmSync(e.root, { recursive: true, force: true });
    fs.rmSync(file, { force: true });
    swept.push(e.nsPrefix);
  }
  return swept;
}

// ---------------------------------------------------------------------------------------------
// The sandbox

const live = new Set<SandboxImpl>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  // Last resort when a test file is interrupted: synchronous, best-effort cleanup.
  process.on('exit', () => {
    for (const sb of live) sb.destroyBestEffortSync();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const sb of live) sb.destroyBestEffortSync();
      live.clear();
      process.exit(130);
    });
  }
}

function must(r: RunResult, what: string): void {
  if (r.code !== 0) throw new Error(`sandbox setup: ${what} failed\n${describeResult(r)}`);
}

class SandboxImpl implements Sandbox {
  readonly id: string;
  readonly hostNs: string;
  readonly worldNs: string;
  readonly prefix: string;
  readonly root: string;
  /** Every namespace name this sandbox may own starts with this. */
  readonly nsPrefix: string;
  private readonly spawned: ChildProcess[] = [];
  /**
   * Processes seen inside our (then mounted) namespaces: pid → start time. Namespace inode numbers
   * are reused once a namespace is freed, so an inode alone never identifies "ours" after the fact
   * (a stale inode could match another run's live namespace); a pid with the same start time can.
   */
  private readonly seenProcs = new Map<number, string>();
  private destroyed = false;
  /** The machine's own net.ipv4.ip_forward when the sandbox was made (read only). */
  private readonly machineForward = readMachineForward();

  constructor(tag: string) {
    if (!/^[a-z][a-z0-9]{0,3}$/.test(tag)) throw new Error(`sandbox tag must be 1-4 of [a-z0-9], starting with a letter: ${tag}`);
    let id: string;
    do id = randomBytes(2).toString('hex');
    while (netnsEntries(`${NS_PREFIX}${id}`).length > 0);
    this.id = id;
    this.nsPrefix = `${NS_PREFIX}${id}`;
    this.hostNs = `${this.nsPrefix}-h`;
    this.worldNs = `${this.nsPrefix}-w`;
    this.prefix = `${this.nsPrefix}${tag}`;
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), STATE_DIR_PREFIX));
    this.registryFile = path.join(os.tmpdir(), `${REGISTRY_PREFIX}${id}.json`);
    const entry: RegistryEntry = {
      pid: process.pid,
      start: pidStartTime(process.pid) ?? '',
      nsPrefix: this.nsPrefix,
      root: this.root,
    };
    fs.writeFileSync(this.registryFile, JSON.stringify(entry) + '\n');
  }

  readonly registryFile: string;

  nsnetArgv(args: readonly string[]): string[] {
    return ['nsenter', `--net=${NETNS_DIR}/${this.hostNs}`, NSNET_BIN, '--root', this.root, ...args];
  }

  async nsnet(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const r = await runAsync(this.nsnetArgv(args), opts);
    this.noteNamespaces();
    return r;
  }

  nsnetSync(args: readonly string[], opts: RunOptions = {}): RunResult {
    const r = runSync(this.nsnetArgv(args), opts);
    this.noteNamespaces();
    return r;
  }

  inHost(argv: readonly string[], opts?: RunOptions): RunResult {
    return runSync(['nsenter', `--net=${NETNS_DIR}/${this.hostNs}`, ...argv], opts);
  }

  inWorld(argv: readonly string[], opts?: RunOptions): RunResult {
    return runSync(['nsenter', `--net=${NETNS_DIR}/${this.worldNs}`, ...argv], opts);
  }

  inHostAsync(argv: readonly string[], opts?: RunOptions): Promise<RunResult> {
    return runAsync(['nsenter', `--net=${NETNS_DIR}/${this.hostNs}`, ...argv], opts);
  }

  inWorldAsync(argv: readonly string[], opts?: RunOptions): Promise<RunResult> {
    return runAsync(['nsenter', `--net=${NETNS_DIR}/${this.worldNs}`, ...argv], opts);
  }

  spawnInWorld(argv: readonly string[]): ChildProcess {
    return this.spawnIn(this.worldNs, argv);
  }

  spawnInHost(argv: readonly string[]): ChildProcess {
    return this.spawnIn(this.hostNs, argv);
  }

  private spawnIn(ns: string, argv: readonly string[]): ChildProcess {
    const child = spawn('nsenter', [`--net=${NETNS_DIR}/${ns}`, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.on('error', () => {});
    this.spawned.push(child);
    return child;
  }

  netnsInode(name: string): number | undefined {
    return netnsInode(name);
  }

  /** Inodes of the namespaces mounted under our names right now (live, so not reusable). */
  liveInodes(): Set<number> {
    const out = new Set<number>();
    for (const name of netnsEntries(this.nsPrefix)) {
      const ino = netnsInode(name);
      if (ino !== undefined) out.add(ino);
    }
    return out;
  }

  /** Remember the processes in our namespaces, to find them even after nsnet unmounts one. */
  noteNamespaces(): void {
    for (const pid of pidsInNetns(this.liveInodes())) {
      const st = pidStartTime(pid);
      if (st !== undefined) this.seenProcs.set(pid, st);
    }
  }

  /** Our processes: in a live namespace of ours, seen there before (same start time), or their descendants. */
  ownProcesses(): number[] {
    const own = new Set<number>(pidsInNetns(this.liveInodes()));
    for (const [pid, st] of this.seenProcs) if (pidStartTime(pid) === st) own.add(pid);
    // Descendants (a container's init may have forked after we last looked).
    let grew = own.size > 0;
    while (grew) {
      grew = false;
      for (const pid of allPids()) {
        if (own.has(pid)) continue;
        const pp = pidParent(pid);
        if (pp !== undefined && own.has(pp)) {
          own.add(pid);
          grew = true;
        }
      }
    }
    own.delete(process.pid);
    // Zombies are already dead (SIGKILL cannot do more; their parent, or init, reaps them).
    return [...own].filter((pid) => pidState(pid) !== 'Z' && pidState(pid) !== undefined);
  }

  setup(): void {
    hookExit();
    live.add(this);
    const ipIn = (ns: string, ...args: string[]): RunResult => runSync(['ip', '-n', ns, ...args]);
    must(runSync(['ip', 'netns', 'add', this.hostNs]), `ip netns add ${this.hostNs}`);
    must(runSync(['ip', 'netns', 'add', this.worldNs]), `ip netns add ${this.worldNs}`);
    this.noteNamespaces();
    // The veth pair is created inside the host namespace, its peer directly in the world: it never
    // exists in the machine's own namespace, not even for a moment.
    must(
      ipIn(this.hostNs, 'link', 'add', UPLINK_IF, 'type', 'veth', 'peer', 'name', UPLINK_IF, 'netns', this.worldNs),
      'create uplink veth pair',
    );
    for (const ns of [this.hostNs, this.worldNs]) {
      must(ipIn(ns, 'link', 'set', 'lo', 'up'), `${ns}: lo up`);
      must(ipIn(ns, 'link', 'set', UPLINK_IF, 'up'), `${ns}: uplink up`);
    }
    must(ipIn(this.hostNs, 'addr', 'add', `${HOST_UPLINK_IP}/${UPLINK_PREFIX_LEN}`, 'dev', UPLINK_IF), 'host uplink address');
    must(ipIn(this.hostNs, 'route', 'add', 'default', 'via', WORLD_UPLINK_IP, 'dev', UPLINK_IF), 'host default route');
    must(ipIn(this.worldNs, 'addr', 'add', `${WORLD_UPLINK_IP}/${UPLINK_PREFIX_LEN}`, 'dev', UPLINK_IF), 'world uplink address');
    must(ipIn(this.worldNs, 'addr', 'add', `${WORLD_IP}/32`, 'dev', 'lo'), 'world internet address');
    // IPv6 the same way, nodad so the addresses work at once.
    must(ipIn(this.hostNs, '-6', 'addr', 'add', `${HOST_UPLINK_IP6}/64`, 'dev', UPLINK_IF, 'nodad'), 'host uplink IPv6 address');
    must(ipIn(this.hostNs, '-6', 'route', 'add', 'default', 'via', WORLD_UPLINK_IP6, 'dev', UPLINK_IF), 'host IPv6 default route');
    must(ipIn(this.worldNs, '-6', 'addr', 'add', `${WORLD_UPLINK_IP6}/64`, 'dev', UPLINK_IF, 'nodad'), 'world uplink IPv6 address');
    must(ipIn(this.worldNs, '-6', 'addr', 'add', `${WORLD_IP6}/128`, 'dev', 'lo'), 'world IPv6 internet address');
    // The world gets no route to any container subnet: replies only get back through masquerade.
    must(this.inHost(['ping', '-c', '1', '-W', '2', WORLD_UPLINK_IP]), 'sanity: host pings world');
  }

  async destroy(): Promise<DestroyReport> {
    const report: DestroyReport = { reset: undefined, killed: [], problems: [] };
    if (this.destroyed) return report;
    this.destroyed = true;
    this.noteNamespaces();
    if (fs.existsSync(NSNET_BIN) && fs.existsSync(path.join(NETNS_DIR, this.hostNs))) {
      report.reset = await runAsync(this.nsnetArgv(['system', 'reset', '--force']), { timeoutMs: 60_000 });
      if (report.reset.code !== 0) report.problems.push(`nsnet system reset --force failed:\n${describeResult(report.reset)}`);
    }
    this.sweep(report);
    live.delete(this);
    const forward = readMachineForward();
    if (forward !== this.machineForward) {
      report.problems.push(`the machine's net.ipv4.ip_forward changed from ${this.machineForward} to ${forward} during the test`);
    }
    return report;
  }

  /** Everything after `system reset`: processes, namespaces, state dir. Synchronous. */
  private sweep(report: DestroyReport): void {
    for (const child of this.spawned) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
          report.killed.push(child.pid);
        } catch {
          /* already gone */
        }
      }
    }
    this.noteNamespaces();
    // Kill what still lives in our namespaces (a loop: unshare --fork parents may respawn nothing,
    // but a dying parent can leave children for a moment).
    for (let round = 0; round < 5; round++) {
      const pids = this.ownProcesses();
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
          report.killed.push(pid);
        } catch {
          /* gone */
        }
      }
      spawnSync('sleep', ['0.1']);
    }
    const left = this.ownProcesses();
    if (left.length > 0) report.problems.push(`processes still in sandbox namespaces: ${left.join(', ')}`);
    // Container namespaces first, then world, then host.
    const names = netnsEntries(this.nsPrefix).filter((n) => n !== this.hostNs && n !== this.worldNs);
    for (const name of [...names, this.worldNs, this.hostNs]) {
      const p = path.join(NETNS_DIR, name);
      if (!fs.existsSync(p) && !mountPoints().includes(p)) continue;
      const r = runSync(['ip', 'netns', 'del', name]);
      if (r.code !== 0) {
        // A plain leftover file (not a mount) is just removed.
        if (!mountPoints().includes(p)) {
          try {
            fs.rmSync(p, { force: true });
          } catch (err) {
            report.problems.push(`rm ${p}: ${(err as Error).message}`);
          }
        } else {
          report.problems.push(`ip netns del ${name} failed:\n${describeResult(r)}`);
        }
      }
    }
    // /etc/netns/NAME files nsnet wrote for this sandbox's state: reset removes them; when it could
    // not run (a broken build, a killed test) they would outlive the sandbox.
    for (const name of etcNetnsOf(this.root)) {
      fs.rmSync(path.join(ETC_NETNS_DIR, name), { recursive: true, force: true });
      if (report.reset?.code === 0) report.problems.push(`/etc/netns/${name} was left after system reset`);
    }
    // A container's root from an image (an overlay and the files bind-mounted into it): reset
    // detaches them; removing the state directory through a mount would delete what is mounted.
    for (const m of mountPoints().filter((p) => p.startsWith(this.root + path.sep)).sort((x, y) => y.length - x.length)) {
      const r = runSync(['umount', '--lazy', m]);
      if (report.reset?.code === 0) report.problems.push(`mount ${m} was left after system reset`);
      if (r.code !== 0 && mountPoints().includes(m)) report.problems.push(`umount --lazy ${m} failed:\n${describeResult(r)}`);
    }
    for (const p of [this.root, this.registryFile]) {
      try {
        fs.rmSync(p, { recursive: true, force: true });
      } catch (err) {
        report.problems.push(`rm -rf ${p}: ${(err as Error).message}`);
      }
    }
  }

  destroyBestEffortSync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      if (fs.existsSync(NSNET_BIN)) runSync(this.nsnetArgv(['system', 'reset', '--force']), { timeoutMs: 20_000 });
    } catch {
      /* best effort */
    }
    try {
      this.sweep({ reset: undefined, killed: [], problems: [] });
    } catch {
      /* best effort */
    }
  }
}

/**
 * Create a sandbox. tag (1-4 chars) ends up in every name the test makes: sb.prefix is
 * "nst" + 4 random hex + tag, e.g. containers `${sb.prefix}red`, bridges `${sb.prefix}br`.
 */
export async function createSandbox(tag: string): Promise<Sandbox> {
  sweepAbandonedSandboxes();
  const sb = new SandboxImpl(tag);
  try {
    sb.setup();
  } catch (err) {
    await sb.destroy();
    throw err;
  }
  return sb;
}

/**
 * Whether nsnet in the sandbox knows a container, or with "net:" a network, named PREFIX+NAME:
 * what a table-driven test checks is left after a command.
 */
export async function sandboxHas(sb: Sandbox, thing: string): Promise<boolean> {
  const net = thing.startsWith('net:');
  const name = `${sb.prefix}${net ? thing.slice(4) : thing}`;
  return (await sb.nsnet(net ? ['network', 'inspect', name] : ['inspect', name])).code === 0;
}
