/**
 * Partitions: `nsnet partition create NAME --between A,B --and C [--and ...] [--one-way]`,
 * `partition ls`, `partition heal [NAME]`. Each is one firewall transaction (set elements with
 * nftables, nsnet's NSNET-PARTITIONS chains with iptables: firewall/partitions.ts) and a record,
 * through the commit pipeline. A member goes with its container: `rm` takes its pairs out of the
 * firewall and its membership out of the records (ON DELETE CASCADE).
 */
import { NsnetError } from '../core/errors.js';
import { isHostMode, isNoneMode, joinedContainerId } from '../engine/netmode.js';
import { checkGroupCount, parseGroup, partitionName } from '../engine/partitions.js';
import type { Step } from '../plan/steps.js';
import type { ContainerRecord, PartitionRecord, Store } from '../store/index.js';
import type { Context } from './context.js';
import { firewallPartitionOf, firewallPartitions } from './partition-state.js';
import { commit, decide } from './pipeline.js';

export interface PartitionInput {
  name: string;
  /** --between, then each --and: comma-separated container names. */
  groups: readonly string[];
  oneWay?: boolean | undefined;
}

/** A partition as `partition ls` shows it: members by name. */
export interface PartitionView {
  name: string;
  oneWay: boolean;
  groups: string[][];
  created: string;
}

export function createPartition(ctx: Context, input: PartitionInput): PartitionRecord {
  return ctx.locked(() =>
    commit(
      ctx,
      decide(ctx, () => {
        const record = decideCreate(ctx, input);
        const before = firewallPartitions(ctx.store);
        const steps = ctx.firewall.updatePartitions(before, [...before, firewallPartitionOf(ctx.store, record)], `partition ${record.name}`);
        return { op: `partition create ${record.name}`, mode: 'rollback', writes: [{ kind: 'insert-partition', record }], steps, result: record };
      }),
    ),
  );
}

/** Heal one partition, or every one (no name); the names healed. */
export function healPartitions(ctx: Context, name?: string): string[] {
  return ctx.locked(() => {
    const all = ctx.store.partitions.list();
    if (name !== undefined && !all.some((p) => p.name === name)) {
      throw new NsnetError('NOT_FOUND', `no partition named ${name}`, { hint: all.length === 0 ? 'there is none (nsnet partition ls)' : `partitions: ${all.map((p) => p.name).join(', ')}` });
    }
    const healed = name === undefined ? all : all.filter((p) => p.name === name);
    if (healed.length === 0) return [];
    const names = healed.map((p) => p.name);
    const before = firewallPartitions(ctx.store);
    const after = before.filter((p) => !names.includes(p.name));
    const steps = ctx.firewall.updatePartitions(before, after, `heal ${names.join(', ')}`);
    return commit(
      ctx,
      decide(ctx, () => ({
        op: `partition heal ${name ?? '(all)'}`,
        mode: 'finish',
        writes: names.map((n) => ({ kind: 'delete-partition' as const, name: n })),
        steps,
        result: names,
      })),
    );
  });
}

export function listPartitions(ctx: Context): PartitionView[] {
  const nameOf = (id: string): string => ctx.store.containers.get(id)?.name ?? id;
  return ctx.store.partitions.list().map((p) => ({ name: p.name, oneWay: p.oneWay, groups: p.groups.map((g) => g.map(nameOf)), created: p.created }));
}

/** `rm` of a container: its pairs out of the firewall (its membership goes with its record). */
export function leavePartitionSteps(ctx: Context, c: ContainerRecord): Step[] {
  if (ctx.store.partitions.namesFor(c.id).length === 0) return [];
  return ctx.firewall.updatePartitions(firewallPartitions(ctx.store), firewallPartitions(ctx.store, c.id), `${c.name} leaves its partitions`);
}

function decideCreate(ctx: Context, input: PartitionInput): PartitionRecord {
  const name = partitionName(input.name);
  const flags = input.groups.map((_, i) => (i === 0 ? '--between' : '--and'));
  const groups = input.groups.map((g, i) => parseGroup(g, flags[i]!));
  checkGroupCount(groups);
  if (ctx.store.partitions.get(name) !== undefined) {
    throw new NsnetError('NAME_IN_USE', `partition ${name} already exists`, { hint: `heal it first (nsnet partition heal ${name}) or choose another name` });
  }
  const seen = new Map<string, string>(); // container id → where it was named first
  const ids = groups.map((g, i) =>
    g.map((ref) => {
      const c = member(ctx.store, ref);
      const where = `${flags[i]} ${input.groups[i]}`;
      const first = seen.get(c.id);
      if (first !== undefined) {
        throw new NsnetError('INVALID_VALUE', `container ${c.name} is named twice (${first === where ? `in ${where}` : `in ${first} and in ${where}`}): a container is in one group of a partition`, {
          hint: 'name each container once',
        });
      }
      seen.set(c.id, where);
      return c.id;
    }),
  );
  return { name, oneWay: input.oneWay === true, created: new Date().toISOString(), groups: ids };
}

/** A container that can be partitioned: one with addresses on nsnet's networks. */
function member(store: Store, ref: string): ContainerRecord {
  const c = store.containers.byIdOrName(ref);
  if (c === undefined) throw new NsnetError('NOT_FOUND', `no container named ${ref}`, { hint: 'see nsnet ps -a' });
  const works = 'partitions cut the traffic containers on nsnet networks send each other through the host';
  if (isHostMode(c)) {
    throw new NsnetError('INVALID_VALUE', `container ${c.name} runs in the host's network namespace (--network host): its traffic is the host's own, which a partition does not cut`, { hint: works });
  }
  const joined = joinedContainerId(c.networkMode);
  if (joined !== undefined) {
    const owner = store.containers.get(joined)?.name ?? joined;
    throw new NsnetError('INVALID_VALUE', `container ${c.name} shares container ${owner}'s network namespace (--network container:${owner})`, { hint: `partition ${owner}: its addresses are ${c.name}'s` });
  }
  if (isNoneMode(c)) {
    throw new NsnetError('INVALID_VALUE', `container ${c.name} has no address on an nsnet network (--network none)`, { hint: `${works}; a point-to-point link is cut with nsnet link down` });
  }
  if (c.cniContainerId !== null && c.cniContainerId !== undefined) {
    throw new NsnetError('FORBIDDEN', `container ${c.name} belongs to ${c.runtime ?? 'a container runtime'} (CNI), whose containers nsnet does not partition`, { hint: works });
  }
  return c;
}
