/**
 * Name resolution between containers: each container's /etc/resolv.conf and /etc/hosts (under
 * /etc/netns/NAME, where `ip netns exec` finds them), and the lifecycle of the one DNS responder
 * per host (src/dns): started by the command that needs it, restarted by the next command if it
 * died, stopped when no network needs it any more.
 *
 * The responder is `nsnet dns-serve --root ROOT`, a detached process in the host's network
 * namespace. It writes ROOT/dns/responder.json (its PID, start time and the addresses it listens
 * on) once it listens; nsnet signals a PID only when its start time still matches that record.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NsnetError } from '../core/errors.js';
import { parseIPv4 } from '../core/ipv4.js';
import * as validate from '../core/validate.js';
import { DnsServer } from '../dns/server.js';
import { ipv4Servers, isLoopback, parseResolvConf, renderHosts, renderResolvConf, resolvHeader, RESOLVED_STUB, RESOLVED_UPSTREAM_FILE } from '../dns/files.js';
import { buildView, type DnsView, type ViewContainer, type ViewNetwork } from '../dns/view.js';
import { nsnetCli, spawnNodeDaemon } from '../kernel/daemon.js';
import { sleepSync } from '../kernel/libc.js';
import { isAlive, readStartTime, sendSignal, stopProcess } from '../kernel/process.js';
import { openStore, type ContainerRecord, type DnsConfig, type NetworkRecord, type Store } from '../store/index.js';
import type { Context } from './context.js';
import { isCniContainer } from './specs.js';
import { netnsExists } from '../kernel/netns.js';

/** `-o nsnet.dns=false` turns the responder off for a network (its containers get the upstreams directly). */
export const DNS_OPTION = 'nsnet.dns';
/** `-o nsnet.dns.servers=IP[,IP]`: upstreams for the network's containers that have no --dns. */
export const DNS_SERVERS_OPTION = 'nsnet.dns.servers';
export const ETC_NETNS = '/etc/netns';

export interface DnsInput {
  servers: string[];
  search: string[];
  options: string[];
  extraHosts: Array<[string, string]>;
  aliases: string[];
}

