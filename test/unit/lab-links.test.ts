/**
 * A lab's point-to-point links (`links:`): the file's checks (each naming the place and the
 * value), a link in its containers' hashes, and `up`/`down` of a two-router lab on the fake
 * machine (the links made after both ends, routes through them after the links, a no-op up
 * again, a changed link remaking its ends, down leaving nothing).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { down, up } from '../../src/lab/up.js';
import { parseLab, type LabSpec } from '../../src/lab/spec.js';
import { fixture, ROOTFS, stateOf } from '../helpers/ops-fixture.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const yaml = (links: string, extra = ''): string => `
name: ull
networks:
  a: { subnet: 10.71.0.0/24 }
  b: { subnet: 10.72.0.0/24 }
containers:
  r1:
    command: [sleep, infinity]
    rootfs: ${ROOTFS}
    networks: [a]
    routes: [{ to: 10.72.0.0/24, via: 10.0.12.2 }]
  r2:
    command: [sleep, infinity]
    rootfs: ${ROOTFS}
    networks: [b]
    routes: [{ to: 10.71.0.0/24, via: 10.0.12.1 }]
${extra}
links:
${links}
`;

const LINK = `  - { endpoints: [r1:eth1, r2:eth1], ips: [10.0.12.1/30, 10.0.12.2/30] }`;
const parse = (text: string): LabSpec => parseLab(text, 'lab.yaml', 'x');

describe('lab links: the file', () => {
  test('a link with its ends and addresses; routes via a link peer wait for the link', () => {
    const spec = parse(yaml(LINK));
    assert.deepEqual(spec.links.map((l) => [l.ends.map((e) => `${e.name}:${e.ifName}`), l.ips]), [[['ull-r1:eth1', 'ull-r2:eth1'], ['10.0.12.1/30', '10.0.12.2/30']]]);
    const r1 = spec.containers.find((c) => c.key === 'r1')!;
    assert.deepEqual(r1.routes, []);
    assert.deepEqual(r1.linkRoutes, [{ to: '10.72.0.0/24', via: '10.0.12.2' }]);
  });

  test('a changed link changes both its containers\' hashes; a lab without links keeps its hashes', () => {
    const one = parse(yaml(LINK));
    const other = parse(yaml(LINK.replace(/10\.0\.12\.(\d)\/30/g, '10.0.12.$1/29')));
    for (const key of ['r1', 'r2']) assert.notEqual(one.containers.find((c) => c.key === key)!.hash, other.containers.find((c) => c.key === key)!.hash);
    const none = parse(yaml('  []').replace('links:\n  []', 'links: []'));
    const plain = parse(yaml('  []').replace(/\nlinks:\n {2}\[\]\n/, '\n'));
    assert.equal(none.containers[0]!.hash, plain.containers[0]!.hash);
  });

  test('bad links are refused with the place and the value', () => {
    const cases: Array<[string, RegExp]> = [
      ['  - { endpoints: [r9:eth1, r2:eth1] }', /links\[0\]: endpoint r9:eth1: container "r9" is not declared under containers/],
      ['  - { endpoints: [r1:eth0, r2:eth1] }', /links\[0\]: endpoint r1:eth0: eth0 is container r1's interface on its network 1/],
      ['  - { endpoints: [r1:eth1, r1:eth2] }', /links\[0\]: both ends are in container r1/],
      [`${LINK}\n  - { endpoints: [r1:eth1, r2:eth5] }`, /links\[1\]: endpoint r1:eth1 is already linked by links\[0\]/],
      ['  - { endpoints: [r1:eth1, r2:eth1], ips: [10.0.12.1/30, 10.0.12.2/31] }', /links\[0\]: invalid link addresses 10\.0\.12\.1\/30 and 10\.0\.12\.2\/31: different prefix lengths/],
      ['  - { endpoints: [r1:eth1, r2:eth1], ips: [10.0.12.0/30, 10.0.12.2/30] }', /it is the network address of 10\.0\.12\.0\/30/],
      ['  - { endpoints: [r1:eth1, r2:eth1], ips: [10.0.12.1/30, 10.0.13.2/30] }', /not in the same subnet/],
      ['  - { endpoints: [r1, r2:eth1] }', /links\[0\]\.endpoints\[0\]: invalid value "r1"/],
      ['  - { endpoints: [r1:eth1] }', /links\[0\]\.endpoints: must NOT have fewer than 2 items/],
    ];
    for (const [links, message] of cases) {
      assert.throws(() => parse(yaml(links)), (err: Error) => message.test(err.message), `${links}\n→ ${(() => { try { parse(yaml(links)); return 'accepted'; } catch (e) { return (e as Error).message; } })()}`);
    }
  });

  test('examples/ring parses: three routers in a ring of /30 links', () => {
    const spec = parseLab(fs.readFileSync(path.join(repo, 'examples', 'ring', 'lab.yaml'), 'utf8'), 'lab.yaml', 'ring');
    assert.equal(spec.links.length, 3);
    assert.deepEqual(spec.containers.filter((c) => c.linkRoutes.length > 0).map((c) => c.key), ['r1', 'r2', 'r3']);
  });
});

describe('lab links: up and down on the fake machine', () => {
  test('up makes the link after both ends and the routes through it; up again is a no-op; down leaves nothing', async () => {
    const fx = fixture();
    const before = stateOf(fx);
    const spec = parse(yaml(LINK));
    const first = await up(fx.ctx, spec);
    assert.equal(first.noop, false);
    assert.deepEqual(fx.host.net.link('ull-r1', 'eth1')?.peer, { ns: 'ull-r2', name: 'eth1' });
    assert.ok(fx.host.net.ns('ull-r1').routes.some((r) => r.dst === '10.72.0.0' && r.gateway === '10.0.12.2' && r.dev === 'eth1'));
    assert.ok(fx.host.net.ns('ull-r2').routes.some((r) => r.dst === '10.71.0.0' && r.gateway === '10.0.12.1' && r.dev === 'eth1'));
    const made = stateOf(fx);
    assert.equal((await up(fx.ctx, spec)).noop, true);
    assert.deepEqual(stateOf(fx), made);
    // A changed link: both ends made again, with the new link and the routes.
    const changed = parse(yaml(`  - { endpoints: [r1:eth1, r2:eth1], ips: [10.0.12.1/24, 10.0.12.2/24] }`));
    await up(fx.ctx, changed);
    assert.ok(fx.host.net.ns('ull-r1').addrs.some((a) => a.dev === 'eth1' && a.prefixLen === 24));
    assert.ok(fx.host.net.ns('ull-r1').routes.some((r) => r.dst === '10.72.0.0' && r.dev === 'eth1'));
    down(fx.ctx, 'ull');
    assert.deepEqual(fx.store.links.list(), []);
    const after = stateOf(fx);
    assert.deepEqual(after.host.network, before.host.network);
  });

  test('up --dry-run of a lab with links prints the link between its containers\' lines', async () => {
    const fx = fixture();
    const { PlanningContext } = await import('../../src/lab/planning.js');
    const ctx = new PlanningContext({ host: fx.host, runner: fx.host, store: fx.store, root: fx.root });
    await up(ctx, parse(yaml(LINK)));
    const lines = ctx.planned.join('\n');
    assert.match(lines, /ip link add eth1 netns ull-r1 type veth peer name eth1 netns ull-r2\n/);
    assert.ok(lines.indexOf('ip link add eth1 netns ull-r1') < lines.indexOf('ip -n ull-r1 route add 10.72.0.0/24 via 10.0.12.2'), lines);
  });
});
