/**
 * Point-to-point links: `nsnet link add r1:eth1 r2:eth1 [--ip A --ip B]`, `link rm r1:eth1`,
 * `link ls`. A veth pair straight between two containers' namespaces (see engine/p2p.ts), made
 * and removed through the commit pipeline. The record goes with either container (the store's
 * ON DELETE CASCADE), as the pair goes with either namespace; `start` after a reboot makes a
 * container's links again towards every peer whose namespace is there.
 */
import { NsnetError } from '../core/errors.js';
import { newId } from '../engine/ids.js';
import type { PointToPointView } from '../engine/inspect-container.js';
import { isHostMode, joinedContainerId, ownsNamespace } from '../engine/netmode.js';
import {
  formatLinkAddress,
  linkAddresses,
  linkSubnet,
  parseEndpoint,
  parseLinkAddress,
  planP2pLink,
  planRemoveP2pLink,
  subnetsOverlap,
  type LinkAddress,
  type LinkEnd,
} from '../engine/p2p.js';
import type { Step } from '../plan/steps.js';
import type { ContainerRecord, P2pLinkRecord, Store } from '../store/index.js';
import type { Context } from './context.js';
import { commit, decide } from './pipeline.js';
import { isCniContainer } from './specs.js';

export interface LinkAddInput {
  /** CONTAINER:IFACE, twice. */
  endpoints: readonly [string, string];
  /** Two addresses with prefix (first end's, then the second's), or none. */
  ips?: readonly string[] | undefined;
}

/** A link as `link ls` and inspect show it: container names rather than ids. */
export interface LinkView {
  id: string;
  a: { container: string; ifName: string; ip: string | null };
  b: { container: string; ifName: string; ip: string | null };
  created: string;
}

export function addP2pLink(ctx: Context, input: LinkAddInput): P2pLinkRecord {
  return ctx.locked(() => commit(ctx, decide(ctx, () => {
    const record = decideAdd(ctx, input);
    return { op: `link add ${input.endpoints[0]} ${input.endpoints[1]}`, mode: 'rollback', writes: [{ kind: 'insert-p2p-link', record }], steps: linkSteps(ctx.store, record), result: record };
  })));
}

/** Either end names the link: `r1:eth1`. */
export function removeP2pLink(ctx: Context, ref: string): P2pLinkRecord {
  return ctx.locked(() => {
    const link = resolveLink(ctx.store, ref);
    const end = (id: string, ifName: string): LinkEnd | undefined => {
      const c = ctx.store.containers.get(id);
      return c !== undefined && (ctx.dryRun || ctx.host.netnsExists(c.name)) ? { ns: c.name, ifName } : undefined;
    };
    const steps = planRemoveP2pLink(end(link.aContainer, link.aIf), end(link.bContainer, link.bIf));
    return commit(ctx, decide(ctx, () => ({ op: `link rm ${ref}`, mode: 'finish', writes: [{ kind: 'delete-p2p-link', id: link.id }], steps, result: link })));
  });
}

export function listP2pLinks(ctx: Context): LinkView[] {
  return ctx.store.links.list().map((l) => viewOf(ctx.store, l));
}

export function viewOf(store: Store, l: P2pLinkRecord): LinkView {
  const name = (id: string): string => store.containers.get(id)?.name ?? id;
  return {
    id: l.id,
    a: { container: name(l.aContainer), ifName: l.aIf, ip: l.aIp },
    b: { container: name(l.bContainer), ifName: l.bIf, ip: l.bIp },
    created: l.created,
  };
}

/** The interface names a container's links use (network connect picks its next ethN around them). */
export function linkIfNames(store: Store, containerId: string): string[] {
  return store.links.forContainer(containerId).map((l) => (l.aContainer === containerId ? l.aIf : l.bIf));
}

/**
 * `start` of a container whose namespace is made again (after a reboot): its links towards every
 * peer whose namespace is there; the others are made when that peer starts.
 */
