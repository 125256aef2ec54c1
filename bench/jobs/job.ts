/** What the orchestrator (bench/run.ts) hands a worker: one job, as JSON on its command line. */
import type { Method } from '../common.js';

export const JOB_NAMES = ['attach', 'connect', 'iperf', 'veth-del', 'firewall', 'ports', 'dns', 'nft-ctx', 'cni', 'netem', 'monitor', 'attach-dual', 'partition', 'docker-api', 'scale'] as const;
export type JobName = (typeof JOB_NAMES)[number];

export interface Job {
  job: JobName;
  /** firewall, ports: the firewall driver the job's Context uses. */
  driver?: string;
  method?: Method;
  n?: number;
  /** Unique short prefix for every name this job makes (namespaces are visible machine-wide). */
  prefix: string;
  /** Second octet of this job's 10.X.0.0/16 subnet(s). */
  octet: number;
  /** State root for nsnet (a fresh directory under the orchestrator's mkdtemp). */
  root: string;
  /** The tree under test: its bin/nsnet, bin/nsnet-cni. */
  repo: string;
  reps?: number;
  /** docker-api: rounds of `docker ps` (cheap, so more of them than reps). */
  psReps?: number;
  /** ports: run()/remove() pairs with and without a published port. */
  libReps?: number;
  seconds?: number;
  /** iperf: rounds (each measures every configuration once, in turn). */
  rounds?: number;
  /** Write MARK-BEGIN / MARK-END to stderr around the attach loop (the strace no-child check). */
  markers?: boolean;
}
