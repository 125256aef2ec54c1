/**
 * Restart policies at the operations' level, on a fake machine: run records the policy and hands
 * it to the monitor, stop marks the container stopped by the user, and system boot after a reboot
 * starts again exactly the containers Docker's daemon would (always; unless-stopped unless the
 * user stopped it; on-failure when the last run was cut short), rebuilding their wiring.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { boot } from '../../src/ops/boot.js';
import { run, stop } from '../../src/ops/containers.js';
import { openMemoryStore } from '../../src/store/index.js';
import { FakeHost } from '../helpers/fake-host.js';
import { codeOf, contextOn, fixture, runInput, watchLaunches, type Fixture } from '../helpers/ops-fixture.js';

/** A reboot: no namespaces, bridges, firewall or processes; the records stay. */
const rebooted = (fx: Fixture): Fixture => fixture({ host: new FakeHost({ ipForward: '1' }), store: openMemoryStore(fx.store.serialize()), root: fx.root });

describe('run --restart', () => {
  test('the policy is recorded and given to the monitor; stop marks the container stopped by the user', async () => {
    const fx = fixture();
    const seen = watchLaunches(fx);
    await run(fx.ctx, runInput({ name: 'ut-red', restart: 'on-failure:3' }));
    const c = fx.store.containers.resolve('ut-red');
    assert.deepEqual([c.restartPolicy, c.restartMax, c.manuallyStopped], ['on-failure', 3, false]);
    assert.deepEqual(seen, [{ stateDir: fx.root + '/containers/' + c.id, restart: { name: 'on-failure', maximumRetryCount: 3 } }]);
    assert.match(c.logPath, new RegExp(`/${c.id}-json\\.log$`));
    stop(fx.ctx, ['ut-red'], 10);
    assert.equal(fx.store.containers.resolve('ut-red').manuallyStopped, true);
  });

  test("refused as Docker refuses it, with nothing made: a bad value, with --rm, and (nsnet's own) without -d", async () => {
    const fx = fixture();
    const before = fx.state();
    for (const [input, code] of [
      [{ restart: 'sometimes' }, 'INVALID_VALUE'],
      [{ restart: 'always', remove: true }, 'USAGE'],
      [{ restart: 'always', detach: false }, 'USAGE'],
    ] as const) {
      await assert.rejects(run(fx.ctx, runInput({ name: 'ut-red', ...input })), (e: unknown) => codeOf(e) === code);
    }
    assert.deepEqual(fx.state(), before);
    // --restart no goes with --rm and with a foreground run, as in Docker.
    await run(fx.ctx, runInput({ name: 'ut-red', restart: 'no', remove: true }));
  });
});

describe('system boot', () => {
  const setUp = async (): Promise<Fixture> => {
    const fx = fixture();
    for (const [name, restart] of [['ut-always', 'always'], ['ut-unless', 'unless-stopped'], ['ut-stopped', 'unless-stopped'], ['ut-fail', 'on-failure'], ['ut-no', 'no']] as const) {
      await run(fx.ctx, runInput({ name, restart }));
    }
    stop(fx.ctx, ['ut-stopped'], 10);
    return rebooted(fx);
  };

  test('after a reboot: always, unless-stopped (not the one the user stopped) and on-failure come back, rewired', async () => {
    const fx = await setUp();
    const outcome = await boot(fx.ctx);
    assert.deepEqual(outcome.failures, []);
    assert.deepEqual([...outcome.done].sort(), ['ut-always', 'ut-fail', 'ut-unless']);
    for (const name of outcome.done) {
      assert.equal(fx.store.containers.resolve(name).status, 'running');
      assert.ok(fx.host.netnsExists(name), `${name}'s namespace is made again`);
    }
    assert.equal(fx.host.netnsExists('ut-no'), false);
    assert.equal(fx.host.netnsExists('ut-stopped'), false);
    // Once more: everything that should run does; nothing else is started.
    assert.deepEqual((await boot(fx.ctx)).done, []);
  });

  test('with --dry-run: the by-hand commands of the starts, nothing changed', async () => {
    const fx = await setUp();
    const before = fx.state();
    const dry = contextOn(fx.host, fx.store, fx.root, { dryRun: true });
    await boot(dry);
    assert.ok(dry.planned.some((l) => l.startsWith('ip netns add ut-always')), dry.planned.join('\n'));
    assert.deepEqual(fx.state(), before);
  });
});
