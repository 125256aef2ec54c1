/**
 * What nsnet set on a container's interface beyond its addresses: an impairment (netem set, a
 * lab's `netem:`) and the link held down (link down). One row per (container, interface name), for
 * bridge-attached and point-to-point interfaces alike; it goes with the container. `start` after a
 * reboot applies it again, `netem show`, inspect and graph show it.
 */
import type Database from 'better-sqlite3';
import type { Netem } from '../core/netem.js';
import { fromRow, toRow, type Fields } from './rows.js';

export interface InterfaceState {
  containerId: string;
  /** The interface inside the container (eth0). */
  ifName: string;
  /** Its impairment; null for none. */
  netem: Netem | null;
  /** Held down by `nsnet link down` (its carrier off). */
  linkDown: boolean;
}

const FIELDS: Fields<InterfaceState> = {
  containerId: ['container_id', 'plain'],
  ifName: ['if_name', 'plain'],
  netem: ['netem', 'json'],
  linkDown: ['link_down', 'bool'],
};

type Row = Record<string, unknown>;

export class InterfaceStates {
  constructor(private readonly db: Database.Database) {}

  /** Insert or replace; a row with no impairment and the link up says nothing, so it is deleted instead. */
  set(rec: InterfaceState): void {
    if (rec.netem === null && !rec.linkDown) return this.delete(rec.containerId, rec.ifName);
    const row = toRow(FIELDS, rec);
    this.db
      .prepare(
        `INSERT INTO interface_state (container_id, if_name, netem, link_down) VALUES (@container_id, @if_name, @netem, @link_down)
         ON CONFLICT(container_id, if_name) DO UPDATE SET netem = excluded.netem, link_down = excluded.link_down`,
      )
      .run({ netem: null, ...row });
  }

  get(containerId: string, ifName: string): InterfaceState | undefined {
    const row = this.db.prepare('SELECT * FROM interface_state WHERE container_id = ? AND if_name = ?').get(containerId, ifName) as Row | undefined;
    return row && fromRow(FIELDS, row);
  }

  forContainer(containerId: string): InterfaceState[] {
    return (this.db.prepare('SELECT * FROM interface_state WHERE container_id = ? ORDER BY if_name').all(containerId) as Row[]).map((r) => fromRow(FIELDS, r));
  }

  list(): InterfaceState[] {
    return (this.db.prepare('SELECT * FROM interface_state ORDER BY container_id, if_name').all() as Row[]).map((r) => fromRow(FIELDS, r));
  }

  delete(containerId: string, ifName: string): void {
    this.db.prepare('DELETE FROM interface_state WHERE container_id = ? AND if_name = ?').run(containerId, ifName);
  }
}
