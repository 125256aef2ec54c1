/**
 * attach-dual: what IPv6 adds to attaching a container. The library's attach (planCreateContainer
 * applied with the kernel runner, as the lib-kernel method of the attach matrix) on an IPv4-only
 * network and on a dual-stack one, interleaved one pair at a time so load drifts hit both alike;
 * each attach is detached before the next. Also the nft rule count after 1 and after N dual-stack
 * containers (sets only: it must not grow).
 */
import { intFromIp, ipFromInt, now } from '../common.js';
import { createNetwork, removeNetwork } from '../../src/index.js';
import { intToIp6, ip6ToInt } from '../../src/core/ipv6.js';
import { macFor, newId, vethNameFor } from '../../src/engine/ids.js';
import { planCreateContainer, planRemoveContainer, type EndpointSpec, type NetworkSpec } from '../../src/engine/plans.js';
import { applyPlan } from '../../src/plan/executor.js';
import { KernelRunner } from '../../src/plan/kernel-runner.js';
import { networkSpec } from '../../src/ops/specs.js';
import { nftRuleCount } from './counts.js';
import type { Job } from './job.js';
import { benchContext, LIBRARY_FIREWALL as fw } from './library.js';
import { TimingRunner } from './timing-runner.js';

export async function attachDualJob(job: Job): Promise<Record<string, unknown>> {
  const reps = job.reps ?? 100;
  const timing = new TimingRunner(new KernelRunner());
  const ctx = benchContext(job, timing);
  const v4Name = `${job.prefix}s4`;
  const dualName = `${job.prefix}s6`;
  const samples: Record<string, number[]> = { 'IPv4-only attach': [], 'dual-stack attach': [] };
  const made: string[] = [];
  try {
    const v4 = networkSpec(createNetwork(ctx, { name: v4Name, subnet: `10.${job.octet}.0.0/17`, options: { 'com.docker.network.bridge.name': `${job.prefix}s4br`.slice(0, 15) } }));
    made.push(v4Name);
    const dual = networkSpec(
      createNetwork(ctx, {
        name: dualName,
        subnet: [`10.${job.octet}.128.0/17`, `fd00:b:${job.octet}::/64`],
        ipv6: true,
        options: { 'com.docker.network.bridge.name': `${job.prefix}s6br`.slice(0, 15) },
      }),
    );
    made.push(dualName);
    timing.clear(); // the networks are not containers
    const specFor = (network: NetworkSpec, i: number): EndpointSpec => {
      const ip = ipFromInt(intFromIp(network.gateway!) + 1 + i);
      const ip6 = network.gateway6 === null ? null : intToIp6(ip6ToInt(network.gateway6) + BigInt(1 + i));
      return { network, hostIf: vethNameFor(newId()), ifName: 'eth0', ip, ip6, mac: macFor(intFromIp(ip)) };
    };
    const attach = (name: string, spec: EndpointSpec): number => {
      const [first, ...rest] = planCreateContainer(name, [spec], fw);
      timing.apply(first!); // the namespace exists before the clock starts, as in the attach matrix
      const a = now();
      applyPlan(rest, timing);
      timing.releaseNamespaces();
      return now() - a;
    };
    const detach = (name: string, spec: EndpointSpec): void => {
      applyPlan(planRemoveContainer(name, [spec], fw), timing);
      timing.releaseNamespaces();
    };
    // Warm up both paths (JIT, netlink sockets), then interleave.
    for (let i = 0; i < 10 + reps; i++) {
      for (const [label, network] of [['IPv4-only attach', v4], ['dual-stack attach', dual]] as const) {
        const name = `${job.prefix}d${label.startsWith('dual') ? 6 : 4}`;
        const spec = specFor(network, i);
        const ms = attach(name, spec);
        if (i >= 10) samples[label]!.push(ms);
        detach(name, spec);
      }
    }
    // The rule count with 1 and with N dual-stack containers attached at once.
    const n = job.n ?? 50;
    const live: Array<[string, EndpointSpec]> = [];
    let after1: number | null = null;
    for (let i = 0; i < n; i++) {
      const name = `${job.prefix}m${i}`;
      const spec = specFor(dual, 1000 + i);
      attach(name, spec);
      live.push([name, spec]);
      if (i === 0) after1 = nftRuleCount();
    }
    const afterN = nftRuleCount();
    for (const [name, spec] of live) detach(name, spec);
    const steps: Record<string, number[]> = {};
    timing.moveTo(steps, '');
    return { job: 'attach-dual', reps, n, samples, nftRulesAfter1: after1, nftRulesAfterN: afterN, steps };
  } finally {
    for (const name of made.reverse()) {
      try {
        removeNetwork(ctx, name);
      } catch {
        /* reported by the residue checks */
      }
    }
    ctx.close();
  }
}
