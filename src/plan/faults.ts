/**
 * Test-only fault injection, read in this one place. With NSNET_TEST_FAULTS=1 and
 * NSNET_FAULT=N:kill in the environment, the process SIGKILLs itself right after fault point N
 * (counted from 0): every step the executor applies is a fault point, and operations add a few of
 * their own (a container process started, a process stopped). Without NSNET_TEST_FAULTS=1 the
 * switch is ignored, so a stray NSNET_FAULT in a user's environment does nothing.
 */
const target = ((): number | undefined => {
  if (process.env['NSNET_TEST_FAULTS'] !== '1') return undefined;
  const m = /^(\d+):kill$/.exec(process.env['NSNET_FAULT'] ?? '');
  return m === null ? undefined : Number(m[1]);
})();

let passed = 0;

/** One more point passed; dies here when it is the one the test asked for. */
export function faultPoint(): void {
  if (target === undefined) return;
  if (passed++ === target) process.kill(process.pid, 'SIGKILL');
}
