/**
 * The lifecycle of the one DNS responder per host (src/dns/serve.ts): started by the command that
 * needs it, restarted by the next command if it died, stopped when no network needs it any more.
 *
 * The responder is `nsnet dns-serve --root ROOT`, a detached process in the host's network
 * namespace. It writes ROOT/dns/responder.json (its PID, start time and the addresses it listens
 * on) once it listens; nsnet signals a PID only when its start time still matches that record.
 */
import fs from 'node:fs';
import path from 'node:path';
import { neededAddresses } from '../dns/load.js';
import type { ResponderEnv, ResponderRecord } from '../dns/serve.js';
import type { Host } from '../host/port.js';
import { openStore, type ContainerRecord } from '../store/index.js';
import type { Context } from './context.js';
import { etcDir, hostServers, readText, writeContainerFiles } from './dns-files.js';
import { liveState } from './liveness.js';

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
export function responder(host: Host, root: string): ResponderRecord | undefined {
  const r = readRecord(root);
  return r !== undefined && host.isAlive(r.pid, r.start) ? r : undefined;
}

function waitFor(host: Host, pred: () => boolean, ms: number): boolean {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    host.sleep(5);
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
  const { host, root } = ctx;
  const needed = neededAddresses(ctx.store);
  let current = responder(host, root);
  if (needed.length === 0) {
    if (current !== undefined) stopResponder(host, root);
    return [];
  }
  const covers = (r: ResponderRecord | undefined): boolean => r !== undefined && needed.every((a) => r.addresses.includes(a) || a in r.failures);
  if (current !== undefined) {
    if (covers(current)) return problems(current, needed);
    host.sendSignal(current.pid, current.start, 'SIGHUP');
    waitFor(host, () => covers(responder(host, root)), 2000);
    current = responder(host, root);
    return current === undefined ? ['the DNS responder exited'] : problems(current, needed);
  }
  fs.mkdirSync(dnsDir(root), { recursive: true, mode: 0o700 });
  const pid = host.spawnDaemon(host.nsnetCli(), ['dns-serve', '--root', root], path.join(dnsDir(root), 'responder.log'));
  const started = waitFor(
    host,
    () => {
      const r = readRecord(root);
      return (r !== undefined && r.pid === pid && covers(r)) || host.startTime(pid) === undefined;
    },
    5000,
  );
  const r = readRecord(root);
  if (!started || r === undefined || r.pid !== pid) {
    const log = readText(path.join(dnsDir(root), 'responder.log')).trim().split('\n').slice(-2).join('; ');
    return [`the DNS responder did not start${log === '' ? '' : `: ${log}`}`];
  }
  return problems(r, needed);
}

function problems(r: ResponderRecord, needed: readonly string[]): string[] {
  return needed.filter((a) => a in r.failures).map((a) => `the DNS responder cannot listen on ${a.includes(':') ? `[${a}]` : a}:53: ${r.failures[a]}`);
}

/** Stop our responder (SIGTERM, then SIGKILL); true when one was running. */
export function stopResponder(host: Host, root: string): boolean {
  const r = responder(host, root);
  if (r !== undefined) host.stopProcess(r.pid, r.start, 2000);
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
  const current = responder(ctx.host, ctx.root);
  const fine = needed.length === 0 ? current === undefined : current !== undefined && needed.every((a) => current.addresses.includes(a) || a in current.failures);
  if (fine) return [];
  return ctx.locked(() => ensureResponder(ctx));
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
    ctx.warn(`write ${etcDir(c.name)}: ${(err as Error).message}`);
  }
  try {
    for (const p of ensureResponder(ctx)) ctx.warn(p);
  } catch (err) {
    ctx.warn(`DNS responder: ${(err as Error).message}`);
  }
  return written;
}

/**
 * What the responder process (`nsnet dns-serve`) needs from outside src/dns: the store, whether a
 * container runs (asked of the host), the host's upstreams, and its record file, written
 * atomically (a temporary file renamed over it) so nsnet never reads half a record.
 */
export function responderEnv(host: Host, root: string): ResponderEnv {
  return {
    store: openStore(root),
    self: { pid: process.pid, start: host.startTime(process.pid) ?? '' },
    running: (c) => liveState(host, c).status === 'running',
    hostServers,
    readRecord: () => readRecord(root),
    writeRecord: (r) => {
      const tmp = `${recordFile(root)}.${process.pid}`;
      fs.mkdirSync(dnsDir(root), { recursive: true, mode: 0o700 });
      fs.writeFileSync(tmp, JSON.stringify(r) + '\n');
      fs.renameSync(tmp, recordFile(root));
    },
    removeRecord: () => fs.rmSync(recordFile(root), { force: true }),
  };
}
