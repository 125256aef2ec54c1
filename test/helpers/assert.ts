import assert from 'node:assert/strict';
import { describeResult, type RunResult } from './sandbox.js';

/** Assert a command exited 0 (the message shows its command line and output) and hand it back. */
export function ok(r: RunResult, what = 'command'): RunResult {
  assert.equal(r.code, 0, `${what} should exit 0\n${describeResult(r)}`);
  return r;
}
