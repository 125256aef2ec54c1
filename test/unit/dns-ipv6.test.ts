/**
 * The responder's IPv6 side (issue 15), pure: AAAA for names, aliases, hostnames and short ids;
 * "no data" for a family a name has no address of; PTR in ip6.arpa; IPv6 clients on the IPv6
 * gateway answered only from their own network; IPv6 upstreams; resolv.conf and hosts for IPv6;
 * and the view and gateways read from the store for dual-stack and IPv6-only networks.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { test } from 'node:test';
import dnsPacket, { type Packet } from 'dns-packet';
import { access } from '../../src/dns/access.js';
import { decide } from '../../src/dns/answer.js';
import { forward } from '../../src/dns/forward.js';
import { DnsServer } from '../../src/dns/server.js';
import { hasIPv6Loopback, parseResolvConf, renderHosts, responderAddress, upstreamServers } from '../../src/dns/files.js';
import { loadView, neededAddresses } from '../../src/dns/load.js';
import { buildView, clientAddress, ip6ArpaName, ptrAddress } from '../../src/dns/view.js';
import { dnsInput, networkServers, validateNetworkDnsOptions } from '../../src/engine/dns-options.js';
import { ipToInt } from '../../src/core/ipv4.js';
import { openMemoryStore, type Store } from '../../src/store/index.js';

// dual: both families; only6: IPv6 only; v4: IPv4 only; off: IPv6 with DNS off.
const NETS = [
  { id: 'dual', name: 'dual', gateway: '10.1.0.1', subnet: '10.1.0.0/24', gateway6: '2001:db8:1::1', subnet6: '2001:db8:1::/64', servers: [] },
  { id: 'only6', name: 'only6', gateway: null, subnet: null, gateway6: '2001:db8:6::1', subnet6: '2001:db8:6::/64', servers: ['2001:db8:8::8'] },
  { id: 'v4', name: 'v4', gateway: '10.4.0.1', subnet: '10.4.0.0/24', servers: [] },
  { id: 'off', name: 'off', gateway: null, subnet: null, gateway6: '2001:db8:f::1', subnet6: '2001:db8:f::/64', servers: [], dns: false },
];
const CONTAINERS = [
  {
    id: '3f4e8a1b2c9d0000', name: 'web', hostname: 'webhost', aliases: ['www'], servers: [],
    endpoints: [{ networkId: 'dual', ip: '10.1.0.2', ip6: '2001:db8:1::2', aliases: ['front'] }],
  },
  { id: 'a', name: 'api', hostname: 'api', aliases: [], servers: [], endpoints: [{ networkId: 'dual', ip: '10.1.0.3', ip6: '2001:db8:1::3' }, { networkId: 'v4', ip: '10.4.0.3' }] },
  { id: 's', name: 'six', hostname: 'six', aliases: ['six-alias'], servers: [], endpoints: [{ networkId: 'only6', ip: null, ip6: '2001:db8:6::2' }] },
  { id: 'f', name: 'four', hostname: 'four', aliases: [], servers: [], endpoints: [{ networkId: 'v4', ip: '10.4.0.2' }] },
  // On IPv4-only v4 and IPv6-only only6: an A from one network, an AAAA from the other.
  { id: 'b', name: 'both', hostname: 'both', aliases: [], servers: ['2001:db8:8::53'], endpoints: [{ networkId: 'v4', ip: '10.4.0.4' }, { networkId: 'only6', ip: null, ip6: '2001:db8:6::4' }] },
  { id: 'p', name: 'plain', hostname: 'plain', aliases: [], servers: [], endpoints: [{ networkId: 'off', ip: null, ip6: '2001:db8:f::2' }] },
];
const view = buildView(NETS, CONTAINERS, ['192.0.2.53', '2001:db8:8::8']);

type Decoded = ReturnType<typeof dnsPacket.decode> & { rcode?: string };

const query = (name: string, type: string): Buffer =>
  dnsPacket.encode({ id: 6, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as 'A' }] });

function ask(gateway: string, client: string, name: string, type: string): Decoded {
  const d = decide(view, gateway, client, query(name, type), 'udp');
  assert.equal(d.kind, 'reply', `${type} ${name} from ${client} on ${gateway}: ${JSON.stringify(d)}`);
  return dnsPacket.decode(d.kind === 'reply' ? d.response : Buffer.alloc(0)) as Decoded;
}
const records = (p: Packet): string[] => (p.answers ?? []).map((a) => `${a.type} ${String((a as { data: unknown }).data)}`);

test('AAAA for container names, hostnames, aliases (run, per network) and short ids, asked on either gateway', () => {
  for (const gw of ['10.1.0.1', '2001:db8:1::1']) {
    const client = gw.includes(':') ? '2001:db8:1::3' : '10.1.0.3';
    for (const name of ['web', 'WebHost.', 'www', 'front', '3f4e8a1b2c9d']) {
      const r = ask(gw, client, name, 'AAAA');
      assert.equal(r.rcode, 'NOERROR');
      assert.ok(r.flag_aa);
      assert.deepEqual(records(r), ['AAAA 2001:db8:1::2'], `${name} on ${gw}`);
      assert.deepEqual(records(ask(gw, client, name, 'A')), ['A 10.1.0.2'], `${name} on ${gw}`);
    }
    assert.deepEqual(records(ask(gw, client, 'web', 'ANY')), ['A 10.1.0.2', 'AAAA 2001:db8:1::2']);
  }
  // An IPv6-only network: AAAA through its IPv6 gateway.
  assert.deepEqual(records(ask('2001:db8:6::1', '2001:db8:6::4', 'six', 'AAAA')), ['AAAA 2001:db8:6::2']);
  assert.deepEqual(records(ask('2001:db8:6::1', '2001:db8:6::4', 'six-alias', 'AAAA')), ['AAAA 2001:db8:6::2']);
});

test('a name without an address of the asked family: NOERROR with no records, never NXDOMAIN (and not forwarded)', () => {
  const aaaa = ask('10.4.0.1', '10.4.0.3', 'four', 'AAAA');
  assert.equal(aaaa.rcode, 'NOERROR');
  assert.deepEqual(aaaa.answers, []);
  const a = ask('2001:db8:6::1', '2001:db8:6::4', 'six', 'A');
  assert.equal(a.rcode, 'NOERROR');
  assert.deepEqual(a.answers, []);
  assert.equal(ask('2001:db8:6::1', '2001:db8:6::4', 'six', 'MX').rcode, 'NOERROR');
});

test('each family from the first of the client\'s networks that has it, as Docker does', () => {
  // api asks v4's gateway for web, which is on dual only: web's addresses on dual.
  assert.deepEqual(records(ask('10.4.0.1', '10.4.0.3', 'web', 'AAAA')), ['AAAA 2001:db8:1::2']);
  // "both" asks v4's gateway about itself: its A from v4, its AAAA from only6 (its other network).
  assert.deepEqual(records(ask('10.4.0.1', '10.4.0.4', 'both', 'A')), ['A 10.4.0.4']);
  assert.deepEqual(records(ask('10.4.0.1', '10.4.0.4', 'both', 'AAAA')), ['AAAA 2001:db8:6::4']);
  assert.deepEqual(records(ask('2001:db8:6::1', '2001:db8:6::4', 'both', 'A')), ['A 10.4.0.4']);
});

test('names on networks the querier is not on: NXDOMAIN for AAAA too, never forwarded', () => {
  for (const [gw, client, name] of [
    ['2001:db8:6::1', '2001:db8:6::2', 'web'],
    ['2001:db8:6::1', '2001:db8:6::2', 'front'],
    ['2001:db8:1::1', '2001:db8:1::2', 'six'],
    ['2001:db8:1::1', '2001:db8:1::2', 'plain'],
  ] as const) {
    const r = ask(gw, client, name, 'AAAA');
    assert.equal(r.rcode, 'NXDOMAIN', `${name} from ${client}`);
    assert.deepEqual(r.answers, []);
  }
});

test('PTR in ip6.arpa: nibble names, the container\'s name; other nsnet IPv6 addresses NXDOMAIN; the world\'s forwarded', () => {
  const name = ip6ArpaName('2001:db8:1::2');
  assert.equal(name, '2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
  assert.equal(ptrAddress(name), '2001:db8:1::2');
  assert.equal(ptrAddress(name.toUpperCase() + '.'), '2001:db8:1::2');
  assert.equal(ptrAddress('0.0.8.b.d.0.1.0.0.2.ip6.arpa'), undefined, 'a zone, not an address');
  assert.equal(ptrAddress(name.replace(/^2/, 'g')), undefined);
  assert.equal(ptrAddress(ip6ArpaName('::ffff:10.1.0.2')), '10.1.0.2', 'an IPv4-mapped address is the IPv4 address');
  assert.deepEqual(records(ask('2001:db8:1::1', '2001:db8:1::3', ip6ArpaName('::ffff:10.1.0.2'), 'PTR')), ['PTR web']);
  assert.deepEqual(records(ask('2001:db8:1::1', '2001:db8:1::3', name, 'PTR')), ['PTR web']);
  assert.deepEqual(records(ask('10.1.0.1', '10.1.0.3', name, 'PTR')), ['PTR web'], 'asked over IPv4 too');
  assert.deepEqual(records(ask('2001:db8:1::1', '2001:db8:1::3', '2.0.1.10.in-addr.arpa', 'PTR')), ['PTR web'], 'in-addr.arpa over IPv6');
  assert.equal(ask('2001:db8:1::1', '2001:db8:1::3', ip6ArpaName('2001:db8:1::99'), 'PTR').rcode, 'NXDOMAIN');
  // six's address is on only6, which web is not on; plain's is on a network with DNS off: nsnet's all the same.
  assert.equal(ask('2001:db8:1::1', '2001:db8:1::2', ip6ArpaName('2001:db8:6::2'), 'PTR').rcode, 'NXDOMAIN');
  assert.equal(ask('2001:db8:1::1', '2001:db8:1::2', ip6ArpaName('2001:db8:f::2'), 'PTR').rcode, 'NXDOMAIN');
  assert.equal(decide(view, '2001:db8:1::1', '2001:db8:1::2', query(ip6ArpaName('2001:db8:8::8'), 'PTR'), 'udp').kind, 'forward');
});

test('IPv6 clients: members of the gateway\'s network answered; other nsnet addresses refused; anyone else ignored', () => {
  const m = access(view, '2001:db8:1::1', '2001:db8:1::2');
  assert.equal(m.kind === 'member' ? m.net.name : m.kind, 'dual');
  // A dual-stack container asking either gateway by either address is the same member.
  assert.equal(access(view, '2001:db8:1::1', '10.1.0.2').kind, 'member');
  assert.deepEqual(access(view, '2001:db8:1::1', '2001:db8:1::99'), { kind: 'refuse', why: '2001:db8:1::99 is no container of network dual' });
  assert.deepEqual(access(view, '2001:db8:1::1', '2001:db8:6::2'), {
    kind: 'refuse',
    why: '2001:db8:6::2 is not on network dual (10.1.0.0/24, 2001:db8:1::/64)',
  });
  assert.deepEqual(access(view, '2001:db8:6::1', '2001:db8:1::2'), { kind: 'refuse', why: '2001:db8:1::2 is not on network only6 (2001:db8:6::/64)' });
  assert.equal(access(view, '2001:db8:1::1', '2001:db8:f::2').kind, 'refuse', 'a container of a network with DNS off is nsnet\'s');
  assert.equal(access(view, '2001:db8:f::1', '2001:db8:f::2').kind, 'refuse', 'no responder for a network with DNS off');
  for (const client of ['2001:db8:8::8', '2001:db8:ffff::1', 'fe80::1', 'fe80::1%eth0', '::1', '::', '2001:db8:1::2/64']) {
    assert.equal(access(view, '2001:db8:1::1', client).kind, 'ignore', client);
    assert.equal(decide(view, '2001:db8:1::1', client, query('web', 'AAAA'), 'udp').kind, 'drop', client);
  }
  // What a socket reports, as the view keys it.
  assert.equal(clientAddress('10.1.0.2'), '10.1.0.2');
  assert.equal(clientAddress('::ffff:10.1.0.2'), '10.1.0.2');
  assert.equal(clientAddress('2001:DB8:1:0:0:0:0:2'), '2001:db8:1::2');
  assert.equal(clientAddress('fe80::1%eth0'), 'fe80::1%eth0');
});

test('forwarding: to IPv6 upstreams too (the network\'s, the client\'s --dns, the host\'s), never to a gateway of its own', () => {
  const fwd = (gw: string, client: string): string[] => {
    const d = decide(view, gw, client, query('example.org', 'AAAA'), 'udp');
    assert.equal(d.kind, 'forward');
    return d.kind === 'forward' ? d.servers : [];
  };
  assert.deepEqual(fwd('2001:db8:6::1', '2001:db8:6::2'), ['2001:db8:8::8']);
  assert.deepEqual(fwd('2001:db8:6::1', '2001:db8:6::4'), ['2001:db8:8::53']);
  assert.deepEqual(fwd('2001:db8:1::1', '2001:db8:1::2'), ['192.0.2.53', '2001:db8:8::8']);
  const loop = buildView([{ ...NETS[1]!, servers: ['2001:db8:6::1'] }], [CONTAINERS[2]!], []);
  const d = decide(loop, '2001:db8:6::1', '2001:db8:6::2', query('example.org', 'A'), 'udp');
  assert.equal(d.kind === 'reply' ? (dnsPacket.decode(d.response) as Decoded).rcode : d.kind, 'SERVFAIL');
});

test('resolv.conf: the IPv4 gateway on a dual-stack network, the IPv6 one on an IPv6-only network; IPv6 upstreams read', () => {
  assert.equal(responderAddress({ gateway: '10.1.0.1', gateway6: '2001:db8:1::1' }), '10.1.0.1');
  assert.equal(responderAddress({ gateway: null, gateway6: '2001:db8:6::1' }), '2001:db8:6::1');
  assert.equal(responderAddress({ gateway: '10.4.0.1' }), '10.4.0.1');
  const conf = parseResolvConf('nameserver 192.0.2.53\nnameserver 2001:DB8:8:0::8\nnameserver fe80::1%eth0\nnameserver fe80::1%bad/zone\nnameserver dns.example\n');
  assert.deepEqual(upstreamServers(conf), ['192.0.2.53', '2001:db8:8::8', 'fe80::1%eth0']);
});

test('hosts: Docker\'s IPv6 lines (unless IPv6 is off in the container), --add-host, then the container\'s IPv4 and IPv6 addresses', () => {
  const hosts = renderHosts({ names: ['box', 'web'], ips: ['10.1.0.2', '2001:db8:1::2'] }, [['db.example', '2001:db8::7']]);
  // Docker's text, byte for byte (tabs between address and names).
  const docker = `127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
fe00::0 ip6-localnet
ff00::0 ip6-mcastprefix
ff02::1 ip6-allnodes
ff02::2 ip6-allrouters
2001:db8::7 db.example
10.1.0.2 box web
2001:db8:1::2 box web
`;
  assert.equal(hosts, docker.replace(/^(\S+) /gm, '$1\t'));
  // A container with IPv6 off (Docker looks for ::1 on its loopback): no IPv6 lines.
  assert.equal(hasIPv6Loopback({ 'net.ipv6.conf.all.disable_ipv6': '1' }), false);
  assert.equal(hasIPv6Loopback({ 'net.ipv6.conf.lo.disable_ipv6': '1' }), false);
  assert.equal(hasIPv6Loopback({ 'net.ipv6.conf.eth0.disable_ipv6': '1' }), true);
  assert.equal(hasIPv6Loopback(undefined), true);
  assert.equal(renderHosts({ names: ['box'], ips: ['10.1.0.2', '2001:db8:1::2'] }, [], { ipv6: false }), '127.0.0.1\tlocalhost\n10.1.0.2\tbox\n');
});

test('--dns, --add-host and nsnet.dns.servers take IPv6 addresses (canonical), and refuse what is neither family', () => {
  const input = dnsInput({ dns: ['2001:DB8:8::0:8', '192.0.2.1'], addHost: ['db:2001:db8::7', 'lb=[2001:db8::9]', 'old:192.0.2.7'] });
  assert.deepEqual(input.servers, ['2001:db8:8::8', '192.0.2.1']);
  assert.deepEqual(input.extraHosts, [['db', '2001:db8::7'], ['lb', '2001:db8::9'], ['old', '192.0.2.7']]);
  for (const dns of ['2001:db8::g', '1.2.3', 'fe80::1%eth0']) {
    assert.throws(() => dnsInput({ dns: [dns] }), (e: Error & { code?: string }) => e.code === 'INVALID_VALUE' && e.message.includes(`"${dns}"`), dns);
  }
  assert.throws(() => dnsInput({ addHost: ['db:2001:db8::g'] }), /--add-host address "2001:db8::g": expected an IPv4 or IPv6 address/);
  validateNetworkDnsOptions({ 'nsnet.dns.servers': '192.0.2.1, 2001:db8:8::8' });
  assert.throws(() => validateNetworkDnsOptions({ 'nsnet.dns.servers': '2001:db8::zz' }), /nsnet\.dns\.servers server/);
});

/** Records as `network create` and `run` make them (the FakeHost cannot apply IPv6 steps, so they are written directly). */
function storeWith(): Store {
  const store = openMemoryStore();
  const created = '2026-01-01T00:00:00.000Z';
  const net = (id: string, subnet: string | null, gateway: string | null, subnet6: string | null, gateway6: string | null, options: Record<string, string> = {}): void =>
    store.networks.insert({
      id, name: `ut-${id}`, bridge: `br-${id}`, subnet, gateway, ipRange: null, internal: false, mtu: null, options, labels: {},
      isDefault: false, created, ipamCursor: null, subnet6, gateway6, ipRange6: null, ipamCursor6: null,
    });
  net('dual', '10.31.0.0/24', '10.31.0.1', '2001:db8:31::/64', '2001:db8:31::1');
  net('six', null, null, '2001:db8:36::/64', '2001:db8:36::1', { 'nsnet.dns.servers': '2001:DB8:8::8' });
  net('idle', null, null, '2001:db8:37::/64', '2001:db8:37::1');
  const container = (id: string): void =>
    store.containers.insert({
      id, name: `ut-${id}`, hostname: id, command: ['sleep', '1'], env: {}, rootfs: null, detached: true, status: 'running', pid: null, pidStart: null,
      exitCode: null, logPath: '', created, startedAt: null, finishedAt: null, netns: `ut-${id}`, cniContainerId: null, runtime: null, capAdd: [], capDrop: [],
      privileged: false,
    });
  container('a');
  container('b');
  let n = 0;
  const endpoint = (networkId: string, containerId: string, ip: string | null, ip6: string, aliases: string[] = []): void =>
    store.endpoints.insert({
      id: `ep${++n}`, networkId, containerId, ifName: `eth${n}`, hostIf: `veth${n}`, ip, ipInt: ip === null ? null : ipToInt(ip), mac: `02:00:00:00:00:0${n}`, created, ip6, aliases,
    });
  endpoint('dual', 'a', '10.31.0.2', '2001:db8:31::2');
  endpoint('six', 'b', null, '2001:db8:36::2');
  endpoint('six', 'a', null, '2001:db8:36::3', ['a6']);
  return store;
}

