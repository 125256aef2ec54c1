/**
 * Test-only fault injection, read in this one place. With NSNET_TEST_FAULTS=1 in the
 * environment, NSNET_FAULT selects one fault:
 *
 *   N:kill       the process SIGKILLs itself right after fault point N (counted from 0): every
 *                step the executor applies is a fault point, and operations add a few of their
 *                own (a container process started, processes stopped) — crash safety;
 *   KIND:fail    the first step of that kind (veth-add, bridge-add, nft, ...) fails before it
 *                is applied, as a kernel error would — the failure path of an operation.
 *
 * Without NSNET_TEST_FAULTS=1 the switch is ignored, so a stray NSNET_FAULT in a user's
 * environment does nothing.
 */
import { NsnetError } from '../core/errors.js';
import type { Step } from './steps.js';

type Fault = { kind: 'kill'; at: number } | { kind: 'fail'; step: string };

const fault = ((): Fault | undefined => {
  if (process.env['NSNET_TEST_FAULTS'] !== '1') return undefined;
  const spec = process.env['NSNET_FAULT'] ?? '';
  const kill = /^(\d+):kill$/.exec(spec);
  if (kill !== null) return { kind: 'kill', at: Number(kill[1]) };
  const fail = /^([a-z-]+):fail$/.exec(spec);
  if (fail !== null) return { kind: 'fail', step: fail[1]! };
  return undefined;
})();

let passed = 0;
let failed = false;

/** One more point passed; dies here when it is the one the test asked for. */
export function faultPoint(): void {
  if (fault?.kind !== 'kill') return;
  if (passed++ === fault.at) process.kill(process.pid, 'SIGKILL');
}

/** Before a step is applied: fails it when it is the kind the test asked to fail (once). */
export function stepFault(step: Step): void {
  if (fault?.kind !== 'fail' || failed || step.kind !== fault.step) return;
  failed = true;
  throw new NsnetError('KERNEL', `injected failure (NSNET_FAULT=${fault.step}:fail)`);
}
