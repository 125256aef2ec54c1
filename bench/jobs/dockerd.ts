/**
 * dockerd for the Docker-API section: started only by the benchmark, never by a test, and only
 * inside a sandbox of its own, so that nothing it does lands on the machine:
 *
 * - its own network namespace (`nsenter --net=/run/netns/NS`, made here with the job's prefix,
 *   no uplink): docker0, its iptables rules and its sysctls are that namespace's;
 * - its own mount namespace (`unshare --mount --propagation private`) with a tmpfs over /run:
 *   the overlay mounts of its layers and containers, the netns bind mounts libnetwork makes under
 *   /var/run/docker/netns, and the shim sockets containerd 1.6 puts in /run/containerd/s (a path
 *   built into containerd) all live and die with that namespace, and dockerd does not see the
 *   machine's D-Bus (firewalld) or /run/netns;
 * - its own --data-root, --exec-root, --pidfile, -H unix://DIR/docker.sock and --config-file
 *   under the section's temp dir; the containerd it starts gets its state, root and address from
 *   --exec-root and --data-root (DIR/exec/containerd/containerd.sock);
 * - the libtrust key (`deprecated-key-path`, /etc/docker/key.json by default) in DIR too;
 * - a `modprobe` that refuses, first on its PATH: dockerd and containerd try to load modules
 *   (br_netfilter, overlay, ...), which would change the machine's kernel for everyone;
 * - --cgroup-parent /nsnet-bench-PREFIX: the containers' cgroups (cgroupfs driver) are made under
 *   that name in every hierarchy, which is how stopDockerd finds their processes and removes them.
 *
 * Stopped by PID (SIGTERM, then SIGKILL), then every process left in its namespace or cgroups is
 * killed by PID, the cgroups removed, the namespace deleted and DIR removed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { now } from '../common.js';

/** The docker CLI both daemons are driven with: Debian's docker.io 20.10 (scripts/setup.sh installs it). */
export const DOCKER_CLI = '/usr/bin/docker';
export const DOCKERD = '/usr/sbin/dockerd';

/** Storage drivers tried in turn. */
const STORAGE_DRIVERS = ['overlay2', 'vfs'] as const;

export interface Dockerd {
  pid: number;
  socket: string;
  netns: string;
  dir: string;
  cgroupParent: string;
  storageDriver: string;
  /** The argv after `dockerd`, with DIR for the section's directory. */
  flags: string[];
  startMs: number;
  child: ChildProcess;
}

export interface DockerdStart {
  dockerd?: Dockerd;
  /** Each failed attempt: storage driver and the reason (the end of dockerd's log). */
  failures: string[];
}

/** The cgroup name of a job's containers under dockerd. */
export const cgroupParentFor = (prefix: string): string => `nsnet-bench-${prefix}`;

/** The network namespace of a job's dockerd (with the job's prefix, so the orchestrator's clean-up finds it). */
export const dockerdNetnsFor = (prefix: string): string => `${prefix}dk`;

/** GET /_ping over a Unix socket: the status, or undefined when nothing answers. */
export function ping(socket: string, timeoutMs = 2000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: socket, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => {
      req.destroy();
      resolve(undefined);
    });
    req.end();
  });
}

