/**
 * The Docker Engine API's router: method and path pattern → handler, paths with and without the
 * /vX.Y prefix, Docker's version negotiation, and Docker's JSON errors. Route modules
 * (src/api/routes-*.ts) each export a function that registers their routes on a RouteTable;
 * src/api/routes.ts lists those functions in one place.
 *
 *   export function networkRoutes(r: RouteTable): void {
 *     r.route('GET', '/networks/{id}', async (req, res) => res.json(200, view(req.params.id)));
 *     r.hijack('POST', '/containers/{id}/attach', async (req, socket, head) => { ... });
 *   }
 *
 * A pattern's `{name}` matches one path segment (percent-decoded) into req.params.name; a last
 * `{name*}` matches the rest of the path, slashes included (image names: /images/{name*}/json is
 * not possible, so such routes match `/images/{name*}` and look at the end themselves).
 */
import type http from 'node:http';
import type net from 'node:net';
import type { Context } from '../ops/context.js';
import { ApiError } from './errors.js';

/** The API version nsnet speaks (Docker 20.10's), and the oldest one it accepts, as dockerd. */
export const API_VERSION = '1.41';
export const MIN_API_VERSION = '1.12';

export interface ApiRequest {
  readonly method: string;
  /** The path without its /vX.Y prefix and query, e.g. /containers/red/json. */
  readonly path: string;
  /** The pattern's {name} parts, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The version the client asked for in the prefix, else API_VERSION. */
  readonly version: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly raw: http.IncomingMessage;
  /** The body (at most the server's body limit, else 413). */
  body(): Promise<Buffer>;
  /** The body as JSON; an empty body is `{}`; malformed JSON is a 400 with Docker's message. */
  json<T = Record<string, unknown>>(): Promise<T>;
  /** A Context on the server's state root, made on first use and closed after the handler. */
  context(): Context;
  /**
   * Run fn when no other change made through this server runs: nsnet's host lock is taken
   * synchronously, so two operations of one process must not wait for it at once. Every route
   * but GET/HEAD runs this way unless registered with { concurrent: true } (waits, streams).
   */
  exclusive<T>(fn: () => Promise<T> | T): Promise<T>;
  /** Aborted when the client goes away (a follow or a wait stops then). */
  readonly signal: AbortSignal;
}

export interface ApiResponse {
  readonly raw: http.ServerResponse;
  json(status: number, value: unknown): void;
  /** 204 (or another status) without a body. */
  empty(status?: number): void;
  text(status: number, body: string | Buffer, contentType?: string): void;
  /** Start a streamed answer (logs, events): the head goes out at once; then write to raw and end it. */
  stream(status: number, contentType: string): http.ServerResponse;
}

export type Handler = (req: ApiRequest, res: ApiResponse) => Promise<void>;
/** An upgraded connection (attach, exec start): the handler owns the socket from here. */
export type HijackHandler = (req: ApiRequest, socket: net.Socket, head: Buffer) => Promise<void>;

export interface RouteOptions {
  /** Runs beside changes rather than after them (it waits, follows, or only reads). */
  concurrent?: boolean;
}

export interface RouteTable {
  route(method: string, pattern: string, handler: Handler, opts?: RouteOptions): void;
  hijack(method: string, pattern: string, handler: HijackHandler, opts?: RouteOptions): void;
  /** A known Docker endpoint nsnet does not serve: 501 "<what> is not supported by nsnet" (method '*': any). */
  unsupported(method: string, pattern: string, what: string): void;
}

export type Target = { kind: 'handler'; handler: Handler } | { kind: 'hijack'; handler: HijackHandler };

interface Route {
  method: string;
  pattern: string;
  segments: readonly string[];
  target: Target;
  concurrent: boolean;
}

export interface Match {
  target: Target;
  params: Record<string, string>;
  concurrent: boolean;
  pattern: string;
}

const VERSION_PREFIX = /^\/v(\d+\.\d+)(?=\/)/;

/** The /vX.Y prefix of a path, and the path without it. */
export function splitVersion(path: string): { version: string | undefined; path: string } {
  const m = VERSION_PREFIX.exec(path);
  return m === null ? { version: undefined, path } : { version: m[1], path: path.slice(m[0].length) };
}

/** -1, 0, 1 as a is older than, equal to or newer than b ("1.9" < "1.12"). */
export function compareVersions(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am !== bm ? Math.sign(am - bm) : Math.sign(an - bn);
}

