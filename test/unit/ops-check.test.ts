/**
 * `system check` on a drifted in-memory machine (FakeHost): each kind of drift is reported as the
 * difference it is — on the network, on the container (and which of its networks), an orphan, the
 * firewall — and `--fix` converges: a second check finds nothing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { check, type Difference } from '../../src/ops/check.js';
import { run } from '../../src/ops/containers.js';
import { createNetwork } from '../../src/ops/networks.js';
import type { ContainerRecord, EndpointRecord, NetworkRecord } from '../../src/store/index.js';
import { fixture, runInput, type Fixture } from '../helpers/ops-fixture.js';

interface Lab {
  fx: Fixture;
  net: NetworkRecord;
  a: ContainerRecord;
  b: ContainerRecord;
  /** a's endpoint (its host veth, its address). */
  epA: EndpointRecord;
}

/** A network with two containers, a publishing a port. */
async function wired(): Promise<Lab> {
  const fx = await fixture().setUp(
    (ctx) => createNetwork(ctx, { name: 'ut-chk', subnet: '10.68.0.0/24' }),
    (ctx) => run(ctx, runInput({ name: 'ut-chk-a', networks: ['ut-chk'], publish: ['8080:80'] })),
    (ctx) => run(ctx, runInput({ name: 'ut-chk-b', networks: ['ut-chk'] })),
  );
  const a = fx.store.containers.byIdOrName('ut-chk-a')!;
  return {
    fx,
    net: fx.store.networks.byName('ut-chk')!,
    a,
    b: fx.store.containers.byIdOrName('ut-chk-b')!,
    epA: fx.store.endpoints.forContainer(a.id)[0]!,
  };
}

const lines = (ds: readonly Difference[]): string[] => ds.map((d) => `${d.object}: ${d.problem}`);

/** Check finds exactly `expected`; --fix fixes each; a second check finds nothing. */
function assertFound(lab: Lab, expected: string[]): Difference[] {
  const found = check(lab.fx.ctx, { fix: false }).differences;
  assert.deepEqual(lines(found), expected);
  const fixed = check(lab.fx.ctx, { fix: true }).differences;
  assert.deepEqual(lines(fixed), expected, 'the fixing check finds the same');
  for (const d of fixed) assert.equal(d.fixed, true, `${d.object}: ${d.problem}: ${d.error ?? 'not fixed'}`);
  assert.deepEqual(lines(check(lab.fx.ctx, { fix: false }).differences), [], 'after --fix, nothing is found');
  return found;
}

