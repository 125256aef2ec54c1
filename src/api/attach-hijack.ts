/**
 * Docker's hijacked connection, shared by exec start and container attach. The client asks with
 * `Connection: Upgrade` and `Upgrade: tcp`; the answer is `101 UPGRADED` and from then on the
 * socket carries the process's streams both ways: the client's bytes are its stdin (a half-close
 * is stdin's end), the server's are its output — raw with a terminal, in stdcopy frames without.
 * A client that does not ask to upgrade (old ones) gets `200 OK` and the same stream, then the
 * connection closes (it could not carry a next request after a raw stream).
 *
 * node:http hands an upgraded request over before reading its body: the JSON body (exec start's
 * {"Detach", "Tty"}) is the first Content-Length bytes of `head`, and whatever follows is stdin.
 */
import type net from 'node:net';
import type { ApiRequest } from './router.js';
import { ApiError } from './errors.js';
import { parseJson } from './server.js';

export const RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

/** Whether the client asked for Docker's upgrade (docker CLI, docker-py, dockerode all do). */
export function wantsUpgrade(req: ApiRequest): boolean {
  const connection = String(req.headers.connection ?? '').toLowerCase();
  return connection.split(',').some((t) => t.trim() === 'upgrade') && req.headers.upgrade !== undefined;
}

/**
 * The request's JSON body and the bytes after it. With an upgrade the body is read from head and
 * the socket (node:http does not); without one node:http has parsed it and req.json() reads it.
 */
export async function hijackBody<T>(req: ApiRequest, socket: net.Socket, head: Buffer, limit = 1 << 20): Promise<{ body: T; rest: Buffer }> {
  if (!wantsUpgrade(req)) return { body: await req.json<T>(), rest: Buffer.alloc(0) };
  const length = Number(req.headers['content-length'] ?? 0);
  if (!Number.isSafeInteger(length) || length < 0 || length > limit) throw new ApiError(413, `request body of ${String(req.headers['content-length'])} bytes is larger than the limit of ${limit} bytes`);
  let got = head;
  while (got.length < length) {
    const chunk = await nextChunk(socket);
    if (chunk === undefined) throw new ApiError(400, `the request body ended after ${got.length} of ${length} bytes`);
    got = Buffer.concat([got, chunk]);
  }
  return { body: parseJson<T>(got.subarray(0, length)), rest: got.subarray(length) };
}

function nextChunk(socket: net.Socket): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const done = (chunk?: Buffer): void => {
      socket.off('data', done);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      resolve(chunk);
    };
    const onEnd = (): void => done(undefined);
    socket.on('data', done);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.resume();
  });
}

/** The head of the hijacked answer: 101 for an upgrade, else 200 and a stream that ends with the connection. */
export function answerHijack(req: ApiRequest, socket: net.Socket, contentType: string, headers: Readonly<Record<string, string>> = {}): void {
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.write(
    wantsUpgrade(req)
      ? `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n${extra}\r\n`
      : `HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\nConnection: close\r\n${extra}\r\n`,
  );
}

/** A plain answer on a hijack route that does not stream (exec start with Detach): the connection closes after it. */
export function answerPlain(socket: net.Socket, status: number, headers: Readonly<Record<string, string>> = {}): void {
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(`HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'No Content'}\r\n${extra}Content-Length: 0\r\nConnection: close\r\n\r\n`);
}

/**
 * The client's bytes as stdin: `rest` first (what came with the request), then the socket's; the
 * client's half-close calls onEnd (stdin closed: `docker exec -i ... < file` ends there).
 */
export function pipeClientInput(socket: net.Socket, rest: Buffer, onData: (chunk: Buffer) => void, onEnd: () => void): void {
  if (rest.length > 0) onData(rest);
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.resume();
}
