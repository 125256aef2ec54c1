/** The scale section (bench/jobs/scale.ts): issue 16's memory targets at 1000 detached containers — figures, markdown, JSON. */
import { stats } from '../common.js';
import type { Checkpoint, ScaleResult } from '../jobs/scale.js';
import type { Meminfo } from '../jobs/scale-probes.js';
import { f, mdTable, quantile } from './format.js';
import type { Machine } from './types.js';

const MONITOR_MAX_KIB = 1024;
const TOTAL_MAX_MIB = 1536;
/** The kernel memory that containers grow: slab objects (namespaces, mounts, links), stacks, page tables, per-CPU counters. */
const KERNEL_KEYS = ['Slab', 'KernelStack', 'PageTables', 'Percpu'] as const;

const mib = (kib: number): number => kib / 1024;
const median = (xs: readonly number[]): number => stats(xs)?.median ?? NaN;

/** The median of each meminfo key over samples. */
function medianMeminfo(samples: readonly Meminfo[]): Meminfo {
  const keys = Object.keys(samples[0] ?? {}) as Array<keyof Meminfo>;
  return Object.fromEntries(keys.map((k) => [k, median(samples.map((s) => s[k]))])) as Meminfo;
}

const kernelOf = (m: Meminfo): number => KERNEL_KEYS.reduce((a, k) => a + m[k], 0);

/** Everything one checkpoint costs, in KiB, against the baseline (service warm, no container). */
export interface Cost {
  containers: number;
  monitorsPss: number;
  initsPss: number;
  serviceRss: number;
  respondersRss: number;
  /** Slab + KernelStack + PageTables + Percpu over the baseline. */
  kernel: number;
  kernelByKey: Record<string, number>;
  /** MemAvailable's drop from the baseline: everything, page cache and other processes on the machine included. */
  memAvailableDrop: number;
  /** monitors + inits + service + responders + kernel. */
  total: number;
}

export function costOf(c: Checkpoint, base: Meminfo): Cost {
  const kernelByKey = Object.fromEntries(KERNEL_KEYS.map((k) => [k, c.meminfo[k] - base[k]]));
  const kernel = kernelOf(c.meminfo) - kernelOf(base);
  const serviceRss = c.service?.rss ?? NaN;
  const respondersRss = c.responders.reduce((a, m) => a + m.rss, 0);
  return {
    containers: c.containers,
    monitorsPss: c.monitors.pss.sum,
    initsPss: c.inits.pss.sum,
    serviceRss,
    respondersRss,
    kernel,
    kernelByKey,
    memAvailableDrop: base.MemAvailable - c.meminfo.MemAvailable,
    total: c.monitors.pss.sum + c.inits.pss.sum + serviceRss + respondersRss + kernel,
  };
}

/** The `run -d` times per 100 containers (or per tenth of the run when it is shorter). */
function runBuckets(runMs: readonly number[], serviceMs: readonly number[]): string[][] {
  const size = runMs.length >= 500 ? 100 : Math.max(1, Math.ceil(runMs.length / 10));
  // The service's log also holds the warm-up run -d before the first timed one, and the ones past the target.
  const own = serviceMs.slice(serviceMs.length > runMs.length ? 1 : 0);
  const rows: string[][] = [];
  for (let i = 0; i < runMs.length; i += size) {
    const xs = runMs.slice(i, i + size);
    const ys = own.slice(i, i + size);
    rows.push([`${i + 1}-${i + xs.length}`, f(median(xs), 1), f(quantile(xs, 0.9), 1), f(Math.max(...xs), 1), ys.length === 0 ? '—' : f(median(ys), 1)]);
  }
  return rows;
}

function verdict(ok: boolean): string {
  return ok ? 'met' : 'MISSED';
}

