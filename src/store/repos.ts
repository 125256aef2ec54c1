/**
 * Repositories over one connection. Lookups return undefined when nothing matches; `resolve`
 * variants throw NOT_FOUND for the CLI's convenience. Constraint violations become
 * NsnetErrors with the code the CLI reports (NAME_IN_USE, ADDRESS_IN_USE, IN_USE).
 */
import type Database from 'better-sqlite3';
import { NsnetError, invalid } from '../core/errors.js';
import { fromRow, insertSql, isSqliteError, toRow, uniqueColumns, updateSql, type Fields } from './rows.js';
import type { ContainerRecord, EndpointRecord, JournalRecord, NetworkRecord, PortRecord } from './types.js';

const NETWORK: Fields<NetworkRecord> = {
  id: ['id', 'plain'],
  name: ['name', 'plain'],
  bridge: ['bridge', 'plain'],
  subnet: ['subnet', 'plain'],
  gateway: ['gateway', 'plain'],
  ipRange: ['ip_range', 'plain'],
  internal: ['internal', 'bool'],
  mtu: ['mtu', 'plain'],
  options: ['options', 'json'],
  labels: ['labels', 'json'],
  isDefault: ['is_default', 'bool'],
  created: ['created', 'plain'],
  ipamCursor: ['ipam_cursor', 'plain'],
  auxAddresses: ['aux_addresses', 'json'],
  attachable: ['attachable', 'bool'],
  driver: ['driver', 'plain'],
  subnet6: ['subnet6', 'plain'],
  gateway6: ['gateway6', 'plain'],
  ipRange6: ['ip_range6', 'plain'],
  ipamCursor6: ['ipam_cursor6', 'plain'],
};

const CONTAINER: Fields<ContainerRecord> = {
  id: ['id', 'plain'],
  name: ['name', 'plain'],
  hostname: ['hostname', 'plain'],
  command: ['command', 'json'],
  env: ['env', 'json'],
  rootfs: ['rootfs', 'plain'],
  detached: ['detached', 'bool'],
  status: ['status', 'plain'],
  pid: ['pid', 'plain'],
  pidStart: ['pid_start', 'plain'],
  exitCode: ['exit_code', 'plain'],
  logPath: ['log_path', 'plain'],
  created: ['created', 'plain'],
  startedAt: ['started_at', 'plain'],
  finishedAt: ['finished_at', 'plain'],
  netns: ['netns', 'plain'],
  cniContainerId: ['cni_container_id', 'plain'],
  runtime: ['runtime', 'plain'],
  capAdd: ['cap_add', 'json'],
  capDrop: ['cap_drop', 'json'],
  privileged: ['privileged', 'bool'],
  sysctls: ['sysctls', 'json'],
  exposedPorts: ['exposed_ports', 'json'],
  publishAll: ['publish_all', 'bool'],
  links: ['links', 'json'],
  publishSpecs: ['publish_specs', 'json'],
  networkMode: ['network_mode', 'plain'],
  monitorPid: ['monitor_pid', 'plain'],
  monitorStart: ['monitor_start', 'plain'],
  restartPolicy: ['restart_policy', 'plain'],
  restartMax: ['restart_max', 'plain'],
  restartCount: ['restart_count', 'plain'],
  manuallyStopped: ['manually_stopped', 'bool'],
  imageId: ['image_id', 'plain'],
  imageRef: ['image_ref', 'plain'],
  imageLayers: ['image_layers', 'json'],
  entrypoint: ['entrypoint', 'json'],
  workingDir: ['working_dir', 'plain'],
  user: ['user_spec', 'plain'],
  labels: ['labels', 'json'],
  autoRemove: ['auto_remove', 'bool'],
};

const ENDPOINT: Fields<EndpointRecord> = {
  id: ['id', 'plain'],
  networkId: ['network_id', 'plain'],
  containerId: ['container_id', 'plain'],
  ifName: ['if_name', 'plain'],
  hostIf: ['host_if', 'plain'],
  ip: ['ip', 'plain'],
  ipInt: ['ip_int', 'plain'],
  mac: ['mac', 'plain'],
  created: ['created', 'plain'],
  aliases: ['aliases', 'json'],
  requestedIp: ['requested_ip', 'plain'],
  ip6: ['ip6', 'plain'],
  requestedIp6: ['requested_ip6', 'plain'],
};

type Row = Record<string, unknown>;

