/**
 * Lab files with IPv6: a subnet per family, `ipv6: true`, `ipv4: false`, static `ip6`, IPv6
 * routes, routers that forward IPv6 too, and every IPv6 mistake refused at its line, naming the
 * value and what is allowed, before anything is made. Files without IPv6 keep their hashes (a lab
 * made before IPv6 is not made again), and a changed ip6 makes its container again, as ip does.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NsnetError } from '../../src/core/errors.js';
import { diffLab, type LabState } from '../../src/lab/diff.js';
import { hashOf, parseLab, type LabSpec } from '../../src/lab/spec.js';
import { containerSteps, down, up } from '../../src/lab/up.js';
import { check } from '../../src/ops/check.js';
import type { Context } from '../../src/ops/context.js';
import { renderStep } from '../../src/plan/render.js';
import { assertSameState, crashEachStep, failEachStep, fixture, ROOTFS, type Fixture, type MachineState } from '../helpers/ops-fixture.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const readExample = (name: string): string => fs.readFileSync(path.join(repo, 'examples', name, 'lab.yaml'), 'utf8');

function errorOf(text: string): string {
  try {
    parseLab(text, 'lab.yaml', 'demo');
  } catch (err) {
    assert.ok(err instanceof NsnetError, String(err));
    assert.equal(err.code, 'INVALID_VALUE');
    return err.message;
  }
  assert.fail(`expected ${JSON.stringify(text)} to be refused`);
}

/** One network `a` declared as `network`, and container c on it with `attachment`, plus `extra` lines of c. */
const lab = (network: string, attachment = '', extra = ''): string =>
  `networks:\n  a: ${network}\ncontainers:\n  c:\n    command: [sleep, "1"]\n    networks:\n      a: ${attachment}\n${extra}`;

const DUAL = '{ subnet: [10.40.1.0/24, 2001:db8:41::/64] }';

