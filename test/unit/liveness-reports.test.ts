/**
 * liveState keeps a monitor's report that names a running process while that process lives
 * (src/ops/liveness.ts), so ps reads no file per container: a run that ends, a restart and a new
 * run, and the end are each seen at the next look, never a kept report of a run that has ended.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { MONITOR_STATE_FILE, type MonitorReport } from '../../src/ops/container-state.js';
import { run } from '../../src/ops/containers.js';
import { liveState } from '../../src/ops/liveness.js';
import { fixture, runInput } from '../helpers/ops-fixture.js';

test("a kept report goes with its run: restarting, the next run's process, the end", async () => {
  const fx = fixture();
  const { container } = await run(fx.ctx, runInput({ name: 'ut-kept', restart: 'always' }));
  const monitor = fx.host.procs.start({ argv: ['nsnet-monitor'] });
  fx.store.containers.update(container.id, { monitorPid: monitor.pid, monitorStart: monitor.startTime });
  const c = () => fx.store.containers.resolve('ut-kept');
  const first = { pid: c().pid!, startTime: c().pidStart! };
  const write = (r: Partial<MonitorReport>): void => {
    const full: MonitorReport = { status: 'running', pid: first.pid, pidStart: first.startTime, startedAt: '2026-12-06T04:10:40.000000000Z', finishedAt: '', exitCode: null, restartCount: 0, monitorPid: monitor.pid, monitorStart: monitor.startTime, ...r };
    fs.writeFileSync(path.join(path.dirname(c().logPath), MONITOR_STATE_FILE), JSON.stringify(full));
  };
  const live = () => liveState(fx.host, c());

  write({});
  assert.deepEqual([live().status, live().pid, live().restartCount], ['running', first.pid, 0]);
  // The run ends; the monitor writes that it restarts.
  fx.host.procs.exit(first.pid, 1);
  write({ status: 'restarting', pid: 0, pidStart: '', exitCode: 1, restartCount: 1 });
  assert.deepEqual([live().status, live().restarting, live().exitCode], ['running', true, 1]);
  // The next run.
  const next = fx.host.procs.start({ argv: ['sleep', '1000'], netns: c().netns });
  write({ pid: next.pid, pidStart: next.startTime, restartCount: 1 });
  assert.deepEqual([live().status, live().pid, live().restartCount], ['running', next.pid, 1]);
  assert.deepEqual([live().status, live().pid], ['running', next.pid], 'asked again: the kept report');
  // It ends for good.
  fx.host.procs.exit(next.pid, 0);
  write({ status: 'exited', pid: 0, pidStart: '', exitCode: 0, restartCount: 1, finishedAt: '2026-12-06T04:10:50.000000000Z' });
  assert.deepEqual([live().status, live().exitCode, live().finishedAt], ['exited', 0, '2026-12-06T04:10:50.000000000Z']);
});
