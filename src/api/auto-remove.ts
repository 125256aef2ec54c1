/**
 * Docker's HostConfig.AutoRemove for a container nobody is attached to (`docker run -d --rm`):
 * dockerd removes it when it ends. In nsnet its monitor does (native/nsnet-monitor.c: it runs
 * `nsnet rm` a second after the end, for the CLI's run -d --rm as for the API's containers, and
 * says so in its report); `nsnet serve` removes the ones it does not — a container whose monitor
 * was killed, or that was started by an older nsnet. It follows the event feed: a container's die
 * is looked at a moment later — a client waiting on it (POST /containers/{id}/wait polls) sees it
 * exited first, and one attached to it removes it itself (routes-attach.ts) — and removed when it
 * is still there, still ended, still AutoRemove and not its monitor's to remove.
 */
import type { Context } from '../ops/context.js';
import * as containers from '../ops/containers.js';
import { liveState } from '../ops/liveness.js';
import { readMonitorReport } from '../ops/container-state.js';
import type { EventFeed } from './events.js';
import type { Exclusive } from './server.js';

const GRACE_MS = 1000;

/** Remove AutoRemove containers as they end; gives the function that stops it. */
export function removeOnExit(events: EventFeed, context: () => Context, exclusive: Exclusive, log: (line: string) => void): () => void {
  const timers = new Set<NodeJS.Timeout>();
  const unsubscribe = events.subscribe((e) => {
    if (e.Type !== 'container' || e.Action !== 'die') return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      void exclusive(() => removeIfEnded(context, e.Actor.ID, log));
    }, GRACE_MS);
    timers.add(timer);
    // The feed's idle looks (a second apart) are soon enough: monitors remove most of these themselves.
  }, { patient: true });
  return () => {
    unsubscribe();
    for (const t of timers) clearTimeout(t);
  };
}

function removeIfEnded(context: () => Context, id: string, log: (line: string) => void): void {
  const ctx = context();
  try {
    const c = ctx.store.containers.get(id);
    // Gone (removed by its attached client or by hand), restarted meanwhile, or not AutoRemove.
    if (c === undefined || c.autoRemove !== true || liveState(ctx.host, c).status === 'running') return;
    // Its monitor removes it (and logs a failure in the service log): two removers would race.
    if (readMonitorReport(c)?.removing === true) return;
    containers.remove(ctx, [id], { force: true });
    log(`auto-remove: removed ${c.name} (HostConfig.AutoRemove)`);
  } catch (err) {
    log(`auto-remove ${id.slice(0, 12)}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    ctx.close();
  }
}
