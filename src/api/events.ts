/**
 * GET /events: Docker's event stream for containers (create, start, die, stop, destroy) and
 * networks (create, connect, disconnect, destroy), whoever caused them — a request to this
 * server, the nsnet CLI, a container's own exit. The server compares what the store (and each
 * container's liveness) says with what it said last time: after every change it serves, and on a
 * timer for the changes others make. It keeps the last MAX_HISTORY events for `since`.
 *
 * The stream is one JSON object per line, in Docker's shape (with the legacy status/id/from of
 * container events that older clients read), until `until` passes or the client goes away.
 */
import type http from 'node:http';
import type { ContainerRecord } from '../store/index.js';
import type { Context } from '../ops/context.js';
import { liveState } from '../ops/liveness.js';
import { badRequest } from './errors.js';
import type { ApiRequest, RouteTable } from './router.js';
import type { RouteDeps } from './routes.js';

export interface DockerEvent {
  Type: 'container' | 'network';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  status?: string;
  id?: string;
  from?: string;
}

const MAX_HISTORY = 1000;

/** What one look at the store saw; compared with the next one. */
interface ContainerLook {
  name: string;
  image: string;
  labels: Record<string, string>;
  running: boolean;
  startedAt: string | null;
  exitCode: number | null;
  /** Stopped by nsnet stop / the API (Docker then sends stop after die). */
  manual: boolean;
}

interface Snapshot {
  containers: Map<string, ContainerLook>;
  networks: Map<string, { name: string; driver: string; labels: Record<string, string> }>;
  /** "networkId containerId" */
  endpoints: Set<string>;
}

/** The image reference a container was made from ('' without an image), as Docker's events carry it. */
export const imageOf = (c: ContainerRecord): string => (c as { imageRef?: string | null }).imageRef ?? '';
export const labelsOf = (c: ContainerRecord): Record<string, string> => (c as { labels?: Record<string, string> }).labels ?? {};

function snapshot(ctx: Context): Snapshot {
  // The store's listing: kept while the store is unchanged, so a look reads no rows then, only the processes.
  const listing = ctx.store.listing();
  const containers: Snapshot['containers'] = new Map();
  const lives = ctx.host.livenessSnapshot(() => listing.containers.map((c) => liveState(ctx.host, c)));
  listing.containers.forEach((c, i) => {
    const live = lives[i]!;
    containers.set(c.id, {
      name: c.name,
      image: imageOf(c),
      labels: labelsOf(c),
      running: live.status === 'running',
      startedAt: live.startedAt ?? c.startedAt,
      exitCode: live.exitCode,
      manual: c.manuallyStopped === true,
    });
  });
  const networks: Snapshot['networks'] = new Map();
  for (const n of listing.networks.values()) networks.set(n.id, { name: n.name, driver: n.driver ?? 'bridge', labels: n.labels });
  const endpoints = new Set<string>();
  for (const eps of listing.endpoints.values()) for (const ep of eps) endpoints.add(`${ep.networkId} ${ep.containerId}`);
  return { containers, networks, endpoints };
}

