/** A container's /etc/resolv.conf and /etc/hosts, and reading the host's resolv.conf: pure text. */
import { isIPv6Text, parseIPv6 } from '../core/ipv6.js';

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

/** The parts of a resolv.conf nsnet uses; comments and unknown lines are ignored. */
export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0] !== undefined) out.nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') out.search = rest;
    else if (key === 'options') out.options.push(...rest);
  }
  return out;
}

/** systemd-resolved's stub: its real upstreams are in /run/systemd/resolve/resolv.conf. */
export const RESOLVED_STUB = '127.0.0.53';
export const RESOLVED_UPSTREAM_FILE = '/run/systemd/resolve/resolv.conf';

export function isLoopback(ip: string): boolean {
  return /^127\./.test(ip) || ip === '::1';
}

/**
 * The nameservers the responder can forward to: IPv4 and IPv6 addresses (IPv6 in canonical text,
 * a link-local one with its zone, fe80::1%eth0, as glibc takes it). Anything else is skipped.
 */
export function upstreamServers(conf: ResolvConf): string[] {
  return conf.nameservers.flatMap((s) => {
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) return [s];
    const [addr = '', zone] = s.split('%', 2);
    if (!isIPv6Text(addr) || (zone !== undefined && !/^[\w.-]{1,15}$/.test(zone))) return [];
    return [zone === undefined ? parseIPv6(addr) : `${parseIPv6(addr)}%${zone}`];
  });
}

/**
 * The one nameserver of a container whose network the responder serves: the network's IPv4
 * gateway, or its IPv6 gateway on an IPv6-only network. A dual-stack network's resolv.conf names
 * only the IPv4 gateway (as Docker's names only its one internal resolver), though the responder
 * answers on both: both addresses reach the same process, so a second line adds no redundancy,
 * and glibc would ask the second after a SERVFAIL or REFUSED from the first, doubling the wait
 * for a name whose upstream is down.
 */
export function responderAddress(net: { gateway: string | null; gateway6?: string | null | undefined }): string {
  const addr = net.gateway ?? net.gateway6;
  if (addr == null) throw new Error('a network has an IPv4 or an IPv6 gateway');
  return addr;
}

/** Whether a container keeps IPv6 (Docker's test: ::1 on its loopback), from its --sysctl settings. */
export function hasIPv6Loopback(sysctls: Readonly<Record<string, string>> | undefined): boolean {
  return !['net.ipv6.conf.all.disable_ipv6', 'net.ipv6.conf.lo.disable_ipv6'].some((k) => sysctls?.[k] === '1');
}

/** First line of a container's resolv.conf: says who wrote it, for which state root, so reset finds its own. */
export function resolvHeader(name: string, root: string): string {
  return `# written by nsnet (state ${root}) for container ${name}`;
}

export function renderResolvConf(name: string, conf: ResolvConf, root: string): string {
  const lines = [resolvHeader(name, root)];
  for (const s of conf.nameservers) lines.push(`nameserver ${s}`);
  if (conf.search.length > 0) lines.push(`search ${conf.search.join(' ')}`);
  if (conf.options.length > 0) lines.push(`options ${conf.options.join(' ')}`);
  return lines.join('\n') + '\n';
}

/**
 * Docker's /etc/hosts: localhost for both families and the IPv6 names glibc-based images expect
 * (netbase's), then --add-host, then the container's own addresses (IPv4 and IPv6, each with its
 * names), in Docker's order. As Docker (26+) decides by whether the container's loopback has ::1,
 * the IPv6 lines are left out only for a container whose IPv6 is off (`ipv6: false`, from
 * --sysctl net.ipv6.conf.all|lo.disable_ipv6=1); its loopback has ::1 whatever its networks are.
 */
export function renderHosts(own: { names: string[]; ips: string[] }, extra: ReadonlyArray<readonly [string, string]>, opts: { ipv6?: boolean } = {}): string {
  const ipv6 = opts.ipv6 ?? true;
  const lines = ['127.0.0.1\tlocalhost'];
  if (ipv6) {
    lines.push(
      '::1\tlocalhost ip6-localhost ip6-loopback',
      'fe00::0\tip6-localnet',
      'ff00::0\tip6-mcastprefix',
      'ff02::1\tip6-allnodes',
      'ff02::2\tip6-allrouters',
    );
  }
  for (const [host, ip] of extra) lines.push(`${ip}\t${host}`);
  const names = [...new Set(own.names)].join(' ');
  for (const ip of own.ips) if (ipv6 || !ip.includes(':')) lines.push(`${ip}\t${names}`);
  return lines.join('\n') + '\n';
}
