/**
 * macvlan and ipvlan networks (issue 17, item 8) on a fake machine: the plans render as the
 * by-hand `ip link add link PARENT ... type macvlan mode bridge` / `type ipvlan mode l2|l3`, run and
 * rm put the container's interface straight on the parent (no bridge, no veth host end, nothing in
 * the firewall), a failure or crash at every step leaves the machine as before, a missing parent
 * and bad options are refused with nothing changed, and `system check` knows the wiring. No root.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseNetConf } from '../../src/cni/config.js';
import { networkRow, networkView } from '../../src/engine/inspect.js';
import { check } from '../../src/ops/check.js';
import { cniAdd } from '../../src/ops/cni.js';
import { remove, run, start, stop } from '../../src/ops/containers.js';
import { openMemoryStore } from '../../src/store/index.js';
import { FakeHost } from '../helpers/fake-host.js';
import { connect, createNetwork, disconnect, removeNetwork } from '../../src/ops/networks.js';
import { renderPlan } from '../../src/plan/render.js';
import { assertRecoveredAsBefore, assertSameState, assertUndone, codeOf, contextOn, crashEachStep, failEachStep, fixture, runInput, type Op } from '../helpers/ops-fixture.js';

type Ctx = Parameters<Op>[0];
// The fake machine's uplink is eth0 (10.0.2.15/24): the LAN the containers join.
const macvlan = (ctx: Ctx) => createNetwork(ctx, { name: 'ut-mv', driver: 'macvlan', subnet: '10.0.2.0/24', gateway: '10.0.2.2', options: { parent: 'eth0' } });
const ipvlan = (mode: string) => (ctx: Ctx) =>
  createNetwork(ctx, { name: 'ut-iv', driver: 'ipvlan', subnet: '10.0.2.0/24', gateway: '10.0.2.2', options: { parent: 'eth0', ipvlan_mode: mode } });
const internalMv = (ctx: Ctx) => createNetwork(ctx, { name: 'ut-mvi', driver: 'macvlan', subnet: '10.9.0.0/24', internal: true });
const runOn = (name: string, networks: string[]): Op => (ctx) => run(ctx, runInput({ name, networks }));

/** The steps `--dry-run` prints for an operation on a copy of the fixture. */
async function planned(fx: ReturnType<typeof fixture>, op: (ctx: Ctx) => unknown): Promise<string> {
  const ctx = contextOn(fx.host, fx.store, fx.root, { dryRun: true });
  await op(ctx);
  return ctx.planned.join('\n');
}

