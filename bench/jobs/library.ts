/**
 * The nsnet library as the jobs use it. Every job that calls the library opens its Context here,
 * so a change to how a Context is made is one edit.
 */
import { kernelContext, remove, removeNetwork, type Context } from '../../src/index.js';
import { nftablesDriver } from '../../src/firewall/nftables-driver.js';
import type { StepRunner } from '../../src/plan/runner.js';
import type { Job } from './job.js';

export type { Context };

/** The driver the kernel-path measurements plan with: nftables, nsnet's default. */
export const LIBRARY_FIREWALL = nftablesDriver();

/** A Context on the job's state root, with the job's firewall driver when it names one, applying through `runner` when given. */
export function benchContext(job: Job, runner?: StepRunner): Context {
  return kernelContext({ root: job.root, firewallDriver: job.driver, runner });
}

/** A job's end: its containers, then its network, each whatever happened to the others; then the Context. */
export function removeJobObjects(ctx: Context, containers: readonly string[], network: string): void {
  for (const name of containers) {
    try {
      remove(ctx, [name], { force: true });
    } catch {
      /* keep going */
    }
  }
  try {
    removeNetwork(ctx, network);
  } catch {
    /* not made */
  }
  ctx.close();
}
