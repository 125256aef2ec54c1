/**
 * Record changes as data. A decision lists the writes it needs; commit applies them in one
 * transaction with the journal entry, and the ONE forget list that failure handling and crash
 * recovery use is derived from these same writes (what a make inserted, what a removal deletes),
 * so the two can never disagree.
 */
import type { InterfaceState } from '../store/index.js';
import type { ContainerRecord, DnsConfig, EndpointRecord, NetworkRecord, P2pLinkRecord, PartitionRecord, PortRecord, Store } from '../store/index.js';
import { DRIVER_SETTING } from './firewall-choice.js';

export type RecordWrite =
  | { kind: 'insert-network'; record: NetworkRecord }
  | { kind: 'insert-container'; record: ContainerRecord }
  | { kind: 'insert-endpoint'; record: EndpointRecord }
  | { kind: 'insert-port'; record: PortRecord }
  | { kind: 'set-dns'; config: DnsConfig }
  /** An interface's impairment and link state; one with neither is deleted. */
  | { kind: 'set-interface'; record: InterfaceState }
  | { kind: 'set-cursor'; networkId: string; cursor: number | null }
  | { kind: 'set-cursor6'; networkId: string; cursor: string | null }
  | { kind: 'set-setting'; key: string; value: string }
  | { kind: 'delete-dns'; containerId: string }
  | { kind: 'delete-setting'; key: string }
  | { kind: 'update-container'; id: string; patch: Partial<ContainerRecord> }
  | { kind: 'delete-container'; id: string }
  | { kind: 'delete-network'; id: string }
  | { kind: 'delete-endpoint'; id: string }
  | { kind: 'delete-port'; port: PortRef }
  | { kind: 'insert-p2p-link'; record: P2pLinkRecord }
  | { kind: 'delete-p2p-link'; id: string }
  | { kind: 'insert-partition'; record: PartitionRecord }
  | { kind: 'delete-partition'; name: string };

/** A published port, by its endpoint and mapping (the store's key). */
export interface PortRef {
  endpointId: string;
  proto: PortRecord['proto'];
  containerPort: number;
  hostPort: number;
}

/** Records a failed make or an interrupted operation deletes. */
export interface RecordRefs {
  containers?: string[] | undefined;
  networks?: string[] | undefined;
  endpoints?: string[] | undefined;
  ports?: PortRef[] | undefined;
  /** Setting keys (system reset: the labs' records). */
  settings?: string[] | undefined;
  /** Point-to-point link ids. */
  p2pLinks?: string[] | undefined;
  /** Partition names (their members go with them). */
  partitions?: string[] | undefined;
}

const portRef = (p: PortRecord | PortRef): PortRef => ({ endpointId: p.endpointId, proto: p.proto, containerPort: p.containerPort, hostPort: p.hostPort });

export function applyWrite(store: Store, w: RecordWrite): void {
  switch (w.kind) {
    case 'insert-network':
      return store.networks.insert(w.record);
    case 'insert-container':
      return store.containers.insert(w.record);
    case 'insert-endpoint':
      return store.endpoints.insert(w.record);
    case 'insert-port':
      return store.ports.insert(w.record);
    case 'set-interface':
      return store.interfaces.set(w.record);
    case 'set-dns':
      return store.dns.set(w.config);
    case 'set-cursor':
      return store.networks.setCursor(w.networkId, w.cursor);
    case 'set-cursor6':
      // As set-cursor's UPDATE: a no-op for a network the same rollback forgot (a CNI ADD makes the
      // network and allocates from it in one decision; its restore runs after the forget).
      if (store.networks.get(w.networkId) === undefined) return undefined;
      return store.networks.update(w.networkId, { ipamCursor6: w.cursor });
    case 'set-setting':
      return store.settings.set(w.key, w.value);
    case 'delete-dns':
      return store.dns.delete(w.containerId);
    case 'delete-setting':
      return store.settings.delete(w.key);
    case 'update-container':
      return store.containers.update(w.id, w.patch);
    case 'delete-container':
      return store.containers.delete(w.id);
    case 'delete-endpoint':
      return store.endpoints.delete(w.id);
    case 'delete-port':
      return store.ports.delete(w.port.endpointId, w.port);
    case 'insert-p2p-link':
      return store.links.insert(w.record);
    case 'delete-p2p-link':
      return store.links.delete(w.id);
    case 'insert-partition':
      return store.partitions.insert(w.record);
    case 'delete-partition':
      return store.partitions.delete(w.name);
    case 'delete-network':
      store.networks.delete(w.id);
      // The driver record only guards existing networks against a mix of drivers.
      if (store.networks.list().length === 0) store.settings.delete(DRIVER_SETTING);
      return;
  }
}

