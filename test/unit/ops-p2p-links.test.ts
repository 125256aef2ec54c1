/**
 * Point-to-point links (nsnet link add/rm/ls) on a fake machine: what add makes (a veth pair with
 * an end in each namespace, addresses, up), the refusals (nothing changed), rm by either end, the
 * record going with a removed container, start after a reboot making the link again, and failure
 * and crash at every step of add and rm.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { linkAddresses, parseEndpoint, planP2pLink } from '../../src/engine/p2p.js';
import { renderPlan } from '../../src/plan/render.js';
import { check } from '../../src/ops/check.js';
import { remove, run, start, stop } from '../../src/ops/containers.js';
import { connect, createNetwork } from '../../src/ops/networks.js';
import { addP2pLink, listP2pLinks, removeP2pLink } from '../../src/ops/p2p-links.js';
import { openMemoryStore } from '../../src/store/index.js';
import { FakeHost } from '../helpers/fake-host.js';
import {
  assertFinishedAs,
  assertKept,
  assertRecoveredAsBefore,
  assertUndone,
  codeOf,
  contextOn,
  crashEachStep,
  failEachStep,
  fixture,
  runInput,
  stateAfter,
  stateOf,
  type Fixture,
  type Op,
} from '../helpers/ops-fixture.js';

const addR1R2: Op = (ctx) => addP2pLink(ctx, { endpoints: ['ut-r1:eth1', 'ut-r2:eth1'], ips: ['10.0.12.1/30', '10.0.12.2/30'] });

/** Two routers on one network (eth0), and a host-mode and a none container. */
async function base(): Promise<Fixture> {
  return fixture().setUp(
    (ctx) => createNetwork(ctx, { name: 'ut-lan', subnet: '10.9.0.0/24' }),
    (ctx) => run(ctx, runInput({ name: 'ut-r1', networks: ['ut-lan'] })),
    (ctx) => run(ctx, runInput({ name: 'ut-r2', networks: ['ut-lan'] })),
    (ctx) => run(ctx, runInput({ name: 'ut-h', networks: ['host'] })),
    (ctx) => run(ctx, runInput({ name: 'ut-n', networks: ['none'] })),
  );
}

