/**
 * The DNS responder against hostile clients (issue 14, items 5 and 6), in a sandbox:
 *
 *   (a) a container asks its own gateway about another network's names, aliases and addresses;
 *   (b) a container asks another network's gateway directly (routed through the host), also from
 *       an --internal network;
 *   (c) the world, with a route to a gateway, asks names, PTR and names to forward;
 *   (d) one container holds 200 idle TCP connections to its gateway while containers of its own
 *       and another network query over TCP.
 * And the other side of (a)-(c): a container asking the moment its process starts is answered.
 *
 * Every forwarded query goes to a fake upstream in the sandbox's world namespace (203.0.113.8:53,
 * the networks' -o nsnet.dns.servers) that logs what it receives, so "nothing was forwarded" is
 * something the test sees, and no real resolver is ever asked. Each probe has a control showing
 * the probe itself works (the same question answered for a container that may ask it).
 *
 * On the code before this hardening: (a) the PTR of the other network's container was forwarded
 * upstream; (b) and (c) were answered (A, PTR) and forwarded ("an open resolver"); in (d) the
 * 128 global TCP slots were all the attacker's, so the other network's TCP query was closed
 * unanswered ("CLOSED").
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';
import { createSandbox, HOST_UPLINK_IP, NSNET_BIN, REPO, WORLD_IP, type Sandbox } from '../helpers/sandbox.js';

const DNS_PACKET = JSON.stringify(path.join(REPO, 'node_modules', 'dns-packet'));

/** The fake upstream: logs {name, type, from} per query on stdout; upstream.test → 192.0.2.55, the rest NXDOMAIN. */
const UPSTREAM = `
const dgram = require('node:dgram');
const dns = require(${DNS_PACKET});
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => {
  let q; try { q = dns.decode(m); } catch { return; }
  const { name, type } = q.questions[0];
  console.log(JSON.stringify({ name, type, from: r.address }));
  const answers = name === 'upstream.test' && type === 'A' ? [{ type: 'A', name, ttl: 5, data: '192.0.2.55' }] : [];
  s.send(dns.encode({ id: q.id, type: 'response', flags: 0x0180 | (answers.length ? 0 : 3), questions: q.questions, answers }), r.port, r.address);
});
s.bind(53, ${JSON.stringify(WORLD_IP)}, () => console.log(JSON.stringify({ ready: true })));
`;

/**
 * One query: argv SERVER NAME TYPE udp|tcp TIMEOUT_MS. Prints {rcode, answers, ms} or
 * {rcode: 'TIMEOUT'} (no reply), {rcode: 'CLOSED', connected} (TCP closed with no answer).
 */
const CLIENT = `
const dns = require(${DNS_PACKET});
const [server, name, type, transport, timeout] = process.argv.slice(2);
const q = dns.encode({ id: 4711, type: 'query', flags: dns.RECURSION_DESIRED, questions: [{ type, name }] });
const t0 = process.hrtime.bigint();
const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
const done = (r) => { console.log(JSON.stringify({ ...r, ms: ms() })); process.exit(0); };
const decoded = (m) => { const p = dns.decode(m); return { rcode: p.rcode, answers: p.answers.map((a) => a.data) }; };
setTimeout(() => done({ rcode: 'TIMEOUT' }), Number(timeout));
if (transport === 'tcp') {
  let buf = Buffer.alloc(0); let connected = false;
  const c = require('node:net').connect(53, server);
  const len = Buffer.alloc(2); len.writeUInt16BE(q.length);
  c.on('connect', () => { connected = true; c.write(Buffer.concat([len, q])); });
  c.on('data', (d) => { buf = Buffer.concat([buf, d]); if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(decoded(buf.subarray(2))); });
  c.on('error', (e) => { if (!connected) done({ rcode: 'CONNECT ' + e.code }); });
  c.on('close', () => done({ rcode: 'CLOSED', connected }));
} else {
  const s = require('node:dgram').createSocket('udp4');
  s.on('message', (m) => done(decoded(m)));
  s.send(q, 53, server);
}
`;