/** The version a request speaks; refused as dockerd refuses it (400, dockerd's words). */
export function negotiate(requested: string | undefined): string {
  if (requested === undefined) return API_VERSION;
  if (compareVersions(requested, API_VERSION) > 0) {
    throw new ApiError(400, `client version ${requested} is too new. Maximum supported API version is ${API_VERSION}`);
  }
  if (compareVersions(requested, MIN_API_VERSION) < 0) {
    throw new ApiError(400, `client version ${requested} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  }
  return requested;
}

export class Router implements RouteTable {
  private readonly routes: Route[] = [];
  /** Routes without {params}, by "METHOD /pattern": such a route is the best match of its own path, found without the scan. */
  private readonly literal = new Map<string, Route>();

  route(method: string, pattern: string, handler: Handler, opts: RouteOptions = {}): void {
    this.add(method, pattern, { kind: 'handler', handler }, opts);
  }

  hijack(method: string, pattern: string, handler: HijackHandler, opts: RouteOptions = {}): void {
    this.add(method, pattern, { kind: 'hijack', handler }, opts);
  }

  unsupported(method: string, pattern: string, what: string): void {
    this.route(method, pattern, () => Promise.reject(new ApiError(501, `${what} is not supported by nsnet`)), { concurrent: true });
  }

  private add(method: string, pattern: string, target: Target, opts: RouteOptions): void {
    const segments = pattern.split('/').slice(1);
    const clash = this.routes.find((r) => r.method === method.toUpperCase() && r.pattern === pattern);
    if (clash !== undefined) throw new Error(`route ${method} ${pattern} is registered twice`);
    const last = segments.length - 1;
    if (segments.some((s, i) => s.endsWith('*}') && i !== last)) throw new Error(`route ${pattern}: a {name*} part must come last`);
    const route: Route = { method: method.toUpperCase(), pattern, segments, target, concurrent: opts.concurrent === true || method === 'GET' || method === 'HEAD' };
    this.routes.push(route);
    if (route.method !== '*' && !pattern.includes('{')) this.literal.set(`${route.method} ${pattern}`, route);
  }

  /**
   * The route for a method and a path (without its version prefix). Literal segments win over
   * {params} (so /containers/json is not /containers/{id}), then the order of registration.
   * A path with routes for other methods only is a 404 as in dockerd.
   */
  match(method: string, path: string): Match | undefined {
    const upper = method.toUpperCase();
    // Every segment literal and the very method: no other route can score higher.
    const exact = this.literal.get(`${upper} ${path}`);
    if (exact !== undefined) return { target: exact.target, params: {}, concurrent: exact.concurrent, pattern: exact.pattern };
    const parts = path.split('/').slice(1);
    let best: { route: Route; params: Record<string, string>; score: number } | undefined;
    for (const route of this.routes) {
      const any = route.method === '*';
      if (!any && route.method !== upper) continue;
      const got = matchSegments(route.segments, parts);
      if (got === undefined) continue;
      // A route of the very method wins over a catch-all of the same shape.
      const score = got.score * 2 + (any ? 0 : 1);
      if (best === undefined || score > best.score) best = { route, params: got.params, score };
    }
    if (best === undefined) return undefined;
    return { target: best.route.target, params: best.params, concurrent: best.route.concurrent, pattern: best.route.pattern };
  }

  /** Every registered route as "METHOD /pattern" (tests, the README). */
  list(): string[] {
    return this.routes.map((r) => `${r.method} ${r.pattern}`);
  }
}

function matchSegments(pattern: readonly string[], parts: readonly string[]): { params: Record<string, string>; score: number } | undefined {
  const params: Record<string, string> = {};
  let score = 0;
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p.startsWith('{') && p.endsWith('*}')) {
      const rest = parts.slice(i);
      if (rest.length === 0 || rest.join('/') === '') return undefined;
      const value = decode(rest.join('/'));
      if (value === undefined) return undefined;
      params[p.slice(1, -2)] = value;
      return { params, score };
    }
    const part = parts[i];
    if (part === undefined) return undefined;
    if (p.startsWith('{') && p.endsWith('}')) {
      const value = decode(part);
      if (value === undefined || value === '') return undefined;
      params[p.slice(1, -1)] = value;
    } else if (p === part) {
      score += 1 << (16 - Math.min(i, 16)); // an earlier literal counts more
    } else return undefined;
  }
  return parts.length === pattern.length ? { params, score } : undefined;
}

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}
