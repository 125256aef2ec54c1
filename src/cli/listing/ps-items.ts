/** What `nsnet ps` lists: every container with its live state, networks and ports, newest first (as Docker). */
import type { Context } from '../../ops/context.js';
import { liveState, monitorWarning } from '../../ops/liveness.js';
import type { ContainerRecord } from '../../store/index.js';
import { containerPorts } from '../../ops/ports.js';
import type { PsItem } from './ps-rows.js';

export function psItems(ctx: Context): PsItem[] {
  // Network names read once, not once per endpoint: every query costs ~10 µs, and ps runs often.
  const networkNames = new Map(ctx.store.networks.list().map((n) => [n.id, n.name]));
  const items = ctx.store.containers.list().map((container) => ({
    container,
    live: warnedLiveState(ctx, container),
    networks: ctx.store.endpoints.forContainer(container.id).map((e) => ({ id: e.networkId, name: networkNames.get(e.networkId) ?? '?' })),
    ports: containerPorts(ctx, container.id),
  }));
  // Stable: containers created in the same millisecond keep the store's order, reversed.
  return items.reverse().sort((a, b) => (a.container.created < b.container.created ? 1 : a.container.created > b.container.created ? -1 : 0));
}

/** The live state, with a warning on stderr when the container's monitor is gone. */
function warnedLiveState(ctx: Context, c: ContainerRecord): PsItem['live'] {
  const live = liveState(ctx.host, c);
  const warning = monitorWarning(c, live);
  if (warning !== undefined) ctx.warn(warning);
  return live;
}