/**
 * The hoarder: argv SERVER COUNT. Opens COUNT TCP connections and sends nothing; prints
 * {t, connected, open} at 0.5 s (then the test queries), 1.5 s and 4.5 s (after the idle timeout).
 */
const HOARDER = `
const [server, count] = process.argv.slice(2);
const socks = []; let connected = 0;
for (let i = 0; i < Number(count); i++) {
  const s = require('node:net').connect(53, server);
  s.on('connect', () => connected++); s.on('error', () => {});
  socks.push(s);
}
const report = (t) => console.log(JSON.stringify({ t, connected, open: socks.filter((s) => s.readyState === 'open').length }));
setTimeout(() => report(500), 500);
setTimeout(() => report(1500), 1500);
setTimeout(() => { report(4500); process.exit(0); }, 4500);
`;

interface Reply {
  rcode: string;
  answers?: string[];
  ms: number;
  connected?: boolean;
}

interface Logged {
  name: string;
  type: string;
  from: string;
}

requiredSuite('dns hardening: who is answered, and TCP exhaustion', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  let upstream: ChildProcess | undefined;
  const upstreamLog: Logged[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-test-hdns-'));
  const script = (name: string, text: string): string => {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, text);
    return file;
  };
  const clientJs = script('client.cjs', CLIENT);
  const hoarderJs = script('hoarder.cjs', HOARDER);
  const upstreamJs = script('upstream.cjs', UPSTREAM);
  // Networks: a and b (NATed), i (internal); their gateways are .1.
  const A = '10.81.0.1';
  const B = '10.82.0.1';
  const I = '10.83.0.1';
  const name = (c: string): string => `${sb!.prefix}${c}`;

  /** One query from inside a container (or, with world: true, from the world namespace). */
  async function ask(from: string | { world: true }, server: string, qname: string, opts: { type?: string; tcp?: boolean; timeoutMs?: number } = {}): Promise<Reply> {
    const argv = [process.execPath, clientJs, server, qname, opts.type ?? 'A', opts.tcp === true ? 'tcp' : 'udp', String(opts.timeoutMs ?? 1500)];
    const r = typeof from === 'string' ? await sb!.nsnet(['exec', name(from), ...argv]) : await sb!.inWorldAsync(argv);
    return JSON.parse(ok(r).stdout.trim().split('\n').pop() ?? '') as Reply;
  }
  const ptr = (ip: string): string => `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const forwarded = (qname: string): Logged[] => upstreamLog.filter((l) => l.name === qname);
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 300));

  before(async () => {
    sb = await createSandbox('hdns');
    upstream = sb.spawnInWorld([process.execPath, upstreamJs]);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('fake upstream did not start')), 5000);
      let rest = '';
      upstream!.stdout!.on('data', (d: Buffer) => {
        const lines = (rest + d.toString()).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          const m = JSON.parse(line) as Logged & { ready?: boolean };
          if (m.ready === true) {
            clearTimeout(t);
            resolve();
          } else upstreamLog.push(m);
        }
      });
    });
    const up = ['-o', `nsnet.dns.servers=${WORLD_IP}`];
    ok(await sb.nsnet(['network', 'create', name('a'), '--subnet', '10.81.0.0/24', ...up]));
    ok(await sb.nsnet(['network', 'create', name('b'), '--subnet', '10.82.0.0/24', ...up]));
    ok(await sb.nsnet(['network', 'create', name('i'), '--subnet', '10.83.0.0/24', '--internal', ...up]));
    for (const [c, net, ip, alias] of [['a1', 'a', '10.81.0.2', 'cache-a'], ['a2', 'a', '10.81.0.3', ''], ['b1', 'b', '10.82.0.2', 'cache-b'], ['i1', 'i', '10.83.0.2', '']] as const) {
      const aliasArgs = alias === '' ? [] : ['--network-alias', alias];
      ok(await sb.nsnet(['run', '-d', '--name', name(c), '--network', name(net), '--ip', ip, ...aliasArgs, '--', 'sleep', '1000']));
    }
  });
  after(async () => {
    const report = await sb?.destroy();
    fs.rmSync(tmp, { recursive: true, force: true });
    assert.deepEqual(report?.problems ?? [], []);
  });

  test('(a) a container resolves no name, alias or address of a network it is not on, and none goes upstream', async () => {
    const questions = [{ q: name('b1'), type: 'A' }, { q: 'cache-b', type: 'A' }, { q: ptr('10.82.0.2'), type: 'PTR' }];
    // Control: on b, b1's names and address resolve (the probe works).
    assert.deepEqual((await ask('b1', B, name('b1'))).answers, ['10.82.0.2']);
    assert.deepEqual((await ask('b1', B, 'cache-b')).answers, ['10.82.0.2']);
    assert.deepEqual((await ask('b1', B, ptr('10.82.0.2'), { type: 'PTR' })).answers, [name('b1')]);
    for (const { q, type } of questions) {
      const r = await ask('a1', A, q, { type });
      assert.equal(r.rcode, 'NXDOMAIN', `a1 asking its own gateway for ${q}/${type}: ${JSON.stringify(r)}`);
      assert.deepEqual(r.answers, []);
    }
    await settle();
    for (const { q } of questions) assert.deepEqual(forwarded(q), [], `${q} must not be sent upstream`);
  });

  test('(b) a container asking another network\'s gateway directly is refused, over UDP and TCP, also from an internal network', async (t) => {
    // Control: a1 asks its own gateway.
    assert.deepEqual((await ask('a1', A, name('a1'))).answers, ['10.81.0.2']);
    assert.deepEqual((await ask('a1', A, name('a1'), { tcp: true })).answers, ['10.81.0.2']);
    // b1 reaches A's gateway through its default route (the host): refused.
    for (const [q, type] of [[name('a1'), 'A'], ['cache-a', 'A'], [ptr('10.81.0.2'), 'PTR'], ['leak-b.test', 'A']] as const) {
      const r = await ask('b1', A, q, { type });
      assert.equal(r.rcode, 'REFUSED', `b1 asking ${A} for ${q}: ${JSON.stringify(r)}`);
      assert.deepEqual(r.answers, []);
    }
    // Over TCP the connection is accepted by the kernel and closed by the responder unanswered.
    const tcp = await ask('b1', A, name('a1'), { tcp: true });
    assert.deepEqual([tcp.rcode, tcp.connected], ['CLOSED', true], JSON.stringify(tcp));
    // An internal network's container with a host route to A's gateway (added from outside: the
    // container's own capabilities do not matter here) is refused too.
    ok(sb!.inHost(['ip', '-n', name('i1'), 'route', 'add', `${A}/32`, 'via', I]));
    const internal = await ask('i1', A, name('a1'));
    assert.equal(internal.rcode, 'REFUSED', JSON.stringify(internal));
    // Control for i1: its own gateway answers it.
    assert.equal((await ask('i1', I, name('i1'))).rcode, 'NOERROR');
    await settle();
    assert.deepEqual(forwarded('leak-b.test'), [], 'nothing forwarded for a refused client');
    t.diagnostic(`refused over UDP in ${internal.ms.toFixed(1)} ms`);
  });

  test('(c) the world with a route to a gateway gets no answer at all, and nothing is forwarded for it', async (t) => {
    ok(sb!.inWorld(['ip', 'route', 'add', '10.81.0.0/24', 'via', HOST_UPLINK_IP]));
    // Control: the world reaches the gateway (ping, and a TCP handshake the kernel completes).
    ok(sb!.inWorld(['ping', '-c', '1', '-W', '2', A]));
    // Control: a container's query for a name nsnet does not know is forwarded, to this upstream.
    const fwd = await ask('a1', A, 'control-forward.test');
    assert.equal(fwd.rcode, 'NXDOMAIN');
    await settle();
    assert.equal(forwarded('control-forward.test').length, 1, 'the upstream sees a container\'s forwarded query');
    for (const [q, type] of [[name('a1'), 'A'], [ptr('10.81.0.2'), 'PTR'], ['world-leak.test', 'A']] as const) {
      const r = await ask({ world: true }, A, q, { type, timeoutMs: 1500 });
      assert.equal(r.rcode, 'TIMEOUT', `the world asking ${A} for ${q}/${type}: ${JSON.stringify(r)}`);
    }
    const tcp = await ask({ world: true }, A, 'world-leak-tcp.test', { tcp: true });
    assert.deepEqual([tcp.rcode, tcp.connected], ['CLOSED', true], JSON.stringify(tcp));
    await settle();
    assert.deepEqual([...forwarded('world-leak.test'), ...forwarded('world-leak-tcp.test')], [], 'no query of the world reaches the upstream');
    t.diagnostic(`world TCP connection closed after ${tcp.ms.toFixed(1)} ms`);
  });

  test('a container that asks the moment its process starts is a member already (not refused as unknown)', async () => {
    for (let i = 0; i < 3; i++) {
      const argv = [process.execPath, clientJs, A, name('a1'), 'A', 'udp', '1500'];
      const r = ok(await sb!.nsnet(['run', '--rm', '--name', name(`e${i}`), '--network', name('a'), '--', ...argv]));
      const reply = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Reply;
      assert.deepEqual([reply.rcode, reply.answers], ['NOERROR', ['10.81.0.2']], `run ${i}: ${JSON.stringify(reply)}`);
    }
  });

  test('(d) 200 idle TCP connections from one container deny TCP to no one else', async (t) => {
    const hoarder = sb!.spawnInHost([NSNET_BIN, '--root', sb!.root, 'exec', name('a1'), process.execPath, hoarderJs, A, '200']);
    const reports: Array<{ t: number; connected: number; open: number }> = [];
    const first = new Promise<void>((resolve) => {
      let rest = '';
      hoarder.stdout!.on('data', (d: Buffer) => {
        const lines = (rest + d.toString()).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) reports.push(JSON.parse(line) as (typeof reports)[number]);
        if (reports.length > 0) resolve();
      });
    });
    await first;
    assert.equal(reports[0]!.connected, 200, 'the kernel accepted every connection (the probe works)');
    // Another network's container, and the hoarder's own neighbour, query over TCP meanwhile.
    const other = await ask('b1', B, name('b1'), { tcp: true, timeoutMs: 3000 });
    const neighbour = await ask('a2', A, name('a1'), { tcp: true, timeoutMs: 3000 });
    const exit = new Promise<void>((resolve) => hoarder.on('exit', () => resolve()));
    await exit;
    assert.equal(reports.length, 3, JSON.stringify(reports));
    assert.deepEqual([other.rcode, other.answers], ['NOERROR', ['10.82.0.2']], `another network over TCP: ${JSON.stringify(other)}`);
    assert.ok(other.ms < 1000, `answered in ${other.ms} ms`);
    assert.deepEqual([neighbour.rcode, neighbour.answers], ['NOERROR', ['10.81.0.2']], `the same network over TCP: ${JSON.stringify(neighbour)}`);
    assert.ok(neighbour.ms < 1000, `answered in ${neighbour.ms} ms`);
    // The hoarder kept its per-client share at most, and lost even that when idle.
    assert.ok(reports[1]!.open <= 8, `connections still open after 1.5 s: ${reports[1]!.open}`);
    assert.equal(reports[2]!.open, 0, 'idle connections are closed within a few seconds');
    t.diagnostic(
      `hoarder: ${reports.map((r) => `${r.open} open at ${r.t} ms`).join(', ')}; TCP query from another network ${other.ms.toFixed(1)} ms, ` +
        `from the same network ${neighbour.ms.toFixed(1)} ms`,
    );
  });
});
