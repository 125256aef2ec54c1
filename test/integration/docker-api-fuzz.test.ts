/**
 * The Docker API server under malformed requests, beyond api-server.test.ts's fuzz (garbage,
 * a huge head, 150 random container/network requests): an oversized body, broken JSON and wrong
 * types, deep nesting, bad versions and percent-encoding, the image endpoints' bad input, truncated
 * and abandoned requests, garbage as an image, and 200 generated requests (fast-check, fixed seed)
 * over every area. Each gets an answer in Docker's error shape, and after all of them the server
 * still answers /_ping and lists containers: it keeps serving.
 *
 * Only the sandbox's Unix socket is spoken to; every loop is bounded.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import { closeApiSandbox, openApiSandbox, type ApiSandbox } from '../helpers/api-server.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

/** Write raw bytes, read until the server closes or 5 s pass; the answer's text. */
function raw(socket: string, bytes: Buffer | string, opts: { endWrite?: boolean } = {}): Promise<string> {
  return new Promise((resolve) => {
    const conn = net.createConnection(socket);
    let got = '';
    const done = (): void => {
      conn.destroy();
      resolve(got);
    };
    conn.setTimeout(5_000, done);
    conn.on('data', (c: Buffer) => (got += c.toString('latin1')));
    conn.on('close', done);
    conn.on('error', done);
    conn.write(bytes, () => {
      if (opts.endWrite !== false) conn.end();
    });
  });
}