/**
 * The write that puts back what `w` overwrites (read before `w` is made): a failed or
 * interrupted make restores the records it changed in place (a network's allocation cursor, a
 * container's DNS settings) as it forgets the ones it inserted. Undefined for inserts and deletes.
 */
export function restoreOf(store: Store, w: RecordWrite): RecordWrite | undefined {
  switch (w.kind) {
    case 'set-cursor': {
      const n = store.networks.get(w.networkId);
      return n === undefined ? undefined : { kind: 'set-cursor', networkId: w.networkId, cursor: n.ipamCursor };
    }
    case 'set-cursor6': {
      const n = store.networks.get(w.networkId);
      return n === undefined ? undefined : { kind: 'set-cursor6', networkId: w.networkId, cursor: n.ipamCursor6 ?? null };
    }
    case 'set-interface': {
      const { containerId, ifName } = w.record;
      return { kind: 'set-interface', record: store.interfaces.get(containerId, ifName) ?? { containerId, ifName, netem: null, linkDown: false } };
    }
    case 'set-dns': {
      const prior = store.dns.get(w.config.containerId);
      return prior === undefined ? { kind: 'delete-dns', containerId: w.config.containerId } : { kind: 'set-dns', config: prior };
    }
    case 'set-setting': {
      const prior = store.settings.get(w.key);
      return prior === undefined ? { kind: 'delete-setting', key: w.key } : { kind: 'set-setting', key: w.key, value: prior };
    }
    case 'update-container': {
      const prior = store.containers.get(w.id);
      if (prior === undefined) return undefined;
      const patch = Object.fromEntries(Object.keys(w.patch).map((k) => [k, prior[k as keyof ContainerRecord]]));
      return { kind: 'update-container', id: w.id, patch };
    }
    default:
      return undefined;
  }
}

/** What a make inserted: deleted again when it fails or is rolled back after a crash. */
export function insertedBy(writes: readonly RecordWrite[]): RecordRefs {
  const refs: Required<RecordRefs> = { containers: [], networks: [], endpoints: [], ports: [], settings: [], p2pLinks: [], partitions: [] };
  for (const w of writes) {
    if (w.kind === 'insert-container') refs.containers.push(w.record.id);
    else if (w.kind === 'insert-network') refs.networks.push(w.record.id);
    else if (w.kind === 'insert-endpoint') refs.endpoints.push(w.record.id);
    else if (w.kind === 'insert-port') refs.ports.push(portRef(w.record));
    else if (w.kind === 'insert-p2p-link') refs.p2pLinks.push(w.record.id);
    else if (w.kind === 'insert-partition') refs.partitions.push(w.record.name);
  }
  return refs;
}

/** What a removal deletes: deleted when it finishes, in process or by crash recovery. */
export function deletedBy(writes: readonly RecordWrite[]): RecordRefs {
  const refs: Required<RecordRefs> = { containers: [], networks: [], endpoints: [], ports: [], settings: [], p2pLinks: [], partitions: [] };
  for (const w of writes) {
    if (w.kind === 'delete-container') refs.containers.push(w.id);
    else if (w.kind === 'delete-network') refs.networks.push(w.id);
    else if (w.kind === 'delete-endpoint') refs.endpoints.push(w.id);
    else if (w.kind === 'delete-port') refs.ports.push(w.port);
    else if (w.kind === 'delete-p2p-link') refs.p2pLinks.push(w.id);
    else if (w.kind === 'delete-partition') refs.partitions.push(w.name);
  }
  return refs;
}

/** Delete the records named, dependants first; what is already gone is fine. */
export function forget(store: Store, refs: RecordRefs): void {
  for (const id of refs.p2pLinks ?? []) store.links.delete(id);
  for (const name of refs.partitions ?? []) store.partitions.delete(name);
  for (const p of refs.ports ?? []) store.ports.delete(p.endpointId, p);
  for (const id of refs.endpoints ?? []) store.endpoints.delete(id);
  for (const id of refs.containers ?? []) store.containers.delete(id);
  for (const id of refs.networks ?? []) applyWrite(store, { kind: 'delete-network', id });
  for (const key of refs.settings ?? []) store.settings.delete(key);
}
