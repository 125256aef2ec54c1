/**
 * Network operations (create, rm, connect, disconnect, prune) and system prune on a fake
 * machine: what each makes or removes, and that a failure at any step or a crash after any step
 * leaves records and machine consistent — a make as before, a removal either kept (failure: the
 * records stay and the error names the step) or finished (crash: recovery completes it).
 * Also `system check` for bug 2 of issue 13. No root, no kernel.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { check } from '../../src/ops/check.js';
import { remove, run, stop } from '../../src/ops/containers.js';
import { connect, createNetwork, disconnect, pruneNetworks, removeNetwork } from '../../src/ops/networks.js';
import { prune } from '../../src/ops/system.js';
import { assertFinishedAs, assertKept, assertRecoveredAsBefore, assertSameState, assertUndone, codeOf } from '../helpers/ops-fixture.js';
import { crashEachStep, failEachStep, fixture, runInput, stateAfter, type Fixture, type Op } from '../helpers/ops-fixture.js';

type Ctx = Parameters<Op>[0];
const study = (ctx: Ctx) => createNetwork(ctx, { name: 'ut-study', subnet: '10.0.0.0/24' });
const lab = (ctx: Ctx) => createNetwork(ctx, { name: 'ut-lab', subnet: '10.1.0.0/24' });
const spare = (ctx: Ctx) => createNetwork(ctx, { name: 'ut-spare', subnet: '10.2.0.0/24' });
const internal = (ctx: Ctx) => createNetwork(ctx, { name: 'ut-inside', subnet: '10.3.0.0/24', internal: true });
const runOn = (name: string, networks: string[], publish: string[] = []): Op => (ctx) => run(ctx, runInput({ name, networks, publish }));

const bridgeOf = (fx: Fixture, name: string): string => fx.store.networks.byName(name)!.bridge;

describe('network create', () => {
  test('the bridge with the gateway, route_localnet and ip_forward, and the network in the firewall', () => {
    const fx = fixture();
    const n = createNetwork(fx.ctx, { name: 'ut-study', subnet: '10.0.0.0/24' });
    assert.deepEqual([n.subnet, n.gateway, n.isDefault], ['10.0.0.0/24', '10.0.0.1', false]);
    assert.match(n.bridge, /^nsnet-[0-9a-f]{8}$/);
    assert.equal(fx.store.settings.get('firewall.driver'), 'nftables');
    const bridge = fx.host.link(n.bridge);
    assert.equal(bridge?.kind, 'bridge');
    assert.equal(bridge?.up, true);
    assert.ok(fx.host.addresses().some((a) => a.index === bridge?.index && a.address === '10.0.0.1' && a.prefixLen === 24));
    assert.equal(fx.host.sysctl(`net.ipv4.conf.${n.bridge}.route_localnet`), '1');
    assert.equal(fx.host.sysctl('net.ipv4.ip_forward'), '1');
    const table = fx.host.nftTable('inet', 'nsnet') ?? '';
    assert.match(table, new RegExp(`set bridges \\{[^}]*elements = \\{ "${n.bridge}" \\}`));
    assert.match(table, new RegExp(`ip saddr 10\\.0\\.0\\.0/24 oifname != "${n.bridge}" masquerade`));
  });

  test('--internal: no way out, so neither route_localnet nor masquerade', () => {
    const fx = fixture();
    const n = internal(fx.ctx);
    assert.equal(fx.host.sysctl(`net.ipv4.conf.${n.bridge}.route_localnet`), '0');
    assert.doesNotMatch(fx.host.nftTable('inet', 'nsnet') ?? '', /masquerade comment "nsnet network ut-inside/);
  });

  test('refused: a taken name, an overlapping subnet — nothing changes', () => {
    const fx = fixture();
    study(fx.ctx);
    const before = fx.state();
    assert.throws(() => study(fx.ctx), (e: unknown) => codeOf(e) === 'NAME_IN_USE');
    assert.throws(() => createNetwork(fx.ctx, { name: 'ut-other', subnet: '10.0.0.128/25' }), (e: unknown) => codeOf(e) === 'SUBNET_OVERLAP');
    assertSameState(fx.state(), before, 'after refused creates');
  });

  test('failure at every step: as before (first network, and next to another)', async () => {
    await failEachStep(fixture(), study, assertUndone);
    await failEachStep(await fixture().setUp(lab, runOn('ut-blue', ['ut-lab'])), study, assertUndone);
  });

  test('crash after every step: the next process undoes it (first network, and next to another)', async () => {
    await crashEachStep(fixture(), study, assertRecoveredAsBefore('network create'));
    await crashEachStep(await fixture().setUp(lab, runOn('ut-blue', ['ut-lab'])), study, assertRecoveredAsBefore('network create'));
  });
});

describe('network rm', () => {
  const rmStudy: Op = (ctx) => removeNetwork(ctx, 'ut-study');

  test('the bridge and its firewall rules go: the machine as before the create', () => {
    const fx = fixture();
    lab(fx.ctx);
    const before = fx.state();
    study(fx.ctx);
    assert.equal(removeNetwork(fx.ctx, 'ut-study').name, 'ut-study');
    assertSameState(fx.state(), before, 'after network rm');
    // The last network takes the firewall and the driver record with it.
    removeNetwork(fx.ctx, 'ut-lab');
    assert.deepEqual(fx.state(), fixture().state());
  });

  test('refused: the default network (FORBIDDEN), a network in use (IN_USE), an unknown one (NOT_FOUND)', async () => {
    const fx = await fixture().setUp(study, runOn('ut-red', ['ut-study']), runOn('ut-blue', []));
    const before = fx.state();
    assert.throws(() => removeNetwork(fx.ctx, 'bridge'), (e: unknown) => codeOf(e) === 'FORBIDDEN');
    assert.throws(() => removeNetwork(fx.ctx, 'ut-study'), (e: unknown) => codeOf(e) === 'IN_USE' && /ut-red/.test((e as Error).message));
    assert.throws(() => removeNetwork(fx.ctx, 'ut-nothing'), (e: unknown) => codeOf(e) === 'NOT_FOUND');
    assertSameState(fx.state(), before, 'after refused removals');
  });

  for (const [what, setUp] of [
    ['the only network', [study]],
    ['next to another', [lab, study, runOn('ut-blue', ['ut-lab'])]],
  ] as const) {
    test(`${what}: failure at every step keeps the records; a crash after every step is finished by the next process`, async () => {
      const base = await fixture().setUp(...setUp);
      const removed = await stateAfter(base, rmStudy);
      await failEachStep(base, rmStudy, assertKept('network rm', { op: rmStudy, removed }));
      await crashEachStep(base, rmStudy, assertFinishedAs('network rm', removed));
    });
  }
});

describe('network connect', () => {
  const connectLab: Op = (ctx) => connect(ctx, 'ut-lab', 'ut-red', {});

  test('to a second network: eth1 with its address in the bridge; the default route stays on eth0', async () => {
    const fx = await fixture().setUp(study, lab, runOn('ut-red', ['ut-study']));
    const ep = connect(fx.ctx, 'ut-lab', 'ut-red', {});
    assert.deepEqual([ep.ifName, ep.ip], ['eth1', '10.1.0.2']);
    assert.equal(fx.host.link(ep.hostIf)?.masterIndex, fx.host.link(bridgeOf(fx, 'ut-lab'))?.index);
    assert.ok(fx.host.addresses('ut-red').some((a) => a.address === '10.1.0.2' && a.prefixLen === 24));
    assert.equal(fx.host.link('eth1', 'ut-red')?.up, true);
    assert.deepEqual(fx.host.routes('ut-red').filter((r) => r.dst === undefined).map((r) => r.gateway), ['10.0.0.1']);
    assert.match(fx.host.nftTable('bridge', 'nsnet') ?? '', new RegExp(`"${ep.hostIf}" \\. 02:42:0a:01:00:02 \\. 10\\.1\\.0\\.2`));
    assert.throws(() => connect(fx.ctx, 'ut-lab', 'ut-red', {}), (e: unknown) => codeOf(e) === 'IN_USE');
  });

  test('a container with only an internal network gets its default route through the one it is connected to', async () => {
    const fx = await fixture().setUp(internal, lab, runOn('ut-red', ['ut-inside']));
    assert.deepEqual(fx.host.routes('ut-red').filter((r) => r.dst === undefined), []);
    connect(fx.ctx, 'ut-lab', 'ut-red', {});
    assert.deepEqual(fx.host.routes('ut-red').filter((r) => r.dst === undefined).map((r) => r.gateway), ['10.1.0.1']);
  });

  test('failure at every step: as before; a crash after every step: the next process undoes it', async () => {
    const base = await fixture().setUp(study, lab, runOn('ut-red', ['ut-study']));
    await failEachStep(base, connectLab, assertUndone);
    await crashEachStep(base, connectLab, assertRecoveredAsBefore('network connect'));
  });

  test('to the default network, made on first use: failure and crash at every step leave no network behind', async () => {
    const base = await fixture().setUp(study, runOn('ut-red', ['ut-study']));
    const connectDefault: Op = (ctx) => connect(ctx, 'bridge', 'ut-red', {});
    const n = await failEachStep(base, connectDefault, (r) => {
      assertUndone(r);
      assert.equal(r.fx.store.networks.byName('bridge'), undefined);
    });
    assert.ok(n > 8, `${n} steps: the network's and the connection's`);
    await crashEachStep(base, connectDefault, assertRecoveredAsBefore('network connect'));
  });
});

describe('network disconnect', () => {
  /** ut-red on study (eth0, default route, a published port) and lab (eth1). */
  const twoNetworks = () => fixture().setUp(study, lab, runOn('ut-red', ['ut-study', 'ut-lab'], ['127.0.0.1:8080:80']));

  test('the interface, its veth, its port element and its published ports go; the default route moves to the next network', async () => {
    const fx = await twoNetworks();
    const ep = disconnect(fx.ctx, 'ut-study', 'ut-red');
    assert.equal(ep.ifName, 'eth0');
    assert.deepEqual(fx.store.endpoints.forContainer(ep.containerId).map((e) => e.ifName), ['eth1']);
    assert.deepEqual(fx.store.ports.list(), []);
    assert.equal(fx.host.link(ep.hostIf), undefined);
    assert.equal(fx.host.link('eth0', 'ut-red'), undefined);
    assert.deepEqual(fx.host.routes('ut-red').filter((r) => r.dst === undefined).map((r) => r.gateway), ['10.1.0.1']);
    const firewall = `${fx.host.nftTable('inet', 'nsnet') ?? ''}${fx.host.nftTable('bridge', 'nsnet') ?? ''}`;
    assert.doesNotMatch(firewall, new RegExp(`${ep.hostIf}|8080`));
    assert.throws(() => disconnect(fx.ctx, 'ut-study', 'ut-red'), (e: unknown) => codeOf(e) === 'NOT_FOUND');
  });

  for (const [what, net] of [
    ['the network carrying the default route and a port', 'ut-study'],
    ['a second network', 'ut-lab'],
  ] as const) {
    test(`${what}: failure at every step keeps the records; a crash after every step is finished by the next process`, async () => {
      const base = await twoNetworks();
      const op: Op = (ctx) => disconnect(ctx, net, 'ut-red');
      const removed = await stateAfter(base, op);
      await failEachStep(base, op, assertKept('network disconnect', { op, removed }));
      await crashEachStep(base, op, assertFinishedAs('network disconnect', removed));
    });
  }
});

