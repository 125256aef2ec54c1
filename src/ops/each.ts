/**
 * A command over several names (`rm a b c`, `stop a b`, `network rm x y`): as Docker's, it does
 * each one it can, reports every one it cannot, and fails at the end, so one missing or busy name
 * does not keep the others from being done.
 */
import { NsnetError, wrap } from '../core/errors.js';
import { failureOf } from './pipeline.js';

export interface EachOutcome<T> {
  /** What was done, in the order given. */
  done: T[];
  /** The names that failed, each with its own code. */
  failures: NsnetError[];
}

const asNsnetError = (ref: string, what: string, err: unknown): NsnetError => (err instanceof NsnetError ? err : wrap(`${what} ${ref}`, err));

/** `fn` on each name; undefined from `fn` means "nothing to report" (e.g. rm -f of a missing one). */
export function eachRef<T>(refs: readonly string[], what: string, fn: (ref: string) => T | undefined): EachOutcome<T> {
  const out: EachOutcome<T> = { done: [], failures: [] };
  for (const ref of refs) {
    try {
      const result = fn(ref);
      if (result !== undefined) out.done.push(result);
    } catch (err) {
      out.failures.push(asNsnetError(ref, what, err));
    }
  }
  return out;
}

export async function eachRefAsync<T>(refs: readonly string[], what: string, fn: (ref: string) => Promise<T | undefined>): Promise<EachOutcome<T>> {
  const out: EachOutcome<T> = { done: [], failures: [] };
  for (const ref of refs) {
    try {
      const result = await fn(ref);
      if (result !== undefined) out.done.push(result);
    } catch (err) {
      out.failures.push(asNsnetError(ref, what, err));
    }
  }
  return out;
}

/** The outcome's failures as one error (a single one as it is), or undefined when all went well. */
export function failureOfEach(what: string, outcome: EachOutcome<unknown>): NsnetError | undefined {
  if (outcome.failures.length === 0) return undefined;
  return outcome.failures.length === 1 ? outcome.failures[0]! : failureOf(what, outcome.failures);
}

/** The done list, or the failures thrown: for callers that want all or an error. */
export function doneOrThrow<T>(what: string, outcome: EachOutcome<T>): T[] {
  const failure = failureOfEach(what, outcome);
  if (failure !== undefined) throw failure;
  return outcome.done;
}
