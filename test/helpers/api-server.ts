/**
 * `nsnet serve` in a sandbox: the Docker Engine API on ROOT/docker.sock, served from the sandbox's
 * host namespace (so the containers it makes are the sandbox's), and what a Docker client needs to
 * reach it. The clients themselves run in the machine's own namespace: a Unix socket does not care
 * about network namespaces, and no client ever opens a TCP connection.
 *
 *   const api = await startApiServer(sb);
 *   runSync([DOCKER_CLIS[0].path, 'ps'], { env: api.env });
 *   await api.stop();            // also done by sb.destroy() (the process is the sandbox's)
 *
 * The clients' own configuration is kept out of the test: DOCKER_CONFIG is a fresh empty
 * directory (no credential helpers, contexts or plugins from ~/.docker), DOCKER_CONTEXT is unset.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { NSNET_BIN, createSandbox, type Sandbox } from './sandbox.js';

export const API_SOCKET_NAME = 'docker.sock';

export interface ApiAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed as JSON (throws with the body in the message when it is not JSON). */
  json<T = any>(): T;
}

export interface ApiServer {
  /** ROOT/docker.sock */
  socket: string;
  /** unix:///ROOT/docker.sock */
  dockerHost: string;
  /** The environment a Docker client runs with: DOCKER_HOST, an empty DOCKER_CONFIG, no proxies. */
  env: NodeJS.ProcessEnv;
  process: ChildProcess;
  /** What the server wrote to stderr so far (one line per request): for assertion messages. */
  log(): string;
  /** One HTTP request over the socket (no client library). */
  request(method: string, urlPath: string, body?: string | Buffer | object, headers?: Record<string, string>): Promise<ApiAnswer>;
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process is gone. */
  stop(): Promise<void>;
}

/** A request over a Unix socket; the answer whole. */
export function socketRequest(socket: string, method: string, urlPath: string, body?: string | Buffer | object, headers: Record<string, string> = {}): Promise<ApiAnswer> {
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const head: Record<string, string> = { ...headers };
  if (payload !== undefined) {
    head['Content-Length'] ??= String(payload.length);
    if (typeof body === 'object' && !Buffer.isBuffer(body)) head['Content-Type'] ??= 'application/json';
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method, path: urlPath, headers: head }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const all = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: all,
          json: () => {
            try {
              return JSON.parse(all.toString('utf8'));
            } catch {
              throw new Error(`${method} ${urlPath}: answer ${res.statusCode} is not JSON: ${all.toString('utf8').slice(0, 500)}`);
            }
          },
        });
      });
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${urlPath}: no answer in 30 s`)));
    req.end(payload);
  });
}

/** Start `nsnet --root ROOT serve` in the sandbox's host namespace and wait until /_ping answers OK. */
export async function startApiServer(sb: Sandbox, opts: { timeoutMs?: number } = {}): Promise<ApiServer> {
  const socket = path.join(sb.root, API_SOCKET_NAME);
  const child = sb.spawnInHost([NSNET_BIN, '--root', sb.root, 'serve']);
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  child.stdout?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const config = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-docker-config-'));
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: config };
  for (const k of ['DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_API_VERSION', 'HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) delete env[k];
  env['NO_PROXY'] = '*';

  const server: ApiServer = {
    socket,
    dockerHost: `unix://${socket}`,
    env,
    process: child,
    log: () => stderr,
    request: (method, urlPath, body, headers) => socketRequest(socket, method, urlPath, body, headers),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        process.kill(child.pid, 'SIGTERM');
        const timer = setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
        }, 5_000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(config, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`nsnet serve exited (${child.exitCode ?? child.signalCode}) before answering /_ping:\n${stderr}`);
    }
    if (fs.existsSync(socket)) {
      try {
        const r = await socketRequest(socket, 'GET', '/_ping');
        if (r.status === 200) return server;
        last = `/_ping answered ${r.status}: ${r.body.toString()}`;
      } catch (err) {
        last = (err as Error).message;
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await server.stop();
  throw new Error(`nsnet serve did not answer /_ping on ${socket} in time (${last}):\n${stderr}`);
}

/** The docker CLIs a fresh machine has: Debian's docker.io (setup installs it) and the node machine image's own. */
export interface DockerCli {
  /** For test names: "docker 20.10 (Debian docker.io, /usr/bin/docker)". */
  label: string;
  path: string;
  /** Where it comes from, for the reason when it is missing. */
  install: string;
}

export const DOCKER_CLIS: readonly DockerCli[] = [
  { label: 'docker 20.10 (Debian docker.io, /usr/bin/docker)', path: '/usr/bin/docker', install: 'bash scripts/setup.sh installs docker.io' },
  { label: 'docker 28 (/usr/local/bin/docker)', path: '/usr/local/bin/docker', install: 'the node machine image ships it; it is not a Debian package' },
];

/** A need (test/helpers/requirements.ts) for an executable at an exact path. */
export function executable(file: string, what: string, install: string): () => string | undefined {
  return () => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return undefined;
    } catch {
      return `${what} needs ${file}, which is missing (${install})`;
    }
  };
}

/** Lines of a JSON-lines progress stream (docker load, docker pull), parsed. */
export function jsonLines(body: Buffer | string): Array<Record<string, any>> {
  return body
    .toString()
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, any>);
}

/** A sandbox with `nsnet serve` in it and a scratch directory: what every client test starts with. */
export interface ApiSandbox {
  sb: Sandbox;
  api: ApiServer;
  /** A fresh directory for archives, scripts and compose files; removed by closeApiSandbox. */
  dir: string;
}

export async function openApiSandbox(tag: string): Promise<ApiSandbox> {
  const sb = await createSandbox(tag);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-api-client-'));
  try {
    return { sb, api: await startApiServer(sb), dir };
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    await sb.destroy();
    throw err;
  }
}

/** Stop the server, remove the directory and the sandbox; a cleanup problem fails the suite. */
export async function closeApiSandbox(s: ApiSandbox | undefined): Promise<void> {
  if (s === undefined) return;
  await s.api.stop();
  fs.rmSync(s.dir, { recursive: true, force: true });
  const report = await s.sb.destroy();
  if (report.problems.length > 0) throw new Error(`sandbox cleanup problems:\n${report.problems.join('\n')}`);
}
