/**
 * /containers: Docker's container endpoints over nsnet's container operations
 * (src/ops/containers.ts) — create, start, stop, kill, restart, wait, delete, list, inspect,
 * logs, prune. Attach and exec are routes-attach.ts's and routes-exec.ts's.
 */
import { containerView } from '../engine/inspect.js';
import { parseLogTime } from '../engine/log-lines.js';
import * as containers from '../ops/containers.js';
import { containerLogs } from '../ops/container-logs.js';
import type { Context } from '../ops/context.js';
import { recordedStates } from '../ops/impairments.js';
import { liveState } from '../ops/liveness.js';
import { endRestarts } from '../ops/monitors.js';
import { pointToPointOf } from '../ops/p2p-links.js';
import { containerPorts } from '../ops/ports.js';
import type { ContainerListing, ContainerRecord } from '../store/index.js';
import { psItems } from '../cli/listing/ps-items.js';
import { selectContainers } from '../cli/listing/ps-select.js';
import { commandText, statusText, type PsItem } from '../cli/listing/ps-rows.js';
import { ApiError, badRequest } from './errors.js';
import { imageOf, labelsOf, parseFilterParam } from './events.js';
import { queryBool, queryInt } from './body.js';
import { createInput } from './container-config.js';
import { attachConfigOf, rememberAttachConfig, startContainer, withAttachConfig } from './attach-terminals.js';
import { frame, STDERR, STDOUT } from './framing.js';
import type http from 'node:http';
import type { ApiRequest, RouteTable } from './router.js';

export function inspectContainer(ctx: Context, ref: string): Record<string, unknown> {
  const c = ctx.store.containers.resolve(ref);
  const eps = ctx.store.endpoints.forContainer(c.id).map((endpoint) => ({ endpoint, network: ctx.store.networks.get(endpoint.networkId)! }));
  const view = containerView(c, liveState(ctx.host, c), eps, containerPorts(ctx, c.id), { dns: ctx.store.dns.get(c.id), interfaces: recordedStates(ctx, c), pointToPoint: pointToPointOf(ctx.store, c.id) });
  return withAttachConfig(withLogConfig(view), ctx.root, c);
}

/**
 * HostConfig.LogConfig as dockerd shows it: nsnet's logs are json-file logs (ROOT/containers/ID).
 * Clients read it: docker-compose 1.29 shows no logs of a container whose Type is not one it can read.
 */
function withLogConfig(view: Record<string, unknown>): Record<string, unknown> {
  const host = (typeof view['HostConfig'] === 'object' && view['HostConfig'] !== null ? view['HostConfig'] : {}) as Record<string, unknown>;
  return { ...view, HostConfig: { ...host, LogConfig: { Type: 'json-file', Config: {} } } };
}

const PS_FILTERS = ['id', 'name', 'status', 'exited', 'network', 'label', 'publish', 'expose', 'ancestor', 'before', 'since'];

/**
 * GET /containers/json's body: Docker's summaries, chosen as `nsnet ps` chooses (the same filters).
 * The text is kept per store listing and query for as long as every container's state and status
 * line are the ones it was made with: clients ask again and again of an unchanged set (docker ps,
 * compose's polls), and choosing and serializing the summaries (~800 bytes a container) cost more
 * than deciding the states, which is done at every call.
 */
export function containerListBody(ctx: Context, q: URLSearchParams): Buffer {
  // The store's listing (kept while the store is unchanged), shared with ps.
  const listing = ctx.store.listing();
  const items = psItems(ctx, listing);
  const now = Date.now();
  const states = items.map((item) => `${item.live.status} ${statusText(item.live, item.container, now)}`).join('\n');
  const query = q.toString();
  let bodies = bodiesOf.get(listing);
  const kept = bodies?.get(query);
  if (kept !== undefined && kept.states === states) return kept.body;
  const body = Buffer.from(`${JSON.stringify(chosenSummaries(listing, items, q, now))}\n`);
  if (bodies === undefined) bodiesOf.set(listing, (bodies = new Map()));
  if (bodies.size >= MAX_KEPT_QUERIES) bodies.clear();
  bodies.set(query, { states, body });
  return body;
}

/** The bodies of GET /containers/json by listing, then query string (a few: ps, ps -a, compose's filters). */
const bodiesOf = new WeakMap<ContainerListing, Map<string, { states: string; body: Buffer }>>();
const MAX_KEPT_QUERIES = 16;

