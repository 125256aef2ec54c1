/**
 * Who the DNS responder answers (src/dns/access.ts) and what the others get from decide(): only a
 * container of the network whose gateway was asked is answered; another nsnet address gets
 * REFUSED; anyone else (the world) nothing, and nothing is ever forwarded for them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import dnsPacket from 'dns-packet';
import { access } from '../../src/dns/access.js';
import { decide } from '../../src/dns/answer.js';
import { buildView } from '../../src/dns/view.js';

const NETS = [
  { id: 'a', name: 'front', gateway: '10.1.0.1', subnet: '10.1.0.0/24', servers: ['203.0.113.8'] },
  { id: 'b', name: 'back', gateway: '10.2.0.1', subnet: '10.2.0.0/24', servers: ['203.0.113.8'] },
  { id: 'c', name: 'plain', gateway: '10.3.0.1', subnet: '10.3.0.0/24', servers: [], dns: false },
];
const CONTAINERS = [
  { id: 'w', name: 'web', hostname: 'web', aliases: ['www'], servers: [], endpoints: [{ networkId: 'a', ip: '10.1.0.2' }] },
  { id: 'd', name: 'db', hostname: 'db', aliases: ['store'], servers: [], endpoints: [{ networkId: 'b', ip: '10.2.0.2' }] },
  { id: 'p', name: 'plainbox', hostname: 'plainbox', aliases: [], servers: [], endpoints: [{ networkId: 'c', ip: '10.3.0.2' }] },
  // Recorded but not running yet (run between its records and its process): a member, named nowhere.
  { id: 's', name: 'starting', hostname: 'starting', aliases: [], servers: [], endpoints: [{ networkId: 'a', ip: '10.1.0.7' }], running: false },
];
const view = buildView(NETS, CONTAINERS, ['198.51.100.53']);

const query = (name: string, type = 'A'): Buffer =>
  dnsPacket.encode({ id: 77, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as 'A' }] });

/** decide() as what the client sees: the rcode of the reply, 'forward', or 'drop'. */
function outcome(gateway: string, client: string, raw: Buffer, transport: 'udp' | 'tcp' = 'udp'): string {
  const d = decide(view, gateway, client, raw, transport);
  if (d.kind !== 'reply') return d.kind;
  const p = dnsPacket.decode(d.response) as ReturnType<typeof dnsPacket.decode> & { rcode: string };
  return p.rcode;
}

test('a container of the network whose gateway was asked is a member, also while it is still starting', () => {
  const m = access(view, '10.1.0.1', '10.1.0.2');
  assert.equal(m.kind, 'member');
  assert.equal(m.kind === 'member' ? m.net.name : '', 'front');
  assert.equal(access(view, '10.1.0.1', '10.1.0.7').kind, 'member');
  assert.equal(outcome('10.1.0.1', '10.1.0.7', query('web')), 'NOERROR');
  assert.equal(outcome('10.1.0.1', '10.1.0.2', query('starting')), 'NXDOMAIN', 'a container that does not run resolves nowhere');
});

test('another network\'s container asking this gateway directly is refused: no names, no PTR, no forwarding', () => {
  const r = access(view, '10.1.0.1', '10.2.0.2');
  assert.deepEqual(r, { kind: 'refuse', why: '10.2.0.2 is not on network front (10.1.0.0/24)' });
  for (const q of [query('web'), query('www'), query('2.0.1.10.in-addr.arpa', 'PTR'), query('example.org')]) {
    assert.equal(outcome('10.1.0.1', '10.2.0.2', q), 'REFUSED');
    assert.equal(outcome('10.1.0.1', '10.2.0.2', q, 'tcp'), 'REFUSED');
  }
  // The question is echoed (glibc ignores a reply whose question is not its own) with the client's id.
  const d = decide(view, '10.1.0.1', '10.2.0.2', query('web'), 'udp');
  const p = dnsPacket.decode(d.kind === 'reply' ? d.response : Buffer.alloc(0));
  assert.equal(p.id, 77);
  assert.deepEqual((p.questions ?? []).map((q) => q.name), ['web']);
  assert.deepEqual(p.answers, []);
  // A container of a network with DNS off is nsnet's too: refused, not ignored.
  assert.equal(outcome('10.1.0.1', '10.3.0.2', query('web')), 'REFUSED');
});

test('an unknown address inside the network is refused, with a hint to look again at the store', () => {
  assert.deepEqual(access(view, '10.1.0.1', '10.1.0.99'), { kind: 'refuse', why: '10.1.0.99 is no container of network front' });
  assert.equal(outcome('10.1.0.1', '10.1.0.99', query('web')), 'REFUSED');
  // The gateway itself (a process of the host) is no container either.
  assert.equal(outcome('10.1.0.1', '10.1.0.1', query('example.org')), 'REFUSED');
});

test('anyone outside every nsnet subnet gets no reply at all, whatever they send', () => {
  for (const client of ['203.0.113.8', '198.51.100.1', '127.0.0.1', '', '::1', 'not an address']) {
    assert.equal(access(view, '10.1.0.1', client).kind, 'ignore', client);
    for (const q of [query('web'), query('2.0.1.10.in-addr.arpa', 'PTR'), query('example.org'), Buffer.from('garbage!garbage!')]) {
      assert.equal(outcome('10.1.0.1', client, q), 'drop', `${client}: ${q.toString('hex').slice(0, 20)}`);
    }
  }
  // Junk from a refused client is dropped too: only a well-formed query gets its REFUSED.
  assert.equal(outcome('10.1.0.1', '10.2.0.2', Buffer.from('garbage!garbage!')), 'drop');
  assert.equal(outcome('10.1.0.1', '10.2.0.2', Buffer.alloc(3)), 'drop');
});

test('a gateway the view does not serve (a network just removed, or DNS off) answers nobody', () => {
  assert.equal(access(view, '10.3.0.1', '10.3.0.2').kind, 'refuse');
  assert.equal(access(view, '10.9.0.1', '10.1.0.2').kind, 'refuse');
  assert.equal(access(view, '10.9.0.1', '203.0.113.8').kind, 'ignore');
  assert.equal(outcome('10.3.0.1', '10.3.0.2', query('plainbox')), 'REFUSED');
});

test('a member resolves only the networks it is on, aliases included; their names are never forwarded', () => {
  assert.equal(outcome('10.1.0.1', '10.1.0.2', query('www')), 'NOERROR');
  for (const name of ['db', 'store', 'plainbox']) assert.equal(outcome('10.1.0.1', '10.1.0.2', query(name)), 'NXDOMAIN', name);
  assert.equal(outcome('10.1.0.1', '10.1.0.2', query('2.0.2.10.in-addr.arpa', 'PTR')), 'NXDOMAIN');
  assert.equal(outcome('10.1.0.1', '10.1.0.2', query('example.org')), 'forward');
});
