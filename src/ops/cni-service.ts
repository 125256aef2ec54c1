/**
 * The CNI side of the nsnet service, and where the service of a state root and network
 * namespace lives. A CNI plugin is a new process per call, and Node.js alone takes longer to
 * start than the reference bridge plugin takes to finish an ADD; so the executable runtimes
 * call is a small C client (native/nsnet-cni.c) that hands the invocation to the nsnet service
 * over a Unix socket and relays the answer, the same service that serves the CLI client
 * (native/nsnet-client.c, src/cli/service.ts). It answers with the same function as the
 * in-process plugin (handleCni).
 *
 * One service per state root and network namespace (a plugin acts in the namespace it is
 * called in): its socket is ROOT/service/net-INODE.sock, INODE being the namespace's inode
 * number, its record (pid and start time) net-INODE.pid beside it, its log service.log. When no
 * service answers, the client runs Node in-process, which starts the service for the next call.
 *
 * CNI wire format (one request per connection): NUL-terminated `KEY=VALUE` entries (the CNI_*
 * variables, and `@caller=NAME`), an empty entry, then the network configuration until the
 * client shuts its side down. The reply: the plugin's exit code in decimal, a newline, then
 * its stdout.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Host } from '../host/port.js';
import { handleCni, type CniCall } from './cni-plugin.js';
import type { Context } from './context.js';

export function serviceDir(root: string): string {
  return path.join(root, 'service');
}

/** The network namespace this process is in, by inode (what the C clients compute too). */
export function ownNetnsInode(): number {
  return fs.statSync('/proc/self/ns/net').ino;
}

export function socketPath(root: string, inode = ownNetnsInode()): string {
  return path.join(serviceDir(root), `net-${inode}.sock`);
}

export function serviceLogPath(root: string): string {
  return path.join(serviceDir(root), 'service.log');
}

export interface ServiceRecord {
  pid: number;
  start: string;
  socket: string;
}

export const recordPath = (socket: string): string => socket.replace(/\.sock$/, '.pid');

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

/** One CNI call in the service: the same answer as the in-process plugin, and a line in the service's log. */
export function answerCni(ctx: Context, call: CniCall, log: (line: string) => void): { exitCode: number; stdout: string } {
  const started = process.hrtime.bigint();
  ctx.forgetFirewallChoice();
  const reply = handleCni(ctx, call);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  log(`${call.env['CNI_COMMAND'] ?? '?'} ${call.env['CNI_CONTAINERID'] ?? ''} ${call.env['CNI_IFNAME'] ?? ''} → ${reply.exitCode} in ${ms.toFixed(1)} ms`);
  return reply;
}

export function readRecord(file: string): ServiceRecord | undefined {
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

/** Whether the environment turns the service off (NSNET_SERVICE=off; NSNET_CNI_SERVICE=off for CNI calls). */
export function serviceTurnedOff(env: NodeJS.ProcessEnv, cni: boolean): boolean {
  return env['NSNET_SERVICE'] === 'off' || (cni && env['NSNET_CNI_SERVICE'] === 'off');
}

/** Start the service of this root and namespace unless one runs (the caller checked it is wanted). */
export function startServiceIfNeeded(host: Host, root: string): void {
  const socket = socketPath(root);
  const r = readRecord(recordPath(socket));
  if (r !== undefined && host.isAlive(r.pid, r.start)) return;
  fs.mkdirSync(serviceDir(root), { recursive: true, mode: 0o700 });
  host.spawnDaemon(host.nsnetCli(), ['service', '--root', root], serviceLogPath(root));
}

/** Stop every service of this root (system reset); returns how many were running. */
export function stopServices(host: Host, root: string): number {
  const running = runningServices(host, root).filter((r) => r.pid !== process.pid);
  for (const r of running) host.stopProcess(r.pid, r.start, 2000);
  fs.rmSync(serviceDir(root), { recursive: true, force: true });
  return running.length;
}
