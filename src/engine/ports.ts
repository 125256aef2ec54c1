/**
 * Published ports: Docker's `-p` syntax parsed into one mapping per port. Pure.
 *
 *   [HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/tcp|/udp|/sctp]     HOST_IP: 1.2.3.4 or [2001:db8::1]
 *
 * Without a host port, nsnet picks a free one. Ranges map one to one and must be the same length.
 *
 * Host addresses, as in Docker: none means every address of both families (a dual-stack
 * container's port is published on 0.0.0.0 and [::]); 0.0.0.0 every IPv4 address only; [::] every
 * IPv6 address only; any other address that one.
 */
import { invalid } from '../core/errors.js';
import { parseIPv4 } from '../core/ipv4.js';
import { parseIPv6 } from '../core/ipv6.js';

export type Proto = 'tcp' | 'udp' | 'sctp';
export const PROTOS: readonly Proto[] = ['tcp', 'udp', 'sctp'];

/** One requested mapping; hostPort undefined = choose a free one. hostIp undefined = every address. */
export interface PortRequest {
  hostIp: string | undefined;
  hostPort: number | undefined;
  containerPort: number;
  proto: Proto;
}

/** A mapping as stored and as the firewall sees it. */
export interface PortMapping {
  hostIp: string | undefined;
  hostPort: number;
  containerPort: number;
  proto: Proto;
}

const EXAMPLE = 'expected [HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/tcp|/udp|/sctp], e.g. 8080:80, 127.0.0.1:5353:53/udp or [::1]:8081:80';

export const ANY_IPV4 = '0.0.0.0';
export const ANY_IPV6 = '::';

/** The family of a host address; undefined (no address) is both. */
export const hostFamily = (hostIp: string | undefined): 4 | 6 | undefined => (hostIp === undefined ? undefined : hostIp.includes(':') ? 6 : 4);

/** Whether two host addresses share an address: none covers all, 0.0.0.0 and :: all of their family. */
export function hostsOverlap(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return true;
  if (hostFamily(a) !== hostFamily(b)) return false;
  return a === b || a === ANY_IPV4 || a === ANY_IPV6 || b === ANY_IPV4 || b === ANY_IPV6;
}

/**
 * The container addresses a port on `hostIp` forwards to: one per family the host address
 * covers and the container has (none: both families, as Docker publishes on 0.0.0.0 and [::]).
 */
/**
 * The host addresses a port published on every address is shown with: one per family the
 * container has (Docker lists 0.0.0.0 and [::]), for `port`, `ps`, inspect and `graph`.
 */
export function anyAddressBindings(ip: string | null, ip6: string | null): Array<typeof ANY_IPV4 | typeof ANY_IPV6> {
  return forwardTargets(undefined, ip, ip6).map((a) => (a.includes(':') ? ANY_IPV6 : ANY_IPV4));
}

export function forwardTargets(hostIp: string | undefined, ip: string | null, ip6: string | null): string[] {
  const family = hostFamily(hostIp);
  return [...(ip !== null && family !== 6 ? [ip] : []), ...(ip6 !== null && family !== 4 ? [ip6] : [])];
}

/** `HOST_IP:` of a spec: an IPv4 address, or an IPv6 address in brackets (Docker's spelling). */
function splitHost(body: string, spec: string): { hostIp: string | undefined; rest: string[] } {
  if (body.startsWith('[')) {
    const close = body.indexOf(']');
    if (close < 0 || body[close + 1] !== ':') throw invalid(`invalid port mapping "${spec}": ${EXAMPLE}`);
    const rest = body.slice(close + 2).split(':');
    if (rest.length !== 2) throw invalid(`invalid port mapping "${spec}": ${EXAMPLE}`);
    return { hostIp: parseIPv6(body.slice(1, close), 'host address'), rest };
  }
  const parts = body.split(':');
  if (parts.length > 3) {
    throw invalid(`invalid port mapping "${spec}": ${EXAMPLE}`, 'write an IPv6 host address in brackets: [::1]:8081:80');
  }
  if (parts.length === 3) return { hostIp: parts[0] === '' ? undefined : parseIPv4(parts[0]!, 'host address'), rest: parts.slice(1) };
  return { hostIp: undefined, rest: parts };
}

function port(text: string, spec: string): number {
  if (!/^\d{1,5}$/.test(text)) throw invalid(`invalid port mapping "${spec}": "${text}" is not a port number; ${EXAMPLE}`);
  const n = Number(text);
  if (n < 1 || n > 65535) throw invalid(`invalid port mapping "${spec}": port ${n} is outside 1-65535`);
  return n;
}

function range(text: string, spec: string): [number, number] {
  const [a, b, ...rest] = text.split('-');
  if (a === undefined || rest.length > 0) throw invalid(`invalid port mapping "${spec}": ${EXAMPLE}`);
  const lo = port(a, spec);
  const hi = b === undefined ? lo : port(b, spec);
  if (hi < lo) throw invalid(`invalid port mapping "${spec}": range ${text} ends before it starts`);
  return [lo, hi];
}

