/**
 * scale: issue 16's memory targets at scale — "monitor ≤ 1 MB per container; 1000 detached
 * containers with their monitors fit in under 1.5 GB in all". In the worker's sandbox namespace,
 * with a warm nsnet service, `nsnet run -d -- sleep 1000` of n containers (default 1000, on the
 * default bridge network, each timed), and at each checkpoint (BENCH_SCALE_N, default 1,100,500,1000):
 *   - every monitor's Rss, Pss, Private and VmHWM (median, max, sum), and the container inits
 *     below it (unshare --fork, which stays as the parent of the container's pid 1, and `sleep`);
 *   - the service's and the DNS responder's memory and descriptors;
 *   - the kernel's share: the /proc/meminfo deltas (Slab, KernelStack, PageTables, Percpu;
 *     MemAvailable for everything) from a baseline taken with the service warm and no container;
 *   - `nsnet ps` time with that many rows, and the limits that come near (mounts per mount
 *     namespace, bridge ports, neighbour entries, /run/netns, open files, inotify).
 * Then past the kernel's bridge port limit (1023 ports) to see what the first container over it
 * gets (BENCH_SCALE_PAST, default 1030; 0: not tried), then `rm -f` in batches of 100 (timed),
 * `system reset`, and a residue check: namespaces, links, nftables tables, processes, mounts,
 * the state root.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { now, stats } from '../common.js';
import type { Job } from './job.js';
import {
  bridgePorts,
  childrenOf,
  descriptorsOf,
  linkNames,
  memoryOf,
  meminfo,
  mountsOf,
  neighbourEntries,
  processesWith,
  slabBytes,
  systemLimits,
  type Meminfo,
  type ProcMemory,
} from './scale-probes.js';

/** Median, max and sum of one figure over a set of processes (KiB). */
export interface Spread {
  median: number;
  max: number;
  sum: number;
}

export interface Checkpoint {
  containers: number;
  monitors: { count: number; rss: Spread; pss: Spread; priv: Spread; hwm: Spread; fds: Spread };
  /**
   * Every process below the monitors: the one that waits for the container's pid 1 (unshare
   * --fork, or a fork of the monitor since it confines the container itself) and pid 1, `sleep`;
   * comms: how many of each program; mountNamespaces: the distinct mount namespaces they are in.
   */
  inits: { count: number; rss: Spread; pss: Spread; priv: Spread; comms: Record<string, number>; mountNamespaces: number };
  service: (ProcMemory & { fds: number; inotify: number; fdLimit: number; fdKinds: Record<string, number> }) | null;
  /** The DNS responders of the state root (nsnet starts one for the default network). */
  responders: ProcMemory[];
  meminfo: Meminfo;
  /** The slab caches that grew most since the baseline: [cache, bytes], largest first. */
  slabGrowth: Array<[string, number]>;
  /** `nsnet ps` wall times (ms) and the rows it printed (without the head). */
  psMs: number[];
  psRows: number;
  /**
   * Mounts in the machine's mount namespace and in the two each container adds: its launcher's
   * (the monitor's child: ip netns exec's unshare of the mount namespace, then unshare(1)) and its
   * init's (unshare --mount), for the first container and the last.
   */
  mounts: { machine: number; firstLauncher: number; lastLauncher: number; firstInit: number; lastInit: number };
  bridgePorts: Record<string, number>;
  neighbours: { ipv4: number; ipv6: number };
  limits: Record<string, number>;
  /** inotify instances held by nsnet's processes (the service, responders, monitors). */
  inotifyInstances: number;
}

export interface ScaleResult {
  job: 'scale';
  target: number;
  checkpoints: Checkpoint[];
  /** Wall time of each `run -d` (ms), in order. */
  runMs: number[];
  /** The service's own time for each `run -d`, `rm -f` and `ps` it served (its log), in order: the work without the client's process. */
  serviceMs: Record<string, number[]>;
  /** Meminfo samples with the service warm and no container, 1 s apart. */
  baseline: Meminfo[];
  /** After the removal and a 3 s settle (the kernel frees namespaces in the background). */
  afterCleanup: Meminfo[];
  past: { tried: number; made: number; failure?: { index: number; exitCode: number | null; message: string; leftBehind: string[] } };
  removal: { batch: number; batchMs: number[]; resetMs: number };
  /** mountsLeft: mounts of the machine's namespace that name the job's prefix or state root (mountsBefore/After count all, other sessions' included). */
  residue: { namespaces: string[]; links: string[]; nftTables: string[]; processes: number[]; mountsLeft: string[]; mountsBefore: number; mountsAfter: number; rootEntries: string[]; rootRemoved: boolean };
  monitorBinaryBytes: number;
  loadAvg: { start: number[]; end: number[] };
  durationS: number;
}

