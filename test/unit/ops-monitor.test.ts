/**
 * What nsnet makes of a detached container's monitor, on a fake machine: the record, the
 * monitor's report (ROOT/containers/ID/state.json, as native/nsnet-monitor.c writes it) and
 * whether the monitor and the container's process live give its state — exited with the code the
 * monitor recorded, restarting, running — and when the monitor is gone, a warning instead of a
 * guess. And what ps, inspect, wait and stop do with it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { statusText } from '../../src/cli/listing/ps-rows.js';
import { containerView, type LiveState } from '../../src/engine/inspect.js';
import { MONITOR_STATE_FILE, type MonitorReport } from '../../src/ops/container-state.js';
import { waitExit } from '../../src/ops/container-wait.js';
import { run, stop } from '../../src/ops/containers.js';
import { liveState, monitorWarning } from '../../src/ops/liveness.js';
import type { ContainerRecord } from '../../src/store/index.js';
import { fixture, runInput, type Fixture } from '../helpers/ops-fixture.js';

const NOW = Date.parse('2026-12-06T04:10:50Z');

interface Watched {
  fx: Fixture;
  c: () => ContainerRecord;
  init: { pid: number; startTime: string };
  monitor: { pid: number; startTime: string };
  /** Write the monitor's report, as the monitor would. */
  report(r: Partial<MonitorReport>): void;
  live(): LiveState;
}

/** A running container and a fake monitor process recorded as its monitor. */
async function watched(): Promise<Watched> {
  const fx = fixture();
  const { container } = await run(fx.ctx, runInput({ name: 'ut-red', restart: 'always' }));
  const m = fx.host.procs.start({ argv: ['nsnet-monitor'] });
  fx.store.containers.update(container.id, { monitorPid: m.pid, monitorStart: m.startTime });
  const c = (): ContainerRecord => fx.store.containers.resolve('ut-red');
  const init = { pid: c().pid!, startTime: c().pidStart! };
  const report = (r: Partial<MonitorReport>): void => {
    const full: MonitorReport = { status: 'running', pid: init.pid, pidStart: init.startTime, startedAt: '2026-12-06T04:10:40.000000000Z', finishedAt: '', exitCode: null, restartCount: 0, monitorPid: m.pid, monitorStart: m.startTime, ...r };
    fs.writeFileSync(path.join(path.dirname(c().logPath), MONITOR_STATE_FILE), JSON.stringify(full));
  };
  return { fx, c, init, monitor: { pid: m.pid, startTime: m.startTime }, report, live: () => liveState(fx.host, c()) };
}

const view = (w: Watched): { State: Record<string, unknown>; RestartCount: number } => containerView(w.c(), w.live(), []) as never;

