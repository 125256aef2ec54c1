/**
 * The Docker API server over a real Unix socket, without a state root: the answers that need no
 * Context (ping, version, negotiation, errors, limits, malformed requests), and a small fuzz after
 * which the server still answers. The socket's mode and the refusal of a second server too.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createApiServer } from '../../src/api/server.js';
import { buildRouter } from '../../src/api/routes.js';
import { EventFeed } from '../../src/api/events.js';
import { clearSocketPath, closeServer, groupId, listenUnix } from '../../src/api/socket.js';
import type { Context } from '../../src/ops/context.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(socketPath: string, method: string, urlPath: string, opts: { body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: urlPath, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Raw bytes in, the raw answer out (until the server closes or 500 ms pass). */
function raw(socketPath: string, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    const chunks: Buffer[] = [];
    const done = (): void => {
      s.destroy();
      resolve(Buffer.concat(chunks).toString());
    };
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', done);
    s.on('error', done);
    s.write(bytes);
    setTimeout(done, 500);
  });
}

describe('API server on a Unix socket', () => {
  let dir = '';
  let sock = '';
  let server: http.Server;
  const logged: string[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-api-'));
    sock = path.join(dir, 'docker.sock');
    const noContext = (): Context => {
      throw new Error('no state root in this test');
    };
    const events = new EventFeed(noContext, () => undefined);
    server = createApiServer(buildRouter({ events }), { context: noContext, log: (l) => logged.push(l), engineVersion: '20.10.24' }, { bodyBytes: 1024, headerBytes: 2048 });
    await listenUnix(server, sock, process.getgid?.() ?? 0);
  });

  after(async () => {
    await closeServer(server, sock);
    assert.equal(fs.existsSync(sock), false, 'the socket is removed on close');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the socket is mode 0660', () => {
    assert.equal(fs.statSync(sock).mode & 0o777, 0o660);
  });

  test("GET and HEAD /_ping answer OK with Docker's headers, with and without a version prefix", async () => {
    // The unversioned ones are answered before the router (server.ts), the others by it: the same answer.
    for (const method of ['GET', 'HEAD']) {
      for (const p of ['/_ping', '/v1.41/_ping', '/v1.24/_ping']) {
        const a = await request(sock, method, p);
        assert.equal(a.status, 200, p);
        assert.equal(a.body, method === 'GET' ? 'OK' : '');
        assert.equal(a.headers['content-length'], method === 'GET' ? '2' : '0');
        assert.equal(a.headers['content-type'], 'text/plain; charset=utf-8');
        assert.equal(a.headers['api-version'], '1.41');
        assert.equal(a.headers['ostype'], 'linux');
        assert.equal(a.headers['docker-experimental'], 'false');
        assert.equal(a.headers['swarm'], 'inactive');
        assert.equal(a.headers['cache-control'], 'no-cache, no-store, must-revalidate');
        assert.equal(a.headers['pragma'], 'no-cache');
        assert.match(String(a.headers['server']), /^Docker\/20\.10\.24 \(linux\)$/);
      }
    }
  });

  test('/version says 1.41 and 1.12', async () => {
    const a = await request(sock, 'GET', '/v1.41/version');
    const v = JSON.parse(a.body) as Record<string, unknown>;
    assert.equal(v['ApiVersion'], '1.41');
    assert.equal(v['MinAPIVersion'], '1.12');
    assert.equal(v['Os'], 'linux');
  });

  test('a client newer than 1.41 gets 400 with dockerd\'s message', async () => {
    const a = await request(sock, 'GET', '/v1.47/version');
    assert.equal(a.status, 400);
    assert.deepEqual(JSON.parse(a.body), { message: 'client version 1.47 is too new. Maximum supported API version is 1.41' });
  });

  test('unknown endpoints 404 page not found; known unsupported ones 501 naming what', async () => {
    const a = await request(sock, 'GET', '/v1.41/nothing/here');
    assert.equal(a.status, 404);
    assert.deepEqual(JSON.parse(a.body), { message: 'page not found' });
    const s = await request(sock, 'POST', '/v1.41/swarm/init', { body: '{}' });
    assert.equal(s.status, 501);
    assert.deepEqual(JSON.parse(s.body), { message: 'swarm mode is not supported by nsnet' });
    const v = await request(sock, 'GET', '/volumes');
    assert.equal(v.status, 501);
    assert.match(JSON.parse(v.body).message, /volumes is not supported by nsnet/);
  });

  test('a 501 is logged as one line (method, path, message); a real 500 keeps its stack', async () => {
    logged.length = 0;
    await request(sock, 'POST', '/v1.41/swarm/init', { body: '{}' });
    assert.deepEqual(logged, ['POST /v1.41/swarm/init: swarm mode is not supported by nsnet']);
    logged.length = 0;
    // This server has no state root: a route that needs one fails inside, a 500 with the stack.
    const a = await request(sock, 'GET', '/v1.41/containers/json');
    assert.equal(a.status, 500);
    assert.equal(logged.length, 1);
    assert.match(logged[0] ?? '', /^GET \/v1\.41\/containers\/json: Error: no state root in this test\n\s+at /);
  });

  test('malformed JSON is a 400 before anything is done; a body past the limit a 413', async () => {
    const a = await request(sock, 'POST', '/v1.41/networks/create', { body: '{"Name": "x",', headers: { 'Content-Type': 'application/json' } });
    assert.equal(a.status, 400);
    assert.match(JSON.parse(a.body).message, /^invalid JSON: /);
    const big = await request(sock, 'POST', '/v1.41/networks/create', { body: `{"Name":"${'x'.repeat(4000)}"}` });
    assert.equal(big.status, 413);
    assert.match(JSON.parse(big.body).message, /larger than the limit of 1024 bytes/);
  });

  test('a header past the limit is a 431, a bad request line a 400; the server goes on', async () => {
    const a = await raw(sock, `GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`);
    assert.match(a, /^HTTP\/1\.1 431 /);
    const b = await raw(sock, 'BLAH\r\n\r\n');
    assert.match(b, /^HTTP\/1\.1 400 /);
    assert.equal((await request(sock, 'GET', '/_ping')).status, 200);
  });

  test('fuzz: random paths, methods and bytes; the server keeps serving and never answers 5xx to them', async () => {
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pieces = ['containers', 'networks', 'json', '..', '%00', '%', 'v1.41', 'v9.99', 'v0.1', '{id}', '_ping', 'events', '', 'x'.repeat(300), '%2F', 'images', 'exec'];
    const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];
    for (let i = 0; i < 200; i++) {
      const p = `/${Array.from({ length: 1 + rand(4) }, () => pieces[rand(pieces.length)]).join('/')}`;
      const method = methods[rand(methods.length)]!;
      const body = rand(2) === 0 ? undefined : ['{', '[]', 'null', '{"Name":1}', '\u0000\u0001', '{"a":'.repeat(50)][rand(6)];
      if (p.includes('events') || /\/v1\.41\/?$/.test(p)) continue; // a stream, by design open-ended
      const a = await request(sock, method, p, body === undefined ? {} : { body }).catch((err: unknown) => ({ status: -1, body: String(err), headers: {} }));
      assert.ok(a.status === -1 || a.status < 500 || a.status === 501 || /no state root in this test/.test(a.body), `${method} ${p}: ${a.status} ${a.body}`);
    }
    for (let i = 0; i < 50; i++) {
      const junk = Buffer.from(Array.from({ length: 1 + rand(200) }, () => rand(256)));
      await raw(sock, Buffer.concat([Buffer.from(['GET ', 'POST /', '', 'HTTP/1.1 '][rand(4)]!), junk]));
    }
    assert.equal((await request(sock, 'GET', '/_ping')).body, 'OK');
  });

  test('a second server on the same socket is refused; a stale socket is removed', async () => {
    await assert.rejects(clearSocketPath(sock), /another server .* is listening on/);
    const stale = path.join(dir, 'stale.sock');
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(stale, r));
    // Closing a listening socket's fd without unlinking leaves the file: stale, as after a crash.
    const fd = (s as unknown as { _handle: { fd: number } })._handle.fd;
    assert.ok(fd > 0);
    fs.linkSync(stale, `${stale}.copy`);
    await new Promise<void>((r) => s.close(() => r()));
    fs.renameSync(`${stale}.copy`, stale);
    await clearSocketPath(stale);
    assert.equal(fs.existsSync(stale), false);
    fs.writeFileSync(path.join(dir, 'file'), 'x');
    await assert.rejects(clearSocketPath(path.join(dir, 'file')), /is not a socket/);
  });

  test('--group: a name from /etc/group or a number; an unknown name is refused naming it', () => {
    assert.equal(groupId('root'), 0);
    assert.equal(groupId('1234'), 1234);
    assert.throws(() => groupId('nsnet-no-such-group'), /invalid --group "nsnet-no-such-group": no such group in \/etc\/group/);
  });
});

test("the event feed looks faster only for a client: nsnet serve's own auto-remove is a patient listener", () => {
  const feed = new EventFeed(() => ({}) as Context, () => undefined);
  const ownRemover = feed.subscribe(() => undefined, { patient: true });
  assert.equal(feed.hurried, false, 'auto-remove alone: the idle looks');
  const client = feed.subscribe(() => undefined);
  assert.equal(feed.hurried, true, 'a client of /events');
  client();
  assert.equal(feed.hurried, false);
  ownRemover();
  assert.equal(feed.hurried, false);
});
