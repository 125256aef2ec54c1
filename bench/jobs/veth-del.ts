/** veth-del: detach by deleting the veth instead of the namespace, with `ip` (the floor) and with the KernelRunner. */
import { spawnSync } from 'node:child_process';
import { intFromIp, now } from '../common.js';
import { removeNetwork } from '../../src/index.js';
import { macFor, newId, vethNameFor } from '../../src/engine/ids.js';
import { planCreateContainer, planDetach, planRemoveContainer, type EndpointSpec } from '../../src/engine/plans.js';
import { applyPlan } from '../../src/plan/executor.js';
import { KernelRunner } from '../../src/plan/kernel-runner.js';
import { networkSpec } from '../../src/ops/specs.js';
import type { Job } from './job.js';
import { benchContext, LIBRARY_FIREWALL as fw } from './library.js';
import { netFor, nsnetNetwork } from './net.js';
import { shellFor } from './shell.js';

export async function vethDelJob(job: Job): Promise<Record<string, unknown>> {
  const { sh } = shellFor(job);
  const reps = job.reps ?? 30;
  const net = netFor(job.prefix, job.octet, 'v');
  const ctx = benchContext(job);
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
          const spec: EndpointSpec = { network: spec0, hostIf, ifName: 'eth0', ip, ip6: null, mac: macFor(intFromIp(ip)) };
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
