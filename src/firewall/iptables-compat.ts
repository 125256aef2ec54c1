/**
 * Accept rules for nsnet's traffic in the host's iptables FORWARD chain, used by the nftables
 * driver when that chain drops by default. They accept only what nsnet's own nftables rules let
 * through (isolation and internal networks are still enforced there: a drop in any table is
 * final), so they open nothing else.
 *
 * The chain is written like every other chain nsnet keeps in iptables: one `xtables-restore`
 * step, one `iptables-restore --noflush` run that declares NSNET-FORWARD, fills it and adds (or
 * deletes) the one jump from FORWARD, applied whole or not at all (see kernel/xtables.ts).
 */
import type { Step, XtablesChains } from '../plan/steps.js';
import type { IptablesCompat } from './driver.js';
import type { FirewallNetwork, FirewallState } from './model.js';

export const COMPAT_TABLE = 'filter';
export const COMPAT_FROM = 'FORWARD';
export const COMPAT_CHAIN = 'NSNET-FORWARD';

/** NSNET-FORWARD and its jump from the top of FORWARD. */
export const COMPAT: XtablesChains = {
  tool: 'iptables',
  table: COMPAT_TABLE,
  chains: [COMPAT_CHAIN],
  jumps: [{ from: COMPAT_FROM, to: COMPAT_CHAIN }],
};
/** The same in ip6tables, for IPv6 networks on a host whose ip6tables FORWARD drops (Docker 27). */
export const COMPAT6: XtablesChains = { ...COMPAT, tool: 'ip6tables' };

/** Some network has an IPv6 subnet (then ip6tables' FORWARD matters). */
export const hasIpv6 = (state: FirewallState): boolean => state.networks.some((n) => n.subnet6 !== null && n.subnet6 !== undefined);

/** The chain's rules for these networks; null (no chain, no jump) when there are none. */
export function compatRules(networks: readonly FirewallNetwork[]): string[] | null {
  if (networks.length === 0) return null;
  const rules: string[] = [];
  for (const n of networks) {
    const c = `-m comment --comment "nsnet network ${n.name}"`;
    const add = (spec: string): number => rules.push(`-A ${COMPAT_CHAIN} ${spec} ${c} -j ACCEPT`);
    if (n.internal) {
      add(`-i ${n.bridge} -o ${n.bridge}`);
      continue;
    }
    add(`-i ${n.bridge}`);
    add(`-o ${n.bridge} -m conntrack --ctstate RELATED,ESTABLISHED`);
    if (!n.masquerade) add(`-o ${n.bridge}`);
  }
  return rules;
}

/**
 * The step that makes NSNET-FORWARD hold the rules for `after`'s networks (or removes it with
 * its jump when there are none). Its undo restores the chain for `before` when the chain was
 * there, and removes it when nsnet made it now.
 */
export function compatStep(before: FirewallState, after: FirewallState, compat: IptablesCompat, summary: string, family: 4 | 6 = 4): Step {
  // ip6tables: only while a network has IPv6 (the chain goes with the last one).
  const rules = (s: FirewallState): string[] | null => (family === 6 && !hasIpv6(s) ? null : compatRules(s.networks));
  return {
    kind: 'xtables-restore',
    ...(family === 6 ? COMPAT6 : COMPAT),
    rules: rules(after),
    undoRules: compat.existedBefore ? rules(before) : null,
    summary,
  };
}
