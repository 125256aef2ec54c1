/**
 * Issue 15's foundation without a kernel: IPv6 parsing and CIDR maths, the IPv6 allocator, the
 * per-family decisions of `network create`, and dual-stack and IPv6-only operations on a fake
 * machine — what they make, and that a failure at any step or a crash after any step leaves the
 * records and the machine as before. The host's router advertisements: accept_ra=2 before
 * forwarding goes on, restored by reset.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cidr6Contains, intToIp6, ip6ToInt, linkLocalFor, parseCidr6, parseIPv6 } from '../../src/core/ipv6.js';
import { allocate6, pickUla, reserve6, validateSubnet6, type Pool6 } from '../../src/engine/ipam6.js';
import { connect, createNetwork, disconnect } from '../../src/ops/networks.js';
import { remove, run } from '../../src/ops/containers.js';
import { reset } from '../../src/ops/system.js';
import { rewriteBools } from '../../src/cli/docker-bools.js';
import { portText, renderText, topologyFrom } from '../../src/engine/graph.js';
import type { Store } from '../../src/store/index.js';
import { assertFinishedAs, assertRecoveredAsBefore, assertUndone, codeOf, crashEachStep, failEachStep, fixture, runInput, stateAfter, type Op } from '../helpers/ops-fixture.js';

type Ctx = Parameters<Op>[0];
const dual = (ctx: Ctx) => createNetwork(ctx, { name: 'ut-dual', subnet: ['10.30.0.0/24', '2001:db8:30::/64'], ipv6: true });
const only6 = (ctx: Ctx) => createNetwork(ctx, { name: 'ut-only6', subnet: '2001:db8:60::/64', ipv4: false, ipv6: true });
const runOn = (name: string, networks: string[], extra: { ip6?: string } = {}): Op => (ctx) => run(ctx, runInput({ name, networks, ...extra }));

describe('IPv6 text and CIDR maths', () => {
  test('addresses are canonical (RFC 5952), odd spellings accepted, bad ones named', () => {
    assert.equal(parseIPv6('2001:DB8:0:0:0:0:0:10'), '2001:db8::10');
    assert.equal(parseIPv6('2001:db8::0:1:0:0:1'), '2001:db8::1:0:0:1');
    assert.equal(intToIp6(ip6ToInt('2001:db8:30::10')), '2001:db8:30::10');
    assert.throws(() => parseIPv6('10.0.0.1', '--ip6'), /invalid --ip6 "10\.0\.0\.1": expected an IPv6 address/);
    assert.throws(() => parseIPv6('fe80::1%eth0'), /expected an IPv6 address/);
    assert.throws(() => parseIPv6('1::2::3'), /expected an IPv6 address/);
  });

  test('CIDRs: host bits refused with the subnet meant, containment', () => {
    const c = parseCidr6('2001:db8:30::/64');
    assert.equal(c.text, '2001:db8:30::/64');
    assert.ok(cidr6Contains(c, ip6ToInt('2001:db8:30::ffff')));
    assert.ok(!cidr6Contains(c, ip6ToInt('2001:db8:31::1')));
    assert.throws(() => parseCidr6('2001:db8:30::1/64'), /host bits set; did you mean 2001:db8:30::\/64\?/);
    assert.throws(() => parseCidr6('2001:db8::/129'), /expected an IPv6 CIDR/);
    assert.throws(() => validateSubnet6(parseCidr6('2001:db8::/121')), /outside \/48\.\.\/120/);
    assert.throws(() => validateSubnet6(parseCidr6('2001::/47')), /outside \/48\.\.\/120/);
    // Blocks the kernel refuses on a bridge or that mean something else: named, before anything is made.
    for (const [subnet, block] of [['fe80::/64', 'fe80::/10'], ['ff00::/64', 'ff00::/8'], ['::/64', '::/8'], ['::ffff:0:0/96', '::/8']] as const) {
      assert.throws(() => validateSubnet6(parseCidr6(subnet)), (err: Error) => err.message.includes(`"${subnet}"`) && err.message.includes(`inside ${block}`) && codeOf(err) === 'INVALID_VALUE');
    }
    assert.equal(validateSubnet6(parseCidr6('fd00:1::/64')).text, 'fd00:1::/64');
  });

  test('the link-local address the kernel derives from a MAC (EUI-64)', () => {
    assert.equal(linkLocalFor('02:42:0a:1e:00:02'), 'fe80::42:aff:fe1e:2');
  });
});

describe('IPv6 allocation', () => {
  const pool: Pool6 = { subnet: parseCidr6('2001:db8:30::/64'), gateway: ip6ToInt('2001:db8:30::1'), name: 'ut' };

  test('round robin after the cursor, skipping the gateway and addresses in use', () => {
    const first = allocate6(pool, new Set(), undefined);
    assert.equal(intToIp6(first.address), '2001:db8:30::2');
    const used = new Set([first.address, ip6ToInt('2001:db8:30::3')]);
    assert.equal(intToIp6(allocate6(pool, used, first.cursor).address), '2001:db8:30::4');
  });

  test('a small range runs out with a clear error; a /64 never has to scan', () => {
    const tiny: Pool6 = { subnet: parseCidr6('2001:db8:30::/120'), gateway: ip6ToInt('2001:db8:30::1'), range: parseCidr6('2001:db8:30::/126') };
    const used = new Set([ip6ToInt('2001:db8:30::2'), ip6ToInt('2001:db8:30::3')]);
    assert.throws(() => allocate6(tiny, used, undefined), (e: unknown) => codeOf(e) === 'POOL_EXHAUSTED');
    // The cursor at the end of a /64 wraps to its start.
    const last = ip6ToInt('2001:db8:30::ffff:ffff:ffff:ffff');
    assert.equal(intToIp6(allocate6(pool, new Set(), last).address), '2001:db8:30::2');
  });

  test('a static address: inside the subnet, not the anycast address or the gateway, not taken', () => {
    const used = new Set([ip6ToInt('2001:db8:30::10')]);
    assert.equal(intToIp6(reserve6(pool, used, ip6ToInt('2001:db8:30::11'))), '2001:db8:30::11');
    assert.throws(() => reserve6(pool, used, ip6ToInt('2001:db8:31::1')), /not inside IPv6 subnet 2001:db8:30::\/64 of network ut/);
    assert.throws(() => reserve6(pool, used, ip6ToInt('2001:db8:30::')), /subnet-router anycast/);
    assert.throws(() => reserve6(pool, used, ip6ToInt('2001:db8:30::1')), /IPv6 gateway of network ut/);
    assert.throws(() => reserve6(pool, used, ip6ToInt('2001:db8:30::10')), (e: unknown) => codeOf(e) === 'ADDRESS_IN_USE');
  });

  test('a unique local /64 that overlaps nothing taken', () => {
    let n = 0n;
    const ids = [0x1234567890n, 0x1234567890n, 0xabcdef0123n];
    const random = (): bigint => ids[Number(n++)]!;
    const first = pickUla([], random);
    assert.equal(first.text, 'fd12:3456:7890::/64');
    assert.equal(pickUla([first], random).text, 'fdab:cdef:123::/64', 'a taken one is skipped');
  });
});

describe('network create, per family', () => {
  test('dual stack: both subnets and gateways recorded, both on the bridge, IPv6 forwarding on', () => {
    const fx = fixture();
    const n = dual(fx.ctx);
    assert.deepEqual([n.subnet, n.gateway, n.subnet6, n.gateway6], ['10.30.0.0/24', '10.30.0.1', '2001:db8:30::/64', '2001:db8:30::1']);
    const bridge = fx.host.link(n.bridge)!;
    const addrs = fx.host.addresses().filter((a) => a.index === bridge.index).map((a) => `${a.address}/${a.prefixLen}`);
    assert.deepEqual(addrs.sort(), ['10.30.0.1/24', '2001:db8:30::1/64']);
    assert.equal(fx.host.sysctl('net.ipv6.conf.all.forwarding'), '1');
    assert.equal(fx.host.sysctl(`net.ipv6.conf.${n.bridge}.accept_ra`), '0');
  });

  test('IPv6 only: no IPv4 subnet, no IPv4 address', () => {
    const fx = fixture();
    const n = only6(fx.ctx);
    assert.deepEqual([n.subnet, n.gateway, n.subnet6], [null, null, '2001:db8:60::/64']);
    const bridge = fx.host.link(n.bridge)!;
    assert.deepEqual(fx.host.addresses().filter((a) => a.index === bridge.index).map((a) => a.address), ['2001:db8:60::1']);
  });

  test('refused, naming the value, and nothing changes', () => {
    const fx = fixture();
    dual(fx.ctx);
    const before = fx.state();
    const bad: Array<[Parameters<typeof createNetwork>[1], RegExp]> = [
      [{ name: 'x', subnet: '2001:db8:70::/64' }, /is IPv6, but the network does not have IPv6 enabled/],
      [{ name: 'x', subnet: ['2001:db8:70::/64', '2001:db8:71::/64'], ipv6: true }, /given twice for IPv6/],
      [{ name: 'x', subnet: ['10.70.0.0/24', '10.71.0.0/24'] }, /given twice for IPv4/],
      [{ name: 'x', subnet: '2001:db8:30:0:8000::/65', ipv6: true }, /overlaps network ut-dual/],
      [{ name: 'x', ipv4: false }, /needs --ipv6/],
      [{ name: 'x', ipv4: false, ipv6: true, auxAddresses: { a: '10.0.0.2' } }, /--aux-address needs IPv4/],
      [{ name: 'x', ipv6: true, gateway: '2001:db8:70::1' }, /needs a --subnet of its family/],
      [{ name: 'x', subnet: '2001:db8:70::/64', gateway: '2001:db8:70::', ipv6: true }, /subnet-router anycast/],
    ];
    for (const [input, message] of bad) assert.throws(() => createNetwork(fx.ctx, input), message, JSON.stringify(input));
    assert.deepEqual(fx.state(), before);
  });

  test('--ipv4=false / --ipv6=true as Docker spells them', () => {
    assert.deepEqual(rewriteBools(['create', '--ipv4=false', '--ipv6=true', 'n', '--', '--ipv6=false'], ['ipv4', 'ipv6']), ['create', '--no-ipv4', '--ipv6', 'n', '--', '--ipv6=false']);
    assert.deepEqual(rewriteBools(['--ipv6=maybe'], ['ipv6']), ['--ipv6=maybe'], 'left for commander to refuse');
  });

  test('failure at every step and crash after every step of a dual-stack create: as before', async () => {
    await failEachStep(fixture(), dual, assertUndone);
    await crashEachStep(fixture(), dual, assertRecoveredAsBefore('network create'));
  });
});

describe('containers on IPv6 networks', () => {
  test('run: both addresses, no RA, no DAD, a default route per family', async () => {
    const fx = await fixture().setUp(dual);
    await runOn('ut-a', ['ut-dual'], { ip6: '2001:db8:30::10' })(fx.ctx);
    const ep = fx.store.endpoints.forContainer(fx.store.containers.resolve('ut-a').id)[0]!;
    assert.deepEqual([ep.ip, ep.ip6, ep.requestedIp6], ['10.30.0.2', '2001:db8:30::10', '2001:db8:30::10']);
    const ns = 'ut-a';
    const eth0 = fx.host.link('eth0', ns)!;
    const addrs = fx.host.addresses(ns).filter((a) => a.index === eth0.index).map((a) => a.address).sort();
    assert.deepEqual(addrs, ['10.30.0.2', '2001:db8:30::10']);
    assert.equal(fx.host.sysctl('net.ipv6.conf.eth0.accept_ra', ns), '0');
    assert.equal(fx.host.sysctl('net.ipv6.conf.eth0.accept_dad', ns), '0');
    const defaults = fx.host.routes(ns).filter((r) => r.dst === undefined).map((r) => r.gateway).sort();
    assert.deepEqual(defaults, ['10.30.0.1', '2001:db8:30::1']);
  });

  test('an IPv6-only container: one address, one default route, a MAC from the IPv6 address', async () => {
    const fx = await fixture().setUp(only6);
    await runOn('ut-c', ['ut-only6'])(fx.ctx);
    const ep = fx.store.endpoints.forContainer(fx.store.containers.resolve('ut-c').id)[0]!;
    assert.deepEqual([ep.ip, ep.ipInt, ep.ip6, ep.mac], [null, null, '2001:db8:60::2', '02:42:00:00:00:02']);
    assert.deepEqual(fx.host.routes('ut-c').filter((r) => r.dst === undefined).map((r) => r.gateway), ['2001:db8:60::1']);
  });

  test('refused: --ip6 on a network without IPv6, --ip on one without IPv4; nothing changes', async () => {
    const fx = await fixture().setUp(only6, (ctx) => createNetwork(ctx, { name: 'ut-v4', subnet: '10.31.0.0/24' }));
    const before = fx.state();
    await assert.rejects(async () => runOn('ut-x', ['ut-v4'], { ip6: '2001:db8::5' })(fx.ctx), /network ut-v4 has no IPv6/);
    await assert.rejects(async () => run(fx.ctx, runInput({ name: 'ut-x', networks: ['ut-only6'], ip: '10.0.0.5' })), /network ut-only6 has no IPv4/);
    assert.deepEqual(fx.state(), before);
  });

  test('failure at every step and crash after every step of a dual-stack run: as before', async () => {
    await failEachStep(await fixture().setUp(dual), runOn('ut-b', ['ut-dual']), assertUndone);
    await crashEachStep(await fixture().setUp(dual), runOn('ut-b', ['ut-dual']), assertRecoveredAsBefore('run'));
  });

  test('connect and disconnect hand the IPv6 route over; crash after every step of a disconnect finishes it', async () => {
    const v4: Op = (ctx) => createNetwork(ctx, { name: 'ut-v4', subnet: '10.31.0.0/24' });
    const base = await fixture().setUp(dual, v4, runOn('ut-e', ['ut-v4']));
    connect(base.ctx, 'ut-dual', 'ut-e', { ip6: '2001:db8:30::20' });
    const v6default = (): string[] => base.host.routes('ut-e').filter((r) => r.dst === undefined && r.gateway?.includes(':')).map((r) => `${r.gateway}`);
    assert.deepEqual(v6default(), ['2001:db8:30::1']);
    const disc: Op = (ctx) => disconnect(ctx, 'ut-dual', 'ut-e');
    const removed = await stateAfter(base, disc);
    await crashEachStep(base, disc, assertFinishedAs('network disconnect', removed));
    disconnect(base.ctx, 'ut-dual', 'ut-e');
    assert.deepEqual(v6default(), []);
    await remove(base.ctx, ['ut-e'], { force: true });
  });
});

describe('graph of a dual-stack network', () => {
  const topologyOf = (s: Store) =>
    topologyFrom({
      networks: s.networks.list(),
      containers: s.containers.list().map((c) => ({ id: c.id, name: c.name, status: 'running' })),
      endpoints: s.containers.list().flatMap((c) => s.endpoints.forContainer(c.id)),
      ports: s.ports.list(),
      interfaceStates: [],
    });

  test('both subnets, gateways and addresses; a port on every address drawn per family', async () => {
    const fx = await fixture().setUp(dual, (ctx) => run(ctx, runInput({ name: 'ut-w', networks: ['ut-dual'], publish: ['8080:80'] })));
    const t = topologyOf(fx.store);
    assert.equal(t.networks[0]!.subnet, '10.30.0.0/24, 2001:db8:30::/64');
    assert.equal(t.containers[0]!.interfaces[0]!.address, '10.30.0.2/24, 2001:db8:30::2/64');
    assert.deepEqual(t.containers[0]!.ports.map(portText), ['0.0.0.0:8080->80/tcp', '[::]:8080->80/tcp']);
    assert.match(renderText(t), /gateway 10\.30\.0\.1, 2001:db8:30::1/);
  });

  test('an IPv6-only container\'s port on every address is drawn as [::] alone (it has no 0.0.0.0 binding)', async () => {
    const fx = await fixture().setUp(only6, (ctx) => run(ctx, runInput({ name: 'ut-o', networks: ['ut-only6'], publish: ['8082:80'] })));
    const t = topologyOf(fx.store);
    assert.deepEqual(t.containers[0]!.ports.map(portText), ['[::]:8082->80/tcp']);
  });
});

describe("the host's router advertisements", () => {
  test('accept_ra=2 on interfaces that take them before forwarding goes on; reset puts both back', async () => {
    const fx = fixture();
    const warnings = fx.warnings;
    const uplink = fx.host.links().find((l) => l.name !== 'lo')!.name;
    assert.equal(fx.host.sysctl('net.ipv6.conf.all.forwarding'), '0');
    assert.equal(fx.host.sysctl(`net.ipv6.conf.${uplink}.accept_ra`), '1');
    dual(fx.ctx);
    assert.equal(fx.host.sysctl(`net.ipv6.conf.${uplink}.accept_ra`), '2');
    assert.equal(fx.host.sysctl('net.ipv6.conf.all.forwarding'), '1');
    assert.match(warnings.join('\n'), new RegExp(`ignore router advertisements on ${uplink}`));
    // A second IPv6 network: forwarding is already on, nothing more to do or say.
    warnings.length = 0;
    createNetwork(fx.ctx, { name: 'ut-more', ipv6: true });
    assert.deepEqual(warnings, []);
    reset(fx.ctx);
    assert.equal(fx.host.sysctl('net.ipv6.conf.all.forwarding'), '0');
    assert.equal(fx.host.sysctl(`net.ipv6.conf.${uplink}.accept_ra`), '1');
  });
});

test('parseIPv6: a dotted IPv4 tail is read as written, IPv4-compatible or IPv4-mapped (ipaddr.js alone reads ::1.2.3.4 as mapped)', () => {
  assert.equal(parseIPv6('::1.2.3.4'), '::102:304');
  assert.equal(parseIPv6('::ffff:1.2.3.4'), '::ffff:102:304');
  assert.equal(parseIPv6('64:ff9b::192.0.2.33'), '64:ff9b::c000:221');
  assert.equal(ip6ToInt('::1.2.3.4'), 0x01020304n);
});
