/**
 * Containers the Docker API starts with Tty or OpenStdin, and the clients attached to them
 * (`docker run -it`, `docker run -i`, `docker attach`). The container runs under its monitor as
 * any detached container does (exit status, restarts, stop); only its stdio differs, put in place
 * by host programs before the launcher (src/kernel/attach-stdio.ts):
 *
 * - Tty: nsnet serve opens a pseudo-terminal and keeps its master while the container runs. What
 *   the container prints goes to every attached client, raw, and to the container's json-file log
 *   (so `docker logs` has it); what an attached client types goes in.
 * - OpenStdin without Tty: its stdin is a named pipe nsnet serve writes the clients' input to;
 *   with StdinOnce (docker run -i) the first client's end of input is the container's EOF. Output
 *   stays the monitor's (the log), which attach follows (routes-attach.ts).
 *
 * Limits, said in the README: the terminal and the stdin pipe live in the server process — when
 * nsnet serve ends, a Tty container's terminal hangs up (its shell gets SIGHUP) and an OpenStdin
 * container's stdin reaches EOF; a container restarted by its policy gets no new terminal.
 * Containers not started by the API (nsnet run -d, nsnet start) have /dev/null as stdin.
 */
import fs from 'node:fs';
import path from 'node:path';
import type net from 'node:net';
import type tty from 'node:tty';
import { fixedNano } from '../engine/log-lines.js';
import { openStdinFifo, pipedStdin, terminalStdio } from '../kernel/attach-stdio.js';
import { launchMonitored, type LaunchWrap } from '../kernel/monitor.js';
import { masterStream, openPty, openPtyIn, resizePty, type WindowSize } from '../kernel/pty.js';
import * as containers from '../ops/containers.js';
import { stateDirOf } from '../ops/container-state.js';
import type { Context } from '../ops/context.js';
import type { Host } from '../host/port.js';
import type { ContainerRecord } from '../store/index.js';

/** Docker's Config.Tty, OpenStdin and StdinOnce, kept beside the container by create. */
export interface AttachConfig {
  tty: boolean;
  openStdin: boolean;
  stdinOnce: boolean;
}

const CONFIG_FILE = 'attach.json';

/** Kept at create in the container's state directory (the record has no columns for them). */
export function rememberAttachConfig(root: string, c: ContainerRecord, body: unknown): void {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const cfg: AttachConfig = { tty: b['Tty'] === true, openStdin: b['OpenStdin'] === true, stdinOnce: b['StdinOnce'] === true };
  if (!cfg.tty && !cfg.openStdin) return;
  const dir = stateDirOf(root, c.id);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, CONFIG_FILE), `${JSON.stringify(cfg)}\n`, { mode: 0o600 });
}

export function attachConfigOf(root: string, c: ContainerRecord): AttachConfig {
  const own = c as { tty?: boolean | null; openStdin?: boolean | null; stdinOnce?: boolean | null };
  let kept: Partial<AttachConfig> = {};
  try {
    kept = JSON.parse(fs.readFileSync(path.join(stateDirOf(root, c.id), CONFIG_FILE), 'utf8')) as Partial<AttachConfig>;
  } catch {
    // none kept: a container made without Tty and OpenStdin, or not by the API
  }
  return { tty: own.tty ?? kept.tty === true, openStdin: own.openStdin ?? kept.openStdin === true, stdinOnce: own.stdinOnce ?? kept.stdinOnce === true };
}

/**
 * Inspect's Config with the container's Tty, OpenStdin and StdinOnce: `docker attach` sends
 * input only to a container whose Config.OpenStdin is true, and resizes only a Tty one.
 */
export function withAttachConfig(view: Record<string, unknown>, root: string, c: ContainerRecord): Record<string, unknown> {
  const cfg = attachConfigOf(root, c);
  if (!cfg.tty && !cfg.openStdin) return view;
  const config = (typeof view['Config'] === 'object' && view['Config'] !== null ? view['Config'] : {}) as Record<string, unknown>;
  return { ...view, Config: { ...config, Tty: cfg.tty, OpenStdin: cfg.openStdin, StdinOnce: cfg.stdinOnce } };
}

