/**
 * What the scale job reads from /proc and /sys: the memory of one process, the kernel's memory
 * counters, and the limits that 1000 containers come near (fds, inotify, mounts, bridge ports,
 * neighbour entries, namespaces). Reads only; every figure in KiB unless named otherwise.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/** One process's memory (KiB): Rss and Pss from smaps_rollup, Private = Private_Clean + Private_Dirty, VmHWM from status. */
export interface ProcMemory {
  rss: number;
  pss: number;
  priv: number;
  hwm: number;
}

export function memoryOf(pid: number): ProcMemory | undefined {
  try {
    const kib = (text: string, key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rss: kib(rollup, 'Rss'), pss: kib(rollup, 'Pss'), priv: kib(rollup, 'Private_Clean') + kib(rollup, 'Private_Dirty'), hwm: kib(status, 'VmHWM') };
  } catch {
    return undefined; // gone
  }
}

/** The kernel-side counters of /proc/meminfo that containers grow (KiB), and MemAvailable. */
export const MEMINFO_KEYS = ['MemAvailable', 'MemFree', 'Cached', 'Slab', 'SReclaimable', 'SUnreclaim', 'KernelStack', 'PageTables', 'Percpu'] as const;
export type Meminfo = Record<(typeof MEMINFO_KEYS)[number], number>;

export function meminfo(): Meminfo {
  const text = fs.readFileSync('/proc/meminfo', 'utf8');
  return Object.fromEntries(MEMINFO_KEYS.map((k) => [k, Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN)])) as Meminfo;
}

/** Bytes in each slab cache (active objects × object size), from /proc/slabinfo: which kernel objects containers grow. */
export function slabBytes(): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const line of fs.readFileSync('/proc/slabinfo', 'utf8').split('\n').slice(2)) {
      const [name, active, , size] = line.trim().split(/\s+/);
      if (name !== undefined && name !== '' && size !== undefined) out[name] = Number(active) * Number(size);
    }
  } catch {
    /* no slabinfo: the meminfo figures still say how much */
  }
  return out;
}

/** The children of a process (its main thread's), as the kernel lists them. */
export function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((s) => s !== '').map(Number);
  } catch {
    return [];
  }
}

/** PIDs of the processes whose command line has `arg` among its arguments and contains `word` (not this process). */
export function processesWith(arg: string, word: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.includes(arg) && argv.some((a) => a.includes(word))) pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** Descriptors a process holds, by kind (socket, pipe, anon_inode:X, file), how many are inotify instances, and its soft limit. */
export function descriptorsOf(pid: number): { fds: number; inotify: number; softLimit: number; kinds: Record<string, number> } {
  let fds = 0;
  let inotify = 0;
  const kinds: Record<string, number> = {};
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      fds++;
      try {
        const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (target === 'anon_inode:inotify') inotify++;
        const kind = target.startsWith('/memfd:') ? 'memfd' : target.startsWith('/') ? 'file' : target.replace(/:\[\d+\]$/, '');
        kinds[kind] = (kinds[kind] ?? 0) + 1;
      } catch {
        /* closed meanwhile */
      }
    }
  } catch {
    /* gone */
  }
  const limits = (() => {
    try {
      return fs.readFileSync(`/proc/${pid}/limits`, 'utf8');
    } catch {
      return '';
    }
  })();
  const softLimit = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? NaN);
  return { fds, inotify, softLimit, kinds };
}

/** Lines of a process's mountinfo: the mounts of its mount namespace. */
export function mountsOf(pid: number | 'self'): number {
  try {
    return fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').filter((l) => l !== '').length;
  } catch {
    return NaN;
  }
}

const readNumber = (file: string): number => {
  try {
    return Number(fs.readFileSync(file, 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return NaN;
  }
};

/** Machine-wide limits and how much of each is in use (read in the job's network namespace). */
export function systemLimits(): Record<string, number> {
  const fileNr = fs.readFileSync('/proc/sys/fs/file-nr', 'utf8').trim().split(/\s+/).map(Number);
  return {
    processes: fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e)).length,
    pidMax: readNumber('/proc/sys/kernel/pid_max'),
    threadsMax: readNumber('/proc/sys/kernel/threads-max'),
    openFiles: fileNr[0]!,
    fileMax: fileNr[2]!,
    inotifyMaxUserInstances: readNumber('/proc/sys/fs/inotify/max_user_instances'),
    inotifyMaxUserWatches: readNumber('/proc/sys/fs/inotify/max_user_watches'),
    mountMax: readNumber('/proc/sys/fs/mount-max'),
    maxNetNamespaces: readNumber('/proc/sys/user/max_net_namespaces'),
    maxMntNamespaces: readNumber('/proc/sys/user/max_mnt_namespaces'),
    maxPidNamespaces: readNumber('/proc/sys/user/max_pid_namespaces'),
    runNetnsEntries: fs.readdirSync('/run/netns').length,
    ...neighbourThresholds(),
  };
}

/**
 * The neighbour tables' gc_thresh1-3: one table for every network namespace (its entries are
 * counted across all of them), and its sysctls exist only in the initial namespace. Read with
 * `cat` (nothing is changed) in the namespace of this worker's parent, the orchestrator, which
 * runs in the machine's (nsenter exec'd the worker).
 */
function neighbourThresholds(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of [1, 2, 3]) {
    const r = spawnSync('nsenter', [`--net=/proc/${process.ppid}/ns/net`, 'cat', `/proc/sys/net/ipv4/neigh/default/gc_thresh${k}`], { encoding: 'utf8' });
    out[`neighGcThresh${k}`] = r.status === 0 ? Number(r.stdout.trim()) : NaN;
  }
  return out;
}

/** Links of this network namespace (from netlink: /sys/class/net shows the namespace sysfs was mounted in). */
function links(): Array<{ ifname: string; master?: string; linkinfo?: { info_kind?: string } }> {
  const r = spawnSync('ip', ['-d', '-j', 'link', 'show'], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`ip -j link show: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as Array<{ ifname: string; master?: string; linkinfo?: { info_kind?: string } }>;
}

/** Ports of each bridge in this network namespace (the kernel allows 1023: port numbers are 10 bits, 0 unused). */
export function bridgePorts(): Record<string, number> {
  const all = links();
  const out: Record<string, number> = {};
  for (const l of all) if (l.linkinfo?.info_kind === 'bridge') out[l.ifname] = 0;
  for (const l of all) if (l.master !== undefined && l.master in out) out[l.master]!++;
  return out;
}

/** Neighbour (ARP and NDP) entries in this network namespace. */
export function neighbourEntries(): { ipv4: number; ipv6: number } {
  const count = (family: string): number => {
    const r = spawnSync('ip', [family, 'neigh', 'show'], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.split('\n').filter((l) => l.trim() !== '').length : NaN;
  };
  return { ipv4: count('-4'), ipv6: count('-6') };
}

/** Names of the links in this network namespace. */
export const linkNames = (): string[] => links().map((l) => l.ifname);