const DOMAIN = /^(?=.{1,253}$)([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)*\.?$/;

function domain(value: string, what: string): string {
  if (!DOMAIN.test(value)) throw new NsnetError('INVALID_VALUE', `invalid ${what} "${value}": expected a DNS name such as db or db.example`);
  return value;
}

/** Validate run's --dns, --dns-search, --dns-option, --add-host NAME:IP, --network-alias. */
export function dnsInput(raw: { dns?: string[]; dnsSearch?: string[]; dnsOption?: string[]; addHost?: string[]; alias?: string[] }): DnsInput {
  return {
    servers: (raw.dns ?? []).map((s) => parseIPv4(s, '--dns server')),
    search: (raw.dnsSearch ?? []).map((s) => domain(s, '--dns-search domain')),
    options: (raw.dnsOption ?? []).map((o) => {
      if (!/^[a-z][a-z0-9-]*(:\d+)?$/.test(o)) throw new NsnetError('INVALID_VALUE', `invalid --dns-option "${o}": expected e.g. ndots:2 or rotate`);
      return o;
    }),
    extraHosts: (raw.addHost ?? []).map((h): [string, string] => {
      const i = h.lastIndexOf(':');
      if (i <= 0) throw new NsnetError('INVALID_VALUE', `invalid --add-host "${h}": expected NAME:IP`);
      return [domain(h.slice(0, i), '--add-host name'), parseIPv4(h.slice(i + 1), '--add-host address')];
    }),
    aliases: (raw.alias ?? []).map((a) => domain(a, '--network-alias')),
  };
}

/** For network create: the DNS options' values. */
export function validateNetworkDnsOptions(options: Readonly<Record<string, string>>): void {
  const servers = options[DNS_SERVERS_OPTION];
  if (servers !== undefined) for (const s of servers.split(',')) parseIPv4(s.trim(), `${DNS_SERVERS_OPTION} server`);
}

export function dnsEnabled(n: NetworkRecord): boolean {
  return n.options[DNS_OPTION] !== 'false';
}

function networkServers(n: NetworkRecord): string[] {
  const v = n.options[DNS_SERVERS_OPTION];
  return v === undefined || v === '' ? [] : v.split(',').map((s) => s.trim());
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The host's upstream resolvers; systemd-resolved's stub is replaced by the servers behind it. */
export function hostServers(): string[] {
  const conf = parseResolvConf(readText('/etc/resolv.conf'));
  const servers = ipv4Servers(conf);
  if (servers.length > 0 && servers.every((s) => s === RESOLVED_STUB)) return ipv4Servers(parseResolvConf(readText(RESOLVED_UPSTREAM_FILE)));
  return servers;
}

// -----------------------------------------------------------------------------------------------
// Per-container files

function etcDir(name: string): string {
  validate.containerName(name); // never a path outside /etc/netns
  return path.join(ETC_NETNS, name);
}

/**
 * Write /etc/netns/NAME/{resolv.conf,hosts}. `ip netns exec NAME` bind-mounts them over /etc/ for
 * what it runs, which is how run starts the container (see kernel/process.ts). A container with
 * --rootfs gets none: its /etc is the root filesystem's own. Returns whether the files were written.
 */
export function writeContainerFiles(store: Store, c: ContainerRecord): boolean {
  if (c.rootfs !== null) return false;
  const eps = store.endpoints.forContainer(c.id);
  const first = eps[0] === undefined ? undefined : store.networks.get(eps[0].networkId);
  const cfg = store.dns.get(c.id);
  // The first network the responder serves; on connect/disconnect the files are rewritten in
  // place (same inode, so the bind mounts inside the container see the new text).
  const served = eps.map((e) => store.networks.get(e.networkId)).find((n) => n !== undefined && dnsEnabled(n));
  let nameservers: string[];
  if (served !== undefined) nameservers = [served.gateway];
  else {
    const own = cfg?.servers ?? [];
    nameservers = own.length > 0 ? own : first !== undefined && networkServers(first).length > 0 ? networkServers(first) : hostServers().filter((s) => !isLoopback(s));
  }
  const dir = etcDir(c.name);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const resolv = renderResolvConf(c.name, { nameservers, search: cfg?.search ?? [], options: cfg?.options ?? [] }, path.dirname(store.path));
  const hosts = renderHosts({ names: [c.hostname, c.name], ips: eps.map((e) => e.ip) }, cfg?.extraHosts ?? []);
  fs.writeFileSync(path.join(dir, 'resolv.conf'), resolv, { mode: 0o644 });
  fs.writeFileSync(path.join(dir, 'hosts'), hosts, { mode: 0o644 });
  return true;
}

/** After network connect/disconnect: rewrite a running container's files (its nameserver and addresses may have changed). */
export function refreshContainerFiles(ctx: Context, containerId: string): void {
  if (ctx.dryRun) return;
  const c = ctx.store.containers.get(containerId);
  if (c === undefined || !fs.existsSync(path.join(etcDir(c.name), 'resolv.conf'))) return;
  try {
    writeContainerFiles(ctx.store, c);
  } catch (err) {
    warn(`rewrite ${etcDir(c.name)}: ${(err as Error).message}`);
  }
}

/**
 * Every /etc/netns/NAME whose resolv.conf says nsnet wrote it for this state root (system reset:
 * also what a crashed run left behind). Directories of other roots and of other tools stay.
 */
export function removeAllContainerFiles(root: string): string[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(ETC_NETNS);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const first = readText(path.join(ETC_NETNS, name, 'resolv.conf')).split('\n')[0];
    if (first === resolvHeader(name, root)) {
      removeContainerFiles(name);
      removed.push(name);
    }
  }
  return removed;
}

export function removeContainerFiles(name: string): void {
  const dir = etcDir(name);
  for (const f of ['resolv.conf', 'hosts']) fs.rmSync(path.join(dir, f), { force: true });
  try {
    fs.rmdirSync(dir); // only when empty: what others put there stays
  } catch {
    /* absent or not empty */
  }
}

// -----------------------------------------------------------------------------------------------
// The view the responder serves

export function loadView(store: Store): DnsView {
  const networks: ViewNetwork[] = store.networks
    .list()
    .filter(dnsEnabled)
    .map((n) => ({ id: n.id, name: n.name, gateway: n.gateway, subnet: n.subnet, servers: networkServers(n) }));
  const configs = new Map<string, DnsConfig>(store.dns.list().map((d) => [d.containerId, d]));
  const all = store.containers.list();
  // A runtime's container (CNI) has no process of nsnet's: it is there while its namespace is.
  const alive = (c: ContainerRecord): boolean =>
    isCniContainer(c) ? netnsExists(c.netns) : c.status === 'running' && c.pid !== null && c.pidStart !== null && isAlive(c.pid, c.pidStart);
  const live = new Set(all.filter(alive).map((c) => c.id));
  const running = (c: ContainerRecord): boolean => live.has(c.id);
  const stopped = all.filter((c) => !running(c)).flatMap((c) => [c.name, c.hostname, ...(configs.get(c.id)?.aliases ?? [])]);
  const byContainer = new Map<string, Array<{ networkId: string; ip: string }>>();
  for (const a of store.dns.addresses()) {
    const list = byContainer.get(a.containerId) ?? [];
    list.push({ networkId: a.networkId, ip: a.ip });
    byContainer.set(a.containerId, list);
  }
  const containers: ViewContainer[] = all
    .filter(running)
    .map((c) => ({
      id: c.id,
      name: c.name,
      hostname: c.hostname,
      aliases: configs.get(c.id)?.aliases ?? [],
      servers: configs.get(c.id)?.servers ?? [],
      endpoints: byContainer.get(c.id) ?? [],
    }));
  return buildView(networks, containers, hostServers(), stopped);
}

/** Gateways of the networks that need the responder: DNS on, at least one container attached. */
export function neededAddresses(store: Store): string[] {
  return store.networks
    .list()
    .filter((n) => dnsEnabled(n) && store.networks.usedIps(n.id).size > 0)
    .map((n) => n.gateway)
    .sort();
}

// -----------------------------------------------------------------------------------------------
// Responder lifecycle

export interface ResponderRecord {
  pid: number;
  start: string;
  addresses: string[];
  failures: Record<string, string>;
}

const dnsDir = (root: string): string => path.join(root, 'dns');
const recordFile = (root: string): string => path.join(dnsDir(root), 'responder.json');

function readRecord(root: string): ResponderRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(recordFile(root), 'utf8')) as ResponderRecord;
  } catch {
    return undefined;
  }
}

