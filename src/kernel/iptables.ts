/**
 * What nsnet reads from the host's iptables: whether the tools are there, whether the filter
 * table's FORWARD chain drops by default, whether a chain exists. Every change nsnet makes to
 * iptables goes through one mechanism, `iptables-restore --noflush` (kernel/xtables.ts).
 *
 * Why FORWARD's policy matters: a drop in any base chain is final, so when the host's iptables
 * FORWARD chain drops by default (as Docker leaves it), nsnet's own nftables accepts cannot keep
 * its traffic flowing; nsnet then keeps a chain of its own there, NSNET-FORWARD, reached by one
 * jump from FORWARD (see firewall/iptables-compat.ts).
 */
import { runTool } from './xtables.js';
import { onPath } from './which.js';

/** iptables, iptables-save and iptables-restore are installed: nsnet reads with save, writes with restore. */
export function iptablesAvailable(): boolean {
  return onPath('iptables') && onPath('iptables-save') && onPath('iptables-restore');
}

/**
 * `iptables -w -S ...` (-w: wait for the xtables lock instead of failing when another tool holds
 * it); `ip6tables` for family 6 (Docker 27 sets ip6tables' FORWARD policy to DROP as well).
 */
const listRules = (table: string, chain: string, family: 4 | 6): { status: number; stdout: string } =>
  runTool(family === 6 ? 'ip6tables' : 'iptables', ['-w', '-t', table, '-S', chain]);

/** True when the filter table's FORWARD chain has policy DROP (of ip6tables for family 6). */
export function iptablesForwardDrops(family: 4 | 6 = 4): boolean {
  const r = listRules('filter', 'FORWARD', family);
  return r.status === 0 && /^-P FORWARD DROP$/m.test(r.stdout);
}

export function iptablesChainExists(table: string, chain: string, family: 4 | 6 = 4): boolean {
  return listRules(table, chain, family).status === 0;
}
