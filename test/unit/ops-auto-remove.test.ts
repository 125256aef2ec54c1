/**
 * run -d --rm (Docker's AutoRemove) at the operations' level, on a fake machine: the monitor is
 * told to have the container removed (native/nsnet-monitor.c does it; test/integration/monitor.test.ts
 * on the real kernel), the removal it runs (rm -f --auto-remove MONITOR) removes only a container
 * whose last run under that monitor has ended, and --rm with a restart policy is refused; the
 * monitor's command line for it.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { create, parseMonitorRef, removeEach, run } from '../../src/ops/containers.js';
import { monitorArgv, removalEnv } from '../../src/kernel/monitor.js';
import { codeOf, fixture, runInput, watchLaunches, type Fixture } from '../helpers/ops-fixture.js';

describe('run -d --rm', () => {
  test('the monitor is told to have the container removed, in this state root, failures to the service log; without --rm it is not', async () => {
    const fx = fixture();
    const seen = watchLaunches(fx);
    await run(fx.ctx, runInput({ name: 'ut-rm', remove: true }));
    await run(fx.ctx, runInput({ name: 'ut-keep' }));
    const c = fx.store.containers.resolve('ut-rm');
    assert.equal(c.autoRemove, true);
    assert.deepEqual(seen[0]?.removeOnExit, { containerId: c.id, root: fx.root, logPath: path.join(fx.root, 'service', 'service.log') });
    assert.equal('removeOnExit' in seen[1]!, false);
  });

  test('--rm with a restart policy is refused (run and create), nothing made', async () => {
    const fx = fixture();
    const before = fx.state();
    await assert.rejects(run(fx.ctx, runInput({ name: 'ut-rm', remove: true, restart: 'always' })), (e: unknown) => codeOf(e) === 'USAGE');
    await assert.rejects(create(fx.ctx, runInput({ name: 'ut-rm', remove: true, restart: 'on-failure' })), (e: unknown) => codeOf(e) === 'USAGE');
    await assert.rejects(create(fx.ctx, runInput({ name: 'ut-rm', autoRemove: true, restart: 'unless-stopped' })), /Conflicting options: --restart and --rm/);
    assert.deepEqual(fx.state(), before);
  });
});

describe('rm --auto-remove MONITOR (what the monitor runs)', () => {
  const monitor = { pid: 4242, start: '777' };
  const ended = async (fx: Fixture, name: string, m: { pid: number; start: string }): Promise<string> => {
    await run(fx.ctx, runInput({ name, remove: true }));
    const c = fx.store.containers.resolve(name);
    fx.store.tx(() => fx.store.containers.update(c.id, { status: 'exited', exitCode: 3, monitorPid: m.pid, monitorStart: m.start }));
    return c.id;
  };

  test('removes a container whose last run, under that monitor, has ended', async () => {
    const fx = fixture();
    const id = await ended(fx, 'ut-rm', monitor);
    const out = removeEach(fx.ctx, [id], { force: true, endedUnder: monitor });
    assert.deepEqual(out.done, ['ut-rm']);
    assert.equal(fx.store.containers.get(id), undefined);
  });

  test('leaves one started again under another monitor, and finds nothing wrong with one already gone', async () => {
    const fx = fixture();
    const id = await ended(fx, 'ut-again', { pid: 5151, start: '888' });
    const out = removeEach(fx.ctx, [id, 'f'.repeat(64)], { force: true, endedUnder: monitor });
    assert.deepEqual([out.done, out.failures], [[], []]);
    assert.notEqual(fx.store.containers.get(id), undefined);
  });

  test('leaves one still running under that monitor', async () => {
    const fx = fixture();
    await run(fx.ctx, runInput({ name: 'ut-live', remove: true }));
    const c = fx.store.containers.resolve('ut-live');
    fx.store.tx(() => fx.store.containers.update(c.id, { monitorPid: monitor.pid, monitorStart: monitor.start }));
    // A live process and no report from the (fake) monitor: it runs.
    const out = removeEach(fx.ctx, [c.id], { force: true, endedUnder: monitor });
    assert.deepEqual(out.done, []);
    assert.notEqual(fx.store.containers.get(c.id), undefined);
  });

  test('PID:START, or a clear error', () => {
    assert.deepEqual(parseMonitorRef('4242:777'), monitor);
    for (const bad of ['4242', '0:1', 'x:1', '1:', '1:2:3']) assert.throws(() => parseMonitorRef(bad), new RegExp(`invalid --auto-remove "${bad}": expected a monitor as PID:START`));
  });
});

describe("the monitor's command line for --rm", () => {
  const spec = { netns: '/run/netns/ut-rm', hostname: 'ut-rm', argv: ['sleep', '1000'], env: { PATH: '/bin' } };
  const opts = { stateDir: '/r/containers/abc', restart: { name: 'no' as const, maximumRetryCount: 0 }, removeOnExit: { containerId: 'abc', root: '/r', logPath: '/r/service/service.log' } };

  test('this nsnet (bin/nsnet beside the bundle), the state root, the host namespaces and the log, before the command', () => {
    const argv = monitorArgv(spec, '/r/containers/abc/abc-json.log', opts, undefined, ['/proc/1/fd/40', '/proc/1/fd/41', '/proc/1/fd/42']);
    const at = (flag: string): string | undefined => argv[argv.indexOf(flag) + 1];
    assert.equal(at('--remove-on-exit'), 'abc');
    assert.match(at('--nsnet')!, /\/bin\/nsnet$/);
    assert.ok(path.isAbsolute(at('--nsnet')!));
    assert.deepEqual([at('--root'), at('--host-ns'), at('--remove-log')], ['/r', '/proc/1/fd/40,/proc/1/fd/41,/proc/1/fd/42', '/r/service/service.log']);
    assert.ok(argv.indexOf('--remove-on-exit') < argv.indexOf('--'), 'options come before the command');
    assert.equal(monitorArgv(spec, '/l', { ...opts, removeOnExit: undefined }).includes('--remove-on-exit'), false);
  });

  test("the removal's environment: PATH and NSNET_* switches, not the root (given as --root), an injected fault or the container's", () => {
    const env = removalEnv({ PATH: '/usr/bin', NSNET_SERVICE: 'off', NSNET_ROOT: '/r', NSNET_FAULT: 'x', NSNET_LOCK_TIMEOUT_MS: '200', HOME: '/root', HOSTNAME: 'ut-rm' });
    assert.deepEqual(env.sort(), ['NSNET_LOCK_TIMEOUT_MS=200', 'NSNET_SERVICE=off', 'PATH=/usr/bin']);
  });
});