/** Poll /_ping until it answers 200; false when the process exited or time ran out. */
export async function waitForPing(socket: string, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const t0 = now();
  while (now() - t0 < timeoutMs) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    if (fs.existsSync(socket) && (await ping(socket)) === 200) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

const tail = (file: string, chars = 600): string => {
  try {
    return fs.readFileSync(file, 'utf8').trim().slice(-chars).replace(/\s+/g, ' ');
  } catch {
    return '(no log)';
  }
};

/**
 * Start dockerd in its sandbox (see the head of this file): overlay2, then vfs. The namespace
 * `netns` is made here and deleted by stopDockerd. `bip` is docker0's address (a.b.c.d/nn).
 */
export async function startDockerd(opts: { dir: string; netns: string; cgroupParent: string; bip: string }): Promise<DockerdStart> {
  const failures: string[] = [];
  for (const tool of [DOCKERD, 'containerd', 'containerd-shim-runc-v2', 'runc', 'unshare']) {
    if (spawnSync('which', [tool]).status !== 0 && !fs.existsSync(tool)) failures.push(`${tool} not found (Debian's docker.io brings dockerd, containerd and runc)`);
  }
  if (failures.length > 0) return { failures };
  for (const argv of [['netns', 'add', opts.netns], ['-n', opts.netns, 'link', 'set', 'lo', 'up']]) {
    const r = spawnSync('ip', argv, { encoding: 'utf8' });
    if (r.status !== 0) return { failures: [`ip ${argv.join(' ')}: ${r.stderr.trim()}`] };
  }
  for (const driver of STORAGE_DRIVERS) {
    fs.rmSync(opts.dir, { recursive: true, force: true });
    const bin = path.join(opts.dir, 'bin');
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, 'modprobe'), '#!/bin/sh\necho "modprobe $*: refused in the benchmark\'s dockerd sandbox" >&2\nexit 1\n', { mode: 0o755 });
    fs.writeFileSync(path.join(opts.dir, 'daemon.json'), JSON.stringify({ 'deprecated-key-path': path.join(opts.dir, 'key.json') }) + '\n');
    const socket = path.join(opts.dir, 'docker.sock');
    const flags = [
      '--data-root', path.join(opts.dir, 'data'),
      '--exec-root', path.join(opts.dir, 'exec'),
      '--pidfile', path.join(opts.dir, 'dockerd.pid'),
      '-H', `unix://${socket}`,
      '--config-file', path.join(opts.dir, 'daemon.json'),
      '--storage-driver', driver,
      '--bip', opts.bip,
      '--cgroup-parent', `/${opts.cgroupParent}`,
      '--exec-opt', 'native.cgroupdriver=cgroupfs',
      '--log-level', 'warn',
    ];
    const logFile = path.join(opts.dir, 'dockerd.log');
    const log = fs.openSync(logFile, 'w');
    // nsenter and unshare exec (no fork), and sh execs dockerd: the child's PID is dockerd's.
    const script = 'mount -t tmpfs -o mode=0755 nsnet-bench-run /run && PATH="$0:$PATH" exec "$@"';
    const t0 = now();
    const child = spawn('nsenter', [`--net=/run/netns/${opts.netns}`, 'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, bin, DOCKERD, ...flags], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const up = await waitForPing(socket, child, 60_000);
    if (up && child.pid !== undefined) {
      return { dockerd: { pid: child.pid, socket, netns: opts.netns, dir: opts.dir, cgroupParent: opts.cgroupParent, storageDriver: driver, flags: flags.map((a) => a.replaceAll(opts.dir, 'DIR')), startMs: now() - t0, child }, failures };
    }
    failures.push(`--storage-driver ${driver}: ${child.exitCode !== null || child.signalCode !== null ? `dockerd exited (${child.exitCode ?? child.signalCode})` : 'no answer to /_ping in 60 s'}: ${tail(logFile)}`);
    await stopProcess(child);
    killLeftovers(opts.netns, opts.cgroupParent);
    removeCgroups(opts.cgroupParent);
  }
  spawnSync('ip', ['netns', 'del', opts.netns]);
  return { failures };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
async function stopProcess(child: ChildProcess, graceMs = 20_000): Promise<'exited' | 'killed'> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return 'exited';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs));
  if ((await Promise.race([exited.then(() => 'exited' as const), timer])) === 'exited') return 'exited';
  child.kill('SIGKILL');
  await exited;
  return 'killed';
}

/** The cgroup directories named `name` (one per hierarchy; cgroup v1 or v2). */
function cgroupDirs(name: string): string[] {
  const roots = fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : fs.readdirSync('/sys/fs/cgroup').map((h) => path.join('/sys/fs/cgroup', h));
  return roots.map((r) => path.join(r, name)).filter((d) => fs.existsSync(d));
}

/**
 * Kill by PID every process in dockerd's network namespace (dockerd, containerd, shims) or in its
 * containers' cgroups (the containers' own processes, which live in namespaces docker made).
 * Returns what was killed.
 */
export function killLeftovers(netns: string, cgroupParent: string): string[] {
  let ino: number | undefined;
  try {
    ino = fs.statSync(`/run/netns/${netns}`).ino;
  } catch {
    /* no namespace: only the cgroups */
  }
  const killed: string[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const inNs = ino !== undefined && fs.readlinkSync(`/proc/${e}/ns/net`) === `net:[${ino}]`;
      const inCgroup = fs.readFileSync(`/proc/${e}/cgroup`, 'utf8').split('\n').some((l) => l.split(':')[2]?.startsWith(`/${cgroupParent}/`) === true || l.split(':')[2] === `/${cgroupParent}`);
      if (!inNs && !inCgroup) continue;
      const comm = fs.readFileSync(`/proc/${e}/comm`, 'utf8').trim();
      process.kill(Number(e), 'SIGKILL');
      killed.push(`${e} ${comm}`);
    } catch {
      /* gone */
    }
  }
  return killed;
}

