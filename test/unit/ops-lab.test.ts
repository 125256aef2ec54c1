/**
 * `up` and `down` of a small lab on an in-memory machine (FakeHost) and store: what a lab makes
 * and removes; failure and crash at every step. `up` is a sequence of operations (network create,
 * run, connect, the routers' own steps), each all or nothing: when one fails, what was made before
 * it stays (the lab owns it, and `up` again converges from there, as its hint says), so what is
 * held to is that the store and the machine agree, `up` again completes the lab, and `down` then
 * leaves store and machine exactly as before the first `up`. A `down` that fails keeps the records
 * of what it could not remove and reports each failure with its code.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NsnetError, NsnetErrors } from '../../src/core/errors.js';
import { down, labState, up } from '../../src/lab/up.js';
import { parseLab, type LabSpec } from '../../src/lab/spec.js';
import { check } from '../../src/ops/check.js';
import { loadView } from '../../src/dns/load.js';
import { PlanningContext } from '../../src/lab/planning.js';
import type { Context } from '../../src/ops/context.js';
import { assertSameState, codeOf, crashEachStep, failEachStep, fixture, ROOTFS, stateAfter, type Fixture, type MachineState } from '../helpers/ops-fixture.js';
import type { Store } from '../../src/store/index.js';

/**
 * Two networks (one internal); a router on both (its second address given: run, then connect),
 * forwarding, and publishing a port; a database routed to the front network through the router.
 * Every container has a --rootfs, so no /etc/netns files are written on this machine.
 */
const LAB_YAML = `
name: utlab
networks:
  front:
    subnet: 10.61.0.0/24
  back:
    subnet: 10.62.0.0/24
    internal: true
containers:
  router:
    command: [sleep, infinity]
    rootfs: ${ROOTFS}
    networks:
      front: { ip: 10.61.0.254 }
      back: { ip: 10.62.0.254 }
    ports: ["8080:80"]
    sysctls: { net.ipv4.ip_forward: 1 }
  db:
    command: [sleep, infinity]
    rootfs: ${ROOTFS}
    networks:
      back: { ip: 10.62.0.10 }
    routes:
      - { to: 10.61.0.0/24, via: 10.62.0.254 }
`;

/** The lab file parsed (once: parsing and validating costs more than an `up` on the fake machine). */
const LAB = parseLab(LAB_YAML, 'lab.yaml', 'x');
const spec = (text = LAB_YAML): LabSpec => (text === LAB_YAML ? LAB : parseLab(text, 'lab.yaml', 'x'));
const upLab = (ctx: Context): Promise<unknown> => up(ctx, spec(), { parallel: 1 });
const downLab = (ctx: Context): unknown => down(ctx, 'utlab');

/** `system check` finds nothing: the store and the machine agree. */
function assertConsistent(ctx: Context, what: string): void {
  const { differences } = check(ctx, { fix: false });
  assert.deepEqual(differences.map((d) => `${d.object}: ${d.problem}`), [], what);
}

/** The whole lab is there and running, and `up` again has nothing to do. */
async function assertComplete(fx: Fixture, what: string): Promise<void> {
  const s = labState(fx.ctx, 'utlab');
  assert.deepEqual([...s.networks.keys()].sort(), ['utlab-back', 'utlab-front'], what);
  assert.deepEqual([...s.containers].filter(([, c]) => c.running).map(([name]) => name).sort(), ['utlab-db', 'utlab-router'], what);
  assertConsistent(fx.ctx, what);
  assert.equal((await up(fx.ctx, spec())).noop, true, `${what}: up again has nothing to do`);
}

/**
 * What a failed or interrupted `up` left agrees with the records; `up` again completes the lab
 * (checked at every third step, to keep the walk fast); `down` leaves the machine as before.
 */
async function assertConverges(fx: Fixture, before: MachineState, i: number, what: string): Promise<void> {
  assertConsistent(fx.ctx, `${what}: what is left`);
  if (i % 3 === 0) {
    await up(fx.ctx, spec());
    await assertComplete(fx, `${what}, then up`);
  }
  down(fx.ctx, 'utlab');
  assertSameState(fx.state(), before, `${what}, then down`);
}

