/**
 * partition: `nsnet partition create` and `partition heal` through the library (lock, decision,
 * journal, records, one firewall transaction of set elements), on a host with two containers and
 * again with `n`. The kernel part alone comes from the timing runner.
 */
import { now } from '../common.js';
import { run } from '../../src/index.js';
import { createPartition, healPartitions } from '../../src/ops/partitions.js';
import { KernelRunner } from '../../src/plan/kernel-runner.js';
import type { Job } from './job.js';
import { benchContext, removeJobObjects } from './library.js';
import { netFor, nsnetNetwork } from './net.js';
import { TimingRunner } from './timing-runner.js';

export async function partitionJob(job: Job): Promise<Record<string, unknown>> {
  const reps = job.reps ?? 200;
  const n = job.n ?? 200;
  const net = netFor(job.prefix, job.octet, 'p');
  const timing = new TimingRunner(new KernelRunner());
  const ctx = benchContext(job, timing);
  const made: string[] = [];
  const samples: Record<string, number[]> = {};
  const steps: Record<string, number[]> = {};
  const base = `${job.prefix}p`;
  const groups = [`${base}0`, `${base}1`];
  const measure = (count: number): void => {
    const create = `partition create, ${count} containers`;
    const heal = `partition heal, ${count} containers`;
    samples[create] = [];
    samples[heal] = [];
    // Warm up first: the first calls pay for the JIT and the store's prepared statements.
    for (let i = 0; i < 20; i++) {
      createPartition(ctx, { name: 'bench', groups });
      healPartitions(ctx, 'bench');
    }
    timing.clear();
    for (let i = 0; i < reps; i++) {
      let a = now();
      createPartition(ctx, { name: 'bench', groups });
      samples[create]!.push(now() - a);
      a = now();
      healPartitions(ctx, 'bench');
      samples[heal]!.push(now() - a);
    }
    timing.moveTo(steps, `${count} containers: `);
  };
  try {
    nsnetNetwork(ctx, net);
    const make = async (i: number): Promise<void> => {
      await run(ctx, { name: `${base}${i}`, networks: [net.name], env: {}, detach: true, remove: false, argv: ['sleep', '1000'] });
      made.push(`${base}${i}`);
    };
    await make(0);
    await make(1);
    measure(2);
    for (let i = 2; i < n; i++) await make(i);
    measure(n);
  } finally {
    try {
      healPartitions(ctx);
    } catch {
      /* removing the containers takes their pairs out too */
    }
    removeJobObjects(ctx, made, net.name);
  }
  return { job: 'partition', n, reps, samples, steps };
}
