/**
 * The Docker Engine API over HTTP/1.1 (node:http): each request is parsed, its version
 * negotiated, routed (router.ts) and answered with dockerd's headers; a failure becomes Docker's
 * `{"message": ...}`. Changes run one at a time (see ApiRequest.exclusive). The server never
 * dies of a request: a handler's exception is a 500, a malformed request a 400 from node:http.
 */
import http from 'node:http';
import type net from 'node:net';
import type { Context } from '../ops/context.js';
import { ApiError, errorAnswer } from './errors.js';
import { API_VERSION, negotiate, splitVersion, type ApiRequest, type ApiResponse, type Router } from './router.js';

export interface ApiServices {
  /** A Context on the state root the server serves (a new one per request; closed after it). */
  context(): Context;
  /** Trouble worth a line in the server's log (a handler's failure with its stack). */
  log(line: string): void;
  /** One line per request: method, path, status, time (nsnet serve --debug). */
  logRequest?(line: string): void;
  /** Called after each change request (events.ts compares the store then, so events come in order). */
  afterChange?(): void;
  /** The engine version /version reports and the Server header carries. */
  engineVersion: string;
  /** Runs changes one at a time; given when work outside requests (auto-remove) changes things too. */
  exclusive?: Exclusive;
}

export type Exclusive = <T>(fn: () => Promise<T> | T) => Promise<T>;

/**
 * A queue of changes, each started when the one before has ended: nsnet takes the host lock
 * synchronously, so two changes of one process overlapping across an await would wait on each other.
 */
export function oneAtATime(): Exclusive {
  let queue: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T> | T): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };
}

export interface Limits {
  /** Largest request body handlers read with body()/json() (a stream, e.g. an image, reads raw). */
  bodyBytes: number;
  /** Largest request head (node:http's maxHeaderSize): beyond it, 431. */
  headerBytes: number;
}

export const DEFAULT_LIMITS: Limits = { bodyBytes: 4 << 20, headerBytes: 64 << 10 };

/** The headers dockerd puts on every answer; clients read Api-Version to negotiate. */
export function dockerHeaders(engineVersion: string): Record<string, string> {
  return { 'Api-Version': API_VERSION, 'Docker-Experimental': 'false', Ostype: 'linux', Server: `Docker/${engineVersion} (linux)` };
}

