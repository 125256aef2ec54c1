/**
 * The host's own IPv6 when nsnet turns IPv6 forwarding on. With net.ipv6.conf.all.forwarding=1
 * Linux ignores router advertisements on every interface whose accept_ra is 1 (the default) and
 * purges the default routes they gave: a host that gets its IPv6 route by SLAAC (most clouds and
 * home networks) silently loses IPv6 when its first container network gets IPv6, a known Docker
 * surprise. nsnet sets accept_ra=2 ("accept even when forwarding") on those interfaces first,
 * records what it changed, and `system reset` puts it back, forwarding included.
 */
import { GENERATED_LINK } from '../engine/ids.js';
import { confKey, IP6_FORWARD } from '../engine/plans.js';
import type { Step } from '../plan/steps.js';
import type { Host } from '../host/port.js';
import type { Store } from '../store/index.js';
import type { Context } from './context.js';
import type { Draft } from './pipeline.js';

/** Settings key: what the host had before nsnet's first IPv6 network ({forwarding, acceptRa: {dev: value}}). */
export const HOST_IPV6_SETTING = 'host.ipv6.before';

export interface HostIPv6Before {
  forwarding: string;
  acceptRa: Record<string, string>;
}

const acceptRaKey = (dev: string): string => confKey('ipv6', dev, 'accept_ra');

/**
 * The host's interfaces that take router advertisements only while forwarding is off (accept_ra=1).
 * nsnet's own links are not among them: its IPv6 bridges take none (accept_ra=0, plans.ts) and
 * container ports are bridge ports.
 */
export function raDependentLinks(host: Host): string[] {
  return host
    .links()
    .map((l) => l.name)
    .filter((name) => name !== 'lo' && !GENERATED_LINK.test(name))
    // A link with IPv6 off (nsnet's IPv4-only bridges, whatever their name) takes no RA at all.
    .filter((name) => host.sysctl(acceptRaKey(name)) === '1' && host.sysctl(confKey('ipv6', name, 'disable_ipv6')) !== '1');
}

/** `system doctor`: router advertisements ignored because forwarding is on. */
export function raFinding(host: Host): { level: 'ok' | 'warn'; detail: string; fix?: string } {
  const forwarding = host.sysctl(IP6_FORWARD);
  if (forwarding === undefined) return { level: 'ok', detail: 'IPv6 is disabled on this kernel' };
  const links = raDependentLinks(host);
  if (forwarding !== '1') return { level: 'ok', detail: `IPv6 forwarding is off; nsnet sets accept_ra=2 on ${links.length === 0 ? 'the interfaces that take router advertisements' : links.join(', ')} before its first IPv6 network turns it on` };
  if (links.length === 0) return { level: 'ok', detail: 'IPv6 forwarding is on; no interface depends on router advertisements being accepted with accept_ra=1' };
  return {
    level: 'warn',
    detail: `IPv6 forwarding is on, so router advertisements are ignored on ${links.join(', ')} (accept_ra=1): a default route learned from them is gone`,
    fix: links.map((l) => `sysctl -w ${acceptRaKey(l)}=2`).join('; '),
  };
}

/**
 * Deciding: the steps that keep the host's router advertisements working, before a network's
 * bridge turns IPv6 forwarding on, and that forwarding step made undoable (a failed or interrupted
 * create puts both back). Nothing when forwarding is already on: the harm is done, or nsnet did
 * this before. Records the host's prior values once, for reset.
 */
export function keepHostRa(ctx: Context, draft: Draft, steps: readonly Step[]): Step[] {
  const forwarding = ctx.host.sysctl(IP6_FORWARD);
  if (forwarding === undefined || forwarding === '1') return [...steps];
  // A bridge named by its user (-o com.docker.network.bridge.name, CNI's "bridge") is nsnet's too,
  // though the generated-name pattern misses it: reset deletes it before it would restore it.
  const own = new Set(ctx.store.networks.list().map((n) => n.bridge));
  const links = raDependentLinks(ctx.host).filter((name) => !own.has(name));
  if (ctx.store.settings.get(HOST_IPV6_SETTING) === undefined) {
    const before: HostIPv6Before = { forwarding, acceptRa: Object.fromEntries(links.map((l) => [l, '1'])) };
    draft.write({ kind: 'set-setting', key: HOST_IPV6_SETTING, value: JSON.stringify(before) });
  }
  if (links.length > 0) {
    ctx.warn(
      `IPv6 forwarding makes Linux ignore router advertisements on ${links.join(', ')} (accept_ra=1) and drop the routes they gave: ` +
        'nsnet sets accept_ra=2 there so they are accepted again (a default route learned from them comes back with the next advertisement); system reset restores it',
    );
  }
  const keep = links.map((dev): Step => ({ kind: 'sysctl', key: acceptRaKey(dev), value: '2', undoValue: '1' }));
  return [...keep, ...steps.map((s) => (s.kind === 'sysctl' && s.key === IP6_FORWARD ? { ...s, undoValue: forwarding } : s))];
}

/** Reset: the host's IPv6 forwarding and accept_ra as they were before nsnet (steps, in order). */
export function restoreHostIPv6Steps(store: Store, host: Host): Step[] {
  const text = store.settings.get(HOST_IPV6_SETTING);
  if (text === undefined) return [];
  const before = JSON.parse(text) as HostIPv6Before;
  const existing = new Set(host.links().map((l) => l.name));
  return [
    { kind: 'sysctl', key: IP6_FORWARD, value: before.forwarding },
    ...Object.entries(before.acceptRa)
      .filter(([dev]) => existing.has(dev))
      .map(([dev, value]): Step => ({ kind: 'sysctl', key: acceptRaKey(dev), value })),
  ];
}