export function scaleFigures(r: ScaleResult): { base: Meminfo; costs: Cost[]; last: Checkpoint; lastCost: Cost; noise: Record<string, number>; residual: Record<string, number> } {
  const base = medianMeminfo(r.baseline);
  const costs = r.checkpoints.map((c) => costOf(c, base));
  const last = r.checkpoints[r.checkpoints.length - 1]!;
  const keys = [...KERNEL_KEYS, 'MemAvailable'] as const;
  const noise = Object.fromEntries(keys.map((k) => [k, Math.max(...r.baseline.map((m) => m[k])) - Math.min(...r.baseline.map((m) => m[k]))]));
  const after = medianMeminfo(r.afterCleanup);
  const residual = Object.fromEntries([...keys.map((k) => [k, after[k] - base[k]]), ['kernel', kernelOf(after) - kernelOf(base)]]);
  return { base, costs, last, lastCost: costs[costs.length - 1]!, noise, residual };
}

export function scaleReport(r: ScaleResult, machine: Machine): string {
  const { costs, last, lastCost, noise, residual } = scaleFigures(r);
  const zero = costs[0]!;
  const n = last.containers;
  const perContainer = (k: keyof Cost): number => ((lastCost[k] as number) - (zero[k] as number)) / Math.max(1, n - zero.containers);
  const monitorOk = last.monitors.rss.max <= MONITOR_MAX_KIB;
  const totalOk = mib(lastCost.total) <= TOTAL_MAX_MIB;
  const first10 = r.runMs.slice(0, 10);
  const last10 = r.runMs.slice(-10);
  const psAt = (c: Checkpoint): string => `${f(median(c.psMs), 1)} ms`;
  const res = r.residue;
  const clean = res.namespaces.length === 0 && res.links.length === 0 && res.nftTables.length === 0 && res.processes.length === 0 && res.mountsLeft.length === 0 && res.rootRemoved;
  const l = last.limits;
  const ports = Object.entries(last.bridgePorts).map(([b, p]) => `${b} ${p}`).join(', ') || 'none';
  return [
    '# nsnet at scale: 1000 detached containers, their monitors and the memory they take',
    '',
    `${machine.date}, commit ${machine.nsnetCommit.slice(0, 12)} (${machine.codeMeasured ?? 'this tree'}); ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memGiB} GiB, kernel ${machine.kernel};`,
    `1-minute load average ${r.loadAvg.start.map((x) => f(x, 1)).join(' ')} at the start of the section and ${r.loadAvg.end.map((x) => f(x, 1)).join(' ')} at its end (the machine is shared: other sessions' processes run meanwhile).`,
    '',
    `In the bench's sandbox network namespace, with a fresh state root and a warm nsnet service, \`nsnet run -d --name NAME -- sleep 1000\` ${n} times through bin/nsnet`,
    '(the default bridge network; each timed from the worker, spawn to exit), measured at each checkpoint. A monitor is `bin/nsnet-monitor` (static,',
    `${Math.round(r.monitorBinaryBytes / 1024)} KiB on disk); below it stay the process that waits for the container's pid 1 and \`sleep\` (pid 1): the "inits", at ${n} containers ${Object.entries(last.inits.comms ?? {}).map(([comm, k]) => `${k} × ${comm}`).join(', ')}.`,
    'Pss (smaps_rollup) divides each shared page among the processes that map it, so a sum of Pss is what those processes really take; Rss counts shared pages in full.',
    '',
    '## Targets (issue 16)',
    '',
    mdTable([
      ['target', 'measured', 'verdict'],
      [
        'monitor ≤ 1 MB per container',
        `Rss median ${f(last.monitors.rss.median, 0)} KiB, max ${f(last.monitors.rss.max, 0)} KiB (VmHWM max ${f(last.monitors.hwm.max, 0)}); Pss median ${f(last.monitors.pss.median, 0)} KiB, max ${f(last.monitors.pss.max, 0)}; private ${f(last.monitors.priv.median, 0)} KiB`,
        verdict(monitorOk),
      ],
      [
        `${n} detached containers with their monitors < 1.5 GB in all`,
        `${f(mib(lastCost.total), 0)} MiB: monitors ${f(mib(lastCost.monitorsPss), 0)} + inits ${f(mib(lastCost.initsPss), 0)} (Pss sums) + service ${f(mib(lastCost.serviceRss), 0)} + DNS responder ${f(mib(lastCost.respondersRss), 0)} (Rss) + kernel ${f(mib(lastCost.kernel), 0)} (meminfo Δ); MemAvailable fell ${f(mib(lastCost.memAvailableDrop), 0)} MiB`,
        verdict(totalOk),
      ],
    ]),
    '',
    '## Scaling',
    '',
    mdTable([
      ['containers', '`ps` (median of 5)', 'monitors Pss Σ', 'inits Pss Σ', 'service Rss', 'service fds', 'kernel Δ', 'MemAvailable Δ', 'total', 'mounts per container namespace: launcher, init (first / last container)'],
      ...r.checkpoints.map((c, i) => {
        const k = costs[i]!;
        return [
          String(c.containers),
          psAt(c),
          `${f(mib(k.monitorsPss), 1)} MiB`,
          `${f(mib(k.initsPss), 1)} MiB`,
          `${f(mib(k.serviceRss), 1)} MiB`,
          String(c.service?.fds ?? '—'),
          `${f(mib(k.kernel), 1)} MiB`,
          `${f(mib(k.memAvailableDrop), 1)} MiB`,
          `${f(mib(k.total), 1)} MiB`,
          `${f(c.mounts.firstLauncher, 0)}, ${f(c.mounts.firstInit, 0)} / ${f(c.mounts.lastLauncher, 0)}, ${f(c.mounts.lastInit, 0)}`,
        ];
      }),
    ]),
    '',
    `Per container (the ${n}-container checkpoint over the empty one, ÷ ${n - zero.containers}): monitor ${f(perContainer('monitorsPss'), 0)} KiB, inits ${f(perContainer('initsPss'), 0)} KiB, service ${f(perContainer('serviceRss'), 1)} KiB, kernel ${f(perContainer('kernel'), 0)} KiB (${Object.entries(lastCost.kernelByKey).map(([key, v]) => `${key} ${f((v - zero.kernelByKey[key]!) / Math.max(1, n - zero.containers), 0)}`).join(', ')}), in all ${f(perContainer('total'), 0)} KiB; MemAvailable ${f(perContainer('memAvailableDrop'), 0)} KiB.`,
    `The slab caches that grew most (/proc/slabinfo, active objects × size, over the baseline): ${r.checkpoints
      .slice(1)
      .map((c) => `at ${c.containers}: ${(c.slabGrowth ?? []).slice(0, 6).map(([cache, bytes]) => `${cache} ${f(bytes / 2 ** 20, 1)}`).join(', ')} MiB`)
      .join('; ')}.`,
    `The inits: ${last.inits.count} processes, Pss median ${f(last.inits.pss.median, 0)} KiB (Rss ${f(last.inits.rss.median, 0)}, which counts the libc they share with every process on the machine).`,
    `The service: Rss ${f(mib(last.service?.rss ?? NaN), 1)} MiB (VmHWM ${f(mib(last.service?.hwm ?? NaN), 1)}), ${last.service?.fds ?? '—'} descriptors (${Object.entries(last.service?.fdKinds ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')}) of a soft limit of ${last.service?.fdLimit ?? '—'}.`,
    '',
    'MemAvailable is no measure on this machine: other sessions allocate and free hundreds of MiB meanwhile (the noise below); the kernel\'s own counters and the processes\' Pss are.',
    `Noise: the baseline's three samples (1 s apart, nothing of ours changing) varied by ${Object.entries(noise).map(([k, v]) => `${k} ${f(v, 0)}`).join(', ')} KiB;`,
    `after everything was removed (and 3 s to let the kernel free namespaces) the counters stood at ${Object.entries(residual).map(([k, v]) => `${k} ${v >= 0 ? '+' : ''}${f(v, 0)}`).join(', ')} KiB from the baseline — what the machine's other processes did meanwhile, plus what the kernel had not freed yet.`,
    '',
    ...mountNote(r),
    '## `run -d` and `ps` as containers accumulate',
    '',
    `\`run -d\`: the first 10 ${f(median(first10), 1)} ms (median), the last 10 ${f(median(last10), 1)} ms (median) — ${f(median(last10) / median(first10), 2)}×. \`ps\` with ${costs[0]!.containers} rows ${psAt(r.checkpoints[0]!)}, with ${last.psRows} rows ${psAt(last)} (the service's own time: ${f(median((r.serviceMs?.['ps'] ?? []).slice(0, 5)), 1)} and ${f(median((r.serviceMs?.['ps'] ?? []).slice(5 * (r.checkpoints.length - 1), 5 * r.checkpoints.length)), 1)} ms).`,
    '',
    mdTable([['containers', 'run -d median (ms)', 'p90', 'max', 'the service\'s own time, median (ms)'], ...runBuckets(r.runMs, r.serviceMs?.['run -d'] ?? [])]),
    '',
    '## Limits at 1000',
    '',
    mdTable([
      ['what', `in use at ${n}`, 'limit', 'note'],
      ['bridge ports', ports, '1023 per bridge', 'port numbers are 10 bits (BR_MAX_PORTS 1024, port 0 unused)'],
      [
        'containers past 1000',
        r.past.tried === 0 ? 'not tried' : `${r.past.made} more made of ${r.past.tried} tried`,
        '—',
        r.past.failure === undefined ? 'no failure' : `container ${r.past.failure.index} failed (exit ${r.past.failure.exitCode}): ${r.past.failure.message.replace(/\n/g, ' ').replace(/\|/g, '\\|')}${r.past.failure.leftBehind.length > 0 ? ` — left behind: ${r.past.failure.leftBehind.join(', ')}` : ''}`,
      ],
      ['mounts per mount namespace', `${f(last.mounts.firstLauncher, 0)} / ${f(last.mounts.firstInit, 0)} (the first container's launcher / init), ${f(last.mounts.machine, 0)} (the machine's)`, `${l['mountMax']} (fs.mount-max)`, mountsGrew(r) ? 'each container\'s mount namespace is a slave of the machine\'s: every later /run/netns/NAME mount propagates into all of them' : 'constant: the monitor gives each container an empty /run/netns of its own (native/nsnet-monitor.c leave_netns_handles), so the machine\'s netns mounts do not propagate into it'],
      ['/run/netns entries', String(l['runNetnsEntries']), '—', 'the whole machine\'s'],
      ['service descriptors', String(last.service?.fds ?? '—'), String(last.service?.fdLimit ?? '—'), ''],
      ['monitor descriptors', `${f(last.monitors.fds.median, 0)} each`, '—', ''],
      ['inotify instances (nsnet\'s processes)', String(last.inotifyInstances), `${l['inotifyMaxUserInstances']} per user`, ''],
      ['processes (machine)', String(l['processes']), `pid_max ${l['pidMax']}, threads-max ${l['threadsMax']}`, `${n} containers are ${last.monitors.count + last.inits.count} processes`],
      ['open files (machine)', String(l['openFiles']), String(l['fileMax']), ''],
      ['neighbour entries (sandbox host namespace)', `IPv4 ${last.neighbours.ipv4}, IPv6 ${last.neighbours.ipv6}`, `gc_thresh1/2/3 ${l['neighGcThresh1']}/${l['neighGcThresh2']}/${l['neighGcThresh3']}`, 'one table counted across all namespaces; idle `sleep` containers resolve nothing (see below)'],
      ['network / mount / pid namespaces', `${n} / ${last.inits.mountNamespaces ?? '—'} / ${n}`, `${l['maxNetNamespaces']} / ${l['maxMntNamespaces']} / ${l['maxPidNamespaces']} (user.max_*_namespaces)`, ''],
    ]),
    '',
    `Neighbour entries: the kernel has one ARP table for all network namespaces, and gc_thresh3 (${l['neighGcThresh3']}) caps the entries it holds across all of them. These \`sleep\` containers send nothing, so none were made; ${n} containers that all talk to their gateway make at least ${2 * n} (one in each container, one on the host's bridge per container): past gc_thresh3, new neighbour entries are refused once forced garbage collection frees none (\`neighbour: arp_cache: neighbor table overflow!\`) on the whole machine. Not exercised here, since that would disturb the machine's own network; a host that runs ${n} busy containers raises net.ipv4.neigh.default.gc_thresh1/2/3 (Docker and Kubernetes hosts do).`,
    '',
    '## Removal and residue',
    '',
    `\`nsnet rm -f\` in batches of ${r.removal.batch}: ${r.removal.batchMs.map((ms) => f(ms, 0)).join(', ')} ms (the service's own time: ${(r.serviceMs?.['rm -f'] ?? []).slice(-r.removal.batchMs.length).map((ms) => f(ms, 0)).join(', ')} ms) (${f(r.removal.batchMs.reduce((a, b) => a + b, 0) / Math.max(1, r.runMs.length + r.past.made), 1)} ms per container), then \`system reset --force\` ${f(r.removal.resetMs, 0)} ms.`,
    `Left afterwards: ${clean ? 'nothing' : 'SOMETHING'} — namespaces ${res.namespaces.length}, links ${res.links.length}${res.links.length > 0 ? ` (${res.links.slice(0, 5).join(', ')})` : ''}, nftables tables ${res.nftTables.length}, processes ${res.processes.length}, mounts ${res.mountsLeft.length} (the machine's mount namespace holds ${res.mountsAfter}, ${res.mountsBefore} before: other sessions' namespaces come and go), state root ${res.rootRemoved ? 'removed' : 'still there'} (it held ${res.rootEntries.join(', ') || 'nothing'} after the reset).`,
    '',
    `Section time ${f(r.durationS, 0)} s.`,
    '',
  ].join('\n');
}