describe("a monitored container's state", () => {
  test('exited with the code and time the monitor recorded: ps, inspect and wait say so', async () => {
    const w = await watched();
    w.report({ status: 'exited', pid: 0, pidStart: '', exitCode: 137, finishedAt: '2026-12-06T04:10:45.000000000Z' });
    w.fx.host.procs.exit(w.init.pid, 137);
    w.fx.host.procs.exit(w.monitor.pid, 0);
    assert.deepEqual([w.live().status, w.live().exitCode], ['exited', 137]);
    assert.equal(statusText(w.live(), w.c(), NOW), 'Exited (137) 5 seconds ago');
    assert.deepEqual([view(w).State['ExitCode'], view(w).State['FinishedAt'], view(w).State['Error']], [137, '2026-12-06T04:10:45.000000000Z', '']);
    assert.equal(await waitExit(w.fx.ctx, 'ut-red'), 137);
    assert.equal(monitorWarning(w.c(), w.live()), undefined);
  });

  test('restarting between runs (Docker: Running and Restarting); without its monitor it has ended', async () => {
    const w = await watched();
    w.fx.host.procs.exit(w.init.pid, 1);
    w.report({ status: 'restarting', pid: 0, pidStart: '', exitCode: 1, restartCount: 2, finishedAt: '2026-12-06T04:10:48.000000000Z' });
    assert.deepEqual([w.live().status, w.live().restarting], ['running', true]);
    assert.equal(statusText(w.live(), w.c(), NOW), 'Restarting (1) 2 seconds ago');
    assert.deepEqual([view(w).State['Status'], view(w).State['Running'], view(w).State['Restarting'], view(w).RestartCount], ['restarting', true, true, 2]);
    w.fx.host.procs.exit(w.monitor.pid, 137);
    assert.deepEqual([w.live().status, w.live().exitCode, w.live().monitorLost], ['exited', 1, true]);
    assert.match(monitorWarning(w.c(), w.live())!, /its monitor \(pid \d+\) is gone; it has ended/);
  });

  test('the monitor killed: the container runs on, with a warning; once it ends its exit code is unknown, not guessed', async () => {
    const w = await watched();
    w.report({});
    w.fx.host.procs.exit(w.monitor.pid, 137);
    assert.deepEqual([w.live().status, w.live().pid, w.live().monitorLost], ['running', w.init.pid, true]);
    assert.match(monitorWarning(w.c(), w.live())!, /^container ut-red: its monitor \(pid \d+\) is gone; it still runs, but its exit code will not be known/);
    assert.match(String(view(w).State['Error']), /monitor is gone/);
    w.fx.host.procs.exit(w.init.pid, 0);
    assert.deepEqual([w.live().status, w.live().exitCode], ['exited', null]);
    assert.equal(statusText(w.live(), w.c(), NOW), 'Exited (unknown)');
    await assert.rejects(waitExit(w.fx.ctx, 'ut-red'), /exit code is unknown: its monitor \(pid \d+\) is gone/);
  });

  test('a run that has just ended, before its live monitor has written it: still running (no flicker of an unknown exit)', async () => {
    const w = await watched();
    w.report({});
    w.fx.host.procs.exit(w.init.pid, 1);
    assert.deepEqual([w.live().status, w.live().pid, w.live().monitorLost], ['running', 0, undefined]);
  });

  test("another monitor's report (an older run's) is not this one's", async () => {
    const w = await watched();
    w.report({ status: 'exited', exitCode: 3, monitorPid: 1, monitorStart: '1' });
    assert.deepEqual([w.live().status, w.live().pid], ['running', w.init.pid]);
  });

  test('stop ends the restart loop (SIGTERM to the monitor), stops the process, records its end as stopped by the user', async () => {
    const w = await watched();
    w.report({});
    stop(w.fx.ctx, ['ut-red'], 10);
    assert.equal(w.fx.host.procs.get(w.monitor.pid)?.alive, false, 'the monitor had SIGTERM');
    assert.equal(w.fx.host.procs.get(w.init.pid)?.alive, false);
    assert.deepEqual([w.c().status, w.c().exitCode, w.c().manuallyStopped], ['exited', 143, true]);
  });

  test('stop while the monitor was already starting a restart: that run is stopped too', async () => {
    const w = await watched();
    w.fx.host.procs.exit(w.init.pid, 1);
    w.report({ status: 'restarting', pid: 0, pidStart: '', exitCode: 1, restartCount: 1 });
    // The monitor has forked the next run when SIGTERM comes: that run goes on to its command.
    const next = w.fx.host.procs.start({ argv: ['sleep', '1000'], netns: 'ut-red' });
    const signal = w.fx.host.sendSignal.bind(w.fx.host);
    w.fx.host.sendSignal = (pid, startTime, sig) => {
      if (pid === w.monitor.pid) return w.report({ status: 'running', pid: next.pid, pidStart: next.startTime, restartCount: 1 });
      signal(pid, startTime, sig);
    };
    stop(w.fx.ctx, ['ut-red'], 10);
    assert.equal(w.fx.host.procs.get(next.pid)?.alive, false, 'the run the monitor started is stopped');
    assert.deepEqual([w.c().status, w.c().manuallyStopped], ['exited', true]);
  });
});
