/**
 * Benchmark worker. Runs INSIDE the sandbox host namespace (bench/run.ts starts it with
 * `nsenter --net=/run/netns/HOST node dist/bench/worker.js JSON`), measures one thing and prints
 * one JSON line on stdout. Never run it in the machine's own namespace: it creates bridges.
 *
 * Jobs:
 *   attach   {method, n, ...}  N containers attached one after another on one fresh network, then detached
 *   connect  CLI start-up: `node -e 0` vs `nsnet network connect`, CLI peak RSS, start-up breakdown
 *   iperf    container-to-container throughput: nsnet containers vs by-hand namespaces on a by-hand bridge
 *   veth-del detach by deleting the veth instead of the namespace (floor and KernelRunner)
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { growth, intFromIp, ipFromInt, now, type Method, type RuleCounts, type WorkerResult } from './common.js';
import { Context, createNetwork, kernelContext, remove, removeNetwork, run } from '../src/index.js';
import { macFor, newId, vethNameFor } from '../src/engine/ids.js';
import { planCreateContainer, planDetach, planRemoveContainer, type EndpointSpec } from '../src/engine/plans.js';
import { applyPlan } from '../src/plan/executor.js';
import { KernelRunner } from '../src/plan/kernel-runner.js';
import { koffi } from '../src/kernel/libc.js';
import type { StepRunner } from '../src/plan/runner.js';
import type { Step } from '../src/plan/steps.js';
import { networkSpec } from '../src/ops/specs.js';
import { nftablesDriver } from '../src/firewall/nftables-driver.js';
import type { FirewallMapping } from '../src/firewall/model.js';

// The library attach path measures the nftables driver (the default).
const fw = nftablesDriver();

export interface Job {
  job: 'attach' | 'connect' | 'iperf' | 'veth-del' | 'firewall' | 'ports' | 'dns' | 'nft-ctx' | 'cni';
  driver?: string;
  method?: Method;
  n?: number;
  /** Unique short prefix for every name this job makes (namespaces are visible machine-wide). */
  prefix: string;
  /** Second octet of this job's 10.X.0.0/16 subnet(s). */
  octet: number;
  /** State root for nsnet (a fresh directory under the orchestrator's mkdtemp). */
  root: string;
  repo: string;
  reps?: number;
  /** ports: run()/remove() pairs with and without a published port. */
  libReps?: number;
  seconds?: number;
  /** iperf: rounds (each measures every configuration once, in turn). */
  rounds?: number;
  /** Write MARK-BEGIN / MARK-END to stderr around the attach loop (the strace no-child check). */
  markers?: boolean;
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
const NSNET = path.join(job.repo, 'bin', 'nsnet');
const env = { ...process.env, NSNET_ROOT: job.root };

// ---------------------------------------------------------------------------------------------
// helpers