describe('macvlan', () => {
  test('network create changes nothing on the host (the parent is the user\'s); run puts eth0 on the parent', async () => {
    const fx = fixture();
    const before = fx.state();
    const n = macvlan(fx.ctx);
    assert.equal(n.driver, 'macvlan');
    assert.equal(networkRow(n, 0)['Driver'], 'macvlan');
    assert.deepEqual(networkView(n, [])['Options'], { parent: 'eth0' });
    assert.deepEqual(fx.host.snapshot(), before.host, 'after create: the machine differs');
    await runOn('ut-a', ['ut-mv'])(fx.ctx);
    const eth0 = fx.host.links('ut-a').find((l) => l.name === 'eth0');
    assert.equal(eth0?.kind, 'macvlan');
    assert.equal(eth0?.mac, '02:42:0a:00:02:01');
    assert.ok(fx.host.addresses('ut-a').some((a) => a.address === '10.0.2.1' && a.prefixLen === 24));
    assert.ok(fx.host.routes('ut-a').some((r) => r.dst === undefined && r.gateway === '10.0.2.2'));
    // No host end, no bridge, nothing in nsnet's firewall about it.
    assert.equal(fx.host.links().filter((l) => l.kind === 'veth' || l.kind === 'bridge').length, 0);
    assert.doesNotMatch(fx.host.nftTable('inet', 'nsnet') ?? '', /10\.0\.2\./);
    remove(fx.ctx, ['ut-a'], { force: true });
    removeNetwork(fx.ctx, 'ut-mv');
    assert.deepEqual(fx.host.snapshot(), before.host, 'after rm and network rm: the machine differs');
  });

  test('renders as the by-hand commands', async () => {
    const fx = await fixture().setUp(macvlan);
    const text = await planned(fx, runOn('ut-a', ['ut-mv']));
    assert.match(text, /^ip link add link eth0 name eth0 netns ut-a address 02:42:0a:00:02:01 type macvlan mode bridge$/m);
    assert.match(text, /^ip -n ut-a addr add 10\.0\.2\.1\/24 brd \+ dev eth0$/m);
    assert.match(text, /^ip -n ut-a route add default via 10\.0\.2\.2 dev eth0$/m);
    assert.doesNotMatch(text, /type veth|nft /);
  });

  test('failure and crash at every step of run, connect and network create: as before', async () => {
    await failEachStep(await fixture().setUp(macvlan), runOn('ut-a', ['ut-mv']), assertUndone);
    await crashEachStep(await fixture().setUp(macvlan), runOn('ut-a', ['ut-mv']), assertRecoveredAsBefore('run'));
    await failEachStep(fixture(), internalMv, assertUndone);
    await crashEachStep(fixture(), internalMv, assertRecoveredAsBefore('network create'));
    await failEachStep(await fixture().setUp(macvlan, runOn('ut-a', ['bridge'])), (ctx) => connect(ctx, 'ut-mv', 'ut-a', {}), assertUndone);
  });

  test('connect and disconnect: eth1 on the parent, gone again', async () => {
    const fx = await fixture().setUp(macvlan, runOn('ut-a', ['bridge']));
    const before = fx.state();
    connect(fx.ctx, 'ut-mv', 'ut-a', {});
    assert.equal(fx.host.links('ut-a').find((l) => l.name === 'eth1')?.kind, 'macvlan');
    disconnect(fx.ctx, 'ut-mv', 'ut-a');
    assertSameState(fx.state(), before, 'after connect and disconnect', { ignoreCursors: true });
  });

  test('--internal: a dummy parent made and removed with the network, no default route', async () => {
    const fx = fixture();
    const before = fx.state();
    const n = internalMv(fx.ctx);
    assert.equal(fx.host.link(n.bridge)?.kind, 'dummy');
    await runOn('ut-a', ['ut-mvi'])(fx.ctx);
    assert.equal(fx.host.routes('ut-a').some((r) => r.dst === undefined), false);
    remove(fx.ctx, ['ut-a'], { force: true });
    removeNetwork(fx.ctx, 'ut-mvi');
    assert.deepEqual(fx.host.snapshot(), before.host, 'after network rm: the machine differs');
  });

  test('refused, nothing changed: a missing parent (named), no parent, --internal with a parent, bridge options, a taken parent', async () => {
    const fx = await fixture().setUp(macvlan);
    const before = fx.state();
    const refused = (input: Parameters<typeof createNetwork>[1], code: string, message?: RegExp): void => {
      assert.throws(() => createNetwork(fx.ctx, input), (e: unknown) => codeOf(e) === code && (message === undefined || message.test((e as Error).message)));
    };
    refused({ name: 'x', driver: 'macvlan', subnet: '10.5.0.0/24', options: { parent: 'nosuch0' } }, 'NOT_FOUND', /parent interface nosuch0 .*does not exist/);
    refused({ name: 'x', driver: 'macvlan', subnet: '10.5.0.0/24' }, 'INVALID_VALUE', /-o parent=IFACE/);
    refused({ name: 'x', driver: 'macvlan', subnet: '10.5.0.0/24', internal: true, options: { parent: 'eth0' } }, 'INVALID_VALUE', /--internal/);
    refused({ name: 'x', driver: 'macvlan', subnet: '10.5.0.0/24', options: { parent: 'lo' } }, 'INVALID_VALUE', /loopback/);
    refused({ name: 'x', driver: 'macvlan', subnet: '10.5.0.0/24', options: { parent: 'eth0', 'com.docker.network.bridge.name': 'br0' } }, 'INVALID_VALUE', /unknown macvlan network option/);
    refused({ name: 'x', driver: 'ipvlan', subnet: '10.5.0.0/24', options: { parent: 'eth0', ipvlan_mode: 'l4' } }, 'INVALID_VALUE', /ipvlan_mode "l4"/);
    refused({ name: 'x', driver: 'macvlan', subnet: '10.5.0.0/24', options: { parent: 'eth0' } }, 'IN_USE', /ut-mv is already using parent interface eth0/);
    assertSameState(fx.state(), before, 'after refused creates');
  });

  test('-p on a macvlan network is refused (no host end, no NAT), nothing changed', async () => {
    const fx = await fixture().setUp(macvlan);
    const before = fx.state();
    await assert.rejects(async () => run(fx.ctx, runInput({ name: 'ut-a', networks: ['ut-mv'], publish: ['8080:80'] })), (e: unknown) => codeOf(e) === 'INVALID_VALUE' && /cannot publish ports of ut-a on macvlan network ut-mv/.test((e as Error).message));
    assertSameState(fx.state(), before, 'after the refused run');
  });

  test('nsnet-cni refuses a macvlan network by name, nothing changed', async () => {
    const fx = await fixture().setUp(macvlan);
    fx.host.net.addRuntimeNetns('/run/user/0/netns/cni-1');
    const before = fx.state();
    const conf = parseNetConf({ cniVersion: '1.0.0', name: 'ut-mv', type: 'nsnet-cni' });
    const req = { conf, containerId: 'c0ffee1', netns: '/run/user/0/netns/cni-1', ifName: 'eth0', ports: [], aliases: [], runtime: 'podman' };
    assert.throws(() => cniAdd(fx.ctx, req), (e: unknown) => codeOf(e) === 'INVALID_VALUE' && /ut-mv is a macvlan network: nsnet-cni attaches to bridge networks only/.test((e as Error).message));
    assertSameState(fx.state(), before, 'after the refused ADD');
  });

  test('start after a reboot: the internal network\'s dummy parent and the macvlan interfaces are made again', async () => {
    const up = await fixture().setUp(macvlan, internalMv, runOn('ut-a', ['ut-mv', 'ut-mvi']));
    const wired = up.host.snapshot();
    stop(up.ctx, ['ut-a'], 0);
    const fx = fixture({ host: new FakeHost({ ipForward: '1' }), store: openMemoryStore(up.store.serialize()), root: up.root });
    await start(fx.ctx, ['ut-a']);
    // The same machine (the dummy's own MAC aside: the kernel picks it).
    const sameButMacs = (s: typeof wired) => JSON.parse(JSON.stringify(s.network).replace(/02:fa:ce:[0-9a-f:]{8}/g, 'MAC')) as unknown;
    assert.deepEqual(sameButMacs(fx.host.snapshot()), sameButMacs(wired));
    assert.deepEqual(check(fx.ctx, { fix: false }).differences.map((d) => d.problem), []);
  });

  test('system check: clean after run; a lost interface is reported and rewired onto the parent', async () => {
    const fx = await fixture().setUp(macvlan, runOn('ut-a', ['ut-mv']));
    assert.deepEqual(check(fx.ctx, { fix: false }).differences.map((d) => d.problem), []);
    fx.host.net.deleteLink('ut-a', 'eth0');
    const found = check(fx.ctx, { fix: true }).differences;
    assert.ok(found.some((d) => /eth0 is missing/.test(d.problem) && d.fixed === true), JSON.stringify(found));
    assert.equal(fx.host.links('ut-a').find((l) => l.name === 'eth0')?.kind, 'macvlan');
    assert.deepEqual(check(fx.ctx, { fix: false }).differences.map((d) => d.problem), []);
  });
});

