/**
 * netem: `nsnet netem set` through the library (setNetem: lock, decide, journal, records, the
 * qdisc over rtnetlink, commit), on a host with one container and again with `n`. A rate is set
 * (tbf: in every kernel the bench runs on; netem's own qdisc may be missing), alternating between
 * two values so each call changes the qdisc; `clear` is measured too. The kernel part alone comes
 * from the timing runner.
 */
import { now } from '../common.js';
import { clearNetem, run, setNetem } from '../../src/index.js';
import { KernelRunner } from '../../src/plan/kernel-runner.js';
import type { Job } from './job.js';
import { benchContext, removeJobObjects } from './library.js';
import { netFor, nsnetNetwork } from './net.js';
import { TimingRunner } from './timing-runner.js';

export async function netemJob(job: Job): Promise<Record<string, unknown>> {
  const reps = job.reps ?? 200;
  const n = job.n ?? 200;
  const net = netFor(job.prefix, job.octet, 'q');
  const timing = new TimingRunner(new KernelRunner());
  const ctx = benchContext(job, timing);
  const made: string[] = [];
  const samples: Record<string, number[]> = {};
  const steps: Record<string, number[]> = {};
  const base = `${job.prefix}q`;
  const measure = (count: number): void => {
    const set = `netem set, ${count} container${count === 1 ? '' : 's'}`;
    const clear = `netem clear, ${count} container${count === 1 ? '' : 's'}`;
    samples[set] = [];
    samples[clear] = [];
    // Warm up first: the first calls pay for the JIT and the store's prepared statements.
    for (let i = 0; i < 20; i++) setNetem(ctx, `${base}0`, { rateBit: i % 2 === 0 ? 10_000_000 : 20_000_000 });
    timing.clear();
    for (let i = 0; i < reps; i++) {
      let a = now();
      setNetem(ctx, `${base}0`, { rateBit: i % 2 === 0 ? 10_000_000 : 20_000_000 });
      samples[set]!.push(now() - a);
      if (i % 10 === 9) {
        a = now();
        clearNetem(ctx, `${base}0`);
        samples[clear]!.push(now() - a);
      }
    }
    timing.moveTo(steps, `${count === 1 ? '1 container' : `${count} containers`}: `);
  };
  try {
    nsnetNetwork(ctx, net);
    const make = async (i: number): Promise<void> => {
      await run(ctx, { name: `${base}${i}`, networks: [net.name], env: {}, detach: true, remove: false, argv: ['sleep', '1000'] });
      made.push(`${base}${i}`);
    };
    await make(0);
    measure(1);
    for (let i = 1; i < n; i++) await make(i);
    measure(n);
    clearNetem(ctx, `${base}0`);
  } finally {
    removeJobObjects(ctx, made, net.name);
  }
  return { job: 'netem', n, reps, samples, steps };
}