/** The events between two snapshots, in the order Docker gives them. */
export function diffSnapshots(before: Snapshot, after: Snapshot, now: number): DockerEvent[] {
  const out: DockerEvent[] = [];
  const container = (id: string, action: string, c: { name: string; image: string; labels: Record<string, string> }, extra: Record<string, string> = {}): void => {
    const Attributes = { ...c.labels, image: c.image, name: c.name, ...extra };
    out.push({ status: action, id, from: c.image, Type: 'container', Action: action, Actor: { ID: id, Attributes }, scope: 'local', time: Math.floor(now / 1000), timeNano: now * 1e6 });
  };
  const network = (id: string, action: string, n: { name: string; driver: string }, extra: Record<string, string> = {}): void => {
    out.push({ Type: 'network', Action: action, Actor: { ID: id, Attributes: { name: n.name, type: n.driver, ...extra } }, scope: 'local', time: Math.floor(now / 1000), timeNano: now * 1e6 });
  };
  for (const [id, n] of after.networks) if (!before.networks.has(id)) network(id, 'create', n);
  // A run that began since the last look (its start time changed), even one that has ended again
  // by now (a command that exits at once): its start and its end are both events.
  const newRun = (id: string): boolean => {
    const c = after.containers.get(id)!;
    return c.startedAt !== null && c.startedAt !== (before.containers.get(id)?.startedAt ?? null);
  };
  const ended = (id: string, c: ContainerLook): void => {
    container(id, 'die', c, { exitCode: String(c.exitCode ?? 0) });
    if (c.manual) container(id, 'stop', c);
  };
  for (const [id, c] of after.containers) {
    const was = before.containers.get(id);
    if (was === undefined) container(id, 'create', c);
    else if (was.running && newRun(id)) container(id, 'die', was, { exitCode: String(c.exitCode ?? 0) });
    else if (was.running && !c.running) ended(id, c);
  }
  for (const key of after.endpoints) {
    if (before.endpoints.has(key)) continue;
    const [nid, cid] = key.split(' ') as [string, string];
    network(nid, 'connect', after.networks.get(nid)!, { container: cid });
  }
  for (const [id, c] of after.containers) {
    const was = before.containers.get(id);
    if (newRun(id) || (c.running && (was === undefined || !was.running))) {
      container(id, 'start', c);
      if (!c.running) ended(id, c);
    }
  }
  for (const key of before.endpoints) {
    if (after.endpoints.has(key)) continue;
    const [nid, cid] = key.split(' ') as [string, string];
    network(nid, 'disconnect', after.networks.get(nid) ?? before.networks.get(nid)!, { container: cid });
  }
  for (const [id, was] of before.containers) {
    if (after.containers.has(id)) continue;
    if (was.running) container(id, 'die', was, { exitCode: '137' });
    container(id, 'destroy', was);
  }
  for (const [id, n] of before.networks) if (!after.networks.has(id)) network(id, 'destroy', n);
  return out;
}

