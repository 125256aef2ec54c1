/**
 * Accept rules for nsnet's traffic in the host's iptables FORWARD chain, used when that chain
 * drops by default. They accept only what nsnet's own nftables rules let through (isolation and
 * internal networks are still enforced there: a drop in any table is final), so they open
 * nothing else.
 */
import type { FirewallNetwork } from './model.js';

export const COMPAT_TABLE = 'filter';
export const COMPAT_FROM = 'FORWARD';
export const COMPAT_CHAIN = 'NSNET-FORWARD';

export function compatRules(networks: readonly FirewallNetwork[]): string[] {
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
