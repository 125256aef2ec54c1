/**
 * `nsnet ps` rows with docker/cli's placeholders (.ID, .Image, .Command, .CreatedAt, .RunningFor,
 * .Ports, .Status, .Size, .Names, .Labels, .Mounts, .Networks, .State) and its filters.
 *
 * IMAGE: the image reference a container was made from (run --image, as given); else its --rootfs
 * directory, and empty for a container on the host's own root.
 */
import type { PortMapping } from '../../engine/ports.js';
import type { LiveState } from '../../engine/inspect.js';
import type { ContainerRecord } from '../../store/index.js';
import { goTime, since } from './docker-time.js';
import { allOf, anyOf, invalidValue, labelMatches, labelsText, textMatches, type Filters } from './filters.js';
import { labelHeader, labelMethod, type ListingShape } from './render.js';

export const PS_FILTERS = ['id', 'name', 'status', 'exited', 'network', 'label', 'publish', 'expose', 'ancestor', 'before', 'since'] as const;
const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

export const PS_SHAPE: ListingShape = {
  structType: '*formatter.ContainerContext',
  headers: {
    ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Ports: 'PORTS',
    Status: 'STATUS', Size: 'SIZE', Names: 'NAMES', Labels: 'LABELS', Mounts: 'MOUNTS', Networks: 'NETWORKS', State: 'STATE', Label: labelHeader,
  },
  defaultTable: 'table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}',
};

/** What a row is made of, read by the command from the store and the host. */
export interface PsItem {
  container: ContainerRecord;
  live: LiveState;
  /** Names of the networks it is attached to, and their ids. */
  networks: ReadonlyArray<{ id: string; name: string }>;
  ports: readonly PortMapping[];
}

/** docker/cli's Ellipsis: at most `max` characters, the last one "…" when cut. */
export function ellipsis(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : chars.slice(0, max - 1).join('') + '…';
}

/** Go's strconv.Quote for the printable text a command is. */
function goQuote(text: string): string {
  return JSON.stringify(text).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export function commandText(c: ContainerRecord): string {
  // A runtime's container (CNI) has no command nsnet knows: show whose it is.
  return c.cniContainerId != null ? `${c.runtime ?? 'cni'} ${c.cniContainerId.slice(0, 12)}` : c.command.join(' ');
}

/** Docker's State: "restarting" between the runs of a restart policy. */
const stateOf = (live: LiveState): string => (live.restarting === true ? 'restarting' : live.status);

export function statusText(live: LiveState, c: ContainerRecord, now: number): string {
  if (c.cniContainerId != null) return live.status === 'running' ? `Attached (${c.runtime ?? 'cni'})` : `Gone (${c.runtime ?? 'cni'} removed its namespace)`;
  // The monitor's times when it has them (a restarted container's run is its latest), else the record's.
  const startedAt = live.startedAt === undefined ? c.startedAt : live.startedAt;
  const finishedAt = live.finishedAt === undefined ? c.finishedAt : live.finishedAt;
  const code = live.exitCode === null ? 'unknown' : String(live.exitCode);
  if (live.restarting === true) return finishedAt == null ? `Restarting (${code})` : `Restarting (${code}) ${since(finishedAt, now)} ago`;
  if (live.status === 'running') return startedAt == null ? 'Up' : `Up ${since(startedAt, now)}`;
  if (live.status === 'created') return 'Created';
  return finishedAt == null ? `Exited (${code})` : `Exited (${code}) ${since(finishedAt, now)} ago`;
}

/** docker/cli's DisplayablePorts: "0.0.0.0:8080->80/tcp, :::8080->80/tcp", exposed-only ports as "80/tcp". */
export function portsText(ports: readonly PortMapping[], exposed: readonly string[]): string {
  // docker/cli joins IP and port with a bare colon, IPv6 too (":::8080->80/tcp").
  const published = ports.map((p) => `${p.hostIp ?? '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.proto}`);
  const mapped = new Set(ports.map((p) => `${p.containerPort}/${p.proto}`));
  return [...published, ...exposed.filter((e) => !mapped.has(e))].join(', ');
}

function networksText(item: PsItem): string {
  const mode = item.container.networkMode;
  if (mode === 'host' || mode === 'none') return mode;
  return item.networks.map((n) => n.name).sort().join(',');
}

export function psRow(item: PsItem, opts: { trunc: boolean; now: number }): Record<string, unknown> {
  const c = item.container;
  const command = commandText(c);
  return {
    ID: opts.trunc ? c.id.slice(0, 12) : c.id,
    Image: c.imageRef ?? c.rootfs ?? '',
    Command: goQuote(opts.trunc ? ellipsis(command, 20) : command),
    CreatedAt: goTime(c.created),
    RunningFor: `${since(c.created, opts.now)} ago`,
    Ports: portsText(item.ports, c.exposedPorts ?? []),
    Status: statusText(item.live, c, opts.now),
    Size: '0B',
    Names: c.name,
    Labels: labelsText(c.labels ?? {}),
    Mounts: '',
    Networks: networksText(item),
    State: stateOf(item.live),
    // Labels come from the Docker API's create (Config.Labels) and from images.
    Label: labelMethod(c.labels ?? {}),
  };
}

/** "80", "80/udp" or "8000-8080/tcp" → a test on "PORT/PROTO" (tcp when no protocol is given). */
function portTest(name: string, value: string): (portProto: string) => boolean {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp|sctp))?$/.exec(value);
  if (m === null) throw invalidValue(name, value, 'PORT[-END][/PROTO], e.g. 80 or 8000-8080/udp');
  const low = Number(m[1]);
  const high = m[2] === undefined ? low : Number(m[2]);
  const proto = m[3] ?? 'tcp';
  return (pp) => {
    const [port, p] = pp.split('/');
    return p === proto && Number(port) >= low && Number(port) <= high;
  };
}

