/**
 * The nsnet service against the in-process CLI, in one run (`node dist/bench/service.js`):
 * `ps`, `run -d -- sleep 1000`, `network connect` and `network inspect` through bin/nsnet with a
 * warm service and with NSNET_SERVICE=off (medians), the first call with no service running
 * against Node's own start, and the peak memory of the client and of the service.
 *
 * Each command is timed two ways: from a shell (bash forks and execs bin/nsnet; $EPOCHREALTIME
 * around it), which is what a user at a terminal pays, and from this Node process (spawnSync),
 * which adds the fork of a ~50 MB process (~1 ms, measured as the `true` floor of each way). Each
 * series starts from no containers (the previous series' are removed, untimed), so `ps` lists 0
 * to n-1 of them in every series.
 *
 * It runs in a throwaway sandbox namespace (src/kernel/sandbox.ts) with a fresh state root, and
 * measures the tree it is in (its bin/nsnet), or the checkout BENCH_SERVICE_REPO names (an A/B
 * against another build). Results: bench/results/service.{md,json} (only for the tree it is in).
 * Env: BENCH_SERVICE_N (warm runs per command, default 21), BENCH_SERVICE_OFF_N (default 7).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRepo, now } from './common.js';
import { createSandbox } from '../src/kernel/sandbox.js';

const REPO = findRepo();
const MEASURED = path.resolve(process.env['BENCH_SERVICE_REPO'] ?? REPO);
const NSNET = path.join(MEASURED, 'bin', 'nsnet');

interface Figures {
  /** Spawning `true` from this Node process. */
  floor: number;
  /** Running `true` from bash. */
  shellFloor: number;
  /** Warm service, timed from bash. */
  shell: Record<string, number>;
  /** Warm service, timed from this Node process. */
  warm: Record<string, number>;
  off: Record<string, number>;
  nodeStart: number;
  firstCall: number;
  clientPeakKiB: number;
  servicePeakKiB: number;
  serviceRssKiB: number;
  n: number;
  offN: number;
}

const TARGETS: Record<string, number> = { 'run -d': 15, ps: 5, 'network connect': 10, 'network inspect': 5 };

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
};

