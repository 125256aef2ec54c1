/**
 * Published ports: Docker's `-p` syntax parsed into one mapping per port. Pure.
 *
 *   [HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/tcp|/udp|/sctp]
 *
 * Without a host port, nsnet picks a free one. Ranges map one to one and must be the same length.
 */
import { invalid } from '../core/errors.js';
import { parseIPv4 } from '../core/ipv4.js';

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

const EXAMPLE = 'expected [HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/tcp|/udp|/sctp], e.g. 8080:80 or 127.0.0.1:5353:53/udp';

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
  const parts = body.split(':');
  if (parts.length > 3 || body === '') throw invalid(`invalid port mapping "${spec}": ${EXAMPLE}`);
  const containerText = parts.at(-1)!;
  const hostPortText = parts.length >= 2 ? parts.at(-2)! : '';
  // 0.0.0.0 is Docker's spelling of "every address", the same as leaving the address out.
  const givenIp = parts.length === 3 && parts[0] !== '' ? parseIPv4(parts[0]!, 'host address') : undefined;
  const hostIp = givenIp === '0.0.0.0' ? undefined : givenIp;
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
  return a.proto === b.proto && a.hostPort === b.hostPort && (a.hostIp === undefined || b.hostIp === undefined || a.hostIp === b.hostIp);
}

/** Docker's spelling of a mapping in `docker port`: `80/tcp -> 0.0.0.0:8080`. */
export function formatMapping(m: PortMapping): string {
  return `${m.containerPort}/${m.proto} -> ${m.hostIp ?? '0.0.0.0'}:${m.hostPort}`;
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
  return mappings.filter((m) => m.containerPort === p.port && m.proto === p.proto).map((m) => `${m.hostIp ?? '0.0.0.0'}:${m.hostPort}`);
}
