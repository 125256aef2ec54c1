/** attach {method, n}: N containers attached one after another on one fresh network, then detached. */
import fs from 'node:fs';
import { growth, intFromIp, METHODS, now, type Method, type WorkerResult } from '../common.js';
import { remove, removeNetwork, run } from '../../src/index.js';
import { macFor, newId, vethNameFor } from '../../src/engine/ids.js';
import { planCreateContainer, planRemoveContainer, type EndpointSpec } from '../../src/engine/plans.js';
import { applyPlan } from '../../src/plan/executor.js';
import { KernelRunner } from '../../src/plan/kernel-runner.js';
import { networkSpec } from '../../src/ops/specs.js';
import { nftRuleCount } from './counts.js';
import type { Job } from './job.js';
import { benchContext, LIBRARY_FIREWALL as fw, type Context } from './library.js';
import { byHandBridge, cliNetwork, netFor, nsnetNetwork, type Net } from './net.js';
import { shellFor, type Shell } from './shell.js';
import { TimingRunner } from './timing-runner.js';

/** One method's way to attach and detach container i; attach returns the timed ms. */
interface Attacher {
  attach(i: number): Promise<number>;
  detach(i: number): number;
  /** The network goes (after every container). */
  close(): void;
  /** Per step kind, from the library's runner (undefined for the process-based methods). */
  timing?: TimingRunner;
}

interface Container {
  name: string;
  ip: string;
  mac: string;
  hostIf: string;
}

export async function attachJob(job: Job): Promise<WorkerResult> {
  const method = job.method;
  if (method === undefined || !(METHODS as readonly string[]).includes(method)) throw new Error(`attach: unknown method "${method ?? ''}": expected one of ${METHODS.join(', ')}`);
  const n = job.n!;
  const shell = shellFor(job);
  const net = netFor(job.prefix, job.octet);
  const containers: Container[] = Array.from({ length: n }, (_, i) => {
    const ip = net.ip(i);
    return { name: `${job.prefix}c${i}`, ip, mac: macFor(intFromIp(ip)), hostIf: vethNameFor(newId()) };
  });
  const attachMs: number[] = [];
  const detachMs: number[] = [];
  const breakdown: Record<string, number[]> = {};
  const notes: string[] = [];
  const add = (k: string, ms: number): void => void (breakdown[k] ??= []).push(ms);
  const counted = method === 'cli' || method.startsWith('lib');
  let nftRulesAfter1: number | null = null;
  let nftRulesAfterN: number | null = null;
  let attachTotalMs = 0;
  let detachTotalMs = 0;

  const how = attacherFor(method, job, shell, net, containers, add);
  try {
    if (job.markers === true) process.stderr.write('MARK-BEGIN\n');
    const t0 = now();
    for (let i = 0; i < n; i++) {
      attachMs.push(await how.attach(i));
      if (i === 0 && job.markers !== true && counted) nftRulesAfter1 = nftRuleCount();
    }
    attachTotalMs = now() - t0;
    if (job.markers === true) process.stderr.write('MARK-END\n');
    if (counted) nftRulesAfterN = nftRuleCount();
    how.timing?.moveTo(breakdown, 'attach: ');
  } finally {
    // detach (also the cleanup: every container goes, even after a failure)
    const t1 = now();
    containers.forEach(({ name }, i) => {
      const made = i < attachMs.length || fs.existsSync(`/run/netns/${name}`);
      if (!made) return;
      try {
        const ms = how.detach(i);
        if (i < attachMs.length) detachMs.push(ms);
      } catch (err) {
        notes.push(`detach ${name}: ${(err as Error).message}`);
      }
    });
    detachTotalMs = now() - t1;
    how.timing?.moveTo(breakdown, 'detach: ');
    try {
      how.close();
    } catch (err) {
      notes.push(`network cleanup: ${(err as Error).message}`);
    }
  }
  const g = growth(attachMs);
  if (g !== null && g.ratio > 1.2) notes.push(`attach growth last-${g.window}/first-${g.window} = ${g.ratio.toFixed(2)}`);
  return { method, n, attachMs, detachMs, attachTotalMs, detachTotalMs, nftRulesAfter1, nftRulesAfterN, breakdown, notes };
}

function attacherFor(method: Method, job: Job, shell: Shell, net: Net, containers: Container[], add: (k: string, ms: number) => void): Attacher {
  switch (method) {
    case 'floor':
      return floor(shell, net, containers, add);
    case 'byhand':
      return byHand(shell, net, containers, add);
    case 'cli':
      return cli(shell, net, containers);
    case 'lib-kernel':
      return libKernel(job, net, containers);
    case 'lib-run':
      return libRun(job, net, containers);
  }
}

/** The by-hand bridge's containers go with their namespace, the bridge with `ip link del`. */
function byHandTeardown(shell: Shell, net: Net, containers: Container[]): Pick<Attacher, 'detach' | 'close'> {
  return {
    detach: (i) => shell.sh(['ip', 'netns', 'del', containers[i]!.name]).ms,
    close: () => void shell.sh(['ip', 'link', 'del', net.bridge]),
  };
}

