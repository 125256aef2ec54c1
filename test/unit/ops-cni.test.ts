/**
 * CNI ADD, publish, DEL, GC and release on an in-memory machine (FakeHost) and store: what each
 * makes or removes, failure at every step (a make leaves store and host as before; a removal
 * keeps its records and reports each failing step with its code), crash at every step (the next
 * process's recovery converges: a make as before, a removal as after), and CNI CHECK's choice of
 * the problems that concern one attachment.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseNetConf, type CniNetConf } from '../../src/cni/config.js';
import { NsnetError, NsnetErrors } from '../../src/core/errors.js';
import { attachmentProblems, check } from '../../src/ops/check.js';
import { cniAdd, cniDel, cniGc, cniPublish, findAttachment, releaseAll, type CniAddRequest, type CniAttachment } from '../../src/ops/cni.js';
import { handleCni, type CniReply } from '../../src/ops/cni-plugin.js';
import { run } from '../../src/ops/containers.js';
import type { Context } from '../../src/ops/context.js';
import { HOST } from '../helpers/fake-host/network.js';
import { assertSameState, codeOf, crashEachStep, dumpStore, failEachStep, fixture, runInput, stateAfter, type Fixture } from '../helpers/ops-fixture.js';

/** Where the runtime keeps container n's namespace (an absolute path: the runtime's, not nsnet's). */
const NS = (n: number): string => `/run/user/0/netns/cni-${n}`;

const SUBNETS: Record<string, string> = { cninet: '10.77.0.0/24', other: '10.78.0.0/24', cninet2: '10.79.0.0/24' };

function conf(name = 'cninet'): CniNetConf {
  return parseNetConf({ cniVersion: '1.0.0', name, type: 'nsnet-cni', subnet: SUBNETS[name] });
}

function addRequest(n: number, extra: Partial<CniAddRequest> = {}): CniAddRequest {
  return { conf: conf(), containerId: `c0ffee${n}`, netns: NS(n), ifName: 'eth0', ports: [], aliases: [], runtime: 'podman', ...extra };
}

const add = (n: number, extra: Partial<CniAddRequest> = {}) => (ctx: Context): CniAttachment => cniAdd(ctx, addRequest(n, extra));

/** The runtime's namespaces 1..count already made (the runtime makes them before ADD), then `ops`. */
async function runtimeFixture(count: number, ...ops: Array<(ctx: Context) => unknown>): Promise<Fixture> {
  const fx = fixture();
  for (let n = 1; n <= count; n++) fx.host.net.addRuntimeNetns(NS(n));
  return fx.setUp(...ops);
}

/** Namespaces 1..3; containers 1 and 2 attached to cninet (2 with a published port and an alias). */
const twoAttached = (): Promise<Fixture> => runtimeFixture(3, add(1), add(2, { ports: ['8080:80'], aliases: ['web'] }));

function attachment(ctx: Context, n: number, network = 'cninet'): CniAttachment {
  const a = findAttachment(ctx, `c0ffee${n}`, network);
  assert.ok(a !== undefined, `c0ffee${n} is attached to ${network}`);
  return a;
}

/** Every code an error carries: each of several failures' own, or the one. */
function codesOf(err: unknown): string[] {
  return err instanceof NsnetErrors ? err.errors.map(codeOf) : [codeOf(err)];
}

/** `system check` finds nothing: the store and the machine agree. */
function assertConsistent(ctx: Context): void {
  const { differences } = check(ctx, { fix: false });
  assert.deepEqual(differences.map((d) => `${d.object}: ${d.problem}`), []);
}

