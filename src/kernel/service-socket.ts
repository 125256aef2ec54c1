/**
 * The nsnet service's Unix socket: one listener, two protocols told apart by their first bytes,
 * requests served one at a time in the order they arrived complete.
 *
 * - The CLI client (native/nsnet-client.c) starts with CLI_MAGIC, a 32-bit little-endian payload
 *   length and the payload (NUL-terminated key/value pairs, see src/cli/service.ts), with its
 *   stdin, stdout and stderr attached to the first bytes (SCM_RIGHTS). Then it waits; the rest
 *   of the conversation is the service's (src/cli/service.ts). A client that sent no descriptors
 *   (nsnet's before this one) gets an 'F' when its turn comes, and answers with one byte and
 *   the descriptors.
 *
 * Node reads a stream socket with read(2), which drops passed descriptors; so connections are
 * accepted paused, and the first bytes (at most the CLI header) are taken here with recvmsg(2),
 * descriptors and all, before Node reads the rest.
 * - nsnet-cni (native/nsnet-cni.c) sends its request (see src/ops/cni-service.ts) and shuts its
 *   side down; its requests never start with CLI_MAGIC's first byte.
 *
 * The socket is root's, mode 0600, in a directory of mode 0700; every connection's peer is
 * checked with SO_PEERCRED as well, so a process that could still reach it (CAP_DAC_OVERRIDE
 * without being root) is refused. Requests are read asynchronously with a deadline and a size
 * limit, so a slow, silent or oversized client holds nothing but its own connection.
 */
import fs from 'node:fs';
import net from 'node:net';
import { EAGAIN } from './libc.js';
import { closeFd, peerCredentials, receiveWithFds, waitReadable, type PeerCredentials, type Received } from './unix-fds.js';

export const CLI_MAGIC = Buffer.from('NSNETCL1');
const HEADER = CLI_MAGIC.length + 4;
/** Largest request accepted (argv, environment, working directory; a CNI configuration). */
export const MAX_REQUEST_BYTES = 1 << 20;
/** A request must have arrived whole this long after its connection was accepted. */
export const REQUEST_TIMEOUT_MS = 5000;
/** The client has this long to send its descriptors once asked. */
const FDS_TIMEOUT_MS = 2000;
/** ...of which this thread waits this long itself before handing the wait to a worker thread (see waitReadable). */
const FDS_BLOCK_MS = 5;

export type RequestKind = 'cli' | 'cni';

export interface ServiceConnection {
  readonly peer: PeerCredentials;
  /** Queue bytes to the client (never throws; a gone client is noticed by the next read). */
  write(data: string | Buffer): void;
  /** Send what is queued and close. */
  end(data?: string | Buffer): void;
  /** CLI: ask for the client's stdin, stdout and stderr; rejects on timeout, hang-up or a malformed answer. */
  receiveStdio(): Promise<[number, number, number]>;
  /**
   * Keep the connection open after serve() settles, while the next request is served: it is
   * closed (with `data` last) when the returned function is called.
   */
  keepOpen(): (data?: string | Buffer) => void;
}

export interface ServiceRequest {
  kind: RequestKind;
  payload: Buffer;
  conn: ServiceConnection;
}

export interface ServiceSocketHandlers {
  /** One request at a time; the connection is closed after it settles, whatever it did (unless it called conn.keepOpen()). */
  serve(req: ServiceRequest): Promise<void>;
  /** A connection refused before it was served (not root, malformed, too large, too slow). */
  refuse(kind: RequestKind, conn: ServiceConnection, why: string): void;
  log(line: string): void;
}

export interface ServiceSocket {
  close(): void;
  /** Requests waiting or being served. */
  readonly busy: boolean;
}

type Handle = { fd: number; readStop(): number };

