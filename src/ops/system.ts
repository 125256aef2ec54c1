/** Whole-host operations: prune what is unused, and reset (nsnet's uninstall path). */
import fs from 'node:fs';
import path from 'node:path';
import { NsnetError, NsnetErrors, wrap } from '../core/errors.js';
import { GENERATED_LINK } from '../engine/ids.js';
import { HOST_IPV6_SETTING, restoreHostIPv6Steps } from './host-ipv6.js';
import { ownsNamespace } from '../engine/netmode.js';
import { planRemoveContainer } from '../engine/plans.js';
import { applyAll } from '../plan/executor.js';
import { faultPoint } from '../plan/faults.js';
import type { Intent } from './journal.js';
import { renderStep } from '../plan/render.js';
import type { Step } from '../plan/steps.js';
import { remove } from './containers.js';
import { failureOf } from './pipeline.js';
import { liveState } from './liveness.js';
import { killMonitor } from './monitors.js';
import type { Context } from './context.js';
import { pruneNetworks } from './networks.js';
import { containerEndpoints, firewallState, isCniContainer } from './specs.js';
import { stopServices } from './cni-service.js';
import { DRIVER_SETTING } from './firewall-choice.js';
import { EMPTY_FIREWALL } from '../firewall/model.js';
import { removeAllContainerFiles, removeContainerFiles } from './dns-files.js';
import { stopResponder } from './dns-responder.js';

/** Labs record what they own in settings under this prefix (src/lab); reset forgets them too. */
export const LAB_SETTING_PREFIX = 'lab:';

export function prune(ctx: Context): { containers: string[]; networks: string[] } {
  // Under the lock from the start: it first recovers what a crashed nsnet left half-done.
  return ctx.locked(() => pruneLocked(ctx));
}

/** Goes on past what cannot be removed (the networks not held by it are still pruned) and reports every failure, each with its code. */
function pruneLocked(ctx: Context): { containers: string[]; networks: string[] } {
  const failures: NsnetError[] = [];
  const goingOn = <T>(fn: () => T[]): T[] => {
    try {
      return fn();
    } catch (err) {
      failures.push(...(err instanceof NsnetErrors ? err.errors : [err instanceof NsnetError ? err : wrap('system prune', err)]));
      return [];
    }
  };
  const stopped = ctx.store.containers.list().filter((c) => liveState(ctx.host, c).status !== 'running');
  const containers = stopped.length === 0 ? [] : goingOn(() => remove(ctx, stopped.map((c) => c.id), { force: false }));
  const networks = goingOn(() => pruneNetworks(ctx));
  if (failures.length > 0) throw failureOf('system prune', failures);
  return { containers, networks };
}


/**
 * Remove everything nsnet made on this host: container processes, namespaces (their veths go
 * with them), bridges, generated links left by a crash, the nftables table, and the state.
 * Never stops at the first failure: reports them all at the end.
 */
