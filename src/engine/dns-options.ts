/**
 * DNS settings as nsnet takes them: run's flags (--dns, --dns-search, --dns-option, --add-host,
 * --network-alias) validated once at the edge, and a network's DNS options (-o nsnet.dns...).
 * Pure: no I/O, so the CLI, the operations and the responder (src/dns) share one reading.
 */
import { NsnetError } from '../core/errors.js';
import { parseIPv4 } from '../core/ipv4.js';
import { isIPv6Text, parseIPv6 } from '../core/ipv6.js';
import type { NetworkRecord } from '../store/index.js';

/** `-o nsnet.dns=false` turns the responder off for a network (its containers get the upstreams directly). */
export const DNS_OPTION = 'nsnet.dns';
/** `-o nsnet.dns.servers=IP[,IP]` (IPv4 or IPv6): upstreams for the network's containers that have no --dns. */
export const DNS_SERVERS_OPTION = 'nsnet.dns.servers';

export interface DnsInput {
  servers: string[];
  search: string[];
  options: string[];
  extraHosts: Array<[string, string]>;
  aliases: string[];
}

const DOMAIN = /^(?=.{1,253}$)([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)*\.?$/;

function domain(value: string, what: string): string {
  if (!DOMAIN.test(value)) throw new NsnetError('INVALID_VALUE', `invalid ${what} "${value}": expected a DNS name such as db or db.example`);
  return value;
}

/**
 * An upstream server or --add-host address: IPv4, or IPv6 in canonical text (Docker takes both;
 * the responder forwards over either family). An --add-host address may be bracketed, [::1].
 */
function ipAddress(value: string, what: string): string {
  const bare = /^\[.*\]$/.test(value) ? value.slice(1, -1) : value;
  if (isIPv6Text(bare)) return parseIPv6(bare, what);
  if (bare.includes(':')) throw new NsnetError('INVALID_VALUE', `invalid ${what} "${value}": expected an IPv4 or IPv6 address such as 192.0.2.53 or 2001:db8::53`);
  return parseIPv4(bare, what);
}

/** Validate run's --dns, --dns-search, --dns-option, --add-host NAME:IP, --network-alias. */
export function dnsInput(raw: { dns?: string[]; dnsSearch?: string[]; dnsOption?: string[]; addHost?: string[]; alias?: string[] }): DnsInput {
  return {
    servers: (raw.dns ?? []).map((s) => ipAddress(s, '--dns server')),
    search: (raw.dnsSearch ?? []).map((s) => domain(s, '--dns-search domain')),
    options: (raw.dnsOption ?? []).map((o) => {
      if (!/^[a-z][a-z0-9-]*(:\d+)?$/.test(o)) throw new NsnetError('INVALID_VALUE', `invalid --dns-option "${o}": expected e.g. ndots:2 or rotate`);
      return o;
    }),
    extraHosts: (raw.addHost ?? []).map((h): [string, string] => {
      // NAME:IP or NAME=IP, split at the first separator (a name has neither; an IPv6 address has colons).
      const i = h.search(/[:=]/);
      if (i <= 0) throw new NsnetError('INVALID_VALUE', `invalid --add-host "${h}": expected NAME:IP`);
      return [domain(h.slice(0, i), '--add-host name'), ipAddress(h.slice(i + 1), '--add-host address')];
    }),
    aliases: (raw.alias ?? []).map((a) => domain(a, '--network-alias')),
  };
}

/** For network create: the DNS options' values. */
export function validateNetworkDnsOptions(options: Readonly<Record<string, string>>): void {
  const servers = options[DNS_SERVERS_OPTION];
  if (servers !== undefined) for (const s of servers.split(',')) ipAddress(s.trim(), `${DNS_SERVERS_OPTION} server`);
}

/** Whether the responder serves this network (on unless -o nsnet.dns=false). */
export function dnsEnabled(n: NetworkRecord): boolean {
  return n.options[DNS_OPTION] !== 'false';
}

/** The network's own upstreams (-o nsnet.dns.servers), or none. */
export function networkServers(n: NetworkRecord): string[] {
  const v = n.options[DNS_SERVERS_OPTION];
  // IPv6 in canonical text, as the responder keys its own gateways (it never forwards to itself).
  return v === undefined || v === '' ? [] : v.split(',').map((s) => (isIPv6Text(s.trim()) ? parseIPv6(s.trim()) : s.trim()));
}
