/**
 * The responder process's main loop (`nsnet dns-serve`): follow the state store, listen on the
 * gateways that need it, answer until SIGTERM, and keep its record (PID, start time, addresses)
 * current so nsnet can tell it is ours. Everything outside DNS — the store, the host, the record
 * file — comes in through ResponderEnv (src/ops/dns-responder.ts builds it), so src/dns does no
 * file or kernel I/O of its own.
 */
import type { ContainerRecord, Store } from '../store/index.js';
import { loadView, neededAddresses } from './load.js';
import { DnsServer } from './server.js';
import { buildView, type DnsView } from './view.js';

/** ROOT/dns/responder.json: written by the responder once it listens, read by nsnet. */
export interface ResponderRecord {
  pid: number;
  start: string;
  addresses: string[];
  failures: Record<string, string>;
}

export interface ResponderEnv {
  store: Store;
  /** This process: its PID and start time (so nsnet never signals a reused PID). */
  self: { pid: number; start: string };
  /** Whether a container runs now (a stopped one's names answer NXDOMAIN, not a stale address). */
  running(c: ContainerRecord): boolean;
  /** The host's upstream resolvers, read again on every reload. */
  hostServers(): string[];
  readRecord(): ResponderRecord | undefined;
  /** Replace the record atomically. */
  writeRecord(r: ResponderRecord): void;
  removeRecord(): void;
}

/**
 * Re-read the whole store this often even when it did not change: liveness (a container that
 * stopped) is asked of the host, not the store.
 */
const FULL_RELOAD_MS = 2000;
/** With nothing to serve for this long, the responder exits by itself. */
const IDLE_EXIT_MS = 30_000;

/** `nsnet dns-serve`: serve until SIGTERM. */
export async function serve(env: ResponderEnv, log: (line: string) => void): Promise<void> {
  const { store, self } = env;
  let version = -1;
  let lastFull = 0;
  let view: DnsView = buildView([], [], []);
  /**
   * 'changed': re-read when the store changed or the liveness check is due; 'always': re-read now.
   * Every query asks ('changed'): PRAGMA data_version costs microseconds, and a container started
   * a moment ago must resolve at once — a throttled check answered NXDOMAIN for it.
   */
  const refresh = (mode: 'changed' | 'always'): void => {
    const now = Date.now();
    const v = store.dns.dataVersion();
    if (mode !== 'always' && v === version && now - lastFull < FULL_RELOAD_MS) return;
    try {
      view = loadView(store, env.running, env.hostServers());
      version = v;
      lastFull = now;
    } catch (err) {
      log(`reload: ${(err as Error).message}`);
    }
  };
  const server = new DnsServer({ view: () => (refresh('changed'), view), log });
  let idleSince = Date.now();
  let syncing = false;
  /**
   * A SIGHUP that arrives while a sync runs must not be lost: that sync may have read the store
   * before the network nsnet is waiting for was committed, and nsnet would wait in vain.
   */
  let again = false;
  const sync = async (): Promise<void> => {
    if (syncing) {
      again = true;
      return;
    }
    syncing = true;
    try {
      do {
        again = false;
        try {
          refresh('always');
          const want = neededAddresses(store);
          if (want.length > 0) idleSince = Date.now();
          const failures = await server.listenOn(want);
          env.writeRecord({ ...self, addresses: server.addresses(), failures });
        } catch (err) {
          log(`sync: ${(err as Error).message}`);
        }
      } while (again);
    } finally {
      syncing = false;
    }
  };
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    server.close();
    if (env.readRecord()?.pid === self.pid) env.removeRecord();
    store.close();
    process.exit(0);
  };
  // A bad packet or a failing socket must never take the responder down.
  process.on('uncaughtException', (err) => log(`uncaught: ${err.stack ?? err.message}`));
  process.on('unhandledRejection', (err) => log(`unhandled: ${String(err)}`));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => void sync());
  await sync();
  let lastAddresses = JSON.stringify(server.addresses());
  setInterval(() => {
    const want = JSON.stringify(neededAddresses(store));
    if (want !== lastAddresses || Object.keys(env.readRecord()?.failures ?? {}).length > 0) {
      void sync().then(() => (lastAddresses = JSON.stringify(server.addresses())));
    }
    if (want === '[]' && Date.now() - idleSince > IDLE_EXIT_MS) stop();
    // Replaced by another responder, or the record is gone (stopResponder removes it; so does
    // deleting the state root, and a responder must not outlive its state).
    if (env.readRecord()?.pid !== self.pid) stop();
  }, 1000);
  await new Promise<never>(() => {});
}
