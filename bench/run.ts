/**
 * `npm run bench`: the orchestrator. It runs in the machine's namespace but changes nothing there:
 * it makes a sandbox (a "host" namespace with an uplink to a "world" namespace, both new), starts
 * every worker inside the sandbox host namespace with `nsenter --net`, collects their JSON, and
 * writes bench/results/latest.{json,md,svg}. Everything it made goes away at the end, also on
 * failure or ^C: processes (by PID, only those inside its own namespaces), namespaces, state dirs.
 *
 * Env: BENCH_N="1,50,200,1000" (N list), BENCH_METHODS="floor,byhand,cli,lib-kernel,lib-run",
 *      BENCH_CLI_MAX_N (default 200; "none" for no cap) / BENCH_BYHAND_MAX_N (default no cap),
 *      BENCH_IPERF_SECONDS=4, BENCH_IPERF_ROUNDS=5, BENCH_FIREWALL_N (default: the largest N),
 *      BENCH_PORT_REPS=100 (run() pairs with/without -p), BENCH_QUICK=1 (skip extras),
 *      BENCH_ONLY=extras (skip the attach/detach matrix) and BENCH_EXTRAS=ports,iperf (only the extras
 *      whose label contains one of these words), for trying parts of the benchmark,
 *      BENCH_FROM=head (default: measure a private build of the committed HEAD, so concurrent edits
 *      and rebuilds of the shared dist/ cannot change the code mid-run) or worktree (this dist/),
 *      BENCH_CNI_N=40 (containers per plugin in the CNI section),
 *      BENCH_DOCKER_N=20 (docker run -d per daemon in the Docker-API section; docker ps lists one more),
 *      BENCH_DOCKER_REPS=21 (rounds of docker load there, one call per daemon each),
 *      BENCH_DOCKER_PS_REPS=401 (rounds of docker ps there: cheap calls; the daemons differ by
 *      ~1 ms of a ~30 ms command whose own start varies by ±5 ms, and 401 rounds put the 95%
 *      confidence interval of the per-round difference within about ±0.5 ms),
 *      BENCH_SCALE_N="1,100,500,1000" (the scale section's checkpoints; the largest is how many
 *      detached containers it starts), BENCH_SCALE_PAST=1030 (how far past them it tries; 0: not).
 * Args: `--only cni` (or any words, comma-separated: only the extras whose label contains one;
 *      "matrix" keeps the attach/detach matrix) is shorthand for BENCH_ONLY/BENCH_EXTRAS.
 * A partial run (--only, BENCH_ONLY, BENCH_EXTRAS, BENCH_QUICK) writes bench/results/partial.*
 * and leaves latest.* (the committed full run) alone.
 * Exit code 1 when anything failed, and when a target could not be measured: a tool missing
 * (iperf3, strace, the CNI plugins: scripts/setup.sh installs them) fails the section that needs
 * it, and a full run fails for every target left "not measured", each named with the reason.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findRepo, METHODS, now, type Method, type WorkerResult } from './common.js';
import { buildReport, type Extras, type Machine } from './report.js';
import { createSandbox, type Sandbox } from '../src/kernel/sandbox.js';
import type { Job } from './jobs/job.js';
import type { DockerApiResult } from './jobs/docker-api.js';
import { cgroupParentFor, dockerdNetnsFor, killLeftovers, machineSnapshot, removeCgroups, snapshotChanges } from './jobs/dockerd.js';
import { dockerApiJson, dockerApiReport } from './report/docker-api.js';
import type { ScaleResult } from './jobs/scale.js';
import { scaleJson, scaleReport } from './report/scale-memory.js';

const REPO = findRepo();
const RESULTS = path.join(REPO, 'bench', 'results');
/** The tree the workers and the CLI run from: a private build of HEAD (see prepareSnapshot). */
let CODE = REPO;
const worker = (): string => path.join(CODE, 'dist', 'bench', 'worker.js');