/** Docker-style reference: exact name, full id, or a unique id prefix of at least 3 characters. */
function lookup<R extends { id: string }>(
  db: Database.Database,
  table: string,
  kind: string,
  fields: Fields<R>,
  ref: string,
): R | undefined {
  const exact = db.prepare(`SELECT * FROM ${table} WHERE name = ? OR id = ?`).all(ref, ref) as Row[];
  // A name equal to another object's id is possible in principle; the name wins, as in Docker.
  const byName = exact.find((r) => r.name === ref) ?? exact[0];
  if (byName) return fromRow(fields, byName);
  if (ref.length < 3 || !/^[0-9a-f]+$/.test(ref)) return undefined;
  const rows = db.prepare(`SELECT * FROM ${table} WHERE substr(id, 1, ?) = ? LIMIT 2`).all(ref.length, ref) as Row[];
  if (rows.length > 1) {
    throw invalid(`ambiguous ${kind} reference "${ref}": it is a prefix of more than one ${kind} id`, 'give more characters of the id, or the name');
  }
  return rows[0] === undefined ? undefined : fromRow(fields, rows[0]);
}

function update<R>(db: Database.Database, table: string, fields: Fields<R>, id: string, partial: Partial<R>): void {
  const { id: _ignored, ...rest } = partial as Partial<R> & { id?: unknown };
  const row = toRow(fields, rest as Partial<R>);
  if (Object.keys(row).length === 0) return;
  const info = db.prepare(updateSql(table, row)).run({ ...row, __id: id });
  if (info.changes === 0) throw new NsnetError('NOT_FOUND', `no ${table.slice(0, -1)} with id ${id}`);
}

function nameInUse(err: unknown, what: string): never {
  if (isSqliteError(err, 'SQLITE_CONSTRAINT_UNIQUE') || isSqliteError(err, 'SQLITE_CONSTRAINT_PRIMARYKEY')) {
    throw new NsnetError('NAME_IN_USE', `${what} is already in use (${uniqueColumns(err)})`, { cause: err });
  }
  throw err;
}

export class Networks {
  constructor(private readonly db: Database.Database) {}

  insert(rec: NetworkRecord): void {
    const row = toRow(NETWORK, rec);
    try {
      this.db.prepare(insertSql('networks', row)).run(row);
    } catch (err) {
      if (isSqliteError(err, 'SQLITE_CONSTRAINT_UNIQUE') && /networks\.name/.test(err.message)) {
        throw new NsnetError('NAME_IN_USE', `network with name ${rec.name} already exists`, { cause: err });
      }
      nameInUse(err, `network ${rec.name}`);
    }
  }

  update(id: string, partial: Partial<NetworkRecord>): void {
    try {
      update(this.db, 'networks', NETWORK, id, partial);
    } catch (err) {
      nameInUse(err, `network ${partial.name ?? id}`);
    }
  }

  get(id: string): NetworkRecord | undefined {
    const row = this.db.prepare('SELECT * FROM networks WHERE id = ?').get(id) as Row | undefined;
    return row && fromRow(NETWORK, row);
  }

  byName(name: string): NetworkRecord | undefined {
    const row = this.db.prepare('SELECT * FROM networks WHERE name = ?').get(name) as Row | undefined;
    return row && fromRow(NETWORK, row);
  }

  byIdOrName(ref: string): NetworkRecord | undefined {
    return lookup(this.db, 'networks', 'network', NETWORK, ref);
  }

  resolve(ref: string): NetworkRecord {
    const n = this.byIdOrName(ref);
    if (!n) throw new NsnetError('NOT_FOUND', `network ${ref} not found`, { hint: 'see nsnet network ls' });
    return n;
  }

  /**
   * In the order they were made: the firewall lists networks in this order, and `system check`
   * compares the rules regenerated from it with those added one network at a time, so two made in
   * the same millisecond (a lab) are ordered by insertion (rowid), not by name.
   */
  list(): NetworkRecord[] {
    return (this.db.prepare('SELECT * FROM networks ORDER BY created, rowid').all() as Row[]).map((r) => fromRow(NETWORK, r));
  }

  /** Refuses (IN_USE) while endpoints still reference the network. */
  delete(id: string): void {
    try {
      this.db.prepare('DELETE FROM networks WHERE id = ?').run(id);
    } catch (err) {
      if (isSqliteError(err, 'SQLITE_CONSTRAINT_FOREIGNKEY')) {
        throw new NsnetError('IN_USE', `network ${id} has active endpoints`, {
          cause: err,
          hint: 'disconnect or remove the containers attached to it first',
        });
      }
      throw err;
    }
  }