export function p2pRestoreSteps(ctx: Context, c: ContainerRecord): Step[] {
  return ctx.store.links.forContainer(c.id).flatMap((l) => {
    const peer = ctx.store.containers.get(l.aContainer === c.id ? l.bContainer : l.aContainer);
    if (peer === undefined || !ownsNamespace(peer) || !ctx.host.netnsExists(peer.name)) return [];
    return linkSteps(ctx.store, l);
  });
}

/** The steps that make a recorded link. */
export function linkSteps(store: Store, l: P2pLinkRecord): Step[] {
  const nameOf = (id: string): string => store.containers.get(id)!.name;
  const ip = (text: string | null): LinkAddress | undefined => (text === null ? undefined : parseLinkAddress(text, 'recorded address'));
  return planP2pLink({ ns: nameOf(l.aContainer), ifName: l.aIf, ip: ip(l.aIp) }, { ns: nameOf(l.bContainer), ifName: l.bIf, ip: ip(l.bIp) });
}

function resolveLink(store: Store, ref: string): P2pLinkRecord {
  const { container, ifName } = parseEndpoint(ref);
  const c = store.containers.resolve(container);
  const found = store.links.forContainer(c.id).find((l) => (l.aContainer === c.id && l.aIf === ifName) || (l.bContainer === c.id && l.bIf === ifName));
  if (found === undefined) {
    const have = linkIfNames(store, c.id);
    throw new NsnetError('NOT_FOUND', `no point-to-point link at ${c.name}:${ifName}`, {
      hint: have.length === 0 ? `container ${c.name} has no links (nsnet link ls)` : `its links: ${have.map((i) => `${c.name}:${i}`).join(', ')}`,
    });
  }
  return found;
}

/** Everything checked before anything is made: names, containers, interface names, addresses. */
function decideAdd(ctx: Context, input: LinkAddInput): P2pLinkRecord {
  const [ea, eb] = input.endpoints.map(parseEndpoint) as [ReturnType<typeof parseEndpoint>, ReturnType<typeof parseEndpoint>];
  const a = linkable(ctx, ea.container, input.endpoints[0]);
  const b = linkable(ctx, eb.container, input.endpoints[1]);
  if (a.id === b.id) {
    throw new NsnetError('INVALID_VALUE', `invalid link ${input.endpoints[0]} ${input.endpoints[1]}: both ends are in container ${a.name}; a link joins two containers`, {
      hint: 'give two different containers',
    });
  }
  const ips = linkAddresses(input.ips, input.endpoints);
  for (const [c, e, ip] of [[a, ea, ips?.[0]], [b, eb, ips?.[1]]] as const) {
    refuseTakenIfName(ctx.store, c, e.ifName);
    if (ip !== undefined) refuseOverlap(ctx.store, c, ip);
  }
  return {
    id: newId(),
    aContainer: a.id,
    aIf: ea.ifName,
    aIp: ips === undefined ? null : formatLinkAddress(ips[0]),
    bContainer: b.id,
    bIf: eb.ifName,
    bIp: ips === undefined ? null : formatLinkAddress(ips[1]),
    created: new Date().toISOString(),
  };
}

/** A container that can take a link: one with a namespace of its own, nsnet's, there now. */
function linkable(ctx: Context, ref: string, endpoint: string): ContainerRecord {
  const c = ctx.store.containers.byIdOrName(ref);
  if (c === undefined) throw new NsnetError('NOT_FOUND', `invalid link endpoint ${endpoint}: no container named ${ref}`, { hint: 'see nsnet ps -a' });
  const works = 'containers on networks and --network none containers can be linked';
  if (isHostMode(c)) {
    throw new NsnetError('INVALID_VALUE', `invalid link endpoint ${endpoint}: container ${c.name} runs in the host's network namespace (--network host), which nsnet never changes`, { hint: works });
  }
  const joined = joinedContainerId(c.networkMode);
  if (joined !== undefined) {
    const owner = ctx.store.containers.get(joined)?.name ?? joined;
    throw new NsnetError('INVALID_VALUE', `invalid link endpoint ${endpoint}: container ${c.name} shares container ${owner}'s network namespace (--network container:${owner})`, {
      hint: `link ${owner} instead: its interfaces are ${c.name}'s`,
    });
  }
  if (isCniContainer(c)) {
    throw new NsnetError('FORBIDDEN', `invalid link endpoint ${endpoint}: container ${c.name} belongs to ${c.runtime ?? 'a container runtime'} (CNI), whose namespace nsnet only attaches networks to`, { hint: works });
  }
  if (!ctx.dryRun && !ctx.host.netnsExists(c.name)) {
    throw new NsnetError('STATE', `invalid link endpoint ${endpoint}: container ${c.name} has no network namespace now (lost with a reboot)`, { hint: `start it first (nsnet start ${c.name})` });
  }
  return c;
}