describe('CNI ADD', () => {
  test('success: the network on first use, the container, the veth into the runtime namespace, address, route, port, alias', async () => {
    const fx = await runtimeFixture(1);
    const a = cniAdd(fx.ctx, addRequest(1, { ports: ['8080:80'], aliases: ['web'] }));
    assert.equal(a.carriesDefaultRoute, true);
    const net = fx.store.networks.byName('cninet')!;
    assert.equal(net.labels['nsnet.cni'], 'true');
    const c = fx.store.containers.byCniId('c0ffee1')!;
    assert.equal(c.netns, NS(1));
    assert.equal(c.runtime, 'podman');
    const [ep] = fx.store.endpoints.forContainer(c.id);
    assert.equal(ep?.ip, '10.77.0.2');
    assert.deepEqual(fx.store.ports.forContainer(c.id).map((p) => `${p.hostPort}:${p.containerPort}/${p.proto}`), ['8080:80/tcp']);
    assert.deepEqual(fx.store.dns.get(c.id)?.aliases, ['web']);

    const bridge = fx.host.link(net.bridge);
    assert.equal(bridge?.kind, 'bridge');
    assert.equal(fx.host.link(ep!.hostIf)?.masterIndex, bridge?.index, 'the host veth, enslaved');
    const inside = fx.host.snapshot().network[NS(1)] as { runtime: boolean; addresses: string[]; routes: string[] };
    assert.equal(inside.runtime, true);
    assert.deepEqual(inside.addresses, ['eth0 10.77.0.2/24']);
    assert.deepEqual(inside.routes, ['default via 10.77.0.1 dev eth0']);
    assert.match(fx.host.nftTable('inet', 'nsnet') ?? '', /tcp \. 8080 : 10\.77\.0\.2 \. 80/);
    assertConsistent(fx.ctx);
  });

  test('a second network of the same container: no second default route; refusals name the attachment', async () => {
    const fx = await runtimeFixture(1, add(1));
    const second = cniAdd(fx.ctx, addRequest(1, { conf: conf('other'), ifName: 'eth1' }));
    assert.equal(second.carriesDefaultRoute, false);
    assert.equal(fx.store.endpoints.forContainer(second.container.id).length, 2);
    assertConsistent(fx.ctx);
    assert.throws(() => cniAdd(fx.ctx, addRequest(1)), (e: unknown) => e instanceof NsnetError && e.code === 'IN_USE' && /already attached to network cninet/.test(e.message));
    assert.throws(() => cniAdd(fx.ctx, addRequest(1, { conf: conf('cninet2') })), /already has an interface eth0/);
  });

  const cases = [
    { what: 'first ADD (the network is made too)', base: () => runtimeFixture(1), op: add(1, { ports: ['8080:80'], aliases: ['web'] }) },
    { what: 'ADD on an existing network', base: twoAttached, op: add(3, { ports: ['9090:90'] }) },
    { what: 'ADD of an attached container to a second network', base: twoAttached, op: add(2, { conf: conf('other'), ifName: 'eth1', aliases: ['db'] }) },
  ];
  for (const { what, base, op } of cases) {
    test(`failure at every step, ${what}: store and host as before`, async () => {
      const n = await failEachStep(await base(), op, ({ fx, before, error, i }) => {
        assert.ok(error instanceof NsnetError && /injected failure/.test(error.message), `step ${i}: ${String(error)}`);
        assertSameState(fx.state(), before, `failure at step ${i}`);
      });
      assert.ok(n >= 4, `${n} steps`);
    });

    test(`crash at every step, ${what}: recovery undoes it`, async () => {
      await crashEachStep(await base(), op, ({ fx, before, i }) => {
        assert.equal(fx.recovered.length, 1, fx.recovered.join('\n'));
        assertSameState(fx.state(), before, `crash after step ${i}`);
      });
    });
  }
});

