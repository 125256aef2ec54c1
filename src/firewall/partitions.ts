/**
 * Partitions (`nsnet partition create`) in nsnet's firewall: traffic from one container to
 * another is dropped when the pair (source address, destination address) is partitioned.
 *
 * Keyed by the containers' addresses, not their host veth names: traffic between two containers
 * crosses either a bridge (switched: the bridge's forward hook sees the container ports) or the
 * host's routing (routed between networks: the inet forward hook sees only the bridges, never the
 * ports), and only the addresses are the same in both places. One set per family (a pair is of
 * one family: engine/partitions.ts) and one rule per set and hook, so the rule count never grows
 * with containers or partitions:
 *
 *   inet nsnet   forward (first rules)  ip saddr . ip daddr @partitioned drop       routed between networks
 *                                       ip6 saddr . ip6 daddr @partitioned6 drop
 *   bridge nsnet forward (first rules)  the same two                                 switched on one bridge
 *
 * Every packet is matched, not only new connections: a partition cuts connections that were
 * open before it too (as a cable pulled would). A container's traffic to the host (the gateway)
 * and to the world is not partitioned. Traffic on a point-to-point link (`nsnet link`) never
 * crosses the host and is not covered: `nsnet link down` cuts such a link.
 *
 * The iptables driver has no sets (without ipset): one rule per pair in chain NSNET-PARTITIONS of
 * iptables' filter table (IPv4 pairs), of ip6tables' (IPv6 pairs; only while there are some, or
 * when everything is removed) — one jump from FORWARD each, comment `nsnet partition NAME` — and
 * of ebtables' filter table (both families: `-p IPv4 --ip-src`, `-p IPv6 --ip6-src`; one jump
 * from FORWARD), each written whole in one restore run.
 */
import type { Step, XtablesChains } from '../plan/steps.js';
import type { FirewallPartition } from './model.js';

type Family = 4 | 6;
const SETS: Record<Family, { name: string; type: string }> = {
  4: { name: 'partitioned', type: 'ipv4_addr . ipv4_addr' },
  6: { name: 'partitioned6', type: 'ipv6_addr . ipv6_addr' },
};
const FAMILIES: readonly Family[] = [4, 6];
export const PARTITION_SET = SETS[4].name;
export const PARTITION_SET6 = SETS[6].name;
/** The first rules of the forward chain of both nsnet tables. */
export const PARTITION_RULES: readonly string[] = [`ip saddr . ip daddr @${PARTITION_SET} drop`, `ip6 saddr . ip6 daddr @${PARTITION_SET6} drop`];

const pairKey = ([src, dst]: readonly [string, string]): string => `${src} . ${dst}`;
const familyOf = (pair: readonly [string, string]): Family => (pair[0].includes(':') ? 6 : 4);

/** Every partitioned pair of one family, once (two partitions may both drop one pair). */
export function partitionElements(partitions: readonly FirewallPartition[], family: Family = 4): string[] {
  return [...new Set(partitions.flatMap((p) => p.pairs.filter((pair) => familyOf(pair) === family).map(pairKey)))];
}

/** The sets' declarations inside a table block. */
export function partitionSetBlock(partitions: readonly FirewallPartition[]): string {
  return FAMILIES.map((family) => {
    const elements = partitionElements(partitions, family);
    const body = [`\t\ttype ${SETS[family].type}`];
    if (elements.length > 0) body.push(`\t\telements = { ${elements.join(', ')} }`);
    return [`\tset ${SETS[family].name} {`, ...body, '\t}'].join('\n');
  }).join('\n');
}

/**
 * From `before` to `after` in one transaction: the pairs only `after` has are added, the pairs
 * only `before` has deleted (each delete preceded by an add, so it succeeds whether or not the
 * element is still there), in both tables. '' when nothing changes.
 */