describe('ipvlan', () => {
  test('l2: the parent\'s MAC, a route via the gateway; rendered as type ipvlan mode l2', async () => {
    const fx = await fixture().setUp(ipvlan('l2'));
    assert.match(await planned(fx, runOn('ut-a', ['ut-iv'])), /^ip link add link eth0 name eth0 netns ut-a type ipvlan mode l2$/m);
    await runOn('ut-a', ['ut-iv'])(fx.ctx);
    const eth0 = fx.host.links('ut-a').find((l) => l.name === 'eth0');
    assert.equal(eth0?.kind, 'ipvlan');
    assert.equal(eth0?.mac, fx.host.link('eth0')?.mac);
    assert.ok(fx.host.routes('ut-a').some((r) => r.dst === undefined && r.gateway === '10.0.2.2'));
    assert.deepEqual(check(fx.ctx, { fix: false }).differences.map((d) => d.problem), []);
  });

  test('l3: a default route through the device, no gateway', async () => {
    const fx = await fixture().setUp(ipvlan('l3'));
    const text = await planned(fx, runOn('ut-a', ['ut-iv']));
    assert.match(text, /type ipvlan mode l3$/m);
    assert.match(text, /^ip -n ut-a route add default dev eth0$/m);
    await runOn('ut-a', ['ut-iv'])(fx.ctx);
    assert.ok(fx.host.routes('ut-a').some((r) => r.dst === undefined && r.gateway === undefined));
    assert.deepEqual(check(fx.ctx, { fix: false }).differences.map((d) => d.problem), []);
  });

  test('failure and crash at every step of run: as before', async () => {
    await failEachStep(await fixture().setUp(ipvlan('l3')), runOn('ut-a', ['ut-iv']), assertUndone);
    await crashEachStep(await fixture().setUp(ipvlan('l2')), runOn('ut-a', ['ut-iv']), assertRecoveredAsBefore('run'));
  });

  test('the rendered plan of a run is the same text renderPlan gives its steps', () => {
    assert.equal(renderPlan([{ kind: 'ipvlan-add', parent: 'eth0', ns: 'red', name: 'eth0', mode: 'l3', mtu: 1400 }]), 'ip link add link eth0 name eth0 netns red mtu 1400 type ipvlan mode l3');
  });
});
