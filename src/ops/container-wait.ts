/**
 * `nsnet wait`: block until a container stops and give its exit code, as docker wait does — which
 * returns at each end of a run, a run that its restart policy follows with another included.
 */
import { NsnetError } from '../core/errors.js';
import type { Context } from './context.js';
import { eachRefAsync, type EachOutcome } from './each.js';
import { liveState } from './liveness.js';

const WAIT_POLL_MS = 50;

export async function waitExit(ctx: Context, ref: string): Promise<number> {
  const c = ctx.store.containers.resolve(ref);
  const first = liveState(ctx.host, c);
  const finishedBefore = first.finishedAt;
  for (let live = first; ; ) {
    // Ended and recorded; ended, recording (a live monitor writes the code in a moment); or ended for good without it.
    const ended = live.status !== 'running' || (live.restarting === true && live.finishedAt !== finishedBefore);
    const recording = live.exitCode === null && live.monitorLost !== true && c.monitorPid != null;
    if (ended && !recording) {
      if (live.exitCode !== null) return live.exitCode;
      throw new NsnetError('STATE', `container ${c.name} has ended, but its exit code is unknown: its monitor (pid ${c.monitorPid ?? '?'}) is gone`, {
        hint: `nsnet inspect ${c.name} shows what is known`,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
    const now = ctx.store.containers.get(c.id);
    if (now === undefined) throw new NsnetError('NOT_FOUND', `container ${c.name} was removed while waiting for it`);
    live = liveState(ctx.host, now);
  }
}

/** Each container's exit code in order; the ones that cannot be waited for are reported (Docker's wait goes on past them). */
export function waitEach(ctx: Context, refs: readonly string[]): Promise<EachOutcome<string>> {
  return eachRefAsync(refs, 'wait', async (ref) => String(await waitExit(ctx, ref)));
}