describe('lab files with IPv6', () => {
  test('examples/dual-stack: both families on each network, static ip6, IPv6 routes, and the router forwards IPv6 too', () => {
    const spec = parseLab(readExample('dual-stack'), 'examples/dual-stack/lab.yaml', 'dual-stack');
    assert.deepEqual(
      spec.networks.map((n) => [n.key, n.subnet, n.ipv4, n.ipv6]),
      [
        ['a', ['10.40.1.0/24', '2001:db8:41::/64'], true, true],
        ['b', ['10.40.2.0/24', '2001:db8:42::/64'], true, true],
      ],
    );
    const byKey = new Map(spec.containers.map((c) => [c.key, c]));
    assert.deepEqual(byKey.get('router')!.networks.map((a) => [a.key, a.ip, a.ip6]), [
      ['a', '10.40.1.254', '2001:db8:41::254'],
      ['b', '10.40.2.254', '2001:db8:42::254'],
    ]);
    // ip_forward on a network with IPv6 brings IPv6 forwarding; a host without ip_forward gets neither.
    assert.deepEqual(byKey.get('router')!.sysctls, { 'net.ipv4.ip_forward': '1', 'net.ipv6.conf.all.forwarding': '1' });
    assert.deepEqual(byKey.get('alice')!.sysctls, {});
    const lines = containerSteps(byKey.get('alice')!).map(renderStep);
    assert.deepEqual(lines, ['ip -n dual-stack-alice route add 10.40.2.0/24 via 10.40.1.254', 'ip -n dual-stack-alice -6 route add 2001:db8:42::/64 via 2001:db8:41::254']);
    assert.deepEqual(containerSteps(byKey.get('router')!).map(renderStep), [
      'ip netns exec dual-stack-router sysctl -w net.ipv4.ip_forward=1',
      'ip netns exec dual-stack-router sysctl -w net.ipv6.conf.all.forwarding=1',
    ]);
  });

  test('ipv6: true without an IPv6 subnet (a unique local /64 at up), ipv4: false for IPv6 only, an IPv6 default route', () => {
    const ula = parseLab(lab('{ ipv6: true }'), 'f', 'x');
    assert.deepEqual([ula.networks[0]!.ipv4, ula.networks[0]!.ipv6, ula.networks[0]!.subnet], [true, true, undefined]);
    const only6 = parseLab(lab('{ ipv4: false, subnet: 2001:db8:60::/64 }', '{ ip6: "2001:db8:60::10" }', '    routes: [{ to: default, via: "2001:db8:60::fe" }]\n'), 'f', 'x');
    assert.deepEqual([only6.networks[0]!.ipv4, only6.networks[0]!.ipv6], [false, true]);
    const [route] = containerSteps(only6.containers[0]!).map(renderStep);
    assert.equal(route, 'ip -n x-c -6 route add default via 2001:db8:60::fe');
    // The file's own sysctl wins over the one ip_forward brings.
    const own = parseLab(lab(DUAL, '', '    sysctls: { net.ipv4.ip_forward: 1, net.ipv6.conf.all.forwarding: 0 }\n'), 'f', 'x');
    assert.deepEqual(own.containers[0]!.sysctls, { 'net.ipv4.ip_forward': '1', 'net.ipv6.conf.all.forwarding': '0' });
    const v4only = parseLab(lab('{ subnet: 10.40.1.0/24 }', '', '    sysctls: { net.ipv4.ip_forward: 1 }\n'), 'f', 'x');
    assert.deepEqual(v4only.containers[0]!.sysctls, { 'net.ipv4.ip_forward': '1' }, 'no IPv6 sysctl on an IPv4-only lab');
  });

  test('a file without IPv6 keys keeps the hashes it had: labs made before IPv6 are not made again', () => {
    const spec = parseLab(readExample('routed'), 'f', 'routed');
    const left = spec.networks.find((n) => n.key === 'left')!;
    assert.equal(left.hash, hashOf({ subnet: '10.20.1.0/24', internal: true, options: { 'nsnet.bridge.anti_spoofing': 'false' }, labels: {} }));
    const alice = spec.containers.find((c) => c.key === 'alice')!;
    const decl = {
      command: ['sleep', 'infinity'],
      networks: [{ name: 'routed-left', ip: '10.20.1.10', aliases: [] }],
      hostname: 'alice',
      env: {},
      ports: [],
      sysctls: {},
      routes: [{ to: '10.20.2.0/24', via: '10.20.1.254' }],
    };
    assert.equal(alice.hash, hashOf(decl));
  });

  test('a changed ip6 makes its container again, as a changed ip does; the others are kept', () => {
    const before = parseLab(readExample('dual-stack'), 'f', 'ds', 'ds');
    const state: LabState = {
      networks: new Map(before.networks.map((n) => [n.name, n.hash])),
      containers: new Map(before.containers.map((c) => [c.name, { hash: c.hash, running: true }])),
      foreignNetworks: new Set(),
      foreignContainers: new Set(),
    };
    const after: LabSpec = parseLab(readExample('dual-stack').replace('b: { ip: 10.40.2.10, ip6: 2001:db8:42::10 }', 'b: { ip: 10.40.2.10, ip6: 2001:db8:42::20 }'), 'f', 'ds', 'ds');
    const plan = diffLab(after, state);
    assert.deepEqual(plan.removeContainers, ['ds-bob']);
    assert.deepEqual(plan.createContainers.map((c) => c.name), ['ds-bob']);
    assert.deepEqual(plan.keepContainers.sort(), ['ds-alice', 'ds-router']);
    assert.deepEqual(plan.createNetworks, []);
    // A network that gains IPv6 is made again, with its containers.
    const gained = parseLab(readExample('routed').replace('subnet: 10.20.2.0/24', 'subnet: [10.20.2.0/24, 2001:db8:42::/64]'), 'f', 'ds', 'ds');
    const routed = parseLab(readExample('routed'), 'f', 'ds', 'ds');
    const was: LabState = { ...state, networks: new Map(routed.networks.map((n) => [n.name, n.hash])), containers: new Map(routed.containers.map((c) => [c.name, { hash: c.hash, running: true }])) };
    const replan = diffLab(gained, was);
    assert.deepEqual(replan.removeNetworks, ['ds-right']);
    assert.deepEqual(replan.removeContainers.sort(), ['ds-bob', 'ds-router']);
  });
});

