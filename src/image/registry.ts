/**
 * A Docker Registry HTTP API v2 client for pulling: the /v2/ ping that decides the scheme and how
 * to authenticate, manifests by tag or digest (verified against the digest asked for or announced),
 * and blobs streamed to the caller with their digest and size checked on the way. Every failure
 * names the registry and repository and what failed ("manifest unknown", "unauthorized", a bad
 * digest), so the CLI and the API can print it as it is.
 *
 * Plain HTTP: only for registries allowsPlainHttp() accepts (loopback, --insecure-registry); for
 * those, as Docker does, HTTPS without certificate checks is tried first and plain HTTP after a TLS
 * failure. Every other registry is HTTPS with verified certificates, and an error says why HTTP is
 * not tried.
 */
import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import { NsnetError } from '../core/errors.js';
import { basicAuthorization, parseChallenges, pickChallenge, tokenFromAnswer, tokenUrl, type Challenge, type Credentials } from './registry-auth.js';
import { get, isCertificateError, looksLikePlainHttp, readBody, TransportError, type Response } from './registry-http.js';
import { MANIFEST_ACCEPT, parseManifest, type Descriptor, type Manifest } from './registry-manifest.js';
import { allowsPlainHttp, canonicalHostPort, registryHost, type RegistryRef } from './registry-ref.js';

export interface RegistryOptions {
  /** host[:port] of registries that may be spoken to over plain HTTP (besides loopback). */
  insecureRegistries?: readonly string[];
  /** Credentials for the registry (basic auth, or to ask the token server with). */
  credentials?: Credentials | undefined;
  /** Socket idle timeout in ms (default 30 s): a registry silent that long fails the pull. */
  idleTimeoutMs?: number;
  /** Deadline for small documents (manifests, configs, tokens), ms (default 60 s). */
  documentDeadlineMs?: number;
  /** host[:port] → PEM certificate authorities it is verified with (besides Node's), as Docker's /etc/docker/certs.d/HOST/ca.crt. */
  registryCa?: (hostPort: string) => string[];
}

/** Docker's own limit for a manifest is 4 MiB; a config or token answer is far smaller in practice. */
export const MANIFEST_LIMIT = 4 * 1024 * 1024;
export const CONFIG_LIMIT = 8 * 1024 * 1024;
const TOKEN_LIMIT = 1024 * 1024;
const ERROR_BODY_LIMIT = 64 * 1024;

/** A failure talking to one registry about one repository: what failed, the registry's error code if it gave one. */
export class RegistryError extends NsnetError {
  readonly registry: string;
  readonly repository: string;
  readonly status: number | undefined;
  readonly registryCode: string | undefined;
  constructor(code: NsnetError['code'], ref: RegistryRef, message: string, opts: { status?: number; registryCode?: string; hint?: string; cause?: unknown } = {}) {
    super(code, `registry ${ref.registry}, repository ${ref.repository}: ${message}`, { hint: opts.hint, cause: opts.cause });
    this.name = 'RegistryError';
    this.registry = ref.registry;
    this.repository = ref.repository;
    this.status = opts.status;
    this.registryCode = opts.registryCode;
  }
}

export interface FetchedManifest {
  manifest: Manifest;
  bytes: Buffer;
  /** sha256 of the bytes: the manifest's digest (what NAME@DIGEST pins). */
  digest: string;
}

export const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * The registry's error document, `{"errors": [{"code", "message"}]}`, as "manifest unknown" (the
 * code in words, then the message when it says more), or a piece of the body when it is not one.
 */
function registryErrorText(body: Buffer): { code: string | undefined; text: string } {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    const first = Array.isArray(doc.errors) ? doc.errors[0] : undefined;
    if (first !== undefined) {
      const code = typeof first.code === 'string' ? first.code : undefined;
      const words = code?.toLowerCase().replace(/_/g, ' ');
      const message = typeof first.message === 'string' && first.message !== '' && first.message !== words ? first.message : undefined;
      return { code, text: [words, message].filter((s) => s !== undefined).join(': ') || 'no details' };
    }
  } catch {
    // not the registry's JSON: show a little of what it was
  }
  const text = body.toString('utf8').replace(/\s+/g, ' ').trim().slice(0, 120);
  return { code: undefined, text: text === '' ? 'no details' : JSON.stringify(text) };
}