function chosenSummaries(listing: ContainerListing, items: PsItem[], q: URLSearchParams, now: number): Record<string, unknown>[] {
  const filters = parseFilterParam(q.get('filters'), PS_FILTERS);
  const limit = queryInt(q, 'limit');
  const filter = [...filters].flatMap(([name, values]) => values.map((v) => `${name}=${v}`));
  const chosen = selectContainers(items, { all: queryBool(q, 'all'), filter, ...(limit !== undefined && limit > 0 ? { last: String(limit) } : {}) });
  return chosen.map((item) => {
    const s = recordedSummary(listing, item);
    // Docker's order of keys.
    return { Id: s.Id, Names: s.Names, Image: s.Image, ImageID: s.ImageID, Command: s.Command, Created: s.Created, Ports: s.Ports, Labels: s.Labels, State: item.live.status, Status: statusText(item.live, item.container, now), HostConfig: s.HostConfig, NetworkSettings: s.NetworkSettings, Mounts: s.Mounts };
  });
}

interface RecordedSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  Ports: Array<{ IP: string; PrivatePort: number; PublicPort: number; Type: string }>;
  Labels: unknown;
  HostConfig: { NetworkMode: string };
  NetworkSettings: { Networks: Record<string, Record<string, unknown>> };
  Mounts: never[];
}

/** Each container's summary but its state, worked out once per store listing (it depends on the records alone). */
const summariesOf = new WeakMap<ContainerListing, Map<string, RecordedSummary>>();

function recordedSummary(listing: ContainerListing, item: PsItem): RecordedSummary {
  let summaries = summariesOf.get(listing);
  if (summaries === undefined) summariesOf.set(listing, (summaries = new Map()));
  const c = item.container;
  const known = summaries.get(c.id);
  if (known !== undefined) return known;
  const eps = (listing.endpoints.get(c.id) ?? []).map((endpoint) => ({ endpoint, network: listing.networks.get(endpoint.networkId)! }));
  // inspect's view of the networks (live state plays no part in them).
  const view = containerView(c, { status: 'created', pid: 0, exitCode: null }, eps, item.ports, { dns: listing.dns.get(c.id) }) as {
    NetworkSettings?: { Networks?: Record<string, Record<string, unknown>> };
    HostConfig?: { NetworkMode?: string };
  };
  const summary: RecordedSummary = {
    Id: c.id,
    Names: [`/${c.name}`],
    // As nsnet ps: the image, else the --rootfs directory, else nothing (a container on the host's root).
    Image: imageOf(c) || (c.rootfs ?? ''),
    ImageID: (c as { imageId?: string | null }).imageId ?? '',
    Command: commandText(c),
    Created: Math.floor(Date.parse(c.created) / 1000),
    Ports: item.ports.map((p) => ({ IP: p.hostIp ?? '0.0.0.0', PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.proto })),
    Labels: labelsOf(c),
    HostConfig: { NetworkMode: view.HostConfig?.NetworkMode ?? 'default' },
    NetworkSettings: { Networks: dockerEndpoints(view.NetworkSettings?.Networks ?? {}) },
    Mounts: [],
  };
  summaries.set(c.id, summary);
  return summary;
}

/** Docker's EndpointSettings keys: a summary carries these only (inspect adds nsnet's interface names, impairment and link state). */
const ENDPOINT_KEYS = ['IPAMConfig', 'Links', 'Aliases', 'NetworkID', 'EndpointID', 'Gateway', 'IPAddress', 'IPPrefixLen', 'IPv6Gateway', 'GlobalIPv6Address', 'GlobalIPv6PrefixLen', 'MacAddress', 'DriverOpts'];

function dockerEndpoints(networks: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
  return Object.fromEntries(Object.entries(networks).map(([name, e]) => [name, Object.fromEntries(ENDPOINT_KEYS.filter((k) => k in e).map((k) => [k, e[k]]))]));
}

/** ?t= (Docker's seconds before SIGKILL; -1 or absent: 10, nsnet's and Docker's default). */
function graceOf(q: URLSearchParams): number {
  const t = queryInt(q, 't');
  return t === undefined || t < 0 ? 10 : t;
}

function isRunning(ctx: Context, c: ContainerRecord): boolean {
  return liveState(ctx.host, c).status === 'running';
}

/** Docker's kill: a signal to the container's process (its monitor records the end, and restarts it by policy). */
function kill(ctx: Context, ref: string, signal: string): void {
  const c = ctx.store.containers.resolve(ref);
  const live = liveState(ctx.host, c);
  if (live.status !== 'running') throw new ApiError(409, `Cannot kill container: ${ref}: Container ${c.id} is not running`);
  const name = signalName(signal);
  if (live.pid > 0 && live.pidStart !== undefined) ctx.host.sendSignal(live.pid, live.pidStart, name);
}

