/**
 * nsnet's state: one SQLite database under the state root, shared by concurrent nsnet
 * processes. Only src/store touches better-sqlite3; everything else sees typed records.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import { NsnetError } from '../core/errors.js';
import { Containers, Endpoints, Journal, Networks, Ports, Settings } from './repos.js';
import { DnsConfigs } from './dns.js';
import { P2pLinks } from './links.js';
import { Partitions } from './partitions.js';
import { InterfaceStates } from './interfaces.js';
import { Images } from './images.js';
import { containerListing, type ContainerListing } from './containers-listing.js';
import { isSqliteError } from './rows.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';

export type { ContainerLink, ContainerRecord, ContainerStatus, EndpointRecord, JournalRecord, NetworkMode, NetworkRecord, PortRecord, RestartPolicyName } from './types.js';
export { SCHEMA_VERSION } from './schema.js';
export type { DnsConfig } from './dns.js';
export type { P2pLinkRecord } from './links.js';
export type { PartitionRecord } from './partitions.js';
export type { InterfaceState } from './interfaces.js';
export type { ImageUser, LayerRecord, StoredImage } from './images.js';
export type { ContainerListing } from './containers-listing.js';

export interface Store {
  /** Path of the database file. */
  readonly path: string;
  readonly networks: Networks;
  readonly containers: Containers;
  readonly endpoints: Endpoints;
  readonly journal: Journal;
  readonly settings: Settings;
  readonly ports: Ports;
  /** Per-container name-resolution settings (see src/store/dns.ts). */
  readonly dns: DnsConfigs;
  /** Point-to-point links between two containers (see src/store/links.ts). */
  readonly links: P2pLinks;
  /** Partitions: groups of containers whose traffic between groups is dropped (src/store/partitions.ts). */
  readonly partitions: Partitions;
  /** Impairments and held-down links of containers' interfaces (see src/store/interfaces.ts). */
  readonly interfaces: InterfaceStates;
  /** Images, their layers and references (see src/store/images.ts). */
  readonly images: Images;
  /**
   * Run fn inside BEGIN IMMEDIATE … COMMIT, rolling back if it throws. IMMEDIATE takes the
   * write lock up front, so read-then-write sequences (like address allocation) cannot
   * interleave with another process. fn must be synchronous. Nested calls become savepoints.
   */
  tx<T>(fn: () => T): T;
  /** Every container with its endpoints, networks, ports and DNS settings, kept while nothing changes (store/containers-listing.ts). */
  listing(): ContainerListing;
  /**
   * A value that changes whenever the data may have changed: this connection's own writes
   * (SQLite's total_changes) or a commit of another connection or process (PRAGMA data_version).
   * What a read kept across requests is checked against (store/containers-listing.ts).
   * Undefined inside a transaction: its writes may yet be rolled back, which no counter shows.
   */
  version(): string | undefined;
  /** The whole database as bytes (a test copies the state at a simulated crash). */
  serialize(): Buffer;
  close(): void;
}

export interface StoreOptions {
  /** How long to wait for another process's write lock before LOCK_TIMEOUT. */
  busyTimeoutMs?: number;
}

const DB_FILE = 'nsnet.db';
/** The database file's name under the state root. */
export const STORE_FILE = DB_FILE;

/** Loaded on first use: commands that never open the store (--help, --version) skip its cost. */
let sqlite: typeof Database | undefined;
function loadSqlite(): typeof Database {
  sqlite ??= createRequire(import.meta.url)('better-sqlite3') as typeof Database;
  return sqlite;
}

export function openStore(root: string, opts: StoreOptions = {}): Store {
  const file = path.join(root, DB_FILE);
  try {
    fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new NsnetError('STATE', `create state directory ${root}: ${(err as Error).message}`, { cause: err });
  }
  const existed = fs.existsSync(file);
  let db: Database.Database | undefined;
  try {
    db = new (loadSqlite())(file);
    if (!existed) fs.chmodSync(file, 0o600);
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
    // Reading the header first makes a non-database file fail here, before anything is written.
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new NsnetError(
        'STATE',
        `state database ${file} was written by a newer nsnet (schema ${version}, this nsnet knows ${SCHEMA_VERSION})`,
        { hint: 'upgrade nsnet, or point --root at another state directory' },
      );
    }
    db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL is still crash-safe for the database (a power loss may drop the last
    // commits, never corrupt it) and saves an fsync per transaction.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    if (version < SCHEMA_VERSION) migrate(db, file);
    return makeStore(db, file);
  } catch (err) {
    db?.close();
    throw translateOpenError(err, file);
  }
}

