/**
 * Podman test harness: Debian's Podman 4.3 with its CNI backend, run inside a sandbox's "host"
 * network namespace and configured only by files in a fresh temp dir
 * (os.tmpdir()/nsnet-test-podman-*), so that integration tests can drive a real container runtime
 * against a CNI plugin and leave nothing behind.
 *
 * Where things live:
 *   - containers.conf / storage.conf / registries.conf in the temp dir, passed as CONTAINERS_CONF,
 *     CONTAINERS_STORAGE_CONF and CONTAINERS_REGISTRIES_CONF: the only config podman reads.
 *     Storage (vfs), run root, tmp_dir (exit files, locks), volumes, events log and the CNI
 *     network dir (one <name>.conflist per network) are all inside the temp dir.
 *   - runc runs through a two-line wrapper that adds `--root <dir>/runc` (runc's default state dir
 *     is /run/runc and podman 4.3 has no setting for it).
 *   - Podman runs in a private mount namespace held open by a `sleep` process, in which /var/lib
 *     is an overlay whose upper layer is a tmpfs. Two things podman 4.3 writes there cannot be
 *     moved by any setting: libcni's result cache (/var/lib/cni/results, written on ADD, read for
 *     DEL) and the image blob-info cache (/var/lib/containers/cache, written by `podman import`).
 *     Both land in the tmpfs and vanish with the namespace; the machine's /var/lib is never
 *     written. Only /var/lib is covered: /run/netns stays shared with the machine, so the
 *     netns-<uuid> namespaces podman makes there are real and visible to the test (and to any
 *     process a plugin hands the path to).
 *   - With cgroup_manager = "cgroupfs" runc makes /sys/fs/cgroup/.../libpod_parent/libpod-<id>
 *     per container (removed when the container is) and libpod_parent itself (destroy() removes it
 *     when this harness made it and it is empty). `cgroups = "no-conmon"` keeps conmon in the
 *     caller's cgroup instead of libpod_parent/conmon.
 *   - Never use `podman system reset` here: it creates /root/.config/containers/podman/machine.
 *
 * Pitfalls found on the way (keep them): do not set `static_dir` — conmon's exit command
 * (`podman container cleanup`) gets --root/--runroot/--tmpdir but not the static dir, so it
 * opens a different state database, the container never becomes "exited", and every
 * `podman run --rm` waits 20 s for conmon. `stop_timeout` is low because busybox as PID 1 ignores
 * SIGTERM (each `rm -f` would wait the full timeout). `default_ulimits = []` makes podman set no
 * rlimits at all, so containers inherit conmon's (nofile 20000, nproc 32768 here). Any entry, and
 * any `--ulimit`, makes podman 4.3 add its defaults (1048576) for nofile/nproc not given, which
 * runc cannot set without CAP_SYS_RESOURCE (EPERM, "error setting rlimit type 6"): with --ulimit,
 * give both nofile and nproc, within those limits.
 *
 * Paths given to harness.podman() must be absolute (nsenter --mount starts in /).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  NETNS_DIR,
  STATE_DIR_PREFIX,
  allPids,
  describeResult,
  integrationSkipReason,
  mountPoints,
  netnsEntries,
  netnsInode,
  pidCmdline,
  pidParent,
  pidStartTime,
  pidState,
  pidsInNetns,
  runAsync,
  runSync,
  type RunOptions,
  type RunResult,
  type Sandbox,
} from './sandbox.js';

/** The image every harness imports from a busybox-static rootfs (CMD ["/bin/sh"]). */
export const PODMAN_IMAGE = 'localhost/nsnet-busybox:test';
/** Harness temp dirs: os.tmpdir()/nsnet-test-podman-XXXXXX (the residue test looks for nsnet-test-). */
export const PODMAN_DIR_PREFIX = `${STATE_DIR_PREFIX}podman-`;
/** Podman names the network namespaces it makes /run/netns/netns-<uuid>. */
export const PODMAN_NETNS_PREFIX = 'netns-';
export const BUSYBOX = '/bin/busybox';
const CGROUP_ROOT = '/sys/fs/cgroup';
const CGROUP_PARENT = 'libpod_parent';

