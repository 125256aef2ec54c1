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
import { clearNetem, interfaceStateSteps, listImpairments, recordedStates, setLinkState, setNetem } from '../../src/ops/impairments.js';
import { renderDot, renderMermaid, renderText, topologyFrom } from '../../src/engine/graph.js';
import { containerView } from '../../src/engine/inspect.js';
import { planCapture } from '../../src/ops/capture.js';
import { check } from '../../src/ops/check.js';
import { addP2pLink, removeP2pLink } from '../../src/ops/p2p-links.js';
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

describe('graph and inspect show them', () => {
  test('text, mermaid and dot label the interface; inspect has Netem and LinkDown per network', async () => {
    const fx = await base();
    setNetem(fx.ctx, 'ut-red', { delayUs: 40_000, jitterUs: 5_000, lossPct: 2 });
    setLinkState(fx.ctx, 'ut-blue:eth0', false);
    const s = fx.store;
    const containers = s.containers.list();
    const topology = topologyFrom({
      networks: s.networks.list(),
      containers: containers.map((c) => ({ id: c.id, name: c.name, status: 'running' })),
      endpoints: containers.flatMap((c) => s.endpoints.forContainer(c.id)),
      ports: [],
      interfaceStates: s.interfaces.list(),
    });
    const text = renderText(topology, 80);
    assert.match(text, /ut-red:eth0 +10\.77\.0\.\d+\/24\s+netem delay 40ms 5ms loss 2%/);
    assert.match(text, /ut-blue:eth0 +10\.77\.0\.\d+\/24 +link down/);
    assert.match(renderMermaid(topology), /eth0 10\.77\.0\.\d+\/24 \[netem delay 40ms 5ms loss 2%\]/);
    assert.match(renderDot(topology), /style=dashed, label="nsv[0-9a-f]+ <-> eth0\\nlink down"/);
    const red = s.containers.resolve('ut-red');
    const eps = s.endpoints.forContainer(red.id).map((endpoint) => ({ endpoint, network: s.networks.get(endpoint.networkId)! }));
    const view = containerView(red, { status: 'running', pid: 1, exitCode: null }, eps, [], { interfaces: recordedStates(fx.ctx, red) }) as { NetworkSettings: { Networks: Record<string, { Netem: unknown; LinkDown: boolean }> } };
    assert.deepEqual(view.NetworkSettings.Networks['ut-lan'], { ...view.NetworkSettings.Networks['ut-lan'], Netem: { delay: '40ms', jitter: '5ms', loss: '2%' }, LinkDown: false });
    fx.close();
  });
});

describe('capture', () => {
  test('tcpdump on the container interface inside its namespace; bad input and a missing tcpdump refused', async () => {
    const fx = await base();
    fx.host.facts.path.add('tcpdump');
    assert.deepEqual(planCapture(fx.ctx, { target: 'ut-red', write: 'x.pcap', count: '4', filter: ['icmp'] }), {
      netns: '/run/netns/ut-red',
      argv: ['tcpdump', '-n', '-Z', 'root', '-i', 'eth0', '-c', '4', '-w', 'x.pcap', 'icmp'],
    });
    assert.deepEqual(planCapture(fx.ctx, { target: 'ut-red:eth0', filter: ['tcp', 'port', '80'] }).argv, ['tcpdump', '-n', '-Z', 'root', '-i', 'eth0', '-l', 'tcp', 'port', '80']);
    assert.throws(() => planCapture(fx.ctx, { target: 'ut-red', count: 'lots', filter: [] }), /invalid packet count "lots"/);
    assert.throws(() => planCapture(fx.ctx, { target: 'ut-red', filter: ['-z', 'sh'] }), /invalid capture filter word "-z"/);
    assert.throws(() => planCapture(fx.ctx, { target: 'ut-red:eth3', filter: [] }), /has no interface eth3/);
    fx.host.facts.path.delete('tcpdump');
    assert.throws(() => planCapture(fx.ctx, { target: 'ut-red', filter: [] }), (e: Error & { hint?: string }) => /tcpdump, which is not installed/.test(e.message) && e.hint === 'apt-get install -y tcpdump');
    fx.close();
  });
});

describe('point-to-point interfaces', () => {
  test('netem on a link end; link down sets the peer end down; both go with link rm', async () => {
    const fx = await base();
    addP2pLink(fx.ctx, { endpoints: ['ut-red:eth1', 'ut-blue:eth1'], ips: ['10.0.12.1/30', '10.0.12.2/30'] });
    setNetem(fx.ctx, 'ut-red:eth1', { delayUs: 5_000 });
    assert.deepEqual(fx.host.net.link('ut-red', 'eth1')?.netem, { delayUs: 5_000 });
    setLinkState(fx.ctx, 'ut-red:eth1', false);
    assert.equal(fx.host.net.link('ut-blue', 'eth1')?.up, false, 'the other end is down');
    assert.equal(fx.host.net.link('ut-red', 'eth1')?.up, true, 'this end keeps its routes');
    assert.deepEqual(listImpairments(fx.ctx, 'ut-red'), [{ container: 'ut-red', ifName: 'eth1', netem: { delayUs: 5_000 }, linkDown: true }]);
    removeP2pLink(fx.ctx, 'ut-red:eth1');
    assert.deepEqual(fx.store.interfaces.list(), [], 'the row went with the link');
    fx.close();
  });
});

describe('system check', () => {
  test('a qdisc or a link state changed behind nsnet\'s back is found and --fix puts it back', async () => {
    const fx = await base();
    setNetem(fx.ctx, 'ut-red', { delayUs: 40_000 });
    setLinkState(fx.ctx, 'ut-blue:eth0', false);
    assert.deepEqual(check(fx.ctx, { fix: false }).differences, [], 'nothing to report');
    fx.host.net.setImpairment('ut-red', 'eth0', {}); // tc qdisc del by hand
    fx.host.net.setUp(undefined, hostEnd(fx, 'ut-blue'), true); // ip link set ... up by hand
    const found = check(fx.ctx, { fix: false }).differences.map((d) => `${d.object}: ${d.problem}`);
    assert.deepEqual(found.sort(), [
      `container ut-blue: eth0 is held down (link down), but ${hostEnd(fx, 'ut-blue')} facing it is up`,
      "container ut-red: eth0's impairment is none, not delay 40ms (netem set)",
    ]);
    check(fx.ctx, { fix: true });
    assert.deepEqual(eth0(fx)?.netem, { delayUs: 40_000 });
    assert.equal(fx.host.net.link(undefined, hostEnd(fx, 'ut-blue'))?.up, false);
    assert.deepEqual(check(fx.ctx, { fix: false }).differences, []);
    fx.close();
  });
});