/** The responder's record when that process still runs (same PID and start time). */
export function responder(root: string): ResponderRecord | undefined {
  const r = readRecord(root);
  return r !== undefined && isAlive(r.pid, r.start) ? r : undefined;
}

function waitFor(pred: () => boolean, ms: number): boolean {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    sleepSync(5);
  }
  return pred();
}

/**
 * Under the lock: make the responder match the store. Started when a network needs it and it is
 * not running, told to re-read (SIGHUP) when it does not yet listen on every needed gateway,
 * stopped when nothing needs it. Gives problems (an address it could not listen on, a start that
 * failed) for the caller to report; DNS trouble never fails the command that wired a container.
 */
export function ensureResponder(ctx: Context): string[] {
  const needed = neededAddresses(ctx.store);
  let current = responder(ctx.root);
  if (needed.length === 0) {
    if (current !== undefined) stopResponder(ctx.root);
    return [];
  }
  const covers = (r: ResponderRecord | undefined): boolean => r !== undefined && needed.every((a) => r.addresses.includes(a) || a in r.failures);
  if (current !== undefined) {
    if (covers(current)) return problems(current, needed);
    sendSignal(current.pid, current.start, 'SIGHUP');
    waitFor(() => covers(responder(ctx.root)), 2000);
    current = responder(ctx.root);
    return current === undefined ? ['the DNS responder exited'] : problems(current, needed);
  }
  fs.mkdirSync(dnsDir(ctx.root), { recursive: true, mode: 0o700 });
  const pid = spawnNodeDaemon(nsnetCli(), ['dns-serve', '--root', ctx.root], path.join(dnsDir(ctx.root), 'responder.log'));
  const started = waitFor(() => {
    const r = readRecord(ctx.root);
    return (r !== undefined && r.pid === pid && covers(r)) || readStartTime(pid) === undefined;
  }, 5000);
  const r = readRecord(ctx.root);
  if (!started || r === undefined || r.pid !== pid) {
    const log = readText(path.join(dnsDir(ctx.root), 'responder.log')).trim().split('\n').slice(-2).join('; ');
    return [`the DNS responder did not start${log === '' ? '' : `: ${log}`}`];
  }
  return problems(r, needed);
}

function problems(r: ResponderRecord, needed: readonly string[]): string[] {
  return needed.filter((a) => a in r.failures).map((a) => `the DNS responder cannot listen on ${a}:53: ${r.failures[a]}`);
}

