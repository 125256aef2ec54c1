/** The networks `network ls` lists, in one shape: the store's, and Docker's predefined host and none. */
import { predefinedName, predefinedNetworkId } from '../../engine/netmode.js';
import type { NetworkRecord } from '../../store/index.js';
import type { ListedNetwork } from './network-rows.js';

export function listed(n: NetworkRecord): ListedNetwork {
  return { id: n.id, name: n.name, driver: n.driver ?? 'bridge', internal: n.internal, labels: n.labels, created: n.created, builtin: n.isDefault };
}

/** From a predefined network's summary row (ops/netmodes.ts), with its full id. */
export function listedPredefined(row: Record<string, unknown>): ListedNetwork {
  const name = predefinedName(String(row['Name']))!;
  return { id: predefinedNetworkId(name), name, driver: String(row['Driver']), internal: false, labels: {}, created: String(row['Created']), builtin: true };
}
