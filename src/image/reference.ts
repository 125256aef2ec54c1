/**
 * Image references as Docker reads them (distribution/reference): `busybox` is
 * `docker.io/library/busybox:latest`, `me/app` is `docker.io/me/app:latest`, `localhost:5000/busybox`
 * keeps its registry (an IPv6 one in brackets: `[fd00::1]:5000/busybox`), and `NAME@sha256:<hex>`
 * names a manifest by digest. The store keeps the normalised form; `docker images` and inspect's
 * RepoTags show the familiar one.
 */
import { NsnetError } from '../core/errors.js';
import { isIPv6Text } from '../core/ipv6.js';

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DOMAIN = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';

export interface ImageReference {
  /** Registry host (and port): `docker.io`, `localhost:5000`, `[fd00::1]:5000`. */
  domain: string;
  /** Repository path inside the registry: `library/busybox`. */
  path: string;
  tag?: string;
  /** `sha256:<hex>` */
  digest?: string;
}

// distribution/reference's grammar.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const NAME_MAX = 255;

function invalidReference(ref: string, why: string): NsnetError {
  return new NsnetError('INVALID_VALUE', `invalid reference format: ${why}: "${ref}"`, {
    hint: 'an image reference is [REGISTRY/]NAME[:TAG][@sha256:DIGEST] in lower case, e.g. busybox, busybox:1.36, localhost:5000/busybox',
  });
}

/** Parses and normalises a reference; the default tag is added only when neither tag nor digest is given. */
export function parseReference(ref: string): ImageReference {
  if (ref === '') throw invalidReference(ref, 'empty reference');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalidReference(ref, 'a digest is sha256: and 64 lower-case hex digits');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalidReference(ref, `tag "${tag}" must be 1-128 of letters, digits, _ . - and not start with . or -`);
  }
  const { domain, path } = splitDomain(rest, ref);
  if (domain.length + 1 + path.length > NAME_MAX) throw invalidReference(ref, `repository name must not be longer than ${NAME_MAX} characters`);
  for (const c of path.split('/')) {
    if (c !== c.toLowerCase()) throw invalidReference(ref, 'repository name must be lowercase');
    if (!COMPONENT.test(c)) throw invalidReference(ref, `repository name component "${c}" must be lower-case letters and digits separated by . _ __ or -`);
  }
  const out: ImageReference = { domain, path };
  if (tag !== undefined) out.tag = tag;
  else if (digest === undefined) out.tag = DEFAULT_TAG;
  if (digest !== undefined) out.digest = digest;
  return out;
}

function splitDomain(name: string, ref: string): { domain: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  // Docker's rule: the first component is a registry when it has a dot or a port, is localhost,
  // or has an upper-case letter (which a repository name cannot); brackets mean an IPv6 registry
  // (so that `[]/x` is refused as a registry, not as a repository name).
  const isDomain = slash >= 0 && (first.includes('.') || first.includes(':') || first.startsWith('[') || first === 'localhost' || first !== first.toLowerCase());
  if (!isDomain) {
    if (name === '') throw invalidReference(ref, 'repository name is empty');
    return { domain: DEFAULT_DOMAIN, path: name.includes('/') ? name : `${OFFICIAL_PREFIX}${name}` };
  }
  checkRegistry(first, ref);
  const domain = first === LEGACY_DOMAIN ? DEFAULT_DOMAIN : first;
  const path = name.slice(slash + 1);
  if (path === '') throw invalidReference(ref, 'repository name is empty');
  return { domain, path: domain === DEFAULT_DOMAIN && !path.includes('/') ? `${OFFICIAL_PREFIX}${path}` : path };
}

/**
 * A registry is a host name or an IPv6 literal in brackets, with an optional :port (the grammar of
 * distribution/reference since v0.6, Docker 25: `[fd00::1]:5000/busybox`). The literal is kept as
 * written, as Docker keeps it; it must be an IPv6 address of hex digits and colons (Docker's grammar
 * has no dotted IPv4 tail and no zone).
 */
function checkRegistry(first: string, ref: string): void {
  const v6 = /^\[([^\]]*)\](?::([^:]*))?$/.exec(first);
  if (v6 !== null) {
    const [, address = '', port] = v6;
    if (!/^[0-9a-fA-F:]+$/.test(address) || !isIPv6Text(address)) throw invalidReference(ref, `registry "${first}": "${address}" is not an IPv6 address (hex digits and colons, e.g. [fd00::1]:5000)`);
    if (port !== undefined && !/^[0-9]+$/.test(port)) throw invalidReference(ref, `registry "${first}": port "${port}" is not a number`);
    return;
  }
  // Without brackets the colons of an IPv6 address cannot be told from the port's.
  if (first.split(':').length > 2 && !first.includes('[')) {
    throw new NsnetError('INVALID_VALUE', `invalid reference format: registry "${first}" looks like an IPv6 address without brackets: "${ref}"`, {
      hint: 'write an IPv6 registry in brackets, with the port after them: [fd00::1]:5000/busybox',
    });
  }
  const [host, port, ...more] = first.split(':');
  if (host === undefined || more.length > 0 || !host.split('.').every((p) => DOMAIN_COMPONENT.test(p)) || (port !== undefined && !/^[0-9]+$/.test(port))) {
    throw invalidReference(ref, `registry "${first}" is not a host name or a bracketed IPv6 address, with an optional :port`);
  }
}

/** `docker.io/library/busybox` */
export function repositoryName(r: ImageReference): string {
  return `${r.domain}/${r.path}`;
}

/** `docker.io/library/busybox:latest`, `localhost:5000/x@sha256:...` */
export function formatReference(r: ImageReference): string {
  return `${repositoryName(r)}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}

/** The normalised form of a reference the user typed. */
export function normaliseReference(ref: string): string {
  return formatReference(parseReference(ref));
}

/** The repository as Docker shows it: `busybox`, `me/app`, `localhost:5000/busybox`. */
export function familiarName(r: ImageReference): string {
  if (r.domain !== DEFAULT_DOMAIN) return repositoryName(r);
  return r.path.startsWith(OFFICIAL_PREFIX) ? r.path.slice(OFFICIAL_PREFIX.length) : r.path;
}

/** `busybox:latest`, `localhost:5000/busybox:latest`, `busybox@sha256:...` from a normalised (or any) reference. */
export function familiarReference(ref: string): string {
  const r = parseReference(ref);
  return `${familiarName(r)}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}

/** Whether the string is a full image id (`sha256:<64 hex>`). */
export function isImageId(s: string): boolean {
  return DIGEST.test(s);
}

/** Whether the string could be a (short) image id: 1-64 lower-case hex digits, with or without sha256:. */
export function isImageIdPrefix(s: string): boolean {
  return /^(?:sha256:)?[a-f0-9]{1,64}$/.test(s);
}