/** Stop our responder (SIGTERM, then SIGKILL); true when one was running. */
export function stopResponder(root: string): boolean {
  const r = responder(root);
  if (r !== undefined) stopProcess(r.pid, r.start, 2000);
  fs.rmSync(recordFile(root), { force: true });
  return r !== undefined;
}

/**
 * After any command (cheap when nothing is to be done): restart a responder that died, stop one
 * nothing needs. Takes the lock only when it has something to do.
 */
export function reconcileResponder(ctx: Context): string[] {
  if (ctx.dryRun || process.getuid?.() !== 0) return [];
  const needed = neededAddresses(ctx.store);
  const current = responder(ctx.root);
  const fine = needed.length === 0 ? current === undefined : current !== undefined && needed.every((a) => current.addresses.includes(a) || a in current.failures);
  if (fine) return [];
  return ctx.locked(() => ensureResponder(ctx));
}

// -----------------------------------------------------------------------------------------------
// The responder process

/** Re-read the store at most this often (and only when it changed, or the liveness check is due). */
const CHECK_MS = 200;
const FULL_RELOAD_MS = 2000;
/** With nothing to serve for this long, the responder exits by itself. */
const IDLE_EXIT_MS = 30_000;

/** `nsnet dns-serve`: serve until SIGTERM. */
export async function serve(root: string, log: (line: string) => void): Promise<void> {
  const store = openStore(root);
  const self = { pid: process.pid, start: readStartTime(process.pid) ?? '' };
  let version = -1;
  let lastCheck = 0;
  let lastFull = 0;
  let view: DnsView = buildView([], [], []);
  const refresh = (force: boolean): void => {
    const now = Date.now();
    if (!force && now - lastCheck < CHECK_MS) return;
    lastCheck = now;
    const v = store.dns.dataVersion();
    if (!force && v === version && now - lastFull < FULL_RELOAD_MS) return;
    try {
      view = loadView(store);
      version = v;
      lastFull = now;
    } catch (err) {
      log(`reload: ${(err as Error).message}`);
    }
  };
  const server = new DnsServer({ view: () => (refresh(false), view), log });
  let idleSince = Date.now();
  let syncing = false;
  const sync = async (): Promise<void> => {
    if (syncing) return;
    syncing = true;
    try {
      refresh(true);
      const want = neededAddresses(store);
      if (want.length > 0) idleSince = Date.now();
      const failures = await server.listenOn(want);
      const rec: ResponderRecord = { ...self, addresses: server.addresses(), failures };
      const tmp = `${recordFile(root)}.${process.pid}`;
      fs.mkdirSync(dnsDir(root), { recursive: true, mode: 0o700 });
      fs.writeFileSync(tmp, JSON.stringify(rec) + '\n');
      fs.renameSync(tmp, recordFile(root));
    } catch (err) {
      log(`sync: ${(err as Error).message}`);
    } finally {
      syncing = false;
    }
  };
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    server.close();
    const r = readRecord(root);
    if (r !== undefined && r.pid === self.pid) fs.rmSync(recordFile(root), { force: true });
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
    if (want !== lastAddresses || Object.keys(readRecord(root)?.failures ?? {}).length > 0) {
      void sync().then(() => (lastAddresses = JSON.stringify(server.addresses())));
    }
    if (want === '[]' && Date.now() - idleSince > IDLE_EXIT_MS) stop();
    // Replaced by another responder, or the record is gone (stopResponder removes it; so does
    // deleting the state root, and a responder must not outlive its state).
    if (readRecord(root)?.pid !== self.pid) stop();
  }, 1000);
  await new Promise<never>(() => {});
}

function warn(line: string): void {
  process.stderr.write(`nsnet: warning: ${line}\n`);
}

/**
 * For run and start, under the lock, before the process starts: the container's resolv.conf and
 * hosts, and a responder listening on its networks' gateways. Returns whether the files exist
 * (then the process is started through `ip netns exec`, which bind-mounts them). DNS trouble is
 * reported as a warning and never stops the container from starting.
 */
export function prepareContainerDns(ctx: Context, c: ContainerRecord): boolean {
  if (ctx.dryRun) return false;
  let written = false;
  try {
    written = writeContainerFiles(ctx.store, c);
  } catch (err) {
    warn(`write ${etcDir(c.name)}: ${(err as Error).message}`);
  }
  try {
    for (const p of ensureResponder(ctx)) warn(p);
  } catch (err) {
    warn(`DNS responder: ${(err as Error).message}`);
  }
  return written;
}
