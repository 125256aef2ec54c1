/**
 * `nsnet graph`: the live topology as the article's figure draws it — the outside world, the
 * host's uplink and NAT, each network's bridge with its gateway and subnet, the veth pairs
 * (host-side name ↔ container ethN) and each container with its addresses and published ports.
 * Pure: records in, a sorted model out, and the model rendered as text (fits 80 columns),
 * Mermaid or Graphviz dot. Everything is sorted, so the same state always draws the same.
 */
import { netemSummary } from '../core/netem.js';
import type { ContainerRecord, EndpointRecord, InterfaceState, NetworkRecord, P2pLinkRecord, PortRecord } from '../store/index.js';
import { MASQUERADE_OPTION } from './inspect.js';
import { anyAddressBindings } from './ports.js';

/** How a network reaches the outside. */
export type Uplink = 'nat' | 'routed' | 'internal';

export interface GraphNetwork {
  name: string;
  bridge: string;
  subnet: string;
  gateway: string;
  uplink: Uplink;
}

export interface GraphInterface {
  /** Inside the container, e.g. eth0. */
  ifName: string;
  /** Host side of the veth pair, plugged into the bridge. */
  hostIf: string;
  network: string;
  /** Address with the subnet's prefix length, e.g. 10.30.1.10/24. */
  address: string;
  /** What nsnet set on it: its impairment (`netem delay 40ms loss 2%`) and `link down`; empty when nothing. */
  notes?: string[] | undefined;
}

export interface GraphPort {
  hostIp: string | null;
  hostPort: number;
  containerPort: number;
  proto: string;
  network: string;
}

export interface GraphContainer {
  name: string;
  status: string;
  interfaces: GraphInterface[];
  ports: GraphPort[];
}

/** A point-to-point link (nsnet link add): a veth pair straight between two containers. */
export interface GraphLink {
  a: { container: string; ifName: string; address: string | null };
  b: { container: string; ifName: string; address: string | null };
}

export interface Topology {
  networks: GraphNetwork[];
  containers: GraphContainer[];
  /** Point-to-point links between containers of the topology (absent: none). */
  links?: GraphLink[] | undefined;
}

const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const ifIndex = (ifName: string): number => Number(/(\d+)$/.exec(ifName)?.[1] ?? 0);

export function uplinkOf(n: Pick<NetworkRecord, 'internal' | 'options'>): Uplink {
  if (n.internal) return 'internal';
  return n.options[MASQUERADE_OPTION] === 'false' ? 'routed' : 'nat';
}

export interface TopologyInput {
  networks: readonly NetworkRecord[];
  containers: ReadonlyArray<Pick<ContainerRecord, 'id' | 'name'> & { status: string }>;
  endpoints: readonly EndpointRecord[];
  ports: readonly PortRecord[];
  /** Impairments and held-down links of interfaces (netem set, link down). */
  interfaceStates?: readonly InterfaceState[] | undefined;
  /** Point-to-point links (drawn when both ends are among `containers`). */
  links?: readonly P2pLinkRecord[] | undefined;
}

/** An interface's impairment and link state as graph labels: `netem delay 40ms 5ms loss 2%`, `link down`. */
export function interfaceNotes(state: Pick<InterfaceState, 'netem' | 'linkDown'> | undefined): string[] {
  if (state === undefined) return [];
  const netem = state.netem === null ? '' : netemSummary(state.netem);
  return [...(netem === '' ? [] : [`netem ${netem}`]), ...(state.linkDown ? ['link down'] : [])];
}

/** The notes of a container's interface, if any: `{ notes }` to spread into a GraphInterface. */
function notesOf(input: TopologyInput, containerId: string, ifName: string): { notes?: string[] } {
  const notes = interfaceNotes(input.interfaceStates?.find((s) => s.containerId === containerId && s.ifName === ifName));
  return notes.length === 0 ? {} : { notes };
}

/** An interface's label with its notes: `eth0 10.0.0.2/24 [netem delay 40ms]`. */
const noted = (text: string, i: Pick<GraphInterface, 'notes'>): string => (i.notes === undefined || i.notes.length === 0 ? text : `${text} [${i.notes.join(', ')}]`);

