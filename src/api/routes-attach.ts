/**
 * POST /containers/{id}/attach (hijacked) and POST /containers/{id}/resize. The docker CLI
 * attaches before it starts a container it runs in the foreground (`docker run -it`, `docker run
 * -i`, and a plain `docker run` for its output), so an attach to a created container waits for
 * the start. Output comes from the container's terminal with Tty (attach-terminals.ts), else from
 * its log as the monitor writes it (followed, as `docker logs -f`); the stream ends when the
 * container stops. Input goes to the terminal or the stdin pipe of an OpenStdin container.
 * Docker's detach keys (ctrl-p ctrl-q) are not interpreted: a client detaches by closing.
 */
import type net from 'node:net';
import * as containers from '../ops/containers.js';
import { containerLogs } from '../ops/container-logs.js';
import type { Context } from '../ops/context.js';
import { liveState } from '../ops/liveness.js';
import type { ContainerRecord } from '../store/index.js';
import { answerHijack, hijackBody, MULTIPLEXED_STREAM, pipeClientInput, RAW_STREAM, wantsUpgrade } from './attach-hijack.js';
import { attachConfigOf, dropStaleStdio, endInput, existingStdio, forgetStdio, resizeTerminal, stdioOf, writeInput, type AttachConfig, type AttachedClient } from './attach-terminals.js';
import { queryBool } from './body.js';
import { badRequest } from './errors.js';
import { sizeFrom } from './routes-exec.js';
import type { ApiRequest, RouteTable } from './router.js';
import { frame, STDERR, STDOUT } from './stdcopy.js';

const POLL_MS = 50;

export function attachRoutes(r: RouteTable): void {
  r.hijack('POST', '/containers/{id}/attach', (req, socket, head) => attach(req, socket, head), { concurrent: true });
  r.route('POST', '/containers/{id}/resize', async (req, res) => {
    const ctx = req.context();
    const c = ctx.store.containers.resolve(req.params.id!);
    const config = attachConfigOf(ctx.root, c);
    const size = sizeFrom(req.query);
    if (config.tty) resizeTerminal(existingStdio(c.id) ?? stdioOf(c.id, config), size);
    res.empty(200);
  }, { concurrent: true });
}

async function attach(req: ApiRequest, socket: net.Socket, head: Buffer): Promise<void> {
  const ctx = req.context();
  const c = ctx.store.containers.resolve(req.params.id!);
  const q = req.query;
  const want = { stream: queryBool(q, 'stream'), logs: queryBool(q, 'logs'), stdin: queryBool(q, 'stdin'), stdout: queryBool(q, 'stdout'), stderr: queryBool(q, 'stderr') };
  if (!want.stdin && !want.stdout && !want.stderr) throw badRequest('Bad parameters: you must choose at least one stream');
  const { rest } = await hijackBody(req, socket, head);
  const config = attachConfigOf(ctx.root, c);
  const attachedAt = new Date().toISOString();
  answerHijack(req, socket, config.tty ? RAW_STREAM : MULTIPLEXED_STREAM);
  // From here the connection is a raw stream: a failure (the container removed under a follow)
  // can only end it — an HTTP error answer would arrive as output.
  try {
    await relay(req, ctx, c, config, want, socket, rest, attachedAt);
  } catch {
    // ended below
  }
  if (want.stream && !req.signal.aborted) await autoRemove(req, ctx, c);
  if (!socket.destroyed) socket.end();
}

/** How long an ended terminal waits for the monitor to record the container's exit before AutoRemove. */
const RECORD_WAIT_MS = 5000;

/**
 * Docker's AutoRemove (`docker run --rm`), for a container whose end an attached client saw: the
 * CLI waits for condition=removed. Only once the monitor has recorded the exit (the wait's exit
 * code comes from it). A detached `run -d --rm` container has no attached client: it stays
 * (README: a limit).
 */