requiredSuite('Docker API: malformed requests get Docker\'s error answers and the server keeps serving', { needs: [needs.integration], concurrency: false, timeout: 180_000 }, () => {
  let box: ApiSandbox | undefined;
  const api = (): ApiSandbox['api'] => box!.api;
  const alive = async (): Promise<void> => {
    const ping = await api().request('GET', '/_ping');
    assert.equal(ping.status, 200, `/_ping after the abuse:\n${api().log().slice(-2000)}`);
    assert.equal(api().process.exitCode, null, 'nsnet serve is still running');
  };

  before(async () => {
    box = await openApiSandbox('fz');
  });
  after(() => closeApiSandbox(box));

  it('a body over the limit is 413 in Docker\'s shape', async () => {
    const body = Buffer.alloc(5 * 1024 * 1024, 0x20);
    const r = await api().request('POST', '/networks/create', body, { 'Content-Type': 'application/json' });
    assert.equal(r.status, 413, r.body.toString());
    assert.equal(typeof r.json().message, 'string');
    await alive();
  });

  it('broken JSON, wrong types and deep nesting are 400 with a message', async () => {
    const cases: Array<string | Buffer> = ['{', '{"Name": }', '[1,2', 'null', '"a string"', '{"Name": 5}', '{"Name": "x", "Labels": "not a map"}', `${'['.repeat(50_000)}${']'.repeat(50_000)}`, Buffer.from([0xff, 0xfe, 0x00])];
    for (const body of cases) {
      const r = await api().request('POST', '/networks/create', body, { 'Content-Type': 'application/json' });
      assert.equal(r.status, 400, `POST /networks/create ${JSON.stringify(body.toString().slice(0, 40))}: ${r.status} ${r.body.toString().slice(0, 300)}`);
      assert.equal(typeof r.json().message, 'string');
    }
    const c = await api().request('POST', '/containers/create', '{"Image": ["busybox"]}', { 'Content-Type': 'application/json' });
    assert.equal(c.status, 400, c.body.toString());
    await alive();
  });

  it('versions, paths and percent-encoding: dockerd\'s statuses', async () => {
    const expect: Array<[string, string, number]> = [
      ['GET', '/v9.99/_ping', 400],
      ['GET', '/v1.0/_ping', 400],
      ['GET', '/v1.41/_ping', 200],
      ['GET', '/containers/%zz/json', 404],
      ['GET', '/nothing/here', 404],
      ['GET', '/containers/nope/json', 404],
      ['GET', '/images/nope/json', 404],
      ['DELETE', '/images/nope', 404],
      ['POST', '/images/nope/tag?repo=x', 404],
      ['GET', '/images/json?filters=%7Bnot-json', 400],
      ['GET', '/images/json?filters=%7B%22colour%22%3A%5B%22red%22%5D%7D', 400],
      ['POST', '/images/create', 400],
      ['POST', '/images/create?fromImage=Not%20A%20Ref', 400],
      ['POST', '/swarm/init', 501],
    ];
    for (const [method, urlPath, status] of expect) {
      const r = await api().request(method, urlPath);
      assert.equal(r.status, status, `${method} ${urlPath}: ${r.status} ${r.body.toString().slice(0, 300)}`);
      if (status >= 400) assert.equal(typeof r.json().message, 'string', `${method} ${urlPath} answers {"message": ...}`);
    }
    await alive();
  });

  it('requests cut short, abandoned or garbage as an image: the server is not stuck', async () => {
    // A body promised and never sent, a chunked body that breaks off, a connection left open.
    await raw(api().socket, 'POST /networks/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"Na');
    await raw(api().socket, 'POST /images/load HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\nZZZ\r\n');
    const held = Array.from({ length: 20 }, () => net.createConnection(api().socket).on('error', () => {}));
    const junk = await api().request('POST', '/images/load', Buffer.from('this is not a tar archive'.repeat(100)), { 'Content-Type': 'application/x-tar' });
    assert.ok(junk.status >= 400 && junk.status < 600, `garbage as an image: ${junk.status} ${junk.body.toString().slice(0, 300)}`);
    assert.equal(typeof junk.json().message, 'string');
    await alive();
    for (const c of held) c.destroy();
  });

  it('200 generated requests (methods, paths, queries, bodies): each answered, none a 500, the server serves after', async () => {
    const segment = fc.oneof(
      fc.constantFrom('containers', 'networks', 'images', 'exec', 'json', 'create', 'start', 'inspect', 'bridge', 'busybox', '..', '%2e%2e', '%00', 'v1.41', '{id}'),
      fc.string({ maxLength: 12 }).map((s) => encodeURIComponent(s)),
    );
    const request = fc.record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS'),
      segments: fc.array(segment, { minLength: 1, maxLength: 5 }),
      query: fc.option(fc.dictionary(fc.constantFrom('filters', 'all', 'force', 'name', 'fromImage', 'tag', 'repo', 't', 'since'), fc.string({ maxLength: 20 })), { nil: undefined }),
      body: fc.option(fc.oneof(fc.json(), fc.string({ maxLength: 200 })), { nil: undefined }),
    });
    const failures: string[] = [];
    await fc.assert(
      fc.asyncProperty(request, async (rq) => {
        const q = rq.query === undefined ? '' : `?${new URLSearchParams(rq.query).toString()}`;
        const urlPath = `/${rq.segments.join('/')}${q}`;
        let status = 0;
        let body = '';
        try {
          const r = await api().request(rq.method, urlPath, rq.body, rq.body === undefined ? {} : { 'Content-Type': 'application/json' });
          status = r.status;
          body = r.body.toString();
        } catch (err) {
          failures.push(`${rq.method} ${urlPath}: no answer (${(err as Error).message})`);
          return;
        }
        if (status >= 500 && status !== 501) failures.push(`${rq.method} ${urlPath} ${JSON.stringify(rq.body)?.slice(0, 80)}: ${status} ${body.slice(0, 200)}`);
      }),
      { numRuns: 200, seed: 18, endOnFailure: true },
    );
    assert.deepEqual(failures, [], `requests answered with a server error or not at all:\n${failures.join('\n')}\n--- nsnet serve log (last 2000 chars):\n${api().log().slice(-2000)}`);
    await alive();
    const list = await api().request('GET', '/containers/json?all=1');
    assert.equal(list.status, 200);
  });
});