export function updatePartitionsScript(before: readonly FirewallPartition[], after: readonly FirewallPartition[]): string {
  const changes = FAMILIES.map((family) => {
    const had = new Set(partitionElements(before, family));
    const has = new Set(partitionElements(after, family));
    return { family, adds: [...has].filter((e) => !had.has(e)), deletes: [...had].filter((e) => !has.has(e)) };
  }).filter((c) => c.adds.length > 0 || c.deletes.length > 0);
  if (changes.length === 0) return '';
  const lines: string[] = [];
  for (const table of ['inet nsnet', 'bridge nsnet']) {
    // A table lost with a reboot (records kept): declaring it and the set is a no-op otherwise.
    lines.push(`add table ${table}`);
    for (const { family, adds, deletes } of changes) {
      const set = SETS[family];
      lines.push(`add set ${table} ${set.name} { type ${set.type}; }`);
      lines.push(`add element ${table} ${set.name} { ${[...adds, ...deletes].join(', ')} }`);
      if (deletes.length > 0) lines.push(`delete element ${table} ${set.name} { ${deletes.join(', ')} }`);
    }
  }
  return lines.join('\n') + '\n';
}

export const PARTITIONS_CHAIN = 'NSNET-PARTITIONS';
/** iptables: routed traffic, before anything else of nsnet's in FORWARD. */
export const PARTITIONS_IPT: XtablesChains = { tool: 'iptables', table: 'filter', chains: [PARTITIONS_CHAIN], jumps: [{ from: 'FORWARD', to: PARTITIONS_CHAIN }] };
/** ip6tables: routed IPv6 traffic, the same chain. */
export const PARTITIONS_IP6T: XtablesChains = { ...PARTITIONS_IPT, tool: 'ip6tables' };
/** ebtables: frames switched between two ports of one bridge. */
export const PARTITIONS_EBT: XtablesChains = { tool: 'ebtables', table: 'filter', chains: [PARTITIONS_CHAIN], jumps: [{ from: 'FORWARD', to: PARTITIONS_CHAIN }] };

/** NSNET-PARTITIONS in iptables (4) or ip6tables (6), written as *-save prints it; null without a pair. */
export function partitionRules(partitions: readonly FirewallPartition[], family: Family = 4): string[] | null {
  const prefix = family === 4 ? 32 : 128;
  const rules = partitions.flatMap((p) =>
    p.pairs.filter((pair) => familyOf(pair) === family).map(([s, d]) => `-A ${PARTITIONS_CHAIN} -s ${s}/${prefix} -d ${d}/${prefix} -m comment --comment "nsnet partition ${p.name}" -j DROP`),
  );
  return rules.length === 0 ? null : rules;
}

/** NSNET-PARTITIONS in ebtables (no comments there: each pair once; IPv4 then IPv6); null without a pair. */
export function partitionBridgeRules(partitions: readonly FirewallPartition[]): string[] | null {
  const rules = FAMILIES.flatMap((family) =>
    partitionElements(partitions, family).map((e) => {
      const [s, d] = e.split(' . ');
      return family === 4 ? `-A ${PARTITIONS_CHAIN} -p IPv4 --ip-src ${s} --ip-dst ${d} -j DROP` : `-A ${PARTITIONS_CHAIN} -p IPv6 --ip6-src ${s} --ip6-dst ${d} -j DROP`;
    }),
  );
  return rules.length === 0 ? null : rules;
}

/**
 * The iptables driver's steps from `before` to `after` (`bridged`: ebtables is usable). `update`
 * skips a chain whose rules do not change; `replace` writes the chains as `after` has them (the
 * firewall regenerated from the records); `reset` also cleans chains no record knows of — in
 * ip6tables only with `resetIp6` (everything removed, or a network has IPv6: a host whose
 * networks are IPv4-only never runs ip6tables).
 */
export function iptablesPartitionSteps(
  before: readonly FirewallPartition[],
  after: readonly FirewallPartition[],
  opts: { bridged: boolean; mode: 'update' | 'replace' | 'reset'; summary: string; resetIp6?: boolean },
): Step[] {
  const steps: Step[] = [];
  const add = (spec: XtablesChains, rules: string[] | null, undoRules: string[] | null): void => {
    const reset = opts.mode === 'reset' && (spec.tool !== 'ip6tables' || opts.resetIp6 === true);
    if (!reset && rules === null && undoRules === null) return;
    if (opts.mode === 'update' && JSON.stringify(rules) === JSON.stringify(undoRules)) return;
    steps.push({ kind: 'xtables-restore', ...spec, rules, undoRules, summary: opts.summary });
  };
  add(PARTITIONS_IPT, partitionRules(after), partitionRules(before));
  add(PARTITIONS_IP6T, partitionRules(after, 6), partitionRules(before, 6));
  if (opts.bridged) add(PARTITIONS_EBT, partitionBridgeRules(after), partitionBridgeRules(before));
  return steps;
}