/** Each interface name once per container: its networks' ethN and its other links' ends. */
function refuseTakenIfName(store: Store, c: ContainerRecord, ifName: string): void {
  const ep = store.endpoints.forContainer(c.id).find((e) => e.ifName === ifName);
  if (ep !== undefined) {
    const net = store.networks.get(ep.networkId)?.name ?? ep.networkId;
    throw new NsnetError('NAME_IN_USE', `invalid link endpoint ${c.name}:${ifName}: ${ifName} is container ${c.name}'s interface on network ${net}`, {
      hint: `choose another name (${c.name} uses ${usedNames(store, c).join(', ')})`,
    });
  }
  const linked = store.links.forContainer(c.id).find((l) => (l.aContainer === c.id ? l.aIf : l.bIf) === ifName);
  if (linked !== undefined) {
    const v = viewOf(store, linked);
    throw new NsnetError('NAME_IN_USE', `invalid link endpoint ${c.name}:${ifName}: it is already linked (${v.a.container}:${v.a.ifName} ↔ ${v.b.container}:${v.b.ifName})`, {
      hint: `remove that link first (nsnet link rm ${c.name}:${ifName}) or choose another name (${c.name} uses ${usedNames(store, c).join(', ')})`,
    });
  }
}

const usedNames = (store: Store, c: ContainerRecord): string[] => ['lo', ...store.endpoints.forContainer(c.id).map((e) => e.ifName), ...linkIfNames(store, c.id)];

/** A link's subnet must not overlap the container's networks or its other links: its routes would clash. */
function refuseOverlap(store: Store, c: ContainerRecord, ip: LinkAddress): void {
  const taken: Array<{ what: string; subnet: string }> = [];
  for (const ep of store.endpoints.forContainer(c.id)) {
    const n = store.networks.get(ep.networkId);
    if (n === undefined) continue;
    for (const s of [n.subnet, (n as { subnet6?: string | null }).subnet6]) if (typeof s === 'string' && s !== '') taken.push({ what: `network ${n.name}`, subnet: s });
  }
  for (const l of store.links.forContainer(c.id)) {
    const own = l.aContainer === c.id ? l.aIp : l.bIp;
    if (own !== null) taken.push({ what: `its link ${l.aContainer === c.id ? l.aIf : l.bIf}`, subnet: own });
  }
  for (const t of taken) {
    const other = parseLinkAddress(t.subnet, t.what);
    if (subnetsOverlap(ip, other)) {
      throw new NsnetError('SUBNET_OVERLAP', `invalid link address ${formatLinkAddress(ip)} for ${c.name}: ${linkSubnet(ip)} overlaps ${t.what}'s ${linkSubnet(other)}`, {
        hint: 'give the link a subnet of its own',
      });
    }
  }
}

/** inspect's NetworkSettings.PointToPoint of a container: each of its links from its own end. */
export function pointToPointOf(store: Store, containerId: string): PointToPointView[] {
  return store.links.forContainer(containerId).map((l) => {
    const v = viewOf(store, l);
    const [own, peer] = l.aContainer === containerId ? [v.a, v.b] : [v.b, v.a];
    return { InterfaceName: own.ifName, Address: own.ip ?? '', PeerContainer: peer.container, PeerInterface: peer.ifName, PeerAddress: peer.ip ?? '' };
  });
}
