/**
 * Partitions (`nsnet partition create NAME --between web1,web2 --and db1 [--and ...] [--one-way]`):
 * the user's groups checked, and the address pairs whose traffic the firewall drops. Pure.
 *
 * Both ways (the default): every packet from a member of one group to a member of another group
 * is dropped; within a group nothing changes. `--one-way`: only packets from the first group
 * (--between) to the other groups are dropped; packets from the others to the first group still
 * arrive (a datagram, a TCP SYN, a ping request), but whatever the first group sends back is
 * dropped, so a conversation started from either side gets no answer from the first group.
 */
import { invalid } from '../core/errors.js';

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function partitionName(name: string): string {
  if (typeof name !== 'string' || !NAME.test(name) || name.length > 63) {
    throw invalid(`invalid partition name ${JSON.stringify(name)}: 1 to 63 of [a-zA-Z0-9_.-], starting with a letter or digit`, 'e.g. nsnet partition create split --between web1,web2 --and db1');
  }
  return name;
}

/** `web1,web2` → [web1, web2]; `flag` names the option in errors. */
export function parseGroup(text: string, flag: string): string[] {
  const names = text.split(',').map((s) => s.trim());
  if (names.some((n) => n === '')) throw invalid(`invalid ${flag} ${JSON.stringify(text)}: a comma-separated list of containers, e.g. web1,web2`);
  return names;
}

/** At least two groups: a partition separates groups, and one group has nothing to be separated from. */
export function checkGroupCount(groups: readonly (readonly string[])[]): void {
  if (groups.length < 2) throw invalid(`a partition needs two or more groups (--between A,B --and C [--and D ...]), got ${groups.length}`, 'nsnet partition create NAME --between web1,web2 --and db1');
}

const isIpv6 = (address: string): boolean => address.includes(':');

/**
 * The (source, destination) pairs to drop: `groups` holds, per group, per member, that
 * member's addresses (IPv4 and IPv6 alike). Pairs are of one family (an IPv4 packet never has an
 * IPv6 destination): a dual-stack member gives an IPv4 pair and an IPv6 pair with a dual-stack
 * peer, an IPv6-only member only IPv6 pairs. A member without an address (none) gives nothing.
 */
export function blockedPairs(groups: ReadonlyArray<ReadonlyArray<readonly string[]>>, oneWay: boolean): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  groups.forEach((from, i) => {
    groups.forEach((to, j) => {
      if (i === j || (oneWay && i !== 0)) return;
      for (const a of from.flat()) for (const b of to.flat()) if (isIpv6(a) === isIpv6(b)) pairs.push([a, b]);
    });
  });
  return pairs;
}