/** IPv4 lines before IPv6 ones (as Docker lists 0.0.0.0 before [::]). */
const familyRank = (hostIp: string | null): number => (hostIp?.includes(':') === true ? 1 : 0);

/** A dual-stack value as one label: "10.30.0.0/24, 2001:db8:30::/64". */
const joined = (v4: string | null | undefined, v6: string | null | undefined): string => [v4, v6].filter((x) => x != null).join(', ');

/** Records → the model; endpoints of networks or containers not in the input are left out. */
export function topologyFrom(input: TopologyInput): Topology {
  const netById = new Map(input.networks.map((n) => [n.id, n]));
  const networks: GraphNetwork[] = input.networks
    .map((n) => ({ name: n.name, bridge: n.bridge, subnet: joined(n.subnet, n.subnet6), gateway: joined(n.gateway, n.gateway6), uplink: uplinkOf(n) }))
    .sort(byName);
  const containers: GraphContainer[] = input.containers
    .map((c) => {
      const eps = input.endpoints.filter((e) => e.containerId === c.id && netById.has(e.networkId));
      const netOf = new Map(eps.map((e) => [e.id, netById.get(e.networkId)!.name]));
      const interfaces = eps
        .map((e) => {
          const n = netById.get(e.networkId)!;
          const address = joined(e.ip === null ? null : `${e.ip}/${n.subnet?.split('/')[1] ?? '32'}`, e.ip6 == null ? null : `${e.ip6}/${n.subnet6?.split('/')[1] ?? '128'}`);
          return { ifName: e.ifName, hostIf: e.hostIf, network: n.name, address, ...notesOf(input, c.id, e.ifName) };
        })
        .sort((a, b) => ifIndex(a.ifName) - ifIndex(b.ifName) || (a.ifName < b.ifName ? -1 : a.ifName > b.ifName ? 1 : 0));
      const ports = input.ports
        .filter((p) => p.containerId === c.id && netOf.has(p.endpointId))
        // A port on every host address is published per family the container has, as Docker
        // lists 0.0.0.0 and [::]: one line each (only [::] for an IPv6-only container).
        .flatMap((p) => {
          const ep = eps.find((e) => e.id === p.endpointId);
          const families = ep === undefined ? [] : anyAddressBindings(ep.ip, ep.ip6 ?? null);
          return (p.hostIp === null && families.length > 0 ? families : [p.hostIp]).map((hostIp) => ({ hostIp, hostPort: p.hostPort, containerPort: p.containerPort, proto: p.proto, network: netOf.get(p.endpointId)! }));
        })
        .sort((a, b) => a.hostPort - b.hostPort || a.proto.localeCompare(b.proto) || familyRank(a.hostIp) - familyRank(b.hostIp) || (a.hostIp ?? '').localeCompare(b.hostIp ?? ''));
      return { name: c.name, status: c.status, interfaces, ports };
    })
    .sort(byName);
  const names = new Map(input.containers.map((c) => [c.id, c.name]));
  const links = (input.links ?? [])
    .filter((l) => names.has(l.aContainer) && names.has(l.bContainer))
    .map((l) => ({ a: { container: names.get(l.aContainer)!, ifName: l.aIf, address: l.aIp }, b: { container: names.get(l.bContainer)!, ifName: l.bIf, address: l.bIp } }));
  return links.length === 0 ? { networks, containers } : { networks, containers, links };
}

/** One end of a link as a label: `r1:eth1 10.0.12.1/30`. */
const endText = (e: GraphLink['a']): string => `${e.container}:${e.ifName}${e.address === null ? '' : ` ${e.address}`}`;

/** A container's link ends, for its box: `eth1 10.0.12.1/30 (p2p to r2:eth1)`. */
function linkLines(t: Topology, container: string): string[] {
  return (t.links ?? []).flatMap((l) =>
    [[l.a, l.b], [l.b, l.a]].filter(([own]) => own!.container === container).map(([own, peer]) => `${own!.ifName}${own!.address === null ? '' : ` ${own!.address}`} (p2p to ${peer!.container}:${peer!.ifName})`),
  );
}