async function autoRemove(req: ApiRequest, ctx: Context, c: ContainerRecord): Promise<void> {
  if (ctx.store.containers.get(c.id)?.autoRemove !== true) return;
  const deadline = Date.now() + RECORD_WAIT_MS;
  while (isRunning(ctx, c) && Date.now() < deadline) await sleep(POLL_MS);
  if (isRunning(ctx, c)) return;
  // POST /containers/{id}/wait polls every 50 ms and takes the exit code while the container is
  // there: it must see the exited container once before it goes.
  await sleep(3 * POLL_MS);
  try {
    await req.exclusive(() => {
      if (ctx.store.containers.get(c.id) !== undefined) containers.remove(ctx, [c.id], { force: true });
    });
  } catch {
    // another client removed it first, or it cannot go: docker rm says why
  }
  forgetStdio(c.id);
}

async function relay(
  req: ApiRequest,
  ctx: Context,
  c: ContainerRecord,
  config: AttachConfig,
  want: { stream: boolean; logs: boolean; stdin: boolean; stdout: boolean; stderr: boolean },
  socket: net.Socket,
  rest: Buffer,
  attachedAt: string,
): Promise<void> {
  const client: AttachedClient = { socket, stdout: want.stdout, stderr: want.stderr };
  if (!isRunning(ctx, c)) dropStaleStdio(c.id);
  if (want.logs) await sendLog(ctx, c, config, client, { tail: 'all' }, req.signal);
  if (!want.stream) return;

  if (want.stdin && config.openStdin && wantsUpgrade(req)) {
    const entry = stdioOf(c.id, config);
    pipeClientInput(socket, rest, (chunk) => writeInput(entry, chunk), () => endInput(entry));
  }
  if (config.tty) {
    const entry = stdioOf(c.id, config);
    entry.clients.add(client);
    socket.once('close', () => entry.clients.delete(client));
    // The terminal's close ends every client (attach-terminals.ts); a container that stops (or
    // goes) without this server's terminal ends its clients here.
    await untilEnded(ctx, c, req.signal, () => existingStdio(c.id) !== entry);
    entry.clients.delete(client);
    return;
  }
  await untilStarted(ctx, c, req.signal);
  if (status(ctx, c) !== undefined) await sendLog(ctx, c, config, client, { since: attachedAt, follow: true }, req.signal);
  if (!isRunning(ctx, c)) forgetStdio(c.id);
}

function status(ctx: Context, c: ContainerRecord): string | undefined {
  const now = ctx.store.containers.get(c.id);
  return now === undefined ? undefined : liveState(ctx.host, now).status;
}

const isRunning = (ctx: Context, c: ContainerRecord): boolean => status(ctx, c) === 'running';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Until the container runs or has started since the attach (an attach comes before the start: a
 * created container, or a stopped one `docker start -a` starts again; a short command may have
 * ended between two looks), is gone, or the client left.
 */
async function untilStarted(ctx: Context, c: ContainerRecord, signal: AbortSignal): Promise<void> {
  const startedBefore = ctx.store.containers.get(c.id)?.startedAt ?? null;
  while (!signal.aborted) {
    const now = ctx.store.containers.get(c.id);
    if (now === undefined || (now.startedAt ?? null) !== startedBefore || liveState(ctx.host, now).status === 'running') return;
    await sleep(POLL_MS);
  }
}

/** Until the container has run and stopped (or is gone), `done` holds, or the client left. */
async function untilEnded(ctx: Context, c: ContainerRecord, signal: AbortSignal, done: () => boolean): Promise<void> {
  let seenRunning = false;
  for (;;) {
    if (signal.aborted || done()) return;
    const s = status(ctx, c);
    if (s === undefined) return;
    if (s === 'running') seenRunning = true;
    else if (s !== 'created' && seenRunning) return;
    await sleep(POLL_MS);
  }
}

/** The log's lines to the client, raw with a terminal, framed without; with follow until the container stops. */
async function sendLog(
  ctx: Context,
  c: ContainerRecord,
  config: AttachConfig,
  client: AttachedClient,
  sel: { tail?: 'all'; since?: string; follow?: boolean },
  signal: AbortSignal,
): Promise<void> {
  for await (const batch of containerLogs(ctx, c.id, { follow: sel.follow === true, since: sel.since, until: undefined, tail: sel.tail ?? 'all' })) {
    for (const line of batch) {
      const wanted = line.stream === 'stderr' ? client.stderr : client.stdout;
      if (!wanted || !client.socket.writable) continue;
      client.socket.write(config.tty ? line.text : frame(line.stream === 'stderr' ? STDERR : STDOUT, line.text));
    }
    if (signal.aborted) return;
  }
}
