/**
 * netem set|clear and link down|up on a fake machine: what each makes, what a bad target or value
 * is refused with (nothing changed), a failure at every step and a crash after every step (the
 * previous impairment back, in the kernel and in the records), and start after a reboot applying
 * the records again.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { run, start, stop } from '../../src/ops/containers.js';
import { createNetwork } from '../../src/ops/networks.js';
import { clearNetem, interfaceStateSteps, listImpairments, setLinkState, setNetem } from '../../src/ops/impairments.js';
import { assertRecoveredAsBefore, assertUndone, codeOf, crashEachStep, failEachStep, fixture, runInput, stateOf, type Fixture } from '../helpers/ops-fixture.js';

async function base(): Promise<Fixture> {
  return fixture().setUp(
    (ctx) => createNetwork(ctx, { name: 'ut-lan', subnet: '10.77.0.0/24' }),
    (ctx) => run(ctx, runInput({ name: 'ut-red', networks: ['ut-lan'] })),
    (ctx) => run(ctx, runInput({ name: 'ut-blue', networks: ['ut-lan'] })),
  );
}

const eth0 = (fx: Fixture, ns = 'ut-red') => fx.host.net.link(ns, 'eth0');
const hostEnd = (fx: Fixture, name = 'ut-red') => fx.store.endpoints.forContainer(fx.store.containers.resolve(name).id)[0]!.hostIf;

describe('netem set and clear', () => {
  test('set puts the impairment on the container interface and records it; set again replaces it', async () => {
    const fx = await base();
    setNetem(fx.ctx, 'ut-red', { delayUs: 40_000, lossPct: 2 });
    assert.deepEqual(eth0(fx)?.netem, { delayUs: 40_000, lossPct: 2 });
    setNetem(fx.ctx, 'ut-red:eth0', { rateBit: 10_000_000 });
    assert.deepEqual(eth0(fx)?.netem, { rateBit: 10_000_000 }, 'replaced, nothing of the old one kept');
    assert.deepEqual(listImpairments(fx.ctx), [{ container: 'ut-red', ifName: 'eth0', netem: { rateBit: 10_000_000 }, linkDown: false }]);
    clearNetem(fx.ctx, 'ut-red');
    assert.equal(eth0(fx)?.netem, undefined);
    assert.deepEqual(listImpairments(fx.ctx), []);
    fx.close();
  });

  test('dry-run prints tc and changes nothing', async () => {
    const fx = await base();
    const before = stateOf(fx);
    const { Context } = await import('../../src/ops/context.js');
    const dry = new Context({ host: fx.host, runner: fx.host, store: fx.store, root: fx.root, dryRun: true });
    setNetem(dry, 'ut-red', { delayUs: 40_000, jitterUs: 5_000 });
    assert.deepEqual(dry.planned, ['ip netns exec ut-red tc qdisc add dev eth0 root netem delay 40ms 5ms']);
    assert.deepEqual(stateOf(fx), before);
    fx.close();
  });

  test('unknown container or interface: NOT_FOUND naming it and what there is; nothing changed', async () => {
    const fx = await base();
    const before = stateOf(fx);
    assert.throws(() => setNetem(fx.ctx, 'ut-nobody', { delayUs: 1 }), (e: Error) => codeOf(e) === 'NOT_FOUND' && /no such container: ut-nobody/.test(e.message));
    assert.throws(() => setNetem(fx.ctx, 'ut-red:eth7', { delayUs: 1 }), (e: Error) => codeOf(e) === 'NOT_FOUND' && e.message === 'container ut-red has no interface eth7 (it has eth0)');
    assert.throws(() => setLinkState(fx.ctx, 'ut-red', false), (e: Error) => codeOf(e) === 'USAGE');
    assert.deepEqual(stateOf(fx), before);
    fx.close();
  });

  test('a failure at every step leaves the previous impairment, in the kernel and the records', async () => {
    const fx = await base();
    setNetem(fx.ctx, 'ut-red', { delayUs: 10_000 });
    const n = await failEachStep(fx, (ctx) => setNetem(ctx, 'ut-red', { delayUs: 40_000, rateBit: 1e7 }), assertUndone);
    assert.equal(n, 1);
    await failEachStep(fx, (ctx) => clearNetem(ctx, 'ut-red'), assertUndone);
    await failEachStep(fx, (ctx) => setLinkState(ctx, 'ut-red:eth0', false), assertUndone);
    fx.close();
  });

  test('a crash after every step is undone by the next process', async () => {
    const fx = await base();
    setNetem(fx.ctx, 'ut-red', { lossPct: 5 });
    await crashEachStep(fx, (ctx) => setNetem(ctx, 'ut-red', { delayUs: 40_000 }), assertRecoveredAsBefore('netem set ut-red:eth0'));
    await crashEachStep(fx, (ctx) => clearNetem(ctx, 'ut-red'), assertRecoveredAsBefore('netem clear ut-red:eth0'));
    await crashEachStep(fx, (ctx) => setLinkState(ctx, 'ut-red:eth0', false), assertRecoveredAsBefore('link down ut-red:eth0'));
    fx.close();
  });
});

describe('link down and up', () => {
  test('down sets the host end down: the container keeps its address and default route', async () => {
    const fx = await base();
    const routes = fx.host.routes('ut-red');
    setLinkState(fx.ctx, 'ut-red:eth0', false);
    assert.equal(fx.host.net.link(undefined, hostEnd(fx))?.up, false);
    assert.equal(eth0(fx)?.up, true);
    assert.deepEqual(fx.host.routes('ut-red'), routes, 'routes kept');
    assert.deepEqual(listImpairments(fx.ctx), [{ container: 'ut-red', ifName: 'eth0', netem: null, linkDown: true }]);
    setLinkState(fx.ctx, 'ut-red:eth0', true);
    assert.equal(fx.host.net.link(undefined, hostEnd(fx))?.up, true);
    assert.deepEqual(listImpairments(fx.ctx), []);
    fx.close();
  });
});

describe('start applies the records again', () => {
  test('after the namespace is lost (a reboot), start makes the impairment and the held-down link again', async () => {
    const fx = await base();
    setNetem(fx.ctx, 'ut-red', { delayUs: 40_000 });
    setLinkState(fx.ctx, 'ut-red:eth0', false);
    stop(fx.ctx, ['ut-red'], 0);
    fx.host.net.deleteNetns('ut-red'); // what a reboot takes
    const c = fx.store.containers.resolve('ut-red');
    assert.deepEqual(interfaceStateSteps(fx.ctx, c).map((s) => s.kind), ['qdisc-netem', 'link-state']);
    await start(fx.ctx, ['ut-red']);
    assert.deepEqual(eth0(fx)?.netem, { delayUs: 40_000 });
    assert.equal(fx.host.net.link(undefined, hostEnd(fx))?.up, false);
    fx.close();
  });
});
