/**
 * Registry authentication as Docker does it: the registry's 401 carries a WWW-Authenticate
 * challenge; `Basic` means the user's credentials on every request, `Bearer realm=... service=...
 * scope=...` means a token from the realm (the token server), asked with the user's credentials when
 * there are some (anonymous otherwise) for `repository:NAME:pull`, then sent as `Bearer TOKEN`.
 */
import { NsnetError } from '../core/errors.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface Challenge {
  /** Lower case: basic, bearer. */
  scheme: string;
  params: Record<string, string>;
}

/**
 * Every challenge in a WWW-Authenticate value (RFC 7235): `Basic realm="r", Bearer realm="x",
 * service="y"` holds two. Parameter names are lower-cased; quoted values unescaped.
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const value of values) {
    let i = 0;
    let current: Challenge | undefined;
    const skip = (re: RegExp): void => {
      while (i < value.length && re.test(value[i]!)) i++;
    };
    while (i < value.length) {
      skip(/[\s,]/);
      const start = i;
      while (i < value.length && /[^\s,=]/.test(value[i]!)) i++;
      const word = value.slice(start, i);
      if (word === '') break;
      skip(/\s/);
      if (value[i] === '=' && current !== undefined) {
        i++;
        skip(/\s/);
        let v = '';
        if (value[i] === '"') {
          i++;
          while (i < value.length && value[i] !== '"') {
            if (value[i] === '\\' && i + 1 < value.length) i++;
            v += value[i];
            i++;
          }
          i++;
        } else {
          const s = i;
          while (i < value.length && /[^\s,]/.test(value[i]!)) i++;
          v = value.slice(s, i);
        }
        current.params[word.toLowerCase()] = v;
      } else {
        current = { scheme: word.toLowerCase(), params: {} };
        out.push(current);
      }
    }
  }
  return out;
}

/** The challenge nsnet answers: Bearer over Basic when both are offered (as Docker prefers). */
export function pickChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
}

export const basicAuthorization = (c: Credentials): string => `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;

/** The token server's URL for one challenge: realm?service=S&scope=SCOPE (the challenge's scope wins, it is what the registry asked for). */
export function tokenUrl(challenge: Challenge, repository: string): URL {
  const realm = challenge.params['realm'];
  if (realm === undefined || realm === '') throw new NsnetError('INVALID_VALUE', 'the registry asked for a Bearer token but named no realm (token server) in WWW-Authenticate');
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new NsnetError('INVALID_VALUE', `the registry's token realm ${JSON.stringify(realm)} is not a URL`);
  }
  const service = challenge.params['service'];
  if (service !== undefined) url.searchParams.set('service', service);
  url.searchParams.set('scope', challenge.params['scope'] ?? `repository:${repository}:pull`);
  return url;
}

/** The token in a token server's JSON answer ({token} or OAuth's {access_token}). */
export function tokenFromAnswer(body: Buffer, realm: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new NsnetError('INVALID_VALUE', `the token server ${realm} answered something that is not JSON (starts with ${JSON.stringify(body.subarray(0, 40).toString('utf8'))})`);
  }
  const o = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  const token = typeof o['token'] === 'string' && o['token'] !== '' ? o['token'] : o['access_token'];
  if (typeof token !== 'string' || token === '' || /[\r\n]/.test(token)) throw new NsnetError('INVALID_VALUE', `the token server ${realm} answered JSON without a token`);
  return token;
}

/**
 * Credentials for a registry from Docker's client configuration ($DOCKER_CONFIG/config.json or
 * ~/.docker/config.json, `auths.REGISTRY.auth` = base64 user:password, as `docker login` writes
 * it). Credential helpers are not run. `read` returns the file's text or undefined.
 */
export function dockerConfigCredentials(configText: string | undefined, registry: string): Credentials | undefined {
  if (configText === undefined) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(configText);
  } catch {
    return undefined;
  }
  const auths = (doc as { auths?: Record<string, { auth?: unknown; username?: unknown; password?: unknown }> } | null)?.auths;
  if (typeof auths !== 'object' || auths === null) return undefined;
  const keys = registry === 'docker.io' ? ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'] : [registry, `https://${registry}`, `http://${registry}`];
  for (const k of keys) {
    const e = auths[k];
    if (e === undefined) continue;
    if (typeof e.username === 'string' && typeof e.password === 'string') return { username: e.username, password: e.password };
    if (typeof e.auth === 'string') {
      const decoded = Buffer.from(e.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  return undefined;
}