export const portText = (p: GraphPort): string => `${p.hostIp === null ? '0.0.0.0' : p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp}:${p.hostPort}->${p.containerPort}/${p.proto}`;

/** The way out, as the article's figure draws it: the bridge, NAT, the host's uplink, the world. */
const UPLINK_TEXT: Record<Uplink, string> = {
  nat: 'outside <-- host uplink <-- NAT (masquerade) <--',
  routed: 'outside <-- host uplink <-- routed, no NAT <--',
  internal: 'no uplink, no NAT (internal) --',
};

// ---------------------------------------------------------------------------------------------
// Text

/**
 * Pack the parts onto lines of at most `width` columns: the first line starts with `first`, the
 * rest with `cont`; a part longer than a whole line is split.
 */
export function pack(first: string, cont: string, parts: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  const flush = (): void => {
    lines.push(line.trimEnd());
    line = cont;
    empty = true;
  };
  for (let part of parts) {
    const sep = empty ? '' : '  ';
    if (line.length + sep.length + part.length <= width) {
      line += sep + part;
      empty = false;
      continue;
    }
    if (!empty) flush();
    while (line.length + part.length > width) {
      const room = Math.max(1, width - line.length);
      line += part.slice(0, room);
      part = part.slice(room);
      flush();
    }
    if (part.length > 0) {
      line += part;
      empty = false;
    }
  }
  if (!empty || lines.length === 0) lines.push(line.trimEnd());
  return lines;
}

