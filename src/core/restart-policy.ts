/**
 * `run --restart`: Docker's restart policies, parsed and checked with Docker's own words
 * (docker/cli opts.ParseRestartPolicy, then the daemon's validateRestartPolicy).
 *
 *   no              never (the default)
 *   on-failure[:N]  when the command exits with a status other than 0, at most N times (0: no limit)
 *   always          whenever it ends; a container stopped by the user comes back at system boot
 *   unless-stopped  as always, except that one stopped by the user stays stopped at system boot
 */
import { NsnetError } from './errors.js';

export type RestartPolicyName = 'no' | 'on-failure' | 'always' | 'unless-stopped';

export interface RestartPolicy {
  name: RestartPolicyName;
  /** on-failure's N; 0 for the others and for on-failure without a limit. */
  maximumRetryCount: number;
}

export const NO_RESTART: RestartPolicy = { name: 'no', maximumRetryCount: 0 };

const NAMES: readonly string[] = ['no', 'on-failure', 'always', 'unless-stopped'];
const HINT = 'use no, on-failure[:MAX-RETRIES], always or unless-stopped';

/** Parse a --restart value; refused, naming it, as Docker refuses it. */
export function parseRestartPolicy(text: string): RestartPolicy {
  if (text === '') return NO_RESTART;
  const parts = text.split(':');
  if (parts.length > 2) throw new NsnetError('INVALID_VALUE', `invalid restart policy format "${text}"`, { hint: HINT });
  const name = parts[0]!;
  let max = 0;
  if (parts.length === 2) {
    if (!/^[+-]?\d+$/.test(parts[1]!)) throw new NsnetError('INVALID_VALUE', `invalid --restart "${text}": maximum retry count must be an integer`, { hint: HINT });
    max = Number(parts[1]);
  }
  if (!NAMES.includes(name)) throw new NsnetError('INVALID_VALUE', `invalid restart policy '${name}'`, { hint: HINT });
  if (name !== 'on-failure' && max !== 0) throw new NsnetError('INVALID_VALUE', `maximum retry count cannot be used with restart policy '${name}'`, { hint: HINT });
  if (max < 0) throw new NsnetError('INVALID_VALUE', 'maximum retry count cannot be negative', { hint: HINT });
  return { name: name as RestartPolicyName, maximumRetryCount: max };
}

/** Docker's IsNone. */
export const restarts = (p: RestartPolicy): boolean => p.name !== 'no';

/**
 * Docker's restore rule at daemon start, for nsnet's system boot: whether a container whose
 * processes the reboot ended is started again. `always`: even after the user stopped it;
 * `unless-stopped`: unless the user did; `on-failure`: when its last run failed or was cut short.
 */
export function comesBackAtBoot(p: RestartPolicy, opts: { manuallyStopped: boolean; lastExitCode: number | null }): boolean {
  switch (p.name) {
    case 'always':
      return true;
    case 'unless-stopped':
      return !opts.manuallyStopped;
    case 'on-failure':
      return !opts.manuallyStopped && opts.lastExitCode !== 0;
    default:
      return false;
  }
}
