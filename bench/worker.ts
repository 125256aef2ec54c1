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
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { growth, intFromIp, ipFromInt, now, type Method, type WorkerResult } from './common.js';
import { Context, createNetwork, remove, removeNetwork, run } from '../src/index.js';
import { macFor, newId, vethNameFor } from '../src/engine/ids.js';
import { planCreateContainer, planDetach, planRemoveContainer, type EndpointSpec } from '../src/engine/plans.js';
import { applyPlan } from '../src/plan/executor.js';
import { KernelRunner } from '../src/plan/kernel-runner.js';
import type { StepRunner } from '../src/plan/runner.js';
import type { Step } from '../src/plan/steps.js';
import { networkSpec } from '../src/ops/specs.js';
import { nftablesDriver } from '../src/firewall/nftables-driver.js';

// The library attach path measures the nftables driver (the default).
const fw = nftablesDriver();

export interface Job {
  job: 'attach' | 'connect' | 'iperf' | 'veth-del' | 'firewall';
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
  seconds?: number;
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
  const r = spawnSync('nft', ['-j', 'list', 'ruleset'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) return null;
  const doc = JSON.parse(r.stdout) as { nftables: Array<Record<string, { table?: string; name?: string }>> };
  const tables = doc.nftables.filter((o) => o['table']?.name === 'nsnet').length;
  if (tables === 0) return null;
  return doc.nftables.filter((o) => o['rule']?.table === 'nsnet').length;
}

/** Wraps the KernelRunner and times every step's apply (src/ stays untouched). */
class TimingRunner implements StepRunner {
  readonly times: Record<string, number[]> = {};
  constructor(private readonly inner: StepRunner) {}
  apply(step: Step): void {
    const t0 = now();
    this.inner.apply(step);
    (this.times[step.kind] ??= []).push(now() - t0);
  }
  undo(step: Step): void {
    this.inner.undo(step);
  }
  close(): void {
    this.inner.close();
  }
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
    ctx = new Context({ root: job.root });
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

async function connectJob(): Promise<Record<string, unknown>> {
  const reps = job.reps ?? 20;
  const net1 = netFor(job.prefix, job.octet, 'a');
  const net2 = netFor(job.prefix, job.octet + 1, 'b');
  const names = Array.from({ length: reps }, (_, i) => `${job.prefix}k${i}`);
  const out: Record<string, number[]> = { 'node -e 0': [], 'nsnet network connect': [], 'nsnet --version': [], 'nsnet ps -q': [], 'rss run -d (KiB)': [], 'rss rm -f (KiB)': [], 'rss network connect (KiB)': [] };
  const ctx = new Context({ root: job.root });
  nsnetNetwork(ctx, net1);
  nsnetNetwork(ctx, net2);
  ctx.close(); // the CLI works on the same root from here on
  const made: string[] = [];
  let straceConnect = '';
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
  } finally {
    for (const name of made) spawnSync(NSNET, ['rm', '-f', name], { env });
    spawnSync(NSNET, ['network', 'rm', net1.name, net2.name], { env });
  }
  return { job: 'connect', samples: out, straceConnect, rssMethod: fs.existsSync('/usr/bin/time') ? '/usr/bin/time -f %M' : 'none' };
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
  const ctx = new Context({ root: job.root });
  const onNames = [`${job.prefix}i0`, `${job.prefix}i1`];
  const offNames = [`${job.prefix}o0`, `${job.prefix}o1`];
  const handNames = [`${job.prefix}h0`, `${job.prefix}h1`];
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
    byHandBridge(netB);
    handNames.forEach((name, i) => {
      const hostIf = `${job.prefix}v${i}`;
      sh(['ip', 'netns', 'add', name]);
      sh(['ip', 'link', 'add', hostIf, 'master', netB.bridge, 'up', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
      sh(['ip', '-n', name, '-batch', '-'], `link set lo up\naddr add ${netB.ip(i)}/16 dev eth0\nlink set eth0 up\nroute add default via ${netB.gateway}\n`);
    });
    for (let round = 0; round < 2; round++) {
      for (const [label, names] of pairs) (result[label] ??= []).push(iperfPair(names[0]!, names[1]!, ips[label]!, seconds));
      (result['by-hand bridge'] ??= []).push(iperfPair(handNames[0]!, handNames[1]!, netB.ip(0), seconds));
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
    spawnSync('ip', ['link', 'del', netB.bridge]);
  }
  return { job: 'iperf', gbps: result, seconds, antiSpoofing };
}

// ---------------------------------------------------------------------------------------------
// detach by deleting the veth (vs the namespace)

async function vethDelJob(): Promise<Record<string, unknown>> {
  const reps = job.reps ?? 30;
  const net = netFor(job.prefix, job.octet, 'v');
  const ctx = new Context({ root: job.root });
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

function iptablesRuleCount(): number {
  let total = 0;
  for (const tool of ['iptables-legacy-save', 'iptables-nft-save']) {
    const r = spawnSync(tool, [], { encoding: 'utf8' });
    if (r.status === 0) total += r.stdout.split('\n').filter((l) => l.startsWith('-A ')).length;
  }
  return total;
}

async function firewallJob(): Promise<Record<string, unknown>> {
  const n = job.n ?? 200;
  const driver = job.driver ?? 'nftables';
  process.env['NSNET_FIREWALL_DRIVER'] = driver; // read by Context (also by older builds that ignore it)
  const net = netFor(job.prefix, job.octet, 'f');
  const ctx = new Context({ root: job.root });
  const names: string[] = [];
  const attachMs: number[] = [];
  const counts: Record<string, Array<number | null>> = { nft: [], iptables: [] };
  try {
    counts['nft']!.push(nftRuleCount());
    counts['iptables']!.push(iptablesRuleCount());
    nsnetNetwork(ctx, net);
    for (let i = 0; i < n; i++) {
      const name = `${job.prefix}f${i}`;
      const a = now();
      await run(ctx, { name, networks: [net.name], env: {}, detach: true, remove: false, argv: ['sleep', '1000'] });
      attachMs.push(now() - a);
      names.push(name);
      if (i === 0) {
        counts['nft']!.push(nftRuleCount());
        counts['iptables']!.push(iptablesRuleCount());
      }
    }
    counts['nft']!.push(nftRuleCount());
    counts['iptables']!.push(iptablesRuleCount());
  } finally {
    for (const name of names) {
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
  return { job: 'firewall', driver, n, attachMs, counts, labels: ['before the network', 'after 1 container', `after ${n}`] };
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
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
