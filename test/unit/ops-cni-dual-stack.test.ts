/**
 * nsnet-cni on dual-stack and IPv6-only networks, on FakeHost: a configuration with an IPv4 and
 * an IPv6 range set makes a network with both families; ADD gives one address and one default
 * route per family, a requested address per family, ports on both families; CHECK checks both;
 * DEL and GC release both; failure and crash at every step of a dual-stack ADD leave nothing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseNetConf, type CniNetConf } from '../../src/cni/config.js';
import { NsnetError } from '../../src/core/errors.js';
import { cniAdd, cniDel, cniGc, cniStatus, findAttachment, type CniAddRequest, type CniAttachment } from '../../src/ops/cni.js';
import { handleCni, type CniReply } from '../../src/ops/cni-plugin.js';
import type { Context } from '../../src/ops/context.js';
import { assertRecoveredAsBefore, assertSameState, assertUndone, crashEachStep, failEachStep, fixture, type Fixture } from '../helpers/ops-fixture.js';

const NS = (n: number): string => `/run/user/0/netns/cni6-${n}`;

/** What podman network create --ipv6 writes for host-local, with nsnet-cni as the plugin. */
const DUAL = {
  cniVersion: '1.0.0',
  name: 'dual',
  type: 'nsnet-cni',
  ipam: {
    type: 'host-local',
    routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
    ranges: [[{ subnet: '10.88.0.0/24', gateway: '10.88.0.1' }], [{ subnet: 'fd00:88::/64', gateway: 'fd00:88::1' }]],
  },
};
const ONLY6 = { cniVersion: '1.0.0', name: 'only6', type: 'nsnet-cni', ipam: { ranges: [[{ subnet: 'fd00:66::/64' }]] } };

const conf = (raw: Record<string, unknown> = DUAL): CniNetConf => parseNetConf(raw);

function addRequest(n: number, extra: Partial<CniAddRequest> = {}): CniAddRequest {
  return { conf: conf(), containerId: `d0a1${n}`, netns: NS(n), ifName: 'eth0', ports: [], aliases: [], runtime: 'podman', ...extra };
}
const add = (n: number, extra: Partial<CniAddRequest> = {}) => (ctx: Context): CniAttachment => cniAdd(ctx, addRequest(n, extra));

async function runtimeFixture(count: number, ...ops: Array<(ctx: Context) => unknown>): Promise<Fixture> {
  const fx = fixture();
  for (let n = 1; n <= count; n++) fx.host.net.addRuntimeNetns(NS(n));
  return fx.setUp(...ops);
}

/** A CNI call as the runtime makes it; the reply's JSON. */
function call(ctx: Context, command: string, n: number, stdin: Record<string, unknown>, args = ''): { reply: CniReply; out: Record<string, unknown> } {
  const reply = handleCni(ctx, {
    env: { CNI_COMMAND: command, CNI_CONTAINERID: `d0a1${n}`, CNI_NETNS: NS(n), CNI_IFNAME: 'eth0', CNI_ARGS: args },
    stdin: JSON.stringify(stdin),
  });
  return { reply, out: reply.stdout === '' ? {} : (JSON.parse(reply.stdout) as Record<string, unknown>) };
}

const refused = (fn: () => unknown, message: RegExp): void =>
  assert.throws(fn, (e: unknown) => e instanceof NsnetError && e.code === 'INVALID_VALUE' && message.test(e.message));