describe('CNI ADD of a namespace that is no runtime container\'s (handleCni)', () => {
  /** ADD as nsnet-cni receives it; the reply. */
  const addCall = (ctx: Context, netns: string): CniReply =>
    handleCni(ctx, {
      env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'hijack1', CNI_NETNS: netns, CNI_IFNAME: 'eth1' },
      stdin: JSON.stringify({ cniVersion: '1.0.0', name: 'cninet', type: 'nsnet-cni', subnet: SUBNETS['cninet'] }),
    });

  test('the plugin\'s own namespace (the host\'s) and a CLI container\'s are refused by every path, code 4, nothing changed; a runtime\'s is attached', async () => {
    const fx = await runtimeFixture(1, (ctx) => run(ctx, runInput({ name: 'ut-cni-cli' })));
    // What /proc/PID/ns/net of a process is on the real machine: a path the store never saw.
    fx.host.netnsAliases.set('/proc/4242/ns/net', HOST);
    fx.host.netnsAliases.set('/proc/4343/ns/net', 'ut-cni-cli');
    const own = "is nsnet-cni's own network namespace (the host's): ADD attaches a container's namespace, never the host itself";
    const container = 'is the network namespace of nsnet container ut-cni-cli: nsnet-cni attaches a runtime\'s containers, never one nsnet runs';
    const refusals = [
      { netns: '/proc/self/ns/net', is: own },
      { netns: '/proc/thread-self/ns/net', is: own },
      { netns: '/proc/4242/ns/net', is: own },
      { netns: '/run/netns/ut-cni-cli', is: container },
      { netns: '/proc/4343/ns/net', is: container },
    ];
    const before = fx.state();
    for (const { netns, is } of refusals) {
      const reply = addCall(fx.ctx, netns);
      assert.equal(reply.exitCode, 1, `${netns}: ${reply.stdout}`);
      const out = JSON.parse(reply.stdout) as Record<string, unknown>;
      assert.equal(out['code'], 4, `${netns}: the spec's code for an invalid CNI_* variable\n${reply.stdout}`);
      assert.equal(out['msg'], `CNI_NETNS ${netns} ${is}`);
      assert.equal(reply.stderr, '', 'an expected refusal, not a bug');
      assertSameState(fx.state(), before, `ADD of ${netns}`);
    }
    // The control: the runtime's own namespace, by its path.
    const accepted = addCall(fx.ctx, NS(1));
    assert.equal(accepted.exitCode, 0, accepted.stdout);
    assert.deepEqual(fx.host.addresses(NS(1), 4).map((a) => a.address), ['10.77.0.2']);
  });
});

describe('CNI publish (a chained entry)', () => {
  const publish = (ctx: Context): void => cniPublish(ctx, attachment(ctx, 1), ['8080:80', '127.0.0.1:5353:53/udp']);

  test('success: the ports recorded on the attachment and in the firewall', async () => {
    const fx = await runtimeFixture(1, add(1));
    publish(fx.ctx);
    const c = fx.store.containers.byCniId('c0ffee1')!;
    const ports = fx.store.ports.forContainer(c.id).map((p) => `${p.hostIp ?? '*'}:${p.hostPort}:${p.containerPort}/${p.proto}`);
    assert.deepEqual(ports.sort(), ['*:8080:80/tcp', '127.0.0.1:5353:53/udp']);
    assert.match(fx.host.nftTable('inet', 'nsnet') ?? '', /tcp \. 8080 : 10\.77\.0\.2 \. 80/);
    assertConsistent(fx.ctx);
  });

  test('failure and crash at every step: store and host as before', async () => {
    const base = await runtimeFixture(1, add(1));
    await failEachStep(base, publish, ({ fx, before, i }) => assertSameState(fx.state(), before, `failure at step ${i}`));
    await crashEachStep(base, publish, ({ fx, before, i }) => assertSameState(fx.state(), before, `crash after step ${i}`));
  });
});