describe('issue 13, bug 1: network connect left the default network record behind', () => {
  // The old connect journalled forget = {endpoints, networks: [the default network when made]}
  // but its in-process failure path deleted only the endpoint: the bridge and its firewall were
  // undone, the `bridge` record stayed, and later uses of the default network failed.
  test('connect to the default network fails at the veth step: no network record, machine unchanged; the next connect works', async () => {
    const fx = await fixture().setUp(study, runOn('ut-red', ['ut-study']));
    const before = fx.state();
    fx.host.failWhen((step) => step.kind === 'veth-add');
    assert.throws(() => connect(fx.ctx, 'bridge', 'ut-red', {}), (e: unknown) => codeOf(e) === 'KERNEL');
    assert.equal(fx.store.networks.byName('bridge'), undefined);
    assertSameState(fx.state(), before, 'after the failed connect');
    fx.host.clearFaults();
    assert.equal(connect(fx.ctx, 'bridge', 'ut-red', {}).ifName, 'eth1');
    assert.equal(fx.host.link('nsnet0')?.kind, 'bridge');
  });
});

describe('issue 13, bug 2: system check did not compare route_localnet', () => {
  // The old check compared (and --fix rebuilt) bridges from its own copy of the recipe, which
  // lacked net.ipv4.conf.BRIDGE.route_localnet: a bridge without it was reported as fine.
  test('a bridge whose route_localnet is 0 is a difference naming it; --fix sets it', async () => {
    const fx = await fixture().setUp(study, runOn('ut-red', ['ut-study'], ['127.0.0.1:8080:80']));
    assert.deepEqual(check(fx.ctx, { fix: false }).differences, [], 'a consistent machine has no difference');
    const key = `net.ipv4.conf.${bridgeOf(fx, 'ut-study')}.route_localnet`;
    fx.host.net.setSysctl(key, '0');
    const found = check(fx.ctx, { fix: false }).differences;
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.match(found[0]!.problem, new RegExp(`sysctl ${key.replace(/\./g, '\\.')} is 0, not 1`));
    assert.equal(found[0]!.object, 'network ut-study');
    assert.equal(fx.host.sysctl(key), '0', 'without --fix nothing changes');
    const fixed = check(fx.ctx, { fix: true }).differences;
    assert.deepEqual(fixed.map((d) => d.fixed), [true]);
    assert.equal(fx.host.sysctl(key), '1');
    assert.deepEqual(check(fx.ctx, { fix: false }).differences, []);
  });
});