const defaultPortOf = (url: URL): number => (url.protocol === 'https:' ? 443 : 80);

/**
 * Is `url` on the registry named `registryHostPort` (as the reference writes it)? Node's URL writes
 * its host in lower case, an IPv6 literal compressed ([FD00:0:0::1]:5000 → [fd00::1]:5000) and
 * without the scheme's default port, so both are compared in one spelling.
 */
export function isRegistryUrl(url: URL, registryHostPort: string): boolean {
  const port = defaultPortOf(url);
  return canonicalHostPort(url.host, port) === canonicalHostPort(registryHostPort, port);
}

/**
 * The directory under /etc/docker/certs.d whose CAs are trusted for `url`: for the registry, its
 * host[:port] as the reference writes it, as Docker's daemon names it (newTLSConfig(ctx,
 * hostname, ...) with the reference's domain: [FD00:0:0::1]:5000/busybox reads
 * certs.d/[FD00:0:0::1]:5000, not certs.d/[fd00::1]:5000); for another host (a token server),
 * the URL's host.
 */
export function certsDirName(url: URL, registryHostPort: string): string {
  return isRegistryUrl(url, registryHostPort) ? registryHostPort : url.host;
}

export class RegistryClient {
  readonly ref: RegistryRef;
  private readonly opts: Required<Omit<RegistryOptions, 'credentials' | 'registryCa'>> & { credentials: Credentials | undefined; registryCa: (hostPort: string) => string[] };
  private base: URL | undefined;
  private insecureTls = false;
  private challenge: Challenge | undefined;
  private authorization: string | undefined;

  constructor(ref: RegistryRef, opts: RegistryOptions = {}) {
    this.ref = ref;
    this.opts = {
      insecureRegistries: opts.insecureRegistries ?? [],
      credentials: opts.credentials,
      idleTimeoutMs: opts.idleTimeoutMs ?? 30_000,
      documentDeadlineMs: opts.documentDeadlineMs ?? 60_000,
      registryCa: opts.registryCa ?? ((): string[] => []),
    };
  }

  /** The host the API answers on: registry-1.docker.io for docker.io. */
  get host(): string {
    return registryHost(this.ref.registry);
  }

  private fail(code: NsnetError['code'], message: string, opts: { status?: number; registryCode?: string; hint?: string; cause?: unknown } = {}): RegistryError {
    return new RegistryError(code, this.ref, message, opts);
  }

  /** For get(), which asks about http: URLs by their host (written without the default port 80). */
  private allowsHttp = (urlHost: string): boolean => allowsPlainHttp(urlHost, this.opts.insecureRegistries, 80);

  private async rawGet(url: URL, headers: Record<string, string>): Promise<Response> {
    const insecureTls = this.insecureTls && isRegistryUrl(url, this.host);
    return get(url, { headers, idleTimeoutMs: this.opts.idleTimeoutMs, allowsHttp: this.allowsHttp, insecureTls, extraCa: this.opts.registryCa(certsDirName(url, this.host)) });
  }