export function renderText(t: Topology, width = 80): string {
  const out: string[] = [];
  const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
  out.push(...pack('', '', [`nsnet topology: ${plural(t.networks.length, 'network')}, ${plural(t.containers.length, 'container')}`], width));
  const attached = (net: string): Array<{ c: GraphContainer; i: GraphInterface }> =>
    t.containers.flatMap((c) => c.interfaces.filter((i) => i.network === net).map((i) => ({ c, i })));
  for (const n of t.networks) {
    out.push('');
    out.push(...pack('', '    ', [`network ${n.name}`, `subnet ${n.subnet}`, `gateway ${n.gateway}`, `bridge ${n.bridge}`], width));
    out.push(...pack('  ', '    ', [UPLINK_TEXT[n.uplink], `bridge ${n.bridge}`], width));
    const eps = attached(n.name);
    if (eps.length === 0) out.push('  (no containers)');
    eps.forEach(({ c, i }, k) => {
      const last = k === eps.length - 1;
      out.push(...pack(`  ${last ? '`--' : '|--'} `, `  ${last ? '   ' : '|  '}     `, [`${i.hostIf} <-veth-> ${c.name}:${i.ifName}`, i.address, ...(i.notes ?? [])], width));
    });
  }
  for (const c of t.containers) {
    out.push('');
    out.push(...pack('', '    ', [`container ${c.name}`, `(${c.status})`], width));
    if (c.interfaces.length === 0) out.push('  (no interfaces)');
    for (const i of c.interfaces) out.push(...pack('  ', '        ', [i.ifName, i.address, `on ${i.network}`, `host side ${i.hostIf}`, ...(i.notes ?? [])], width));
    for (const p of c.ports) out.push(...pack('  ', '        ', ['port', portText(p), `on ${p.network}`], width));
    for (const line of linkLines(t, c.name)) out.push(...pack('  ', '        ', [line], width));
  }
  if ((t.links ?? []).length > 0) {
    out.push('', 'point-to-point links (veth pairs between containers, no bridge)');
    for (const l of t.links!) out.push(...pack('  ', '      ', [endText(l.a), '<-veth->', endText(l.b)], width));
  }
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// Mermaid

const mermaidText = (s: string): string => s.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');

export function renderMermaid(t: Topology): string {
  const out = ['flowchart LR'];
  const netId = new Map(t.networks.map((n, k) => [n.name, `n${k}`]));
  const hasOutside = t.networks.some((n) => n.uplink !== 'internal') || t.containers.some((c) => c.ports.length > 0);
  if (hasOutside) out.push('  outside(("outside"))');
  t.networks.forEach((n, k) => {
    const lines = [`network ${n.name}`, `bridge ${n.bridge}`, `gateway ${n.gateway}`, `subnet ${n.subnet}`];
    if (n.uplink === 'internal') lines.push('internal');
    out.push(`  n${k}["${lines.map(mermaidText).join('<br/>')}"]`);
  });
  t.containers.forEach((c, k) => {
    const lines = [`container ${c.name}`, ...c.interfaces.map((i) => noted(`${i.ifName} ${i.address}`, i)), ...linkLines(t, c.name)];
    out.push(`  c${k}["${lines.map(mermaidText).join('<br/>')}"]`);
  });
  t.networks.forEach((n, k) => {
    if (n.uplink === 'nat') out.push(`  outside ---|"${mermaidText('NAT (masquerade) via host uplink')}"| n${k}`);
    if (n.uplink === 'routed') out.push(`  outside ---|"${mermaidText('routed via host uplink')}"| n${k}`);
  });
  t.containers.forEach((c, k) => {
    for (const i of c.interfaces) out.push(`  ${netId.get(i.network)!} ---|"${mermaidText(noted(`${i.hostIf} <-> ${i.ifName}`, i))}"| c${k}`);
    for (const p of c.ports) out.push(`  outside -.->|"${mermaidText(portText(p))}"| c${k}`);
  });
  const ctrId = new Map(t.containers.map((c, k) => [c.name, `c${k}`]));
  for (const l of t.links ?? []) out.push(`  ${ctrId.get(l.a.container)!} ===|"${mermaidText(`${endText(l.a)} <-> ${endText(l.b)}`)}"| ${ctrId.get(l.b.container)!}`);
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// Graphviz dot

const dotString = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const dotLabel = (lines: readonly string[]): string => `"${lines.map((l) => l.replace(/\\/g, '\\\\').replace(/"/g, '\\"')).join('\\n')}"`;

export function renderDot(t: Topology): string {
  const out = ['graph nsnet {', '  rankdir=LR;', '  node [fontname="Helvetica", fontsize=11];', '  edge [fontname="Helvetica", fontsize=9];'];
  const hasOutside = t.networks.some((n) => n.uplink !== 'internal') || t.containers.some((c) => c.ports.length > 0);
  if (hasOutside) out.push('  outside [shape=ellipse, style=dashed, label="outside"];');
  for (const n of t.networks) {
    const lines = [`network ${n.name}`, `bridge ${n.bridge}`, `gateway ${n.gateway}`, `subnet ${n.subnet}`];
    if (n.uplink === 'internal') lines.push('internal');
    out.push(`  ${dotString(`net:${n.name}`)} [shape=box, style=rounded, label=${dotLabel(lines)}];`);
  }
  for (const c of t.containers) {
    const lines = [`container ${c.name}`, ...c.interfaces.map((i) => noted(`${i.ifName} ${i.address}`, i)), ...linkLines(t, c.name)];
    out.push(`  ${dotString(`ctr:${c.name}`)} [shape=box, label=${dotLabel(lines)}];`);
  }
  for (const n of t.networks) {
    if (n.uplink === 'nat') out.push(`  outside -- ${dotString(`net:${n.name}`)} [label="NAT (masquerade)\\nvia host uplink"];`);
    if (n.uplink === 'routed') out.push(`  outside -- ${dotString(`net:${n.name}`)} [label="routed\\nvia host uplink"];`);
  }
  for (const c of t.containers) {
    for (const i of c.interfaces) {
      const style = i.notes?.includes('link down') === true ? 'style=dashed, ' : '';
      out.push(`  ${dotString(`net:${i.network}`)} -- ${dotString(`ctr:${c.name}`)} [${style}label=${dotLabel([`${i.hostIf} <-> ${i.ifName}`, ...(i.notes ?? [])])}];`);
    }
    for (const p of c.ports) out.push(`  outside -- ${dotString(`ctr:${c.name}`)} [style=dotted, label=${dotLabel([`port ${portText(p)}`])}];`);
  }
  for (const l of t.links ?? []) out.push(`  ${dotString(`ctr:${l.a.container}`)} -- ${dotString(`ctr:${l.b.container}`)} [style=bold, label=${dotLabel(['p2p', endText(l.a), endText(l.b)])}];`);
  out.push('}');
  return out.join('\n') + '\n';
}
