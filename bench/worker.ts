/**
 * Benchmark worker. Runs INSIDE the sandbox host namespace (bench/run.ts starts it with
 * `nsenter --net=/run/netns/HOST node dist/bench/worker.js JSON`), runs one job of bench/jobs/
 * and prints its result as one JSON line on stdout. Never run it in the machine's own namespace:
 * it creates bridges.
 *
 * A job it does not know, or an argument that is not a job, is refused with exit code 2.
 */
import { JOB_NAMES, type Job, type JobName } from './jobs/job.js';

/** Each job's module, loaded only when asked for (a refused job loads none of nsnet). */
const JOBS: Record<JobName, (job: Job) => Promise<unknown>> = {
  attach: async (j) => (await import('./jobs/attach.js')).attachJob(j),
  connect: async (j) => (await import('./jobs/connect.js')).connectJob(j),
  iperf: async (j) => (await import('./jobs/iperf.js')).iperfJob(j),
  'veth-del': async (j) => (await import('./jobs/veth-del.js')).vethDelJob(j),
  firewall: async (j) => (await import('./jobs/firewall.js')).firewallJob(j),
  ports: async (j) => (await import('./jobs/ports.js')).portsJob(j),
  dns: async (j) => (await import('./jobs/dns.js')).dnsJob(j),
  'nft-ctx': async (j) => (await import('./jobs/nft-ctx.js')).nftCtxJob(j),
  cni: async (j) => (await import('./jobs/cni.js')).cniJob(j),
  netem: async (j) => (await import('./jobs/netem.js')).netemJob(j),
  partition: async (j) => (await import('./jobs/partition.js')).partitionJob(j),
  monitor: async (j) => (await import('./jobs/monitor.js')).monitorJob(j),
  'attach-dual': async (j) => (await import('./jobs/attach-dual.js')).attachDualJob(j),
  'docker-api': async (j) => (await import('./jobs/docker-api.js')).dockerApiJob(j),
  scale: async (j) => (await import('./jobs/scale.js')).scaleJob(j),
};

const USAGE = `usage: node dist/bench/worker.js JOB_JSON   (started by bench/run.ts inside its sandbox namespace)
  JOB_JSON: {"job": NAME, "prefix", "octet", "root", "repo", ...} (see bench/jobs/job.ts)
  NAME: ${JOB_NAMES.join(', ')}`;

class UsageError extends Error {}

/** The job on the command line, or a UsageError that says what is wrong with it. */
function parseJob(arg: string | undefined): Job {
  if (arg === undefined || arg === '') throw new UsageError('no job given');
  let job: unknown;
  try {
    job = JSON.parse(arg);
  } catch (err) {
    throw new UsageError(`the job is not JSON: ${(err as Error).message}`);
  }
  if (typeof job !== 'object' || job === null) throw new UsageError(`the job is not a JSON object: ${arg.slice(0, 200)}`);
  const name = (job as { job?: unknown }).job;
  if (!(JOB_NAMES as readonly unknown[]).includes(name)) throw new UsageError(`unknown job ${JSON.stringify(name)}: expected one of ${JOB_NAMES.join(', ')}`);
  for (const field of ['prefix', 'root', 'repo'] as const) {
    if (typeof (job as Record<string, unknown>)[field] !== 'string') throw new UsageError(`job ${String(name)}: "${field}" must be a string`);
  }
  if (typeof (job as { octet?: unknown }).octet !== 'number') throw new UsageError(`job ${String(name)}: "octet" must be a number`);
  return job as Job;
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  if (arg === '--help' || arg === '-h') {
    process.stdout.write(USAGE + '\n');
    return;
  }
  let job: Job;
  try {
    job = parseJob(arg);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`worker: ${err.message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const result = await JOBS[job.job](job);
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
