/**
 * isAlive (src/kernel/process.ts) holds the /proc/PID/stat file of a process it found alive and
 * reads it again at the next question: the answers are those of a fresh look — alive while it
 * runs, not alive once it has ended (the held file fails then), not alive for another start time.
 * A process of this test (sleep), no root needed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { isAlive, readStartTime } from '../../src/kernel/process.js';

test('a held /proc/PID/stat answers as a fresh look: alive, another start time, ended', async () => {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const pid = child.pid!;
    const start = readStartTime(pid);
    assert.notEqual(start, undefined);
    assert.equal(isAlive(pid, start!), true);
    assert.equal(isAlive(pid, start!), true, 'asked again: the held file');
    assert.equal(isAlive(pid, `${start}0`), false, 'another process of that PID');
    assert.equal(isAlive(pid, start!), true);
    child.kill('SIGKILL');
    await once(child, 'exit');
    assert.equal(isAlive(pid, start!), false);
    assert.equal(isAlive(pid, start!), false);
  } finally {
    child.kill('SIGKILL');
  }
});
