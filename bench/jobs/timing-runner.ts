/** Step timings for the breakdowns: a runner that times every step it applies (src/ stays untouched). */
import { now } from '../common.js';
import type { StepRunner } from '../../src/plan/runner.js';
import type { Step } from '../../src/plan/steps.js';

/** What a step is, for the breakdowns: its kind, and for nft steps what the transaction does. */
function stepKey(step: Step): string {
  if (step.kind !== 'nft') return step.kind;
  const summary = (step as { summary?: string }).summary ?? '';
  if (/^publish/.test(summary)) return 'nft (publish ports)';
  if (/^withdraw/.test(summary)) return 'nft (withdraw ports)';
  return 'nft (port sets)';
}

/** Wraps a runner (the KernelRunner) and times every step's apply, by step key. */
export class TimingRunner implements StepRunner {
  readonly times: Record<string, number[]> = {};
  constructor(private readonly inner: StepRunner) {}
  apply(step: Step): void {
    const t0 = now();
    this.inner.apply(step);
    (this.times[stepKey(step)] ??= []).push(now() - t0);
  }
  undo(step: Step): void {
    this.inner.undo(step);
  }
  /** Forwarded: Context.execute calls it after every plan (the runner drops per-namespace sockets). */
  releaseNamespaces(): void {
    this.inner.releaseNamespaces?.();
  }
  close(): void {
    this.inner.close();
  }
  /** Forget the samples so far (what came before is not part of the measurement). */
  clear(): void {
    for (const k of Object.keys(this.times)) delete this.times[k];
  }
  /** Move the samples into `into`, under `prefix` + step key. */
  moveTo(into: Record<string, number[]>, prefix: string): void {
    for (const [k, v] of Object.entries(this.times)) (into[prefix + k] ??= []).push(...v);
    this.clear();
  }
}
