/**
 * A lab's partitions (`partitions:` in the file): `{name, between: [..], and: [..], one_way}`,
 * `and` one group (a list of containers) or several (a list of lists). Named LAB-NAME like the
 * lab's other objects; `up` makes them once their members exist and makes one again when its
 * members or direction changed (a remade member left it); a lab partition the file no longer
 * declares is healed; `down` heals them all.
 */
import { NsnetError } from '../core/errors.js';
import type { Context } from '../ops/context.js';
import { createPartition, healPartitions } from '../ops/partitions.js';

export interface RawPartition {
  name: string;
  between: string[];
  and: Array<string | string[]>;
  one_way?: boolean;
}

export interface LabPartition {
  key: string;
  /** LAB-KEY. */
  name: string;
  /** Container names (LAB-X), group by group; the first is `between`. */
  groups: string[][];
  oneWay: boolean;
}

export interface PartitionProblem {
  path: Array<string | number>;
  message: string;
}

const groupsOf = (p: RawPartition): string[][] => [p.between, ...(p.and.every((x) => typeof x === 'string') ? [p.and as string[]] : p.and.map((g) => (typeof g === 'string' ? [g] : g)))];

/** Members declared, each named once, names unique. */
export function labPartitionProblems(partitions: readonly RawPartition[], containers: Record<string, unknown>): PartitionProblem[] {
  const problems: PartitionProblem[] = [];
  const names = new Set<string>();
  partitions.forEach((p, i) => {
    const at = (field: string, message: string): void => void problems.push({ path: ['partitions', i, field], message: `partitions[${i}]: ${message}` });
    if (names.has(p.name)) at('name', `partition ${p.name} is declared twice`);
    names.add(p.name);
    const seen = new Set<string>();
    for (const member of groupsOf(p).flat()) {
      if (!Object.hasOwn(containers, member)) at('between', `container "${member}" is not declared under containers`);
      else if (seen.has(member)) at('and', `container ${member} is named twice: a container is in one group of a partition`);
      seen.add(member);
    }
  });
  return problems;
}

export function normalisePartitions(partitions: readonly RawPartition[], lab: string): LabPartition[] {
  return partitions.map((p) => ({ key: p.name, name: `${lab}-${p.name}`, groups: groupsOf(p).map((g) => g.map((m) => `${lab}-${m}`)), oneWay: p.one_way === true }));
}

/** What `up` changes: partitions to heal (changed or no longer declared) and to make. */
export function partitionChanges(ctx: Context, lab: string, declared: readonly LabPartition[]): { heal: string[]; make: LabPartition[] } {
  const nameOf = (id: string): string => ctx.store.containers.get(id)?.name ?? id;
  const have = new Map(ctx.store.partitions.list().filter((p) => p.name.startsWith(`${lab}-`)).map((p) => [p.name, p]));
  const heal: string[] = [];
  const make: LabPartition[] = [];
  for (const want of declared) {
    const p = have.get(want.name);
    const same = p !== undefined && p.oneWay === want.oneWay && JSON.stringify(p.groups.map((g) => g.map(nameOf))) === JSON.stringify(want.groups);
    if (same) continue;
    if (p !== undefined) heal.push(want.name);
    make.push(want);
  }
  const wanted = new Set(declared.map((d) => d.name));
  for (const name of have.keys()) if (!wanted.has(name) && ownedBy(ctx, lab, name)) heal.push(name);
  return { heal, make };
}

/** A partition named LAB-... whose members (if any are left) are all the lab's containers. */
function ownedBy(ctx: Context, lab: string, name: string): boolean {
  const p = ctx.store.partitions.get(name);
  return p !== undefined && p.groups.flat().every((id) => ctx.store.containers.get(id)?.name.startsWith(`${lab}-`) === true);
}

export function applyPartitionChanges(ctx: Context, changes: { heal: string[]; make: LabPartition[] }): void {
  for (const name of changes.heal) healPartitions(ctx, name);
  for (const p of changes.make) {
    try {
      createPartition(ctx, { name: p.name, groups: p.groups.map((g) => g.join(',')), oneWay: p.oneWay });
    } catch (err) {
      throw err instanceof NsnetError ? new NsnetError(err.code, `partition ${p.name}: ${err.message}`, { cause: err, hint: err.hint }) : err;
    }
  }
}

/** `down`: the lab's partitions (its containers are gone, or going). */
export function healLabPartitions(ctx: Context, lab: string): void {
  for (const p of ctx.store.partitions.list()) if (p.name.startsWith(`${lab}-`) && ownedBy(ctx, lab, p.name)) healPartitions(ctx, p.name);
}
