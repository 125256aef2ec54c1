/**
 * Name resolution between containers, in a sandbox: glibc's resolver inside containers (getent
 * hosts, through the bind-mounted resolv.conf) against nsnet's responder on the gateways. Every
 * forwarded query goes to a fake upstream this test runs in the sandbox's world namespace
 * (203.0.113.8:53): containers always get --dns 203.0.113.8, so no real resolver is ever asked.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createSandbox, describeResult, pidStartTime, pidState, REPO, WORLD_IP, type RunResult, type Sandbox } from '../helpers/sandbox.js';
import { ok } from '../helpers/assert.js';
import { needs, requiredSuite } from '../helpers/requirements.js';

/**
 * A tiny upstream: upstream.test → 192.0.2.55, big.test → 60 addresses (more than 512 bytes),
 * slow.test → never answered, everything else NXDOMAIN.
 */
const UPSTREAM = `
const dgram = require('node:dgram');
const dns = require(${JSON.stringify(path.join(REPO, 'node_modules', 'dns-packet'))});
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => {
  let q; try { q = dns.decode(m); } catch { return; }
  const name = q.questions[0].name;
  if (name === 'slow.test') return;
  const big = Array.from({ length: 60 }, (_, i) => ({ type: 'A', name, ttl: 5, data: '192.0.2.' + (100 + i) }));
  const answers = q.questions[0].type !== 'A' ? [] : name === 'upstream.test' ? [{ type: 'A', name, ttl: 5, data: '192.0.2.55' }] : name === 'big.test' ? big : [];
  s.send(dns.encode({ id: q.id, type: 'response', flags: 0x0180 | (answers.length ? 0 : 3), questions: q.questions, answers }), r.port, r.address);
});
s.bind(53, ${JSON.stringify(WORLD_IP)}, () => console.log('ready'));
`;

/** Inside a container: N queries to the responder with node's own UDP socket; prints JSON results. */
const CLIENT = `
const dgram = require('node:dgram');
const dns = require(${JSON.stringify(path.join(REPO, 'node_modules', 'dns-packet'))});
const [server, name, count, junk] = process.argv.slice(2);
if (junk === 'tcp') {
  const c = require('node:net').connect(53, server);
  const q = dns.encode({ id: 7, type: 'query', flags: dns.RECURSION_DESIRED, questions: [{ type: 'A', name }] });
  const len = Buffer.alloc(2); len.writeUInt16BE(q.length);
  let buf = Buffer.alloc(0);
  c.on('connect', () => c.write(Buffer.concat([len, q])));
  c.on('data', (d) => { buf = Buffer.concat([buf, d]); if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) { const p = dns.decode(buf.subarray(2)); console.log(JSON.stringify({ rcode: p.rcode, answers: p.answers.map((a) => a.data), tc: p.flag_tc })); c.end(); } });
  setTimeout(() => { console.log(JSON.stringify({ rcode: 'TIMEOUT' })); process.exit(0); }, 5000).unref();
  return;
}
const s = dgram.createSocket('udp4');
let tc = false;
const times = []; let rcode = ''; let answers = [];
function one(i) {
  if (i >= Number(count)) { s.close(); times.sort((a, b) => a - b); console.log(JSON.stringify({ rcode, answers, tc, median: times[times.length >> 1], max: times[times.length - 1] })); return; }
  if (junk === 'junk') for (let k = 0; k < 20; k++) s.send(require('node:crypto').randomBytes(1 + k * 7), 53, server);
  const t = process.hrtime.bigint();
  const timer = setTimeout(() => { s.off('message', on); rcode = 'TIMEOUT'; times.push(9999); one(i + 1); }, 3000);
  const on = (m) => { let p; try { p = dns.decode(m); } catch { return; } if (p.id !== i || (p.questions[0] || {}).name !== name) return; s.off('message', on); clearTimeout(timer); rcode = p.rcode; tc = p.flag_tc; answers = p.answers.map((a) => a.data); times.push(Number(process.hrtime.bigint() - t) / 1e6); one(i + 1); };
  s.on('message', on);
  s.send(dns.encode({ id: i, type: 'query', flags: dns.RECURSION_DESIRED, questions: [{ type: 'A', name }] }), 53, server);
}
one(0);
`;

