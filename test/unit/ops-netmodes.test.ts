/**
 * run --network host | none | container:NAME on a fake machine: what each makes (and what it never
 * touches: the host's namespace, a joined one), Docker's refusals, start and rm of each, and that a
 * failure at any step (or a crash after it) leaves nothing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { remove, run, start, stop } from '../../src/ops/containers.js';
import { connect, createNetwork } from '../../src/ops/networks.js';
import { reset } from '../../src/ops/system.js';
import { check } from '../../src/ops/check.js';
import { containerMode } from '../../src/engine/netmode.js';
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
  type Op,
} from '../helpers/ops-fixture.js';

const runAs = (name: string, network: string, extra: Partial<Parameters<typeof runInput>[0]> = {}): Op => (ctx) => run(ctx, runInput({ name, networks: [network], ...extra }));

async function refusal(op: Op, message: RegExp | string): Promise<void> {
  const fx = fixture();
  await run(fx.ctx, runInput({ name: 'ut-web' }));
  const before = stateOf(fx);
  await assert.rejects(async () => op(fx.ctx), (err: Error) => {
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
  assert.deepEqual(stateOf(fx), before, 'a refused run changes nothing');
}

describe('run --network host', () => {
  test('no namespace, no link, no step: the process runs in the host namespace', async () => {
    const fx = fixture();
    const before = fx.host.snapshot();
    const { container: c } = await run(fx.ctx, runInput({ name: 'ut-h', networks: ['host'] }));
    assert.equal(c.networkMode, 'host');
    assert.equal(c.netns, '');
    assert.equal(fx.store.containers.resolve('ut-h').status, 'running');
    assert.deepEqual(fx.store.endpoints.forContainer(c.id), []);
    assert.deepEqual(fx.store.networks.list(), [], 'the default network is not made for it');
    const after = fx.host.snapshot();
    assert.deepEqual(after.processes, ['container in host as ut-h: sleep 1000']);
    assert.deepEqual({ ...after, processes: [] }, { ...before, processes: [] }, 'nothing else changed on the machine');
  });

  test('rm kills its process by PID and deletes no namespace; other processes of the host live on', async () => {
    const fx = fixture();
    await run(fx.ctx, runInput({ name: 'ut-h', networks: ['host'] }));
    await run(fx.ctx, runInput({ name: 'ut-other', networks: ['host'] }));
    remove(fx.ctx, ['ut-h'], { force: true });
    assert.deepEqual(fx.host.snapshot().processes, ['container in host as ut-other: sleep 1000']);
    assert.ok(!fx.host.log.some((l) => l.startsWith('apply netns-del')), 'no namespace deleted');
    assert.equal(fx.store.containers.byIdOrName('ut-h'), undefined);
  });

  test('stop then start: started again without a step', async () => {
    const fx = fixture();
    await run(fx.ctx, runInput({ name: 'ut-h', networks: ['host'] }));
    stop(fx.ctx, ['ut-h'], 0);
    await start(fx.ctx, ['ut-h']);
    assert.equal(fx.store.containers.resolve('ut-h').status, 'running');
    assert.deepEqual(fx.host.snapshot().processes, ['container in host as ut-h: sleep 1000']);
  });

  test('-p is discarded with Docker\'s warning', async () => {
    const fx = fixture();
    const { container: c } = await run(fx.ctx, runInput({ name: 'ut-h', networks: ['host'], publish: ['8080:80'] }));
    assert.deepEqual(fx.store.ports.forContainer(c.id), []);
    assert.ok(fx.warnings.some((w) => w.includes('Published ports are discarded when using host network mode')), fx.warnings.join('\n'));
  });

  test('system reset kills it by PID and leaves the host namespace alone', async () => {
    const fx = fixture();
    await run(fx.ctx, runInput({ name: 'ut-h', networks: ['host'] }));
    reset(fx.ctx);
    assert.deepEqual(fx.host.snapshot().processes, []);
    assert.ok(!fx.host.log.some((l) => l.startsWith('apply netns-del')));
    assert.deepEqual(fx.store.containers.list(), []);
  });
});

describe('run --network none', () => {
  test('its own namespace with lo up and nothing else', async () => {
    const fx = fixture();
    const { container: c } = await run(fx.ctx, runInput({ name: 'ut-n', networks: ['none'] }));
    assert.equal(c.networkMode, 'none');
    assert.equal(c.netns, '/run/netns/ut-n');
    assert.ok(fx.host.netnsExists('ut-n'));
    assert.deepEqual(fx.host.links('ut-n').map((l) => `${l.name} ${l.up ? 'up' : 'down'}`), ['lo up']);
    assert.deepEqual(fx.store.networks.list(), []);
    remove(fx.ctx, ['ut-n'], { force: true });
    assert.ok(!fx.host.netnsExists('ut-n'));
  });

  test('failure at every step leaves nothing', async () => {
    const n = await failEachStep(fixture(), runAs('ut-n', 'none'), assertUndone);
    assert.ok(n >= 2, `${n} steps`);
  });

  test('crash after every step: the next process undoes it', async () => {
    await crashEachStep(fixture(), runAs('ut-n', 'none'), assertRecoveredAsBefore('run'));
  });
});

describe('run --network container:NAME', () => {
  const withWeb = async () => fixture().setUp(async (ctx) => {
    createNetwork(ctx, { name: 'ut-study', subnet: '10.0.0.0/24' });
    await run(ctx, runInput({ name: 'ut-web', networks: ['ut-study'] }));
  });

  test('joins the running container\'s namespace: no step, its hostname, the joined id recorded', async () => {
    const fx = await withWeb();
    const web = fx.store.containers.resolve('ut-web');
    const steps = fx.host.log.length;
    const { container: c } = await run(fx.ctx, runInput({ name: 'ut-side', networks: ['container:ut-web'] }));
    assert.equal(c.networkMode, containerMode(web.id));
    assert.equal(c.netns, '/run/netns/ut-web');
    assert.equal(c.hostname, web.hostname);
    assert.deepEqual(fx.host.log.slice(steps).filter((l) => l.startsWith('apply')), []);
    // Both processes in ut-web's namespace, both with its hostname: the joined one's and the joiner's.
    assert.deepEqual(fx.host.snapshot().processes.filter((p) => p === 'container in ut-web as ut-web: sleep 1000').length, 2);
  });

  test('rm of the joiner leaves the joined namespace and its process', async () => {
    const fx = await withWeb();
    await run(fx.ctx, runInput({ name: 'ut-side', networks: ['container:ut-web'] }));
    remove(fx.ctx, ['ut-side'], { force: true });
    assert.ok(fx.host.netnsExists('ut-web'));
    assert.deepEqual(fx.host.snapshot().processes, ['container in ut-web as ut-web: sleep 1000']);
  });

  test('rm -f of the joined container is refused while a joiner runs, allowed once it is stopped', async () => {
    const fx = await withWeb();
    await run(fx.ctx, runInput({ name: 'ut-side', networks: ['container:ut-web'] }));
    const before = stateOf(fx);
    assert.throws(() => remove(fx.ctx, ['ut-web'], { force: true }), (err: Error) => codeOf(err) === 'IN_USE' && /in use by running container ut-side/.test(err.message));
    assert.deepEqual(stateOf(fx), before);
    stop(fx.ctx, ['ut-side'], 0);
    remove(fx.ctx, ['ut-web'], { force: true });
    await assert.rejects(start(fx.ctx, ['ut-side']), /cannot join network of a non running container/);
  });

  test('the joined container must run, as in Docker', async () => {
    const fx = await withWeb();
    stop(fx.ctx, ['ut-web'], 0);
    const before = stateOf(fx);
    await assert.rejects(run(fx.ctx, runInput({ name: 'ut-side', networks: ['container:ut-web'] })), /^Error: cannot join network of a non running container: ut-web$|cannot join network of a non running container: ut-web/);
    assert.deepEqual(stateOf(fx), before);
  });

  test('network connect of a joiner is refused as Docker refuses it', async () => {
    const fx = await withWeb();
    await run(fx.ctx, runInput({ name: 'ut-side', networks: ['container:ut-web'] }));
    assert.throws(() => connect(fx.ctx, 'ut-study', 'ut-side', {}), /container sharing network namespace with another container or host cannot be connected to any other network/);
  });
});

describe('refusals, with Docker\'s messages, change nothing', () => {
  const cases: Array<[string, Op, string]> = [
    ['--ip with host', runAs('ut-x', 'host', { ip: '10.0.0.5' }), 'user specified IP address is supported on user defined networks only'],
    ['--ip with none', runAs('ut-x', 'none', { ip: '10.0.0.5' }), 'user specified IP address is supported on user defined networks only'],
    ['--ip6 with host', runAs('ut-x', 'host', { ip6: '2001:db8::5' }), 'user specified IP address is supported on user defined networks only'],
    ['--ip6 with none', runAs('ut-x', 'none', { ip6: '2001:db8::5' }), 'user specified IP address is supported on user defined networks only'],
    ['--ip6 with container:', runAs('ut-x', 'container:ut-web', { ip6: '2001:db8::5' }), 'user specified IP address is supported on user defined networks only'],
    ['--mac-address with host', runAs('ut-x', 'host', { mac: '02:42:ac:11:00:99' }), 'conflicting options: mac-address and the network mode'],
    ['-p with container:', runAs('ut-x', 'container:ut-web', { publish: ['8080:80'] }), 'conflicting options: port publishing and the container type network mode'],
    ['--hostname with container:', runAs('ut-x', 'container:ut-web', { hostname: 'x' }), 'conflicting options: hostname and the network mode'],
    ['container: without a name', runAs('ut-x', 'container:'), 'Invalid network mode: invalid container format container:<name|id>'],
    ['--network-alias with none', runAs('ut-x', 'none', { dns: { servers: [], search: [], options: [], extraHosts: [], aliases: ['a'] } }), 'network-scoped alias is supported only for containers in user defined networks'],
    ['host and a network', (ctx) => run(ctx, runInput({ name: 'ut-x', networks: ['host', 'bridge'] })), 'conflicting options: cannot attach both user-defined and non-user-defined network-modes'],
  ];
  for (const [what, op, message] of cases) test(what, async () => refusal(op, message));
});

describe('each mode: a process that cannot start leaves nothing, and check finds nothing wrong', () => {
  const withWeb = async () => fixture().setUp(async (ctx) => {
    await run(ctx, runInput({ name: 'ut-web' }));
  });
  for (const network of ['host', 'none', 'container:ut-web']) {
    test(`--network ${network}: launch failure undone`, async () => {
      const fx = await withWeb();
      const before = stateOf(fx);
      fx.host.procs.failNextLaunch();
      await assert.rejects(run(fx.ctx, runInput({ name: 'ut-m', networks: [network] })), /injected failure/);
      assert.deepEqual(stateOf(fx), before);
    });
    test(`--network ${network}: system check reports nothing, and the joined/host namespace is never a leftover`, async () => {
      const fx = await withWeb();
      await run(fx.ctx, runInput({ name: 'ut-m', networks: [network] }));
      const found = (): string[] => check(fx.ctx, { fix: false }).differences.map((d) => JSON.stringify(d));
      assert.deepEqual(found(), []);
      stop(fx.ctx, ['ut-m'], 0);
      assert.deepEqual(found(), []);
    });
  }

  test('--dry-run prints the start line without `ip netns exec` for host, with the joined name for container:', async () => {
    const fx = await withWeb();
    const dry = fx.twin();
    const planned = async (network: string): Promise<string> => {
      const ctx = contextOn(dry.host, dry.store, dry.root, { dryRun: true });
      await run(ctx, runInput({ name: 'ut-m', networks: [network] }));
      return ctx.planned.join('\n');
    };
    assert.match(await planned('host'), /^unshare --uts --ipc /m);
    assert.match(await planned('container:ut-web'), /^ip netns exec ut-web unshare /m);
  });
});

describe('removal of each mode: failure and crash at every step, reset', () => {
  const withNone = async () => fixture().setUp(async (ctx) => {
    await run(ctx, runInput({ name: 'ut-n', networks: ['none'] }));
  });
  const rmNone: Op = (ctx) => remove(ctx, ['ut-n'], { force: true });

  test('rm of a none container: a failed step keeps the records, rm again finishes', async () => {
    const base = await withNone();
    const removed = await stateAfter(base, rmNone);
    const n = await failEachStep(base, rmNone, assertKept('rm ut-n', { op: rmNone, removed }));
    assert.ok(n >= 1);
  });

  test('rm of a none container: a crash after every step is finished by recovery', async () => {
    const base = await withNone();
    await crashEachStep(base, rmNone, assertFinishedAs('rm ut-n', await stateAfter(base, rmNone)));
  });

  test('system reset with a joined container, its joiner and a host-mode one: every process gone, the joined namespace deleted once, nothing else', async () => {
    const fx = await fixture().setUp(async (ctx) => {
      await run(ctx, runInput({ name: 'ut-web' }));
      await run(ctx, runInput({ name: 'ut-side', networks: ['container:ut-web'] }));
      await run(ctx, runInput({ name: 'ut-h', networks: ['host'] }));
    });
    const from = fx.host.log.length;
    reset(fx.ctx);
    assert.deepEqual(fx.host.snapshot().processes, []);
    assert.deepEqual(fx.host.log.slice(from).filter((l) => l === 'apply netns-del'), ['apply netns-del']);
    assert.ok(!fx.host.netnsExists('ut-web'));
    assert.deepEqual(fx.store.containers.list(), []);
  });
});