export class EventFeed {
  private history: DockerEvent[] = [];
  private readonly listeners = new Set<(e: DockerEvent) => void>();
  /** Listeners for whom a second is soon enough (nsnet serve's own auto-remove): they do not speed up the looks. */
  private readonly patient = new Set<(e: DockerEvent) => void>();
  private last: Snapshot | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** look: a Context for one comparison (closed after it); fails quietly into onError. */
  constructor(
    private readonly look: () => Context,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Compare with the last look and send what changed. */
  sync(): void {
    let ctx: Context | undefined;
    try {
      ctx = this.look();
      const next = snapshot(ctx);
      if (this.last !== undefined) for (const e of diffSnapshots(this.last, next, Date.now())) this.emit(e);
      this.last = next;
    } catch (err) {
      this.onError(err);
    } finally {
      ctx?.close();
    }
  }

  /** Look every idleMs (others' changes, containers that end); faster while a client listens. */
  start(idleMs = 1000, listenedMs = 200): void {
    this.sync();
    const tick = (): void => {
      this.sync();
      this.timer = setTimeout(tick, this.hurried ? listenedMs : idleMs);
      this.timer.unref();
    };
    this.timer = setTimeout(tick, idleMs);
    this.timer.unref();
  }

  /** Whether a listener other than the patient ones is there: then the feed looks every listenedMs. */
  get hurried(): boolean {
    return this.listeners.size > this.patient.size;
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  emit(e: DockerEvent): void {
    this.history.push(e);
    if (this.history.length > MAX_HISTORY) this.history.splice(0, this.history.length - MAX_HISTORY);
    for (const l of this.listeners) l(e);
  }

  past(): readonly DockerEvent[] {
    return this.history;
  }

  /** Send each event to fn from now on; patient: a second is soon enough for it (it does not make the feed look more often). */
  subscribe(fn: (e: DockerEvent) => void, opts: { patient?: boolean } = {}): () => void {
    this.listeners.add(fn);
    if (opts.patient === true) this.patient.add(fn);
    return () => {
      this.listeners.delete(fn);
      this.patient.delete(fn);
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Filters and times, as dockerd reads them

export type EventFilters = Map<string, string[]>;

/**
 * Docker's filters parameter: {"type":["container"]} or the older {"type":{"container":true}}.
 * Unknown names are refused with dockerd's words.
 */
export function parseFilterParam(text: string | null, known: readonly string[]): EventFilters {
  const out: EventFilters = new Map();
  if (text === null || text.trim() === '') return out;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw badRequest(`invalid filter: ${text}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw badRequest(`invalid filter: ${text}`);
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!known.includes(name)) throw badRequest(`invalid filter '${name}'`);
    const values = Array.isArray(value) ? value : value !== null && typeof value === 'object' ? Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] === true) : undefined;
    if (values === undefined || !values.every((v) => typeof v === 'string')) throw badRequest(`invalid filter '${name}': expected a list of strings`);
    out.set(name, values as string[]);
  }
  return out;
}

const EVENT_FILTERS = ['type', 'event', 'container', 'network', 'label', 'image', 'scope'];

/** `label=KEY` (present) or `label=KEY=VALUE` (equal), over an event's attributes. */
export function labelMatches(pattern: string, labels: Readonly<Record<string, string>>): boolean {
  const eq = pattern.indexOf('=');
  if (eq < 0) return Object.prototype.hasOwnProperty.call(labels, pattern);
  return labels[pattern.slice(0, eq)] === pattern.slice(eq + 1);
}

export function eventMatches(e: DockerEvent, f: EventFilters): boolean {
  const any = (name: string, test: (v: string) => boolean): boolean => {
    const values = f.get(name);
    return values === undefined || values.some(test);
  };
  const actorIs = (v: string, name: string | undefined): boolean => v === e.Actor.ID || v === name || (v.length >= 1 && e.Actor.ID.startsWith(v));
  return (
    any('type', (v) => v === e.Type) &&
    any('event', (v) => v === e.Action || e.Action.startsWith(`${v}:`)) &&
    any('scope', (v) => v === e.scope) &&
    any('container', (v) => (e.Type === 'container' ? actorIs(v, e.Actor.Attributes['name']) : e.Actor.Attributes['container'] !== undefined && e.Actor.Attributes['container'].startsWith(v))) &&
    any('network', (v) => e.Type === 'network' && actorIs(v, e.Actor.Attributes['name'])) &&
    any('image', (v) => e.Actor.Attributes['image'] === v) &&
    any('label', (v) => labelMatches(v, e.Actor.Attributes))
  );
}

/** since/until: Unix seconds (with a fraction), as the docker CLI sends them, or an RFC 3339 time; nanoseconds. */
export function parseEventTime(text: string | null, name: string): number | undefined {
  if (text === null || text === '') return undefined;
  const unix = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text);
  if (unix !== null) return Number(unix[1]) * 1e9 + Number((unix[2] ?? '').padEnd(9, '0'));
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw badRequest(`invalid ${name} "${text}": expected a Unix time in seconds or an RFC 3339 time`);
  return ms * 1e6;
}

async function streamEvents(req: ApiRequest, raw: http.ServerResponse, feed: EventFeed): Promise<void> {
  const filters = parseFilterParam(req.query.get('filters'), EVENT_FILTERS);
  const since = parseEventTime(req.query.get('since'), 'since');
  const until = parseEventTime(req.query.get('until'), 'until');
  feed.sync();
  const wanted = (e: DockerEvent): boolean => eventMatches(e, filters) && (since === undefined || e.timeNano >= since) && (until === undefined || e.timeNano <= until);
  const send = (e: DockerEvent): void => void raw.write(`${JSON.stringify(e)}\n`);
  if (since !== undefined) for (const e of feed.past()) if (wanted(e)) send(e);
  const remaining = until === undefined ? undefined : until / 1e6 - Date.now();
  if (remaining !== undefined && remaining <= 0) return;
  await new Promise<void>((resolve) => {
    const unsubscribe = feed.subscribe((e) => wanted(e) && send(e));
    const done = (): void => {
      unsubscribe();
      if (timer !== undefined) clearTimeout(timer);
      resolve();
    };
    const timer = remaining === undefined ? undefined : setTimeout(done, remaining);
    req.signal.addEventListener('abort', done, { once: true });
  });
}

export function eventRoutes(r: RouteTable, deps: RouteDeps): void {
  r.route('GET', '/events', async (req, res) => {
    // Filters are checked before the stream starts, so a bad one is a 400, not a broken stream.
    parseFilterParam(req.query.get('filters'), EVENT_FILTERS);
    parseEventTime(req.query.get('since'), 'since');
    parseEventTime(req.query.get('until'), 'until');
    const raw = res.stream(200, 'application/json');
    await streamEvents(req, raw, deps.events);
    raw.end();
  });
}