  /**
   * GET /v2/: which scheme answers, and what the registry asks of clients (its 401 challenge).
   * Plain HTTP only where allowed, after HTTPS failed at the TLS level (Docker's order).
   */
  private async ping(): Promise<void> {
    if (this.base !== undefined) return;
    // The registry as named (no port: Docker's own choice of 443, then 80).
    const plainAllowed = allowsPlainHttp(this.host, this.opts.insecureRegistries);
    const tryBase = async (scheme: 'https' | 'http'): Promise<Response> => {
      this.insecureTls = scheme === 'https' && plainAllowed;
      return this.rawGet(new URL(`${scheme}://${this.host}/v2/`), {});
    };
    let res: Response;
    try {
      res = await tryBase('https');
      this.base = new URL(`https://${this.host}/`);
    } catch (err) {
      if (!(err instanceof TransportError)) throw this.fail('STATE', `reach the registry: ${(err as Error).message}`, { cause: err });
      if (!plainAllowed) {
        throw this.fail('STATE', `reach the registry over HTTPS: ${err.message}`, {
          cause: err,
          hint: looksLikePlainHttp(err)
            ? `${this.host} seems to speak plain HTTP, which nsnet uses only for localhost, 127.0.0.0/8, ::1 and registries named with --insecure-registry ${this.host}`
            : isCertificateError(err)
              ? `put the CA that signed ${this.host}'s certificate in /etc/docker/certs.d/${this.host}/ca.crt (as for Docker), or name the registry with --insecure-registry ${this.host} to skip the check`
              : undefined,
        });
      }
      try {
        res = await tryBase('http');
        this.base = new URL(`http://${this.host}/`);
      } catch (err2) {
        const [a, b] = [err.message.replace(/^GET \S+: /, ''), (err2 as Error).message.replace(/^GET \S+: /, '')];
        throw this.fail('STATE', `reach the registry: ${a === b ? `${a} (HTTPS and HTTP)` : `HTTPS: ${a}; HTTP: ${b}`}`, { cause: err2 });
      }
    }
    res.body.resume();
    if (res.status === 401) {
      this.challenge = pickChallenge(parseChallenges(res.headers['www-authenticate']));
      if (this.challenge === undefined) throw this.fail('NOT_PERMITTED', `GET /v2/ answered 401 without a Basic or Bearer challenge (WWW-Authenticate: ${JSON.stringify(res.headers['www-authenticate'] ?? '')})`, { status: 401 });
    } else if (res.status !== 200) {
      throw this.fail('INVALID_VALUE', `GET /v2/ answered ${res.status}: not a Docker Registry v2 API at ${this.base!.href}`, { status: res.status });
    }
  }

  /** The Authorization header for the repository, asking the token server when the challenge is Bearer. */
  private async authorize(challenge: Challenge | undefined): Promise<void> {
    if (challenge === undefined) return;
    const creds = this.opts.credentials;
    if (challenge.scheme === 'basic') {
      this.authorization = creds === undefined ? undefined : basicAuthorization(creds);
      return;
    }
    const url = tokenUrl(challenge, this.ref.repository);
    if (url.protocol === 'http:' && !this.allowsHttp(url.host)) {
      throw this.fail('FORBIDDEN', `the token server ${url.origin} is plain HTTP; nsnet sends credentials over plain HTTP only to localhost and registries named with --insecure-registry`);
    }
    let res: Response;
    try {
      res = await get(url, {
        headers: creds === undefined ? {} : { Authorization: basicAuthorization(creds) },
        idleTimeoutMs: this.opts.idleTimeoutMs,
        allowsHttp: this.allowsHttp,
        insecureTls: allowsPlainHttp(url.host, this.opts.insecureRegistries, defaultPortOf(url)),
        extraCa: this.opts.registryCa(certsDirName(url, this.host)),
      });
    } catch (err) {
      throw this.fail((err as NsnetError).code ?? 'STATE', `get a token from ${url.origin}: ${(err as Error).message}`, { cause: err });
    }
    const body = await readBody(res, TOKEN_LIMIT, this.opts.documentDeadlineMs, `the token server's answer`).catch((err: NsnetError) => {
      throw this.fail(err.code, `get a token from ${url.origin}: ${err.message}`, { cause: err });
    });
    if (res.status === 401 || res.status === 403) {
      throw this.fail('NOT_PERMITTED', `unauthorized: the token server ${url.origin} refused ${creds === undefined ? 'an anonymous token' : `the credentials of ${creds.username}`} (HTTP ${res.status}: ${registryErrorText(body).text})`, {
        status: res.status,
        hint: creds === undefined ? 'log in (docker login writes ~/.docker/config.json, which nsnet reads)' : undefined,
      });
    }
    if (res.status !== 200) throw this.fail('INVALID_VALUE', `get a token from ${url.origin}: it answered HTTP ${res.status} (${registryErrorText(body).text})`, { status: res.status });
    try {
      this.authorization = `Bearer ${tokenFromAnswer(body, url.origin)}`;
    } catch (err) {
      throw this.fail('INVALID_VALUE', (err as Error).message, { cause: err });
    }
  }