export async function listenServiceSocket(socketPath: string, handlers: ServiceSocketHandlers): Promise<ServiceSocket> {
  const queue: ServiceRequest[] = [];
  let serving = false;
  const pump = (): void => {
    if (serving) return;
    const next = queue.shift();
    if (next === undefined) return;
    serving = true;
    void (async () => {
      try {
        await handlers.serve(next);
      } catch (err) {
        handlers.log(`request failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      } finally {
        next.conn.end();
        serving = false;
        pump();
      }
    })();
  };
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => accept(socket, handlers, (req) => {
    queue.push(req);
    pump();
  }));
  fs.rmSync(socketPath, { force: true });
  const umask = process.umask(0o077);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
  } finally {
    process.umask(umask);
  }
  fs.chmodSync(socketPath, 0o600);
  return {
    close: () => server.close(),
    get busy() {
      return serving || queue.length > 0;
    },
  };
}

function accept(socket: net.Socket, handlers: ServiceSocketHandlers, ready: (req: ServiceRequest) => void): void {
  socket.on('error', () => socket.destroy());
  const handle = (socket as unknown as { _handle: Handle | null })._handle;
  let peer: PeerCredentials;
  try {
    if (handle === null) throw new Error('no handle');
    peer = peerCredentials(handle.fd);
  } catch {
    socket.destroy();
    return;
  }
  // The client's stdin, stdout and stderr when they came with the request; closed with the connection unless taken.
  let passed: [number, number, number] | undefined;
  let kept = false;
  const conn: ServiceConnection = {
    peer,
    write: (data) => void (socket.destroyed || socket.write(data)),
    end: (data) => {
      if (kept) return;
      if (passed !== undefined) closeAll(passed);
      passed = undefined;
      // Then close it: reading stopped at the descriptors (readStop), so Node would never see the
      // client's end of it and kept the socket, one descriptor per request, for ever.
      const close = (): void => void socket.destroy();
      if (!socket.destroyed) data === undefined ? socket.end(close) : socket.end(data, close);
    },
    receiveStdio: () => {
      const fds = passed;
      passed = undefined;
      return fds !== undefined ? Promise.resolve(fds) : receiveStdio(socket, handle!.fd);
    },
    keepOpen: () => {
      kept = true;
      return (data) => {
        kept = false;
        conn.end(data);
      };
    },
  };
  let kind: RequestKind | undefined;
  let want = -1;
  let done = false;
  const chunks: Buffer[] = [];
  let size = 0;
  const refuse = (why: string): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    if (passed !== undefined) closeAll(passed);
    passed = undefined;
    handlers.refuse(kind ?? 'cli', conn, why);
    socket.end();
    socket.resume();
    setTimeout(() => socket.destroy(), 1000).unref();
  };
  const complete = (payload: Buffer): void => {
    done = true;
    clearTimeout(timer);
    ready({ kind: kind!, payload, conn });
  };
  // A deadline checked after pending input is read: a service that was busy (a command under
  // the lock) must not refuse a client whose request is waiting in the socket.
  const timer = setTimeout(() => setImmediate(() => refuse(`the request did not arrive within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
  const onData = (chunk: Buffer): void => {
    if (done) return;
    chunks.push(chunk);
    size += chunk.length;
    const all = (): Buffer => (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    if (kind === undefined) {
      const head = all();
      if (head[0] !== CLI_MAGIC[0]) kind = 'cni';
      else if (head.length < CLI_MAGIC.length && CLI_MAGIC.subarray(0, head.length).equals(head)) return;
      else if (!head.subarray(0, CLI_MAGIC.length).equals(CLI_MAGIC)) {
        kind = 'cli';
        return refuse('malformed request: it starts with neither the CLI header nor a CNI call');
      } else kind = 'cli';
      if (peer.uid !== 0) return refuse(`the nsnet service serves root only (this client runs as uid ${peer.uid})`);
    }
    if (size > MAX_REQUEST_BYTES + HEADER) return refuse(`request too large (more than ${MAX_REQUEST_BYTES} bytes)`);
    if (kind === 'cni') return;
    if (want < 0) {
      if (size < HEADER) return;
      want = all().readUInt32LE(CLI_MAGIC.length);
      if (want > MAX_REQUEST_BYTES) return refuse(`request too large (${want} bytes, at most ${MAX_REQUEST_BYTES})`);
    }
    if (size < HEADER + want) return;
    if (size > HEADER + want) return refuse('malformed request: bytes after its end');
    // The client sends nothing more until asked for its descriptors, which Node's read(2) would
    // drop: stop reading here, receiveStdio takes them with recvmsg(2).
    handle!.readStop();
    complete(all().subarray(HEADER));
  };
  socket.on('data', onData);
  socket.on('end', () => {
    if (done) return;
    if (kind === 'cni') complete(Buffer.concat(chunks));
    else refuse('truncated request: the client closed before the end of it');
  });
  // The first bytes with recvmsg(2): up to the CLI header, so a CNI request or a short one is
  // never read past; then Node reads the rest.
  const first = (wait: number): void => {
    if (done || socket.destroyed) return;
    let got: Received;
    try {
      got = receiveWithFds(handle!.fd, HEADER, 3);
    } catch (err) {
      if ((err as { errno?: number }).errno !== EAGAIN) return refuse(`malformed request: ${(err as Error).message}`);
      // Not here yet (the client was not scheduled since its connect): look again soon, without
      // blocking this thread or a worker thread on a client that may never send anything.
      setTimeout(() => first(Math.min(wait * 2, 16)), wait).unref();
      return;
    }
    if (got.fds.length === 3 && got.bytes.length > 0 && got.bytes[0] === CLI_MAGIC[0]) passed = [got.fds[0]!, got.fds[1]!, got.fds[2]!];
    else closeAll(got.fds);
    if (got.bytes.length > 0) onData(got.bytes);
    if (!done) socket.resume();
  };
  first(1);
}

function closeAll(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      closeFd(fd);
    } catch {
      /* already closed */
    }
  }
}

async function receiveStdio(socket: net.Socket, fd: number): Promise<[number, number, number]> {
  socket.write('F');
  const deadline = Date.now() + FDS_TIMEOUT_MS;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0 || !(await waitReadable(fd, left, FDS_BLOCK_MS))) throw new Error(`the client did not send its stdin, stdout and stderr within ${FDS_TIMEOUT_MS} ms`);
    let got;
    try {
      got = receiveWithFds(fd, 16, 3);
    } catch (err) {
      if ((err as { errno?: number }).errno === EAGAIN) continue;
      throw err;
    }
    if (got.bytes.length === 0) throw new Error('the client hung up before sending its stdin, stdout and stderr');
    if (got.fds.length !== 3 || got.bytes.length !== 1) {
      for (const f of got.fds) closeFd(f);
      throw new Error(`malformed request: expected 3 descriptors with one byte, got ${got.fds.length} with ${got.bytes.length}`);
    }
    return [got.fds[0]!, got.fds[1]!, got.fds[2]!];
  }
}