/** Whether the first container's namespace held more mounts at the end than when it started (other containers' netns mounts reached it). */
function mountsGrew(r: ScaleResult): boolean {
  const first = r.checkpoints[1];
  const last = r.checkpoints[r.checkpoints.length - 1];
  return first !== undefined && last !== undefined && last.mounts.firstInit > first.mounts.firstInit + 1;
}

/** What the mounts cost: the mount objects the kernel holds, and why they grow with the square of the containers. */
function mountNote(r: ScaleResult): string[] {
  if (!mountsGrew(r)) return [];
  const first = r.checkpoints[1];
  const last = r.checkpoints[r.checkpoints.length - 1]!;
  const mnt = last.slabGrowth?.find(([cache]) => cache === 'mnt_cache')?.[1];
  if (first === undefined || mnt === undefined) return [];
  const n = last.containers;
  return [
    `Mounts: ${n} containers have ${last.inits.mountNamespaces ?? '—'} mount namespaces of their own; the first container's held ${f(first.mounts.firstInit, 0)} mounts when it started and ${f(last.mounts.firstInit, 0)} at ${n} containers `,
    `(the machine's: ${f(first.mounts.machine, 0)} and ${f(last.mounts.machine, 0)}). Each is a slave of the machine's /run/netns (shared), so every later \`/run/netns/NAME\` mount propagates into every existing container's namespace and n containers hold about n × (base + n) mounts, `,
    `O(n²): the mount objects (mnt_cache) alone grew ${f(mnt / 2 ** 20, 0)} MiB at ${n} containers, with per-CPU counters besides (Percpu). Each \`run -d\` (one netns mount) and each \`rm\` (its unmount) also visits all of them. `,
    'The monitor of this build does not stop it: a container that needs no other namespace\'s handle gets an empty /run/netns of its own (native/nsnet-monitor.c leave_netns_handles).',
    '',
  ];
}

export function scaleJson(r: ScaleResult): Record<string, unknown> {
  const { base, costs, noise, residual } = scaleFigures(r);
  return {
    target: r.target,
    targets: { monitorMaxKiB: MONITOR_MAX_KIB, totalMaxMiB: TOTAL_MAX_MIB },
    baseline: base,
    noise,
    residualAfterCleanup: residual,
    checkpoints: r.checkpoints.map((c, i) => ({ ...c, cost: costs[i] })),
    runMs: r.runMs.map((x) => Math.round(x * 100) / 100),
    serviceMs: r.serviceMs,
    past: r.past,
    removal: r.removal,
    residue: r.residue,
    monitorBinaryBytes: r.monitorBinaryBytes,
    loadAvg: r.loadAvg,
    durationS: r.durationS,
  };
}