/** Checks every filter value up front, so a bad one fails before anything is listed. */
export function psMatcher(filters: Filters, all: readonly PsItem[]): (item: PsItem) => boolean {
  for (const s of filters.get('status') ?? []) if (!STATUSES.includes(s)) throw invalidValue('status', s, `one of ${STATUSES.join(', ')}`);
  for (const e of filters.get('exited') ?? []) if (!/^-?\d+$/.test(e)) throw invalidValue('exited', e, 'an exit code (a whole number)');
  const publish = (filters.get('publish') ?? []).map((v) => portTest('publish', v));
  const expose = (filters.get('expose') ?? []).map((v) => portTest('expose', v));
  const createdOf = (name: string, ref: string): string => {
    const found = all.find((i) => i.container.name === ref || i.container.id.startsWith(ref));
    if (found === undefined) throw invalidValue(name, ref, 'the name or id of an existing container');
    return found.container.created;
  };
  const before = (filters.get('before') ?? []).map((r) => createdOf('before', r));
  const after = (filters.get('since') ?? []).map((r) => createdOf('since', r));
  return (item) => {
    const c = item.container;
    const published = item.ports.map((p) => `${p.containerPort}/${p.proto}`);
    const exposed = [...published, ...(c.exposedPorts ?? [])];
    return (
      anyOf(filters, 'id', (v) => textMatches(v, c.id)) &&
      anyOf(filters, 'name', (v) => textMatches(v, c.name) || textMatches(v, `/${c.name}`)) &&
      anyOf(filters, 'status', (v) => v === stateOf(item.live)) &&
      anyOf(filters, 'exited', (v) => item.live.status === 'exited' && item.live.exitCode === Number(v)) &&
      anyOf(filters, 'network', (v) => item.networks.some((n) => n.name === v || n.id.startsWith(v)) || c.networkMode === v) &&
      allOf(filters, 'label', (v) => labelMatches(v, c.labels ?? {})) &&
      anyOf(filters, 'ancestor', (v) => c.rootfs === v || (c.imageRef != null && c.imageRef === v)) &&
      (publish.length === 0 || publish.some((t) => published.some(t))) &&
      (expose.length === 0 || expose.some((t) => exposed.some(t))) &&
      before.every((t) => c.created < t) &&
      after.every((t) => c.created > t)
    );
  };
}
