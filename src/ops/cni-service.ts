/**
 * The long-lived side of nsnet-cni. A CNI plugin is a new process per call, and Node.js alone
 * takes longer to start than the reference bridge plugin takes to finish an ADD; so the
 * executable runtimes call is a small C client (native/nsnet-cni.c) that hands the invocation
 * to this service over a Unix socket and relays the answer. The service keeps the store, the
 * netlink sockets and the libnftables context open between calls, and answers with the same
 * function as the in-process plugin (handleCni).
 *
 * One service per state root and network namespace (a plugin acts in the namespace it is
 * called in): its socket is ROOT/cni/net-INODE.sock, INODE being the namespace's inode number.
 * When no service answers, the client runs the Node plugin itself, which starts the service
 * for the next call. The service exits after a quiet period (NSNET_CNI_IDLE_MS, default 10
 * minutes), on SIGTERM, or when `nsnet system reset` stops it.
 *
 * Wire format (one request per connection): NUL-terminated `KEY=VALUE` entries (the CNI_*
 * variables, and `@caller=NAME`), an empty entry, then the network configuration until the
 * client shuts its side down. The reply: the plugin's exit code in decimal, a newline, then
 * its stdout.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Host, HostLock } from '../host/port.js';
import { handleCni, type CniCall } from './cni-plugin.js';
import type { Context } from './context.js';

const DEFAULT_IDLE_MS = 10 * 60_000;

export function serviceDir(root: string): string {
  return path.join(root, 'cni');
}

/** The network namespace this process is in, by inode (what the C client computes too). */
function ownNetnsInode(): number {
  return fs.statSync('/proc/self/ns/net').ino;
}

export function socketPath(root: string, inode = ownNetnsInode()): string {
  return path.join(serviceDir(root), `net-${inode}.sock`);
}

interface ServiceRecord {
  pid: number;
  start: string;
  socket: string;
}

const recordPath = (socket: string): string => socket.replace(/\.sock$/, '.pid');

/** Parse one request; malformed input is answered as a CNI decode error by handleCni. */
export function parseRequest(buf: Buffer): CniCall {
  const env: Record<string, string> = {};
  let caller: string | undefined;
  let pos = 0;
  for (;;) {
    const nul = buf.indexOf(0, pos);
    if (nul < 0) return { env, stdin: '', caller };
    const entry = buf.subarray(pos, nul).toString('utf8');
    pos = nul + 1;
    if (entry === '') break;
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const key = entry.slice(0, eq);
    const value = entry.slice(eq + 1);
    if (key === '@caller') caller = value;
    else if (key.startsWith('CNI_')) env[key] = value;
  }
  return { env, stdin: buf.subarray(pos).toString('utf8'), caller };
}

export function encodeRequest(call: CniCall): Buffer {
  const entries = Object.entries(call.env)
    .filter(([k, v]) => k.startsWith('CNI_') && v !== undefined)
    .map(([k, v]) => `${k}=${v}\0`);
  if (call.caller !== undefined) entries.push(`@caller=${call.caller}\0`);
  return Buffer.concat([Buffer.from(entries.join('') + '\0'), Buffer.from(call.stdin)]);
}

/** `nsnet cni-service`: serve until idle, SIGTERM or SIGINT. Another live service for the same socket wins. */
export async function serveCni(ctx: Context, log: (line: string) => void): Promise<void> {
  const { host, root } = ctx;
  const socket = socketPath(root);
  fs.mkdirSync(serviceDir(root), { recursive: true, mode: 0o700 });
  let lock: HostLock;
  try {
    lock = host.acquire(`${socket}.lock`, { timeoutMs: 0 });
  } catch {
    log(`another nsnet CNI service serves ${socket}`);
    return;
  }
  fs.rmSync(socket, { force: true });
  const idleMs = Number(process.env['NSNET_CNI_IDLE_MS'] ?? DEFAULT_IDLE_MS);
  // After an upgrade (a rebuilt nsnet), the old service answers the call at hand and leaves,
  // so the next call starts the new code.
  const codeFile = fileURLToPath(import.meta.url);
  const codeVersion = fs.statSync(codeFile).mtimeMs;
  const upgraded = (): boolean => fs.statSync(codeFile, { throwIfNoEntry: false })?.mtimeMs !== codeVersion;
  const server = net.createServer((conn) => {
    const chunks: Buffer[] = [];
    conn.on('data', (c: Buffer) => chunks.push(c));
    conn.on('error', () => conn.destroy());
    conn.on('end', () => {
      touch();
      const reply = answer(ctx, parseRequest(Buffer.concat(chunks)), log);
      conn.end(`${reply.exitCode}\n${reply.stdout}`);
      if (upgraded()) stop(`${codeFile} changed (nsnet was rebuilt or upgraded)`);
    });
  });
  let timer: NodeJS.Timeout | undefined;
  const stop = (why: string): void => {
    log(`stopping: ${why}`);
    server.close();
    fs.rmSync(socket, { force: true });
    fs.rmSync(recordPath(socket), { force: true });
    ctx.close();
    lock.release();
    if (timer !== undefined) clearTimeout(timer);
  };
  const touch = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => stop(`idle for ${idleMs} ms`), idleMs);
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve());
  });
  fs.chmodSync(socket, 0o600);
  const record: ServiceRecord = { pid: process.pid, start: host.startTime(process.pid) ?? '', socket };
  fs.writeFileSync(recordPath(socket), JSON.stringify(record), { mode: 0o600 });
  log(`serving ${socket}`);
  touch();
  await new Promise<void>((resolve) => {
    const onSignal = (sig: string): void => {
      stop(sig);
      resolve();
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
    server.once('close', () => resolve());
  });
}

function answer(ctx: Context, call: CniCall, log: (line: string) => void): { exitCode: number; stdout: string } {
  const started = process.hrtime.bigint();
  ctx.forgetFirewallChoice();
  const reply = handleCni(ctx, call);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  log(`${call.env['CNI_COMMAND'] ?? '?'} ${call.env['CNI_CONTAINERID'] ?? ''} ${call.env['CNI_IFNAME'] ?? ''} → ${reply.exitCode} in ${ms.toFixed(1)} ms`);
  return reply;
}

function readRecord(file: string): ServiceRecord | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(file, 'utf8')) as ServiceRecord;
    return typeof r.pid === 'number' && typeof r.start === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

/** The services of this root that are alive (any namespace). */
export function runningServices(host: Host, root: string): ServiceRecord[] {
  let names: string[];
  try {
    names = fs.readdirSync(serviceDir(root));
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.pid'))
    .map((n) => readRecord(path.join(serviceDir(root), n)))
    .filter((r): r is ServiceRecord => r !== undefined && host.isAlive(r.pid, r.start));
}

/** After an in-process plugin call: start the service of this namespace unless one runs (or it is turned off). */
export function startServiceIfNeeded(host: Host, root: string): void {
  if (process.env['NSNET_CNI_SERVICE'] === 'off') return;
  const socket = socketPath(root);
  const r = readRecord(recordPath(socket));
  if (r !== undefined && host.isAlive(r.pid, r.start)) return;
  fs.mkdirSync(serviceDir(root), { recursive: true, mode: 0o700 });
  host.spawnDaemon(host.nsnetCli(), ['cni-service', '--root', root], path.join(serviceDir(root), 'service.log'));
}

/** Stop every service of this root (system reset); returns how many were running. */
export function stopServices(host: Host, root: string): number {
  const running = runningServices(host, root);
  for (const r of running) host.stopProcess(r.pid, r.start, 2000);
  fs.rmSync(serviceDir(root), { recursive: true, force: true });
  return running.length;
}