describe('lab up', () => {
  test('success: networks, containers wired as declared, router sysctl and routes, the lab\'s record', async () => {
    const fx = fixture();
    const result = await up(fx.ctx, spec());
    assert.equal(result.noop, false);
    assert.deepEqual(result.plan.createNetworks.map((n) => n.name), ['utlab-front', 'utlab-back']);
    const front = fx.store.networks.byName('utlab-front')!;
    assert.equal(front.labels['nsnet.lab'], 'utlab');
    assert.equal(fx.store.networks.byName('utlab-back')!.internal, true);
    const router = fx.store.containers.byIdOrName('utlab-router')!;
    assert.deepEqual(fx.store.endpoints.forContainer(router.id).map((e) => `${e.ifName} ${e.ip}`), ['eth0 10.61.0.254', 'eth1 10.62.0.254']);
    assert.deepEqual(fx.store.ports.forContainer(router.id).map((p) => `${p.hostPort}:${p.containerPort}`), ['8080:80']);
    assert.equal(fx.host.sysctl('net.ipv4.ip_forward', 'utlab-router'), '1');
    const db = (fx.host.snapshot().network['utlab-db'] as { routes: string[] }).routes;
    assert.deepEqual(db, ['10.61.0.0/24 via 10.62.0.254 dev eth0']);
    assert.deepEqual(fx.host.procs.snapshot(), ['container in utlab-db as db: sleep infinity', 'container in utlab-router as router: sleep infinity']);
    assert.deepEqual(Object.keys(JSON.parse(fx.store.settings.get('lab:utlab')!).containers).sort(), ['utlab-db', 'utlab-router']);
    await assertComplete(fx, 'after up');
  });

  test('a changed declaration: only what changed is made again', async () => {
    const fx = await fixture().setUp(upLab);
    const router = fx.store.containers.byIdOrName('utlab-router')!.id;
    const db = fx.store.containers.byIdOrName('utlab-db')!.id;
    const result = await up(fx.ctx, spec(LAB_YAML.replace('"8080:80"', '"8081:80"')));
    assert.deepEqual(result.plan.removeContainers, ['utlab-router']);
    assert.deepEqual(result.plan.createContainers.map((c) => c.name), ['utlab-router']);
    assert.notEqual(fx.store.containers.byIdOrName('utlab-router')!.id, router);
    assert.equal(fx.store.containers.byIdOrName('utlab-db')!.id, db, 'the database is kept');
    assertConsistent(fx.ctx, 'after the change');
  });

  test('failure at every step: what was made agrees with the records; up again completes the lab; down leaves the machine as before', async () => {
    const n = await failEachStep(fixture(), upLab, async ({ fx, before, error, i }) => {
      assert.ok(error instanceof NsnetError, `step ${i}: ${String(error)}`);
      assert.match(error.message, /injected failure/, `step ${i}`);
      await assertConverges(fx, before, i, `failure at step ${i}`);
    });
    assert.ok(n >= 20, `${n} steps`);
  });

  test('crash at every step: recovery undoes the operation under way; up again completes the lab; down leaves the machine as before', async () => {
    await crashEachStep(fixture(), upLab, async ({ fx, before, i }) => {
      assert.equal(fx.recovered.length, 1, `crash after step ${i}: ${fx.recovered.join('\n')}`);
      await assertConverges(fx, before, i, `crash after step ${i}`);
    });
  });
});

/**
 * A network's `aliases` name the container on that network only, as Compose's do; its name in
 * the file is one on every network. `api` joins both networks at run; `db` has a static address
 * on its second network, so it is run on the first and connected to the second.
 */
const ALIASES_YAML = `
name: utal
networks:
  front: { subnet: 10.63.0.0/24 }
  back: { subnet: 10.64.0.0/24, internal: true }
containers:
  api:
    command: [sleep, infinity]
    rootfs: ${ROOTFS}
    networks:
      front: { aliases: [api-front] }
      back: { aliases: [api-back] }
  db:
    command: [sleep, infinity]
    rootfs: ${ROOTFS}
    networks:
      front: { aliases: [db-front] }
      back: { ip: 10.64.0.10, aliases: [db-back] }
`;