/** Inside the sandbox's host namespace: every measurement, as JSON on stdout. */
function inner(root: string): Figures {
  const env = { ...process.env, NSNET_ROOT: root };
  const off = { ...env, NSNET_SERVICE: 'off' };
  const run = (argv: readonly string[], e: NodeJS.ProcessEnv = env): number => {
    const t0 = now();
    const r = spawnSync(argv[0]!, argv.slice(1), { env: e, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    const ms = now() - t0;
    if (r.status !== 0) throw new Error(`${argv.join(' ')} → ${r.status ?? r.signal}: ${r.stderr}`);
    return ms;
  };
  const record = path.join(root, 'service', `net-${fs.statSync('/proc/self/ns/net').ino}.pid`);
  const service = (): { pid: number; start: string } | undefined => {
    try {
      const r = JSON.parse(fs.readFileSync(record, 'utf8')) as { pid: number; start: string };
      return fs.existsSync(`/proc/${r.pid}`) ? r : undefined;
    } catch {
      return undefined;
    }
  };
  const waitFor = (ok: () => boolean, what: string): void => {
    for (let i = 0; i < 400 && !ok(); i++) spawnSync('sleep', ['0.025']);
    if (!ok()) throw new Error(`timed out waiting for ${what}`);
  };
  const n = Number(process.env['BENCH_SERVICE_N'] ?? 21);
  const offN = Number(process.env['BENCH_SERVICE_OFF_N'] ?? 7);
  run([NSNET, 'network', 'create', '--subnet', '10.99.0.0/16', 'bnet']);
  waitFor(() => service() !== undefined, 'the service to start');
  const floor = median(Array.from({ length: n }, () => run(['true'])));
  /** One series: per round ps, run -d, network inspect, network connect, in this order; their argv. */
  const series = (count: number, tag: string): [string, string[]][] =>
    Array.from({ length: count }, (_, i): [string, string[]][] => [
      ['ps', [NSNET, 'ps']],
      ['run -d', [NSNET, 'run', '-d', '--name', `${tag}${i}`, '--', 'sleep', '1000']],
      ['network inspect', [NSNET, 'network', 'inspect', 'bnet']],
      ['network connect', [NSNET, 'network', 'connect', 'bnet', `${tag}${i}`]],
    ]).flat();
  const medians = (timed: [string, number][]): Record<string, number> => {
    const t: Record<string, number[]> = {};
    for (const [k, ms] of timed) (t[k] ??= []).push(ms);
    return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]));
  };
  const removeAll = (tag: string, count: number): void => void run([NSNET, 'rm', '-f', ...Array.from({ length: count }, (_, i) => `${tag}${i}`)]);
  const measure = (count: number, e: NodeJS.ProcessEnv, tag: string): Record<string, number> => {
    const timed = series(count, tag).map(([k, argv]): [string, number] => [k, run(argv, e)]);
    removeAll(tag, count);
    return medians(timed);
  };
  /** The same series from bash: fork and exec as a shell does, timed with $EPOCHREALTIME (µs). */
  const fromShell = (commands: [string, string[]][]): [string, number][] => {
    const q = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
    const script = ['set -e', ...commands.map(([, argv]) => `t0=$EPOCHREALTIME; ${argv.map(q).join(' ')} >/dev/null; t1=$EPOCHREALTIME; echo "$t0 $t1"`)].join('\n');
    const r = spawnSync('bash', ['-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 16 << 20 });
    if (r.status !== 0) throw new Error(`bash series → ${r.status ?? r.signal}: ${r.stderr}`);
    const lines = r.stdout.trim().split('\n');
    return commands.map(([k], i) => {
      // $EPOCHREALTIME is written with the locale's decimal point.
      const [t0, t1] = lines[i]!.replace(/,/g, '.').split(' ').map(Number);
      return [k, (t1! - t0!) * 1000];
    });
  };
  const shellFloor = median(fromShell(Array.from({ length: n }, (): [string, string[]] => ['true', ['/bin/true']])).map(([, ms]) => ms));
  const shell = medians(fromShell(series(n, 's')));
  removeAll('s', n);
  const warm = measure(n, env, 'w');
  const offFigures = measure(offN, off, 'o');
  // The first call with no service: in-process, then it starts the service for the next one.
  const nodeStart = median(Array.from({ length: 5 }, () => run([process.execPath, '-e', '0'])));
  const first: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = service();
    if (s !== undefined) {
      process.kill(s.pid, 'SIGTERM');
      waitFor(() => !fs.existsSync(`/proc/${s.pid}`) || fs.readFileSync(`/proc/${s.pid}/stat`, 'utf8').includes(') Z '), 'the service to stop');
    }
    first.push(run([NSNET, 'ps']));
    waitFor(() => service() !== undefined, 'the service to start again');
  }
  // Peak memory: the client (GNU time's maximum resident set) and the service (VmHWM).
  run([NSNET, 'ps']);
  const t = spawnSync('/usr/bin/time', ['-f', '%M', NSNET, 'ps'], { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const clientPeakKiB = Number(t.stderr.trim().split('\n').pop());
  const status = fs.readFileSync(`/proc/${service()!.pid}/status`, 'utf8');
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  run([NSNET, 'system', 'reset', '--force']);
  return { floor, shellFloor, shell, warm, off: offFigures, nodeStart, firstCall: median(first), clientPeakKiB, servicePeakKiB: kib('VmHWM'), serviceRssKiB: kib('VmRSS'), n, offN };
}

/** Field of /proc/self/stat after the command name (0: state). */
function ownStat(field: number): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[field]);
}

/** SCHED_FIFO or SCHED_RR (chrt), which a loaded machine's run may use to shield the measured processes: said in the results. */
function realtime(): string | undefined {
  const policy = ownStat(38);
  return policy === 1 ? 'SCHED_FIFO, `chrt -f`' : policy === 2 ? 'SCHED_RR, `chrt -r`' : undefined;
}