/** What dockerd's /_ping answer carries besides dockerHeaders; clients read Swarm to offer swarm commands. */
const PING_HEADERS = { 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache', Swarm: 'inactive', 'Content-Type': 'text/plain; charset=utf-8' };

/** dockerd's answer to /_ping: "OK", or no body to HEAD. */
export function writePing(res: http.ServerResponse, head: boolean, headers: Record<string, string> = {}): void {
  res.writeHead(200, { ...headers, ...PING_HEADERS, 'Content-Length': head ? 0 : 2 });
  res.end(head ? undefined : 'OK');
}

export function createApiServer(router: Router, services: ApiServices, limits: Limits = DEFAULT_LIMITS): http.Server {
  const headers = dockerHeaders(services.engineVersion);
  const headerEntries = Object.entries(headers);
  const exclusive = services.exclusive ?? oneAtATime();

  const server = http.createServer({ maxHeaderSize: limits.headerBytes, requestTimeout: 0, keepAliveTimeout: 60_000 }, (req, res) => {
    // Every docker command asks /_ping first (the CLI negotiates its version from it): answered
    // here, before the general path (URL, router, request object), unless --debug logs requests.
    if (req.url === '/_ping' && services.logRequest === undefined && (req.method === 'HEAD' || req.method === 'GET')) return writePing(res, req.method === 'HEAD', headers);
    for (const [k, v] of headerEntries) res.setHeader(k, v);
    void handle(req, res, undefined);
  });
  // Every connection, upgraded ones (attach, exec) included, so shutdown can end them all.
  const connections = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
  });
  openConnections.set(server, connections);
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => void handle(req, undefined, { socket, head }));
  // A request node:http cannot parse (bad request line, header too large): answered and closed.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const body = JSON.stringify({ message: status === 431 ? `request header too large (limit ${limits.headerBytes} bytes)` : `malformed HTTP request: ${err.code ?? err.message}` });
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body) + 1}\r\nConnection: close\r\n\r\n${body}\n`);
  });

  async function handle(raw: http.IncomingMessage, res: http.ServerResponse | undefined, upgrade: { socket: net.Socket; head: Buffer } | undefined): Promise<void> {
    const started = process.hrtime.bigint();
    // Made when a handler first asks for the signal (a follow, a wait, a pull): most never do.
    let abort: AbortController | undefined;
    let clientGone = false;
    const method = raw.method ?? 'GET';
    let ctx: Context | undefined;
    let status = 0;
    let body: Promise<Buffer> | undefined;
    const url = parseUrl(raw.url ?? '/');
    const { version, path } = splitVersion(url.pathname);
    try {
      // The client went away before the answer ended (a follow, a wait). An answer that has ended
      // needs no abort, and abort() makes a DOMException with its stack (~50 µs, on the way to the
      // next request of a keep-alive connection: docker ps sends /_ping, then /containers/json).
      const gone = (): void => {
        clientGone = true;
        abort?.abort();
      };
      if (res !== undefined) res.on('close', () => void (res.writableFinished || gone()));
      else upgrade!.socket.on('close', gone);
      const negotiated = negotiate(version);
      const match = router.match(method, path);
      if (match === undefined) throw new ApiError(404, 'page not found');
      const request: ApiRequest = {
        method,
        path,
        params: match.params,
        query: url.searchParams,
        version: negotiated,
        headers: raw.headers,
        raw,
        body: () => (body ??= readBody(raw, limits.bodyBytes)),
        json: async <T>() => parseJson<T>(await (body ??= readBody(raw, limits.bodyBytes))),
        context: () => (ctx ??= services.context()),
        exclusive,
        get signal() {
          if (abort === undefined) {
            abort = new AbortController();
            if (clientGone) abort.abort();
          }
          return abort.signal;
        },
      };
      const run = async (): Promise<void> => {
        if (match.target.kind === 'hijack') {
          status = 101;
          await match.target.handler(request, upgrade?.socket ?? raw.socket, upgrade?.head ?? Buffer.alloc(0));
        } else {
          if (res === undefined) throw new ApiError(400, `${method} ${path} does not upgrade the connection`);
          await match.target.handler(request, answer(res));
        }
      };
      if (match.concurrent) await run();
      else {
        try {
          await exclusive(run);
        } finally {
          services.afterChange?.();
        }
      }
      status ||= res?.statusCode ?? 0;
    } catch (err) {
      const { status: code, message } = errorAnswer(err);
      status = code;
      // 501 is an expected answer (an endpoint nsnet does not serve): one line; a real failure keeps its stack.
      if (code === 501) services.log(`${method} ${url.pathname}: ${message}`);
      else if (code >= 500) services.log(`${method} ${url.pathname}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      if (res !== undefined) sendError(res, code, message);
      else if (upgrade !== undefined) {
        const body = `${JSON.stringify({ message })}\n`;
        const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
        upgrade.socket.end(`HTTP/1.1 ${code} ${http.STATUS_CODES[code] ?? ''}\r\n${head}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      }
    } finally {
      try {
        ctx?.close();
      } catch (err) {
        services.log(`closing a request's context: ${String(err)}`);
      }
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      services.logRequest?.(`${method} ${raw.url ?? ''} ${status} ${ms.toFixed(1)}ms`);
    }
  }
  return server;
}

const openConnections = new WeakMap<http.Server, Set<net.Socket>>();

/** End every connection of a server made by createApiServer (follows, attaches, keep-alives). */
export function destroyConnections(server: http.Server): void {
  for (const socket of openConnections.get(server) ?? []) socket.destroy();
}

function parseUrl(text: string): URL {
  try {
    return new URL(text, 'http://docker');
  } catch {
    return new URL('http://docker/');
  }
}

function answer(res: http.ServerResponse): ApiResponse {
  return {
    raw: res,
    json(status, value) {
      if (res.headersSent) return;
      const body = `${JSON.stringify(value)}\n`;
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    },
    empty(status = 204) {
      if (res.headersSent) return;
      res.writeHead(status);
      res.end();
    },
    text(status, body, contentType = 'text/plain; charset=utf-8') {
      if (res.headersSent) return;
      res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    },
    stream(status, contentType) {
      res.writeHead(status, { 'Content-Type': contentType });
      res.flushHeaders();
      return res;
    },
  };
}

function sendError(res: http.ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    // A stream already under way: nothing to say in its head any more; end it.
    res.end();
    return;
  }
  const body = `${JSON.stringify({ message })}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** The whole body, refused (413) past the limit so a client cannot make the server hold gigabytes. */
export function readBody(raw: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(raw.headers['content-length'] ?? 0);
    if (declared > limit) {
      raw.resume();
      reject(new ApiError(413, `request body of ${declared} bytes is larger than the limit of ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    raw.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        raw.destroy();
        reject(new ApiError(413, `request body is larger than the limit of ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    raw.on('end', () => resolve(Buffer.concat(chunks)));
    raw.on('error', reject);
  });
}

/** A JSON body; Docker's wording for a malformed one. */
export function parseJson<T>(body: Buffer): T {
  const text = body.toString('utf8').trim();
  if (text === '') return {} as T;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new ApiError(400, `invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}