  usedIps(networkId: string): Set<number> {
    const rows = this.db.prepare('SELECT ip_int FROM endpoints WHERE network_id = ? AND ip_int IS NOT NULL').pluck().all(networkId) as number[];
    return new Set(rows);
  }

  /** The network's IPv6 addresses in use, canonical text. */
  usedIps6(networkId: string): Set<string> {
    const rows = this.db.prepare('SELECT ip6 FROM endpoints WHERE network_id = ? AND ip6 IS NOT NULL').pluck().all(networkId) as string[];
    return new Set(rows);
  }

  setCursor(id: string, cursor: number | null): void {
    this.db.prepare('UPDATE networks SET ipam_cursor = ? WHERE id = ?').run(cursor, id);
  }
}

export class Containers {
  constructor(private readonly db: Database.Database) {}

  insert(rec: ContainerRecord): void {
    const row = toRow(CONTAINER, rec);
    try {
      this.db.prepare(insertSql('containers', row)).run(row);
    } catch (err) {
      if (isSqliteError(err, 'SQLITE_CONSTRAINT_UNIQUE') && /containers\.name/.test(err.message)) {
        throw new NsnetError('NAME_IN_USE', `container name ${rec.name} is already in use`, {
          cause: err,
          hint: 'remove that container or choose another --name',
        });
      }
      nameInUse(err, `container ${rec.name}`);
    }
  }

  get(id: string): ContainerRecord | undefined {
    const row = this.db.prepare('SELECT * FROM containers WHERE id = ?').get(id) as Row | undefined;
    return row && fromRow(CONTAINER, row);
  }

  byIdOrName(ref: string): ContainerRecord | undefined {
    return lookup(this.db, 'containers', 'container', CONTAINER, ref);
  }

  /** The container a runtime attached through CNI, by the runtime's container id. */
  byCniId(cniContainerId: string): ContainerRecord | undefined {
    const row = this.db.prepare('SELECT * FROM containers WHERE cni_container_id = ?').get(cniContainerId) as Row | undefined;
    return row && fromRow(CONTAINER, row);
  }

  resolve(ref: string): ContainerRecord {
    const c = this.byIdOrName(ref);
    if (!c) throw new NsnetError('NOT_FOUND', `no such container: ${ref}`, { hint: 'see nsnet ps -a' });
    return c;
  }

  list(): ContainerRecord[] {
    return (this.db.prepare('SELECT * FROM containers ORDER BY created, name').all() as Row[]).map((r) => fromRow(CONTAINER, r));
  }

  update(id: string, partial: Partial<ContainerRecord>): void {
    try {
      update(this.db, 'containers', CONTAINER, id, partial);
    } catch (err) {
      nameInUse(err, `container ${partial.name ?? id}`);
    }
  }

  /** Its endpoints go with it (ON DELETE CASCADE). */
  delete(id: string): void {
    this.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
  }
}

export class Endpoints {
  constructor(private readonly db: Database.Database) {}

  insert(rec: EndpointRecord): void {
    const row = toRow(ENDPOINT, rec);
    try {
      this.db.prepare(insertSql('endpoints', row)).run(row);
    } catch (err) {
      if (isSqliteError(err, 'SQLITE_CONSTRAINT_UNIQUE')) {
        const cols = uniqueColumns(err);
        if (cols.includes('ip_int')) {
          throw new NsnetError('ADDRESS_IN_USE', `address ${rec.ip} is already in use on network ${rec.networkId}`, { cause: err });
        }
        if (cols.includes('endpoints.ip6')) {
          throw new NsnetError('ADDRESS_IN_USE', `address ${rec.ip6} is already in use on network ${rec.networkId}`, { cause: err });
        }
        if (cols.includes('network_id')) {
          throw new NsnetError('NAME_IN_USE', `container ${rec.containerId} is already connected to network ${rec.networkId}`, { cause: err });
        }
        if (cols.includes('if_name')) {
          throw new NsnetError('NAME_IN_USE', `container ${rec.containerId} already has an interface ${rec.ifName}`, { cause: err });
        }
      }
      if (isSqliteError(err, 'SQLITE_CONSTRAINT_FOREIGNKEY')) {
        throw new NsnetError('NOT_FOUND', `endpoint ${rec.id}: its network or container does not exist`, { cause: err });
      }
      nameInUse(err, `endpoint ${rec.id}`);
    }
  }