  /**
   * GET a path of this repository with authorization; a 401 with a challenge (another scope, an
   * expired token, or the first one for a registry whose /v2/ was open) is answered once, then it
   * is the caller's.
   */
  private async request(path: string, headers: Record<string, string>, what: string): Promise<Response> {
    await this.ping();
    if (this.authorization === undefined && this.challenge !== undefined) await this.authorize(this.challenge);
    const url = new URL(`v2/${this.ref.repository}/${path}`, this.base);
    const attempt = async (): Promise<Response> => {
      try {
        return await this.rawGet(url, { ...headers, ...(this.authorization !== undefined ? { Authorization: this.authorization } : {}) });
      } catch (err) {
        throw this.fail((err as NsnetError).code ?? 'STATE', `${what}: ${(err as Error).message}`, { cause: err });
      }
    };
    let res = await attempt();
    if (res.status === 401) {
      const again = pickChallenge(parseChallenges(res.headers['www-authenticate']));
      // Once: a Bearer challenge means a token for another scope or a fresh one (tokens expire,
      // often after 5 minutes, well within a long pull); Basic only when nothing was sent yet.
      const worthRetry = again !== undefined && (again.scheme === 'bearer' || this.authorization === undefined);
      if (worthRetry) {
        res.body.resume();
        this.challenge = again;
        await this.authorize(again);
        res = await attempt();
      }
    }
    return res;
  }

  /** A non-2xx answer as an error naming what was asked: 404 → NOT_FOUND, 401/403 → NOT_PERMITTED. */
  private async statusError(res: Response, what: string): Promise<RegistryError> {
    const body = await readBody(res, ERROR_BODY_LIMIT, this.opts.documentDeadlineMs, 'the error answer').catch(() => Buffer.alloc(0));
    const { code, text } = registryErrorText(body);
    const status = res.status;
    const opts = { status, ...(code !== undefined ? { registryCode: code } : {}) };
    if (status === 401 || status === 403) {
      return this.fail('NOT_PERMITTED', `${what}: unauthorized (HTTP ${status}: ${text})`, {
        ...opts,
        hint: this.opts.credentials === undefined ? 'the repository may be private: log in (docker login writes ~/.docker/config.json, which nsnet reads)' : undefined,
      });
    }
    if (status === 404) return this.fail('NOT_FOUND', `${what}: ${code === undefined ? `not found (HTTP 404: ${text})` : `${text} (HTTP 404)`}`, opts);
    if (status === 429) return this.fail('STATE', `${what}: too many requests (HTTP 429: ${text})`, { ...opts, hint: 'the registry rate-limits pulls; try again later' });
    return this.fail('INVALID_VALUE', `${what}: the registry answered HTTP ${status} (${text})`, opts);
  }

