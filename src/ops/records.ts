/**
 * Record changes as data. A decision lists the writes it needs; commit applies them in one
 * transaction with the journal entry, and the ONE forget list that failure handling and crash
 * recovery use is derived from these same writes (what a make inserted, what a removal deletes),
 * so the two can never disagree.
 */
import type { ContainerRecord, DnsConfig, EndpointRecord, NetworkRecord, PortRecord, Store } from '../store/index.js';
import { DRIVER_SETTING } from './firewall-choice.js';

export type RecordWrite =
  | { kind: 'insert-network'; record: NetworkRecord }
  | { kind: 'insert-container'; record: ContainerRecord }
  | { kind: 'insert-endpoint'; record: EndpointRecord }
  | { kind: 'insert-port'; record: PortRecord }
  | { kind: 'set-dns'; config: DnsConfig }
  | { kind: 'set-cursor'; networkId: string; cursor: number | null }
  | { kind: 'set-setting'; key: string; value: string }
  | { kind: 'update-container'; id: string; patch: Partial<ContainerRecord> }
  | { kind: 'delete-container'; id: string }
  | { kind: 'delete-network'; id: string }
  | { kind: 'delete-endpoint'; id: string }
  | { kind: 'delete-port'; port: PortRef };

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
    case 'set-dns':
      return store.dns.set(w.config);
    case 'set-cursor':
      return store.networks.setCursor(w.networkId, w.cursor);
    case 'set-setting':
      return store.settings.set(w.key, w.value);
    case 'update-container':
      return store.containers.update(w.id, w.patch);
    case 'delete-container':
      return store.containers.delete(w.id);
    case 'delete-endpoint':
      return store.endpoints.delete(w.id);
    case 'delete-port':
      return store.ports.delete(w.port.endpointId, w.port);
    case 'delete-network':
      store.networks.delete(w.id);
      // The driver record only guards existing networks against a mix of drivers.
      if (store.networks.list().length === 0) store.settings.delete(DRIVER_SETTING);
      return;
  }
}

/** What a make inserted: deleted again when it fails or is rolled back after a crash. */
export function insertedBy(writes: readonly RecordWrite[]): RecordRefs {
  const refs: Required<RecordRefs> = { containers: [], networks: [], endpoints: [], ports: [] };
  for (const w of writes) {
    if (w.kind === 'insert-container') refs.containers.push(w.record.id);
    else if (w.kind === 'insert-network') refs.networks.push(w.record.id);
    else if (w.kind === 'insert-endpoint') refs.endpoints.push(w.record.id);
    else if (w.kind === 'insert-port') refs.ports.push(portRef(w.record));
  }
  return refs;
}

/** What a removal deletes: deleted when it finishes, in process or by crash recovery. */
export function deletedBy(writes: readonly RecordWrite[]): RecordRefs {
  const refs: Required<RecordRefs> = { containers: [], networks: [], endpoints: [], ports: [] };
  for (const w of writes) {
    if (w.kind === 'delete-container') refs.containers.push(w.id);
    else if (w.kind === 'delete-network') refs.networks.push(w.id);
    else if (w.kind === 'delete-endpoint') refs.endpoints.push(w.id);
    else if (w.kind === 'delete-port') refs.ports.push(w.port);
  }
  return refs;
}

/** Delete the records named, dependants first; what is already gone is fine. */
export function forget(store: Store, refs: RecordRefs): void {
  for (const p of refs.ports ?? []) store.ports.delete(p.endpointId, p);
  for (const id of refs.endpoints ?? []) store.endpoints.delete(id);
  for (const id of refs.containers ?? []) store.containers.delete(id);
  for (const id of refs.networks ?? []) applyWrite(store, { kind: 'delete-network', id });
}
