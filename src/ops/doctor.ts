/**
 * `nsnet system doctor`: what nsnet depends on in this host (namespace), read-only, each
 * finding with what to do about it.
 */
import { COMPAT_CHAIN, COMPAT_TABLE } from '../firewall/iptables-compat.js';
import type { Host } from '../host/port.js';
import { raFinding } from './host-ipv6.js';

export type Level = 'ok' | 'info' | 'warn' | 'error';

export interface Finding {
  check: string;
  level: Level;
  detail: string;
  fix?: string;
}


interface NftChain {
  family: string;
  table: string;
  name: string;
  hook?: string;
  policy?: string;
}

/** Base chains of other tables that drop forwarded traffic by default: nsnet cannot override them. */
function foreignForwardDrops(host: Host): NftChain[] {
  const parsed = JSON.parse(host.nftOutput(['-j', 'list', 'chains'])) as { nftables: Array<{ chain?: NftChain }> };
  return parsed.nftables
    .map((e) => e.chain)
    .filter((c): c is NftChain => c !== undefined && c.hook === 'forward' && c.policy === 'drop' && c.table !== 'nsnet')
    // iptables-nft's own table is handled through nsnet's NSNET-FORWARD chain.
    .filter((c) => !(c.family === 'ip' && c.table === 'filter' && c.name === 'FORWARD'));
}

export function doctor(host: Host): Finding[] {
  const findings: Finding[] = [];
  const missing = ['ip', 'nsenter', 'unshare'].filter((c) => !host.onPath(c));
  findings.push(
    missing.length === 0
      ? { check: 'tools', level: 'ok', detail: 'ip, nsenter and unshare found' }
      : { check: 'tools', level: 'error', detail: `missing: ${missing.join(', ')}`, fix: 'apt-get install -y iproute2 util-linux' },
  );

  findings.push(
    host.onPath('tcpdump')
      ? { check: 'capture', level: 'ok', detail: 'tcpdump found (nsnet capture)' }
      : { check: 'capture', level: 'info', detail: 'tcpdump not found: nsnet capture runs it inside the container\'s namespace', fix: 'apt-get install -y tcpdump' },
  );

  const backend = host.nftBackend();
  if (backend === 'nft' && !host.onPath('nft')) {
    findings.push({ check: 'firewall driver', level: 'error', detail: 'nftables: neither libnftables nor the nft binary found', fix: 'apt-get install -y nftables' });
  } else {
    findings.push({
      check: 'firewall driver',
      level: 'ok',
      detail: backend === 'libnftables' ? 'nftables, through libnftables in-process' : 'nftables, through the nft binary (libnftables not found)',
    });
    try {
      const drops = foreignForwardDrops(host);
      findings.push(
        drops.length === 0
          ? { check: 'foreign nftables', level: 'ok', detail: 'no other table drops forwarded traffic by default' }
          : {
              check: 'foreign nftables',
              level: 'warn',
              detail: `forwarded traffic is dropped by default in ${drops.map((c) => `${c.family} ${c.table} ${c.name}`).join(', ')}; nsnet never edits other tables, so its containers cannot reach the outside or each other across networks`,
              fix: 'in that chain, accept traffic from and to nsnet bridges, e.g. iifname "nsnet*" accept; oifname "nsnet*" ct state established,related accept',
            },
      );
    } catch (err) {
      findings.push({ check: 'foreign nftables', level: 'warn', detail: `cannot list nftables chains: ${(err as Error).message}` });
    }
  }

  if (host.iptablesAvailable()) {
    const drops = host.iptablesForwardDrops();
    const kept = host.iptablesChainExists(COMPAT_TABLE, COMPAT_CHAIN);
    findings.push({
      check: 'iptables FORWARD',
      level: drops && !kept ? 'info' : 'ok',
      detail: drops
        ? kept
          ? `policy DROP; nsnet keeps its own ${COMPAT_CHAIN} chain with one jump from FORWARD`
          : `policy DROP; nsnet adds its ${COMPAT_CHAIN} chain with the next network change`
        : 'policy ACCEPT',
      ...(drops && !kept ? { fix: 'nsnet system check --fix, or create or remove any network' } : {}),
    });
  } else {
    findings.push({ check: 'iptables FORWARD', level: 'ok', detail: 'iptables not installed: nothing to coexist with' });
  }

  const forward = host.sysctl('net.ipv4.ip_forward');
  findings.push(
    forward === '1'
      ? { check: 'ip_forward', level: 'ok', detail: 'net.ipv4.ip_forward = 1' }
      : { check: 'ip_forward', level: 'info', detail: `net.ipv4.ip_forward = ${forward ?? '?'}; nsnet turns it on when it creates a network that is not internal` },
  );
  findings.push({ check: 'IPv6 router advertisements', ...raFinding(host) });
  const brnf = host.sysctl('net.bridge.bridge-nf-call-iptables');
  findings.push({
    check: 'bridge netfilter',
    level: 'ok',
    detail:
      brnf === undefined
        ? 'br_netfilter not loaded: traffic within a bridge is not seen by iptables/inet rules (nsnet filters it in its bridge table)'
        : `net.bridge.bridge-nf-call-iptables = ${brnf}${brnf === '1' ? ': traffic within a bridge also passes the forward hooks; nsnet rules allow it' : ''}`,
  });
  return findings;
}