const SIGNAL_NUMBERS: Readonly<Record<number, NodeJS.Signals>> = { 1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 9: 'SIGKILL', 10: 'SIGUSR1', 12: 'SIGUSR2', 15: 'SIGTERM', 19: 'SIGSTOP', 18: 'SIGCONT', 28: 'SIGWINCH' };
const SIGNALS = new Set(['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGKILL', 'SIGUSR1', 'SIGUSR2', 'SIGTERM', 'SIGSTOP', 'SIGCONT', 'SIGWINCH', 'SIGALRM', 'SIGPIPE', 'SIGTRAP', 'SIGABRT']);

/** A signal as Docker takes it: a name with or without SIG, or a number. */
export function signalName(text: string): NodeJS.Signals {
  if (text === '') return 'SIGKILL';
  if (/^\d+$/.test(text)) {
    const s = SIGNAL_NUMBERS[Number(text)];
    if (s === undefined) throw badRequest(`invalid signal: ${text}`);
    return s;
  }
  const name = (text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`) as NodeJS.Signals;
  if (!SIGNALS.has(name)) throw badRequest(`invalid signal: ${text}`);
  return name;
}

const WAIT_POLL_MS = 50;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Docker's stop, with the grace period waited out asynchronously: nsnet's stop waits for it
 * synchronously, which would hold every request of the server (pings, logs, reads) for up to
 * `t` seconds — and a PID 1 that ignores SIGTERM (sleep) takes all of it. So: the monitor told to
 * restart no more, SIGTERM, wait here; then nsnet's stop with no grace records the end (and
 * SIGKILLs what is left), exactly as `nsnet stop` records it.
 */
async function stopContainer(ctx: Context, c: ContainerRecord, seconds: number): Promise<void> {
  const live = liveState(ctx.host, c);
  if (seconds > 0 && live.pid > 0 && live.pidStart !== undefined) {
    endRestarts(ctx, c);
    ctx.host.sendSignal(live.pid, live.pidStart, 'SIGTERM');
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline && ctx.host.isAlive(live.pid, live.pidStart)) await sleep(WAIT_POLL_MS);
  }
  containers.stop(ctx, [c.id], 0);
}

/**
 * POST /containers/{id}/wait: the head at once (so a client knows the wait is in place before it
 * starts the container), the body {StatusCode} when the condition is met.
 */
async function waitFor(req: ApiRequest, ctx: Context, ref: string, condition: string): Promise<{ StatusCode: number; Error: null | { Message: string } }> {
  const c = ctx.store.containers.resolve(ref);
  const first = liveState(ctx.host, c);
  let lastCode = first.exitCode ?? 0;
  const firstFinish = first.finishedAt ?? c.finishedAt;
  for (;;) {
    const now = ctx.store.containers.get(c.id);
    if (now === undefined) {
      if (condition === 'removed' || condition === 'not-running' || condition === 'next-exit') return { StatusCode: lastCode, Error: null };
    } else {
      const live = liveState(ctx.host, now);
      if (live.exitCode !== null) lastCode = live.exitCode;
      const finish = live.finishedAt ?? now.finishedAt;
      const ended = live.status !== 'running' || live.restarting === true;
      const recording = live.exitCode === null && live.monitorLost !== true && now.monitorPid != null && live.status !== 'created';
      if (condition === 'not-running' && ended && !recording) return { StatusCode: lastCode, Error: null };
      if (condition === 'next-exit' && ended && !recording && finish !== firstFinish && now.status !== 'created') return { StatusCode: lastCode, Error: null };
    }
    if (req.signal.aborted) return { StatusCode: lastCode, Error: { Message: 'client went away' } };
    await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
  }
}

/** Created with Tty (attach-terminals.ts keeps it): its log is the terminal's output, sent raw. */
const isTty = (ctx: Context, c: ContainerRecord): boolean => attachConfigOf(ctx.root, c).tty;

async function sendLogs(req: ApiRequest, ctx: Context, ref: string, raw: http.ServerResponse): Promise<void> {
  const q = req.query;
  const stdout = queryBool(q, 'stdout');
  const stderr = queryBool(q, 'stderr');
  if (!stdout && !stderr) throw badRequest('Bad parameters: you must choose at least one stream');
  const now = Date.now();
  const timeOf = (name: string): string | undefined => {
    const v = q.get(name);
    return v === null || v === '' || v === '0' ? undefined : parseLogTime(v, name, now);
  };
  const tailText = q.get('tail');
  const tail: number | 'all' | undefined = tailText === null || tailText === '' || tailText === 'all' ? 'all' : /^\d+$/.test(tailText) ? Number(tailText) : undefined;
  if (tail === undefined) throw badRequest(`invalid value for tail: "${tailText}" (expected a number or all)`);
  const c = ctx.store.containers.resolve(ref);
  const timestamps = queryBool(q, 'timestamps');
  const tty = isTty(ctx, c);
  const opts = { follow: queryBool(q, 'follow'), since: timeOf('since'), until: timeOf('until'), tail };
  const out = logWriter(raw, tty);
  for await (const batch of containerLogs(ctx, c.id, opts)) {
    for (const line of batch) {
      if ((line.stream === 'stdout' && !stdout) || (line.stream === 'stderr' && !stderr)) continue;
      const text = timestamps ? `${line.time ?? ''} ${line.text}` : line.text;
      out(line.stream === 'stderr' ? STDERR : STDOUT, text);
    }
    if (req.signal.aborted) break;
  }
}

/** The logs' writer: framed without a terminal, raw with one. */
function logWriter(raw: http.ServerResponse, tty: boolean): (stream: typeof STDOUT | typeof STDERR, text: string) => void {
  return (stream, text) => void raw.write(tty ? text : frame(stream, text));
}

export function containerRoutes(r: RouteTable): void {
  r.route('GET', '/containers/json', async (req, res) => res.text(200, containerListBody(req.context(), req.query), 'application/json'));
  r.route('GET', '/containers/{id}/json', async (req, res) => res.json(200, inspectContainer(req.context(), req.params['id']!)));

  r.route('POST', '/containers/create', async (req, res) => {
    const input = createInput(req.query.get('name'), await req.json());
    const c = await containers.create(req.context(), input);
    rememberAttachConfig(req.context().root, c, await req.json());
    res.json(201, { Id: c.id, Warnings: [] });
  });

  r.route('POST', '/containers/{id}/start', async (req, res) => {
    const ctx = req.context();
    const c = ctx.store.containers.resolve(req.params['id']!);
    if (isRunning(ctx, c)) return res.empty(304);
    await startContainer(ctx, c);
    res.empty(204);
  });

  r.route('POST', '/containers/{id}/stop', async (req, res) => {
    const ctx = req.context();
    const c = ctx.store.containers.resolve(req.params['id']!);
    if (!isRunning(ctx, c)) return res.empty(304);
    await stopContainer(ctx, c, graceOf(req.query));
    res.empty(204);
  });

  r.route('POST', '/containers/{id}/restart', async (req, res) => {
    const ctx = req.context();
    const c = ctx.store.containers.resolve(req.params['id']!);
    if (isRunning(ctx, c)) await stopContainer(ctx, c, graceOf(req.query));
    await startContainer(ctx, c);
    res.empty(204);
  });

  r.route('POST', '/containers/{id}/kill', async (req, res) => {
    kill(req.context(), req.params['id']!, req.query.get('signal') ?? '');
    res.empty(204);
  });

  r.route(
    'POST',
    '/containers/{id}/wait',
    async (req, res) => {
      const condition = req.query.get('condition') || 'not-running';
      if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw badRequest(`invalid condition: "${condition}" (expected not-running, next-exit or removed)`);
      const ctx = req.context();
      ctx.store.containers.resolve(req.params['id']!); // a missing container is a 404 before the head goes out
      const raw = res.stream(200, 'application/json');
      const result = await waitFor(req, ctx, req.params['id']!, condition);
      raw.end(`${JSON.stringify(result)}\n`);
    },
    { concurrent: true },
  );

  r.route('DELETE', '/containers/{id}', async (req, res) => {
    const force = queryBool(req.query, 'force');
    if (queryBool(req.query, 'link')) throw new ApiError(501, 'removing a legacy link is not supported by nsnet');
    containers.remove(req.context(), [req.params['id']!], { force });
    res.empty(204);
  });

  r.route('GET', '/containers/{id}/logs', async (req, res) => {
    const ctx = req.context();
    const c = ctx.store.containers.resolve(req.params['id']!);
    const raw = res.stream(200, isTty(ctx, c) ? 'text/plain; charset=utf-8' : 'application/vnd.docker.raw-stream');
    await sendLogs(req, ctx, c.id, raw);
    raw.end();
  });

  r.route('POST', '/containers/prune', async (req, res) => {
    const ctx = req.context();
    const filters = parseFilterParam(req.query.get('filters'), ['label', 'label!', 'until']);
    if (filters.size > 0) throw new ApiError(501, 'container prune filters are not supported by nsnet');
    const stopped = ctx.store.containers.list().filter((c) => !isRunning(ctx, c));
    const outcome = containers.removeEach(ctx, stopped.map((c) => c.id), { force: false });
    res.json(200, { ContainersDeleted: outcome.done, SpaceReclaimed: 0 });
  });

  r.unsupported('POST', '/containers/{id}/rename', 'container rename (a container\'s name is its network namespace\'s)');
}
