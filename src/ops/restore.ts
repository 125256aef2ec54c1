/**
 * What a reboot takes and `nsnet start` (or `system check --fix`) gives back: the bridges of a
 * container's networks, rebuilt with the same recipe network create uses (planBridge), and the
 * firewall regenerated from the records.
 */
import { onParent, planBridge, planParent } from '../engine/plans.js';
import type { Step } from '../plan/steps.js';
import type { ContainerRecord } from '../store/index.js';
import type { Context } from './context.js';
import { firewallState, networkSpec } from './specs.js';

/** Before a stopped container is rewired: the bridges of its networks that are gone, then the firewall. */
export function restoreSteps(ctx: Context, c: ContainerRecord): Step[] {
  const steps: Step[] = [];
  const seen = new Set<string>();
  for (const ep of ctx.store.endpoints.forContainer(c.id)) {
    const n = ctx.store.networks.get(ep.networkId);
    if (n === undefined || seen.has(n.id) || ctx.host.link(n.bridge) !== undefined) continue;
    seen.add(n.id);
    const spec = networkSpec(n);
    // A macvlan/ipvlan network: only a dummy parent is nsnet's to rebuild, never a user's link.
    steps.push(...(onParent(spec) ? planParent(spec) : planBridge(spec)));
  }
  if (steps.length > 0) {
    const state = firewallState(ctx.store);
    steps.push(...ctx.firewall.replace(state, state, 'restore the firewall from the records'));
  }
  return steps;
}
