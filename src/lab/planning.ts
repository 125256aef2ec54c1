/**
 * `up --dry-run` decides a whole lab: networks first, then containers on them. A plain dry-run
 * Context rolls back each decision as soon as it is made, so the containers would not find
 * their networks. A PlanningContext keeps its decisions instead — it must be given a scratch
 * copy of the state (the CLI copies the state directory), which is thrown away afterwards.
 * Steps are still only rendered, never applied, and no process is started.
 */
import { Context, type ContextOptions } from '../ops/context.js';

export class PlanningContext extends Context {
  constructor(opts: Omit<ContextOptions, 'dryRun'>) {
    super({ ...opts, dryRun: true });
  }

  override get keepsDryRunDecisions(): boolean {
    return true;
  }
}