export function parsePortSpec(spec: string): PortRequest[] {
  const [body = '', protoText, ...extra] = spec.split('/');
  if (extra.length > 0) throw invalid(`invalid port mapping "${spec}": ${EXAMPLE}`);
  const proto = (protoText ?? 'tcp').toLowerCase();
  if (!(PROTOS as readonly string[]).includes(proto)) {
    throw invalid(`invalid port mapping "${spec}": protocol "${protoText}" is not one of ${PROTOS.join(', ')}`);
  }
  if (body === '') throw invalid(`invalid port mapping "${spec}": ${EXAMPLE}`);
  // 0.0.0.0 and [::] are kept: every address of one family (Docker), not of both.
  const { hostIp, rest: parts } = splitHost(body, spec);
  const containerText = parts.at(-1)!;
  const hostPortText = parts.length >= 2 ? parts.at(-2)! : '';
  const [cLo, cHi] = range(containerText, spec);
  const count = cHi - cLo + 1;
  if (hostPortText === '') {
    return Array.from({ length: count }, (_, i) => ({ hostIp, hostPort: undefined, containerPort: cLo + i, proto: proto as Proto }));
  }
  const [hLo, hHi] = range(hostPortText, spec);
  if (hHi - hLo + 1 !== count) {
    throw invalid(`invalid port mapping "${spec}": host range ${hostPortText} and container range ${containerText} differ in length`);
  }
  return Array.from({ length: count }, (_, i) => ({ hostIp, hostPort: hLo + i, containerPort: cLo + i, proto: proto as Proto }));
}

/** Two mappings collide when protocol and port match and the host addresses overlap (none = all). */
export function collides(a: Pick<PortMapping, 'hostIp' | 'hostPort' | 'proto'>, b: Pick<PortMapping, 'hostIp' | 'hostPort' | 'proto'>): boolean {
  return a.proto === b.proto && a.hostPort === b.hostPort && hostsOverlap(a.hostIp, b.hostIp);
}

/** HOST:PORT as `docker port` prints it: `0.0.0.0:8080`, `[::]:8080`. */
const hostPortText = (m: Pick<PortMapping, 'hostIp' | 'hostPort'>): string => {
  const host = m.hostIp ?? ANY_IPV4;
  return `${host.includes(':') ? `[${host}]` : host}:${m.hostPort}`;
};

/** Docker's spelling of a mapping in `docker port`: `80/tcp -> 0.0.0.0:8080`, `80/tcp -> [::]:8080`. */
export function formatMapping(m: PortMapping): string {
  return `${m.containerPort}/${m.proto} -> ${hostPortText(m)}`;
}

/** NetworkSettings.Ports in Docker's shape. */
export function portsView(mappings: readonly PortMapping[]): Record<string, Array<{ HostIp: string; HostPort: string }>> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const m of mappings) {
    const key = `${m.containerPort}/${m.proto}`;
    (out[key] ??= []).push({ HostIp: m.hostIp ?? '0.0.0.0', HostPort: String(m.hostPort) });
  }
  return out;
}

/**
 * Choose host ports for requests without one: the first port of `range` that collides with no
 * taken mapping (nor one chosen earlier in this call) and that `listening` does not report.
 */
export function assignHostPorts(
  requests: readonly PortRequest[],
  taken: readonly PortMapping[],
  range: [number, number],
  listening: (m: Pick<PortMapping, 'hostIp' | 'hostPort' | 'proto'>) => boolean,
): PortMapping[] {
  const chosen: PortMapping[] = [];
  for (const r of requests) {
    if (r.hostPort !== undefined) {
      chosen.push({ ...r, hostPort: r.hostPort });
      continue;
    }
    let found: number | undefined;
    for (let p = range[0]; p <= range[1] && found === undefined; p++) {
      const candidate = { hostIp: r.hostIp, hostPort: p, proto: r.proto };
      if ([...taken, ...chosen].some((t) => collides(t, candidate)) || listening(candidate)) continue;
      found = p;
    }
    if (found === undefined) throw invalid(`no free host port for ${r.containerPort}/${r.proto} in ${range[0]}-${range[1]}`);
    chosen.push({ ...r, hostPort: found });
  }
  return chosen;
}

/** A container port as `port NAME PORT[/PROTO]` and `--expose` name it: tcp when no protocol is given. */
export interface ContainerPortRef {
  port: number;
  proto: Proto;
}

const PORT_REF_EXAMPLE = 'expected PORT[/PROTO] with PROTO one of tcp, udp, sctp, e.g. 80 or 53/udp';

/** `PORT[/PROTO]`, or with `ranges` (--expose) `PORT-END[/PROTO]` too: one ref per port. */
export function parseContainerPorts(text: string, what: string, ranges = false): ContainerPortRef[] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/([A-Za-z]+))?$/.exec(text);
  if (m === null || (!ranges && m[2] !== undefined)) throw invalid(`invalid ${what} "${text}": ${ranges ? PORT_REF_EXAMPLE.replace('PORT[/PROTO]', 'PORT[-END][/PROTO]') : PORT_REF_EXAMPLE}`);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  if (!(PROTOS as readonly string[]).includes(proto)) throw invalid(`invalid ${what} "${text}": protocol "${m[3]}" is not one of ${PROTOS.join(', ')}`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  for (const p of [lo, hi]) if (p < 1 || p > 65535) throw invalid(`invalid ${what} "${text}": port ${p} is outside 1-65535`);
  if (hi < lo) throw invalid(`invalid ${what} "${text}": range ${lo}-${hi} ends before it starts`);
  return Array.from({ length: hi - lo + 1 }, (_, i) => ({ port: lo + i, proto: proto as Proto }));
}

/** Docker's key for a container port: "80/tcp". */
export const portKey = (p: ContainerPortRef): string => `${p.port}/${p.proto}`;

/** `docker port NAME PORT`: the host side of each mapping of that container port, "0.0.0.0:8080". */
export function hostBindings(mappings: readonly PortMapping[], p: ContainerPortRef): string[] {
  return mappings.filter((m) => m.containerPort === p.port && m.proto === p.proto).map(hostPortText);
}
