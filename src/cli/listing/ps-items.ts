/** What `nsnet ps` lists: every container with its live state, networks and ports, newest first (as Docker). */
import type { Context } from '../../ops/context.js';
import { liveState, monitorWarning } from '../../ops/liveness.js';
import type { ContainerListing, ContainerRecord } from '../../store/index.js';
import { containerPorts } from '../../ops/ports.js';
import type { PsItem } from './ps-rows.js';

type Recorded = Omit<PsItem, 'live'>;

/** What the records say of each container (all but its live state), newest first, worked out once per store listing. */
const recordedOf = new WeakMap<ContainerListing, readonly Recorded[]>();

function recorded(ctx: Context, listing: ContainerListing): readonly Recorded[] {
  const known = recordedOf.get(listing);
  if (known !== undefined) return known;
  const items = listing.containers.map((container) => ({
    container,
    networks: (listing.endpoints.get(container.id) ?? []).map((e) => ({ id: e.networkId, name: listing.networks.get(e.networkId)?.name ?? '?' })),
    // Only containers that publish ports need containerPorts' queries.
    ports: listing.ports.has(container.id) ? containerPorts(ctx, container.id) : [],
  }));
  // Stable: containers created in the same millisecond keep the store's order, reversed.
  const sorted = items.reverse().sort((a, b) => (a.container.created < b.container.created ? 1 : a.container.created > b.container.created ? -1 : 0));
  recordedOf.set(listing, sorted);
  return sorted;
}

export function psItems(ctx: Context, listing: ContainerListing = ctx.store.listing()): PsItem[] {
  const items = recorded(ctx, listing);
  return ctx.host.livenessSnapshot(() => items.map((r) => ({ ...r, live: warnedLiveState(ctx, r.container) })));
}

/** The live state, with a warning on stderr when the container's monitor is gone. */
function warnedLiveState(ctx: Context, c: ContainerRecord): PsItem['live'] {
  const live = liveState(ctx.host, c);
  const warning = monitorWarning(c, live);
  if (warning !== undefined) ctx.warn(warning);
  return live;
}
