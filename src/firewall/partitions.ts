/**
 * Partitions (`nsnet partition create`) in nsnet's firewall: traffic from one container to
 * another is dropped when the pair (source address, destination address) is partitioned.
 *
 * Keyed by the containers' IPv4 addresses, not their host veth names: traffic between two
 * containers crosses either a bridge (switched: the bridge's forward hook sees the container
 * ports) or the host's routing (routed between networks: the inet forward hook sees only the
 * bridges, never the ports), and only the addresses are the same in both places. One rule per
 * hook matches the set, so the rule count never grows with containers or partitions:
 *
 *   inet nsnet   forward (first rule)  ip saddr . ip daddr @partitioned drop   routed between networks
 *   bridge nsnet forward (first rule)  ip saddr . ip daddr @partitioned drop   switched on one bridge
 *
 * Every packet is matched, not only new connections: a partition cuts connections that were
 * open before it too (as a cable pulled would). A container's traffic to the host (the gateway)
 * and to the world is not partitioned. Traffic on a point-to-point link (`nsnet link`) never
 * crosses the host and is not covered: `nsnet link down` cuts such a link.
 *
 * The iptables driver has no sets (without ipset): one rule per pair in chain NSNET-PARTITIONS of
 * iptables' filter table (one jump from FORWARD; comment `nsnet partition NAME`) and of ebtables'
 * filter table (one jump from FORWARD), each written whole in one restore run.
 */
import type { Step, XtablesChains } from '../plan/steps.js';
import type { FirewallPartition } from './model.js';

export const PARTITION_SET = 'partitioned';
const PAIR_TYPE = 'ipv4_addr . ipv4_addr';
/** The first rule of the forward chain of both nsnet tables. */
export const PARTITION_RULE = `ip saddr . ip daddr @${PARTITION_SET} drop`;

const pairKey = ([src, dst]: readonly [string, string]): string => `${src} . ${dst}`;

/** Every partitioned pair, once (two partitions may both drop one pair). */
export function partitionElements(partitions: readonly FirewallPartition[]): string[] {
  return [...new Set(partitions.flatMap((p) => p.pairs.map(pairKey)))];
}

/** The set's declaration inside a table block. */
export function partitionSetBlock(partitions: readonly FirewallPartition[]): string {
  const elements = partitionElements(partitions);
  const body = [`\t\ttype ${PAIR_TYPE}`];
  if (elements.length > 0) body.push(`\t\telements = { ${elements.join(', ')} }`);
  return [`\tset ${PARTITION_SET} {`, ...body, '\t}'].join('\n');
}

/**
 * From `before` to `after` in one transaction: the pairs only `after` has are added, the pairs
 * only `before` has deleted (each delete preceded by an add, so it succeeds whether or not the
 * element is still there), in both tables. '' when nothing changes.
 */
export function updatePartitionsScript(before: readonly FirewallPartition[], after: readonly FirewallPartition[]): string {
  const had = new Set(partitionElements(before));
  const has = new Set(partitionElements(after));
  const adds = [...has].filter((e) => !had.has(e));
  const deletes = [...had].filter((e) => !has.has(e));
  if (adds.length === 0 && deletes.length === 0) return '';
  const lines: string[] = [];
  for (const table of ['inet nsnet', 'bridge nsnet']) {
    // A table lost with a reboot (records kept): declaring it and the set is a no-op otherwise.
    lines.push(`add table ${table}`, `add set ${table} ${PARTITION_SET} { type ${PAIR_TYPE}; }`);
    const added = [...adds, ...deletes];
    if (added.length > 0) lines.push(`add element ${table} ${PARTITION_SET} { ${added.join(', ')} }`);
    if (deletes.length > 0) lines.push(`delete element ${table} ${PARTITION_SET} { ${deletes.join(', ')} }`);
  }
  return lines.join('\n') + '\n';
}

export const PARTITIONS_CHAIN = 'NSNET-PARTITIONS';
/** iptables: routed traffic, before anything else of nsnet's in FORWARD. */
export const PARTITIONS_IPT: XtablesChains = { tool: 'iptables', table: 'filter', chains: [PARTITIONS_CHAIN], jumps: [{ from: 'FORWARD', to: PARTITIONS_CHAIN }] };
/** ebtables: frames switched between two ports of one bridge. */
export const PARTITIONS_EBT: XtablesChains = { tool: 'ebtables', table: 'filter', chains: [PARTITIONS_CHAIN], jumps: [{ from: 'FORWARD', to: PARTITIONS_CHAIN }] };

/** NSNET-PARTITIONS in iptables, written as iptables-save prints it; null without a pair. */
export function partitionRules(partitions: readonly FirewallPartition[]): string[] | null {
  const rules = partitions.flatMap((p) => p.pairs.map(([s, d]) => `-A ${PARTITIONS_CHAIN} -s ${s}/32 -d ${d}/32 -m comment --comment "nsnet partition ${p.name}" -j DROP`));
  return rules.length === 0 ? null : rules;
}

/** NSNET-PARTITIONS in ebtables (no comments there: each pair once); null without a pair. */
export function partitionBridgeRules(partitions: readonly FirewallPartition[]): string[] | null {
  const rules = partitionElements(partitions).map((e) => {
    const [s, d] = e.split(' . ');
    return `-A ${PARTITIONS_CHAIN} -p IPv4 --ip-src ${s} --ip-dst ${d} -j DROP`;
  });
  return rules.length === 0 ? null : rules;
}

/**
 * The iptables driver's steps from `before` to `after` (`bridged`: ebtables is usable). `update`
 * skips a chain whose rules do not change; `replace` writes both chains as `after` has them (the
 * firewall regenerated from the records); `reset` also cleans chains no record knows of.
 */
export function iptablesPartitionSteps(
  before: readonly FirewallPartition[],
  after: readonly FirewallPartition[],
  opts: { bridged: boolean; mode: 'update' | 'replace' | 'reset'; summary: string },
): Step[] {
  const steps: Step[] = [];
  const add = (spec: XtablesChains, rules: string[] | null, undoRules: string[] | null): void => {
    if (opts.mode !== 'reset' && rules === null && undoRules === null) return;
    if (opts.mode === 'update' && JSON.stringify(rules) === JSON.stringify(undoRules)) return;
    steps.push({ kind: 'xtables-restore', ...spec, rules, undoRules, summary: opts.summary });
  };
  add(PARTITIONS_IPT, partitionRules(after), partitionRules(before));
  if (opts.bridged) add(PARTITIONS_EBT, partitionBridgeRules(after), partitionBridgeRules(before));
  return steps;
}