describe('network prune', () => {
  /** Unused: ut-lab, ut-spare; used: ut-study (ut-red) and the default network (ut-blue). */
  const base = () => fixture().setUp(study, lab, spare, runOn('ut-red', ['ut-study']), runOn('ut-blue', []));

  test('removes every unused network but the default one', async () => {
    const fx = await base();
    assert.deepEqual(pruneNetworks(fx.ctx).sort(), ['ut-lab', 'ut-spare']);
    assert.deepEqual(fx.store.networks.list().map((n) => n.name).sort(), ['bridge', 'ut-study']);
    assert.equal(fx.host.link(bridgeOf(await base(), 'ut-lab')), undefined);
  });

  test('failure at every step: the failing network stays, the others go; the error names the step', async () => {
    const b = await base();
    const pruned = await stateAfter(b, pruneNetworks);
    await failEachStep(b, pruneNetworks, ({ i, fx, error }) => {
      assert.equal(codeOf(error), 'KERNEL', `step ${i}: ${String(error)}`);
      assert.match((error as Error).message, /network rm: .*injected failure/);
      const left = fx.store.networks.list().map((n) => n.name);
      assert.equal(left.length, 3, `step ${i}: one network kept, the other pruned (${left.join(' ')})`);
      // Pruning again finishes the job.
      fx.host.clearFaults();
      pruneNetworks(fx.ctx);
      assert.deepEqual(fx.state().store, pruned.store, `step ${i}: pruned again`);
    });
  });

  test('crash after every step: the next process finishes the interrupted removal, and pruning again converges', async () => {
    const b = await base();
    const pruned = await stateAfter(b, pruneNetworks);
    await crashEachStep(b, pruneNetworks, ({ i, fx }) => {
      assert.match(fx.recovered.join('\n'), /recovered an interrupted "network rm" .*: finished it$/);
      pruneNetworks(fx.ctx);
      assertSameState(fx.state(), pruned, `crash after step ${i}, pruned again`);
    });
  });
});

