/** A container's /etc/resolv.conf and /etc/hosts, and reading the host's resolv.conf: pure text. */

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

/** IPv4 nameservers only (the responder forwards over IPv4). */
export function ipv4Servers(conf: ResolvConf): string[] {
  return conf.nameservers.filter((s) => /^\d{1,3}(\.\d{1,3}){3}$/.test(s));
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

export function renderHosts(own: { names: string[]; ips: string[] }, extra: ReadonlyArray<readonly [string, string]>): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  const names = [...new Set(own.names)].join(' ');
  for (const ip of own.ips) lines.push(`${ip}\t${names}`);
  for (const [host, ip] of extra) lines.push(`${ip}\t${host}`);
  return lines.join('\n') + '\n';
}