/** One attached client: its connection and the streams it asked for. */
export interface AttachedClient {
  socket: net.Socket;
  stdout: boolean;
  stderr: boolean;
}

/** A container's live stdio in this server. */
export interface ContainerStdio {
  id: string;
  config: AttachConfig;
  clients: Set<AttachedClient>;
  /** The terminal's size, asked for (docker run -it resizes right after start): applied when it opens. */
  size?: WindowSize | undefined;
  terminal?: tty.ReadStream | undefined;
  master?: number | undefined;
  stdin?: fs.WriteStream | undefined;
  /** Input that came before the container started (attach comes before start). */
  pending: Buffer[];
  inputEnded: boolean;
  /** Resolves when the terminal has closed (the container's processes all gone). */
  closed?: Promise<void> | undefined;
}

const live = new Map<string, ContainerStdio>();

/** The container's entry, made on first use (by an attach before the start, or by the start). */
export function stdioOf(id: string, config: AttachConfig): ContainerStdio {
  let entry = live.get(id);
  if (entry === undefined) {
    entry = { id, config, clients: new Set(), pending: [], inputEnded: false };
    live.set(id, entry);
  }
  return entry;
}

export function existingStdio(id: string): ContainerStdio | undefined {
  return live.get(id);
}

/**
 * The stdin pipe of a container's earlier run that nobody followed to its end (`run -di` without
 * an attach, then a start): closed, so input for the next run is held for it instead of going to
 * the old pipe. Clients waiting and input held stay. (A terminal goes by itself: its close ends
 * its entry.)
 */
export function dropStaleStdio(id: string): void {
  const entry = live.get(id);
  if (entry?.stdin === undefined) return;
  entry.stdin.destroy();
  entry.stdin = undefined;
  entry.inputEnded = false;
}

/** A client's input: to the terminal or the stdin pipe, held until the container starts. */
export function writeInput(entry: ContainerStdio, chunk: Buffer): void {
  const target = entry.terminal ?? entry.stdin;
  if (target === undefined) entry.pending.push(chunk);
  else if (!target.destroyed && target.writable) target.write(chunk);
}

/** A client's end of input: the container's EOF with StdinOnce (a terminal's input never ends so). */
export function endInput(entry: ContainerStdio): void {
  if (!entry.config.stdinOnce || entry.config.tty) return;
  entry.inputEnded = true;
  entry.stdin?.end();
}

/** POST /containers/{id}/resize: now, or when the terminal opens. */
export function resizeTerminal(entry: ContainerStdio, size: WindowSize): void {
  entry.size = size;
  if (entry.master !== undefined && entry.terminal?.destroyed === false) resizePty(entry.master, size);
}

/**
 * Docker's start for the API. A container with Tty or OpenStdin starts with the stdio this
 * server holds; every other one exactly as `nsnet start` starts it.
 */
