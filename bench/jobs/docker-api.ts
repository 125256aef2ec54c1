/**
 * docker-api {n, reps, psReps}: the same docker CLI (Debian's /usr/bin/docker 20.10) against
 * `nsnet serve` and against dockerd, in one run: `docker load -i busybox.tar` (reps rounds),
 * `docker run -d busybox sleep 1000` (n rounds), `docker ps` with n + 1 containers (psReps rounds).
 * Each round times one call on each daemon back to back (the order alternating with the round),
 * so both calls share the machine's noise at that moment; the report compares them round by round
 * (bench/report/paired.ts), which needs `samples["nsnet X"][i]` and `samples["dockerd X"][i]` to be
 * round i's two calls — see push() below. nsnet serve runs in the sandbox host namespace (where
 * this worker runs), dockerd in a namespace of its own (bench/jobs/dockerd.ts). No image is pulled:
 * both load the same archive, built here from the host's /bin/busybox.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { now } from '../common.js';
import { benchBusyboxArchive } from './docker-archive.js';
import { cgroupParentFor, DOCKER_CLI, dockerdNetnsFor, startDockerd, stopDockerd, waitForPing, type Dockerd, type DockerdStop } from './dockerd.js';
import type { Job } from './job.js';

export type Daemon = 'nsnet' | 'dockerd';

export interface DockerApiResult {
  job: 'docker-api';
  cli: { path: string; version: string };
  n: number;
  /** Rounds of docker load (and of the floors). */
  reps: number;
  /** Rounds of docker ps (and of the GET behind it). */
  psReps: number;
  /** Why a daemon could not be measured (dockerd: every storage driver tried). */
  nsnet: { available: boolean; reason?: string; startMs?: number };
  dockerd: { available: boolean; reason?: string; storageDriver?: string; flags?: string[]; version?: string; startMs?: number; failures?: string[] };
  /**
   * Wall ms per call, spawn to exit: 'nsnet load', 'dockerd load', 'nsnet run -d', ..., 'nsnet ps', floors.
   * Paired by round: index i of 'nsnet X' and of 'dockerd X' are the two calls of round i.
   */
  samples: Record<string, number[]>;
  /** Outside the medians: each daemon's first `docker run -d` (makes the default network's bridge). */
  cold: Record<string, number>;
  /** 1-minute load average at the start of each phase and at the end. */
  load: Record<string, number>;
  cleanup: { nsnetRmMs?: number; dockerdRmMs?: number; nsnetStop?: string; nsnetReset?: string; dockerd?: DockerdStop };
  /** Filled in by the orchestrator: what it compared in the machine's own namespace before and after, and what changed. */
  machineNamespace?: { checked: string[]; changes: string[] };
  notes: string[];
  /** The worker's nice value and scheduling policy, which both daemons and every CLI call inherit. */
  scheduling: string;
}

interface Target {
  daemon: Daemon;
  env: NodeJS.ProcessEnv;
  socket: string;
}

