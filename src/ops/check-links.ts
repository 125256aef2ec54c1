/**
 * `system check` for point-to-point links: each recorded link between two containers whose
 * namespaces are there is a veth at both ends, up, with its recorded addresses. A missing link is
 * made again with --fix (the same steps `link add` and `start` use); a missing address is added,
 * an end that is down brought up. Links of a container without its namespace (after a reboot)
 * are `start`'s to make, not a difference.
 */
import { ownsNamespace } from '../engine/netmode.js';
import { parseLinkAddress } from '../engine/p2p.js';
import type { Step } from '../plan/steps.js';
import type { Context } from './context.js';
import { linkSteps } from './p2p-links.js';

export interface LinkDifference {
  /** The container the difference is reported on (the link's first end). */
  container: string;
  problem: string;
  fix?: string | undefined;
  steps?: Step[] | undefined;
}

export function linkDifferences(ctx: Context): LinkDifference[] {
  const out: LinkDifference[] = [];
  for (const l of ctx.store.links.list()) {
    const a = ctx.store.containers.get(l.aContainer);
    const b = ctx.store.containers.get(l.bContainer);
    if (a === undefined || b === undefined || !ownsNamespace(a) || !ownsNamespace(b)) continue;
    if (!ctx.host.isMountedNetns(a.name) || !ctx.host.isMountedNetns(b.name)) continue;
    const name = `point-to-point link ${a.name}:${l.aIf} <-> ${b.name}:${l.bIf}`;
    const ends = [
      { ns: a.name, ifName: l.aIf, ip: l.aIp },
      { ns: b.name, ifName: l.bIf, ip: l.bIp },
    ];
    const found = ends.map((e) => ctx.host.links(e.ns).find((x) => x.name === e.ifName));
    if (found.every((f) => f === undefined)) {
      out.push({ container: a.name, problem: `${name} is missing`, fix: 'make it again', steps: linkSteps(ctx.store, l) });
      continue;
    }
    ends.forEach((e, i) => {
      const link = found[i];
      if (link === undefined || link.kind !== 'veth') {
        out.push({ container: a.name, problem: `${name}: ${e.ns} has ${link === undefined ? 'no' : `a ${link.kind ?? 'non-veth'} link`} ${e.ifName}${link === undefined ? '' : ', not the veth end'}` });
        return;
      }
      if (!link.up) out.push({ container: a.name, problem: `${name}: ${e.ifName} in ${e.ns} is down`, fix: 'bring it up', steps: [{ kind: 'link-up', ns: e.ns, dev: e.ifName }] });
      if (e.ip !== null) {
        const want = parseLinkAddress(e.ip, 'recorded address');
        const has = ctx.host.addresses(e.ns).some((x) => x.index === link.index && x.address === want.address && x.prefixLen === want.prefixLen);
        if (!has) out.push({ container: a.name, problem: `${name}: ${e.ifName} in ${e.ns} lacks ${e.ip}`, fix: 'add it', steps: [{ kind: 'addr-add', ns: e.ns, dev: e.ifName, address: want.address, prefixLen: want.prefixLen }] });
      }
    });
  }
  return out;
}
