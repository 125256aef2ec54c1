import type { Step } from './steps.js';

/** Applies and undoes single steps. The kernel runner does it for real; tests use a recording one. */
export interface StepRunner {
  apply(step: Step): void;
  undo(step: Step): void;
  /** A plan is finished: drop per-namespace resources (sockets) it opened. */
  releaseNamespaces?(): void;
  close(): void;
}

/** A runner that changes nothing and remembers what it was asked to do (for unit tests). */
export class RecordingRunner implements StepRunner {
  readonly log: string[] = [];
  constructor(private readonly failOn?: (step: Step) => boolean) {}
  apply(step: Step): void {
    if (this.failOn?.(step) === true) throw new Error(`injected failure at ${step.kind}`);
    this.log.push(`apply ${step.kind}`);
  }
  undo(step: Step): void {
    this.log.push(`undo ${step.kind}`);
  }
  close(): void {}
}
