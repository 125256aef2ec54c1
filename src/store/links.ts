/**
 * Point-to-point links (`nsnet link add`): a veth pair straight between two containers'
 * namespaces, no bridge. A record goes with either container (ON DELETE CASCADE): deleting a
 * namespace takes its end of the pair, and the kernel deletes the other end with it.
 */
import type Database from 'better-sqlite3';
import { NsnetError } from '../core/errors.js';
import { fromRow, insertSql, isSqliteError, toRow, type Fields } from './rows.js';

export interface P2pLinkRecord {
  id: string;
  aContainer: string;
  /** Interface name of the link's end inside container A (and B below). */
  aIf: string;
  /** Address with prefix ("10.0.12.1/30", "fd00:12::1/64"), or null when the link has none. */
  aIp: string | null;
  bContainer: string;
  bIf: string;
  bIp: string | null;
  created: string;
}

const LINK: Fields<P2pLinkRecord> = {
  id: ['id', 'plain'],
  aContainer: ['a_container', 'plain'],
  aIf: ['a_if', 'plain'],
  aIp: ['a_ip', 'plain'],
  bContainer: ['b_container', 'plain'],
  bIf: ['b_if', 'plain'],
  bIp: ['b_ip', 'plain'],
  created: ['created', 'plain'],
};

type Row = Record<string, unknown>;

export class P2pLinks {
  constructor(private readonly db: Database.Database) {}

  insert(rec: P2pLinkRecord): void {
    const row = toRow(LINK, rec);
    try {
      this.db.prepare(insertSql('p2p_links', row)).run(row);
    } catch (err) {
      if (isSqliteError(err, 'SQLITE_CONSTRAINT_PRIMARYKEY') || isSqliteError(err, 'SQLITE_CONSTRAINT_UNIQUE')) {
        throw new NsnetError('NAME_IN_USE', `point-to-point link ${rec.aIf}/${rec.bIf}: an endpoint is already linked`, { cause: err });
      }
      throw err;
    }
  }

  get(id: string): P2pLinkRecord | undefined {
    const row = this.db.prepare('SELECT * FROM p2p_links WHERE id = ?').get(id) as Row | undefined;
    return row && fromRow(LINK, row);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM p2p_links WHERE id = ?').run(id);
  }

  /** Oldest first. */
  list(): P2pLinkRecord[] {
    return (this.db.prepare('SELECT * FROM p2p_links ORDER BY created, rowid').all() as Row[]).map((r) => fromRow(LINK, r));
  }

  /** The links with an end in this container, oldest first. */
  forContainer(containerId: string): P2pLinkRecord[] {
    const rows = this.db.prepare('SELECT * FROM p2p_links WHERE a_container = @id OR b_container = @id ORDER BY created, rowid').all({ id: containerId }) as Row[];
    return rows.map((r) => fromRow(LINK, r));
  }
}
