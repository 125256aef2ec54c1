/**
 * A lab's point-to-point links (`links:` in the file): checked with the rest of the file before
 * anything is made, and made by `up` once both ends exist (ops/p2p-links.ts). A link is part of
 * both its containers' declarations: a link added, changed or dropped remakes its two ends
 * (deleting a link takes the routes through it with it), which then get it again.
 */
import { NsnetError } from '../core/errors.js';
import { linkAddresses, linkSubnet, parseEndpoint, parseLinkAddress, subnetsOverlap, type LinkAddress } from '../engine/p2p.js';
import { addP2pLink } from '../ops/p2p-links.js';
import type { Context } from '../ops/context.js';

export interface RawLink {
  endpoints: [string, string];
  ips?: [string, string];
}

export interface LabLinkEnd {
  /** The container's name in the file. */
  key: string;
  /** The container's name: LAB-KEY. */
  name: string;
  ifName: string;
}

export interface LabLink {
  ends: [LabLinkEnd, LabLinkEnd];
  /** The two ends' addresses with prefix, in the order of `ends`. */
  ips?: [string, string] | undefined;
  /** Hash of the declaration (enters both containers' hashes). */
  hash: string;
}

/** What is wrong, and where in the file (a path of keys and indexes). */
export interface LinkProblem {
  path: Array<string | number>;
  message: string;
}

/** Every link of the file checked against its containers and the other links. */
export function labLinkProblems(links: readonly RawLink[], containers: Record<string, { networks: string[] | Record<string, unknown> }>): LinkProblem[] {
  const problems: LinkProblem[] = [];
  const used = new Map<string, number>(); // KEY:IFACE → the link (index) that has it
  const subnets = new Map<string, Array<{ link: number; ip: LinkAddress }>>(); // container key → its links' addresses
  links.forEach((link, i) => {
    const at = (path: Array<string | number>, message: string): void => void problems.push({ path: ['links', i, ...path], message: `links[${i}]: ${message}` });
    const ends = link.endpoints.map((text, j) => {
      try {
        const e = parseEndpoint(text);
        const c = containers[e.container];
        if (c === undefined) {
          at(['endpoints', j], `endpoint ${text}: container "${e.container}" is not declared under containers (declared: ${Object.keys(containers).join(', ') || 'none'})`);
          return undefined;
        }
        const networks = Array.isArray(c.networks) ? c.networks.length : Object.keys(c.networks).length;
        if (/^eth\d+$/.test(e.ifName) && Number(e.ifName.slice(3)) < networks) {
          at(['endpoints', j], `endpoint ${text}: ${e.ifName} is container ${e.container}'s interface on its network ${Number(e.ifName.slice(3)) + 1} (eth0 to eth${networks - 1} are its networks'); choose another name, e.g. eth${networks}`);
          return undefined;
        }
        const holder = used.get(text);
        if (holder !== undefined) {
          at(['endpoints', j], `endpoint ${text} is already linked${holder === i ? ' (both ends are the same)' : ` by links[${holder}]`}: each interface has one link`);
          return undefined;
        }
        used.set(text, i);
        return e;
      } catch (err) {
        if (!(err instanceof NsnetError)) throw err;
        at(['endpoints', j], err.message);
        return undefined;
      }
    });
    const [a, b] = ends;
    if (a !== undefined && b !== undefined && a.container === b.container) at(['endpoints'], `both ends are in container ${a.container}; a link joins two containers`);
    try {
      const ips = linkAddresses(link.ips, link.endpoints);
      ips?.forEach((ip, j) => {
        const key = ends[j]?.container;
        if (key === undefined) return;
        const own = subnets.get(key) ?? [];
        const clash = own.find((o) => subnetsOverlap(o.ip, ip));
        if (clash !== undefined) at(['ips', j], `address ${link.ips![j]} of ${link.endpoints[j]}: ${linkSubnet(ip)} overlaps links[${clash.link}]'s ${linkSubnet(clash.ip)} on the same container`);
        subnets.set(key, [...own, { link: i, ip }]);
      });
    } catch (err) {
      if (!(err instanceof NsnetError)) throw err;
      at(['ips'], err.message);
    }
  });
  return problems;
}

/** The file's links, checked already, with the containers' full names. */
export function normaliseLinks(links: readonly RawLink[], lab: string, hashOf: (v: unknown) => string): LabLink[] {
  return links.map((l) => {
    const ends = l.endpoints.map((text) => {
      const e = parseEndpoint(text);
      return { key: e.container, name: `${lab}-${e.container}`, ifName: e.ifName };
    }) as [LabLinkEnd, LabLinkEnd];
    const ips = l.ips === undefined ? undefined : ([l.ips[0], l.ips[1]] as [string, string]);
    return { ends, ips, hash: hashOf({ endpoints: l.endpoints, ips }) };
  });
}

/** Whether a route's gateway is on this link (its subnet), as seen from container `key`. */
export function carriesVia(link: LabLink, key: string, via: string): boolean {
  if (link.ips === undefined || !link.ends.some((e) => e.key === key)) return false;
  const own = parseLinkAddress(link.ips[link.ends[0].key === key ? 0 : 1], 'link address');
  const family = via.includes(':') ? 6 : 4;
  return family === own.family && subnetsOverlap(own, { address: via, prefixLen: family === 4 ? 32 : 128, family });
}

/** `up`: make each declared link that is not there (one of its ends was just made). */
export function missingLinks(ctx: Context, links: readonly LabLink[]): LabLink[] {
  return links.filter((l) => {
    const a = ctx.store.containers.byIdOrName(l.ends[0].name);
    return a === undefined || !ctx.store.links.forContainer(a.id).some((r) => (r.aContainer === a.id ? r.aIf : r.bIf) === l.ends[0].ifName);
  });
}

export function makeLink(ctx: Context, l: LabLink): void {
  addP2pLink(ctx, { endpoints: [`${l.ends[0].name}:${l.ends[0].ifName}`, `${l.ends[1].name}:${l.ends[1].ifName}`], ips: l.ips });
}

/** A link's name in progress lines: `r1:eth1-r2:eth1`. */
export const linkLabel = (l: LabLink): string => `${l.ends[0].name}:${l.ends[0].ifName}-${l.ends[1].name}:${l.ends[1].ifName}`;