describe('link endpoints and addresses (pure)', () => {
  test('CONTAINER:IFACE, with the kernel\'s interface-name rules', () => {
    assert.deepEqual(parseEndpoint('r1:eth1'), { container: 'r1', ifName: 'eth1' });
    for (const bad of ['r1', ':eth1', 'r1:', 'r1:lo', 'r1:averyveryverylongname', 'r1:a b', 'r1:a/b', 'r1:..']) {
      assert.throws(() => parseEndpoint(bad), (err: Error) => codeOf(err) === 'INVALID_VALUE' && err.message.includes(JSON.stringify(bad)), bad);
    }
  });

  test('two addresses of one subnet, same prefix, hosts only on a /30; /31 and IPv6 pairs work', () => {
    const ends = ['a:x', 'b:y'] as const;
    assert.equal(linkAddresses(undefined, ends), undefined);
    assert.deepEqual(linkAddresses(['10.0.12.1/30', '10.0.12.2/30'], ends)?.map((a) => a.address), ['10.0.12.1', '10.0.12.2']);
    assert.deepEqual(linkAddresses(['10.0.12.0/31', '10.0.12.1/31'], ends)?.map((a) => a.address), ['10.0.12.0', '10.0.12.1']);
    assert.deepEqual(linkAddresses(['fd00:12::1/64', 'fd00:12::2/64'], ends)?.map((a) => a.family), [6, 6]);
    const refused: Array<[string[], RegExp]> = [
      [['10.0.12.1/30'], /give two, one for each end/],
      [['10.0.12.1/30', '10.0.12.2/31'], /different prefix lengths \(\/30 and \/31\)/],
      [['10.0.12.1/30', '10.0.12.5/30'], /not in the same subnet \(10\.0\.12\.0\/30 and 10\.0\.12\.4\/30\)/],
      [['10.0.12.0/30', '10.0.12.1/30'], /10\.0\.12\.0\/30: it is the network address of 10\.0\.12\.0\/30/],
      [['10.0.12.1/30', '10.0.12.3/30'], /10\.0\.12\.3\/30: it is the broadcast address of 10\.0\.12\.0\/30/],
      [['10.0.12.1/30', '10.0.12.1/30'], /both ends have the same address/],
      [['10.0.12.1/30', 'fd00::2/64'], /one is IPv4, the other IPv6/],
      [['10.0.12.1', '10.0.12.2'], /expected an address with its prefix length/],
      [['10.0.12.1/32', '10.0.12.2/32'], /prefix of \/1 to \/31/],
      [['10.0.12.256/30', '10.0.12.2/30'], /invalid address of a:x "10\.0\.12\.256\/30"/],
    ];
    for (const [ips, message] of refused) {
      assert.throws(() => linkAddresses(ips, ends), (err: Error) => codeOf(err) === 'INVALID_VALUE' && message.test(err.message), ips.join(' '));
    }
  });

  test('the steps, rendered: one ip link add with both ends in namespaces, IPv6 off, addresses, up', () => {
    const [a, b] = linkAddresses(['10.0.12.1/30', '10.0.12.2/30'], ['r1:eth1', 'r2:eth1'])!;
    assert.equal(
      renderPlan(planP2pLink({ ns: 'r1', ifName: 'eth1', ip: a }, { ns: 'r2', ifName: 'eth1', ip: b })),
      [
        'ip link add eth1 netns r1 type veth peer name eth1 netns r2',
        'ip netns exec r1 sysctl -e -w net.ipv6.conf.eth1.disable_ipv6=1',
        'ip netns exec r2 sysctl -e -w net.ipv6.conf.eth1.disable_ipv6=1',
        'ip -n r1 addr add 10.0.12.1/30 brd + dev eth1',
        'ip -n r2 addr add 10.0.12.2/30 brd + dev eth1',
        'ip -n r1 link set eth1 up',
        'ip -n r2 link set eth1 up',
      ].join('\n'),
    );
  });
});

