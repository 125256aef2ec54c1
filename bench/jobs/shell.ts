/** Running commands from a job: nsnet's CLI of the tree under test, with the job's state root. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { now } from '../common.js';
import type { Job } from './job.js';

export interface Shell {
  /** bin/nsnet of the tree under test. */
  nsnet: string;
  /** The worker's environment with NSNET_ROOT set to the job's state root. */
  env: NodeJS.ProcessEnv;
  /** Run one command to its end (stdin = input) and time it; a non-zero exit throws with its stderr. */
  sh(argv: readonly string[], input?: string): { ms: number; stdout: string };
}

export function shellFor(job: Job): Shell {
  const env = { ...process.env, NSNET_ROOT: job.root };
  return {
    nsnet: path.join(job.repo, 'bin', 'nsnet'),
    env,
    sh(argv, input) {
      const t0 = now();
      const r = spawnSync(argv[0]!, argv.slice(1), { input, encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
      const ms = now() - t0;
      if (r.status !== 0) throw new Error(`${argv.join(' ')} → ${r.status ?? r.signal}: ${(r.stderr || r.error?.message || '').trim()}`);
      return { ms, stdout: r.stdout };
    },
  };
}
