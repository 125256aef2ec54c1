/**
 * The partitions as the firewall holds them, from the records: per partition, the (source,
 * destination) address pairs its groups' members block (engine/partitions.ts). A member's
 * addresses are its IPv4 and IPv6 addresses on nsnet's networks at the time of asking (an
 * IPv6-only member has only the latter), so the firewall regenerated from the records (recovery,
 * start after a reboot, system check) holds the same.
 */
import { blockedPairs } from '../engine/partitions.js';
import type { FirewallPartition } from '../firewall/model.js';
import type { PartitionRecord, Store } from '../store/index.js';

/** Every partition's pairs; `without` leaves a container out (the state once it is removed). */
export function firewallPartitions(store: Store, without?: string): FirewallPartition[] {
  return store.partitions.list().map((p) => firewallPartitionOf(store, p, without));
}

export function firewallPartitionOf(store: Store, p: PartitionRecord, without?: string): FirewallPartition {
  const given = (ip: string | null | undefined): string[] => (typeof ip === 'string' && ip !== '' ? [ip] : []);
  const addresses = (id: string): string[] => (id === without ? [] : store.endpoints.forContainer(id).flatMap((e) => [...given(e.ip), ...given(e.ip6)]));
  return { name: p.name, pairs: blockedPairs(p.groups.map((g) => g.map(addresses)), p.oneWay) };
}