describe('CNI DEL', () => {
  const del = (ctx: Context): boolean => cniDel(ctx, 'c0ffee2', 'cninet', 'eth0');

  test('success: endpoint, container record, port and veth gone; the runtime namespace stays; DEL again is done', async () => {
    const fx = await twoAttached();
    const a = attachment(fx.ctx, 2);
    assert.equal(del(fx.ctx), true);
    assert.equal(fx.store.containers.byCniId('c0ffee2'), undefined);
    assert.deepEqual(fx.store.ports.list(), []);
    assert.equal(fx.store.dns.get(a.container.id), undefined);
    assert.equal(fx.host.link(a.endpoint.hostIf), undefined);
    assert.ok(fx.host.netnsExists(NS(2)), 'the runtime namespace is the runtime\'s');
    assert.deepEqual(fx.host.links(NS(2)).map((l) => l.name), ['lo']);
    assert.doesNotMatch(fx.host.nftTable('inet', 'nsnet') ?? '', /8080/);
    assert.doesNotMatch(fx.host.nftTable('bridge', 'nsnet') ?? '', new RegExp(a.endpoint.hostIf));
    assert.equal(del(fx.ctx), false, 'already gone is success');
    assert.equal(cniDel(fx.ctx, 'c0ffee1', 'cninet', 'eth9'), false, 'another interface is not this attachment');
    assertConsistent(fx.ctx);
  });

  test('after the runtime deleted its namespace first: the records go, nothing fails', async () => {
    const fx = await twoAttached();
    fx.host.net.removeRuntimeNetns(NS(2));
    assert.equal(del(fx.ctx), true);
    assert.equal(fx.store.containers.byCniId('c0ffee2'), undefined);
    assertConsistent(fx.ctx);
  });

  test('failure at every step: the records stay, the failing step is reported with its code, DEL again finishes', async () => {
    const base = await twoAttached();
    const after = await stateAfter(base, del);
    await failEachStep(base, del, ({ fx, before, error, i }) => {
      assert.deepEqual(codesOf(error), ['KERNEL'], `step ${i}: ${String(error)}`);
      assert.match(String(error), /injected failure/);
      assert.deepEqual(dumpStore(fx.store), before.store, 'a removal that failed keeps its records');
      fx.host.clearFaults();
      assert.equal(del(fx.ctx), true);
      assertSameState(fx.state(), after, `DEL again after a failure at step ${i}`);
    });
  });

  test('every failing step is reported, each with its own code (a kernel step, a firewall step)', async () => {
    const fx = await twoAttached();
    const a = attachment(fx.ctx, 2);
    fx.host.failWhen((s) => s.kind === 'link-del');
    fx.host.facts.nftUsable = false;
    assert.throws(
      () => del(fx.ctx),
      (error: unknown) => {
        assert.ok(error instanceof NsnetErrors, String(error));
        assert.deepEqual(codesOf(error), ['FIREWALL', 'KERNEL', 'FIREWALL'], 'withdraw the port, delete the veth, forget the port: all three tried');
        return true;
      },
    );
    assert.ok(fx.store.endpoints.get(a.network.id, a.container.id) !== undefined, 'records kept');
  });

  test('crash at every step: recovery finishes it', async () => {
    const base = await twoAttached();
    const after = await stateAfter(base, del);
    await crashEachStep(base, del, ({ fx, i }) => assertSameState(fx.state(), after, `crash after step ${i}`));
  });
});

describe('CNI GC and release', () => {
  /** Containers 1 and 2 on cninet; 3 on cninet and other. */
  const base = (): Promise<Fixture> =>
    runtimeFixture(3, add(1), add(2, { ports: ['8080:80'] }), add(3), add(3, { conf: conf('other'), ifName: 'eth1' }));
  const gc = (ctx: Context): string[] => cniGc(ctx, 'cninet', [{ containerId: 'c0ffee1', ifName: 'eth0' }]);
  const release = (ctx: Context): void => releaseAll(ctx, ctx.store.containers.byCniId('c0ffee3')!);

  /**
   * The injected failure is reported as KERNEL; when it kept the veth that carried the default
   * route, the route handed to the next network fails too (the old one is still there), also KERNEL.
   */
  function assertKernelFailure(error: unknown, i: number): void {
    assert.match(String(error), /injected failure/, `step ${i}`);
    assert.deepEqual([...new Set(codesOf(error))], ['KERNEL'], `step ${i}: ${String(error)}`);
  }

  test('GC: releases what the runtime no longer lists, on this network only', async () => {
    const fx = await base();
    assert.deepEqual(gc(fx.ctx).sort(), ['c0ffee2/eth0', 'c0ffee3/eth0']);
    assert.ok(findAttachment(fx.ctx, 'c0ffee1', 'cninet') !== undefined);
    assert.equal(fx.store.containers.byCniId('c0ffee2'), undefined);
    assert.ok(findAttachment(fx.ctx, 'c0ffee3', 'other') !== undefined, 'another network\'s attachment stays');
    assert.deepEqual(cniGc(fx.ctx, 'nosuchnet', []), []);
    assertConsistent(fx.ctx);
  });

  test('GC failure at every step: the failure with its code, the failed attachment keeps its records, GC again finishes', async () => {
    const b = await base();
    const after = await stateAfter(b, gc);
    const cninet = b.store.networks.byName('cninet')!.id;
    await failEachStep(b, gc, ({ fx, error, i }) => {
      assertKernelFailure(error, i);
      assert.ok(fx.store.endpoints.forNetwork(cninet).length >= 2, 'the attachment whose step failed keeps its records');
      fx.host.clearFaults();
      gc(fx.ctx);
      assertSameState(fx.state(), after, `GC again after a failure at step ${i}`);
    });
  });

  test('GC crash at every step: recovery finishes the detach under way, GC again the rest', async () => {
    const b = await base();
    const after = await stateAfter(b, gc);
    await crashEachStep(b, gc, ({ fx, i }) => {
      assert.deepEqual(fx.store.journal.list(), []);
      assertConsistent(fx.ctx);
      gc(fx.ctx);
      assertSameState(fx.state(), after, `GC again after a crash after step ${i}`);
    });
  });

  test('release (rm -f, or the runtime\'s namespace gone): every attachment of the container', async () => {
    const fx = await base();
    release(fx.ctx);
    assert.equal(fx.store.containers.byCniId('c0ffee3'), undefined);
    assert.deepEqual(fx.host.links(NS(3)).map((l) => l.name), ['lo']);
    assertConsistent(fx.ctx);
  });

  test('release failure and crash at every step: the container kept until its last attachment goes; again, it finishes', async () => {
    const b = await base();
    const after = await stateAfter(b, release);
    await failEachStep(b, release, ({ fx, error, i }) => {
      assertKernelFailure(error, i);
      assert.ok(fx.store.containers.byCniId('c0ffee3') !== undefined);
      fx.host.clearFaults();
      release(fx.ctx);
      assertSameState(fx.state(), after, `release again after a failure at step ${i}`);
    });
    await crashEachStep(b, release, ({ fx, i }) => {
      assertConsistent(fx.ctx);
      const c = fx.store.containers.byCniId('c0ffee3');
      if (c !== undefined) releaseAll(fx.ctx, c);
      assertSameState(fx.state(), after, `release again after a crash after step ${i}`);
    });
  });
});

