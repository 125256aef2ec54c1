/**
 * Partitions (`nsnet partition create`): named groups of containers between which nsnet's
 * firewall drops traffic. A member goes with its container (ON DELETE CASCADE); the partition
 * record stays until healed (a partition left with fewer than two groups drops nothing).
 */
import type Database from 'better-sqlite3';
import { NsnetError } from '../core/errors.js';
import { isSqliteError } from './rows.js';

export interface PartitionRecord {
  name: string;
  /** Only traffic from group 0 to the other groups is dropped. */
  oneWay: boolean;
  created: string;
  /** Container ids by group, in the order given (group 0 is --between). */
  groups: string[][];
}

interface PartitionRow {
  name: string;
  one_way: number;
  created: string;
}

interface MemberRow {
  partition: string;
  container_id: string;
  grp: number;
}

export class Partitions {
  constructor(private readonly db: Database.Database) {}

  insert(rec: PartitionRecord): void {
    try {
      this.db.prepare('INSERT INTO partitions (name, one_way, created) VALUES (?, ?, ?)').run(rec.name, rec.oneWay ? 1 : 0, rec.created);
    } catch (err) {
      if (isSqliteError(err, 'SQLITE_CONSTRAINT')) throw new NsnetError('NAME_IN_USE', `partition ${rec.name} already exists`, { cause: err, hint: `heal it first (nsnet partition heal ${rec.name}) or choose another name` });
      throw err;
    }
    const member = this.db.prepare('INSERT INTO partition_members (partition, container_id, grp) VALUES (?, ?, ?)');
    rec.groups.forEach((ids, grp) => ids.forEach((id) => member.run(rec.name, id, grp)));
  }

  /** Members go with it (ON DELETE CASCADE). */
  delete(name: string): void {
    this.db.prepare('DELETE FROM partitions WHERE name = ?').run(name);
  }

  get(name: string): PartitionRecord | undefined {
    return this.list().find((p) => p.name === name);
  }

  /** Oldest first, with their current members. */
  list(): PartitionRecord[] {
    const rows = this.db.prepare('SELECT * FROM partitions ORDER BY created, rowid').all() as PartitionRow[];
    const members = this.db.prepare('SELECT * FROM partition_members ORDER BY rowid').all() as MemberRow[];
    return rows.map((r) => {
      const groups: string[][] = [];
      for (const m of members.filter((x) => x.partition === r.name)) (groups[m.grp] ??= []).push(m.container_id);
      // A group emptied by rm keeps its place, so group 0 stays the one-way source.
      for (let i = 0; i < groups.length; i++) groups[i] ??= [];
      return { name: r.name, oneWay: r.one_way === 1, created: r.created, groups };
    });
  }

  /** The partitions this container is a member of. */
  namesFor(containerId: string): string[] {
    const rows = this.db.prepare('SELECT partition FROM partition_members WHERE container_id = ?').all(containerId) as Array<{ partition: string }>;
    return rows.map((r) => r.partition);
  }
}
