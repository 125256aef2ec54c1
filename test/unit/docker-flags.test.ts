/**
 * Docker's run and network flags (issue 17, item 4) decided on a fake machine: network create
 * -d/--attachable/--aux-address, run --sysctl/--expose/-P, network connect --alias, --link, and
 * refusals that change nothing. No root, no kernel.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { allocate, reserve, validateAuxAddresses } from '../../src/engine/ipam.js';
import { validateDriver } from '../../src/engine/network-drivers.js';
import { sysctlSteps, validateSysctls } from '../../src/engine/sysctls.js';
import { hostBindings, parseContainerPorts, portKey } from '../../src/engine/ports.js';
import { parseCidr, ipToInt, intToIp } from '../../src/core/ipv4.js';
import { connect, createNetwork, poolOf } from '../../src/ops/networks.js';
import { run, start, stop } from '../../src/ops/containers.js';
import { openMemoryStore } from '../../src/store/index.js';
import { FakeHost } from '../helpers/fake-host.js';
import { loadView } from '../../src/dns/load.js';
import { check } from '../../src/ops/check.js';
import { assertSameState, codeOf, fixture, runInput } from '../helpers/ops-fixture.js';

const refusedWith = (code: string, fragment: string) => (e: unknown): boolean => {
  assert.equal(codeOf(e), code);
  assert.match((e as Error).message, new RegExp(fragment));
  return true;
};

describe('network create -d, --attachable, --aux-address', () => {
  test('bridge is the default and the only driver; another is refused with the list', () => {
    assert.equal(validateDriver(undefined), 'bridge');
    assert.equal(validateDriver('bridge'), 'bridge');
    assert.throws(() => validateDriver('overlay'), refusedWith('INVALID_VALUE', 'invalid network driver "overlay": nsnet supports bridge'));
  });

  test('aux addresses: inside the subnet, host addresses, not the gateway, each once', () => {
    const subnet = parseCidr('10.0.0.0/24');
    const gw = ipToInt('10.0.0.1');
    assert.deepEqual([...validateAuxAddresses(subnet, gw, { router: ipToInt('10.0.0.5') })], [[ipToInt('10.0.0.5'), 'router']]);
    for (const [aux, fragment] of [
      [{ r: ipToInt('10.0.1.5') }, 'not inside subnet 10.0.0.0/24'],
      [{ r: ipToInt('10.0.0.0') }, 'network address'],
      [{ r: ipToInt('10.0.0.255') }, 'broadcast address'],
      [{ r: gw }, 'gateway'],
      [{ a: ipToInt('10.0.0.9'), b: ipToInt('10.0.0.9') }, 'already given as a'],
    ] as const) {
      assert.throws(() => validateAuxAddresses(subnet, gw, aux), refusedWith('INVALID_VALUE', `invalid --aux-address .*${fragment}`));
    }
  });

  test('IPAM never hands out an aux address, and a static --ip on one is refused naming it', () => {
    const pool = { subnet: parseCidr('10.0.0.0/29'), gateway: ipToInt('10.0.0.1'), name: 'n', reserved: new Map([[ipToInt('10.0.0.2'), 'router']]) };
    const got: string[] = [];
    let cursor: number | undefined;
    for (let i = 0; i < 4; i++) {
      const a = allocate(pool, new Set(got.map(ipToInt)), cursor);
      got.push(intToIp(a.address));
      cursor = a.cursor;
    }
    assert.deepEqual(got, ['10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    assert.throws(() => reserve(pool, new Set(), ipToInt('10.0.0.2')), refusedWith('ADDRESS_IN_USE', 'reserved as auxiliary address router of network n'));
  });

  test('recorded with the network; containers skip the address; bad values change nothing', async () => {
    const fx = fixture();
    const n = createNetwork(fx.ctx, { name: 'ut-aux', subnet: '10.9.0.0/24', driver: 'bridge', attachable: true, auxAddresses: { router: '10.9.0.2' } });
    const stored = fx.store.networks.byName('ut-aux')!;
    assert.deepEqual([stored.auxAddresses, stored.attachable, stored.driver], [{ router: '10.9.0.2' }, true, 'bridge']);
    assert.equal(poolOf(n).reserved?.get(ipToInt('10.9.0.2')), 'router');
    const c = await run(fx.ctx, runInput({ name: 'ut-aux1', networks: ['ut-aux'] }));
    assert.equal(fx.store.endpoints.forContainer(c.container.id)[0]!.ip, '10.9.0.3');
    const before = fx.state();
    assert.throws(() => createNetwork(fx.ctx, { name: 'ut-bad', subnet: '10.8.0.0/24', driver: 'macvlan0' }), refusedWith('INVALID_VALUE', 'macvlan0'));
    assert.throws(() => createNetwork(fx.ctx, { name: 'ut-bad', subnet: '10.8.0.0/24', auxAddresses: { r: '10.7.0.1' } }), refusedWith('INVALID_VALUE', 'r=10.7.0.1'));
    assert.throws(() => createNetwork(fx.ctx, { name: 'ut-bad', subnet: '10.8.0.0/24', auxAddresses: { r: 'x' } }), refusedWith('INVALID_VALUE', '"x"'));
    await assert.rejects(run(fx.ctx, runInput({ name: 'ut-aux2', networks: ['ut-aux'], ip: '10.9.0.2' })), refusedWith('ADDRESS_IN_USE', 'auxiliary address router'));
    assertSameState(fx.state(), before, 'after refused requests');
  });
});

describe('port NAME PORT[/PROTO], --expose', () => {
  test('parsed: tcp by default, a protocol, ranges only for --expose; bad values name themselves', () => {
    assert.deepEqual(parseContainerPorts('80', 'port'), [{ port: 80, proto: 'tcp' }]);
    assert.deepEqual(parseContainerPorts('53/UDP', 'port'), [{ port: 53, proto: 'udp' }]);
    assert.deepEqual(parseContainerPorts('8000-8002/tcp', '--expose', true).map(portKey), ['8000/tcp', '8001/tcp', '8002/tcp']);
    for (const [text, fragment] of [['8000-8002', 'PORT\\[/PROTO\\]'], ['x', 'PORT'], ['80/icmp', 'protocol "icmp"'], ['0', 'outside 1-65535'], ['70000', 'outside']] as const) {
      assert.throws(() => parseContainerPorts(text, 'port'), refusedWith('INVALID_VALUE', `invalid port "${text}": .*${fragment}`));
    }
    assert.throws(() => parseContainerPorts('90-80', '--expose', true), refusedWith('INVALID_VALUE', 'ends before it starts'));
  });

  test("one port's host bindings as Docker prints them", () => {
    const mappings = [
      { hostIp: undefined, hostPort: 8080, containerPort: 80, proto: 'tcp' as const },
      { hostIp: '127.0.0.1', hostPort: 8081, containerPort: 80, proto: 'tcp' as const },
      { hostIp: undefined, hostPort: 5353, containerPort: 53, proto: 'udp' as const },
    ];
    assert.deepEqual(hostBindings(mappings, { port: 80, proto: 'tcp' }), ['0.0.0.0:8080', '127.0.0.1:8081']);
    assert.deepEqual(hostBindings(mappings, { port: 53, proto: 'tcp' }), []);
  });
});

describe('run --sysctl', () => {
  test('net.* only (also written with /), one-line values; IPC and host keys refused saying why', () => {
    assert.deepEqual(validateSysctls({ 'net.ipv4.ip_forward': '1', 'net/ipv4/conf/all/rp_filter': ' 2 ' }), { 'net.ipv4.ip_forward': '1', 'net.ipv4.conf.all.rp_filter': '2' });
    for (const [key, value, fragment] of [
      ['kernel.shmmax', '1', 'IPC namespace'],
      ['fs.mqueue.msg_max', '1', 'IPC namespace'],
      ['vm.swappiness', '1', 'only net.\\* keys'],
      ['kernel.hostname', 'x', 'only net.\\* keys'],
      ['net.ipv4..x', '1', 'expected net.WORD'],
      ['net.ipv4.ip_forward', '', 'a value on one line'],
      ['net.ipv4.ip_forward', '1\n2', 'a value on one line'],
    ] as const) {
      assert.throws(() => validateSysctls({ [key]: value }), refusedWith('INVALID_VALUE', `invalid --sysctl "${key}=[\\s\\S]*${fragment}`));
    }
  });

  test('set in the namespace after its interfaces, stored, set again by start after a reboot; refused ones change nothing', async () => {
    const fx = fixture();
    createNetwork(fx.ctx, { name: 'ut-sys', subnet: '10.10.0.0/24' });
    const { container } = await run(fx.ctx, runInput({ name: 'ut-sys1', networks: ['ut-sys'], sysctls: { 'net.ipv4.ip_forward': '1', 'net.ipv4.conf.eth0.route_localnet': '1' } }));
    assert.equal(fx.host.sysctl('net.ipv4.ip_forward', 'ut-sys1'), '1');
    assert.equal(fx.host.sysctl('net.ipv4.conf.eth0.route_localnet', 'ut-sys1'), '1');
    assert.deepEqual(fx.store.containers.get(container.id)!.sysctls, { 'net.ipv4.ip_forward': '1', 'net.ipv4.conf.eth0.route_localnet': '1' });
    assert.deepEqual(sysctlSteps('ut-sys1', { 'net.ipv4.ip_forward': '1' }), [{ kind: 'netns-sysctl', ns: 'ut-sys1', key: 'net.ipv4.ip_forward', value: '1' }]);
    // A reboot: the records stay, the namespace goes; start sets the sysctls again.
    stop(fx.ctx, ['ut-sys1'], 0);
    const after = fixture({ host: new FakeHost({ ipForward: '1' }), store: openMemoryStore(fx.store.serialize()), root: fx.root });
    await start(after.ctx, ['ut-sys1']);
    assert.equal(after.host.sysctl('net.ipv4.ip_forward', 'ut-sys1'), '1');
    assert.equal(after.host.sysctl('net.ipv4.conf.eth0.route_localnet', 'ut-sys1'), '1');
    await run(fx.ctx, runInput({ name: 'ut-sys6', networks: ['ut-sys'] }));
    const before = fx.state();
    await assert.rejects(run(fx.ctx, runInput({ name: 'ut-sys2', networks: ['ut-sys'], sysctls: { 'kernel.shmmax': '1' } })), refusedWith('INVALID_VALUE', 'kernel.shmmax'));
    await assert.rejects(run(fx.ctx, runInput({ name: 'ut-sys3', networks: ['host'], sysctls: { 'net.ipv4.ip_forward': '1' } })), refusedWith('INVALID_VALUE', 'not allowed'));
    await assert.rejects(run(fx.ctx, runInput({ name: 'ut-sys4', networks: ['container:ut-sys6'], sysctls: { 'net.ipv4.ip_forward': '1' } })), refusedWith('INVALID_VALUE', 'not allowed'));
    assertSameState(fx.state(), before, 'after a refused --sysctl');
    // --network none: a namespace of its own, so its sysctls are set there.
    await run(fx.ctx, runInput({ name: 'ut-sys5', networks: ['none'], sysctls: { 'net.ipv4.ip_forward': '1' } }));
    assert.equal(fx.host.sysctl('net.ipv4.ip_forward', 'ut-sys5'), '1');
  });
});

describe('run --expose, -P, --link; network connect --alias', () => {
  test('-P publishes each exposed port that -p does not, on a free host port; ExposedPorts has both', async () => {
    const fx = fixture();
    createNetwork(fx.ctx, { name: 'ut-pub', subnet: '10.11.0.0/24' });
    const { container } = await run(fx.ctx, runInput({ name: 'ut-pub1', networks: ['ut-pub'], expose: ['80', '53/udp', '8000-8001'], publish: ['8080:80'], publishAll: true }));
    const stored = fx.store.containers.get(container.id)!;
    assert.deepEqual(stored.exposedPorts, ['80/tcp', '53/udp', '8000/tcp', '8001/tcp']);
    assert.equal(stored.publishAll, true);
    const ports = fx.store.ports.forContainer(container.id).map((p) => `${p.containerPort}/${p.proto}`).sort();
    assert.deepEqual(ports, ['53/udp', '80/tcp', '8000/tcp', '8001/tcp']);
    assert.equal(fx.store.ports.forContainer(container.id).find((p) => p.containerPort === 80)!.hostPort, 8080);
    const { container: quiet } = await run(fx.ctx, runInput({ name: 'ut-pub2', networks: ['ut-pub'], expose: ['81'] }));
    assert.deepEqual(fx.store.ports.forContainer(quiet.id), [], '--expose alone publishes nothing');
    const before = fx.state();
    await assert.rejects(run(fx.ctx, runInput({ name: 'ut-pub3', networks: ['ut-pub'], expose: ['80/icmp'], publishAll: true })), refusedWith('INVALID_VALUE', 'invalid --expose "80/icmp"'));
    assertSameState(fx.state(), before, 'after a refused --expose');
  });

  test('--link: NAME[:ALIAS] of a container on the default network, with the legacy warning; refused otherwise', async () => {
    const fx = fixture();
    await run(fx.ctx, runInput({ name: 'ut-db' }));
    const { container } = await run(fx.ctx, runInput({ name: 'ut-app', links: ['ut-db:database', 'ut-db'] }));
    assert.deepEqual(fx.store.containers.get(container.id)!.links, [{ name: 'ut-db', alias: 'database' }, { name: 'ut-db', alias: 'ut-db' }]);
    assert.ok(fx.warnings.some((w) => /--link is a legacy feature/.test(w)), fx.warnings.join('\n'));
    createNetwork(fx.ctx, { name: 'ut-user', subnet: '10.12.0.0/24' });
    await run(fx.ctx, runInput({ name: 'ut-other', networks: ['ut-user'] }));
    const before = fx.state();
    await assert.rejects(run(fx.ctx, runInput({ name: 'ut-x', links: ['ut-missing'] })), refusedWith('NOT_FOUND', 'no container named ut-missing'));
    await assert.rejects(run(fx.ctx, runInput({ name: 'ut-x', links: ['ut-other'] })), refusedWith('INVALID_VALUE', 'ut-other is not on the default network'));
    await assert.rejects(run(fx.ctx, runInput({ name: 'ut-x', networks: ['ut-user'], links: ['ut-db'] })), refusedWith('INVALID_VALUE', 'links are a feature of the default network'));
    await assert.rejects(run(fx.ctx, runInput({ name: 'ut-x', links: ['a:b:c'] })), refusedWith('INVALID_VALUE', 'expected NAME or NAME:ALIAS'));
    assertSameState(fx.state(), before, 'after refused links');
  });
});

describe('per-network aliases in the DNS view', () => {
  test('network connect --alias: the name resolves on that network only; --link ALIAS on the default network', async () => {
    const fx = fixture();
    await run(fx.ctx, runInput({ name: 'ut-db' }));
    createNetwork(fx.ctx, { name: 'ut-front', subnet: '10.13.0.0/24' });
    createNetwork(fx.ctx, { name: 'ut-back', subnet: '10.14.0.0/24' });
    await run(fx.ctx, runInput({ name: 'ut-api', networks: ['ut-front'] }));
    const ep = connect(fx.ctx, 'ut-back', 'ut-api', { aliases: ['api.internal', 'Backend'] });
    assert.deepEqual(fx.store.endpoints.get(ep.networkId, ep.containerId)!.aliases, ['api.internal', 'Backend']);
    await run(fx.ctx, runInput({ name: 'ut-app', links: ['ut-db:database'] }));
    const view = loadView(fx.store, () => true, []);
    const on = (net: string): Map<string, string[]> => [...view.byGateway.values()].find((v) => v.name === net)!.names;
    assert.deepEqual(on('ut-back').get('backend'), [ep.ip]);
    assert.deepEqual(on('ut-back').get('api.internal'), [ep.ip]);
    assert.equal(on('ut-front').get('backend'), undefined, 'an alias of ut-back is no name on ut-front');
    assert.ok(on('ut-front').has('ut-api'));
    const db = fx.store.containers.resolve('ut-db');
    assert.deepEqual(on('bridge').get('database'), [fx.store.endpoints.forContainer(db.id)[0]!.ip]);
    assert.ok(view.known.has('backend') && view.known.has('database'), 'never forwarded upstream');
    const before = fx.state();
    assert.throws(() => connect(fx.ctx, 'ut-back', 'ut-db', { aliases: ['ut-api'] }), refusedWith('NAME_IN_USE', '--alias ut-api would shadow container ut-api on network ut-back'));
    assert.throws(() => connect(fx.ctx, 'ut-back', 'ut-db', { aliases: ['bad name'] }), refusedWith('INVALID_VALUE', 'bad name'));
    assertSameState(fx.state(), before, 'after refused aliases');
  });
});

describe('system check knows --sysctl', () => {
  test('a value changed in the namespace is found and set again by --fix', async () => {
    const fx = fixture();
    createNetwork(fx.ctx, { name: 'ut-chs', subnet: '10.15.0.0/24' });
    await run(fx.ctx, runInput({ name: 'ut-chs1', networks: ['ut-chs'], sysctls: { 'net.ipv4.ip_forward': '1' } }));
    const problems = (fix: boolean): string[] => check(fx.ctx, { fix }).differences.map((d) => `${d.object}: ${d.problem}`);
    assert.deepEqual(problems(false), []);
    fx.host.net.writeSysctl('ut-chs1', 'net.ipv4.ip_forward', '0');
    const expected = ['container ut-chs1: sysctl net.ipv4.ip_forward is 0 in its namespace, not 1 (--sysctl)'];
    assert.deepEqual(problems(false), expected);
    assert.deepEqual(problems(true), expected);
    assert.equal(fx.host.sysctl('net.ipv4.ip_forward', 'ut-chs1'), '1');
    assert.deepEqual(problems(false), []);
  });
});

describe('-P with --network host', () => {
  test("discarded with Docker's warning, as -p is", async () => {
    const fx = fixture();
    const { container } = await run(fx.ctx, runInput({ name: 'ut-hostp', networks: ['host'], expose: ['80'], publishAll: true }));
    assert.ok(fx.warnings.some((w) => /Published ports are discarded when using host network mode/.test(w)), fx.warnings.join('\n'));
    assert.deepEqual(fx.store.ports.forContainer(container.id), []);
  });
});