test('from the store: dual-stack and IPv6-only networks are served on each gateway, with AAAA, aliases and PTR', () => {
  const store = storeWith();
  // Both gateways of the dual-stack network, the IPv6 one of the IPv6-only network; none for a network without containers.
  assert.deepEqual(neededAddresses(store), ['10.31.0.1', '2001:db8:31::1', '2001:db8:36::1']);
  const v = loadView(store, () => true, []);
  assert.equal(v.byGateway.get('10.31.0.1'), v.byGateway.get('2001:db8:31::1'));
  assert.deepEqual(v.byGateway.get('2001:db8:31::1')!.names6.get('ut-a'), ['2001:db8:31::2']);
  assert.deepEqual(v.byGateway.get('10.31.0.1')!.names.get('ut-a'), ['10.31.0.2']);
  const six = v.byGateway.get('2001:db8:36::1')!;
  assert.deepEqual(six.names6.get('a6'), ['2001:db8:36::3']);
  assert.deepEqual(six.names6.get('ut-a'), ['2001:db8:36::3']);
  assert.equal(six.names.get('ut-a'), undefined, 'no IPv4 address on an IPv6-only network');
  assert.equal(six.ptr.get('2001:db8:36::3'), 'ut-a');
  assert.ok(six.members.has('2001:db8:36::2'));
  assert.deepEqual(six.servers, ['2001:db8:8::8']);
  assert.deepEqual(v.subnets6.map((s) => s.text), ['2001:db8:31::/64', '2001:db8:36::/64', '2001:db8:37::/64']);
  assert.deepEqual(networkServers(store.networks.get('six')!), ['2001:db8:8::8']);
});