function markdown(f: Figures, loadBefore: number): string {
  const load = os.loadavg()[0]!.toFixed(1);
  const nice = ownStat(16);
  const policy = realtime();
  const rt =
    policy !== undefined
      ? ` Run under a real-time scheduling policy (${policy}), which every measured process inherited, to shield it from the machine\'s other load (with SCHED_FIFO, Node's threads at one priority can starve each other: SCHED_RR).`
      : nice < 0
        ? ` Run at nice ${nice} (\`nice -n ${nice}\`), which every measured process inherited, for a larger share of the loaded machine\'s CPUs.`
        : '';
  const verdict = (ms: number, k: string): string => (ms <= TARGETS[k]! ? 'met' : 'MISSED');
  const rows = Object.keys(TARGETS).map((k) => {
    const sh = f.shell[k]!;
    const w = f.warm[k]!;
    const o = f.off[k]!;
    return `| \`nsnet ${k}\` | ${sh.toFixed(1)} ms | ${w.toFixed(1)} ms | ${o.toFixed(1)} ms | ${(o / w).toFixed(1)}× | ≤ ${TARGETS[k]} ms: ${verdict(sh, k)} from a shell, ${verdict(w, k)} from Node |`;
  });
  const firstOver = f.firstCall - f.nodeStart;
  return [
    `# nsnet service benchmark`,
    '',
    `${new Date().toISOString()}, ${os.cpus().length} CPUs, load average ${loadBefore.toFixed(1)} at the start and ${load} at the end; medians of ${f.n} warm runs and ${f.offN} in-process runs per command,`,
    `measured as a process's wall time from spawn to exit, from inside the sandbox's network namespace, two ways: from a shell (bash forks and execs`,
    `bin/nsnet, timed with \`$EPOCHREALTIME\`; running \`/bin/true\` this way takes ${f.shellFloor.toFixed(1)} ms and is included) and from the bench's Node process`,
    `(spawnSync, which forks a ~50 MB process; spawning \`true\` takes ${f.floor.toFixed(1)} ms and is included). Each series starts with no containers: \`ps\` lists 0 to ${f.n - 1}.${rt}`,
    '',
    '| command | warm service, from a shell | warm service, from Node | NSNET_SERVICE=off, from Node | speed-up (Node) | target |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    `First call with no service (in-process, then it starts the service): ${f.firstCall.toFixed(1)} ms; \`node -e 0\` ${f.nodeStart.toFixed(1)} ms: node start + ${firstOver.toFixed(1)} ms (target ≤ + 150 ms: ${firstOver <= 150 ? 'met' : 'MISSED'}).`,
    '',
    `Memory: client peak ${(f.clientPeakKiB / 1024).toFixed(2)} MB (target ≤ 2 MB: ${f.clientPeakKiB <= 2048 ? 'met' : 'MISSED'}); service peak ${(f.servicePeakKiB / 1024).toFixed(1)} MB, resident ${(f.serviceRssKiB / 1024).toFixed(1)} MB at the end (target ≤ 80 MB: ${f.servicePeakKiB <= 80 * 1024 ? 'met' : 'MISSED'}).`,
    '',
  ].join('\n');
}

function main(): void {
  if (process.argv[2] === '--inner') {
    process.stdout.write(JSON.stringify(inner(process.argv[3]!)) + '\n');
    return;
  }
  const sandbox = createSandbox('nsbsvc');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-bench-service-'));
  const loadBefore = os.loadavg()[0]!;
  try {
    const r = spawnSync('nsenter', [`--net=/run/netns/${sandbox.hostNs}`, process.execPath, fileURLToPath(import.meta.url), '--inner', root], { encoding: 'utf8', maxBuffer: 16 << 20 });
    if (r.status !== 0) throw new Error(`the measuring process failed (${r.status ?? r.signal}): ${r.stderr}`);
    const figures = JSON.parse(r.stdout.trim().split('\n').pop()!) as Figures;
    const md = markdown(figures, loadBefore);
    if (MEASURED === REPO) {
      const out = path.join(REPO, 'bench', 'results');
      fs.mkdirSync(out, { recursive: true });
      fs.writeFileSync(path.join(out, 'service.md'), md);
      fs.writeFileSync(path.join(out, 'service.json'), JSON.stringify(figures, null, 2) + '\n');
    } else process.stdout.write(`(measured ${MEASURED})\n`);
    process.stdout.write(md);
    process.stdout.write(JSON.stringify({ shell: figures.shell, warm: figures.warm }) + '\n');
  } finally {
    // Whatever the reset left (a failed run): nsnet in-process, then the namespaces and the root.
    spawnSync('nsenter', [`--net=/run/netns/${sandbox.hostNs}`, NSNET, '--root', root, 'system', 'reset', '--force'], { env: { ...process.env, NSNET_SERVICE: 'off' }, stdio: 'ignore' });
    sandbox.destroy();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main();