describe('CNI CHECK: the problems of one attachment', () => {
  test('a problem on another network of the same container is not this attachment\'s', async () => {
    const fx = await runtimeFixture(1, add(1), add(1, { conf: conf('other'), ifName: 'eth1' }));
    const c = fx.store.containers.byCniId('c0ffee1')!;
    const cninet = fx.store.networks.byName('cninet')!;
    const other = fx.store.networks.byName('other')!;
    assert.deepEqual(attachmentProblems(fx.ctx, c, cninet), []);
    fx.host.net.delAddr(NS(1), 'eth1', attachment(fx.ctx, 1, 'other').endpoint.ip!, 24);
    assert.deepEqual(attachmentProblems(fx.ctx, c, cninet), []);
    assert.deepEqual(attachmentProblems(fx.ctx, c, other), ['other: eth1 lacks its address 10.78.0.2/24']);
  });

  test('selected by subject, not by message text: another network\'s problem that starts with this network\'s name is left out', async () => {
    // cninet is a prefix of cninet2: a problem "cninet2: ..." would match a text test for "cninet".
    const fx = await runtimeFixture(1, add(1), add(1, { conf: conf('cninet2'), ifName: 'eth1' }));
    const c = fx.store.containers.byCniId('c0ffee1')!;
    fx.host.net.setUp(NS(1), 'eth1', false);
    assert.deepEqual(attachmentProblems(fx.ctx, c, fx.store.networks.byName('cninet2')!), ['cninet2: eth1 is down']);
    assert.deepEqual(attachmentProblems(fx.ctx, c, fx.store.networks.byName('cninet')!), []);
  });

  test('what concerns the whole container (its default route), its own network (the bridge) and the firewall is reported', async () => {
    const fx = await runtimeFixture(1, add(1), add(1, { conf: conf('other'), ifName: 'eth1' }));
    const c = fx.store.containers.byCniId('c0ffee1')!;
    const cninet = fx.store.networks.byName('cninet')!;
    const other = fx.store.networks.byName('other')!;
    fx.host.net.delRoute(NS(1), {});
    for (const n of [cninet, other]) assert.deepEqual(attachmentProblems(fx.ctx, c, n), ['no default route via 10.77.0.1 dev eth0']);
    fx.host.net.setUp(undefined, other.bridge, false);
    assert.ok(attachmentProblems(fx.ctx, c, other).includes(`network other: bridge ${other.bridge} is down`));
    assert.ok(!attachmentProblems(fx.ctx, c, cninet).some((p) => p.startsWith('network other')), 'another network\'s bridge is not this attachment\'s');
    fx.host.nft.run('delete table bridge nsnet');
    assert.ok(attachmentProblems(fx.ctx, c, cninet).some((p) => p.startsWith('firewall: ')));
  });
});
