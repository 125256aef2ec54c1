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

/** host without the port, brackets off an IPv6 literal: [::1]:5000 → ::1. */
export function hostnameOf(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(1, hostPort.indexOf(']'));
  const colons = hostPort.split(':').length - 1;
  if (colons > 1) return hostPort; // a bare IPv6 address
  return colons === 1 ? hostPort.slice(0, hostPort.indexOf(':')) : hostPort;
}

/** Docker's registries that need no configuration for plain HTTP: localhost, 127.0.0.0/8, ::1. */
export function isLoopbackHost(hostPort: string): boolean {
  const h = hostnameOf(hostPort).toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * May plain HTTP be used for this host[:port]? Loopback always; otherwise only when it is named in
 * `insecure` (as HOST:PORT, or HOST for every port).
 */
export function allowsPlainHttp(hostPort: string, insecure: readonly string[]): boolean {
  if (isLoopbackHost(hostPort)) return true;
  const host = hostnameOf(hostPort).toLowerCase();
  return insecure.some((i) => {
    const entry = i.toLowerCase().replace(/^https?:\/\//, '').replace(/\/+$/, '');
    return entry === hostPort.toLowerCase() || entry === host || entry === `[${host}]`;
  });
}

/** `--insecure-registry` values: host[:port], nothing else (no path, no scheme other than http(s)://). */
export function parseInsecureRegistry(value: string): string {
  const v = value.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  if (!HOST_PORT.test(v) && !/^[0-9a-fA-F:]+$/.test(v)) throw invalid(`--insecure-registry ${JSON.stringify(value)}: not a registry host`, 'give HOST or HOST:PORT, e.g. --insecure-registry 10.0.0.5:5000');
  return v;
}