export interface PodmanHarness {
  /** Temp dir holding all podman config, storage and state. */
  dir: string;
  /** The imported busybox image. */
  image: string;
  /** The CNI config dir (network_config_dir): one <name>.conflist per network. */
  netConfDir: string;
  /**
   * libcni's result cache as podman sees it (/var/lib/cni/results inside the harness's mount
   * namespace), readable from the test process while the harness lives. Files are named
   * <network>-<container id>-<ifname>.
   */
  cniCacheDir: string;
  /** Wall time of `podman import` of the busybox rootfs, milliseconds. */
  importMs: number;
  /** Environment every podman call gets (before per-call env). */
  env: NodeJS.ProcessEnv;
  /** The argv that runs `podman ARGS` in the sandbox host netns and the harness's mount namespace. */
  argv(args: readonly string[]): string[];
  /** Run podman (default timeout 60 s). opts.env is added to the harness env. */
  podman(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Add or replace a network: writes <netConfDir>/<conf.name>.conflist. */
  writeConflist(conf: object): string;
  /**
   * Remove every container (and pod), check that podman cleaned up after itself, kill what is
   * left, remove the temp dir. Returns the problems found: leftover containers, libcni cache
   * entries (a CNI DEL that never happened), runc state, processes, podman netns, cgroups.
   */
  destroy(): Promise<string[]>;
}

export interface PodmanHarnessOptions {
  /** cni_plugin_dirs, searched in this order (add '/usr/lib/cni' for the reference plugins). */
  pluginDirs: string[];
  /**
   * Networks, each written to <netConfDir>/<name>.conflist; the first is podman's default network.
   * A function gets the harness dir (for host-local's dataDir and the like). A plugin's own files
   * under /var/lib (host-local's default dataDir /var/lib/cni/networks) land in the harness's
   * private overlay, not on the machine.
   */
  conflists: object[] | ((dir: string) => object[]);
  /**
   * Extra environment for every podman call, passed on to the plugins. Also written to
   * containers.conf [engine] env, so that the plugin sees it in the CNI DELs run by conmon's exit
   * command (`podman container cleanup`), which does not inherit the caller's environment;
   * podman(args, { env }) per call does not reach those.
   */
  env?: NodeJS.ProcessEnv;
  /** containers.conf stop_timeout, seconds. Default 0 (rm -f / stop kill at once). */
  stopTimeout?: number;
}

// ---------------------------------------------------------------------------------------------
// Skips

function findExecutable(cmd: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean).concat(['/usr/sbin', '/usr/bin', '/sbin', '/bin']);
  for (const d of dirs) {
    const p = path.join(d, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** True for an ELF executable without a program interpreter (PT_INTERP), i.e. statically linked. */
function isStaticElf(file: string): boolean {
  const buf = fs.readFileSync(file);
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) return false;
  const is64 = buf[4] === 2;
  const le = buf[5] === 1;
  const u16 = (o: number): number => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const phoff = is64 ? Number(le ? buf.readBigUInt64LE(0x20) : buf.readBigUInt64BE(0x20)) : u32(0x1c);
  const phentsize = u16(is64 ? 0x36 : 0x2a);
  const phnum = u16(is64 ? 0x38 : 0x2c);
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (o + 4 > buf.length) return false;
    if (u32(o) === 3) return false; // PT_INTERP
  }
  return true;
}

let skipCache: { reason: string | undefined } | undefined;

/** Why the podman harness cannot run here (not root, podman missing or not 4.x, ...), or undefined. */
export function podmanSkipReason(): string | undefined {
  skipCache ??= { reason: computeSkipReason() };
  return skipCache.reason;
}

function computeSkipReason(): string | undefined {
  const base = integrationSkipReason();
  if (base !== undefined) return base;
  const missing = ['podman', 'runc', 'conmon', 'unshare', 'nsenter', 'mount', 'tar'].filter((c) => findExecutable(c) === undefined);
  if (missing.length > 0) return `the podman harness needs ${missing.join(', ')} (apt-get install podman runc conmon)`;
  const v = runSync(['podman', '--version'], { timeoutMs: 20_000 });
  const m = /podman version (\d+)\.(\d+)/.exec(v.stdout);
  if (m === null) return `\`podman --version\` failed: ${v.stderr.trim() || v.stdout.trim()}`;
  if (m[1] !== '4') return `the podman harness needs podman 4.x with its CNI backend, found ${m[0]}`;
  if (!fs.existsSync(BUSYBOX)) return `${BUSYBOX} is missing (apt-get install busybox-static)`;
  if (!isStaticElf(BUSYBOX)) return `${BUSYBOX} is not statically linked (apt-get install busybox-static)`;
  const filesystems = fs.readFileSync('/proc/filesystems', 'utf8');
  if (!/\toverlay$/m.test(filesystems)) return 'the podman harness needs overlayfs (modprobe overlay)';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Files

const toml = (s: string): string => JSON.stringify(s);
const tomlList = (xs: readonly string[]): string => `[${xs.map(toml).join(', ')}]`;

interface Layout {
  dir: string;
  containersConf: string;
  storageConf: string;
  registriesConf: string;
  netConfDir: string;
  graphRoot: string;
  runRoot: string;
  tmpDir: string;
  bigTmp: string;
  runcRoot: string;
  runcWrapper: string;
  eventsLog: string;
  /** Mount point of the tmpfs (inside the harness's mount namespace) that holds the overlay's upper layer. */
  nsTmpfs: string;
  owner: string;
}

function layout(dir: string): Layout {
  return {
    dir,
    containersConf: path.join(dir, 'containers.conf'),
    storageConf: path.join(dir, 'storage.conf'),
    registriesConf: path.join(dir, 'registries.conf'),
    netConfDir: path.join(dir, 'net.d'),
    graphRoot: path.join(dir, 'graph'),
    runRoot: path.join(dir, 'run'),
    tmpDir: path.join(dir, 'tmp'),
    bigTmp: path.join(dir, 'bigtmp'),
    runcRoot: path.join(dir, 'runc'),
    runcWrapper: path.join(dir, 'bin', 'runc'),
    eventsLog: path.join(dir, 'events.log'),
    nsTmpfs: path.join(dir, 'ns'),
    owner: path.join(dir, 'owner.json'),
  };
}

function writeConfig(l: Layout, opts: PodmanHarnessOptions): void {
  const conflists = typeof opts.conflists === 'function' ? opts.conflists(l.dir) : opts.conflists;
  for (const d of [l.netConfDir, l.graphRoot, l.runRoot, l.tmpDir, l.bigTmp, l.runcRoot, path.dirname(l.runcWrapper), l.nsTmpfs]) {
    fs.mkdirSync(d, { recursive: true });
  }
  fs.mkdirSync(path.join(l.dir, 'volumes'));
  const names = conflists.map((c) => conflistName(c));
  const defaultNetwork = names[0] ?? 'nsnet-harness-default';
  const runc = findExecutable('runc') ?? '/usr/bin/runc';
  fs.writeFileSync(l.runcWrapper, `#!/bin/sh\nexec ${runc} --root '${l.runcRoot}' "$@"\n`, { mode: 0o755 });
  fs.writeFileSync(
    l.containersConf,
    [
      '# Written by test/helpers/podman.ts; the only containers.conf podman reads (CONTAINERS_CONF).',
      '[containers]',
      'cgroups = "no-conmon"',
      'default_ulimits = []',
      'log_driver = "k8s-file"',
      'netns = "bridge"',
      '',
      '[network]',
      'network_backend = "cni"',
      `cni_plugin_dirs = ${tomlList(opts.pluginDirs)}`,
      `network_config_dir = ${toml(l.netConfDir)}`,
      `default_network = ${toml(defaultNetwork)}`,
      '',
      '[engine]',
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      // The harness env again, for the podman processes that conmon's exit command starts
      // (`podman container cleanup`, which runs most CNI DELs): conmon passes them only
      // CONTAINERS_CONF, PATH, HOME and TMPDIR of the caller's environment.
      `env = ${tomlList(Object.entries(opts.env ?? {}).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`])))}`,
      'events_logger = "file"',
      `events_logfile_path = ${toml(l.eventsLog)}`,
      `tmp_dir = ${toml(l.tmpDir)}`,
      `volume_path = ${toml(path.join(l.dir, 'volumes'))}`,
      `image_copy_tmp_dir = ${toml(l.bigTmp)}`,
      'lock_type = "file"',
      'num_locks = 256',
      `stop_timeout = ${Math.max(0, Math.floor(opts.stopTimeout ?? 0))}`,
      '',
      '[engine.runtimes]',
      `runc = ${tomlList([l.runcWrapper])}`,
      '',
    ].join('\n'),
  );
  fs.writeFileSync(
    l.storageConf,
    ['[storage]', 'driver = "vfs"', `graphroot = ${toml(l.graphRoot)}`, `runroot = ${toml(l.runRoot)}`, ''].join('\n'),
  );
  fs.writeFileSync(l.registriesConf, 'unqualified-search-registries = []\n');
  for (const c of conflists) writeConflistFile(l.netConfDir, c);
}

function conflistName(conf: object): string {
  const name = (conf as { name?: unknown }).name;
  if (typeof name !== 'string' || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
    throw new Error(`conflist needs a "name" podman accepts ([a-zA-Z0-9][a-zA-Z0-9_.-]*): ${JSON.stringify(conf)}`);
  }
  return name;
}

function writeConflistFile(netConfDir: string, conf: object): string {
  const file = path.join(netConfDir, `${conflistName(conf)}.conflist`);
  fs.writeFileSync(file, JSON.stringify(conf, null, 2) + '\n');
  return file;
}

/** A busybox-static rootfs (every applet linked in /bin) as a tar in dir; returns the tar's path. */
function buildRootfsTar(dir: string): string {
  const rootfs = path.join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'dev', 'proc', 'sys', 'root', 'run', 'tmp', 'var/tmp']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
  fs.copyFileSync(BUSYBOX, path.join(rootfs, 'bin', 'busybox'));
  fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  const list = runSync([BUSYBOX, '--list']);
  if (list.code !== 0) throw new Error(`busybox --list failed\n${describeResult(list)}`);
  const applets = new Set(list.stdout.split('\n').map((s) => s.trim()).filter((s) => /^[\w.[-]+$/.test(s) && s !== 'busybox'));
  for (const a of ['sh', 'ping', 'ip', 'ifconfig', 'nc', 'wget', 'sleep', 'cat', 'hostname']) {
    if (!applets.has(a)) throw new Error(`${BUSYBOX} has no ${a} applet`);
  }
  for (const a of applets) fs.symlinkSync('busybox', path.join(rootfs, 'bin', a));
  fs.writeFileSync(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  fs.writeFileSync(path.join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  const tar = path.join(dir, 'rootfs.tar');
  const r = runSync(['tar', '-C', rootfs, '--numeric-owner', '--owner=0', '--group=0', '-cf', tar, '.']);
  if (r.code !== 0) throw new Error(`tar of the busybox rootfs failed\n${describeResult(r)}`);
  fs.rmSync(rootfs, { recursive: true, force: true });
  return tar;
}

// ---------------------------------------------------------------------------------------------
// Processes and namespaces

function mntNsOf(pid: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

/** The mount point (in our mount namespace) that holds path p. */
function mountPointOf(p: string): string {
  const mps = mountPoints();
  let best = '/';
  for (const mp of mps) {
    if ((p === mp || p.startsWith(mp.endsWith('/') ? mp : mp + '/')) && mp.length > best.length) best = mp;
  }
  return best;
}

/** Is path a mount point with shared propagation in our mount namespace? */
function isSharedMount(p: string): boolean {
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4] !== p) continue;
    const sep = f.indexOf('-');
    if (f.slice(6, sep).some((o) => o.startsWith('shared:'))) return true;
  }
  return false;
}

const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Synchronous sleep (exit hooks and sweeps cannot await). */
const spinMs = (ms: number): void => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms) as unknown as void;

/** pids plus all their descendants (zombies left out: they are already dead). */
function withDescendants(roots: Iterable<number>): number[] {
  const set = new Set<number>(roots);
  const pids = allPids();
  let grew = set.size > 0;
  while (grew) {
    grew = false;
    for (const pid of pids) {
      if (set.has(pid)) continue;
      const pp = pidParent(pid);
      if (pp !== undefined && set.has(pp)) {
        set.add(pid);
        grew = true;
      }
    }
  }
  set.delete(process.pid);
  return [...set].filter((pid) => {
    const st = pidState(pid);
    return st !== undefined && st !== 'Z';
  });
}

const describePid = (pid: number): string => `${pid} (${(pidCmdline(pid) ?? '?').slice(0, 160)})`;

function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Harnesses of test processes that died without destroy(): their temp dir still has owner.json.

interface Owner {
  pid: number;
  start: string;
  /** libpod_parent cgroups that existed before the harness (the sweep removes the others if empty). */
  cgroupParentsBefore?: string[];
}

const CONTAINER_ID = /^[0-9a-f]{64}$/;

/** IDs of every container a harness dir has seen: podman's event log, runc state, storage. */
function containerIdsIn(l: Layout): string[] {
  const ids = new Set<string>();
  try {
    for (const line of fs.readFileSync(l.eventsLog, 'utf8').split('\n')) {
      try {
        const e = JSON.parse(line) as { ID?: unknown; Type?: unknown };
        if (e.Type === 'container' && typeof e.ID === 'string' && CONTAINER_ID.test(e.ID)) ids.add(e.ID);
      } catch {
        /* partial line */
      }
    }
  } catch {
    /* no events yet */
  }
  for (const d of [l.runcRoot, path.join(l.graphRoot, 'vfs-containers')]) {
    try {
      for (const e of fs.readdirSync(d)) if (CONTAINER_ID.test(e)) ids.add(e);
    } catch {
      /* absent */
    }
  }
  return [...ids];
}

/** The network namespace paths in the OCI specs of the containers still in a harness's storage. */
function containerNetnsPaths(l: Layout, ids: Iterable<string>): string[] {
  const out: string[] = [];
  for (const id of ids) {
    try {
      const spec = JSON.parse(fs.readFileSync(path.join(l.graphRoot, 'vfs-containers', id, 'userdata', 'config.json'), 'utf8')) as {
        linux?: { namespaces?: Array<{ type?: string; path?: string }> };
      };
      const p = spec.linux?.namespaces?.find((n) => n.type === 'network')?.path;
      if (p) out.push(p);
    } catch {
      /* never started, or gone */
    }
  }
  return out;
}

/** Processes in the cgroups runc made for these containers (in every hierarchy). */
function pidsInContainerCgroups(ids: Iterable<string>): number[] {
  const out = new Set<number>();
  for (const parent of cgroupParents()) {
    for (const id of ids) {
      try {
        for (const s of fs.readFileSync(path.join(parent, `libpod-${id}`, 'cgroup.procs'), 'utf8').split('\n')) {
          if (/^\d+$/.test(s)) out.add(Number(s));
        }
      } catch {
        /* no such cgroup */
      }
    }
  }
  return [...out];
}

/** Remove the libpod-<id> cgroups of these containers that still exist; returns their paths. */
function removeContainerCgroups(ids: Iterable<string>): string[] {
  const found: string[] = [];
  for (const parent of cgroupParents()) {
    for (const id of ids) {
      const cg = path.join(parent, `libpod-${id}`);
      if (!fs.existsSync(cg)) continue;
      found.push(cg);
      try {
        fs.rmdirSync(cg);
      } catch {
        /* still busy */
      }
    }
  }
  return found;
}

/** Remove a podman netns (unmount and unlink) if it is one under /run/netns. */
function removePodmanNetns(p: string): void {
  if (path.dirname(p) === NETNS_DIR && path.basename(p).startsWith(PODMAN_NETNS_PREFIX) && fs.existsSync(p)) {
    runSync(['ip', 'netns', 'del', path.basename(p)]);
  }
}

function readOwner(dir: string): Owner | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'owner.json'), 'utf8')) as Owner;
  } catch {
    return undefined;
  }
}

/** Is a harness other than the one in dir alive (in this or another test process)? */
function otherLiveHarness(dir: string): boolean {
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith(PODMAN_DIR_PREFIX));
  } catch {
    return false;
  }
  return entries.some((d) => {
    const other = path.join(os.tmpdir(), d);
    if (other === dir) return false;
    const o = readOwner(other);
    return o !== undefined && pidStartTime(o.pid) === o.start;
  });
}

/**
 * Clean up after test processes that died without destroy() (SIGKILL): the harness dir names its
 * owner; its containers are found by their cgroups (conmon may already be gone: the sandbox sweep
 * kills what runs in the sandbox's namespaces), their netns by their OCI specs.
 */
export function sweepAbandonedPodmanDirs(): string[] {
  const swept: string[] = [];
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith(PODMAN_DIR_PREFIX));
  } catch {
    return swept;
  }
  for (const d of entries) {
    const dir = path.join(os.tmpdir(), d);
    const owner = readOwner(dir);
    if (owner === undefined) continue; // being created, or not a harness dir
    if (pidStartTime(owner.pid) === owner.start) continue; // its test process still runs
    const l = layout(dir);
    const ids = containerIdsIn(l);
    const roots = allPids().filter((pid) => pid !== process.pid && (pidCmdline(pid) ?? '').includes(dir));
    killAll(withDescendants([...roots, ...pidsInContainerCgroups(ids)]));
    spinMs(100);
    removeContainerCgroups(ids);
    for (const p of containerNetnsPaths(l, ids)) removePodmanNetns(p);
    const before = new Set(owner.cgroupParentsBefore ?? cgroupParents());
    for (const parent of cgroupParents()) {
      if (before.has(parent)) continue;
      try {
        fs.rmdirSync(parent);
      } catch {
        /* in use */
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    swept.push(dir);
  }
  return swept;
}

// ---------------------------------------------------------------------------------------------
// The harness

const live = new Set<PodmanHarnessImpl>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  // Prepended so that they run before the sandbox's hooks, which kill everything in the sandbox's
  // namespaces (the mount-namespace holder included) and so would leave podman nothing to run in.
  process.prependListener('exit', () => {
    for (const h of live) h.destroyBestEffortSync();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.prependOnceListener(sig, () => {
      for (const h of live) h.destroyBestEffortSync();
      live.clear();
      if (process.listenerCount(sig) === 0) process.exit(130);
    });
  }
}

class PodmanHarnessImpl implements PodmanHarness {
  readonly dir: string;
  readonly image = PODMAN_IMAGE;
  readonly netConfDir: string;
  readonly env: NodeJS.ProcessEnv;
  importMs = 0;
  private readonly l: Layout;
  private holderPid = 0;
  private holderStart = '';
  private holderMntNs = '';
  private destroyed = false;
  private readonly netnsBefore: Set<string>;
  private readonly cgroupParentsBefore: Set<string>;

  constructor(
    private readonly sb: Sandbox,
    private readonly opts: PodmanHarnessOptions,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), PODMAN_DIR_PREFIX));
    this.l = layout(this.dir);
    this.netConfDir = this.l.netConfDir;
    this.netnsBefore = new Set(netnsEntries(PODMAN_NETNS_PREFIX));
    this.cgroupParentsBefore = new Set(cgroupParents());
    const owner: Owner = { pid: process.pid, start: pidStartTime(process.pid) ?? '', cgroupParentsBefore: [...this.cgroupParentsBefore] };
    fs.writeFileSync(this.l.owner, JSON.stringify(owner) + '\n');
    const base: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      // Nothing of the caller's podman/CNI setup leaks in (CONTAINER_HOST would even make podman
      // remote; podman passes CNI_ARGS from its environment on to the plugins).
      if (/^(CONTAINERS?_|PODMAN_|CNI_|STORAGE_|BUILDAH_|DOCKER_)/.test(k)) continue;
      if (k === 'REGISTRY_AUTH_FILE' || k === 'XDG_RUNTIME_DIR' || k === 'XDG_CONFIG_HOME') continue;
      base[k] = v;
    }
    this.env = {
      ...base,
      CONTAINERS_CONF: this.l.containersConf,
      CONTAINERS_STORAGE_CONF: this.l.storageConf,
      CONTAINERS_REGISTRIES_CONF: this.l.registriesConf,
      TMPDIR: this.l.bigTmp,
      ...(opts.env ?? {}),
    };
  }

  get cniCacheDir(): string {
    return `/proc/${this.holderPid}/root/var/lib/cni/results`;
  }

  argv(args: readonly string[]): string[] {
    return ['nsenter', `--mount=/proc/${this.holderPid}/ns/mnt`, `--net=${NETNS_DIR}/${this.sb.hostNs}`, 'podman', ...args];
  }

  private holderAlive(): boolean {
    return this.holderPid > 0 && pidStartTime(this.holderPid) === this.holderStart && mntNsOf(this.holderPid) === this.holderMntNs;
  }

  async podman(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    if (!this.holderAlive()) throw new Error(`podman harness ${this.dir}: its mount namespace holder is gone`);
    return runAsync(this.argv(args), { ...opts, timeoutMs: opts.timeoutMs ?? 60_000, env: { ...this.env, ...(opts.env ?? {}) } });
  }

  private podmanSync(args: readonly string[], timeoutMs = 30_000): RunResult {
    return runSync(this.argv(args), { timeoutMs, env: this.env });
  }

  writeConflist(conf: object): string {
    return writeConflistFile(this.netConfDir, conf);
  }

  /** Run argv inside the harness's mount namespace (machine network namespace: mount work only). */
  private inMountNs(argv: readonly string[]): RunResult {
    return runSync(['nsenter', `--mount=/proc/${this.holderPid}/ns/mnt`, ...argv]);
  }

  async setup(): Promise<void> {
    hookExit();
    live.add(this);
    writeConfig(this.l, this.opts);
    // /run/netns must stay shared with the machine (podman's netns-<uuid> mounts have to be real).
    if (!isSharedMount(NETNS_DIR)) throw new Error(`${NETNS_DIR} is not a shared mount point (the sandbox makes it one with ip netns add)`);
    for (const p of [this.dir, '/var/lib']) {
      if (/[,:\s]/.test(p)) throw new Error(`cannot use ${p} in overlay mount options`);
    }
    await this.startHolder();
    const mountsBefore = new Set(mountPoints());
    // Mounts made below /var/lib's and the temp dir's mount points must not propagate to the
    // machine: make those mounts slaves in our namespace first (no-op when they are private).
    for (const mp of new Set([mountPointOf('/var/lib'), mountPointOf(this.dir)])) {
      this.must(this.inMountNs(['mount', '--make-slave', mp]), `mount --make-slave ${mp}`);
    }
    const upper = path.join(this.l.nsTmpfs, 'upper');
    const work = path.join(this.l.nsTmpfs, 'work');
    this.must(this.inMountNs(['mount', '-t', 'tmpfs', '-o', 'mode=0700,size=256m', 'nsnet-podman', this.l.nsTmpfs]), 'tmpfs for the /var/lib overlay');
    this.must(this.inMountNs(['mkdir', upper, work]), 'overlay upper/work dirs');
    this.must(
      this.inMountNs(['mount', '-t', 'overlay', '-o', `lowerdir=/var/lib,upperdir=${upper},workdir=${work}`, 'nsnet-podman', '/var/lib']),
      'overlay on /var/lib',
    );
    const leaked = mountPoints().filter((m) => !mountsBefore.has(m) && (m === '/var/lib' || m.startsWith(this.dir)));
    if (leaked.length > 0) {
      for (const m of leaked.reverse()) runSync(['umount', '-l', m]);
      throw new Error(`harness mounts propagated to the machine's mount namespace (undone): ${leaked.join(', ')}`);
    }
    const tar = buildRootfsTar(this.dir);
    const t0 = performance.now();
    const imp = await this.podman(['import', '--quiet', '--change', 'CMD ["/bin/sh"]', tar, this.image], { timeoutMs: 120_000 });
    this.importMs = Math.round(performance.now() - t0);
    if (imp.code !== 0) throw new Error(`podman import failed\n${describeResult(imp)}`);
    fs.rmSync(tar, { force: true });
  }

  private must(r: RunResult, what: string): void {
    if (r.code !== 0) throw new Error(`podman harness setup: ${what} failed\n${describeResult(r)}`);
  }

  /**
   * A `sleep` in a new mount namespace, in the sandbox host netns (so the sandbox's sweeps kill it
   * too). Unreferenced: a test that forgets destroy() still exits, and the exit hook cleans up.
   */
  private async startHolder(): Promise<void> {
    const own = mntNsOf(process.pid);
    const errFile = path.join(this.dir, 'holder.err');
    const fd = fs.openSync(errFile, 'w');
    let child: ChildProcess;
    try {
      child = spawn('nsenter', [`--net=${NETNS_DIR}/${this.sb.hostNs}`, 'unshare', '--mount', '--propagation', 'unchanged', 'sleep', 'infinity'], {
        stdio: ['ignore', 'ignore', fd],
      });
    } finally {
      fs.closeSync(fd);
    }
    child.on('error', () => {});
    child.unref();
    const stderr = (): string => {
      try {
        return fs.readFileSync(errFile, 'utf8').trim();
      } catch {
        return '';
      }
    };
    const pid = child.pid;
    if (pid === undefined) throw new Error(`podman harness: could not start the mount namespace holder: ${stderr()}`);
    // nsenter execs unshare, which execs sleep: same pid, ready once it is `sleep` in a new namespace.
    for (let i = 0; i < 500; i++) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      let comm = '';
      try {
        comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        /* not yet */
      }
      const ns = mntNsOf(pid);
      if (comm === 'sleep' && ns !== undefined && ns !== own) {
        this.holderPid = pid;
        this.holderStart = pidStartTime(pid) ?? '';
        this.holderMntNs = ns;
        return;
      }
      await sleepMs(10);
    }
    throw new Error(`podman harness: the mount namespace holder did not start (exit ${child.exitCode}): ${stderr()}`);
  }

  /** conmon, runc, podman (exit commands), plugins run by them, containers: what refers to our dir, and descendants. */
  private podmanProcesses(): number[] {
    const roots: number[] = [];
    for (const pid of allPids()) {
      if (pid === process.pid || pid === this.holderPid) continue;
      const c = pidCmdline(pid);
      if (c !== undefined && c.includes(this.dir)) roots.push(pid);
    }
    return withDescendants(roots).filter((p) => p !== this.holderPid);
  }

  async destroy(): Promise<string[]> {
    if (this.destroyed) return [];
    this.destroyed = true;
    const problems: string[] = [];
    const sandboxKeys = new Set<string>();
    const ids = new Set<string>();
    if (this.holderAlive()) {
      const ps = await this.podman(['ps', '-a', '-q', '--no-trunc'], { timeoutMs: 30_000 });
      const present = ps.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
      if (ps.code !== 0) problems.push(`podman ps failed:\n${describeResult(ps)}`);
      for (const id of present) ids.add(id);
      if (present.length > 0) {
        const ins = await this.podman(['inspect', '--format', '{{.NetworkSettings.SandboxKey}}', ...present], { timeoutMs: 30_000 });
        for (const k of ins.stdout.split('\n').map((s) => s.trim())) if (k.startsWith('/')) sandboxKeys.add(k);
      }
      const pods = await this.podman(['pod', 'rm', '--all', '--force'], { timeoutMs: 60_000 });
      if (pods.code !== 0) problems.push(`podman pod rm --all --force failed:\n${describeResult(pods)}`);
      const rm = await this.podman(['rm', '--all', '--force', '--time', '0'], { timeoutMs: 60_000 });
      if (rm.code !== 0) problems.push(`podman rm --all --force failed:\n${describeResult(rm)}`);
      const after = await this.podman(['ps', '-a', '-q'], { timeoutMs: 30_000 });
      if (after.stdout.trim() !== '') problems.push(`containers left after podman rm --all --force: ${after.stdout.trim().split('\n').join(', ')}`);
      let cached: string[] = [];
      try {
        cached = fs.readdirSync(this.cniCacheDir);
      } catch {
        /* never made */
      }
      for (const f of cached) problems.push(`libcni result cache entry left (no CNI DEL for it): /var/lib/cni/results/${f}`);
    } else if (this.holderPid !== 0) {
      problems.push(`the mount namespace holder of ${this.dir} died early: podman could not clean up`);
    }
    for (const id of containerIdsIn(this.l)) ids.add(id);

    // What podman started must be gone by now (conmon, runc, containers, the exit commands'
    // `podman container cleanup`, which may still be finishing: give them a moment).
    const leftovers = (): number[] => withDescendants([...this.podmanProcesses(), ...pidsInContainerCgroups(ids)]).filter((p) => p !== this.holderPid);
    let procs = leftovers();
    for (let i = 0; i < 30 && procs.length > 0; i++) {
      await sleepMs(100);
      procs = leftovers();
    }
    if (procs.length > 0) {
      problems.push(`processes left (killed): ${procs.map(describePid).join('; ')}`);
      killAll(procs);
    }
    let runcLeft: string[] = [];
    try {
      runcLeft = fs.readdirSync(this.l.runcRoot);
    } catch {
      /* none */
    }
    for (const id of runcLeft) problems.push(`runc state left for container ${id}`);

    this.stopHolder();

    // Network namespaces podman made: those of our containers must be gone. Those of containers
    // already removed are not known by name: while no other harness is live, any netns-* that
    // appeared since this harness was made and that no process uses is reported (not removed:
    // it could still be another podman user's).
    for (const key of sandboxKeys) {
      if (!fs.existsSync(key)) continue;
      problems.push(`podman netns left: ${key}`);
      removePodmanNetns(key);
    }
    if (!otherLiveHarness(this.dir)) {
      for (const name of netnsEntries(PODMAN_NETNS_PREFIX)) {
        if (this.netnsBefore.has(name) || sandboxKeys.has(path.join(NETNS_DIR, name))) continue;
        const ino = netnsInode(name);
        if (ino === undefined || pidsInNetns(new Set([ino])).length === 0) problems.push(`new unused ${NETNS_DIR}/${name} (podman netns not cleaned up?)`);
      }
    }

    for (const cg of removeContainerCgroups(ids)) problems.push(`cgroup left: ${cg}`);
    this.removeCgroupParents();

    try {
      fs.rmSync(this.dir, { recursive: true, force: true });
    } catch (err) {
      problems.push(`rm -rf ${this.dir}: ${(err as Error).message}`);
    }
    live.delete(this);
    return problems;
  }

  /** The libpod_parent cgroups this harness made, if empty (another harness may still use them). */
  private removeCgroupParents(): void {
    for (const parent of cgroupParents()) {
      if (this.cgroupParentsBefore.has(parent)) continue;
      try {
        fs.rmdirSync(parent);
      } catch {
        /* not empty */
      }
    }
  }

  private stopHolder(): void {
    if (this.holderAlive()) {
      try {
        process.kill(this.holderPid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  /** For exit/signal hooks: synchronous, best effort, no report. */
  destroyBestEffortSync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      if (this.holderAlive()) {
        this.podmanSync(['pod', 'rm', '--all', '--force'], 20_000);
        this.podmanSync(['rm', '--all', '--force', '--time', '0'], 20_000);
      }
      const ids = containerIdsIn(this.l);
      const netns = containerNetnsPaths(this.l, ids);
      killAll(withDescendants([...this.podmanProcesses(), ...pidsInContainerCgroups(ids)]));
      this.stopHolder();
      spinMs(100);
      removeContainerCgroups(ids);
      for (const p of netns) removePodmanNetns(p);
      this.removeCgroupParents();
      fs.rmSync(this.dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
}

/** Existing <cgroup hierarchy>/libpod_parent dirs (cgroup v1 controllers, the v1 unified mount, or v2). */
function cgroupParents(): string[] {
  const out: string[] = [];
  const candidates = [path.join(CGROUP_ROOT, CGROUP_PARENT)];
  try {
    for (const h of fs.readdirSync(CGROUP_ROOT)) candidates.push(path.join(CGROUP_ROOT, h, CGROUP_PARENT));
  } catch {
    return out;
  }
  for (const c of candidates) {
    try {
      if (fs.statSync(c).isDirectory()) out.push(c);
    } catch {
      /* absent */
    }
  }
  return out;
}

/**
 * Make a harness in the sandbox: write the config, start the mount namespace, import the busybox
 * image. Throws (after cleaning up) if any of it fails; call podmanSkipReason() first.
 */
export async function createPodmanHarness(sb: Sandbox, opts: PodmanHarnessOptions): Promise<PodmanHarness> {
  const reason = podmanSkipReason();
  if (reason !== undefined) throw new Error(reason);
  sweepAbandonedPodmanDirs();
  const h = new PodmanHarnessImpl(sb, opts);
  try {
    await h.setup();
  } catch (err) {
    const problems = await h.destroy().catch((e: unknown) => [String(e)]);
    if (problems.length > 0) (err as Error).message += `\ncleanup after the failed setup: ${problems.join('\n')}`;
    throw err;
  }
  return h;
}