/** Remove the cgroups dockerd made under the parent (deepest first); the ones that could not be removed. */
export function removeCgroups(cgroupParent: string): string[] {
  const left: string[] = [];
  for (const top of cgroupDirs(cgroupParent)) {
    const dirs: string[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
      dirs.push(d);
    };
    walk(top);
    for (const d of dirs) {
      for (let i = 0; i < 20; i++) {
        try {
          fs.rmdirSync(d);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
          if (i === 19) left.push(`${d}: ${(err as Error).message}`);
          else spawnSync('sleep', ['0.1']);
        }
      }
    }
  }
  return left;
}

/** Mounts under `dir` in this process's mount namespace (there should be none: dockerd's are in its own). */
export function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

export interface DockerdStop {
  stopped: 'exited' | 'killed';
  killedAfter: string[];
  cgroupsLeft: string[];
  mountsLeft: string[];
  netnsDeleted: boolean;
  dirRemoved: boolean;
}

/** Stop dockerd by PID and remove everything it made (see the head of the file). */
export async function stopDockerd(d: Dockerd): Promise<DockerdStop> {
  const stopped = await stopProcess(d.child);
  let killedAfter: string[] = [];
  for (let i = 0; i < 5; i++) {
    const k = killLeftovers(d.netns, d.cgroupParent);
    killedAfter = [...killedAfter, ...k];
    if (k.length === 0) break;
    spawnSync('sleep', ['0.2']);
  }
  const cgroupsLeft = removeCgroups(d.cgroupParent);
  const mountsLeft = mountsUnder(d.dir);
  for (const m of [...mountsLeft].reverse()) spawnSync('umount', ['-l', m]);
  const netnsDeleted = spawnSync('ip', ['netns', 'del', d.netns]).status === 0;
  let dirRemoved = true;
  try {
    fs.rmSync(d.dir, { recursive: true, force: true });
  } catch {
    dirRemoved = false;
  }
  return { stopped, killedAfter, cgroupsLeft, mountsLeft, netnsDeleted, dirRemoved };
}

/**
 * What dockerd could change on the machine, read in the machine's own namespace (by the
 * orchestrator, before and after the section): links, nftables and iptables rules, the bridge
 * netfilter and forwarding sysctls, /etc/docker, docker's and containerd's default state
 * directories, leftover cgroups of the benchmark.
 */
export function machineSnapshot(): Record<string, string> {
  const out = (argv: string[]): string => {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    return r.error !== undefined ? `(${argv[0]} not run: ${r.error.message})` : `${r.stdout}${r.stderr}`.trim();
  };
  const read = (f: string): string => {
    try {
      return fs.readFileSync(f, 'utf8').trim();
    } catch {
      return '(absent)';
    }
  };
  const sysctls = ['/proc/sys/net/ipv4/ip_forward', ...(fs.existsSync('/proc/sys/net/bridge') ? fs.readdirSync('/proc/sys/net/bridge').map((s) => `/proc/sys/net/bridge/${s}`) : [])];
  const ls = (d: string): string => (fs.existsSync(d) ? fs.readdirSync(d).sort().join(' ') || '(empty)' : '(absent)');
  return {
    'ip link': out(['ip', '-br', 'link']),
    'nft list ruleset': out(['nft', 'list', 'ruleset']),
    'iptables-legacy-save': out(['iptables-legacy-save']).split('\n').filter((l) => !l.startsWith('#')).join('\n'),
    sysctls: sysctls.map((s) => `${s}=${read(s)}`).join(' '),
    '/etc/docker': ls('/etc/docker'),
    '/run/docker, /run/containerd, /var/lib/docker, /var/lib/containerd': ['/run/docker', '/run/containerd', '/var/lib/docker', '/var/lib/containerd'].map(ls).join(' | '),
    'nsnet-bench cgroups': cgroupDirs('.').flatMap((h) => fs.readdirSync(h).filter((n) => n.startsWith('nsnet-bench-')).map((n) => path.join(h, n))).join(' ') || 'none',
  };
}

/** The entries of two snapshots that differ, as "key: before → after". */
export function snapshotChanges(before: Record<string, string>, after: Record<string, string>): string[] {
  return Object.keys(before)
    .filter((k) => before[k] !== after[k])
    .map((k) => `${k}: ${JSON.stringify(before[k]).slice(0, 300)} → ${JSON.stringify(after[k]).slice(0, 300)}`);
}
