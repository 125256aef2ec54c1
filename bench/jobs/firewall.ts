/** firewall {driver, n}: rule counts after 1, 10, 100, ... and N containers made with run(), and after removing them. */
import { now, type RuleCounts } from '../common.js';
import { remove, removeNetwork, run } from '../../src/index.js';
import { ruleCounts } from './counts.js';
import type { Job } from './job.js';
import { benchContext } from './library.js';
import { netFor, nsnetNetwork } from './net.js';

/** Counts after 1, 10, 100, ... containers and after N: growth per container is visible. */
function checkpoints(n: number): number[] {
  const at = [1, 10, 100, 200, 500].filter((x) => x < n);
  return [...at, n];
}

export async function firewallJob(job: Job): Promise<Record<string, unknown>> {
  const n = job.n ?? 200;
  const driver = job.driver ?? 'nftables';
  const net = netFor(job.prefix, job.octet, 'f');
  const ctx = benchContext({ ...job, driver });
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
