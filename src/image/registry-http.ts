/**
 * The HTTP underneath the registry client: one GET with a socket idle timeout, redirects followed
 * (a blob is often served from other storage) without carrying credentials to another host and
 * never from HTTPS down to plain HTTP where that is not allowed, and bodies read under a size
 * limit and a deadline, so a registry that sends too much or dribbles forever cannot hang a pull.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { NsnetError } from '../core/errors.js';

export interface GetOptions {
  headers?: Record<string, string>;
  /** Socket idle time (no byte either way) before the request is abandoned. */
  idleTimeoutMs: number;
  /** May this host[:port] be spoken to over plain HTTP (a redirect there too)? */
  allowsHttp: (hostPort: string) => boolean;
  /** Skip certificate checks: only for registries named insecure (Docker's behaviour for them). */
  insecureTls?: boolean;
  /** Certificate authorities trusted for this host besides Node's bundled ones (PEM): Docker's certs.d/HOST/ca.crt. */
  extraCa?: readonly string[];
  /** Redirects followed before giving up (default 5). */
  maxRedirects?: number;
}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Where the answer came from, after redirects. */
  url: URL;
  body: http.IncomingMessage;
  /** Why the exchange was cut by nsnet (the idle timeout), when it was: the body's own error only says "aborted". */
  cutBecause: () => string | undefined;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Connection-level failure (refused, reset, TLS, timeout): the registry was not reached or went away. */
export class TransportError extends NsnetError {
  readonly url: string;
  constructor(url: URL, cause: unknown) {
    super('STATE', `GET ${url.href}: ${transportText(cause)}`, { cause });
    this.name = 'TransportError';
    this.url = url.href;
  }
}

/** OpenSSL's message without its file and line noise: "TLS handshake failed (wrong version number)". */
function transportText(cause: unknown): string {
  const message = cause instanceof Error ? cause.message : String(cause);
  const ssl = /SSL routines:[^:]*:([^:]+)/.exec(message);
  return ssl !== null ? `TLS handshake failed (${ssl[1]})` : message;
}

/** Did a TLS handshake fail in a way that means the other end speaks plain HTTP (or no TLS at all)? */
export function looksLikePlainHttp(err: unknown): boolean {
  const cause = err instanceof TransportError ? (err.cause as NodeJS.ErrnoException | undefined) : (err as NodeJS.ErrnoException);
  const code = cause?.code ?? '';
  return code === 'EPROTO' || code.startsWith('ERR_SSL') || /wrong version number|packet length too long|http request/i.test(cause?.message ?? '');
}

/** Did the TLS handshake fail on the certificate (self-signed, unknown CA, wrong name, expired)? */
export function isCertificateError(err: unknown): boolean {
  const cause = err instanceof TransportError ? (err.cause as NodeJS.ErrnoException | undefined) : (err as NodeJS.ErrnoException);
  const code = cause?.code ?? '';
  return /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS_CERT_ALTNAME_INVALID/.test(code);
}

/** hostname:port as the URL names it (an IPv6 literal in brackets). */
export const hostPortOf = (u: URL): string => u.host;

function getOnce(url: URL, opts: GetOptions): Promise<Response> {
  return new Promise((resolve, reject) => {
    let cut: string | undefined;
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(
      url,
      {
        method: 'GET',
        headers: { 'User-Agent': 'nsnet', ...(opts.headers ?? {}) },
        ...(url.protocol === 'https:' ? { rejectUnauthorized: opts.insecureTls !== true, ...(opts.extraCa !== undefined && opts.extraCa.length > 0 ? { ca: [...tls.rootCertificates, ...opts.extraCa] } : {}) } : {}),
      },
      (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, url, body: res, cutBecause: () => cut }),
    );
    // One idle timer for the whole exchange: it fires whenever the socket is silent that long,
    // before the answer or in the middle of a body; destroying the request errors the body stream.
    req.setTimeout(opts.idleTimeoutMs, () => {
      cut = `no data for ${Math.round(opts.idleTimeoutMs / 1000)} s (timed out)`;
      req.destroy(new Error(cut));
    });
    req.on('error', (err) => reject(new TransportError(url, err)));
    req.end();
  });
}

/**
 * GET with redirects. The Authorization header goes only to the host it was meant for; a redirect
 * to plain HTTP is followed only where plain HTTP is allowed.
 */
export async function get(url: URL, opts: GetOptions): Promise<Response> {
  let current = url;
  let headers = { ...(opts.headers ?? {}) };
  for (let hop = 0; ; hop++) {
    if (current.protocol !== 'https:' && current.protocol !== 'http:') throw new NsnetError('INVALID_VALUE', `GET ${url.href}: redirected to ${current.href}, which is not HTTP(S)`);
    if (current.protocol === 'http:' && !opts.allowsHttp(hostPortOf(current))) {
      throw new NsnetError('FORBIDDEN', `GET ${url.href}: ${hop === 0 ? 'plain HTTP' : `redirected to plain HTTP (${current.href})`} is allowed only for localhost and registries named with --insecure-registry`);
    }
    const res = await getOnce(current, { ...opts, headers });
    if (!REDIRECTS.has(res.status) || typeof res.headers.location !== 'string') return res;
    res.body.resume();
    if (hop >= (opts.maxRedirects ?? 5)) throw new NsnetError('INVALID_VALUE', `GET ${url.href}: more than ${opts.maxRedirects ?? 5} redirects`);
    const next = new URL(res.headers.location, current);
    if (next.host !== current.host) {
      const { Authorization: _dropped, ...rest } = headers;
      headers = rest;
    }
    current = next;
  }
}

/** The whole body, refused once it passes `limit` bytes or takes longer than `deadlineMs`. */
export function readBody(res: Response, limit: number, deadlineMs: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      res.body.destroy();
      reject(new NsnetError('INVALID_VALUE', `${what} is ${declared} bytes, more than the ${limit} nsnet accepts`));
      return;
    }
    const chunks: Buffer[] = [];
    let length = 0;
    const timer = setTimeout(() => fail(new NsnetError('STATE', `${what}: not received within ${Math.round(deadlineMs / 1000)} s (timed out)`)), deadlineMs);
    let done = false;
    const fail = (err: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      res.body.destroy();
      reject(err);
    };
    res.body.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) fail(new NsnetError('INVALID_VALUE', `${what} is more than the ${limit} bytes nsnet accepts`));
      else chunks.push(chunk);
    });
    res.body.on('error', (err) => fail(new TransportError(res.url, new Error(res.cutBecause() ?? err.message))));
    res.body.on('aborted', () => fail(new TransportError(res.url, new Error(res.cutBecause() ?? 'the connection closed in the middle of the body'))));
    res.body.on('end', () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(Buffer.concat(chunks, length));
    });
  });
}