/** ip -batch: the veth pair from the host, the container side in one more process. */
function floor(shell: Shell, net: Net, containers: Container[], add: (k: string, ms: number) => void): Attacher {
  byHandBridge(shell, net);
  return {
    attach: async (i) => {
      const { name, ip, mac, hostIf } = containers[i]!;
      shell.sh(['ip', 'netns', 'add', name]); // untimed: "netns exists"
      const h = shell.sh(['ip', '-batch', '-'], `link add ${hostIf} master ${net.bridge} up type veth peer name eth0 netns ${name} address ${mac}\n`);
      const c = shell.sh(
        ['ip', '-n', name, '-batch', '-'],
        `link set lo up\naddr add ${ip}/${net.prefixLen} brd + dev eth0\nlink set eth0 up\nroute add default via ${net.gateway} dev eth0\n`,
      );
      add('ip -batch (host)', h.ms);
      add('ip -n NS -batch (container)', c.ms);
      return h.ms + c.ms;
    },
    ...byHandTeardown(shell, net, containers),
  };
}

/** The article's recipe: one process per step. */
function byHand(shell: Shell, net: Net, containers: Container[], add: (k: string, ms: number) => void): Attacher {
  byHandBridge(shell, net);
  return {
    attach: async (i) => {
      const { name, ip, hostIf } = containers[i]!;
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
      let ms = 0;
      for (const [label, argv] of steps) {
        const r = shell.sh(argv);
        add(label, r.ms);
        ms += r.ms;
      }
      return ms;
    },
    ...byHandTeardown(shell, net, containers),
  };
}

/** `nsnet run -d` / `nsnet rm -f`, one CLI process each. */
function cli(shell: Shell, net: Net, containers: Container[]): Attacher {
  cliNetwork(shell, net);
  return {
    attach: async (i) => shell.sh([shell.nsnet, 'run', '-d', '--name', containers[i]!.name, '--network', net.name, '--', 'sleep', '1000']).ms,
    detach: (i) => shell.sh([shell.nsnet, 'rm', '-f', containers[i]!.name]).ms,
    close: () => void shell.sh([shell.nsnet, 'network', 'rm', net.name]),
  };
}

/** A library Context on the job's root, applying through a TimingRunner, with the network made (not part of the breakdown). */
function libraryNetwork(job: Job, net: Net): { ctx: Context; timing: TimingRunner } {
  const timing = new TimingRunner(new KernelRunner());
  const ctx = benchContext(job, timing);
  nsnetNetwork(ctx, net);
  timing.clear(); // network creation is not a container
  return { ctx, timing };
}

function closeLibraryNetwork(ctx: Context, net: Net): void {
  removeNetwork(ctx, net.name);
  ctx.close();
}

/** planCreateContainer's steps applied with the KernelRunner: no store, no lock, no process. */
function libKernel(job: Job, net: Net, containers: Container[]): Attacher {
  const { ctx, timing } = libraryNetwork(job, net);
  const network = networkSpec(ctx.store.networks.byName(net.name)!);
  const specs: EndpointSpec[] = [];
  return {
    timing,
    attach: async (i) => {
      const { name, ip, mac, hostIf } = containers[i]!;
      const spec: EndpointSpec = { network, hostIf, ifName: 'eth0', ip, ip6: null, mac };
      specs[i] = spec;
      const [first, ...rest] = planCreateContainer(name, [spec], fw);
      if (first?.kind !== 'netns-add') throw new Error(`planCreateContainer no longer starts with netns-add (${first?.kind})`);
      timing.apply(first); // untimed in the metric ("netns exists"), kept in the breakdown
      const a = now();
      applyPlan(rest, timing);
      timing.releaseNamespaces(); // as Context.execute does after every plan
      return now() - a;
    },
    detach: (i) => {
      const a = now();
      applyPlan(planRemoveContainer(containers[i]!.name, specs[i] === undefined ? [] : [specs[i]!], fw), timing);
      timing.releaseNamespaces();
      return now() - a;
    },
    close: () => closeLibraryNetwork(ctx, net),
  };
}

/** The library's run()/remove(): store, lock, namespace, wiring and the container's process. */
function libRun(job: Job, net: Net, containers: Container[]): Attacher {
  const { ctx, timing } = libraryNetwork(job, net);
  return {
    timing,
    attach: async (i) => {
      const a = now();
      await run(ctx, { name: containers[i]!.name, networks: [net.name], env: {}, detach: true, remove: false, argv: ['sleep', '1000'] });
      return now() - a;
    },
    detach: (i) => {
      const a = now();
      remove(ctx, [containers[i]!.name], { force: true });
      return now() - a;
    },
    close: () => closeLibraryNetwork(ctx, net),
  };
}
