/**
 * Where an image reference is pulled from: Docker's reference grammar (distribution/reference)
 * split into the registry as the user named it, the repository path, and a tag or a digest, plus
 * the host nsnet talks to and whether plain HTTP may be used there.
 *
 *   busybox                      → docker.io, library/busybox, tag latest (host registry-1.docker.io)
 *   localhost:5000/busybox       → localhost:5000, busybox, tag latest
 *   example.com/a/b@sha256:<hex> → example.com, a/b, that digest
 *
 * Plain HTTP is allowed only where Docker allows it without configuration (localhost, 127.0.0.0/8,
 * ::1) and for registries the user names as insecure (`--insecure-registry HOST[:PORT]`).
 */
import { invalid } from '../core/errors.js';
import { ipToInt } from '../core/ipv4.js';
import { ip6ToInt, isIPv6Text, parseIPv6 } from '../core/ipv6.js';
import { DEFAULT_DOMAIN, formatReference, parseReference } from './reference.js';

export const DEFAULT_REGISTRY = DEFAULT_DOMAIN;
/** docker.io is a name; the registry API of Docker Hub answers here (named, never contacted in tests). */
export const DOCKER_HUB_HOST = 'registry-1.docker.io';

export interface RegistryRef {
  /** The registry as named in the normalised reference: docker.io, localhost:5000, example.com. */
  registry: string;
  /** The repository path inside the registry: library/busybox, a/b. */
  repository: string;
  /** The tag (latest when neither tag nor digest is given); undefined with a digest only. */
  tag: string | undefined;
  /** sha256:<64 hex> when the reference names one. */
  digest: string | undefined;
}

/** A manifest or blob digest: nsnet pulls sha256 content only. */
export const DIGEST = /^sha256:[a-f0-9]{64}$/;
/** A registry host with an optional port (an IPv6 literal in brackets). */
const HOST_PORT = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;

/** Parse and normalise a reference as Docker does (reference.ts); bad input is refused naming the value. */
export function parseRegistryRef(input: string): RegistryRef {
  const r = parseReference(input);
  return { registry: r.domain, repository: r.path, tag: r.tag, digest: r.digest };
}

/** The normalised reference: docker.io/library/busybox:latest, localhost:5000/busybox@sha256:... */
export function formatRegistryRef(r: RegistryRef): string {
  return formatReference({ domain: r.registry, path: r.repository, ...(r.tag !== undefined ? { tag: r.tag } : {}), ...(r.digest !== undefined ? { digest: r.digest } : {}) });
}

/** What the registry calls the manifest: the digest when given (it pins the content), else the tag. */
export const manifestReference = (r: RegistryRef): string => r.digest ?? r.tag ?? 'latest';

/** The host[:port] the registry API answers on (docker.io's is registry-1.docker.io). */
export const registryHost = (registry: string): string => (registry === DEFAULT_REGISTRY ? DOCKER_HUB_HOST : registry);

/** host[:port] as host and port: brackets off an IPv6 literal ([::1]:5000 → ::1, 5000); a bare IPv6 address has no port. */
export function splitHostPort(hostPort: string): { host: string; port: string | undefined } {
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    const rest = hostPort.slice(close + 1);
    return { host: hostPort.slice(1, close), port: rest.startsWith(':') ? rest.slice(1) : undefined };
  }
  const colons = hostPort.split(':').length - 1;
  if (colons !== 1) return { host: hostPort, port: undefined }; // a name, or a bare IPv6 address
  const i = hostPort.indexOf(':');
  return { host: hostPort.slice(0, i), port: hostPort.slice(i + 1) };
}

/** host without the port, brackets off an IPv6 literal: [::1]:5000 → ::1. */
export const hostnameOf = (hostPort: string): string => splitHostPort(hostPort).host;

/**
 * One spelling of a host[:port], to compare two: a name in lower case, an IPv6 literal in RFC 5952
 * form in brackets ([FD00:0:0::1]:5000 → [fd00::1]:5000, as Node's URL writes it), a port without
 * leading zeros. `defaultPort` is the port of a host written without
 * one: a URL leaves out its scheme's (https://reg:443/ has the host "reg").
 */
export function canonicalHostPort(hostPort: string, defaultPort?: number): string {
  const { host, port } = splitHostPort(hostPort);
  const h = isIPv6Text(host) ? `[${parseIPv6(host)}]` : host.toLowerCase();
  const p = port !== undefined && /^[0-9]+$/.test(port) ? String(Number(port)) : (port ?? (defaultPort === undefined ? undefined : String(defaultPort)));
  return p === undefined ? h : `${h}:${p}`;
}

/**
 * Docker's registries that need no configuration for plain HTTP: its daemon adds "::1/128" and
 * "127.0.0.0/8" to the insecure registries and matches an address after unmapping it (Go's
 * netip.Addr.Unmap, as net.IP.IsLoopback does), so every spelling of ::1 ([0:0::1], [0000::1]) and
 * the IPv4-mapped [::ffff:127.0.0.1] ([::ffff:7f00:1]) count, and any 127.x.y.z; "::127.0.0.1"
 * (IPv4-compatible, not mapped) does not. Docker also resolves a name and matches its addresses;
 * nsnet resolves none and takes the name localhost only.
 */
export function isLoopbackHost(hostPort: string): boolean {
  const h = hostnameOf(hostPort).toLowerCase();
  if (h === 'localhost') return true;
  if (isIPv6Text(h)) {
    const n = ip6ToInt(parseIPv6(h));
    const mappedV4 = n >> 32n === 0xffffn ? Number(n & 0xffff_ffffn) : undefined;
    return n === 1n || (mappedV4 !== undefined && mappedV4 >>> 24 === 127);
  }
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) && isDottedQuad(h);
}

function isDottedQuad(h: string): boolean {
  try {
    ipToInt(h);
    return true;
  } catch {
    return false;
  }
}

/**
 * May plain HTTP be used for this host[:port]? Loopback always; otherwise only when it is named in
 * `insecure` (as HOST:PORT, or HOST for every port). Both sides are compared in one spelling
 * (canonicalHostPort): `--insecure-registry [fd00::1]:5000` covers the reference's
 * [FD00:0:0::1]:5000, the same address. (Docker compares a HOST:PORT entry with the reference's
 * registry string as written, so it would not; a CIDR entry it matches by address.) `defaultPort`:
 * the port of a `hostPort` without one (a URL's host leaves out 80 and 443).
 */
export function allowsPlainHttp(hostPort: string, insecure: readonly string[], defaultPort?: number): boolean {
  if (isLoopbackHost(hostPort)) return true;
  const target = splitHostPort(canonicalHostPort(hostPort, defaultPort));
  return insecure.some((i) => {
    const entry = splitHostPort(canonicalHostPort(i.replace(/^https?:\/\//i, '').replace(/\/+$/, '')));
    return entry.host === target.host && (entry.port === undefined || entry.port === target.port);
  });
}

/** `--insecure-registry` values: host[:port], nothing else (no path, no scheme other than http(s)://). */
export function parseInsecureRegistry(value: string): string {
  const v = value.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  if (!HOST_PORT.test(v) && !/^[0-9a-fA-F:]+$/.test(v)) throw invalid(`--insecure-registry ${JSON.stringify(value)}: not a registry host`, 'give HOST or HOST:PORT, e.g. --insecure-registry 10.0.0.5:5000');
  return v;
}