describe('system prune', () => {
  /** Stopped: ut-red (alone on ut-lab); running: ut-blue (ut-study); unused: ut-spare. */
  const base = () =>
    fixture().setUp(study, lab, spare, runOn('ut-red', ['ut-lab'], ['8080:80']), runOn('ut-blue', ['ut-study']), (ctx) => stop(ctx, ['ut-red'], 0));

  test('removes stopped containers, then the networks that leaves unused', async () => {
    const fx = await base();
    assert.deepEqual(prune(fx.ctx), { containers: ['ut-red'], networks: ['ut-lab', 'ut-spare'] });
    assert.deepEqual(fx.store.containers.list().map((c) => c.name), ['ut-blue']);
    assert.deepEqual(fx.store.networks.list().map((n) => n.name), ['ut-study']);
    assert.equal(fx.host.netnsExists('ut-red'), false);
    assert.deepEqual(fx.host.snapshot().processes, ['container in ut-blue as ut-blue: sleep 1000']);
    assert.doesNotMatch(fx.host.nftTable('inet', 'nsnet') ?? '', /8080|ut-lab|ut-spare/);
  });

  test('failure at every step: the failing object keeps its records, the others go on; pruning again converges', async () => {
    const b = await base();
    const pruned = await stateAfter(b, prune);
    const spare = [bridgeOf(b, 'ut-spare'), 'ut-spare'];
    await failEachStep(b, prune, ({ i, fx, error }) => {
      assert.equal(codeOf(error), 'KERNEL', `step ${i}: ${String(error)}`);
      const message = (error as Error).message;
      assert.match(message, /^system prune: .*injected failure/);
      // ut-spare depends on nothing: it goes unless its own removal failed (ut-lab waits for ut-red).
      const spareFailed = spare.some((s) => message.includes(s));
      assert.equal(fx.store.networks.byName('ut-spare') !== undefined, spareFailed, `step ${i}: ${message}`);
      assert.deepEqual(fx.store.journal.list(), []);
      fx.host.clearFaults();
      prune(fx.ctx);
      assertSameState(fx.state(), pruned, `step ${i}: pruned again`);
    });
  });

  test('crash after every step: recovery finishes the interrupted removal, and pruning again converges', async () => {
    const b = await base();
    const pruned = await stateAfter(b, prune);
    await crashEachStep(b, prune, ({ i, fx }) => {
      assert.match(fx.recovered.join('\n'), /: finished it$/);
      prune(fx.ctx);
      assertSameState(fx.state(), pruned, `crash after step ${i}, pruned again`);
    });
  });

  test('rm of the last container and prune leave nothing but the default network', async () => {
    const fx = await fixture().setUp(runOn('ut-red', []));
    remove(fx.ctx, ['ut-red'], { force: true });
    prune(fx.ctx);
    assert.deepEqual(fx.store.networks.list().map((n) => n.name), ['bridge']);
  });
});