function sh(argv: readonly string[], input?: string): { ms: number; stdout: string } {
  const t0 = now();
  const r = spawnSync(argv[0]!, argv.slice(1), { input, encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  const ms = now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} → ${r.status ?? r.signal}: ${(r.stderr || r.error?.message || '').trim()}`);
  return { ms, stdout: r.stdout };
}

/** Rules in nsnet's tables (any family) in this namespace, or null when there is none. */
function nftRuleCount(): number | null {
  return nftCounts()?.rules ?? null;
}

/** What a step is, for the breakdowns: its kind, and for nft steps what the transaction does. */
function stepKey(step: Step): string {
  if (step.kind !== 'nft') return step.kind;
  const summary = (step as { summary?: string }).summary ?? '';
  if (/^publish/.test(summary)) return 'nft (publish ports)';
  if (/^withdraw/.test(summary)) return 'nft (withdraw ports)';
  return 'nft (port sets)';
}

/** Wraps the KernelRunner and times every step's apply (src/ stays untouched). */
class TimingRunner implements StepRunner {
  readonly times: Record<string, number[]> = {};
  constructor(private readonly inner: StepRunner) {}
  apply(step: Step): void {
    const t0 = now();
    this.inner.apply(step);
    (this.times[stepKey(step)] ??= []).push(now() - t0);
  }
  undo(step: Step): void {
    this.inner.undo(step);
  }
  /** Forwarded: Context.execute calls it after every plan (the runner drops per-namespace sockets). */
  releaseNamespaces(): void {
    this.inner.releaseNamespaces?.();
  }
  close(): void {
    this.inner.close();
  }
}

/** What nsnet's nftables tables hold in this namespace: rules, and elements of its sets and maps. */
function nftCounts(): { rules: number; setElements: number; mapElements: number; mapsByName: Record<string, number> } | null {
  const r = spawnSync('nft', ['-j', 'list', 'ruleset'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) return null;
  type Obj = { table?: string; name?: string; elem?: unknown[] };
  const doc = JSON.parse(r.stdout) as { nftables: Array<Record<string, Obj>> };
  const ours = (o: Obj | undefined): boolean => o?.table === 'nsnet';
  if (!doc.nftables.some((o) => o['table']?.name === 'nsnet')) return null;
  const mapsByName: Record<string, number> = {};
  let setElements = 0;
  let mapElements = 0;
  for (const o of doc.nftables) {
    if (ours(o['set'])) setElements += o['set']!.elem?.length ?? 0;
    if (ours(o['map'])) {
      const k = o['map']!.elem?.length ?? 0;
      mapElements += k;
      mapsByName[o['map']!.name ?? '?'] = k;
    }
  }
  return { rules: doc.nftables.filter((o) => ours(o['rule'])).length, setElements, mapElements, mapsByName };
}

interface Net {
  name: string;
  bridge: string;
  subnet: string;
  gateway: string;
  prefixLen: number;
  /** Address of container i. */
  ip(i: number): string;
}

function netFor(prefix: string, octet: number, tag = 'n'): Net {
  const base = intFromIp(`10.${octet}.0.0`);
  return {
    name: `${prefix}${tag}`,
    bridge: `${prefix}${tag}br`.slice(0, 15),
    subnet: `10.${octet}.0.0/16`,
    gateway: `10.${octet}.0.1`,
    prefixLen: 16,
    ip: (i) => ipFromInt(base + 10 + i),
  };
}

function byHandBridge(net: Net): void {
  sh(['ip', 'link', 'add', net.bridge, 'type', 'bridge']);
  sh(['ip', 'addr', 'add', `${net.gateway}/${net.prefixLen}`, 'dev', net.bridge]);
  sh(['ip', 'link', 'set', net.bridge, 'up']);
}

function nsnetNetwork(ctx: Context, net: Net): ReturnType<typeof createNetwork> {
  return createNetwork(ctx, {
    name: net.name,
    subnet: net.subnet,
    gateway: net.gateway,
    options: { 'com.docker.network.bridge.name': net.bridge },
  });
}

function cliNetwork(net: Net): void {
  sh([NSNET, 'network', 'create', net.name, '--subnet', net.subnet, '--gateway', net.gateway, '-o', `com.docker.network.bridge.name=${net.bridge}`]);
}

// ---------------------------------------------------------------------------------------------
// attach / detach, one method

async function attachJob(): Promise<WorkerResult> {
  const method = job.method!;
  const n = job.n!;
  const net = netFor(job.prefix, job.octet);
  const names = Array.from({ length: n }, (_, i) => `${job.prefix}c${i}`);
  const hostIfs: string[] = [];
  const specs: EndpointSpec[] = [];
  const attachMs: number[] = [];
  const detachMs: number[] = [];
  const breakdown: Record<string, number[]> = {};
  const notes: string[] = [];
  const add = (k: string, ms: number): void => void (breakdown[k] ??= []).push(ms);
  let nftRulesAfter1: number | null = null;
  let nftRulesAfterN: number | null = null;
  let attachTotalMs = 0;
  let detachTotalMs = 0;

  let ctx: Context | undefined;
  let timing: TimingRunner | undefined;
  if (method === 'floor' || method === 'byhand') byHandBridge(net);
  if (method === 'cli') cliNetwork(net);
  if (method === 'lib-kernel' || method === 'lib-run') {
    ctx = kernelContext({ root: job.root });
    timing = new TimingRunner(new KernelRunner());
    ctx.setRunner(timing);
    nsnetNetwork(ctx, net);
    for (const k of Object.keys(timing.times)) delete timing.times[k]; // network creation is not a container
  }
  const networkRecord = ctx?.store.networks.byName(net.name);

  try {
    if (job.markers === true) process.stderr.write('MARK-BEGIN\n');
    const t0 = now();
    for (let i = 0; i < n; i++) {
      const name = names[i]!;
      const ip = net.ip(i);
      const mac = macFor(intFromIp(ip));
      const hostIf = vethNameFor(newId());
      hostIfs.push(hostIf);
      let ms = 0;
      switch (method) {
        case 'floor': {
          sh(['ip', 'netns', 'add', name]); // untimed: "netns exists"
          const h = sh(['ip', '-batch', '-'], `link add ${hostIf} master ${net.bridge} up type veth peer name eth0 netns ${name} address ${mac}\n`);
          const c = sh(
            ['ip', '-n', name, '-batch', '-'],
            `link set lo up\naddr add ${ip}/${net.prefixLen} brd + dev eth0\nlink set eth0 up\nroute add default via ${net.gateway} dev eth0\n`,
          );
          add('ip -batch (host)', h.ms);
          add('ip -n NS -batch (container)', c.ms);
          ms = h.ms + c.ms;
          break;
        }
        case 'byhand': {
          const peer = `c${hostIf.slice(3)}`; // container end, unique in the host until moved
          const steps: Array<[string, string[]]> = [
            ['ip netns add', ['ip', 'netns', 'add', name]],
            ['ip link add veth', ['ip', 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', peer]],
            ['ip link set netns', ['ip', 'link', 'set', peer, 'netns', name]],
            ['ip link set master', ['ip', 'link', 'set', hostIf, 'master', net.bridge]],
            ['ip link set up (host)', ['ip', 'link', 'set', hostIf, 'up']],
            ['ip netns exec: addr add', ['ip', 'netns', 'exec', name, 'ip', 'addr', 'add', `${ip}/${net.prefixLen}`, 'dev', peer]],
            ['ip netns exec: link set up', ['ip', 'netns', 'exec', name, 'ip', 'link', 'set', peer, 'up']],
            ['ip netns exec: lo up', ['ip', 'netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']],
            ['ip netns exec: route add', ['ip', 'netns', 'exec', name, 'ip', 'route', 'add', 'default', 'via', net.gateway]],
          ];
          for (const [label, argv] of steps) {
            const r = sh(argv);
            add(label, r.ms);
            ms += r.ms;
          }
          break;
        }
        case 'cli': {
          ms = sh([NSNET, 'run', '-d', '--name', name, '--network', net.name, '--', 'sleep', '1000']).ms;
          break;
        }
        case 'lib-kernel': {
          const spec: EndpointSpec = { network: networkSpec(networkRecord!), hostIf, ifName: 'eth0', ip, mac };
          specs[i] = spec;
          const steps = planCreateContainer(name, [spec], fw);
          const [first, ...rest] = steps;
          if (first?.kind !== 'netns-add') throw new Error(`planCreateContainer no longer starts with netns-add (${first?.kind})`);
          timing!.apply(first); // untimed in the metric ("netns exists"), kept in the breakdown
          const a = now();
          applyPlan(rest, timing!);
          timing!.releaseNamespaces(); // as Context.execute does after every plan
          ms = now() - a;
          break;
        }
        case 'lib-run': {
          const a = now();
          await run(ctx!, { name, networks: [net.name], env: {}, detach: true, remove: false, argv: ['sleep', '1000'] });
          ms = now() - a;
          break;
        }
      }
      attachMs.push(ms);
      if (i === 0 && job.markers !== true && (method === 'cli' || method.startsWith('lib'))) nftRulesAfter1 = nftRuleCount();
    }
    attachTotalMs = now() - t0;
    if (job.markers === true) process.stderr.write('MARK-END\n');
    if (method === 'cli' || method.startsWith('lib')) nftRulesAfterN = nftRuleCount();
    if (timing !== undefined) for (const [k, v] of Object.entries(timing.times)) breakdown[`attach: ${k}`] = [...v];
    if (timing !== undefined) for (const k of Object.keys(timing.times)) delete timing.times[k];
  } finally {
    // detach (also the cleanup: every container goes, even after a failure)
    const t1 = now();
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const made = i < attachMs.length || fs.existsSync(`/run/netns/${name}`);
      if (!made) continue;
      try {
        let ms = 0;
        switch (method) {
          case 'floor':
          case 'byhand':
            ms = sh(['ip', 'netns', 'del', name]).ms;
            break;
          case 'cli':
            ms = sh([NSNET, 'rm', '-f', name]).ms;
            break;
          case 'lib-kernel': {
            const a = now();
            applyPlan(planRemoveContainer(name, specs[i] === undefined ? [] : [specs[i]!], fw), timing!);
            timing!.releaseNamespaces();
            ms = now() - a;
            break;
          }
          case 'lib-run': {
            const a = now();
            remove(ctx!, [name], { force: true });
            ms = now() - a;
            break;
          }
        }
        if (i < attachMs.length) detachMs.push(ms);
      } catch (err) {
        notes.push(`detach ${name}: ${(err as Error).message}`);
      }
    }
    detachTotalMs = now() - t1;
    if (timing !== undefined) for (const [k, v] of Object.entries(timing.times)) breakdown[`detach: ${k}`] = [...v];
    try {
      if (method === 'floor' || method === 'byhand') sh(['ip', 'link', 'del', net.bridge]);
      if (method === 'cli') sh([NSNET, 'network', 'rm', net.name]);
      if (ctx !== undefined) {
        removeNetwork(ctx, net.name);
        ctx.close();
      }
    } catch (err) {
      notes.push(`network cleanup: ${(err as Error).message}`);
    }
  }
  const g = growth(attachMs);
  if (g !== null && g.ratio > 1.2) notes.push(`attach growth last-${g.window}/first-${g.window} = ${g.ratio.toFixed(2)}`);
  return { method, n, attachMs, detachMs, attachTotalMs, detachTotalMs, nftRulesAfter1, nftRulesAfterN, breakdown, notes };
}

// ---------------------------------------------------------------------------------------------
// CLI start-up: node -e 0 vs network connect; peak RSS; breakdown

function peakRss(argv: readonly string[]): { ms: number; kb: number } {
  const t0 = now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...argv], { encoding: 'utf8', env });
  const ms = now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  return { ms, kb: Number(lines[lines.length - 1]) };
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Self and inclusive time per function of a V8 CPU profile (top entries), ms. */
function summarizeProfile(file: string): { spanMs: number; self: Array<[string, number]>; inclusive: Array<[string, number]> } {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(doc.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of doc.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (id: number): string => {
    const cf = byId.get(id)!.callFrame;
    return `${cf.functionName || '(anonymous)'} ${cf.url.split('/').pop() ?? ''}:${cf.lineNumber + 1}`.trim();
  };
  const self = new Map<string, number>();
  const owner = new Map<string, number>();
  const inBundle = (id: number): boolean => /nsnet\.mjs$|\/dist\/src\//.test(byId.get(id)!.callFrame.url);
  doc.samples.forEach((id, i) => {
    const dt = (doc.timeDeltas[i] ?? 0) / 1000;
    self.set(name(id), (self.get(name(id)) ?? 0) + dt);
    // Charged to the nearest nsnet function up the stack (with the Node internals it called), or
    // to Node itself (start-up, module loading, GC) when no nsnet code is on the stack.
    let x: number | undefined = id;
    while (x !== undefined && !inBundle(x)) x = parent.get(x);
    const k = x === undefined ? `(node: ${name(id).split(' ')[0]})` : name(x);
    owner.set(k, (owner.get(k) ?? 0) + dt);
  });
  const top = (m: Map<string, number>, k: number): Array<[string, number]> => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, k).map(([a, b]) => [a, Math.round(b * 100) / 100]);
  return { spanMs: (doc.endTime - doc.startTime) / 1000, self: top(self, 12), inclusive: top(owner, 12) };
}

/** `node --cpu-prof` of one CLI command (bin/nsnet, as a user runs it). */
function profileCli(args: readonly string[]): ReturnType<typeof summarizeProfile> | { error: string } {
  const dir = fs.mkdtempSync(path.join(job.root, 'prof-'));
  const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, NSNET, ...args], { encoding: 'utf8', env });
  const file = fs.readdirSync(dir).find((x) => x.endsWith('.cpuprofile'));
  if (r.status !== 0 || file === undefined) return { error: (r.stderr || 'no profile').slice(0, 300) };
  return summarizeProfile(path.join(dir, file));
}

async function connectJob(): Promise<Record<string, unknown>> {
  const reps = job.reps ?? 20;
  const net1 = netFor(job.prefix, job.octet, 'a');
  const net2 = netFor(job.prefix, job.octet + 1, 'b');
  const names = Array.from({ length: reps }, (_, i) => `${job.prefix}k${i}`);
  const out: Record<string, number[]> = { 'node -e 0': [], 'nsnet network connect': [], 'nsnet --version': [], 'nsnet ps -q': [], 'rss run -d (KiB)': [], 'rss rm -f (KiB)': [], 'rss network connect (KiB)': [] };
  const ctx = kernelContext({ root: job.root });
  nsnetNetwork(ctx, net1);
  nsnetNetwork(ctx, net2);
  ctx.close(); // the CLI works on the same root from here on
  const made: string[] = [];
  let straceConnect = '';
  const profiles: Record<string, unknown> = {};
  try {
    for (const name of names) {
      sh([NSNET, 'run', '-d', '--name', name, '--network', net1.name, '--', 'sleep', '1000']);
      made.push(name);
    }
    for (let i = 0; i < reps; i++) {
      out['node -e 0']!.push(sh([process.execPath, '-e', '0']).ms);
      out['nsnet network connect']!.push(sh([NSNET, 'network', 'connect', net2.name, names[i]!]).ms);
      out['nsnet --version']!.push(sh([NSNET, '--version']).ms);
      out['nsnet ps -q']!.push(sh([NSNET, 'ps', '-q']).ms);
    }
    if (fs.existsSync('/usr/bin/time')) {
      for (let i = 0; i < 5; i++) {
        const name = `${job.prefix}r${i}`;
        out['rss run -d (KiB)']!.push(peakRss([NSNET, 'run', '-d', '--name', name, '--network', net1.name, '--', 'sleep', '1000']).kb);
        made.push(name);
        out['rss network connect (KiB)']!.push(peakRss([NSNET, 'network', 'connect', net2.name, name]).kb);
        out['rss rm -f (KiB)']!.push(peakRss([NSNET, 'rm', '-f', name]).kb);
        made.pop();
      }
    }
    if (spawnSync('which', ['strace']).status === 0 && names[0] !== undefined) {
      const file = path.join(job.root, 'connect.strace');
      spawnSync('strace', ['-f', '-c', '-S', 'time', '-o', file, NSNET, 'network', 'disconnect', net2.name, names[0]], { env });
      spawnSync('strace', ['-f', '-c', '-S', 'time', '-o', file, NSNET, 'network', 'connect', net2.name, names[0]], { env });
      straceConnect = fs.readFileSync(file, 'utf8').split('\n').slice(0, 14).join('\n');
    }
    if (names[0] !== undefined) {
      profiles['nsnet --version'] = profileCli(['--version']);
      spawnSync(NSNET, ['network', 'disconnect', net2.name, names[0]], { env });
      profiles['nsnet network connect'] = profileCli(['network', 'connect', net2.name, names[0]]);
    }
  } finally {
    for (const name of made) spawnSync(NSNET, ['rm', '-f', name], { env });
    spawnSync(NSNET, ['network', 'rm', net1.name, net2.name], { env });
  }
  return { job: 'connect', samples: out, straceConnect, profiles, rssMethod: fs.existsSync('/usr/bin/time') ? '/usr/bin/time -f %M' : 'none' };
}

// ---------------------------------------------------------------------------------------------
// throughput

function iperfPair(serverNs: string, clientNs: string, serverIp: string, seconds: number): number {
  const server: ChildProcess = spawn('nsenter', [`--net=/run/netns/${serverNs}`, 'iperf3', '-s', '-1', '-B', serverIp], { stdio: 'ignore' });
  try {
    let last = 'no result';
    for (let attempt = 0; attempt < 50; attempt++) {
      const r = spawnSync('nsenter', [`--net=/run/netns/${clientNs}`, 'iperf3', '-c', serverIp, '-t', String(seconds), '-J'], { encoding: 'utf8' });
      let doc: { error?: string; end?: { sum_received?: { bits_per_second: number } } } = {};
      try {
        doc = JSON.parse(r.stdout) as typeof doc;
      } catch {
        doc = { error: (r.stderr || r.stdout).trim() };
      }
      const bps = doc.end?.sum_received?.bits_per_second;
      if (bps !== undefined && doc.error === undefined) return bps / 1e9;
      last = doc.error ?? 'no result';
      if (!/connect/i.test(last)) break; // the server is not listening yet: try again
      spawnSync('sleep', ['0.1']);
    }
    throw new Error(`iperf3 ${clientNs} → ${serverIp}: ${last}`);
  } finally {
    if (server.exitCode === null && server.pid !== undefined) {
      try {
        process.kill(server.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

async function iperfJob(): Promise<Record<string, unknown>> {
  const seconds = job.seconds ?? 4;
  const netOn = netFor(job.prefix, job.octet, 'i');
  const netOff = netFor(job.prefix, job.octet + 1, 'o');
  const netB = netFor(job.prefix, job.octet + 2, 'h');
  const ctx = kernelContext({ root: job.root });
  const onNames = [`${job.prefix}i0`, `${job.prefix}i1`];
  const offNames = [`${job.prefix}o0`, `${job.prefix}o1`];
  const handNames = [`${job.prefix}h0`, `${job.prefix}h1`];
  const handHost = `${job.prefix}hb`;
  const result: Record<string, number[]> = {};
  let antiSpoofing: 'built' | 'not built yet' = 'not built yet';
  const made: string[] = [];
  const nets: string[] = [];
  try {
    // Anti-spoofing is a network option (on unless "false") when it exists; unknown options are refused.
    try {
      createNetwork(ctx, { name: netOff.name, subnet: netOff.subnet, gateway: netOff.gateway, options: { 'com.docker.network.bridge.name': netOff.bridge, 'nsnet.bridge.anti_spoofing': 'false' } });
      antiSpoofing = 'built';
      nets.push(netOff.name);
    } catch (err) {
      if (!/option/i.test((err as Error).message)) throw err;
    }
    nsnetNetwork(ctx, netOn);
    nets.push(netOn.name);
    const pairs: Array<[string, string[], string]> = [[antiSpoofing === 'built' ? 'nsnet, anti-spoofing on' : 'nsnet', onNames, netOn.name]];
    if (antiSpoofing === 'built') pairs.push(['nsnet, anti-spoofing off', offNames, netOff.name]);
    const ips: Record<string, string> = {};
    for (const [label, names, netName] of pairs) {
      for (const name of names) {
        await run(ctx, { name, networks: [netName], env: {}, detach: true, remove: false, argv: ['sleep', '1000'] });
        made.push(name);
      }
      ips[label] = ctx.store.endpoints.forContainer(ctx.store.containers.resolve(names[0]!).id)[0]!.ip;
    }
    // The by-hand bridge gets a "host" namespace of its own, as on a machine without nsnet: here,
    // nsnet's tables (and the conntrack their NAT chains turn on) would see its traffic too, since
    // br_netfilter hands switched IPv4 frames to the IP hooks when it is loaded.
    sh(['ip', 'netns', 'add', handHost]);
    sh(['ip', '-n', handHost, '-batch', '-'], `link set lo up\nlink add ${netB.bridge} type bridge\naddr add ${netB.gateway}/${netB.prefixLen} dev ${netB.bridge}\nlink set ${netB.bridge} up\n`);
    handNames.forEach((name, i) => {
      const hostIf = `${job.prefix}v${i}`;
      sh(['ip', 'netns', 'add', name]);
      sh(['ip', '-n', handHost, 'link', 'add', hostIf, 'master', netB.bridge, 'up', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
      sh(['ip', '-n', name, '-batch', '-'], `link set lo up\naddr add ${netB.ip(i)}/16 dev eth0\nlink set eth0 up\nroute add default via ${netB.gateway}\n`);
    });
    // Every round measures each configuration once; the order rotates so none always goes first.
    const configs: Array<[string, string, string, string]> = [
      ...pairs.map(([label, names]): [string, string, string, string] => [label, names[0]!, names[1]!, ips[label]!]),
      ['by-hand bridge', handNames[0]!, handNames[1]!, netB.ip(0)],
    ];
    for (let round = 0; round < (job.rounds ?? 3); round++) {
      for (let j = 0; j < configs.length; j++) {
        const [label, a, b, ip] = configs[(j + round) % configs.length]!;
        (result[label] ??= []).push(iperfPair(a, b, ip, seconds));
      }
    }
  } finally {
    for (const name of made) {
      try {
        remove(ctx, [name], { force: true });
      } catch {
        /* not made */
      }
    }
    for (const n of nets) {
      try {
        removeNetwork(ctx, n);
      } catch {
        /* not made */
      }
    }
    ctx.close();
    for (const name of handNames) spawnSync('ip', ['netns', 'del', name]);
    spawnSync('ip', ['netns', 'del', handHost]);
  }
  return { job: 'iperf', gbps: result, seconds, rounds: job.rounds ?? 3, antiSpoofing, byHandHost: 'own namespace (no ruleset)', brNetfilter: fs.existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables') ? fs.readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').trim() : 'not loaded' };
}

// ---------------------------------------------------------------------------------------------
// detach by deleting the veth (vs the namespace)

async function vethDelJob(): Promise<Record<string, unknown>> {
  const reps = job.reps ?? 30;
  const net = netFor(job.prefix, job.octet, 'v');
  const ctx = kernelContext({ root: job.root });
  const runner = new KernelRunner();
  const out: Record<string, number[]> = { 'floor: ip link del (veth)': [], 'floor: ip netns del': [], 'KernelRunner: link-del (veth)': [], 'KernelRunner: netns-del': [] };
  const names: string[] = [];
  try {
    nsnetNetwork(ctx, net);
    const spec0 = networkSpec(ctx.store.networks.byName(net.name)!);
    for (let i = 0; i < reps; i++) {
      for (const viaLib of [false, true]) {
        for (const byVeth of [false, true]) {
          const name = `${job.prefix}d${names.length}`;
          names.push(name);
          const ip = net.ip(names.length);
          const hostIf = vethNameFor(newId());
          const spec: EndpointSpec = { network: spec0, hostIf, ifName: 'eth0', ip, mac: macFor(intFromIp(ip)) };
          applyPlan(planCreateContainer(name, [spec], fw), runner);
          runner.releaseNamespaces();
          let ms: number;
          if (!viaLib) {
            ms = byVeth ? sh(['ip', 'link', 'del', hostIf]).ms : sh(['ip', 'netns', 'del', name]).ms;
          } else {
            const a = now();
            applyPlan(byVeth ? planDetach(name, spec, fw) : planRemoveContainer(name, [spec], fw), runner);
            ms = now() - a;
          }
          const key = viaLib
            ? byVeth ? 'KernelRunner: link-del (veth)' : 'KernelRunner: netns-del'
            : byVeth ? 'floor: ip link del (veth)' : 'floor: ip netns del';
          out[key]!.push(ms);
          if (byVeth) applyPlan(planRemoveContainer(name, [], fw), runner);
        }
      }
    }
  } finally {
    for (const name of names) spawnSync('ip', ['netns', 'del', name]);
    runner.close();
    try {
      removeNetwork(ctx, net.name);
    } catch {
      /* not made */
    }
    ctx.close();
  }
  return { job: 'veth-del', samples: out };
}

// ---------------------------------------------------------------------------------------------
// rule counts per firewall driver

/** `-A` lines of a *-save tool's output (0 when the tool is missing or fails). */
function saveLines(tool: string): number {
  const r = spawnSync(tool, [], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return r.status === 0 ? r.stdout.split('\n').filter((l) => l.startsWith('-A ')).length : 0;
}

function ruleCounts(): RuleCounts {
  const n = nftCounts();
  return {
    nftRules: n?.rules ?? null,
    nftSetElements: n?.setElements ?? null,
    nftMapElements: n?.mapElements ?? null,
    iptables: saveLines('iptables-legacy-save') + saveLines('iptables-nft-save'),
    ebtables: saveLines('ebtables-save'),
  };
}

/** Counts after 1, 10, 100, ... containers and after N: growth per container is visible. */
function checkpoints(n: number): number[] {
  const at = [1, 10, 100, 200, 500].filter((x) => x < n);
  return [...at, n];
}

async function firewallJob(): Promise<Record<string, unknown>> {
  const n = job.n ?? 200;
  const driver = job.driver ?? 'nftables';
  process.env['NSNET_FIREWALL_DRIVER'] = driver; // read by Context
  const net = netFor(job.prefix, job.octet, 'f');
  const ctx = kernelContext({ root: job.root });
  const names: string[] = [];
  const attachMs: number[] = [];
  const detachMs: number[] = [];
  const marks = checkpoints(n);
  const counts: Array<{ label: string; containers: number | null } & RuleCounts> = [];
  let failed: string | undefined;
  try {
    counts.push({ label: 'before the network', containers: null, ...ruleCounts() });
    nsnetNetwork(ctx, net);
    counts.push({ label: 'network, no container', containers: 0, ...ruleCounts() });
    for (let i = 0; i < n; i++) {
      const name = `${job.prefix}f${i}`;
      const a = now();
      await run(ctx, { name, networks: [net.name], env: {}, detach: true, remove: false, argv: ['sleep', '1000'] });
      attachMs.push(now() - a);
      names.push(name);
      if (marks.includes(i + 1)) counts.push({ label: `after ${i + 1}`, containers: i + 1, ...ruleCounts() });
    }
  } catch (err) {
    failed = (err as Error).message;
  } finally {
    for (const name of names) {
      const a = now();
      try {
        remove(ctx, [name], { force: true });
        detachMs.push(now() - a);
      } catch {
        /* keep going */
      }
    }
    counts.push({ label: 'after removing them all', containers: 0, ...ruleCounts() });
    try {
      removeNetwork(ctx, net.name);
    } catch {
      /* not made */
    }
    counts.push({ label: 'after removing the network', containers: null, ...ruleCounts() });
    ctx.close();
  }
  if (failed !== undefined && names.length === 0) throw new Error(failed);
  return { job: 'firewall', driver, n, made: names.length, attachMs, detachMs, counts, failed };
}

// ---------------------------------------------------------------------------------------------
// one published port: the mapping steps alone, 1000 mappings, and run()/remove() with vs without

/** Move a TimingRunner's samples into `into`, under `prefix` + step key. */
function moveTimes(timing: TimingRunner, into: Record<string, number[]>, prefix: string): void {
  for (const [k, v] of Object.entries(timing.times)) {
    (into[prefix + k] ??= []).push(...v);
    delete timing.times[k];
  }
}

async function portsJob(): Promise<Record<string, unknown>> {
  const driver = job.driver ?? 'nftables';
  process.env['NSNET_FIREWALL_DRIVER'] = driver;
  const reps = job.reps ?? 300;
  const many = job.n ?? 1000;
  const net = netFor(job.prefix, job.octet, 'p');
  const ctx = kernelContext({ root: job.root });
  const timing = new TimingRunner(new KernelRunner());
  ctx.setRunner(timing);
  const made: string[] = [];
  const out: Record<string, unknown> = { job: 'ports', driver };
  const steps = { add: [] as number[], remove: [] as number[] };
  const manyMs = { add: [] as number[], remove: [] as number[] };
  const lib: Record<string, number[]> = { 'run() without -p': [], 'run() with -p 8080:80': [], 'remove() without -p': [], 'remove() with -p 8080:80': [] };
  const added: FirewallMapping[] = [];
  const libSteps: Record<string, number[]> = {};
  const runner = new KernelRunner();
  try {
    nsnetNetwork(ctx, net);
    const fwd = ctx.firewall;
    if (fwd.addMappings === undefined || fwd.removeMappings === undefined) {
      out['publishable'] = false;
      out['reason'] = `the ${fwd.name} driver of this build has no addMappings/removeMappings (nsnet refuses -p with it)`;
      return out;
    }
    out['publishable'] = true;
    const base = `${job.prefix}p`;
    await run(ctx, { name: `${base}0`, networks: [net.name], env: {}, detach: true, remove: false, argv: ['sleep', '1000'] });
    made.push(`${base}0`);
    const ip = ctx.store.endpoints.forContainer(ctx.store.containers.resolve(`${base}0`).id)[0]!.ip;
    const mapping = (hostPort: number, containerPort = 80): FirewallMapping => ({ hostIp: undefined, hostPort, proto: 'tcp', containerIp: ip, containerPort, container: `${base}0` });

    // (1) the mapping step alone: one port added, then removed, through the kernel runner
    const before = ruleCounts();
    const m = mapping(8080);
    for (let i = 0; i < reps; i++) {
      let a = now();
      applyPlan(fwd.addMappings([m], `publish ${base}0`), runner);
      steps.add.push(now() - a);
      a = now();
      applyPlan(fwd.removeMappings([m], `withdraw ${base}0`), runner);
      steps.remove.push(now() - a);
    }
    // (2) 1000 mappings, one transaction each (as 1000 containers publishing one port would)
    const counts: Array<{ label: string; mappings: number } & RuleCounts> = [{ label: 'no mapping', mappings: 0, ...before }];
    for (let i = 0; i < many; i++) {
      const mi = mapping(20000 + i, 80);
      const a = now();
      applyPlan(fwd.addMappings([mi], `publish ${base}0`), runner);
      manyMs.add.push(now() - a);
      added.push(mi);
      if (i === 0 || i + 1 === 10 || i + 1 === 100 || i + 1 === 200 || i + 1 === many) counts.push({ label: `after ${i + 1}`, mappings: i + 1, ...ruleCounts() });
    }
    while (added.length > 0) {
      const mi = added.pop()!;
      const a = now();
      applyPlan(fwd.removeMappings([mi], `withdraw ${base}0`), runner);
      manyMs.remove.push(now() - a);
    }
    counts.push({ label: 'all removed', mappings: 0, ...ruleCounts() });
    out['counts'] = counts;

    // What publish() reads to find host listeners: /proc/net/{tcp,tcp6,udp,udp6} in this namespace.
    // (The kernel walks its machine-wide socket hash tables for these files, whatever the namespace.)
    const procRead: Record<string, number[]> = {};
    for (let i = 0; i < 20; i++) {
      for (const f of ['tcp', 'tcp6', 'udp', 'udp6']) {
        const a = now();
        fs.readFileSync(`/proc/net/${f}`, 'utf8');
        (procRead[`/proc/net/${f}`] ??= []).push(now() - a);
      }
    }
    out['procRead'] = procRead;
    try {
      out['tcpEhashEntries'] = Number(fs.readFileSync('/proc/sys/net/ipv4/tcp_ehash_entries', 'utf8').trim());
    } catch {
      /* older kernel */
    }

    // (3) the library path: run() + remove() with -p 8080:80 vs without, interleaved
    for (const k of Object.keys(timing.times)) delete timing.times[k];
    for (let i = 0; i < (job.libReps ?? 100); i++) {
      const order = i % 2 === 0 ? [false, true] : [true, false];
      for (const withPort of order) {
        const name = `${base}${withPort ? 'y' : 'n'}${i}`;
        const tag = withPort ? 'with -p' : 'without -p';
        let a = now();
        await run(ctx, { name, networks: [net.name], env: {}, detach: true, remove: false, argv: ['sleep', '1000'], ...(withPort ? { publish: ['8080:80'] } : {}) });
        lib[withPort ? 'run() with -p 8080:80' : 'run() without -p']!.push(now() - a);
        made.push(name);
        moveTimes(timing, libSteps, `run() ${tag}: `);
        a = now();
        remove(ctx, [name], { force: true });
        lib[withPort ? 'remove() with -p 8080:80' : 'remove() without -p']!.push(now() - a);
        made.pop();
        moveTimes(timing, libSteps, `remove() ${tag}: `);
      }
    }
    out['libSteps'] = libSteps;
  } finally {
    if (added.length > 0 && ctx.firewall.removeMappings !== undefined) {
      try {
        applyPlan(ctx.firewall.removeMappings(added, 'withdraw'), runner);
      } catch {
        /* the network removal drops the maps anyway */
      }
    }
    runner.close();
    for (const name of made) {
      try {
        remove(ctx, [name], { force: true });
      } catch {
        /* keep going */
      }
    }
    try {
      removeNetwork(ctx, net.name);
    } catch {
      /* not made */
    }
    ctx.close();
  }
  return { ...out, reps, many, steps, manyMs, lib };
}

// ---------------------------------------------------------------------------------------------
// why an nft transaction that deletes set/map elements costs a grace period: the socket close

/**
 * libnftables transactions on a table of the benchmark's own (never nsnet's): one set element
 * added then deleted, with a fresh nft context per call (what src/kernel/nft.ts does) and with one
 * context kept open; and the close of the kept context. The kernel defers freeing deleted
 * elements to a work item that waits for an RCU grace period, and closing an nftables netlink
 * socket flushes that work (nft_rcv_nl_event), so whoever closes the socket waits for it.
 */
async function nftCtxJob(): Promise<Record<string, unknown>> {
  const reps = job.reps ?? 40;
  const k = koffi();
  const so = k.load('libnftables.so.1');
  const ctxNew = so.func('void *nft_ctx_new(uint32_t flags)') as (f: number) => unknown;
  const ctxFree = so.func('void nft_ctx_free(void *ctx)') as (c: unknown) => void;
  const bufErr = so.func('int nft_ctx_buffer_error(void *ctx)') as (c: unknown) => number;
  const runCmd = so.func('int nft_run_cmd_from_buffer(void *ctx, const char *buf)') as (c: unknown, s: string) => number;
  const table = `inet ${job.prefix}t`;
  const withCtx = (c: unknown, script: string): void => {
    if (runCmd(c, script) !== 0) throw new Error(`nft: ${script.trim()}`);
  };
  const fresh = (script: string): void => {
    const c = ctxNew(0);
    bufErr(c);
    try {
      withCtx(c, script);
    } finally {
      ctxFree(c);
    }
  };
  const samples: Record<string, number[]> = {
    'fresh context per call: add element': [],
    'fresh context per call: delete element': [],
    'one context kept open: add element': [],
    'one context kept open: delete element': [],
    'closing the kept context after the deletes': [],
  };
  const time = (key: string, fn: () => void): void => {
    const a = now();
    fn();
    samples[key]!.push(now() - a);
  };
  const add = `add element ${table} m { tcp . 8080 : 10.0.0.2 . 80 }\n`;
  const del = `delete element ${table} m { tcp . 8080 : 10.0.0.2 . 80 }\n`;
  fresh(`add table ${table}\nadd map ${table} m { type inet_proto . inet_service : ipv4_addr . inet_service; }\n`);
  try {
    for (let i = 0; i < reps; i++) {
      time('fresh context per call: add element', () => fresh(add));
      time('fresh context per call: delete element', () => fresh(del));
    }
    for (let round = 0; round < 5; round++) {
      const c = ctxNew(0);
      bufErr(c);
      for (let i = 0; i < reps / 5; i++) {
        time('one context kept open: add element', () => withCtx(c, add));
        time('one context kept open: delete element', () => withCtx(c, del));
      }
      time('closing the kept context after the deletes', () => ctxFree(c));
    }
  } finally {
    fresh(`delete table ${table}\n`);
  }
  return { job: 'nft-ctx', samples };
}

// ---------------------------------------------------------------------------------------------
// DNS responder: peak RSS (VmHWM) after containers were started and it answered queries

/** A DNS query for NAME/A, as bytes. */
function dnsQuery(id: number, name: string): Buffer {
  const labels = name.split('.').filter((l) => l !== '');
  const q = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0, 0, 1, 0, 1])]);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x0100, 2); // recursion desired
  h.writeUInt16BE(1, 4);
  return Buffer.concat([h, q]);
}

function procStatus(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(VmHWM|VmRSS|VmSize|Threads):\s+(\d+)/.exec(line);
    if (m !== null) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** The responder: a process in this namespace whose command line has dns-serve and our root. */
function findResponder(): number | undefined {
  const mine = fs.readlinkSync('/proc/self/ns/net');
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (fs.readlinkSync(`/proc/${e}/ns/net`) !== mine) continue;
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (cmd.includes('dns-serve') && cmd.join(' ').includes(job.root)) return Number(e);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

async function dnsJob(): Promise<Record<string, unknown>> {
  const k = job.n ?? 20;
  const queries = job.reps ?? 2000;
  const net = netFor(job.prefix, job.octet, 'd');
  const names = Array.from({ length: k }, (_, i) => `${job.prefix}s${i}`);
  const made: string[] = [];
  const out: Record<string, unknown> = { job: 'dns', containers: k, queries };
  let pid: number | undefined;
  try {
    // Upstream: the sandbox's "world" address, so a forwarded query can never leave our namespaces.
    try {
      sh([NSNET, 'network', 'create', net.name, '--subnet', net.subnet, '--gateway', net.gateway, '-o', `com.docker.network.bridge.name=${net.bridge}`, '-o', 'nsnet.dns.servers=203.0.113.8']);
    } catch {
      cliNetwork(net);
      out['note'] = 'nsnet.dns.servers refused; network made without it';
    }
    for (const name of names) {
      sh([NSNET, 'run', '-d', '--name', name, '--network', net.name, '--', 'sleep', '1000']);
      made.push(name);
    }
    for (let i = 0; i < 100 && (pid = findResponder()) === undefined; i++) spawnSync('sleep', ['0.05']);
    if (pid === undefined) {
      out['running'] = false;
      out['reason'] = 'no dns-serve process appeared in the sandbox after run -d';
      return out;
    }
    out['running'] = true;
    out['pid'] = pid;
    out['idle'] = procStatus(pid);
    // Queries from a container: its own names and the other containers' names (answered locally).
    const script = `
      const dgram = require('node:dgram');
      const qs = JSON.parse(process.argv[1]);
      const s = dgram.createSocket('udp4');
      let got = 0, sent = 0; const t0 = Date.now();
      const lat = [];
      const sentAt = new Map();
      s.on('message', (m) => { const id = m.readUInt16BE(0); const a = sentAt.get(id); if (a !== undefined) { lat.push(Number(process.hrtime.bigint() - a) / 1e6); sentAt.delete(id); } got++; next(); });
      function next() {
        if (sent >= qs.length) { if (got >= qs.length || Date.now() - t0 > 20000) done(); return; }
        const q = Buffer.from(qs[sent], 'base64'); sentAt.set(q.readUInt16BE(0), process.hrtime.bigint()); sent++;
        s.send(q, 53, process.argv[2]);
      }
      function done() { lat.sort((a, b) => a - b); console.log(JSON.stringify({ sent, got, ms: Date.now() - t0, medianMs: lat[Math.floor(lat.length / 2)] ?? null })); process.exit(0); }
      setTimeout(done, 25000);
      for (let i = 0; i < 8; i++) next();
    `;
    const qs = Array.from({ length: queries }, (_, i) => dnsQuery(i & 0xffff, names[i % names.length]!).toString('base64'));
    const r = spawnSync('nsenter', [`--net=/run/netns/${names[0]}`, process.execPath, '-e', script, JSON.stringify(qs), net.gateway], { encoding: 'utf8', timeout: 60_000 });
    try {
      out['load'] = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
    } catch {
      out['load'] = { error: (r.stderr || r.stdout || String(r.error)).slice(0, 300) };
    }
    out['afterQueries'] = procStatus(pid);
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((x) => x !== '');
    out['command'] = cmd.map((c) => c.replace(job.root, 'ROOT')).join(' ');
  } finally {
    for (const name of made) spawnSync(NSNET, ['rm', '-f', name], { env });
    spawnSync(NSNET, ['network', 'rm', net.name], { env });
    for (let i = 0; i < 40 && pid !== undefined && fs.existsSync(`/proc/${pid}`); i++) spawnSync('sleep', ['0.05']);
    if (pid !== undefined && fs.existsSync(`/proc/${pid}`)) {
      out['leftRunning'] = true; // the orchestrator kills it (by PID, it is in the sandbox namespace)
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// CNI: nsnet-cni against the reference bridge plugin (host-local IPAM), ADD and DEL

/** The reference plugins (Debian's containernetworking-plugins). */
const CNI_PLUGIN_DIR = '/usr/lib/cni';

interface CniPlugin {
  label: 'nsnet-cni' | 'bridge';
  exe: string;
  /** The network configuration, on stdin for every call. */
  conf: string;
}

/** The environment a runtime gives a plugin; the same for both (the bridge plugin ignores NSNET_ROOT). */
function cniEnv(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', NSNET_ROOT: job.root, CNI_PATH: CNI_PLUGIN_DIR, ...extra };
}

/** Spawn to exit of one process, from this worker (already in the sandbox host namespace): no nsenter in the time. */
function timedSpawn(exe: string, input: string, e: Record<string, string>): { ms: number; r: SpawnSyncReturns<string> } {
  const t0 = now();
  const r = spawnSync(exe, [], { input, env: e, encoding: 'utf8' });
  return { ms: now() - t0, r };
}

/** One plugin call; a failed call (or an ADD result without an address) fails the job. */
function cniCall(p: CniPlugin, command: string, id?: string, netns?: string): number {
  const extra: Record<string, string> = { CNI_COMMAND: command };
  if (id !== undefined) Object.assign(extra, { CNI_CONTAINERID: id, CNI_IFNAME: 'eth0' });
  if (netns !== undefined) extra['CNI_NETNS'] = `/run/netns/${netns}`;
  const { ms, r } = timedSpawn(p.exe, p.conf, cniEnv(extra));
  if (r.status !== 0) throw new Error(`${p.label} ${command} ${id ?? ''} → ${r.status ?? r.signal ?? r.error?.message}: ${`${r.stdout ?? ''} ${r.stderr ?? ''}`.trim().slice(0, 500)}`);
  if (command === 'ADD') {
    let address: string | undefined;
    try {
      address = (JSON.parse(r.stdout) as { ips?: Array<{ address?: string }> }).ips?.[0]?.address;
    } catch {
      /* reported below */
    }
    if (address === undefined) throw new Error(`${p.label} ADD ${id ?? ''}: no address in the result: ${r.stdout.slice(0, 300)}`);
  }
  return ms;
}

/** The service's own handling time per call, from its log (`... ADD <id> eth0 → 0 in 4.5 ms`). */
function serviceLog(file: string): { byCall: Map<string, number>; version: number[]; lines: number } {
  const byCall = new Map<string, number>();
  const version: number[] = [];
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { byCall, version, lines: 0 };
  }
  let lines = 0;
  for (const line of text.split('\n')) {
    const m = /\s([A-Z]+) (\S*) (\S*) → (-?\d+) in ([\d.]+) ms\s*$/.exec(line);
    if (m === null) continue;
    lines++;
    if (m[1] === 'VERSION') version.push(Number(m[5]));
    else byCall.set(`${m[1]} ${m[2]}`, Number(m[5]));
  }
  return { byCall, version, lines };
}

/** Processes in this namespace whose command line names this job's state root (the CNI service, the DNS responder). */
function rootDaemons(): Array<{ pid: number; argv: string }> {
  const mine = fs.readlinkSync('/proc/self/ns/net');
  const out: Array<{ pid: number; argv: string }> = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (fs.readlinkSync(`/proc/${e}/ns/net`) !== mine) continue;
      const argv = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').filter((x) => x !== '');
      if (argv.includes(job.root)) out.push({ pid: Number(e), argv: argv.join(' ').replaceAll(job.root, 'ROOT') });
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * nsnet-cni and the bridge plugin, each ADD and DEL of N containers, interleaved: ADD i of both
 * (the order alternating per i), then DEL i of both likewise, so the two share the machine's noise
 * and see the same number of attached containers. Each container gets a namespace made up front.
 * Before the loop, one cold ADD each: nsnet-cni with no service yet (the C client falls back to
 * the Node plugin, which creates the network, starts the DNS responder and then the service),
 * the bridge plugin's first (creates its bridge and NAT chain). Per iteration also: /bin/true
 * (the process floor) and a VERSION call of each plugin (process start + for nsnet-cni the
 * socket round trip to the service, which answers at once).
 */
async function cniJob(): Promise<Record<string, unknown>> {
  const n = job.n ?? 40;
  const client = path.join(job.repo, 'bin', 'nsnet-cni');
  const missing = [client, path.join(CNI_PLUGIN_DIR, 'bridge'), path.join(CNI_PLUGIN_DIR, 'host-local')].filter((f) => !fs.existsSync(f));
  if (missing.length > 0) return { job: 'cni', available: false, reason: `missing: ${missing.join(', ')}` };
  const varLibCniBefore = fs.existsSync('/var/lib/cni');
  const nsNet = netFor(job.prefix, job.octet, 'c');
  const refNet = netFor(job.prefix, job.octet + 1, 'r');
  const nsnet: CniPlugin = {
    label: 'nsnet-cni',
    exe: client,
    conf: JSON.stringify({ cniVersion: '1.0.0', name: nsNet.name, type: 'nsnet-cni', bridge: nsNet.bridge, subnet: nsNet.subnet }),
  };
  const bridge: CniPlugin = {
    label: 'bridge',
    exe: path.join(CNI_PLUGIN_DIR, 'bridge'),
    conf: JSON.stringify({
      cniVersion: '1.0.0',
      name: refNet.name,
      type: 'bridge',
      bridge: refNet.bridge,
      isGateway: true,
      ipMasq: true,
      ipam: { type: 'host-local', subnet: refNet.subnet, dataDir: path.join(job.root, 'host-local') },
    }),
  };
  const tag = (p: CniPlugin): string => (p === nsnet ? 'n' : 'r');
  const netnsOf = (p: CniPlugin, i: number | 'cold'): string => `${job.prefix}${tag(p)}${i === 'cold' ? 'x' : i}`;
  const idOf = (p: CniPlugin, i: number | 'cold'): string => `bench-${job.prefix}-${tag(p)}${i === 'cold' ? 'cold' : i}`;
  const samples: Record<string, number[]> = {
    'nsnet-cni ADD': [],
    'bridge ADD': [],
    'nsnet-cni DEL': [],
    'bridge DEL': [],
    'spawn /bin/true': [],
    'nsnet-cni VERSION': [],
    'bridge VERSION': [],
  };
  const cold: Record<string, number> = {};
  const notes: string[] = [];
  const namespaces: string[] = [];
  const attached = new Map<string, [CniPlugin, string]>(); // id → plugin, namespace
  const socket = path.join(job.root, 'cni', `net-${fs.statSync('/proc/self/ns/net').ino}.sock`);
  const out: Record<string, unknown> = {
    job: 'cni',
    available: true,
    n,
    configs: { 'nsnet-cni': nsnet.conf, bridge: bridge.conf.replaceAll(job.root, 'ROOT') },
    timing: 'spawnSync of the plugin executable from the benchmark worker, which already runs in the sandbox host namespace (no nsenter in the time); the same for both plugins',
  };
  const add = (p: CniPlugin, i: number | 'cold'): number => {
    const ms = cniCall(p, 'ADD', idOf(p, i), netnsOf(p, i));
    attached.set(idOf(p, i), [p, netnsOf(p, i)]);
    return ms;
  };
  const del = (p: CniPlugin, i: number | 'cold'): number => {
    const ms = cniCall(p, 'DEL', idOf(p, i), netnsOf(p, i));
    attached.delete(idOf(p, i));
    return ms;
  };
  try {
    for (const p of [nsnet, bridge]) {
      for (const i of ['cold' as const, ...Array.from({ length: n }, (_, k) => k)]) {
        sh(['ip', 'netns', 'add', netnsOf(p, i)]);
        namespaces.push(netnsOf(p, i));
      }
    }
    if (fs.existsSync(socket)) notes.push('a CNI service socket existed before the cold call');
    cold['bridge ADD, first call (creates the bridge and its NAT chain)'] = add(bridge, 'cold');
    cold['nsnet-cni ADD, first call (no service yet: the Node plugin creates the network, starts the DNS responder and the service)'] = add(nsnet, 'cold');
    // The service starts in the background after the cold call: wait for it (its pid file is written after listen).
    const t0 = now();
    while (!fs.existsSync(socket.replace(/\.sock$/, '.pid')) && now() - t0 < 10_000) spawnSync('sleep', ['0.01']);
    if (!fs.existsSync(socket.replace(/\.sock$/, '.pid'))) throw new Error(`the nsnet CNI service did not come up within 10 s after the cold call (no ${socket.replace(job.root, 'ROOT').replace(/\.sock$/, '.pid')})`);
    out['serviceUpAfterColdMs'] = now() - t0;
    for (let i = 0; i < n; i++) {
      const order = i % 2 === 0 ? [nsnet, bridge] : [bridge, nsnet];
      for (const p of order) samples[`${p.label} ADD`]!.push(add(p, i));
      samples['spawn /bin/true']!.push(timedSpawn('/bin/true', '', cniEnv({})).ms);
      for (const p of order) samples[`${p.label} VERSION`]!.push(cniCall(p, 'VERSION'));
    }
    for (let i = 0; i < n; i++) {
      const order = i % 2 === 0 ? [nsnet, bridge] : [bridge, nsnet];
      for (const p of order) samples[`${p.label} DEL`]!.push(del(p, i));
    }
    cold['nsnet-cni DEL of the first container (through the service)'] = del(nsnet, 'cold');
    cold['bridge DEL of the first container'] = del(bridge, 'cold');
  } finally {
    // The service's own times, before the reset removes ROOT/cni with its log.
    const log = serviceLog(path.join(job.root, 'cni', 'service.log'));
    const ids = Array.from({ length: samples['nsnet-cni ADD']!.length }, (_, i) => idOf(nsnet, i));
    out['service'] = {
      logLines: log.lines,
      'ADD': ids.map((id) => log.byCall.get(`ADD ${id}`) ?? null),
      'DEL': ids.slice(0, samples['nsnet-cni DEL']!.length).map((id) => log.byCall.get(`DEL ${id}`) ?? null),
      'VERSION': log.version,
    };
    // Whatever a failure left attached (untimed), then the reset that stops the service and the responder.
    for (const [id, [p, ns]] of [...attached.entries()].reverse()) {
      try {
        cniCall(p, 'DEL', id, ns);
      } catch (err) {
        notes.push(`cleanup DEL ${id}: ${(err as Error).message}`);
      }
    }
    const reset = spawnSync(NSNET, ['--root', job.root, 'system', 'reset', '--force'], { encoding: 'utf8', env });
    out['reset'] = reset.status === 0 ? 'ok' : `exit ${reset.status ?? reset.signal}: ${(reset.stderr ?? '').trim().slice(0, 300)}`;
    spawnSync('ip', ['link', 'del', refNet.bridge]);
    for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]);
    let left = rootDaemons();
    for (let i = 0; i < 40 && left.length > 0; i++) {
      spawnSync('sleep', ['0.05']);
      left = rootDaemons();
    }
    out['leftRunning'] = left; // the orchestrator kills them (by PID, in the sandbox namespace)
    out['iptablesRulesAfter'] = saveLines('iptables-nft-save') + saveLines('iptables-legacy-save');
    out['varLibCni'] = { before: varLibCniBefore, after: fs.existsSync('/var/lib/cni') };
  }
  out['samples'] = samples;
  out['cold'] = cold;
  out['notes'] = notes;
  return out;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  let result: unknown;
  switch (job.job) {
    case 'attach':
      result = await attachJob();
      break;
    case 'connect':
      result = await connectJob();
      break;
    case 'iperf':
      result = await iperfJob();
      break;
    case 'veth-del':
      result = await vethDelJob();
      break;
    case 'firewall':
      result = await firewallJob();
      break;
    case 'ports':
      result = await portsJob();
      break;
    case 'dns':
      result = await dnsJob();
      break;
    case 'nft-ctx':
      result = await nftCtxJob();
      break;
    case 'cni':
      result = await cniJob();
      break;
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
