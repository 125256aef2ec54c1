/**
 * Issue 17 items 3 and 9 without the kernel: the hairpin step (a container's bridge port in
 * hairpin mode, so it reaches its own published port through a host address) as a plan renders
 * it, undoes it and the fake machine models it; `system check` reports it off and --fix turns it
 * back on; the hairpinned flow is masqueraded in both drivers. And a container's short id is one
 * of its DNS names.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import dnsPacket, { type Packet } from 'dns-packet';
import { KernelError } from '../../src/core/errors.js';
import { planAttach, planConnect, planCreateContainer, planCreateNetwork, type EndpointSpec, type NetworkSpec } from '../../src/engine/plans.js';
import { natRules } from '../../src/firewall/iptables-driver.js';
import { EMPTY_FIREWALL } from '../../src/firewall/model.js';
import { nftablesDriver } from '../../src/firewall/nftables-driver.js';
import { replaceScript } from '../../src/firewall/nftables.js';
import { decide } from '../../src/dns/answer.js';
import { buildView, shortIdOf } from '../../src/dns/view.js';
import { EOPNOTSUPP } from '../../src/kernel/libc.js';
import { applyPlan, describe as describeStep, undoAll } from '../../src/plan/executor.js';
import { renderStep } from '../../src/plan/render.js';
import type { Step } from '../../src/plan/steps.js';
import { check } from '../../src/ops/check.js';
import { run } from '../../src/ops/containers.js';
import { createNetwork } from '../../src/ops/networks.js';
import { FakeHost } from '../helpers/fake-host.js';
import { fixture, runInput } from '../helpers/ops-fixture.js';
import { redOn, STUDY } from '../helpers/plan-fixtures.js';

const study: NetworkSpec = STUDY;
const red: EndpointSpec = redOn(study);
const nft = nftablesDriver();
const HAIRPIN: Step = { kind: 'port-hairpin', dev: red.hostIf, on: true };

describe('the hairpin step', () => {
  test('renders as the bridge command, in the one place ports are wired (run, connect, CNI, start, check)', () => {
    assert.equal(renderStep(HAIRPIN), 'bridge link set dev nsv000000000001 hairpin on');
    assert.equal(renderStep({ ...HAIRPIN, on: false }), 'bridge link set dev nsv000000000001 hairpin off');
    assert.equal(describeStep(HAIRPIN), 'turn hairpin on on bridge port nsv000000000001');
    // Right after the veth is made (its host end is then a bridge port).
    const attach = planAttach('red', red);
    assert.equal(attach[0]?.kind, 'veth-add');
    assert.deepEqual(attach[1], HAIRPIN);
    assert.ok(planCreateContainer('red', [red], nft).some((s) => s.kind === 'port-hairpin'));
    assert.ok(planConnect('red', red, nft).some((s) => s.kind === 'port-hairpin'));
  });

  test('on the fake machine: applied, visible through the Host port, undone, and gone with the port', () => {
    const host = new FakeHost({ ipForward: '1' });
    applyPlan(planCreateNetwork(study, EMPTY_FIREWALL, nft), host);
    const networkOnly = host.snapshot();
    const plan = planCreateContainer('red', [red], nft);
    applyPlan(plan, host);
    assert.equal(host.link(red.hostIf)?.hairpin, true);
    assert.equal(host.link('br-study')?.hairpin, undefined, 'a bridge is not a port');
    // Undo turns it off; then the veth goes and the machine is as before.
    host.undo(HAIRPIN);
    assert.equal(host.link(red.hostIf)?.hairpin, false);
    host.apply(HAIRPIN);
    assert.deepEqual(undoAll(plan, host), []);
    assert.deepEqual(host.snapshot(), networkOnly);
    // Undo on a port that is gone is done already.
    host.undo(HAIRPIN);
  });

  test('only a bridge port has the setting (EOPNOTSUPP, as the kernel)', () => {
    const host = new FakeHost({ ipForward: '1' });
    applyPlan(planCreateNetwork(study, EMPTY_FIREWALL, nft), host);
    assert.throws(
      () => host.apply({ kind: 'port-hairpin', dev: 'br-study', on: true }),
      (err: unknown) => err instanceof KernelError && err.errno === EOPNOTSUPP && /bridge link set dev br-study hairpin on/.test(err.message + String(err.command ?? '')),
    );
  });
});

describe('system check and hairpin mode', () => {
  test('run leaves the port in hairpin mode; turned off, check names the port and --fix turns it back on', async () => {
    const fx = await fixture().setUp(
      (ctx) => createNetwork(ctx, { name: 'ut-hp', subnet: '10.69.0.0/24' }),
      (ctx) => run(ctx, runInput({ name: 'ut-hp-a', networks: ['ut-hp'], publish: ['8080:80'] })),
    );
    const a = fx.store.containers.byIdOrName('ut-hp-a')!;
    const port = fx.store.endpoints.forContainer(a.id)[0]!.hostIf;
    assert.equal(fx.host.link(port)?.hairpin, true);
    assert.deepEqual(check(fx.ctx, { fix: false }).differences, []);
    fx.host.net.setHairpin(port, false);
    const found = check(fx.ctx, { fix: true }).differences;
    assert.deepEqual(found.map((d) => `${d.object}: ${d.problem}`), [`container ut-hp-a: ut-hp: bridge port ${port} has hairpin off, not on`]);
    assert.deepEqual(found[0]?.commands, [`bridge link set dev ${port} hairpin on`]);
    assert.equal(found[0]?.fixed, true);
    assert.equal(fx.host.link(port)?.hairpin, true);
    assert.deepEqual(check(fx.ctx, { fix: false }).differences, []);
  });
});

describe('the hairpinned flow is masqueraded to the gateway', () => {
  test('nftables: by source subnet and bridge (iifname is unknown in postrouting), whatever the masquerade option', () => {
    for (const masquerade of [true, false]) {
      const script = replaceScript({ networks: [{ ...study, masquerade }], ports: [] });
      assert.match(script, /\tip saddr 10\.0\.0\.0\/24 oifname "br-study" ct status dnat masquerade comment/);
      assert.doesNotMatch(script, /iifname "br-study" oifname "br-study" ct status dnat masquerade/);
    }
    // An IPv6 subnet (when networks have one) gets the same rule with ip6 saddr.
    assert.match(replaceScript({ networks: [{ ...study, subnet: 'fd00:1::/64' }], ports: [] }), /\tip6 saddr fd00:1::\/64 oifname "br-study" ct status dnat masquerade/);
  });

  test('iptables: from the subnet, out of its own bridge, DNATed', () => {
    assert.ok((natRules([study]) ?? []).some((r) => /-s 10\.0\.0\.0\/24 -o br-study -m conntrack --ctstate DNAT .*-j MASQUERADE$/.test(r)));
  });
});

describe('short container ids in DNS', () => {
  const ID = '3f4e8a1b2c9d' + '0'.repeat(52);
  const NETS = [{ id: 'n1', name: 'front', gateway: '10.1.0.1', subnet: '10.1.0.0/24', servers: [] }];
  const containers = [
    { id: ID, name: 'web', hostname: 'web', aliases: [], servers: [], endpoints: [{ networkId: 'n1', ip: '10.1.0.2' }] },
    { id: 'b'.repeat(64), name: 'cli', hostname: 'cli', aliases: [], servers: [], endpoints: [{ networkId: 'n1', ip: '10.1.0.3' }] },
    { id: 'c'.repeat(64), name: 'off', hostname: 'off', aliases: [], servers: [], endpoints: [{ networkId: 'n1', ip: '10.1.0.4' }], running: false },
  ];
  const view = buildView(NETS, containers, ['198.51.100.53']);
  const ask = (name: string): Packet & { rcode?: string } => {
    const raw = dnsPacket.encode({ id: 7, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: 'A' }] });
    const d = decide(view, '10.1.0.1', '10.1.0.3', raw, 'udp');
    assert.equal(d.kind, 'reply', JSON.stringify(d));
    if (d.kind !== 'reply') throw new Error('unreachable');
    return dnsPacket.decode(d.response) as Packet & { rcode?: string };
  };
  const addrs = (p: Packet): string[] => (p.answers ?? []).map((a) => String((a as { data: unknown }).data));

  test('the 12-character id resolves like the name, in any case; another prefix does not', () => {
    assert.deepEqual(shortIdOf(ID), ['3f4e8a1b2c9d']);
    assert.deepEqual(shortIdOf('cni-not-hex'), []);
    assert.deepEqual(addrs(ask('3f4e8a1b2c9d')), ['10.1.0.2']);
    assert.deepEqual(addrs(ask('3F4E8A1B2C9D.')), ['10.1.0.2']);
    // Another prefix is no name of nsnet's: it goes upstream like any unknown name.
    const raw = dnsPacket.encode({ id: 8, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: '3f4e8a1b2c9', type: 'A' }] });
    assert.equal(decide(view, '10.1.0.1', '10.1.0.3', raw, 'udp').kind, 'forward');
  });

  test("a stopped container's short id resolves nowhere and is never sent upstream", () => {
    assert.ok(view.known.has('c'.repeat(12)));
    assert.equal(ask('c'.repeat(12)).rcode, 'NXDOMAIN');
  });
});
