/** Per-container name-resolution settings, and a cheap "has anything changed" probe for the DNS responder. */
import type Database from 'better-sqlite3';
import { fromRow, toRow, type Fields } from './rows.js';

export interface DnsConfig {
  containerId: string;
  /** --dns: upstream servers for this container's forwarded queries. */
  servers: string[];
  /** --dns-search domains, written to its resolv.conf. */
  search: string[];
  /** --dns-option, written to its resolv.conf `options` line. */
  options: string[];
  /** --add-host entries as [name, ip]. */
  extraHosts: Array<[string, string]>;
  /** --network-alias names, resolvable on each of its networks. */
  aliases: string[];
}

const DNS: Fields<DnsConfig> = {
  containerId: ['container_id', 'plain'],
  servers: ['servers', 'json'],
  search: ['search', 'json'],
  options: ['options', 'json'],
  extraHosts: ['extra_hosts', 'json'],
  aliases: ['aliases', 'json'],
};

type Row = Record<string, unknown>;

export class DnsConfigs {
  constructor(private readonly db: Database.Database) {}

  set(rec: DnsConfig): void {
    const row = toRow(DNS, rec);
    this.db
      .prepare(
        `INSERT INTO container_dns (container_id, servers, search, options, extra_hosts, aliases)
         VALUES (@container_id, @servers, @search, @options, @extra_hosts, @aliases)
         ON CONFLICT(container_id) DO UPDATE SET servers = excluded.servers, search = excluded.search,
           options = excluded.options, extra_hosts = excluded.extra_hosts, aliases = excluded.aliases`,
      )
      .run(row);
  }

  get(containerId: string): DnsConfig | undefined {
    const row = this.db.prepare('SELECT * FROM container_dns WHERE container_id = ?').get(containerId) as Row | undefined;
    return row && fromRow(DNS, row);
  }

  delete(containerId: string): void {
    this.db.prepare('DELETE FROM container_dns WHERE container_id = ?').run(containerId);
  }

  list(): DnsConfig[] {
    return (this.db.prepare('SELECT * FROM container_dns').all() as Row[]).map((r) => fromRow(DNS, r));
  }

  /** Every endpoint's container, network, address and own aliases in one query (the responder's view of 1000 containers). */
  addresses(): Array<{ containerId: string; networkId: string; ip: string | null; ip6: string | null; aliases: string[] }> {
    const rows = this.db.prepare('SELECT container_id AS containerId, network_id AS networkId, ip, ip6, aliases FROM endpoints ORDER BY created, if_name').all() as Array<{
      containerId: string;
      networkId: string;
      ip: string | null;
      ip6: string | null;
      aliases: string;
    }>;
    return rows.map((r) => ({ ...r, aliases: JSON.parse(r.aliases) as string[] }));
  }

  /**
   * SQLite's PRAGMA data_version: changes whenever another connection commits. The responder
   * polls it to re-read the store only when something changed.
   */
  dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }
}