const spread = (xs: readonly number[]): Spread => {
  const s = stats(xs.filter((x) => Number.isFinite(x)));
  return s === null ? { median: NaN, max: NaN, sum: 0 } : { median: s.median, max: s.max, sum: xs.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0) };
};

const loadavg = (): number[] => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
const sleep = (s: number): void => void spawnSync('sleep', [String(s)]);

/** Every process below `pid`, depth first. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  for (const c of childrenOf(pid)) out.push(c, ...descendants(c));
  return out;
}

/** How many of each value f gives. */
function countBy<T>(xs: readonly T[], f: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[f(x)] = (out[f(x)] ?? 0) + 1;
  return out;
}

const readOr = (read: () => string): string => {
  try {
    return read();
  } catch {
    return ''; // gone
  }
};
const commOf = (pid: number): string => readOr(() => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
const mountNamespaceOf = (pid: number): string => readOr(() => fs.readlinkSync(`/proc/${pid}/ns/mnt`));

/** From the service's log (`... run -d --name → D0 in 15.1 ms`): its own time per command, by command. */
function serviceTimes(log: string): Record<string, number[]> {
  const out: Record<string, number[]> = { 'run -d': [], 'rm -f': [], ps: [] };
  const text = readOr(() => fs.readFileSync(log, 'utf8'));
  for (const m of text.matchAll(/ (run -d|rm -f|ps)\b[^\n→]*→ D\d+ in ([\d.]+) ms/g)) out[m[1]!]!.push(Number(m[2]));
  return out;
}

/** The start time of a process (field 22 of its stat), to tell it from a later one with the same PID. */
function startOf(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export async function scaleJob(job: Job): Promise<ScaleResult> {
  const t0 = now();
  const loadStart = loadavg();
  const nsnet = path.join(job.repo, 'bin', 'nsnet');
  const env = { ...process.env, NSNET_ROOT: job.root };
  const target = job.n ?? 1000;
  const marks = new Set((process.env['BENCH_SCALE_N'] ?? '1,100,500,1000').split(',').map(Number).filter((x) => Number.isInteger(x) && x > 0 && x <= target));
  marks.add(target);
  const pastTo = Number(process.env['BENCH_SCALE_PAST'] ?? 1030);
  /** Run one nsnet command; its wall time, output and exit code. */
  const cmd = (argv: readonly string[]): { ms: number; code: number | null; stdout: string; stderr: string } => {
    const a = now();
    const r = spawnSync(nsnet, argv, { env, encoding: 'utf8', maxBuffer: 64 << 20 });
    return { ms: now() - a, code: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error?.message ?? '') };
  };
  const must = (argv: readonly string[]): { ms: number; stdout: string } => {
    const r = cmd(argv);
    if (r.code !== 0) throw new Error(`nsnet ${argv.join(' ')} → ${r.code}: ${r.stderr.trim()}`);
    return r;
  };
  const names: string[] = [];
  const ids: string[] = [];
  const name = (i: number): string => `${job.prefix}c${i}`;
  const serviceRecord = path.join(job.root, 'service', `net-${fs.statSync('/proc/self/ns/net').ino}.pid`);
  const servicePid = (): number | undefined => {
    try {
      const pid = (JSON.parse(fs.readFileSync(serviceRecord, 'utf8')) as { pid: number }).pid;
      return fs.existsSync(`/proc/${pid}`) ? pid : undefined;
    } catch {
      return undefined;
    }
  };
  const mountsBefore = mountsOf('self');
  /** Every process of ours seen at a checkpoint, with its start time: none may be left at the end. */
  const seen = new Map<number, string>();
  const monitorOf = (id: string): number | undefined => {
    try {
      return (JSON.parse(fs.readFileSync(path.join(job.root, 'containers', id, 'state.json'), 'utf8')) as { monitorPid?: number }).monitorPid;
    } catch {
      return undefined;
    }
  };

  /** Slab bytes per cache at the baseline. */
  let baseSlab: Record<string, number> = {};
  const checkpoint = (): Checkpoint => {
    const monitors = ids.map(monitorOf).filter((p): p is number => p !== undefined);
    const monMem = monitors.map((p) => memoryOf(p)).filter((m): m is ProcMemory => m !== undefined);
    const below = monitors.flatMap(descendants);
    const initMem = below.map((p) => memoryOf(p)).filter((m): m is ProcMemory => m !== undefined);
    const svc = servicePid();
    const svcMem = svc === undefined ? undefined : memoryOf(svc);
    const svcFds = svc === undefined ? undefined : descriptorsOf(svc);
    const responders = processesWith('dns-serve', job.root);
    for (const p of [...monitors, ...below, ...responders, ...(svc === undefined ? [] : [svc])]) {
      const s = startOf(p);
      if (s !== undefined) seen.set(p, s);
    }
    const monFds = monitors.map((p) => descriptorsOf(p));
    const ps = Array.from({ length: 5 }, () => must(['ps']));
    const chain = (monitor: number | undefined): number[] => (monitor === undefined ? [] : descendants(monitor));
    const [firstLauncher, firstInit] = chain(monitors[0]);
    const [lastLauncher, lastInit] = chain(monitors[monitors.length - 1]);
    const mountsIn = (pid: number | undefined): number => (pid === undefined ? NaN : mountsOf(pid));
    return {
      containers: ids.length,
      monitors: {
        count: monMem.length,
        rss: spread(monMem.map((m) => m.rss)),
        pss: spread(monMem.map((m) => m.pss)),
        priv: spread(monMem.map((m) => m.priv)),
        hwm: spread(monMem.map((m) => m.hwm)),
        fds: spread(monFds.map((d) => d.fds)),
      },
      inits: {
        count: initMem.length,
        rss: spread(initMem.map((m) => m.rss)),
        pss: spread(initMem.map((m) => m.pss)),
        priv: spread(initMem.map((m) => m.priv)),
        comms: countBy(below, commOf),
        mountNamespaces: new Set(below.map(mountNamespaceOf).filter((ns) => ns !== '')).size,
      },
      service: svcMem === undefined || svcFds === undefined ? null : { ...svcMem, fds: svcFds.fds, inotify: svcFds.inotify, fdLimit: svcFds.softLimit, fdKinds: svcFds.kinds },
      responders: responders.map((p) => memoryOf(p)).filter((m): m is ProcMemory => m !== undefined),
      meminfo: meminfo(),
      slabGrowth: Object.entries(slabBytes())
        .map(([cache, bytes]): [string, number] => [cache, bytes - (baseSlab[cache] ?? 0)])
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8),
      psMs: ps.map((r) => r.ms),
      psRows: Math.max(0, ps[0]!.stdout.trim().split('\n').length - 1),
      mounts: { machine: mountsOf('self'), firstLauncher: mountsIn(firstLauncher), lastLauncher: mountsIn(lastLauncher), firstInit: mountsIn(firstInit), lastInit: mountsIn(lastInit) },
      bridgePorts: bridgePorts(),
      neighbours: neighbourEntries(),
      limits: systemLimits(),
      inotifyInstances: [...monitors, ...responders, ...(svc === undefined ? [] : [svc])].reduce((a, p) => a + descriptorsOf(p).inotify, 0),
    };
  };

  const checkpoints: Checkpoint[] = [];
  const runMs: number[] = [];
  const baseline: Meminfo[] = [];
  const afterCleanup: Meminfo[] = [];
  const past: ScaleResult['past'] = { tried: 0, made: 0 };
  const removal: ScaleResult['removal'] = { batch: 100, batchMs: [], resetMs: NaN };
  let residue: ScaleResult['residue'] | undefined;
  let serviceMs: Record<string, number[]> = {};
  try {
    // A warm service: the first command runs in-process and starts it; wait until it answers.
    must(['network', 'ls']);
    for (let i = 0; i < 200 && servicePid() === undefined; i++) sleep(0.05);
    if (servicePid() === undefined) throw new Error(`the nsnet service did not start (no ${serviceRecord})`);
    must(['network', 'ls']);
    // The first run -d creates the default bridge network (and starts its DNS responder): made
    // before the baseline as its own container 0, then removed, so every timed run -d is alike.
    must(['run', '-d', '--name', `${job.prefix}warm`, '--', 'sleep', '1000']);
    must(['rm', '-f', `${job.prefix}warm`]);
    sleep(1);
    for (let i = 0; i < 3; i++) {
      if (i > 0) sleep(1);
      baseline.push(meminfo());
    }
    baseSlab = slabBytes();
    checkpoints.push(checkpoint());
    for (let i = 0; i < target; i++) {
      const r = must(['run', '-d', '--name', name(i), '--', 'sleep', '1000']);
      runMs.push(r.ms);
      names.push(name(i));
      ids.push(r.stdout.trim());
      if (marks.has(i + 1)) {
        checkpoints.push(checkpoint());
        process.stderr.write(`scale: ${i + 1} containers, run -d ${r.ms.toFixed(1)} ms\n`);
      }
    }
    // Past the bridge's port limit: the first container that does not fit, and what it says.
    for (let i = target; i < pastTo; i++) {
      past.tried++;
      const r = cmd(['run', '-d', '--name', name(i), '--', 'sleep', '1000']);
      if (r.code !== 0) {
        const leftBehind = cmd(['ps', '-a', '--format', '{{.Names}}']).stdout.split('\n').filter((n) => n === name(i));
        past.failure = { index: i + 1, exitCode: r.code, message: r.stderr.trim().slice(0, 1000), leftBehind };
        names.push(name(i)); // rm -f of a name that is not there is only a message
        break;
      }
      past.made++;
      names.push(name(i));
      ids.push(r.stdout.trim());
    }
  } finally {
    // Remove everything, in batches of 100, then reset the state root (stops the service).
    for (let i = 0; i < names.length; i += removal.batch) {
      const r = cmd(['rm', '-f', ...names.slice(i, i + removal.batch)]);
      removal.batchMs.push(r.ms);
    }
    serviceMs = serviceTimes(path.join(job.root, 'service', 'service.log'));
    const reset = cmd(['system', 'reset', '--force']);
    removal.resetMs = reset.ms;
    if (reset.code !== 0) process.stderr.write(`scale: system reset → ${reset.code}: ${reset.stderr}\n`);
    sleep(3);
    for (let i = 0; i < 3; i++) {
      if (i > 0) sleep(1);
      afterCleanup.push(meminfo());
    }
    const rootEntries = fs.existsSync(job.root) ? fs.readdirSync(job.root) : [];
    fs.rmSync(job.root, { recursive: true, force: true });
    const nft = spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' });
    residue = {
      namespaces: fs.readdirSync('/run/netns').filter((n) => n.startsWith(job.prefix) && !n.endsWith('-host') && !n.endsWith('-world')),
      links: linkNames().filter((l) => l !== 'lo' && l !== 'uplink0'),
      nftTables: (nft.stdout ?? '').split('\n').filter((l) => l.trim() !== ''),
      processes: [...seen].filter(([pid, start]) => startOf(pid) === start).map(([pid]) => pid),
      mountsLeft: fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(`/run/netns/${job.prefix}`) || l.includes(job.root)),
      mountsBefore,
      mountsAfter: mountsOf('self'),
      rootEntries,
      rootRemoved: !fs.existsSync(job.root),
    };
  }
  return {
    job: 'scale',
    target,
    checkpoints,
    runMs,
    serviceMs,
    baseline,
    afterCleanup,
    past,
    removal,
    residue: residue!,
    monitorBinaryBytes: fs.statSync(path.join(job.repo, 'bin', 'nsnet-monitor')).size,
    loadAvg: { start: loadStart, end: loadavg() },
    durationS: (now() - t0) / 1000,
  };
}