  /**
   * The manifest for a tag or digest, checked: its bytes hash to the digest asked for (a digest
   * reference) and to the Docker-Content-Digest the registry announced (when it is sha256).
   */
  async manifest(reference: string): Promise<FetchedManifest> {
    const what = `get manifest ${reference}`;
    const res = await this.request(`manifests/${reference}`, { Accept: MANIFEST_ACCEPT }, what);
    if (res.status !== 200) throw await this.statusError(res, what);
    const bytes = await readBody(res, MANIFEST_LIMIT, this.opts.documentDeadlineMs, 'the manifest').catch((err: NsnetError) => {
      throw this.fail(err.code, `${what}: ${err.message}`, { cause: err });
    });
    const digest = sha256(bytes);
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw this.fail('INVALID_VALUE', `${what}: bad digest: the manifest's content hashes to ${digest}`);
    }
    const announced = res.headers['docker-content-digest'];
    if (typeof announced === 'string' && announced.startsWith('sha256:') && announced !== digest) {
      throw this.fail('INVALID_VALUE', `${what}: bad digest: the registry announced ${announced}, the content hashes to ${digest}`);
    }
    try {
      return { manifest: parseManifest(bytes, res.headers['content-type']), bytes, digest };
    } catch (err) {
      throw this.fail((err as NsnetError).code ?? 'INVALID_VALUE', `${what}: ${(err as Error).message}`, { cause: err, hint: (err as NsnetError).hint });
    }
  }

  /** A small blob (the image config) in memory, digest and size checked. */
  async blobBytes(desc: Descriptor, limit: number, what: string): Promise<Buffer> {
    if (desc.size > limit) throw this.fail('INVALID_VALUE', `${what} (${desc.digest}) is ${desc.size} bytes, more than the ${limit} nsnet accepts`);
    const res = await this.request(`blobs/${desc.digest}`, {}, `get ${what} ${desc.digest}`);
    if (res.status !== 200) throw await this.statusError(res, `get ${what} ${desc.digest}`);
    const bytes = await readBody(res, desc.size, this.opts.documentDeadlineMs, `${what} ${desc.digest}`).catch((err: NsnetError) => {
      throw this.fail(err.code, `get ${what}: ${err.message} (the manifest says ${desc.size} bytes)`, { cause: err });
    });
    this.checkBlob(desc, bytes.length, sha256(bytes), what);
    return bytes;
  }

  private checkBlob(desc: Descriptor, length: number, digest: string, what: string): void {
    if (length !== desc.size) throw this.fail('INVALID_VALUE', `get ${what} ${desc.digest}: received ${length} bytes, the manifest says ${desc.size}`);
    if (digest !== desc.digest) throw this.fail('INVALID_VALUE', `get ${what} ${desc.digest}: bad digest: the content hashes to ${digest}`);
  }

  /**
   * Stream a blob into `out`, hashing and counting on the way: more bytes than the descriptor's
   * size stop the download at once; the digest is compared at the end. Resolves only when `out`
   * has every byte and they are the right ones; on any failure `out` is destroyed, and its
   * content must be thrown away by the caller.
   */
  async blobTo(desc: Descriptor, out: Writable, what: string, onBytes?: (n: number) => void): Promise<void> {
    const res = await this.request(`blobs/${desc.digest}`, {}, `get ${what} ${desc.digest}`);
    if (res.status !== 200) {
      out.destroy();
      throw await this.statusError(res, `get ${what} ${desc.digest}`);
    }
    const hash = createHash('sha256');
    let length = 0;
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        res.body.destroy();
        out.destroy();
        reject(err);
      };
      res.body.on('data', (chunk: Buffer) => {
        length += chunk.length;
        if (length > desc.size) {
          fail(this.fail('INVALID_VALUE', `get ${what} ${desc.digest}: more than the ${desc.size} bytes the manifest says`));
          return;
        }
        hash.update(chunk);
        onBytes?.(chunk.length);
        if (!out.write(chunk)) {
          res.body.pause();
          out.once('drain', () => res.body.resume());
        }
      });
      const cut = (): string => `${res.cutBecause() ?? 'the connection closed'} after ${length} of ${desc.size} bytes`;
      res.body.on('error', (err) => fail(this.fail('STATE', `get ${what} ${desc.digest}: ${res.cutBecause() !== undefined ? cut() : err.message}`, { cause: err })));
      res.body.on('aborted', () => fail(this.fail('STATE', `get ${what} ${desc.digest}: ${cut()}`)));
      out.on('error', (err) => fail(this.fail('KERNEL', `get ${what} ${desc.digest}: write: ${err.message}`, { cause: err })));
      res.body.on('end', () => {
        if (settled) return;
        try {
          this.checkBlob(desc, length, `sha256:${hash.digest('hex')}`, what);
        } catch (err) {
          fail(err as Error);
          return;
        }
        out.end(() => {
          settled = true;
          resolve();
        });
      });
    });
  }
}
