/**
 * Which containers `nsnet ps` shows, as Docker chooses: the filters, then running ones only unless
 * -a, a status or exited filter, or -n/-l (which count every state) say otherwise, then the
 * -n newest.
 */
import { usage } from '../../core/errors.js';
import { parseFilters } from './filters.js';
import { PS_FILTERS, psMatcher, type PsItem } from './ps-rows.js';

export interface PsSelection {
  all?: boolean;
  filter?: string[];
  last?: string;
  latest?: boolean;
}

export function selectContainers(items: readonly PsItem[], o: PsSelection): PsItem[] {
  const filters = parseFilters(o.filter, PS_FILTERS, 'ps');
  let limit = -1;
  if (o.last !== undefined) {
    if (!/^-?\d+$/.test(o.last)) throw usage(`invalid argument "${o.last}" for "-n, --last" flag: expected a whole number`);
    limit = Number(o.last);
  }
  if (o.latest === true) limit = 1;
  const match = psMatcher(filters, items);
  const everyState = o.all === true || limit > 0 || filters.has('status') || filters.has('exited');
  const chosen = items.filter((i) => (everyState || i.live.status === 'running') && match(i));
  return limit > 0 ? chosen.slice(0, limit) : chosen;
}
