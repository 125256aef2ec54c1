/**
 * `nsnet system boot`: what Docker's daemon does for restart policies when it starts — run it once
 * at host start-up (examples/nsnet-boot.service). A reboot ended every container's process and
 * monitor and took the namespaces with it; the records stay. Containers whose policy says so
 * (core/restart-policy.ts comesBackAtBoot: always; unless-stopped unless the user stopped it;
 * on-failure when the last run failed or was cut short) are started again, rewired by start.
 * Running containers are left alone, so running it twice does nothing more.
 */
import { comesBackAtBoot } from '../core/restart-policy.js';
import { startEach } from './containers.js';
import type { Context } from './context.js';
import type { EachOutcome } from './each.js';
import { liveState } from './liveness.js';
import { isCniContainer } from './specs.js';

export async function boot(ctx: Context): Promise<EachOutcome<string>> {
  const due = ctx.store.containers.list().filter((c) => {
    if (isCniContainer(c) || (c.restartPolicy ?? 'no') === 'no') return false;
    const live = liveState(ctx.host, c);
    if (live.status === 'running') return false;
    return comesBackAtBoot({ name: c.restartPolicy ?? 'no', maximumRetryCount: c.restartMax ?? 0 }, { manuallyStopped: c.manuallyStopped === true, lastExitCode: live.exitCode });
  });
  // Oldest first: a container another joins (--network container:NAME) comes up before its joiner.
  return startEach(ctx, due.map((c) => c.id));
}