const log = (msg: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function envList(name: string, fallback: string): string[] {
  return (process.env[name] ?? fallback).split(',').map((s) => s.trim()).filter((s) => s !== '');
}

// ---------------------------------------------------------------------------------------------
// what we made, and how it all goes away

const prefix = `nb${randomBytes(2).toString('hex')}`;
let tmp: string | undefined;
let sandbox: Sandbox | undefined;
const workers = new Set<ChildProcess>();
let cleaned = false;
/** The Docker-API section's dockerd sandboxes (namespace, cgroup parent): whatever a killed worker left there goes too. */
const dockerdSandboxes: Array<{ netns: string; cgroupParent: string }> = [];

function ourNamespaces(): string[] {
  try {
    return fs.readdirSync('/run/netns').filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}

/** Kill, by PID, every process whose network namespace is one we made (never our own process). */
function killOurProcesses(): number {
  const inodes = new Set<number>();
  for (const n of ourNamespaces()) {
    try {
      inodes.add(fs.statSync(`/run/netns/${n}`).ino);
    } catch {
      /* gone */
    }
  }
  if (inodes.size === 0) return 0;
  let killed = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let link: string;
    try {
      link = fs.readlinkSync(`/proc/${entry}/ns/net`);
    } catch {
      continue;
    }
    const m = /^net:\[(\d+)\]$/.exec(link);
    if (m !== null && inodes.has(Number(m[1]))) {
      try {
        process.kill(Number(entry), 'SIGKILL');
        killed++;
      } catch {
        /* gone */
      }
    }
  }
  return killed;
}

function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  for (const w of workers) {
    if (w.pid !== undefined && w.exitCode === null) {
      try {
        process.kill(w.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  for (let i = 0; i < 3 && killOurProcesses() > 0; i++) spawnSync('sleep', ['0.2']);
  for (const d of dockerdSandboxes) {
    killLeftovers(d.netns, d.cgroupParent);
    const left = removeCgroups(d.cgroupParent);
    if (left.length > 0) log(`WARNING: dockerd's cgroups left: ${left.join(', ')}`);
  }
  const sandboxNames = sandbox === undefined ? [] : [sandbox.hostNs, sandbox.worldNs];
  for (const n of ourNamespaces()) if (!sandboxNames.includes(n)) spawnSync('ip', ['netns', 'del', n]);
  sandbox?.destroy();
  for (const n of ourNamespaces()) spawnSync('ip', ['netns', 'del', n]);
  if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
  const left = ourNamespaces();
  if (left.length > 0) log(`WARNING: namespaces left behind: ${left.join(', ')}`);
}

process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    log(`${sig}: cleaning up`);
    cleanup();
    process.exit(130);
  });
}

// ---------------------------------------------------------------------------------------------
// workers

let jobCounter = 0;
let octet = 20;

function nextJob(fields: Omit<Job, 'prefix' | 'octet' | 'root' | 'repo'>): Job {
  const id = (jobCounter++).toString(36);
  const root = path.join(tmp!, `root-${id}`);
  fs.mkdirSync(root, { recursive: true });
  const j: Job = { ...fields, prefix: `${prefix}${id}`, octet, root, repo: CODE };
  octet += 2;
  return j;
}

/** Run a worker inside the sandbox host namespace; resolves to its JSON. */
function runWorker<T>(j: Job, opts: { timeoutMs: number; wrap?: string[] } = { timeoutMs: 900_000 }): Promise<T> {
  const argv = ['--net=/run/netns/' + sandbox!.hostNs, ...(opts.wrap ?? []), process.execPath, worker(), JSON.stringify(j)];
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    workers.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, opts.timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      workers.delete(child);
      // whatever the worker left behind (a killed worker leaves its containers running), and the
      // DNS responder nsnet starts for a job's networks (it runs in the sandbox host namespace)
      killStrays(j.prefix);
      killResponders(j.root);
      if (code !== 0) return reject(new Error(`worker ${j.job} ${j.method ?? ''} N=${j.n ?? ''} failed (${code ?? signal}): ${err.trim().slice(-2000)}`));
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as T);
      } catch {
        reject(new Error(`worker ${j.job}: no JSON on stdout: ${out.slice(-500)} ${err.slice(-500)}`));
      }
    });
  });
}