  forContainer(containerId: string): EndpointRecord[] {
    return (this.db.prepare('SELECT * FROM endpoints WHERE container_id = ? ORDER BY created, if_name').all(containerId) as Row[])
      .map((r) => fromRow(ENDPOINT, r));
  }

  forNetwork(networkId: string): EndpointRecord[] {
    return (this.db.prepare('SELECT * FROM endpoints WHERE network_id = ? ORDER BY ip_int, ip6').all(networkId) as Row[])
      .map((r) => fromRow(ENDPOINT, r));
  }

  get(networkId: string, containerId: string): EndpointRecord | undefined {
    const row = this.db.prepare('SELECT * FROM endpoints WHERE network_id = ? AND container_id = ?').get(networkId, containerId) as
      | Row
      | undefined;
    return row && fromRow(ENDPOINT, row);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM endpoints WHERE id = ?').run(id);
  }
}

/** Intent log for multi-step kernel operations, replayed or undone after a crash. */
export class Journal {
  constructor(private readonly db: Database.Database) {}

  add(op: string, steps: unknown, created = new Date().toISOString()): number {
    const info = this.db.prepare('INSERT INTO journal (op, steps, created) VALUES (?, ?, ?)').run(op, JSON.stringify(steps), created);
    return Number(info.lastInsertRowid);
  }

  setSteps(id: number, steps: unknown): void {
    this.db.prepare('UPDATE journal SET steps = ? WHERE id = ?').run(JSON.stringify(steps), id);
  }

  list(): JournalRecord[] {
    return (this.db.prepare('SELECT * FROM journal ORDER BY id').all() as Row[]).map((r) => ({
      id: Number(r.id),
      op: String(r.op),
      steps: JSON.parse(String(r.steps)) as unknown,
      created: String(r.created),
    }));
  }

  delete(id: number): void {
    this.db.prepare('DELETE FROM journal WHERE id = ?').run(id);
  }
}

/** Small host-wide settings, such as the firewall driver the networks were made with. */
export class Settings {
  constructor(private readonly db: Database.Database) {}

  get(key: string): string | undefined {
    return this.db.prepare('SELECT value FROM settings WHERE key = ?').pluck().get(key) as string | undefined;
  }

  set(key: string, value: string): void {
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  delete(key: string): void {
    this.db.prepare('DELETE FROM settings WHERE key = ?').run(key);
  }

  /** Every key that starts with `prefix` (a lab's records: "lab:"). */
  keys(prefix: string): string[] {
    return this.db.prepare("SELECT key FROM settings WHERE substr(key, 1, ?) = ? ORDER BY key").pluck().all(prefix.length, prefix) as string[];
  }
}

const PORT: Fields<PortRecord> = {
  endpointId: ['endpoint_id', 'plain'],
  containerId: ['container_id', 'plain'],
  hostIp: ['host_ip', 'plain'],
  hostPort: ['host_port', 'plain'],
  containerPort: ['container_port', 'plain'],
  proto: ['proto', 'plain'],
};

/** Published ports. They go with their endpoint (ON DELETE CASCADE). */
export class Ports {
  constructor(private readonly db: Database.Database) {}

  insert(rec: PortRecord): void {
    const row = toRow(PORT, rec);
    this.db.prepare(insertSql('ports', row)).run(row);
  }

  list(): PortRecord[] {
    return (this.db.prepare('SELECT * FROM ports ORDER BY container_id, proto, container_port').all() as Row[]).map((r) => fromRow(PORT, r));
  }

  forContainer(containerId: string): PortRecord[] {
    return (this.db.prepare('SELECT * FROM ports WHERE container_id = ? ORDER BY proto, container_port').all(containerId) as Row[]).map((r) =>
      fromRow(PORT, r),
    );
  }

  forEndpoint(endpointId: string): PortRecord[] {
    return (this.db.prepare('SELECT * FROM ports WHERE endpoint_id = ? ORDER BY proto, container_port').all(endpointId) as Row[]).map((r) =>
      fromRow(PORT, r),
    );
  }

  /** One mapping of an endpoint (the primary key). */
  delete(endpointId: string, m: { proto: PortRecord['proto']; containerPort: number; hostPort: number }): void {
    this.db
      .prepare('DELETE FROM ports WHERE endpoint_id = ? AND proto = ? AND container_port = ? AND host_port = ?')
      .run(endpointId, m.proto, m.containerPort, m.hostPort);
  }
}