describe('CNI on a dual-stack network', () => {
  test('the configuration makes a network with both families; an IPv6-only one has no IPv4', async () => {
    const fx = await runtimeFixture(2, add(1), add(2, { conf: conf(ONLY6) }));
    const dual = fx.store.networks.byName('dual')!;
    assert.deepEqual([dual.subnet, dual.gateway, dual.subnet6, dual.gateway6], ['10.88.0.0/24', '10.88.0.1', 'fd00:88::/64', 'fd00:88::1']);
    const only6 = fx.store.networks.byName('only6')!;
    assert.deepEqual([only6.subnet, only6.gateway, only6.subnet6, only6.gateway6], [null, null, 'fd00:66::/64', 'fd00:66::1']);
    // The configuration and the network it made agree; a configuration that says otherwise is refused.
    assert.deepEqual(cniStatus(fx.ctx, conf()), []);
    assert.deepEqual(cniStatus(fx.ctx, conf(ONLY6)), []);
    const other6 = { ...DUAL, ipam: { ranges: [[{ subnet: '10.88.0.0/24' }], [{ subnet: 'fd00:99::/64' }]] } };
    assert.deepEqual(cniStatus(fx.ctx, conf(other6)), ['network dual exists and its IPv6 subnet is fd00:88::/64, the configuration says fd00:99::/64']);
    const dualAsOnly6 = { ...DUAL, ipam: { ranges: [[{ subnet: 'fd00:88::/64' }]] } };
    assert.deepEqual(cniStatus(fx.ctx, conf(dualAsOnly6)), ['network dual exists and its IPv4 subnet is 10.88.0.0/24, the configuration says none (IPv6 only)']);
    const only6AsDual = { ...ONLY6, ipam: { ranges: [[{ subnet: '10.66.0.0/24' }], [{ subnet: 'fd00:66::/64' }]] } };
    assert.match(cniStatus(fx.ctx, conf(only6AsDual))[0] ?? '', /its subnet is null, the configuration says 10\.66\.0\.0\/24/);
    const v4only = { cniVersion: '1.0.0', name: 'dual', type: 'nsnet-cni', subnet: '10.88.0.0/24' };
    assert.deepEqual(cniStatus(fx.ctx, conf(v4only)), [], 'a configuration that names only the IPv4 subnet agrees (the rest is the network\'s own)');
    refused(() => cniAdd(fx.ctx, addRequest(3, { conf: conf(other6), containerId: 'x' })), /IPv6 subnet is fd00:88::\/64, the configuration says fd00:99::\/64/);
  });

  test('ADD through the plugin: one address and one default route per family, both in the kernel; CHECK passes; DEL releases both', async () => {
    const fx = await runtimeFixture(1);
    const { reply, out } = call(fx.ctx, 'ADD', 1, DUAL);
    assert.equal(reply.exitCode, 0, reply.stdout);
    assert.deepEqual(out['ips'], [
      { address: '10.88.0.2/24', gateway: '10.88.0.1', interface: 2 },
      { address: 'fd00:88::2/64', gateway: 'fd00:88::1', interface: 2 },
    ]);
    assert.deepEqual(out['routes'], [{ dst: '0.0.0.0/0', gw: '10.88.0.1' }, { dst: '::/0', gw: 'fd00:88::1' }]);
    assert.deepEqual(fx.host.addresses(NS(1), 4).map((a) => `${a.address}/${a.prefixLen}`), ['10.88.0.2/24']);
    assert.deepEqual(fx.host.addresses(NS(1), 6).map((a) => `${a.address}/${a.prefixLen}`).filter((a) => !a.startsWith('fe80')), ['fd00:88::2/64']);

    const checked = call(fx.ctx, 'CHECK', 1, { ...DUAL, prevResult: out });
    assert.equal(checked.reply.exitCode, 0, checked.reply.stdout);
    // A prevResult without the IPv6 address: CHECK names it.
    const v4Only = { ...out, ips: (out['ips'] as unknown[]).slice(0, 1) };
    const missing = call(fx.ctx, 'CHECK', 1, { ...DUAL, prevResult: v4Only });
    assert.equal(missing.reply.exitCode, 1);
    assert.match(String(missing.out['msg']), /prevResult does not list the address fd00:88::2\/64/);
    // The kernel lost the IPv6 address: CHECK names it.
    fx.host.net.delAddr(NS(1), 'eth0', 'fd00:88::2', 64);
    const lost = call(fx.ctx, 'CHECK', 1, { ...DUAL, prevResult: out });
    assert.equal(lost.reply.exitCode, 1);
    assert.match(String(lost.out['msg']), /fd00:88::2\/64/);

    const del = call(fx.ctx, 'DEL', 1, DUAL);
    assert.equal(del.reply.exitCode, 0, del.reply.stdout);
    const net = fx.store.networks.byName('dual')!;
    assert.deepEqual([...fx.store.networks.usedIps(net.id)], []);
    assert.deepEqual([...fx.store.networks.usedIps6(net.id)], []);
    // Both addresses are free again: the next ADD may ask for them.
    const again = call(fx.ctx, 'ADD', 1, { ...DUAL, runtimeConfig: { ips: ['10.88.0.2/24', 'fd00:88::2/64'] } });
    assert.equal(again.reply.exitCode, 0, again.reply.stdout);
  });

  test('0.4.0 results mark each address with its version', async () => {
    const fx = await runtimeFixture(1);
    const { reply, out } = call(fx.ctx, 'ADD', 1, { ...DUAL, cniVersion: '0.4.0' });
    assert.equal(reply.exitCode, 0, reply.stdout);
    assert.deepEqual((out['ips'] as Array<{ version: string }>).map((ip) => ip.version), ['4', '6']);
    assert.equal(call(fx.ctx, 'CHECK', 1, { ...DUAL, cniVersion: '0.4.0', prevResult: out }).reply.exitCode, 0);
  });

  test('requested addresses per family (ips capability, IP= with --ip and --ip6); a prefix that is not the subnet\'s is refused', async () => {
    const fx = await runtimeFixture(3);
    const byIps = call(fx.ctx, 'ADD', 1, { ...DUAL, runtimeConfig: { ips: ['10.88.0.50/24', 'fd00:88::50/64'] } });
    assert.deepEqual((byIps.out['ips'] as Array<{ address: string }>).map((ip) => ip.address), ['10.88.0.50/24', 'fd00:88::50/64'], byIps.reply.stdout);
    const byArgs = call(fx.ctx, 'ADD', 2, DUAL, 'IP=10.88.0.51,FD00:88::51');
    assert.deepEqual((byArgs.out['ips'] as Array<{ address: string }>).map((ip) => ip.address), ['10.88.0.51/24', 'fd00:88::51/64'], byArgs.reply.stdout);
    const only6 = call(fx.ctx, 'ADD', 3, DUAL, 'IP=fd00:88::52');
    assert.deepEqual((only6.out['ips'] as Array<{ address: string }>).map((ip) => ip.address), ['10.88.0.2/24', 'fd00:88::52/64'], 'IPv4 allocated');

    const before = fx.state();
    fx.host.net.addRuntimeNetns(NS(4));
    refused(() => cniAdd(fx.ctx, addRequest(4, { ip6: { ip: 'fd00:88::60', prefixLen: 80 } })), /requested address fd00:88::60\/80 does not match network dual \(fd00:88::\/64\)/);
    refused(() => cniAdd(fx.ctx, addRequest(4, { ip6: { ip: 'fd00:99::60' } })), /fd00:99::60/);
    refused(() => cniAdd(fx.ctx, addRequest(4, { ip6: { ip: 'fd00:66::60' }, conf: conf({ cniVersion: '1.0.0', name: 'v4net', type: 'nsnet-cni', subnet: '10.89.0.0/24' }) })), /network v4net has no IPv6/);
    fx.host.net.removeRuntimeNetns(NS(4));
    assertSameState(fx.state(), before, 'refusals change nothing');
  });

  test('ports: no host address publishes on both families; [::] and a host IPv6 address reach the port code as IPv6; [::1] gets its refusal', async () => {
    const fx = await runtimeFixture(1);
    fx.host.net.addAddr(undefined, 'eth0', '2001:db8:ffff::2', 64);
    const ports = [
      { hostPort: 8080, containerPort: 80 },
      { hostPort: 8081, containerPort: 80, hostIP: '::' },
      { hostPort: 8082, containerPort: 80, hostIP: '2001:DB8:FFFF:0::2' },
    ];
    const { reply } = call(fx.ctx, 'ADD', 1, { ...DUAL, runtimeConfig: { portMappings: ports } });
    assert.equal(reply.exitCode, 0, reply.stdout);
    const c = fx.store.containers.byCniId('d0a11')!;
    assert.deepEqual(fx.store.ports.forContainer(c.id).map((p) => `${p.hostIp ?? '*'} ${p.hostPort}`).sort(), ['* 8080', '2001:db8:ffff::2 8082', ':: 8081']);
    const nft = fx.host.nftTable('inet', 'nsnet') ?? '';
    assert.match(nft, /8080 : 10\.88\.0\.2 \. 80/, 'no host address: IPv4');
    assert.match(nft, /8080 : fd00:88::2 \. 80/, 'no host address: IPv6 too');
    assert.doesNotMatch(nft, /8081 : 10\.88\.0\.2/, '[::] is IPv6 only');
    assert.match(nft, /8081 : fd00:88::2 \. 80/);
    assert.match(nft, /2001:db8:ffff::2 \. tcp \. 8082 : fd00:88::2 \. 80/);
    assert.doesNotMatch(nft, /8082 : 10\.88/);
    // ::1 reaches the port code as IPv6 loopback, which refuses it (no route_localnet for IPv6): nothing changed.
    fx.host.net.addRuntimeNetns(NS(2));
    const before = fx.state();
    const loop = call(fx.ctx, 'ADD', 2, { ...DUAL, runtimeConfig: { portMappings: [{ hostPort: 8083, containerPort: 80, hostIP: '::1' }] } });
    assert.equal(loop.out['code'], 7, loop.reply.stdout);
    assert.match(String(loop.out['msg']), /cannot publish on \[?::1\]?:/);
    assertSameState(fx.state(), before, 'the refused ADD');
  });

  test('GC releases both families of what the runtime no longer lists; DEL the rest', async () => {
    const fx = await runtimeFixture(2, add(1), add(2));
    const net = fx.store.networks.byName('dual')!;
    assert.equal(fx.store.networks.usedIps6(net.id).size, 2);
    assert.deepEqual(cniGc(fx.ctx, 'dual', [{ containerId: 'd0a11', ifName: 'eth0' }]), ['d0a12/eth0']);
    assert.deepEqual([...fx.store.networks.usedIps6(net.id)], ['fd00:88::2']);
    assert.equal(fx.store.networks.usedIps(net.id).size, 1);
    assert.equal(cniDel(fx.ctx, 'd0a11', 'dual', 'eth0'), true);
    assert.equal(findAttachment(fx.ctx, 'd0a11', 'dual'), undefined);
  });

  const cases = [
    { what: 'first dual-stack ADD (the network is made too)', base: () => runtimeFixture(1), op: add(1, { ports: ['8080:80', '[::]:8081:80'], aliases: ['web'] }) },
    { what: 'dual-stack ADD with requested addresses on an existing network', base: () => runtimeFixture(2, add(1)), op: add(2, { ip: { ip: '10.88.0.9' }, ip6: { ip: 'fd00:88::9', prefixLen: 64 } }) },
    { what: 'first IPv6-only ADD', base: () => runtimeFixture(1), op: add(1, { conf: conf(ONLY6), ports: ['[::]:8082:80'] }) },
  ];
  for (const { what, base, op } of cases) {
    test(`failure at every step, ${what}: store and host as before`, async () => {
      assert.ok((await failEachStep(await base(), op, assertUndone)) >= 4);
    });
    test(`crash at every step, ${what}: recovery undoes it`, async () => {
      await crashEachStep(await base(), op, assertRecoveredAsBefore('cni add'));
    });
  }
});