describe('system check', () => {
  test('a machine that matches its records: nothing found', async () => {
    const lab = await wired();
    assert.deepEqual(check(lab.fx.ctx, { fix: false }), { differences: [], notes: [] });
  });

  test('a missing bridge: rebuilt, and its containers rewired into it, their default routes with them', async () => {
    const lab = await wired();
    const { net, a, b } = lab;
    const hostIf = (c: ContainerRecord): string => lab.fx.store.endpoints.forContainer(c.id)[0]!.hostIf;
    lab.fx.host.net.deleteLink(undefined, net.bridge);
    const found = assertFound(lab, [
      `network ut-chk: bridge ${net.bridge} is missing`,
      `container ut-chk-a: ut-chk: host veth ${hostIf(a)} is not enslaved to bridge ${net.bridge}`,
      'container ut-chk-a: the default route via 10.68.0.1 goes with the rewiring',
      `container ut-chk-b: ut-chk: host veth ${hostIf(b)} is not enslaved to bridge ${net.bridge}`,
      'container ut-chk-b: the default route via 10.68.0.1 goes with the rewiring',
    ]);
    assert.deepEqual(found[0]!.subject, { kind: 'network', network: 'ut-chk' });
    assert.deepEqual(found[1]!.subject, { kind: 'container', container: 'ut-chk-a', network: 'ut-chk' });
    assert.deepEqual(found[2]!.subject, { kind: 'container', container: 'ut-chk-a' });
    // Rebuilt by the same recipe as create: route_localnet included.
    assert.equal(lab.fx.host.sysctl(`net.ipv4.conf.${net.bridge}.route_localnet`), '1');
  });

  test('a bridge that is down', async () => {
    const lab = await wired();
    lab.fx.host.net.setUp(undefined, lab.net.bridge, false);
    assertFound(lab, [`network ut-chk: bridge ${lab.net.bridge} is down`]);
  });

  test('a bridge without its gateway address', async () => {
    const lab = await wired();
    lab.fx.host.net.delAddr(undefined, lab.net.bridge, '10.68.0.1', 24);
    assertFound(lab, [`network ut-chk: bridge ${lab.net.bridge} lacks the gateway address 10.68.0.1/24`]);
  });

  test('route_localnet turned off on the bridge (ports published on 127.0.0.1 stop working)', async () => {
    const lab = await wired();
    const key = `net.ipv4.conf.${lab.net.bridge}.route_localnet`;
    lab.fx.host.net.writeSysctl(undefined, key, '0');
    assertFound(lab, [`network ut-chk: sysctl ${key} is 0, not 1`]);
  });

  test('a container\'s veth pair gone: rewired, its default route with it', async () => {
    const lab = await wired();
    lab.fx.host.net.deleteLink(undefined, lab.epA.hostIf);
    const found = assertFound(lab, [
      `container ut-chk-a: ut-chk: host veth ${lab.epA.hostIf} is missing; eth0 is missing in its namespace`,
      'container ut-chk-a: the default route via 10.68.0.1 goes with the rewiring',
    ]);
    assert.deepEqual(found[0]!.subject, { kind: 'container', container: 'ut-chk-a', network: 'ut-chk' });
    const inside = lab.fx.host.snapshot().network['ut-chk-a'] as { addresses: string[]; routes: string[] };
    assert.deepEqual(inside.addresses, ['eth0 10.68.0.2/24', 'lo 127.0.0.1/8']);
    assert.deepEqual(inside.routes, ['default via 10.68.0.1 dev eth0']);
  });

  test('a container without its address, its interface down, or its default route', async () => {
    const lab = await wired();
    lab.fx.host.net.delRoute('ut-chk-a', {});
    assertFound(lab, ['container ut-chk-a: no default route via 10.68.0.1 dev eth0']);
    lab.fx.host.net.delAddr('ut-chk-b', 'eth0', '10.68.0.3', 24);
    lab.fx.host.net.setUp('ut-chk-a', 'eth0', false);
    assertFound(lab, [
      'container ut-chk-a: ut-chk: eth0 is down',
      // Down, eth0 took its routes with it.
      'container ut-chk-a: no default route via 10.68.0.1 dev eth0',
      'container ut-chk-b: ut-chk: eth0 lacks its address 10.68.0.3/24',
    ]);
  });

  test('an orphan link with a generated name: deleted; other links are left alone', async () => {
    const lab = await wired();
    lab.fx.host.net.addDevice('nsv0123456789ab');
    lab.fx.host.net.addDevice('nsv-not-ours');
    const found = assertFound(lab, ['link nsv0123456789ab: has a name nsnet generates but no record owns it']);
    assert.deepEqual(found[0]!.subject, { kind: 'orphan' });
    assert.equal(lab.fx.host.link('nsv0123456789ab'), undefined);
    assert.notEqual(lab.fx.host.link('nsv-not-ours'), undefined);
  });

  test('an orphan namespace (its records lost): its processes stopped, the namespace and its veth deleted', async () => {
    const lab = await wired();
    const hostIf = lab.fx.store.endpoints.forContainer(lab.b.id)[0]!.hostIf;
    lab.fx.store.tx(() => lab.fx.store.containers.delete(lab.b.id));
    const found = check(lab.fx.ctx, { fix: false }).differences;
    assert.deepEqual(lines(found), [
      `link ${hostIf}: has a name nsnet generates but no record owns it`,
      'namespace ut-chk-b: made by nsnet for a container the store no longer has',
      'firewall: nsnet\'s nftables tables differ from the records',
    ]);
    assert.deepEqual(found.map((d) => d.subject.kind), ['orphan', 'orphan', 'firewall']);
    check(lab.fx.ctx, { fix: true });
    assert.deepEqual(lines(check(lab.fx.ctx, { fix: false }).differences), []);
    assert.equal(lab.fx.host.netnsExists('ut-chk-b'), false);
    assert.deepEqual(lab.fx.host.procs.snapshot(), ['container in ut-chk-a as ut-chk-a: sleep 1000']);
  });

  test('a firewall that differs from the records: regenerated in one transaction', async () => {
    const lab = await wired();
    lab.fx.host.nft.run('delete table bridge nsnet');
    const found = assertFound(lab, ['firewall: nsnet\'s nftables tables differ from the records']);
    assert.deepEqual(found[0]!.subject, { kind: 'firewall' });
    lab.fx.host.nft.run('delete table inet nsnet');
    lab.fx.host.nft.run('delete table bridge nsnet');
    assertFound(lab, ['firewall: nsnet\'s nftables tables are missing']);
    assert.match(lab.fx.host.nftTable('inet', 'nsnet') ?? '', /tcp \. 8080 : 10\.68\.0\.2 \. 80/);
  });

  test('all of it at once: --fix converges in one run', async () => {
    const lab = await wired();
    const { fx, net } = lab;
    fx.host.net.delAddr(undefined, net.bridge, '10.68.0.1', 24);
    fx.host.net.writeSysctl(undefined, `net.ipv4.conf.${net.bridge}.route_localnet`, '0');
    fx.host.net.deleteLink(undefined, lab.epA.hostIf);
    fx.host.net.delRoute('ut-chk-b', {});
    fx.host.net.addDevice('nsnet-0badc0de');
    fx.host.nft.run('delete table bridge nsnet');
    const found = check(fx.ctx, { fix: true }).differences;
    assert.equal(found.length, 7, lines(found).join('\n'));
    assert.ok(found.every((d) => d.fixed === true), lines(found).join('\n'));
    assert.deepEqual(lines(check(fx.ctx, { fix: false }).differences), []);
  });
});