/** Kill one process by PID, only when it lives in the sandbox host namespace (a responder nsnet left). */
function killInSandbox(pid: number): void {
  try {
    const ino = fs.statSync(`/run/netns/${sandbox!.hostNs}`).ino;
    if (fs.readlinkSync(`/proc/${pid}/ns/net`) === `net:[${ino}]`) process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** Kill, by PID, nsnet's background processes of one job (DNS responder, CNI service): in the sandbox host namespace, with its state root. */
function killResponders(root: string): void {
  let ino: number;
  try {
    ino = fs.statSync(`/run/netns/${sandbox!.hostNs}`).ino;
  } catch {
    return;
  }
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readlinkSync(`/proc/${entry}/ns/net`) !== `net:[${ino}]`) continue;
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if ((argv.includes('dns-serve') || argv.includes('cni-service') || argv.includes('service')) && argv.includes(root)) process.kill(Number(entry), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** PIDs of the processes (not this one) with `arg` as one of their arguments. */
function processesWithArg(arg: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(arg)) pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** After a worker: namespaces with its prefix still there mean it failed half-way; remove them. */
function killStrays(jobPrefix: string): void {
  const left = ourNamespaces().filter((n) => n.startsWith(jobPrefix) && !n.endsWith('-host') && !n.endsWith('-world'));
  if (left.length === 0) return;
  log(`cleaning ${left.length} namespaces left by ${jobPrefix}`);
  const inodes = new Set(left.map((n) => fs.statSync(`/run/netns/${n}`).ino));
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const m = /^net:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${entry}/ns/net`));
      if (m !== null && inodes.has(Number(m[1]))) process.kill(Number(entry), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const n of left) spawnSync('ip', ['netns', 'del', n]);
}

// ---------------------------------------------------------------------------------------------

/** Whether `tool` is on PATH (the workers run the same tools, in the sandbox's network namespace only). */
function onPath(tool: string): boolean {
  return spawnSync('which', [tool]).status === 0;
}

/** What to say when a tool the benchmark needs is missing. */
const notFound = (tool: string): string => `${tool} not found; run scripts/setup.sh`;

/**
 * A target this run cannot measure (a tool is missing, a measurement came back empty): it fails
 * the run, named with the reason, rather than being reported as "not measured" and passing.
 */
class Unmeasurable extends Error {
  constructor(target: string, reason: string) {
    super(`${target}: ${reason}`);
  }
}

function cmdOut(argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  return ((r.stdout ?? '') + (r.stderr ?? '')).trim();
}

/**
 * Build HEAD in a private directory (git archive + tsc + bundle, node_modules linked) and run
 * everything from there: other people rebuilding the shared dist/ mid-run cannot mix versions.
 */
function prepareSnapshot(): { code: string; source: string } {
  if ((process.env['BENCH_FROM'] ?? 'head') === 'worktree') return { code: REPO, source: 'working tree (this dist/)' };
  const snap = path.join(tmp!, 'code');
  fs.mkdirSync(snap);
  const tar = path.join(tmp!, 'head.tar');
  const run = (argv: string[], cwd = REPO): ReturnType<typeof spawnSync> => spawnSync(argv[0]!, argv.slice(1), { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const a = run(['git', 'archive', '--format=tar', '-o', tar, 'HEAD']);
  if (a.status !== 0) throw new Error(`git archive: ${String(a.stderr)}`);
  const x = run(['tar', '-xf', tar, '-C', snap]);
  if (x.status !== 0) throw new Error(`tar: ${String(x.stderr)}`);
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(snap, 'node_modules'));
  const t = run([process.execPath, path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(snap, 'tsconfig.json')], snap);
  if (t.status !== 0) log(`tsc reported errors building HEAD (output is still emitted): ${String(t.stdout).split('\n').slice(0, 3).join(' | ')}`);
  const b = run([process.execPath, 'scripts/bundle.mjs'], snap);
  if (b.status !== 0) log(`bundle failed (bin/nsnet falls back to dist/src): ${String(b.stderr).slice(0, 300)}`);
  // The nsnet-cni C client (its checkout path is built in: this snapshot's bin/nsnet is its fallback).
  if (fs.existsSync(path.join(snap, 'scripts', 'build-native.sh'))) {
    const c = run(['sh', 'scripts/build-native.sh'], snap);
    if (c.status !== 0) log(`building bin/nsnet-cni failed (the CNI section will say so): ${String(c.stderr).slice(0, 300)}`);
  }
  for (const f of ['dist/bench/worker.js', 'dist/src/cli/main.js', 'bin/nsnet']) {
    if (!fs.existsSync(path.join(snap, f))) throw new Error(`building HEAD did not produce ${f}`);
  }
  return { code: snap, source: 'HEAD, built privately (git archive + tsc + bundle); uncommitted changes are not measured' };
}

function machineFacts(): Machine {
  const commit = cmdOut(['git', '-C', REPO, 'rev-parse', 'HEAD']);
  const dirtySrc = cmdOut(['git', '-C', REPO, 'status', '--porcelain', '--', 'src']);
  return {
    kernel: os.release(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    nsnetCommit: commit,
    srcDirty: dirtySrc === '' ? [] : dirtySrc.split('\n'),
    iproute2: cmdOut(['ip', '-V']),
    nft: cmdOut(['nft', '--version']),
    iperf3: onPath('iperf3') ? cmdOut(['iperf3', '--version']).split('\n')[0] ?? '' : 'missing',
    date: new Date().toISOString(),
  };
}

/** src/ files changed between the commit the hand-written notes were checked against and the measured one. */
function srcChangedSince(commit: string, measured: string): string[] | null {
  const r = spawnSync('git', ['-C', REPO, 'diff', '--name-only', `${commit}..${measured}`, '--', 'src'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').filter((l) => l !== '') : null;
}

/** Processes other than ours using the CPU at the end of the run (ps), for the noise note. */
function otherCpuHogs(): string[] {
  const r = spawnSync('ps', ['-eo', 'pcpu,comm', '--sort=-pcpu', '--no-headers'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '' && Number(l.split(/\s+/)[0]) >= 5).slice(0, 6);
}

async function noChildCheck(): Promise<NonNullable<Extras['noChild']>> {
  if (!onPath('strace')) return { checked: false, note: notFound('strace') };
  const trace = path.join(tmp!, 'nochild.strace');
  const j = nextJob({ job: 'attach', method: 'lib-kernel', n: 20, markers: true });
  await runWorker<WorkerResult>(j, { timeoutMs: 120_000, wrap: ['strace', '-f', '-qq', '-e', 'trace=process,write', '-o', trace] });
  const lines = fs.readFileSync(trace, 'utf8').split('\n');
  const begin = lines.findIndex((l) => l.includes('MARK-BEGIN'));
  const end = lines.findIndex((l) => l.includes('MARK-END'));
  if (begin < 0 || end < 0) return { checked: false, note: 'markers not found in the strace output' };
  const inside = lines.slice(begin, end);
  const spawns = inside.filter(
    (l) => /\b(execve|execveat|fork|vfork)\(/.test(l) || (/\bclone3?\(/.test(l) && !l.includes('CLONE_THREAD')),
  );
  return { checked: true, containers: 20, childProcesses: spawns.length, note: spawns.slice(0, 3).join(' | ') };
}

/** Features the benchmark cannot measure yet: looked up in the CLI's help, so a new one is not silently reported as missing. */
function features(): Extras['features'] {
  const help = (args: string[]): string => {
    const r = spawnSync(path.join(CODE, 'bin', 'nsnet'), [...args, '--help'], { encoding: 'utf8', env: { ...process.env, NSNET_ROOT: tmp } });
    return (r.stdout ?? '') + (r.stderr ?? '');
  };
  const runHelp = help(['run']);
  const netHelp = help(['network', 'create']);
  const all = help([]);
  return {
    ports: /--publish|-p, /.test(runHelp),
    // The responder comes with run --dns (and a hidden dns-serve command).
    dns: /--dns\b/.test(runHelp) || /\bdns\b/i.test(all),
    iptables: /iptables/i.test(all + netHelp),
  };
}

const USAGE = `usage: node dist/bench/run.js [--only WORD[,WORD...]]   (as root; npm run bench builds first)
  --only WORDS   only the extras whose label contains one of the words (cni, ports, iperf, dns, ...);
                 "matrix" keeps the attach/detach matrix. A partial run writes bench/results/partial.*
  env: BENCH_N, BENCH_METHODS, BENCH_CLI_MAX_N, BENCH_BYHAND_MAX_N, BENCH_QUICK=1, BENCH_ONLY=extras,
       BENCH_EXTRAS, BENCH_FROM=head|worktree, BENCH_IPERF_SECONDS, BENCH_IPERF_ROUNDS,
       BENCH_FIREWALL_N, BENCH_PORT_REPS, BENCH_CNI_N, BENCH_DOCKER_N, BENCH_DOCKER_REPS,
       BENCH_DOCKER_PS_REPS, BENCH_SCALE_N, BENCH_SCALE_PAST (see the head of bench/run.ts)
  exit 1 when a section failed or a target could not be measured (each named with the reason)`;

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (process.getuid?.() !== 0) {
    log('needs root (namespaces, bridges); nothing was done');
    process.exit(1);
  }
  const t0 = now();
  const ns = envList('BENCH_N', '1,50,200,1000').map(Number).filter((x) => Number.isInteger(x) && x > 0);
  const methods = envList('BENCH_METHODS', METHODS.join(',')).filter((m): m is Method => (METHODS as readonly string[]).includes(m));
  const caps: Partial<Record<Method, number>> = {};
  // The CLI costs ~0.3 s per container (run + rm): N=1000 alone would take 5 minutes on 2 cores.
  const cliCap = process.env['BENCH_CLI_MAX_N'] ?? '200';
  if (cliCap !== 'none') caps.cli = Number(cliCap);
  if (process.env['BENCH_BYHAND_MAX_N'] !== undefined) caps.byhand = Number(process.env['BENCH_BYHAND_MAX_N']);
  const quick = process.env['BENCH_QUICK'] === '1';
  const onlyArg = process.argv.indexOf('--only');
  if (onlyArg >= 0) {
    const words = (process.argv[onlyArg + 1] ?? '').split(',').map((w) => w.trim()).filter((w) => w !== '');
    if (words.length === 0) throw new Error('--only needs a word: cni, ports, iperf, ... (labels of the extras), or matrix');
    if (!words.includes('matrix')) process.env['BENCH_ONLY'] = 'extras';
    const extrasWords = words.filter((w) => w !== 'matrix');
    process.env['BENCH_EXTRAS'] = extrasWords.length > 0 ? extrasWords.join(',') : 'none-selected';
  }
  const partial = quick || process.env['BENCH_ONLY'] !== undefined || process.env['BENCH_EXTRAS'] !== undefined;

  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-bench-'));
  const snapshot = prepareSnapshot();
  CODE = snapshot.code;
  log(`code under test: ${snapshot.source}`);
  sandbox = createSandbox(prefix);
  log(`sandbox ${sandbox.hostNs} / ${sandbox.worldNs}, state under ${tmp}; N = ${ns.join(',')}; methods = ${methods.join(',')}`);
  const machine = { ...machineFacts(), codeMeasured: snapshot.source, loadAvgStart: os.loadavg().map((x) => Math.round(x * 100) / 100) };

  // The machine is shared: sample the 1-minute load average every 10 s for the whole run.
  const loadSamples: number[] = [os.loadavg()[0]!];
  const loadTimer = setInterval(() => loadSamples.push(os.loadavg()[0]!), 10_000);
  loadTimer.unref();
  const runs: WorkerResult[] = [];
  const errors: string[] = [];
  const matrix = process.env['BENCH_ONLY'] === 'extras' ? [] : ns;
  for (const n of matrix) {
    for (const method of methods) {
      const cap = caps[method];
      if (cap !== undefined && n > cap) {
        log(`skip ${method} N=${n} (cap ${cap})`);
        continue;
      }
      const a = now();
      try {
        const r = await runWorker<WorkerResult>(nextJob({ job: 'attach', method, n }));
        runs.push(r);
        const med = [...r.attachMs].sort((x, y) => x - y)[Math.floor(r.attachMs.length / 2)] ?? NaN;
        log(`${method.padEnd(10)} N=${String(n).padEnd(5)} attach median ${med.toFixed(2)} ms, total ${((now() - a) / 1000).toFixed(1)} s${r.notes.length ? ' — ' + r.notes.slice(0, 3).join('; ') : ''}`);
      } catch (err) {
        errors.push((err as Error).message);
        log(`${method} N=${n} FAILED: ${(err as Error).message}`);
      }
      spawnSync('sleep', ['0.5']); // let the kernel finish freeing namespaces in the background
    }
  }

  const extras: Extras = { features: features() };
  const only = envList('BENCH_EXTRAS', '');
  const attempt = async (label: string, fn: () => Promise<void>): Promise<void> => {
    if (only.length > 0 && !only.some((w) => label.toLowerCase().includes(w.toLowerCase()))) return;
    const a = now();
    try {
      await fn();
      log(`${label}: done in ${((now() - a) / 1000).toFixed(1)} s`);
    } catch (err) {
      errors.push(err instanceof Unmeasurable ? err.message : `${label}: ${(err as Error).message}`);
      log(`${label} FAILED: ${(err as Error).message}`);
    }
  };
  if (!quick) {
    await attempt('no-child check (strace)', async () => {
      extras.noChild = await noChildCheck();
      if (!extras.noChild.checked) throw new Unmeasurable('lib-attach', `no-child check: ${extras.noChild.note}`);
    });
    await attempt('CLI start-up and RSS', async () => void (extras.connect = await runWorker(nextJob({ job: 'connect', reps: 20 }))));
    await attempt('detach: veth vs namespace', async () => void (extras.vethDel = await runWorker(nextJob({ job: 'veth-del', reps: 30 }))));
    await attempt('netem set: one container vs many', async () => void (extras.netem = await runWorker(nextJob({ job: 'netem', n: 200, reps: 200 }), { timeoutMs: 300_000 })));
    await attempt('partition create/heal: two containers vs many', async () => void (extras.partition = await runWorker(nextJob({ job: 'partition', n: 200, reps: 200 }), { timeoutMs: 300_000 })));
    await attempt('dual-stack attach vs IPv4-only', async () => void (extras.attachDual = await runWorker(nextJob({ job: 'attach-dual', n: 50, reps: 100 }), { timeoutMs: 300_000 })));
    await attempt('per-container monitor memory', async () => void (extras.monitor = await runWorker(nextJob({ job: 'monitor', n: 20 }), { timeoutMs: 300_000 })));
    await attempt('scale: 1000 detached containers, memory and limits', async () => {
      const n = Math.max(...envList('BENCH_SCALE_N', '1,100,500,1000').map(Number).filter((x) => x > 0));
      const r = await runWorker<ScaleResult>(nextJob({ job: 'scale', n }), { timeoutMs: 1_800_000 });
      fs.mkdirSync(RESULTS, { recursive: true });
      fs.writeFileSync(path.join(RESULTS, 'scale-memory.md'), scaleReport(r, machine));
      fs.writeFileSync(path.join(RESULTS, 'scale-memory.json'), JSON.stringify(scaleJson(r), null, 2) + '\n');
      const left = r.residue;
      if (left.namespaces.length + left.links.length + left.nftTables.length + left.processes.length + left.mountsLeft.length > 0 || !left.rootRemoved) {
        throw new Error(`scale: left behind: ${JSON.stringify(left)}`);
      }
    });
    await attempt('nft element delete: fresh vs kept context', async () => void (extras.nftCtx = await runWorker(nextJob({ job: 'nft-ctx', reps: 40 }), { timeoutMs: 120_000 })));
    const drivers = extras.features?.iptables ? ['nftables', 'iptables'] : ['nftables'];
    // One published port (and 1000 mappings) per driver; a driver without port mappings says so.
    extras.ports = [];
    for (const driver of drivers) {
      await attempt(`published ports, ${driver} driver`, async () => {
        // iptables rewrites its chain with a process per change: fewer repetitions keep the run short.
        const nft = driver === 'nftables';
        const libReps = Number(process.env['BENCH_PORT_REPS'] ?? 100) / (nft ? 1 : 2);
        extras.ports!.push(await runWorker(nextJob({ job: 'ports', driver, reps: nft ? 300 : 100, n: nft ? 1000 : 200, libReps }), { timeoutMs: 600_000 }));
      });
    }
    // The 1000-container nftables figure is the lib-run N=1000 row; here, counts at 1, 10, 100, 200, 500.
    const fwN = Number(process.env['BENCH_FIREWALL_N'] ?? Math.min(500, Math.max(...ns)));
    extras.firewall = [];
    for (const driver of drivers) {
      await attempt(`rule counts, ${driver} driver, N=${fwN}`, async () => {
        extras.firewall!.push(await runWorker(nextJob({ job: 'firewall', driver, n: fwN })));
      });
    }
    await attempt('iperf3', async () => {
      if (!onPath('iperf3')) {
        extras.iperfSkipped = notFound('iperf3');
        throw new Unmeasurable('throughput', extras.iperfSkipped);
      }
      const seconds = Number(process.env['BENCH_IPERF_SECONDS'] ?? 4);
      const rounds = Number(process.env['BENCH_IPERF_ROUNDS'] ?? 5);
      extras.iperf = await runWorker(nextJob({ job: 'iperf', seconds, rounds }));
    });
    if (extras.features?.dns) {
      await attempt('DNS responder RSS', async () => {
        const r = await runWorker<NonNullable<Extras['dns']>>(nextJob({ job: 'dns', n: 20, reps: 2000 }), { timeoutMs: 300_000 });
        extras.dns = r;
        if (r.leftRunning === true && r.pid !== undefined) killInSandbox(r.pid);
        if (r.running !== true) throw new Unmeasurable('dns-rss', r.reason ?? 'the responder did not start');
      });
    }
    // Last: the reference bridge plugin runs iptables in the sandbox host namespace, and the rule
    // counts above expect none there.
    await attempt('CNI: nsnet-cni vs the bridge plugin', async () => {
      const r = await runWorker<NonNullable<Extras['cni']>>(nextJob({ job: 'cni', n: Number(process.env['BENCH_CNI_N'] ?? 40) }), { timeoutMs: 600_000 });
      extras.cni = r;
      for (const p of r.leftRunning ?? []) killInSandbox(p.pid);
      if (r.available !== true) throw new Unmeasurable('cni-add', `${r.reason ?? 'not measured'}; run scripts/setup.sh`);
    });
    await attempt('Docker API: nsnet serve vs dockerd', async () => {
      // dockerd runs in a sandbox of its own (bench/jobs/dockerd.ts); the machine's namespace is compared before and after.
      const before = machineSnapshot();
      const j = nextJob({ job: 'docker-api', n: Number(process.env['BENCH_DOCKER_N'] ?? 20), reps: Number(process.env['BENCH_DOCKER_REPS'] ?? 21), psReps: Number(process.env['BENCH_DOCKER_PS_REPS'] ?? 401) });
      octet += 2; // docker0's 10.(octet+1).0.0/24
      const sandboxOf = { netns: dockerdNetnsFor(j.prefix), cgroupParent: cgroupParentFor(j.prefix) };
      dockerdSandboxes.push(sandboxOf);
      let r: DockerApiResult | undefined;
      try {
        r = await runWorker<DockerApiResult>(j, { timeoutMs: 900_000 });
      } finally {
        killLeftovers(sandboxOf.netns, sandboxOf.cgroupParent);
        removeCgroups(sandboxOf.cgroupParent);
        if (r === undefined) {
          // A worker that died left nsnet serve and its containers (named by docker, not by the job): stop the server by PID, then reset the job's root.
          for (const p of processesWithArg(j.root)) killInSandbox(p);
          spawnSync('nsenter', [`--net=/run/netns/${sandbox!.hostNs}`, path.join(CODE, 'bin', 'nsnet'), '--root', j.root, 'system', 'reset', '--force'], { env: { ...process.env, NSNET_SERVICE: 'off' }, stdio: 'ignore' });
        }
        if (fs.existsSync(`/run/netns/${sandboxOf.netns}`)) spawnSync('ip', ['netns', 'del', sandboxOf.netns]);
        const changes = snapshotChanges(before, machineSnapshot());
        if (r !== undefined) r.machineNamespace = { checked: Object.keys(before), changes };
        if (changes.length > 0) errors.push(`docker-api: the machine's own namespace changed during the section: ${changes.join('; ')}`);
      }
      if (r === undefined) throw new Error('the docker-api worker returned nothing');
      extras.dockerApi = r;
      fs.mkdirSync(RESULTS, { recursive: true });
      fs.writeFileSync(path.join(RESULTS, 'docker-api.md'), dockerApiReport(r, machine));
      fs.writeFileSync(path.join(RESULTS, 'docker-api.json'), JSON.stringify(dockerApiJson(r), null, 2) + '\n');
      if (!r.dockerd.available) throw new Unmeasurable('docker-run', r.dockerd.reason ?? 'dockerd did not run');
      if (!r.nsnet.available) throw new Unmeasurable('docker-run', r.nsnet.reason ?? 'nsnet serve did not run');
    });
  }

  const durationS = (now() - t0) / 1000;
  machine.loadAvgEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  clearInterval(loadTimer);
  machine.loadSamples = loadSamples.map((x) => Math.round(x * 100) / 100);
  machine.otherLoad = otherCpuHogs();
  const notesFile = path.join(REPO, 'bench', 'what-dominates.md');
  const analysis = fs.existsSync(notesFile) ? ['', fs.readFileSync(notesFile, 'utf8').trim()] : [];
  const reviewed = /reviewed-against:\s*([0-9a-f]{7,40})/.exec(analysis.join('\n'))?.[1];
  if (reviewed !== undefined) machine.notesReviewedAgainst = { commit: reviewed, srcChangedSince: srcChangedSince(reviewed, machine.nsnetCommit) };
  // A full run measures every target; a partial one only what it selected (its sections still fail on a missing tool).
  const report = buildReport({ machine, ns, methods, caps, runs, extras, errors, durationS, analysis, everyTargetRequired: !partial });
  fs.mkdirSync(RESULTS, { recursive: true });
  // A partial run must not overwrite the committed figures of the full one.
  const base = partial ? 'partial' : 'latest';
  fs.writeFileSync(path.join(RESULTS, `${base}.json`), JSON.stringify(report.json, null, 2) + '\n');
  fs.writeFileSync(path.join(RESULTS, `${base}.md`), report.markdown);
  fs.writeFileSync(path.join(RESULTS, `${base}.svg`), report.svg);
  process.stdout.write(report.table + '\n');
  log(`wrote bench/results/${base}.{json,md,svg} in ${durationS.toFixed(0)} s${partial ? ' (a partial run: latest.* untouched)' : ''}${report.errors.length ? `; ${report.errors.length} error(s)` : ''}`);
  if (report.errors.length > 0) process.exitCode = 1;
}

main()
  .catch((err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  })
  .finally(cleanup);