test('the server answers over IPv6 (UDP and TCP, IPV6_V6ONLY) and forwards to an IPv6 upstream, on ::1 with an unprivileged port', async (t) => {
  const port = 20000 + (process.pid % 20000);
  // A "network" whose IPv6 gateway is ::1 and whose one container is ::1 too: the loopback stands in for a bridge.
  const lo = buildView(
    [{ id: 'lo', name: 'lo', gateway: null, subnet: null, gateway6: '::1', subnet6: '::/127', servers: ['::1'] }],
    [{ id: 'x', name: 'x', hostname: 'x', aliases: ['ex'], servers: [], endpoints: [{ networkId: 'lo', ip: null, ip6: '::1' }] }],
    [],
  );
  const logs: string[] = [];
  const server = new DnsServer({ view: () => lo, log: (l) => logs.push(l), port });
  // The upstream: answers every question with AAAA 2001:db8::55.
  const upstream = dgram.createSocket({ type: 'udp6', ipv6Only: true });
  t.after(() => {
    server.close();
    upstream.close();
  });
  const failures = await server.listenOn(['::1']);
  if (Object.keys(failures).length > 0) {
    t.skip(`cannot listen on [::1]:${port}: ${JSON.stringify(failures)}`);
    return;
  }
  assert.deepEqual(server.addresses(), ['::1']);
  const c = dgram.createSocket('udp6');
  t.after(() => c.close());
  const udp = (raw: Buffer, to: number): Promise<Decoded> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no UDP reply over IPv6')), 3000);
      c.once('message', (m) => {
        clearTimeout(timer);
        resolve(dnsPacket.decode(m) as Decoded);
      });
      c.send(raw, to, '::1');
    });
  assert.deepEqual(records(await udp(query('ex', 'AAAA'), port)), ['AAAA ::1']);
  const tcp = await new Promise<Decoded>((resolve, reject) => {
    const q = query('x', 'AAAA');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(q.length);
    let buf = Buffer.alloc(0);
    const sock = net.connect({ host: '::1', port }, () => sock.write(Buffer.concat([len, q])));
    sock.on('error', reject);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        sock.destroy();
        resolve(dnsPacket.decode(buf.subarray(2)) as Decoded);
      }
    });
  });
  assert.deepEqual(records(tcp), ['AAAA ::1']);
  // Forwarding: the network's upstream is ::1 (the same port in this test): to itself it must never go.
  assert.equal((await udp(query('example.org', 'AAAA'), port)).rcode, 'SERVFAIL');
  // forward() itself over IPv6, to an upstream on another port.
  await new Promise<void>((resolve) => upstream.bind(port + 1, '::1', resolve));
  upstream.on('message', (m, r) => {
    const q = dnsPacket.decode(m);
    const answers = [{ type: 'AAAA' as const, name: q.questions![0]!.name, ttl: 5, data: '2001:db8::55' }];
    upstream.send(dnsPacket.encode({ id: q.id, type: 'response', flags: 0x0180, questions: q.questions, answers }), r.port, r.address);
  });
  const got = await forward(['::1'], dnsPacket.decode(query('example.org', 'AAAA')), 'udp', 1000, port + 1);
  assert.ok(got !== undefined, 'the IPv6 upstream answered');
  assert.deepEqual(records(dnsPacket.decode(got)), ['AAAA 2001:db8::55']);
});
