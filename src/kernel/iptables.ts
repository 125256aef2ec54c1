/**
 * The iptables side of coexistence. A drop in any base chain is final, so when the host's
 * iptables FORWARD chain drops by default (as Docker leaves it), nsnet's own nftables accepts
 * cannot keep its traffic flowing: nsnet then keeps a chain of its own in the iptables filter
 * table, NSNET-FORWARD, reached by one jump from FORWARD — the same shape as Docker's
 * DOCKER-FORWARD — and touches nothing else there.
 */
import { spawnSync } from 'node:child_process';
import { NsnetError } from '../core/errors.js';
import { onPath } from './which.js';

export function iptablesAvailable(): boolean {
  return onPath('iptables') && onPath('iptables-restore');
}

function iptables(args: readonly string[], input?: string): { status: number; stdout: string; stderr: string } {
  // -w: wait for the xtables lock instead of failing when another tool holds it.
  const r = spawnSync(args[0] === 'restore' ? 'iptables-restore' : 'iptables', args[0] === 'restore' ? args.slice(1) : ['-w', ...args], {
    encoding: 'utf8',
    input,
  });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: (r.stderr || r.error?.message) ?? '' };
}

/** True when the filter table's FORWARD chain has policy DROP (or REJECT-like default). */
export function iptablesForwardDrops(): boolean {
  const r = iptables(['-t', 'filter', '-S', 'FORWARD']);
  return r.status === 0 && /^-P FORWARD DROP$/m.test(r.stdout);
}

export function iptablesChainExists(table: string, chain: string): boolean {
  return iptables(['-t', table, '-S', chain]).status === 0;
}

/** Replace the rules of nsnet's own chain (created when missing) in one iptables-restore run. */
export function iptablesRestoreChain(table: string, chain: string, rules: readonly string[]): void {
  // With --noflush, declaring a user chain creates it or flushes just that chain.
  const script = [`*${table}`, `:${chain} - [0:0]`, ...rules, 'COMMIT', ''].join('\n');
  const r = iptables(['restore', '-w', '--noflush'], script);
  if (r.status !== 0) throw new NsnetError('FIREWALL', `iptables-restore: ${r.stderr.trim()}`);
}

/** Make sure `from` jumps to `to` exactly once, at the top. */
export function iptablesEnsureJump(table: string, from: string, to: string): void {
  if (iptables(['-t', table, '-C', from, '-j', to]).status === 0) return;
  const r = iptables(['-t', table, '-I', from, '1', '-j', to]);
  if (r.status !== 0) throw new NsnetError('FIREWALL', `iptables -I ${from} -j ${to}: ${r.stderr.trim()}`);
}

/** Remove the jump and nsnet's chain; what is already gone is fine. */
export function iptablesRemoveChain(table: string, from: string, chain: string): void {
  while (iptables(['-t', table, '-C', from, '-j', chain]).status === 0) {
    const r = iptables(['-t', table, '-D', from, '-j', chain]);
    if (r.status !== 0) throw new NsnetError('FIREWALL', `iptables -D ${from} -j ${chain}: ${r.stderr.trim()}`);
  }
  if (!iptablesChainExists(table, chain)) return;
  for (const op of ['-F', '-X']) {
    const r = iptables(['-t', table, op, chain]);
    if (r.status !== 0) throw new NsnetError('FIREWALL', `iptables ${op} ${chain}: ${r.stderr.trim()}`);
  }
}
