/** ports {driver}: one published port — the mapping steps alone, 1000 mappings, and run()/remove() with vs without. */
import fs from 'node:fs';
import { now, type RuleCounts } from '../common.js';
import { remove, run } from '../../src/index.js';
import type { FirewallMapping } from '../../src/firewall/model.js';
import { applyPlan } from '../../src/plan/executor.js';
import { KernelRunner } from '../../src/plan/kernel-runner.js';
import { ruleCounts } from './counts.js';
import type { Job } from './job.js';
import { benchContext, removeJobObjects } from './library.js';
import { netFor, nsnetNetwork } from './net.js';
import { TimingRunner } from './timing-runner.js';

export async function portsJob(job: Job): Promise<Record<string, unknown>> {
  const driver = job.driver ?? 'nftables';
  const reps = job.reps ?? 300;
  const many = job.n ?? 1000;
  const net = netFor(job.prefix, job.octet, 'p');
  const timing = new TimingRunner(new KernelRunner());
  const ctx = benchContext({ ...job, driver }, timing);
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
    const ip = ctx.store.endpoints.forContainer(ctx.store.containers.resolve(`${base}0`).id)[0]!.ip!;
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
    Object.assign(out, listenerScan());

    // (3) the library path: run() + remove() with -p 8080:80 vs without, interleaved
    timing.clear();
    for (let i = 0; i < (job.libReps ?? 100); i++) {
      const order = i % 2 === 0 ? [false, true] : [true, false];
      for (const withPort of order) {
        const name = `${base}${withPort ? 'y' : 'n'}${i}`;
        const tag = withPort ? 'with -p' : 'without -p';
        let a = now();
        await run(ctx, { name, networks: [net.name], env: {}, detach: true, remove: false, argv: ['sleep', '1000'], ...(withPort ? { publish: ['8080:80'] } : {}) });
        lib[withPort ? 'run() with -p 8080:80' : 'run() without -p']!.push(now() - a);
        made.push(name);
        timing.moveTo(libSteps, `run() ${tag}: `);
        a = now();
        remove(ctx, [name], { force: true });
        lib[withPort ? 'remove() with -p 8080:80' : 'remove() without -p']!.push(now() - a);
        made.pop();
        timing.moveTo(libSteps, `remove() ${tag}: `);
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
    removeJobObjects(ctx, made, net.name);
  }
  return { ...out, reps, many, steps, manyMs, lib };
}

/**
 * What publish() reads to find host listeners: /proc/net/{tcp,tcp6,udp,udp6} in this namespace,
 * 20 reads each. (The kernel walks its machine-wide socket hash tables for these files, whatever
 * the namespace; tcp_ehash_entries says how big the TCP one is, negative when shared.)
 */
function listenerScan(): { procRead: Record<string, number[]>; tcpEhashEntries?: number } {
  const procRead: Record<string, number[]> = {};
  for (let i = 0; i < 20; i++) {
    for (const f of ['tcp', 'tcp6', 'udp', 'udp6']) {
      const a = now();
      fs.readFileSync(`/proc/net/${f}`, 'utf8');
      (procRead[`/proc/net/${f}`] ??= []).push(now() - a);
    }
  }
  try {
    return { procRead, tcpEhashEntries: Number(fs.readFileSync('/proc/sys/net/ipv4/tcp_ehash_entries', 'utf8').trim()) };
  } catch {
    return { procRead }; // older kernel
  }
}