/**
 * A store in memory, for unit tests: the same schema and repositories, no file, no lock. From
 * `image` (a serialize() of another store) it starts as a copy of that one.
 */
export function openMemoryStore(image?: Buffer): Store {
  const db = new (loadSqlite())(image ?? ':memory:');
  db.pragma('foreign_keys = ON');
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version < SCHEMA_VERSION) migrate(db, ':memory:');
  return makeStore(db, ':memory:');
}

function migrate(db: Database.Database, file: string): void {
  // A migration that rebuilds a table (SQLite's way to change a column) drops the old one, which
  // foreign keys would forbid or cascade: they are off while migrating (the pragma is a no-op
  // inside a transaction) and checked before the commit instead.
  db.pragma('foreign_keys = OFF');
  try {
    // Re-read inside the write lock: another process may have migrated since we looked.
    db.transaction(() => {
      const current = db.pragma('user_version', { simple: true }) as number;
      if (current > SCHEMA_VERSION) {
        throw new NsnetError('STATE', `state database ${file} was written by a newer nsnet (schema ${current}, this nsnet knows ${SCHEMA_VERSION})`);
      }
      for (let v = current; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
      const broken = db.pragma('foreign_key_check') as unknown[];
      if (broken.length > 0) throw new NsnetError('STATE', `state database ${file}: migration left ${broken.length} dangling references`);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
  } finally {
    db.pragma('foreign_keys = ON');
  }
}

function translateOpenError(err: unknown, file: string): NsnetError {
  if (err instanceof NsnetError) return err;
  if (isSqliteError(err, 'SQLITE_NOTADB') || isSqliteError(err, 'SQLITE_CORRUPT')) {
    return new NsnetError('STATE', `state database ${file} is corrupt: ${err.message}`, {
      cause: err,
      hint: `nsnet will not reset it silently; move ${file} aside (losing the records of networks and containers) or restore a backup`,
    });
  }
  if (isSqliteError(err, 'SQLITE_BUSY')) {
    return new NsnetError('LOCK_TIMEOUT', `open state database ${file}: locked by another nsnet process`, { cause: err });
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new NsnetError('STATE', `open state database ${file}: ${msg}`, { cause: err });
}

/** More distinct statements than nsnet's code has means SQL built from data: start the cache over. */
const MAX_CACHED_STATEMENTS = 1000;

/**
 * better-sqlite3 compiles SQL at every prepare(), and the repositories prepare theirs at each call
 * (a `ps` of 20 containers compiled ~100 statements, ~2 ms); the nsnet service keeps one store
 * open for thousands of commands, so the store keeps them compiled, by their text. A statement's
 * pluck mode is a setting of the statement: it is reset for each caller, who sets it again. A
 * statement still running (iterate) is never handed out twice: that caller gets a fresh one.
 */
function cacheStatements(db: Database.Database): void {
  const cache = new Map<string, Database.Statement>();
  const compile = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    const cached = cache.get(sql);
    if (cached !== undefined && !cached.busy) {
      if (cached.reader) cached.pluck(false);
      return cached;
    }
    const fresh = compile(sql);
    if (cached === undefined) {
      if (cache.size >= MAX_CACHED_STATEMENTS) cache.clear();
      cache.set(sql, fresh);
    }
    return fresh;
  }) as typeof db.prepare;
}

function makeStore(db: Database.Database, file: string): Store {
  cacheStatements(db);
  const store: Store = {
    path: file,
    networks: new Networks(db),
    containers: new Containers(db),
    endpoints: new Endpoints(db),
    journal: new Journal(db),
    settings: new Settings(db),
    ports: new Ports(db),
    dns: new DnsConfigs(db),
    links: new P2pLinks(db),
    partitions: new Partitions(db),
    interfaces: new InterfaceStates(db),
    images: new Images(db),
    tx<T>(fn: () => T): T {
      try {
        return db.transaction(fn).immediate();
      } catch (err) {
        if (isSqliteError(err, 'SQLITE_BUSY')) {
          throw new NsnetError('LOCK_TIMEOUT', `state database ${file} is locked by another nsnet process`, {
            cause: err,
            hint: 'retry; if it persists, look for a hung nsnet process',
          });
        }
        throw err;
      }
    },
    listing: () => containerListing(store),
    version(): string | undefined {
      if (db.inTransaction) return undefined;
      const [own, others] = db.prepare('SELECT total_changes(), data_version FROM pragma_data_version').raw().get() as [number, number];
      return `${own}:${others}`;
    },
    serialize(): Buffer {
      return db.serialize();
    },
    close(): void {
      db.close();
    },
  };
  return store;
}