/** One GET over the daemon's socket from this process, first byte to last: the daemon's share of a command, without the CLI. */
function apiGet(t: Target, urlPath: string): Promise<{ ms: number; body: string }> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const req = http.request({ socketPath: t.socket, path: urlPath, method: 'GET', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve({ ms: now() - t0, body }) : reject(new Error(`GET ${urlPath} on ${t.daemon} → ${res.statusCode}: ${body.slice(0, 300)}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The CLI's environment for one daemon: its socket, an empty config dir, no proxies, no context. */
function cliEnv(socket: string, config: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: config, NO_PROXY: '*' };
  for (const k of ['DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_API_VERSION', 'HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) delete env[k];
  return env;
}

/** One docker CLI call, spawn to exit; a failure throws with the daemon and the CLI's stderr. */
function docker(t: Target, args: readonly string[]): { ms: number; stdout: string } {
  const t0 = now();
  const r = spawnSync(DOCKER_CLI, args, { env: t.env, encoding: 'utf8', maxBuffer: 16 << 20 });
  const ms = now() - t0;
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} against ${t.daemon} → ${r.status ?? r.signal}: ${(r.stderr || r.error?.message || '').trim().slice(0, 600)}`);
  return { ms, stdout: r.stdout };
}

/** The pairs of one round, the order alternating with the round so neither daemon always goes first. */
const ordered = <T>(pair: readonly T[], round: number): T[] => (round % 2 === 0 ? [...pair] : [...pair].reverse());

/** nice and policy of this process (/proc/self/stat fields 19 and 41): inherited by both daemons and every call. */
function scheduling(): string {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const policy = ['SCHED_OTHER', 'SCHED_FIFO', 'SCHED_RR', 'SCHED_BATCH', '', 'SCHED_IDLE'][Number(fields[38])] ?? `policy ${fields[38]}`;
  return `nice ${fields[16]}, ${policy}`;
}

const load1 = (): number => Math.round(os.loadavg()[0]! * 100) / 100;

export async function dockerApiJob(job: Job): Promise<DockerApiResult> {
  const n = job.n ?? 20;
  const reps = job.reps ?? 21;
  const psReps = job.psReps ?? 401;
  const work = `${job.root}-docker`;
  fs.mkdirSync(work, { recursive: true });
  const archive = path.join(work, 'busybox.tar');
  fs.writeFileSync(archive, benchBusyboxArchive());
  const version = spawnSync(DOCKER_CLI, ['--version'], { encoding: 'utf8' });
  const out: DockerApiResult = {
    job: 'docker-api',
    cli: { path: DOCKER_CLI, version: version.status === 0 ? version.stdout.trim() : `missing (${version.error?.message ?? version.stderr}); scripts/setup.sh installs docker.io` },
    n,
    reps,
    psReps,
    nsnet: { available: false },
    dockerd: { available: false },
    samples: {},
    cold: {},
    load: { start: load1() },
    cleanup: {},
    notes: [],
    scheduling: scheduling(),
  };
  if (version.status !== 0) {
    out.nsnet.reason = out.dockerd.reason = `the docker CLI ${DOCKER_CLI} is ${out.cli.version}`;
    return out;
  }
  // Every phase below pushes exactly one sample per daemon per round, and a failed call throws
  // (ending the job), so no round is skipped for one daemon only: each daemon's array for a
  // command is in round order, index i being round i for both. The paired statistics rely on it.
  const push = (k: string, ms: number): void => void (out.samples[k] ??= []).push(ms);

  let serve: ChildProcess | undefined;
  let dockerd: Dockerd | undefined;
  const targets: Target[] = [];
  try {
    // nsnet serve, in this (the sandbox host) namespace, with the job's state root.
    const nsnetSocket = path.join(job.root, 'docker.sock');
    const serveLog = fs.openSync(path.join(work, 'nsnet-serve.log'), 'w');
    const t0 = now();
    serve = spawn(path.join(job.repo, 'bin', 'nsnet'), ['--root', job.root, 'serve'], { stdio: ['ignore', serveLog, serveLog], env: { ...process.env, NSNET_ROOT: job.root } });
    fs.closeSync(serveLog);
    if (await waitForPing(nsnetSocket, serve, 30_000)) {
      out.nsnet = { available: true, startMs: now() - t0 };
      targets.push({ daemon: 'nsnet', socket: nsnetSocket, env: cliEnv(nsnetSocket, fs.mkdtempSync(path.join(work, 'cfg-nsnet-'))) });
    } else {
      out.nsnet.reason = `nsnet serve did not answer /_ping: ${fs.readFileSync(path.join(work, 'nsnet-serve.log'), 'utf8').slice(-600)}`;
    }

    // dockerd, in its own network and mount namespaces.
    const started = await startDockerd({ dir: `${job.root}-dockerd`, netns: dockerdNetnsFor(job.prefix), cgroupParent: cgroupParentFor(job.prefix), bip: `10.${job.octet + 1}.0.1/24` });
    dockerd = started.dockerd;
    if (dockerd !== undefined) {
      const env = cliEnv(dockerd.socket, fs.mkdtempSync(path.join(work, 'cfg-dockerd-')));
      out.dockerd = { available: true, storageDriver: dockerd.storageDriver, flags: dockerd.flags, startMs: dockerd.startMs, failures: started.failures };
      targets.push({ daemon: 'dockerd', socket: dockerd.socket, env });
      out.dockerd.version = docker(targets.at(-1)!, ['version', '--format', 'server {{.Server.Version}}, API {{.Server.APIVersion}}']).stdout.trim();
    } else {
      out.dockerd = { available: false, reason: `dockerd could not run on this machine: ${started.failures.join('; ')}`, failures: started.failures };
    }
    if (targets.length === 0) return out;

    // Floors: a round trip to each daemon (/_ping + /version); the CLI's own start (no daemon) is
    // timed once in every round of every phase, so it sees the same load as the calls around it.
    const cliAlone = (): void => push('docker --version (the CLI alone)', docker(targets[0]!, ['--version']).ms);
    out.load['floors'] = load1();
    for (let i = 0; i < reps; i++) {
      cliAlone();
      for (const t of ordered(targets, i)) push(`${t.daemon} version`, docker(t, ['version']).ms);
    }

    // docker load -i: from no image each time (docker rmi before it, untimed).
    out.load['load'] = load1();
    for (let i = 0; i < reps; i++) {
      for (const t of ordered(targets, i)) {
        if (i > 0) docker(t, ['rmi', 'busybox:latest']);
        const r = docker(t, ['load', '-i', archive]);
        if (!r.stdout.includes('Loaded image: busybox:latest')) throw new Error(`docker load against ${t.daemon} said: ${r.stdout.slice(0, 300)}`);
        push(`${t.daemon} load`, r.ms);
      }
      cliAlone();
    }

    // docker run -d busybox sleep 1000: one cold call each, then n interleaved.
    out.load['run'] = load1();
    const run = (t: Target): number => {
      const r = docker(t, ['run', '-d', 'busybox', 'sleep', '1000']);
      if (!/^[0-9a-f]{64}$/.test(r.stdout.trim())) throw new Error(`docker run -d against ${t.daemon} printed ${r.stdout.slice(0, 200)}`);
      return r.ms;
    };
    for (const t of targets) out.cold[`${t.daemon} run -d, first (the default network's bridge is made)`] = run(t);
    for (let i = 0; i < n; i++) {
      for (const t of ordered(targets, i)) push(`${t.daemon} run -d`, run(t));
      cliAlone();
    }

    // docker ps with n + 1 containers running on each: psReps rounds (a call is ~30 ms, mostly the
    // CLI's start, and the daemons differ by ~1 ms of it, so it takes many rounds to decide).
    out.load['ps'] = load1();
    for (let i = 0; i < psReps; i++) {
      for (const t of ordered(targets, i)) {
        const r = docker(t, ['ps']);
        const rows = r.stdout.trim().split('\n').length - 1;
        if (rows !== n + 1) throw new Error(`docker ps against ${t.daemon} listed ${rows} containers, not ${n + 1}`);
        push(`${t.daemon} ps`, r.ms);
      }
      for (const t of ordered(targets, i + 1)) {
        const r = await apiGet(t, '/v1.41/containers/json');
        if ((JSON.parse(r.body) as unknown[]).length !== n + 1) throw new Error(`GET /containers/json on ${t.daemon} listed ${r.body.slice(0, 200)}`);
        push(`${t.daemon} GET /containers/json (no CLI)`, r.ms);
      }
      cliAlone();
    }
    out.load['end'] = load1();
  } finally {
    // Untimed in the figures: every container removed, dockerd stopped and its sandbox removed, nsnet serve stopped and reset.
    for (const t of targets) {
      try {
        const ids = docker(t, ['ps', '-aq']).stdout.split('\n').filter((l) => l !== '');
        const t0 = now();
        if (ids.length > 0) docker(t, ['rm', '-f', ...ids]);
        out.cleanup[t.daemon === 'nsnet' ? 'nsnetRmMs' : 'dockerdRmMs'] = now() - t0;
      } catch (err) {
        out.notes.push(`cleanup: ${(err as Error).message}`);
      }
    }
    if (dockerd !== undefined) out.cleanup.dockerd = await stopDockerd(dockerd);
    if (serve !== undefined && serve.exitCode === null && serve.signalCode === null) {
      const exited = new Promise<void>((r) => serve!.once('exit', () => r()));
      serve.kill('SIGTERM');
      const killer = setTimeout(() => serve!.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
      out.cleanup.nsnetStop = `exit ${serve.exitCode ?? serve.signalCode}`;
    }
    const reset = spawnSync(path.join(job.repo, 'bin', 'nsnet'), ['--root', job.root, 'system', 'reset', '--force'], { encoding: 'utf8', env: { ...process.env, NSNET_ROOT: job.root, NSNET_SERVICE: 'off' } });
    out.cleanup.nsnetReset = reset.status === 0 ? 'ok' : `exit ${reset.status ?? reset.signal}: ${(reset.stderr ?? '').trim().slice(0, 300)}`;
    fs.rmSync(work, { recursive: true, force: true });
  }
  return out;
}