describe('lab aliases per network', () => {
  /** The names each network's DNS answers, by network (its gateway). */
  const names = (store: Store): Record<string, string[]> => {
    const view = loadView(store, () => true, []);
    return Object.fromEntries(['10.63.0.1', '10.64.0.1'].map((g) => [g, [...(view.byGateway.get(g)?.names.keys() ?? [])].filter((n) => !/^[0-9a-f]{12}$/.test(n)).sort()]));
  };
  const expected = {
    '10.63.0.1': ['api', 'api-front', 'db', 'db-front', 'utal-api', 'utal-db'],
    '10.64.0.1': ['api', 'api-back', 'db', 'db-back', 'utal-api', 'utal-db'],
  };

  test('up: each network\'s aliases on its endpoint only, so each network\'s DNS answers its own; the name in the file on both', async () => {
    const fx = fixture();
    await up(fx.ctx, parseLab(ALIASES_YAML, 'lab.yaml', 'x'), { parallel: 1 });
    const aliasesOf = (name: string): Record<string, readonly string[]> => {
      const c = fx.store.containers.resolve(name);
      return Object.fromEntries(fx.store.endpoints.forContainer(c.id).map((e) => [fx.store.networks.get(e.networkId)!.name, e.aliases ?? []]));
    };
    assert.deepEqual(aliasesOf('utal-api'), { 'utal-front': ['api-front'], 'utal-back': ['api-back'] });
    assert.deepEqual(aliasesOf('utal-db'), { 'utal-front': ['db-front'], 'utal-back': ['db-back'] });
    assert.deepEqual(names(fx.store), expected);
    fx.close();
  });

  test('up --dry-run decides the same records (its scratch store answers the same names) and changes nothing', async () => {
    const fx = fixture();
    const before = fx.state();
    const dry = new PlanningContext({ host: fx.host, runner: fx.host, store: fx.store, root: fx.root, lockTimeoutMs: 30_000 });
    await up(dry, parseLab(ALIASES_YAML, 'lab.yaml', 'x'), { parallel: 1 });
    assert.ok(dry.planned.some((l) => /^ip netns add utal-db$/.test(l)), dry.planned.join('\n'));
    // The planning context kept its decisions in the store it was given (the CLI gives it a scratch copy).
    assert.deepEqual(names(fx.store), expected);
    assert.deepEqual(fx.host.snapshot(), before.host);
    fx.close();
  });
});

describe('lab down', () => {
  test('success: every object of the lab and its record gone; the machine as before up', async () => {
    const base = fixture();
    const before = base.state();
    await base.setUp(upLab);
    const result = down(base.ctx, 'utlab');
    assert.deepEqual(result, { containers: ['utlab-db', 'utlab-router'], networks: ['utlab-back', 'utlab-front'] });
    assert.equal(base.store.settings.get('lab:utlab'), undefined);
    assertSameState(base.state(), before, 'after up and down');
    assert.deepEqual(down(base.ctx, 'utlab'), { containers: [], networks: [] }, 'down again has nothing to do');
  });

  test('failure at every step: the records of what failed stay, each failure with its code; down again finishes', async () => {
    const base = await fixture().setUp(upLab);
    const after = await stateAfter(base, downLab);
    await failEachStep(base, downLab, ({ fx, error, i }) => {
      assert.ok(failuresOf(error).some((e) => e.code === 'KERNEL' && /injected failure/.test(e.message)), `step ${i}: ${String(error)}`);
      const owned = labState(fx.ctx, 'utlab');
      assert.ok(owned.containers.size + owned.networks.size > 0, 'what failed is still the lab\'s');
      fx.host.clearFaults();
      down(fx.ctx, 'utlab');
      assertSameState(fx.state(), after, `down again after a failure at step ${i}`);
    });
  });

  test('crash at every step: recovery finishes the removal under way; down again finishes', async () => {
    const base = await fixture().setUp(upLab);
    const after = await stateAfter(base, downLab);
    await crashEachStep(base, downLab, ({ fx, i }) => {
      down(fx.ctx, 'utlab');
      assertSameState(fx.state(), after, `down again after a crash after step ${i}`);
    });
  });

  test('every failure keeps its own code', async () => {
    const fx = await fixture().setUp(upLab);
    fx.host.failWhen((s) => s.kind === 'netns-del');
    assert.throws(
      () => downLab(fx.ctx),
      (error: unknown) => {
        assert.ok(error instanceof NsnetErrors, String(error));
        // Two namespaces that would not go, then two networks that still have containers.
        assert.deepEqual(error.errors.map(codeOf), ['KERNEL', 'KERNEL', 'IN_USE', 'IN_USE'], error.message);
        assert.match(error.message, /^down utlab: 4 problems/);
        return true;
      },
    );
  });
});

/** Each failure a command reports: the several of an NsnetErrors, or the one. */
const failuresOf = (err: unknown): NsnetError[] => (err instanceof NsnetErrors ? [...err.errors] : err instanceof NsnetError ? [err] : []);