/** Inside a container: one A query per name read from stdin; prints "RCODE first-answer" per line. */
const ASK_PER_LINE = `
const dgram = require('node:dgram');
const dns = require(${JSON.stringify(path.join(REPO, 'node_modules', 'dns-packet'))});
const s = dgram.createSocket('udp4');
let id = 0;
const pending = new Map();
s.on('message', (m) => { let p; try { p = dns.decode(m); } catch { return; } const done = pending.get(p.id); if (done) { pending.delete(p.id); done(p.rcode + (p.answers.length ? ' ' + p.answers[0].data : '')); } });
require('node:readline').createInterface({ input: process.stdin }).on('line', (name) => {
  const q = ++id;
  const timer = setTimeout(() => { pending.delete(q); console.log('TIMEOUT'); }, 3000);
  pending.set(q, (line) => { clearTimeout(timer); console.log(line); });
  s.send(dns.encode({ id: q, type: 'query', flags: dns.RECURSION_DESIRED, questions: [{ type: 'A', name }] }), 53, process.argv[2]);
}).on('close', () => setTimeout(() => process.exit(0), 100));
`;

interface Record_ {
  pid: number;
  start: string;
  addresses: string[];
}

requiredSuite('dns', { needs: [needs.integration], concurrency: false }, () => {
  let sb: Sandbox | undefined;
  let upstream: ChildProcess | undefined;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-test-dns-'));
  const upstreamJs = path.join(tmp, 'upstream.cjs');
  const clientJs = path.join(tmp, 'client.cjs');
  fs.writeFileSync(upstreamJs, UPSTREAM);
  fs.writeFileSync(clientJs, CLIENT);
  const askJs = path.join(tmp, 'ask.cjs');
  fs.writeFileSync(askJs, ASK_PER_LINE);
  const hostResolv = fs.readFileSync('/etc/resolv.conf', 'utf8');

  before(async () => {
    sb = await createSandbox('dns');
  });
  after(async () => {
    const report = await sb?.destroy();
    fs.rmSync(tmp, { recursive: true, force: true });
    assert.deepEqual(report?.problems ?? [], []);
    assert.equal(fs.readFileSync('/etc/resolv.conf', 'utf8'), hostResolv, "the host's /etc/resolv.conf is never changed");
  });

  const record = (): Record_ | undefined => {
    try {
      return JSON.parse(fs.readFileSync(path.join(sb!.root, 'dns', 'responder.json'), 'utf8')) as Record_;
    } catch {
      return undefined;
    }
  };
  /** Running (a killed responder stays a zombie until init reaps it). */
  const alive = (r: Record_ | undefined): boolean => r !== undefined && pidStartTime(r.pid) === r.start && pidState(r.pid) !== 'Z';

  async function startUpstream(): Promise<void> {
    upstream = sb!.spawnInWorld([process.execPath, upstreamJs]);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('fake upstream did not start')), 5000);
      upstream!.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
  }

  const getent = (c: string, name: string): Promise<RunResult> => sb!.nsnet(['exec', c, 'getent', 'hosts', name]);

  test('containers resolve each other by name, hostname and alias on their network, and nothing across networks', async (t) => {
    assert.ok(sb, 'before() made the sandbox');
    await startUpstream();
    const p = sb.prefix;
    ok(await sb.nsnet(['network', 'create', `${p}a`, '--subnet', '10.93.0.0/24']));
    ok(await sb.nsnet(['network', 'create', `${p}b`, '--subnet', '10.94.0.0/24']));
    const dns = ['--dns', WORLD_IP];
    const t00 = Date.now();
    ok(await sb.nsnet(['run', '-d', '--name', `${p}red`, '--hostname', 'redhost', '--network', `${p}a`, '--network-alias', 'cache', ...dns, '--', 'sleep', '1000']));
    const firstMs = Date.now() - t00;
    const t0 = Date.now();
    ok(await sb.nsnet(['run', '-d', '--name', `${p}blue`, '--network', `${p}a`, '--dns-search', 'corp.example', '--add-host', 'db.example:192.0.2.7', ...dns, '--', 'sleep', '1000']));
    const runMs = Date.now() - t0;
    ok(await sb.nsnet(['run', '-d', '--name', `${p}green`, '--network', `${p}b`, '--network-alias', 'cache', ...dns, '--', 'sleep', '1000']));

    const resolv = ok(await sb.nsnet(['exec', `${p}blue`, 'cat', '/etc/resolv.conf'])).stdout;
    assert.match(resolv, /^nameserver 10\.93\.0\.1$/m);
    assert.match(resolv, /^search corp\.example$/m);
    assert.equal(ok(sb.inHost(['ip', 'netns', 'exec', `${p}blue`, 'cat', '/etc/resolv.conf'])).stdout, resolv, 'ip netns exec sees the same file');
    const hosts = ok(await sb.nsnet(['exec', `${p}blue`, 'cat', '/etc/hosts'])).stdout;
    assert.match(hosts, new RegExp(`^10\\.93\\.0\\.3\\t${p}blue$`, 'm'));
    assert.match(hosts, /^192\.0\.2\.7\tdb\.example$/m);

    assert.match(ok(await getent(`${p}blue`, `${p}red`)).stdout, /^10\.93\.0\.2\s/);
    assert.match(ok(await getent(`${p}blue`, 'redhost')).stdout, /^10\.93\.0\.2\s/);
    assert.match(ok(await getent(`${p}blue`, 'cache')).stdout, /^10\.93\.0\.2\s/);
    assert.match(ok(await getent(`${p}blue`, 'db.example')).stdout, /^192\.0\.2\.7\s/);
    assert.match(ok(await getent(`${p}red`, `${p}blue`)).stdout, /^10\.93\.0\.3\s/);
    // PTR: the address gives the name back.
    assert.match(ok(await getent(`${p}blue`, '10.93.0.2')).stdout, new RegExp(`^10\\.93\\.0\\.2\\s+${p}red`));
    // green is on the other network: the same alias is its own, and red/blue do not resolve.
    assert.match(ok(await getent(`${p}green`, 'cache')).stdout, /^10\.94\.0\.2\s/);
    assert.equal((await getent(`${p}green`, `${p}red`)).code, 2);
    assert.equal((await getent(`${p}blue`, `${p}green`)).code, 2);

    // Latency from inside a container, with junk sent alongside (the responder must keep answering).
    const lat = JSON.parse(ok(await sb.nsnet(['exec', `${p}blue`, process.execPath, clientJs, '10.93.0.1', `${p}red`, '50', 'junk'])).stdout) as {
      rcode: string;
      answers: string[];
      median: number;
      max: number;
    };
    assert.equal(lat.rcode, 'NOERROR');
    assert.deepEqual(lat.answers, ['10.93.0.2']);
    const clean = JSON.parse(ok(await sb.nsnet(['exec', `${p}blue`, process.execPath, clientJs, '10.93.0.1', `${p}red`, '200'])).stdout) as typeof lat;
    assert.equal(clean.rcode, 'NOERROR');
    t.diagnostic(
      `run -d: ${firstMs} ms starting the responder, ${runMs} ms with it running; query latency median ${clean.median.toFixed(2)} ms, ` +
        `max ${clean.max.toFixed(2)} ms (200 queries); with 20 junk packets before each: median ${lat.median.toFixed(2)} ms`,
    );
    // Only the gateways, never another host address.
    const listening = ok(sb.inHost(['ss', '-Hulnp', 'sport', '=', ':53'])).stdout;
    assert.match(listening, /10\.93\.0\.1:53/);
    assert.doesNotMatch(listening, /(0\.0\.0\.0|\*|198\.51\.100\.2):53/);
  });

  test('forwarding to the container\'s --dns upstream; a dead upstream gives SERVFAIL fast', async (t) => {
    assert.ok(sb, 'before() made the sandbox');
    const p = sb.prefix;
    assert.match(ok(await getent(`${p}blue`, 'upstream.test')).stdout, /^192\.0\.2\.55\s/);
    assert.equal((await getent(`${p}blue`, 'nothing.test')).code, 2);
    type Reply = { rcode: string; answers: string[]; tc: boolean };
    const client = async (name: string, mode: string): Promise<Reply> =>
      JSON.parse(ok(await sb!.nsnet(['exec', `${p}blue`, process.execPath, clientJs, '10.93.0.1', name, '1', mode])).stdout) as Reply;
    // A big answer: truncated over UDP (no EDNS0), whole over TCP; TCP also serves local names.
    const udp = await client('big.test', 'udp');
    assert.equal(udp.tc, true);
    assert.deepEqual(udp.answers, []);
    const tcp = await client('big.test', 'tcp');
    assert.equal(tcp.answers.length, 60);
    assert.equal(tcp.tc, false);
    assert.deepEqual((await client(`${p}red`, 'tcp')).answers, ['10.93.0.2']);
    // An upstream that never answers: SERVFAIL within about two seconds.
    const slow = (await client('slow.test', 'udp')) as Reply & { median: number };
    assert.equal(slow.rcode, 'SERVFAIL');
    assert.ok(slow.median < 2500, `SERVFAIL for a silent upstream took ${slow.median} ms`);
    t.diagnostic(`silent upstream: SERVFAIL after ${slow.median.toFixed(0)} ms`);
    upstream!.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    const r = JSON.parse(ok(await sb.nsnet(['exec', `${p}blue`, process.execPath, clientJs, '10.93.0.1', 'upstream.test', '1'])).stdout) as { rcode: string };
    const ms = Date.now() - t0;
    assert.equal(r.rcode, 'SERVFAIL');
    assert.ok(ms < 3000, `SERVFAIL took ${ms} ms`);
    t.diagnostic(`dead upstream: SERVFAIL after ${ms} ms (including nsnet exec)`);
  });

  test('rm makes a name disappear within the TTL; the files under /etc/netns go with the container', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const p = sb.prefix;
    ok(await sb.nsnet(['rm', '-f', `${p}red`]));
    assert.equal(fs.existsSync(`/etc/netns/${p}red`), false);
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal((await getent(`${p}blue`, `${p}red`)).code, 2);
    assert.equal((await getent(`${p}blue`, 'cache')).code, 2);
    // connect: blue joins b and now resolves green (through its own nameserver, a's gateway, and b's).
    assert.equal((await getent(`${p}blue`, `${p}green`)).code, 2);
    ok(await sb.nsnet(['network', 'connect', `${p}b`, `${p}blue`]));
    assert.match(ok(await getent(`${p}blue`, `${p}green`)).stdout, /^10\.94\.0\.2\s/);
    const viaB = JSON.parse(ok(await sb.nsnet(['exec', `${p}blue`, process.execPath, clientJs, '10.94.0.1', 'cache', '1'])).stdout) as { answers: string[] };
    assert.deepEqual(viaB.answers, ['10.94.0.2']);
    // disconnect from its first network: the resolv.conf inside now names b's gateway, and names still resolve.
    ok(await sb.nsnet(['network', 'disconnect', `${p}a`, `${p}blue`]));
    assert.match(ok(await sb.nsnet(['exec', `${p}blue`, 'cat', '/etc/resolv.conf'])).stdout, /^nameserver 10\.94\.0\.1$/m);
    assert.match(ok(await getent(`${p}blue`, `${p}green`)).stdout, /^10\.94\.0\.2\s/);
    // And on the default network too.
    ok(await sb.nsnet(['run', '-d', '--name', `${p}d1`, '--dns', WORLD_IP, '--', 'sleep', '1000']));
    ok(await sb.nsnet(['run', '-d', '--name', `${p}d2`, '--dns', WORLD_IP, '--', 'sleep', '1000']));
    const d2 = (JSON.parse(ok(await sb.nsnet(['inspect', `${p}d2`])).stdout) as Array<{ NetworkSettings: { IPAddress: string } }>)[0]!.NetworkSettings.IPAddress;
    assert.equal(ok(await getent(`${p}d1`, `${p}d2`)).stdout.split(/\s+/)[0], d2);
    assert.equal((await getent(`${p}d1`, `${p}green`)).code, 2);
  });

  test('a container resolves the moment run -d returns, even right after another query', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const p = sb.prefix;
    const gateway = (JSON.parse(ok(await sb.nsnet(['network', 'inspect', 'bridge'])).stdout) as Array<{ IPAM: { Config: Array<{ Gateway: string }> } }>)[0]!.IPAM.Config[0]!.Gateway;
    // One client inside d1 that asks for each name written to its stdin: the query just before
    // the run makes the responder look at the store, the one right after (a few ms after run
    // returns) must see the new container. A re-read throttled to 200 ms answered NXDOMAIN here.
    const asker = spawn('nsenter', [`--net=/run/netns/${p}d1`, process.execPath, askJs, gateway], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines: string[] = [];
    let wake: (() => void) | undefined;
    asker.stdout.on('data', (d: Buffer) => {
      lines.push(...d.toString().split('\n').filter((l) => l !== ''));
      wake?.();
    });
    const ask = async (name: string): Promise<string> => {
      const n = lines.length;
      asker.stdin.write(`${name}\n`);
      while (lines.length === n) await new Promise<void>((r) => (wake = r));
      return lines[n]!;
    };
    try {
      for (let i = 0; i < 4; i++) {
        // Not known yet: forwarded to d1's --dns upstream, which is not running (SERVFAIL).
        assert.equal(await ask(`${p}fresh${i}`), 'SERVFAIL');
        ok(await sb.nsnet(['run', '-d', '--name', `${p}fresh${i}`, '--dns', WORLD_IP, '--', 'sleep', '1000']));
        assert.match(await ask(`${p}fresh${i}`), /^NOERROR \d+\.\d+\.\d+\.\d+$/, `fresh${i}`);
      }
    } finally {
      asker.stdin.end();
      await new Promise((r) => asker.once('exit', r));
      for (let i = 0; i < 4; i++) await sb.nsnet(['rm', '-f', `${p}fresh${i}`]);
    }
  });

  test('internal and ICC-off networks: containers still reach the responder on their gateway', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const p = sb.prefix;
    await startUpstream();
    ok(await sb.nsnet(['network', 'create', `${p}i`, '--subnet', '10.96.0.0/24', '--internal']));
    ok(await sb.nsnet(['network', 'create', `${p}n`, '--subnet', '10.98.0.0/24', '-o', 'com.docker.network.bridge.enable_icc=false']));
    for (const [c, net] of [['i1', 'i'], ['i2', 'i'], ['n1', 'n'], ['n2', 'n']] as const) {
      ok(await sb.nsnet(['run', '-d', '--name', `${p}${c}`, '--network', `${p}${net}`, '--dns', WORLD_IP, '--', 'sleep', '1000']));
    }
    assert.match(ok(await getent(`${p}i1`, `${p}i2`)).stdout, /^10\.96\.0\.3\s/);
    assert.match(ok(await getent(`${p}i1`, 'upstream.test')).stdout, /^192\.0\.2\.55\s/, 'the responder forwards for an internal network');
    assert.match(ok(await getent(`${p}n1`, `${p}n2`)).stdout, /^10\.98\.0\.3\s/);
    for (const c of ['i1', 'i2', 'n1', 'n2']) ok(await sb.nsnet(['rm', '-f', `${p}${c}`]));
    ok(await sb.nsnet(['network', 'rm', `${p}i`, `${p}n`]));
  });

  test('a responder killed with SIGKILL comes back with the next nsnet command; reset stops it', async () => {
    assert.ok(sb, 'before() made the sandbox');
    const p = sb.prefix;
    const first = record();
    assert.ok(alive(first), 'the responder runs');
    process.kill(first!.pid, 'SIGKILL');
    for (let i = 0; i < 50 && alive(first); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!alive(first));
    ok(await sb.nsnet(['ps']));
    const second = record();
    assert.ok(alive(second) && second!.pid !== first!.pid, 'restarted by the next command');
    assert.match(ok(await getent(`${p}blue`, `${p}green`)).stdout, /^10\.94\.0\.2\s/);

    // A network with DNS off: no responder there, the container talks to its upstream directly.
    ok(await sb.nsnet(['network', 'create', `${p}c`, '--subnet', '10.95.0.0/24', '-o', 'nsnet.dns=false']));
    ok(await sb.nsnet(['run', '-d', '--name', `${p}plain`, '--network', `${p}c`, '--dns', WORLD_IP, '--', 'sleep', '1000']));
    assert.match(ok(await sb.nsnet(['exec', `${p}plain`, 'cat', '/etc/resolv.conf'])).stdout, new RegExp(`^nameserver ${WORLD_IP.replace(/\./g, '\\.')}$`, 'm'));
    assert.ok(!(record()?.addresses ?? []).includes('10.95.0.1'));

    // What a crashed run could leave: files marked with this state root go with reset, another root's stay.
    const header = (name: string, root: string): string => `# written by nsnet (state ${root}) for container ${name}\n`;
    for (const [n, root] of [[`${p}orphan`, sb.root], [`${p}other`, '/elsewhere']] as const) {
      fs.mkdirSync(`/etc/netns/${n}`, { recursive: true });
      fs.writeFileSync(`/etc/netns/${n}/resolv.conf`, header(n, root));
    }
    ok(await sb.nsnet(['system', 'reset', '--force']));
    assert.equal(fs.existsSync(`/etc/netns/${p}orphan`), false);
    assert.equal(fs.existsSync(`/etc/netns/${p}other/resolv.conf`), true);
    fs.rmSync(`/etc/netns/${p}other`, { recursive: true, force: true });
    const last = record();
    assert.ok(!alive(second), 'no responder process after reset');
    assert.ok(last === undefined || !alive(last));
    for (const c of ['blue', 'green', 'plain', 'd1', 'd2']) assert.equal(fs.existsSync(`/etc/netns/${p}${c}`), false);
  });
});
