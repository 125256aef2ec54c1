/** The DNS responder's pure parts: per-network views, answers, PTR, truncation, malformed input, files. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import dnsPacket, { type Packet } from 'dns-packet';
import { decide, RCODE, relay, servfail } from '../../src/dns/answer.js';
import { parseResolvConf, renderHosts, renderResolvConf } from '../../src/dns/files.js';
import { buildView, ptrAddress } from '../../src/dns/view.js';

const NETS = [
  { id: 'n1', name: 'front', gateway: '10.1.0.1', subnet: '10.1.0.0/24', servers: [] },
  { id: 'n2', name: 'back', gateway: '10.2.0.1', subnet: '10.2.0.0/24', servers: ['192.0.2.9'] },
];
const CONTAINERS = [
  { id: 'c1', name: 'web', hostname: 'webhost', aliases: ['www'], servers: [], endpoints: [{ networkId: 'n1', ip: '10.1.0.2' }] },
  {
    id: 'c2', name: 'api', hostname: 'api', aliases: [], servers: ['203.0.113.8'],
    endpoints: [{ networkId: 'n1', ip: '10.1.0.3' }, { networkId: 'n2', ip: '10.2.0.3' }],
  },
  { id: 'c3', name: 'db', hostname: 'db', aliases: ['www'], servers: [], endpoints: [{ networkId: 'n2', ip: '10.2.0.4' }] },
];
const view = buildView(NETS, CONTAINERS, ['198.51.100.53']);

function query(name: string, type: string, extra: Partial<Packet> = {}): Buffer {
  return dnsPacket.encode({ id: 4242, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as 'A' }], ...extra });
}

type Decoded = ReturnType<typeof dnsPacket.decode> & { rcode?: string };

function ask(gateway: string, client: string, raw: Buffer, transport: 'udp' | 'tcp' = 'udp'): Decoded {
  const d = decide(view, gateway, client, raw, transport);
  assert.equal(d.kind, 'reply', JSON.stringify(d));
  if (d.kind !== 'reply') throw new Error('unreachable');
  return dnsPacket.decode(d.response) as Decoded;
}

const addrs = (p: Packet): string[] => (p.answers ?? []).map((a) => String((a as { data: unknown }).data));

test('names, hostnames and aliases resolve on the network the query arrived on, per network', () => {
  assert.deepEqual(addrs(ask('10.1.0.1', '10.1.0.3', query('web', 'A'))), ['10.1.0.2']);
  assert.deepEqual(addrs(ask('10.1.0.1', '10.1.0.3', query('WebHost.', 'A'))), ['10.1.0.2']);
  // api is on both networks: its address on each.
  assert.deepEqual(addrs(ask('10.1.0.1', '10.1.0.2', query('api', 'A'))), ['10.1.0.3']);
  assert.deepEqual(addrs(ask('10.2.0.1', '10.2.0.4', query('api', 'A'))), ['10.2.0.3']);
  // The same alias on two networks: each network sees its own container.
  assert.deepEqual(addrs(ask('10.1.0.1', '10.1.0.3', query('www', 'A'))), ['10.1.0.2']);
  assert.deepEqual(addrs(ask('10.2.0.1', '10.2.0.3', query('www', 'A'))), ['10.2.0.4']);
  const r = ask('10.1.0.1', '10.1.0.3', query('web', 'A'));
  assert.equal(r.rcode, 'NOERROR');
  assert.ok(r.flag_aa);
  assert.equal(r.id, 4242);
  assert.ok((r.answers ?? []).every((a) => (a as { ttl: number }).ttl <= 2));
});

test('a client on several networks also resolves the names of its other networks, with their addresses there', () => {
  // api (10.1.0.3 on front) asks front's gateway for db, which is only on back.
  assert.deepEqual(addrs(ask('10.1.0.1', '10.1.0.3', query('db', 'A'))), ['10.2.0.4']);
  assert.deepEqual(addrs(ask('10.1.0.1', '10.1.0.3', query('4.0.2.10.in-addr.arpa', 'PTR'))), ['db']);
  // The arrival network wins: www is web on front.
  assert.deepEqual(addrs(ask('10.1.0.1', '10.1.0.3', query('www', 'A'))), ['10.1.0.2']);
});

test('names of containers on other networks do not resolve and are not forwarded', () => {
  const r = ask('10.1.0.1', '10.1.0.2', query('db', 'A'));
  assert.equal(r.rcode, 'NXDOMAIN');
  assert.deepEqual(r.answers, []);
});

test('other types for a container name: no data; AAAA gives NOERROR with no answers', () => {
  const r = ask('10.1.0.1', '10.1.0.3', query('web', 'AAAA'));
  assert.equal(r.rcode, 'NOERROR');
  assert.deepEqual(r.answers, []);
});

test('PTR for container addresses; other addresses of any nsnet subnet NXDOMAIN, never forwarded; outside them forwarded', () => {
  assert.equal(ptrAddress('2.0.1.10.in-addr.arpa'), '10.1.0.2');
  assert.equal(ptrAddress('300.0.1.10.in-addr.arpa'), undefined);
  assert.equal(ptrAddress('example.com'), undefined);
  assert.deepEqual(addrs(ask('10.1.0.1', '10.1.0.3', query('2.0.1.10.in-addr.arpa', 'PTR'))), ['web']);
  assert.deepEqual(addrs(ask('10.2.0.1', '10.2.0.4', query('3.0.2.10.in-addr.arpa', 'PTR'))), ['api']);
  assert.equal(ask('10.1.0.1', '10.1.0.3', query('99.0.1.10.in-addr.arpa', 'PTR')).rcode, 'NXDOMAIN');
  // db's address is on back, a network web is not on: web learns nothing, and nothing goes upstream.
  assert.equal(ask('10.1.0.1', '10.1.0.2', query('4.0.2.10.in-addr.arpa', 'PTR')).rcode, 'NXDOMAIN');
  assert.equal(ask('10.1.0.1', '10.1.0.2', query('99.0.2.10.in-addr.arpa', 'PTR')).rcode, 'NXDOMAIN');
  // An address of a network with DNS off is nsnet's too.
  const withPlain = buildView([...NETS, { id: 'n3', name: 'plain', gateway: '10.3.0.1', subnet: '10.3.0.0/24', servers: [], dns: false }], CONTAINERS, ['198.51.100.53']);
  const plain = decide(withPlain, '10.1.0.1', '10.1.0.2', query('5.0.3.10.in-addr.arpa', 'PTR'), 'udp');
  assert.equal(plain.kind === 'reply' ? (dnsPacket.decode(plain.response) as Decoded).rcode : plain.kind, 'NXDOMAIN');
  assert.equal(decide(view, '10.1.0.1', '10.1.0.2', query('8.113.0.203.in-addr.arpa', 'PTR'), 'udp').kind, 'forward');
});

test('other names are forwarded: the client\'s --dns, else the network\'s servers, else the host\'s', () => {
  const fwd = (gw: string, client: string): string[] => {
    const d = decide(view, gw, client, query('example.org', 'A'), 'udp');
    assert.equal(d.kind, 'forward');
    return d.kind === 'forward' ? d.servers : [];
  };
  assert.deepEqual(fwd('10.1.0.1', '10.1.0.3'), ['203.0.113.8']);
  assert.deepEqual(fwd('10.2.0.1', '10.2.0.4'), ['192.0.2.9']);
  assert.deepEqual(fwd('10.1.0.1', '10.1.0.2'), ['198.51.100.53']);
  const none = buildView(NETS, [{ ...CONTAINERS[0]!, endpoints: [{ networkId: 'n1', ip: '10.1.0.9' }] }], []);
  const d = decide(none, '10.1.0.1', '10.1.0.9', query('example.org', 'A'), 'udp');
  assert.equal(d.kind, 'reply');
  if (d.kind === 'reply') assert.equal((dnsPacket.decode(d.response) as Decoded).rcode, 'SERVFAIL');
});

test('stopped containers resolve nowhere and are not forwarded; the responder never forwards to itself', () => {
  const v = buildView(NETS, CONTAINERS, ['10.1.0.1', '198.51.100.53'], ['sleeper']);
  const r = decide(v, '10.1.0.1', '10.1.0.2', query('sleeper', 'A'), 'udp');
  assert.equal(r.kind, 'reply');
  if (r.kind === 'reply') assert.equal((dnsPacket.decode(r.response) as Decoded).rcode, 'NXDOMAIN');
  const f = decide(v, '10.1.0.1', '10.1.0.2', query('example.org', 'A'), 'udp');
  assert.deepEqual(f.kind === 'forward' ? f.servers : f.kind, ['198.51.100.53']);
  const loop = buildView([{ ...NETS[0]!, servers: ['10.1.0.1'] }], [{ ...CONTAINERS[0]!, endpoints: [{ networkId: 'n1', ip: '10.1.0.9' }] }], []);
  const l = decide(loop, '10.1.0.1', '10.1.0.9', query('example.org', 'A'), 'udp');
  assert.equal(l.kind === 'reply' ? (dnsPacket.decode(l.response) as Decoded).rcode : l.kind, 'SERVFAIL', 'no upstream left: SERVFAIL');
});

test('big answers are truncated over UDP (TC), whole over TCP, and EDNS0 size is respected', () => {
  const many = Array.from({ length: 60 }, (_, i) => ({
    id: `x${i}`, name: `n${i}`, hostname: `n${i}`, aliases: ['pool'], servers: [], endpoints: [{ networkId: 'n1', ip: `10.1.0.${10 + i}` }],
  }));
  const big = buildView(NETS, many, []);
  const answer = (raw: Buffer, t: 'udp' | 'tcp'): Buffer => {
    const d = decide(big, '10.1.0.1', '10.1.0.10', raw, t);
    assert.equal(d.kind, 'reply');
    return d.kind === 'reply' ? d.response : Buffer.alloc(0);
  };
  const udp = answer(query('pool', 'A'), 'udp');
  assert.ok(udp.length <= 512);
  const u = dnsPacket.decode(udp);
  assert.ok(u.flag_tc);
  assert.deepEqual(u.answers, []);
  assert.equal((u.questions ?? [])[0]?.name, 'pool');
  const tcp = dnsPacket.decode(answer(query('pool', 'A'), 'tcp'));
  assert.ok(!tcp.flag_tc);
  assert.equal((tcp.answers ?? []).length, 60);
  // With EDNS0 and 4096 bytes the whole answer fits over UDP, and the reply carries an OPT record.
  const edns = query('pool', 'A', { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096 } as never] });
  const e = dnsPacket.decode(answer(edns, 'udp'));
  assert.ok(!e.flag_tc);
  assert.equal((e.answers ?? []).length, 60);
  assert.ok((e.additionals ?? []).some((a) => a.type === 'OPT'));
  // An advertised size below 512 counts as 512.
  const tiny = query('pool', 'A', { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 100 } as never] });
  const t = answer(tiny, 'udp');
  assert.ok(t.length <= 512 && dnsPacket.decode(t).flag_tc);
});

test('relay keeps the client id and truncates what does not fit; servfail answers the question', () => {
  const q = dnsPacket.decode(query('example.org', 'A'));
  const up = dnsPacket.encode({ id: 999, type: 'response', flags: 0x0180, questions: q.questions, answers: [{ type: 'A', name: 'example.org', data: '203.0.113.80' }] });
  const r = dnsPacket.decode(relay(q, up, 512));
  assert.equal(r.id, 4242);
  assert.deepEqual(addrs(r), ['203.0.113.80']);
  const cut = dnsPacket.decode(relay(q, up, 20));
  assert.ok(cut.flag_tc);
  const sf = dnsPacket.decode(servfail(q, 512)) as Decoded;
  assert.equal(sf.rcode, 'SERVFAIL');
  assert.equal(sf.id, 4242);
});

test('malformed input: short packets and responses are dropped, garbage gets FORMERR, other opcodes NOTIMP', () => {
  assert.equal(decide(view, '10.1.0.1', '10.1.0.2', Buffer.alloc(5), 'udp').kind, 'drop');
  const resp = dnsPacket.encode({ id: 1, type: 'response', questions: [{ name: 'web', type: 'A' }] });
  assert.equal(decide(view, '10.1.0.1', '10.1.0.2', resp, 'udp').kind, 'drop');
  const good = query('web', 'A');
  const cut = good.subarray(0, good.length - 3);
  const f = ask('10.1.0.1', '10.1.0.2', cut);
  assert.equal(f.rcode, 'FORMERR');
  assert.equal(f.id, 4242);
  const two = dnsPacket.encode({ id: 7, type: 'query', questions: [{ name: 'web', type: 'A' }, { name: 'api', type: 'A' }] });
  assert.equal(ask('10.1.0.1', '10.1.0.2', two).rcode, 'FORMERR');
  const zero = dnsPacket.encode({ id: 8, type: 'query', questions: [] });
  assert.equal(ask('10.1.0.1', '10.1.0.2', zero).rcode, 'FORMERR');
  const notify = Buffer.from(good);
  notify.writeUInt16BE((notify.readUInt16BE(2) & ~0x7800) | (4 << 11), 2); // opcode NOTIFY
  assert.equal(ask('10.1.0.1', '10.1.0.2', notify).rcode, 'NOTIMP');
  const update = Buffer.from(notify);
  update.writeUInt16BE((update.readUInt16BE(2) & ~0x7800) | (5 << 11), 2); // opcode UPDATE
  update.writeUInt16BE(3, 8); // update records in the authority count
  assert.equal(ask('10.1.0.1', '10.1.0.2', update).rcode, 'NOTIMP');
  const withAnswers = Buffer.from(good);
  withAnswers.writeUInt16BE(40000, 6);
  assert.equal(ask('10.1.0.1', '10.1.0.2', withAnswers).rcode, 'FORMERR');
  // A compression pointer to itself (a decoder that follows it would never return).
  const loop = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1]);
  assert.equal(ask('10.1.0.1', '10.1.0.2', loop).rcode, 'FORMERR');
  // A fuzz loop: random bytes and every truncation of a good query never throw.
  for (let i = 0; i < 2000; i++) {
    const raw = i < good.length ? good.subarray(0, i) : randomBytes(1 + (i % 300));
    const d = decide(view, '10.1.0.1', '10.1.0.2', raw, i % 2 === 0 ? 'udp' : 'tcp');
    assert.ok(['drop', 'reply', 'forward'].includes(d.kind));
  }
  assert.equal(RCODE.NOTIMP, 4);
});

test('resolv.conf: parsed, rendered; hosts: localhost, own names, --add-host', () => {
  const c = parseResolvConf('# hi\nnameserver 127.0.0.53\nnameserver ::1\nsearch a.example b.example\noptions edns0 trust-ad\n');
  assert.deepEqual(c, { nameservers: ['127.0.0.53', '::1'], search: ['a.example', 'b.example'], options: ['edns0', 'trust-ad'] });
  assert.equal(
    renderResolvConf('red', { nameservers: ['10.1.0.1'], search: ['corp.example'], options: ['ndots:2'] }, '/var/lib/nsnet'),
    '# written by nsnet (state /var/lib/nsnet) for container red\nnameserver 10.1.0.1\nsearch corp.example\noptions ndots:2\n',
  );
  const hosts = renderHosts({ names: ['box', 'red', 'red'], ips: ['10.1.0.2'] }, [['db.example', '192.0.2.7']]);
  assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);
  assert.match(hosts, /^10\.1\.0\.2\tbox red$/m);
  assert.match(hosts, /^192\.0\.2\.7\tdb\.example$/m);
});