export function reset(ctx: Context): string[] {
  return ctx.locked(() => {
    const containers = ctx.store.containers.list();
    const networks = ctx.store.networks.list();
    const steps: Step[] = [];
    // Namespaces only: the firewall tables go as a whole below.
    const links = new Set(ctx.host.links().map((l) => l.name));
    for (const c of containers) {
      // A runtime's namespace (CNI) stays: only the veths nsnet put into it go.
      // The host's namespace and a joined one are not this container's to delete.
      if (!ownsNamespace(c)) continue;
      if (isCniContainer(c)) {
        for (const ep of ctx.store.endpoints.forContainer(c.id)) if (links.has(ep.hostIf)) steps.push({ kind: 'link-del', dev: ep.hostIf });
      } else {
        steps.push(planRemoveContainer(c.name, containerEndpoints(ctx.store, c.id), ctx.firewall)[0]!);
      }
    }
    // Containers' roots from images, and any such mount a crash left (records or not): detached first.
    steps.unshift(...ctx.host.mountsUnder(path.join(ctx.root, 'containers')).map((target): Step => ({ kind: 'unmount', target })));
    const bridges = new Set(networks.map((n) => n.bridge));
    for (const b of bridges) steps.push({ kind: 'link-del', dev: b });
    // Host veth ends of known containers go with their namespaces; what else matches nsnet's
    // generated names is left over from a crash.
    const known = new Set(containers.flatMap((c) => ctx.store.endpoints.forContainer(c.id).map((e) => e.hostIf)));
    for (const name of links) {
      if (GENERATED_LINK.test(name) && !bridges.has(name) && !known.has(name)) steps.push({ kind: 'link-del', dev: name });
    }
    steps.push(...ctx.firewall.replace(firewallState(ctx.store), EMPTY_FIREWALL, 'remove the nsnet tables'));
    // IPv6 forwarding and the host's accept_ra as they were (see host-ipv6.ts); IPv4's ip_forward
    // stays on, as Docker leaves it.
    steps.push(...restoreHostIPv6Steps(ctx.store, ctx.host));
    if (ctx.dryRun) {
      for (const c of containers) if (liveState(ctx.host, c).status === 'running') ctx.note(`kill -KILL ${c.pid}`);
      ctx.planned.push(...steps.map(renderStep));
      return [];
    }
    // Journaled like every removal: a reset killed half-way is finished by the next command
    // (processes, links, records, the labs' records), not left with records of what is gone.
    const journalId = ctx.store.tx(() =>
      ctx.store.journal.add('system reset', {
        mode: 'finish',
        steps,
        forget: { containers: containers.map((c) => c.id), networks: networks.map((n) => n.id), settings: [...ctx.store.settings.keys(LAB_SETTING_PREFIX), HOST_IPV6_SETTING] },
        killIn: containers.filter((c) => !isCniContainer(c) && ownsNamespace(c)).map((c) => c.name),
        dirs: [path.join(ctx.root, 'containers')],
      } satisfies Intent),
    );
    faultPoint();
    const failures: NsnetError[] = [];
    for (const c of containers) {
      try {
        // The monitor first, or it would start its container again; then the process it last started.
        killMonitor(ctx, c);
        const live = liveState(ctx.host, c);
        if (live.pid > 0 && live.pidStart !== undefined) ctx.host.stopProcess(live.pid, live.pidStart, 0);
        else if (c.pid !== null && c.pidStart !== null) ctx.host.stopProcess(c.pid, c.pidStart, 0);
      } catch (err) {
        failures.push(wrap(`stop ${c.name}`, err));
      }
    }
    const stepFailures = applyAll(steps, ctx.runner);
    failures.push(...stepFailures);
    ctx.runner.releaseNamespaces?.();
    try {
      stopResponder(ctx.host, ctx.root);
      stopServices(ctx.host, ctx.root);
      for (const c of containers) if (!isCniContainer(c) && ownsNamespace(c)) removeContainerFiles(c.name);
      removeAllContainerFiles(ctx.root);
    } catch (err) {
      failures.push(wrap('DNS', err));
    }
    // What could not be removed keeps its records, as a failed removal does: reset again finds it
    // (every step is idempotent). Forgotten, a namespace that would not go was nsnet's no more.
    if (stepFailures.length === 0) failures.push(...forgetState(ctx));
    else ctx.store.tx(() => ctx.store.journal.delete(journalId));
    // Each problem keeps its own code (a kernel step, a firewall transaction, a file).
    if (failures.length > 0) throw new NsnetErrors('system reset finished with problems', failures);
    return [...containers.map((c) => `container ${c.name}`), ...networks.map((n) => `network ${n.name}`)];
  });
}

/** Delete the records and per-container files; the lock file stays (another process may wait on it). */
function forgetState(ctx: Context): NsnetError[] {
  const failures: NsnetError[] = [];
  try {
    ctx.store.tx(() => {
      for (const c of ctx.store.containers.list()) ctx.store.containers.delete(c.id);
      for (const n of ctx.store.networks.list()) ctx.store.networks.delete(n.id);
      for (const p of ctx.store.partitions.list()) ctx.store.partitions.delete(p.name);
      for (const j of ctx.store.journal.list()) ctx.store.journal.delete(j.id);
      ctx.store.settings.delete(DRIVER_SETTING);
      ctx.store.settings.delete(HOST_IPV6_SETTING);
      for (const key of ctx.store.settings.keys(LAB_SETTING_PREFIX)) ctx.store.settings.delete(key);
    });
  } catch (err) {
    failures.push(wrap('forget records', err));
  }
  try {
    fs.rmSync(path.join(ctx.root, 'containers'), { recursive: true, force: true });
  } catch (err) {
    failures.push(wrap(`remove ${path.join(ctx.root, 'containers')}`, err));
  }
  return failures;
}