describe('IPv6 mistakes in a lab file: refused at their line, naming the value', () => {
  test('two subnets of one family, and an IPv6 value on a network with ipv6: false', () => {
    const twice = errorOf(lab('{ subnet: [10.40.1.0/24, 10.40.2.0/24] }'));
    assert.match(twice, /^lab\.yaml:2:31: networks\.a\.subnet\[1\]: network a: subnet given twice for IPv4 \(10\.40\.1\.0\/24 and 10\.40\.2\.0\/24\): a network has one subnet per family, e\.g\. \[10\.40\.1\.0\/24, 2001:db8:41::\/64\]$/m);
    const twice6 = errorOf(lab('{ subnet: [2001:db8:41::/64, "2001:db8:42::/64"] }'));
    assert.match(twice6, /networks\.a\.subnet\[1\]: network a: subnet given twice for IPv6 \(2001:db8:41::\/64 and 2001:db8:42::\/64\)/);
    const off = errorOf(lab('{ ipv6: false, subnet: [10.40.1.0/24, 2001:db8:41::/64] }'));
    assert.match(off, /networks\.a\.subnet\[1\]: network a: subnet 2001:db8:41::\/64 is IPv6, but the network has ipv6: false/);
    const gateway = errorOf(lab('{ subnet: 10.40.1.0/24, gateway: [10.40.1.1, 2001:db8:41::1] }'));
    assert.match(gateway, /networks\.a\.gateway\[1\]: network a: gateway 2001:db8:41::1 needs a subnet of its family: add one to networks\.a\.subnet/);
  });

  test('ipv4: false: needs IPv6, and takes no IPv4 value', () => {
    assert.match(errorOf(lab('{ ipv4: false }')), /^lab\.yaml:2:\d+: networks\.a\.ipv4: network a: ipv4: false needs IPv6 \(ipv6: true, or an IPv6 subnet\)/m);
    assert.match(errorOf(lab('{ ipv4: false, subnet: [10.40.1.0/24, 2001:db8:41::/64] }')), /networks\.a\.subnet\[0\]: network a: subnet 10\.40\.1\.0\/24 is IPv4, but the network has ipv4: false/);
    assert.match(
      errorOf(lab('{ ipv4: false, subnet: 2001:db8:41::/64 }', '{ ip: 10.40.1.5 }')),
      /containers\.c\.networks\.a\.ip: container c has the static IPv4 address 10\.40\.1\.5 on network a, which has ipv4: false/,
    );
  });

  test("an IPv6 subnet as network create checks it, and IPv6 subnets of the lab that overlap", () => {
    const msg = errorOf('networks:\n  a: { subnet: 2001:db8:41::1/64 }\n  b: { subnet: 2001:db8::/40 }\n  c: { subnet: 2001:db8:44::/64, gateway: 2001:db8:45::1 }\n  d: { subnet: [10.1.0.0/24, 2001:db8:43::/56] }\n  e: { subnet: 2001:db8:43:1::/64, ip_range: 2001:db8:43:1:8000::/65 }\n');
    assert.match(msg, /^lab\.yaml:2:16: networks\.a\.subnet: network a: invalid IPv6 subnet "2001:db8:41::1\/64": host bits set; did you mean 2001:db8:41::\/64\?$/m);
    assert.match(msg, /^lab\.yaml:3:16: networks\.b\.subnet: network b: invalid IPv6 subnet "2001:db8::\/40": prefix \/40 is outside \/48\.\.\/120$/m);
    assert.match(msg, /^lab\.yaml:4:\d+: networks\.c\.gateway: network c: invalid IPv6 gateway "2001:db8:45::1": not inside subnet 2001:db8:44::\/64$/m);
    assert.match(msg, /^lab\.yaml:6:\d+: networks\.e\.subnet: network e: IPv6 subnet 2001:db8:43:1::\/64 overlaps network d's 2001:db8:43::\/56: each network of a lab needs a subnet of its own$/m);
    assert.doesNotMatch(msg, /networks\.e\.ip_range/, 'a range inside its subnet is fine');
  });

  test('ip6 outside the IPv6 subnet, the gateway, the anycast address, or given twice: the container, the value and what is allowed', () => {
    const outside = errorOf(lab(DUAL, '{ ip6: "2001:db8:99::5" }'));
    assert.match(
      outside,
      /^lab\.yaml:7:\d+: containers\.c\.networks\.a\.ip6: container c: invalid address "2001:db8:99::5": not inside IPv6 subnet 2001:db8:41::\/64 of network a \(allowed on a: 2001:db8:41::2 to 2001:db8:41:0:ffff:ffff:ffff:ffff\)$/m,
    );
    assert.match(errorOf(lab(DUAL, '{ ip6: "2001:db8:41::1" }')), /container c: invalid address "2001:db8:41::1": it is the IPv6 gateway of network a/);
    assert.match(errorOf(lab(DUAL, '{ ip6: "2001:db8:41::" }')), /container c: invalid address "2001:db8:41::": it is the subnet-router anycast address of 2001:db8:41::\/64/);
    const twice = `networks:\n  a: ${DUAL}\ncontainers:\n  c:\n    command: [sleep, "1"]\n    networks: { a: { ip6: "2001:db8:41::10" } }\n  d:\n    command: [sleep, "1"]\n    networks: { a: { ip6: "2001:db8:41:0::0010" } }\n`;
    assert.match(errorOf(twice), /^lab\.yaml:9:\d+: containers\.d\.networks\.a\.ip6: container d: address 2001:db8:41:0::0010 on network a is already container c's/m);
  });

  test('ip6 on a network without IPv6, or with IPv6 but no declared IPv6 subnet', () => {
    assert.match(
      errorOf(lab('{ subnet: 10.40.1.0/24 }', '{ ip6: "2001:db8:41::10" }')),
      /^lab\.yaml:7:\d+: containers\.c\.networks\.a\.ip6: container c has the static IPv6 address 2001:db8:41::10 on network a, which has no IPv6 \(add ipv6: true and an IPv6 subnet to networks\.a, or leave ip6 out\)$/m,
    );
    assert.match(errorOf(lab('{ ipv6: true }', '{ ip6: "2001:db8:41::10" }')), /container c has the static IPv6 address 2001:db8:41::10 on network a, which declares no IPv6 subnet: a static ip6 needs one/);
  });

  test('an address of the other family in ip or ip6: the schema says which key takes which', () => {
    assert.match(errorOf(lab(DUAL, '{ ip6: 10.40.1.5 }')), /containers\.c\.networks\.a\.ip6: invalid value "10\.40\.1\.5": expected an IPv6 address such as 2001:db8:41::10$/m);
    assert.match(errorOf(lab(DUAL, '{ ip: "2001:db8:41::5" }')), /containers\.c\.networks\.a\.ip: invalid value "2001:db8:41::5": expected an IPv4 address such as 10\.0\.0\.1 \(an IPv6 address goes in ip6\)$/m);
    assert.match(errorOf(lab(DUAL, '{ ip6: "2001:db8:41::zz" }')), /containers\.c\.networks\.a\.ip6: invalid value "2001:db8:41::zz": expected an IPv6 address/);
    assert.match(errorOf(lab(DUAL, '{ ip6: "2001:db8:41:::5" }')), /containers\.c\.networks\.a\.ip6: container c: invalid ip6 "2001:db8:41:::5": expected an IPv6 address such as 2001:db8::10/);
  });

  test('an IPv6 route via an address on none of the networks, or mixing families', () => {
    const none = errorOf(lab(DUAL, '', '    routes:\n      - { to: 2001:db8:42::/64, via: 2001:db8:99::254 }\n'));
    assert.match(
      none,
      /^lab\.yaml:9:\d+: containers\.c\.routes\[0\]\.via: container c: route to 2001:db8:42::\/64 via 2001:db8:99::254: the gateway 2001:db8:99::254 is on none of its networks \(a: 2001:db8:41::\/64\): a route goes via an IPv6 address on one of the container's own networks$/m,
    );
    const noV6 = errorOf(lab('{ subnet: 10.40.1.0/24 }', '', '    routes:\n      - { to: default, via: 2001:db8:41::254 }\n'));
    assert.match(noV6, /containers\.c\.routes\[0\]\.via: container c: route to default via 2001:db8:41::254: the gateway 2001:db8:41::254 is on none of its networks \(a: no IPv6\)/);
    const mixed = errorOf(lab(DUAL, '', '    routes:\n      - { to: 2001:db8:42::/64, via: 10.40.1.254 }\n'));
    assert.match(mixed, /containers\.c\.routes\[0\]\.to: container c: route to 2001:db8:42::\/64 via 10\.40\.1\.254: the destination is IPv6 and the gateway IPv4: a route's destination and gateway are of one family/);
    assert.match(errorOf(lab(DUAL, '', '    routes:\n      - { to: "2001:db8:42::1/64", via: 2001:db8:41::254 }\n')), /routes\[0\]\.to: .*invalid route destination "2001:db8:42::1\/64": host bits set; did you mean 2001:db8:42::\/64\?/);
  });

  test('controls: a gateway on an attached network, on a subnet picked at up, or on a point-to-point link is accepted', () => {
    parseLab(lab(DUAL, '', '    routes:\n      - { to: 2001:db8:42::/64, via: 2001:db8:41::254 }\n      - { to: default, via: 10.40.1.254 }\n'), 'f', 'x');
    parseLab(lab('{ ipv6: true }', '', '    routes:\n      - { to: 2001:db8:42::/64, via: "fd00::254" }\n'), 'f', 'x');
    const linked =
      'networks:\n  a: { subnet: 10.40.1.0/24 }\ncontainers:\n  r1:\n    command: [sleep, "1"]\n    networks: [a]\n    routes: [{ to: 2001:db8:99::/64, via: "2001:db8:12::2" }]\n' +
      '  r2:\n    command: [sleep, "1"]\n    networks: [a]\nlinks:\n  - { endpoints: [r1:eth1, r2:eth1], ips: ["2001:db8:12::1/64", "2001:db8:12::2/64"] }\n';
    const spec = parseLab(linked, 'f', 'x');
    assert.deepEqual(spec.containers[0]!.linkRoutes, [{ to: '2001:db8:99::/64', via: '2001:db8:12::2' }]);
  });
});

/**
 * A dual-stack lab on the in-memory machine: `up` wires both families as declared (the router's
 * second network with both static addresses by connect), and failure or crash at any step leaves
 * store and machine agreeing, `up` again completes the lab, `down` leaves the machine as before.
 */
describe('a dual-stack lab on the fake machine', () => {
  const YAML = readExample('dual-stack').replace(/command: \[sleep, infinity\]/g, `command: [sleep, infinity]\n    rootfs: ${ROOTFS}`);
  const SPEC = parseLab(YAML, 'lab.yaml', 'uds', 'uds');
  const upLab = (ctx: Context): Promise<unknown> => up(ctx, SPEC, { parallel: 1 });
  const consistent = (ctx: Context, what: string): void =>
    assert.deepEqual(check(ctx, { fix: false }).differences.map((d) => `${d.object}: ${d.problem}`), [], what);

  test('up: both addresses on every interface, IPv6 routes, the router forwarding IPv6; down leaves nothing', async () => {
    const fx = fixture();
    const before = fx.state();
    await upLab(fx.ctx);
    const router = fx.store.containers.byIdOrName('uds-router')!;
    assert.deepEqual(fx.store.endpoints.forContainer(router.id).map((e) => `${e.ifName} ${e.ip} ${e.ip6}`), ['eth0 10.40.1.254 2001:db8:41::254', 'eth1 10.40.2.254 2001:db8:42::254']);
    assert.equal(fx.host.sysctl('net.ipv6.conf.all.forwarding', 'uds-router'), '1');
    const alice = (fx.host.snapshot().network['uds-alice'] as { routes: string[] }).routes;
    assert.ok(alice.includes('2001:db8:42::/64 via 2001:db8:41::254 dev eth0'), alice.join('\n'));
    consistent(fx.ctx, 'after up');
    assert.equal((await up(fx.ctx, SPEC)).noop, true);
    down(fx.ctx, 'uds');
    assertSameState(fx.state(), before, 'after up and down');
  });

  const converges = async (fx: Fixture, before: MachineState, i: number, what: string): Promise<void> => {
    consistent(fx.ctx, `${what}: what is left`);
    if (i % 4 === 0) {
      await up(fx.ctx, SPEC);
      consistent(fx.ctx, `${what}, then up`);
      assert.equal((await up(fx.ctx, SPEC)).noop, true, `${what}: up again has nothing to do`);
    }
    down(fx.ctx, 'uds');
    assertSameState(fx.state(), before, `${what}, then down`);
  };

  test('failure at every step of up: the records agree; up again completes the lab; down leaves the machine as before', async () => {
    const n = await failEachStep(fixture(), upLab, async ({ fx, before, error, i }) => {
      assert.ok(error instanceof NsnetError && /injected failure/.test(error.message), `step ${i}: ${String(error)}`);
      await converges(fx, before, i, `failure at step ${i}`);
    });
    assert.ok(n >= 20, `${n} steps`);
  });

  test('crash at every step of up: recovery undoes the operation under way; up again completes the lab', async () => {
    await crashEachStep(fixture(), upLab, async ({ fx, before, i }) => {
      assert.equal(fx.recovered.length, 1, `crash after step ${i}: ${fx.recovered.join('\n')}`);
      await converges(fx, before, i, `crash after step ${i}`);
    });
  });
});