export async function startContainer(ctx: Context, c: ContainerRecord): Promise<void> {
  const config = attachConfigOf(ctx.root, c);
  if (!config.tty && !config.openStdin) {
    await containers.start(ctx, [c.id]);
    return;
  }
  dropStaleStdio(c.id);
  const entry = stdioOf(c.id, config);
  const fifo = path.join(stateDirOf(ctx.root, c.id), 'stdin');
  if (!config.tty) fs.mkdirSync(path.dirname(fifo), { recursive: true, mode: 0o700 });
  // An image's container has a devpts of its own, mounted by the start's steps: its terminal is
  // made there, as Docker's is, once the launch is built (after the mounts), so `tty` in the
  // container names it. Any other container's comes from the host's devpts, made now.
  const ownDevpts = config.tty && c.imageLayers != null && c.rootfs !== null;
  let pty = config.tty && !ownDevpts ? openPty(entry.size) : undefined;
  const fifoFd = config.tty ? undefined : openStdinFifo(fifo);
  const wrap: LaunchWrap = !config.tty
    ? pipedStdin(fifo)
    : (launch) => {
        pty ??= openPtyIn(c.rootfs!, entry.size);
        return terminalStdio(pty.slavePath)(launch);
      };
  try {
    await withLaunch(ctx.host, wrap, () => containers.start(ctx, [c.id]));
  } catch (err) {
    if (pty !== undefined) fs.closeSync(pty.master); // the slave: below
    if (fifoFd !== undefined) fs.closeSync(fifoFd);
    throw err;
  } finally {
    // The container has opened the slave by now (or is gone): from here the master reads EIO
    // exactly when the container's last process holding it has ended.
    if (pty !== undefined) fs.closeSync(pty.slave);
  }
  if (pty !== undefined) {
    entry.master = pty.master;
    entry.terminal = masterStream(pty.master);
    entry.closed = relayTerminal(entry, entry.terminal, logPathOf(ctx, c));
  } else {
    entry.stdin = fs.createWriteStream('', { fd: fifoFd!, autoClose: true });
    entry.stdin.on('error', () => {});
  }
  for (const chunk of entry.pending.splice(0)) writeInput(entry, chunk);
  if (entry.inputEnded) entry.stdin?.end();
}

const logPathOf = (ctx: Context, c: ContainerRecord): string => ctx.store.containers.get(c.id)?.logPath ?? c.logPath;

/**
 * Run fn (the start) with the host's detached launch wrapped. The start runs alone (the API's
 * changes take turns), so the host's own launch is put back before anything else uses it.
 */
async function withLaunch(host: Host, wrap: LaunchWrap, fn: () => Promise<unknown>): Promise<void> {
  const mutable = host as { launchDetached: Host['launchDetached'] };
  const own = Object.getOwnPropertyDescriptor(host, 'launchDetached');
  // The fatal reporter: the process exits (70) right after it, if it could not leave a container's namespaces.
  mutable.launchDetached = (spec, logPath, monitor) => launchMonitored(spec, logPath, monitor, () => {}, wrap);
  try {
    await fn();
  } finally {
    if (own !== undefined) Object.defineProperty(host, 'launchDetached', own);
    else delete (host as { launchDetached?: unknown }).launchDetached;
  }
}

/** Json-file lines as Docker writes them, at most 16 KiB each; a partial line waits for its end (or the close). */
const LINE_MAX = 16 * 1024;

function relayTerminal(entry: ContainerStdio, terminal: tty.ReadStream, logPath: string): Promise<void> {
  let partial = '';
  const log = (text: string): void => {
    try {
      fs.appendFileSync(logPath, `${JSON.stringify({ log: text, stream: 'stdout', time: fixedNano(new Date().toISOString()) })}\n`);
    } catch {
      // a log that cannot be written (the container removed under it) does not stop the terminal
    }
  };
  terminal.on('data', (chunk: Buffer) => {
    for (const client of entry.clients) if (client.stdout && client.socket.writable) client.socket.write(chunk);
    partial += chunk.toString('utf8');
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0 || partial.length >= LINE_MAX) {
      const end = nl >= 0 ? nl + 1 : LINE_MAX;
      log(partial.slice(0, end));
      partial = partial.slice(end);
    }
  });
  return new Promise((resolve) => {
    terminal.once('close', () => {
      if (partial !== '') log(partial);
      for (const client of entry.clients) client.socket.end();
      entry.clients.clear();
      live.delete(entry.id);
      resolve();
    });
  });
}

/** The container is gone (rm): its stdio goes with it. */
export function forgetStdio(id: string): void {
  const entry = live.get(id);
  if (entry === undefined) return;
  entry.terminal?.destroy();
  entry.stdin?.destroy();
  for (const client of entry.clients) client.socket.end();
  live.delete(id);
}