describe('link add', () => {
  test('a veth pair straight between the two namespaces, addressed and up; nothing in the host', async () => {
    const fx = await base();
    const hostBefore = JSON.stringify(fx.host.net.snapshot()['host']);
    const link = addR1R2(fx.ctx) as ReturnType<typeof addP2pLink>;
    const r1 = fx.host.net.link('ut-r1', 'eth1');
    const r2 = fx.host.net.link('ut-r2', 'eth1');
    assert.equal(r1?.kind, 'veth');
    assert.deepEqual(r1?.peer, { ns: 'ut-r2', name: 'eth1' });
    assert.ok(r1?.up && r2?.up);
    assert.ok(fx.host.net.ns('ut-r1').addrs.some((a) => a.dev === 'eth1' && a.address === '10.0.12.1' && a.prefixLen === 30));
    assert.ok(fx.host.net.ns('ut-r2').addrs.some((a) => a.dev === 'eth1' && a.address === '10.0.12.2' && a.prefixLen === 30));
    assert.equal(JSON.stringify(fx.host.net.snapshot()['host']), hostBefore, 'the host namespace is untouched');
    assert.deepEqual(listP2pLinks(fx.ctx), [{ id: link.id, a: { container: 'ut-r1', ifName: 'eth1', ip: '10.0.12.1/30' }, b: { container: 'ut-r2', ifName: 'eth1', ip: '10.0.12.2/30' }, created: link.created }]);
    // network connect picks the next free ethN around the link's name.
    createNetwork(fx.ctx, { name: 'ut-lan2', subnet: '10.8.0.0/24' });
    assert.equal(connect(fx.ctx, 'ut-lan2', 'ut-r1', {}).ifName, 'eth2');
  });

  test('a --network none container can be linked; without addresses the ends are just up', async () => {
    const fx = await base();
    addP2pLink(fx.ctx, { endpoints: ['ut-n:p0', 'ut-r1:p0'] });
    assert.equal(fx.host.net.link('ut-n', 'p0')?.up, true);
    assert.deepEqual(fx.host.net.ns('ut-n').addrs.filter((a) => a.dev === 'p0'), []);
  });

  test('--dry-run prints the by-hand commands and changes nothing', async () => {
    const fx = await base();
    const before = stateOf(fx);
    const ctx = contextOn(fx.host, fx.store, fx.root, { dryRun: true });
    addR1R2(ctx);
    assert.match(ctx.planned[0]!, /^ip link add eth1 netns ut-r1 type veth peer name eth1 netns ut-r2$/);
    assert.deepEqual(stateOf(fx), before);
  });

  test('bad input is refused with the value named, and nothing changes', async () => {
    const fx = await base();
    addP2pLink(fx.ctx, { endpoints: ['ut-r1:eth1', 'ut-r2:eth1'], ips: ['10.0.12.1/30', '10.0.12.2/30'] });
    const before = stateOf(fx);
    const cases: Array<[readonly [string, string], string[] | undefined, string, RegExp]> = [
      [['ut-nope:eth1', 'ut-r2:eth2'], undefined, 'NOT_FOUND', /ut-nope:eth1: no container named ut-nope/],
      [['ut-r1:eth0', 'ut-r2:eth2'], undefined, 'NAME_IN_USE', /eth0 is container ut-r1's interface on network ut-lan/],
      [['ut-r1:eth1', 'ut-n:eth1'], undefined, 'NAME_IN_USE', /ut-r1:eth1: it is already linked \(ut-r1:eth1 ↔ ut-r2:eth1\)/],
      [['ut-n:x', 'ut-r2:eth1'], undefined, 'NAME_IN_USE', /ut-r2:eth1: it is already linked/],
      [['ut-r1:eth5', 'ut-r1:eth6'], undefined, 'INVALID_VALUE', /both ends are in container ut-r1/],
      [['ut-h:eth1', 'ut-r2:eth2'], undefined, 'INVALID_VALUE', /ut-h runs in the host's network namespace/],
      [['ut-r1:eth2', 'ut-r2:eth2'], ['10.0.13.1/30', '10.0.13.2/31'], 'INVALID_VALUE', /different prefix lengths/],
      [['ut-r1:eth2', 'ut-r2:eth2'], ['10.9.0.201/30', '10.9.0.202/30'], 'SUBNET_OVERLAP', /10\.9\.0\.200\/30 overlaps network ut-lan's 10\.9\.0\.0\/24/],
      [['ut-r1:eth2', 'ut-r2:eth2'], ['10.0.12.1/31', '10.0.12.0/31'], 'SUBNET_OVERLAP', /overlaps its link eth1's 10\.0\.12\.0\/30/],
      [['ut-r1:this-name-is-too-long', 'ut-r2:eth2'], undefined, 'INVALID_VALUE', /expected 1 to 15 bytes/],
    ];
    for (const [endpoints, ips, code, message] of cases) {
      assert.throws(() => addP2pLink(fx.ctx, { endpoints, ips }), (err: Error) => codeOf(err) === code && message.test(err.message), `${endpoints.join(' ')}: refused`);
      assert.deepEqual(stateOf(fx), before, `${endpoints.join(' ')}: nothing changed`);
    }
  });

  test('a container sharing another one\'s namespace is pointed at that one', async () => {
    const fx = await base();
    await run(fx.ctx, runInput({ name: 'ut-j', networks: ['container:ut-r1'] }));
    assert.throws(() => addP2pLink(fx.ctx, { endpoints: ['ut-j:eth1', 'ut-r2:eth1'] }), /shares container ut-r1's network namespace[\s\S]*/);
  });

  test('a failure at any step undoes it all; a crash after any step is undone by the next process', async () => {
    const fx = await base();
    const n = await failEachStep(fx, addR1R2, assertUndone);
    assert.equal(n, 7);
    await crashEachStep(fx, addR1R2, assertRecoveredAsBefore('link add ut-r1:eth1 ut-r2:eth1'));
  });
});

describe('link rm, rm of a container, start after a reboot', () => {
  test('either end names the link; the pair and the record go', async () => {
    const fx = await base();
    const before = stateOf(fx);
    addR1R2(fx.ctx);
    removeP2pLink(fx.ctx, 'ut-r2:eth1');
    assert.deepEqual(stateOf(fx), before);
    assert.throws(() => removeP2pLink(fx.ctx, 'ut-r2:eth1'), (err: Error) => codeOf(err) === 'NOT_FOUND' && /no point-to-point link at ut-r2:eth1/.test(err.message));
  });

  test('failure at its step keeps the record (run again, it finishes); a crash is finished by recovery', async () => {
    const fx = await (await base()).setUp(addR1R2);
    const rm: Op = (ctx) => removeP2pLink(ctx, 'ut-r1:eth1');
    const removed = await stateAfter(fx, rm);
    await failEachStep(fx, rm, assertKept('link rm ut-r1:eth1', { op: rm, removed }));
    await crashEachStep(fx, rm, assertFinishedAs('link rm ut-r1:eth1', removed));
  });

  test('rm of a container takes its links: the peer end and the record', async () => {
    const fx = await (await base()).setUp(addR1R2);
    remove(fx.ctx, ['ut-r1'], { force: true });
    assert.deepEqual(fx.store.links.list(), []);
    assert.equal(fx.host.net.link('ut-r2', 'eth1'), undefined);
  });

  test('start after a reboot makes the link again once both namespaces are back', async () => {
    const up = await (await base()).setUp(addR1R2);
    const wanted = up.host.net.snapshot();
    const fx = fixture({ host: new FakeHost({ ipForward: '1' }), store: openMemoryStore(up.store.serialize()), root: up.root });
    await start(fx.ctx, ['ut-r1']);
    assert.equal(fx.host.net.link('ut-r1', 'eth1'), undefined, 'the peer is not back yet');
    await start(fx.ctx, ['ut-r2']);
    const strip = (s: Record<string, unknown>, ns: string): unknown => {
      const space = s[ns] as { links: Array<{ mac: string }> };
      return { ...space, links: space.links.map((l) => ({ ...l, mac: 'kernel' })) };
    };
    for (const ns of ['ut-r1', 'ut-r2']) assert.deepEqual(strip(fx.host.net.snapshot(), ns), strip(wanted, ns), ns);
    // A stopped container keeps its namespace: start does not make the link twice.
    stop(fx.ctx, ['ut-r1'], 0);
    await start(fx.ctx, ['ut-r1']);
    assert.equal(fx.store.links.list().length, 1);
  });
});

describe('system check of point-to-point links', () => {
  test('a link in the records and the kernel is no difference; a lost one is made again by --fix', async () => {
    const fx = await (await base()).setUp(addR1R2);
    const linkProblems = (): string[] => check(fx.ctx, { fix: false }).differences.map((d) => d.problem).filter((p) => p.includes('point-to-point'));
    assert.deepEqual(linkProblems(), []);
    fx.host.net.deleteLink('ut-r1', 'eth1');
    assert.deepEqual(linkProblems(), ['point-to-point link ut-r1:eth1 <-> ut-r2:eth1 is missing']);
    check(fx.ctx, { fix: true });
    assert.deepEqual(linkProblems(), []);
    assert.equal(fx.host.net.link('ut-r2', 'eth1')?.up, true);
    fx.host.net.delAddr('ut-r2', 'eth1', '10.0.12.2', 30);
    assert.deepEqual(linkProblems(), ['point-to-point link ut-r1:eth1 <-> ut-r2:eth1: eth1 in ut-r2 lacks 10.0.12.2/30']);
    check(fx.ctx, { fix: true });
    assert.deepEqual(linkProblems(), []);
  });
});
