/**
 * isAlive (src/kernel/process.ts) answers the same whether it looks at /proc each time (a
 * short-lived command) or holds a pidfd of a process it found alive (holdLiveProcesses: nsnet
 * serve, the service): alive while it runs, not alive once it has ended (a zombie too, before
 * anyone reaps it), not alive for another start time, and nothing held once holding is off.
 * Processes of this test (sleep, sh), no root needed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import { test } from 'node:test';
import { holdLiveProcesses, isAlive, readStartTime, withLivenessSnapshot } from '../../src/kernel/process.js';
import { closePidfd, openPidfd, pidfdsExited } from '../../src/kernel/pidfd.js';

/** Descriptors of this process that are pidfds (their link reads anon_inode:[pidfd]). */
function pidfdsHeld(): number {
  return fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[pidfd]';
    } catch {
      return false;
    }
  }).length;
}

for (const holding of [false, true]) {
  const mode = holding ? 'held by pidfd' : 'looked up in /proc each time';
  test(`${mode}: alive, asked again, another start time, ended`, async () => {
    holdLiveProcesses(holding);
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const pid = child.pid!;
      const start = readStartTime(pid);
      assert.notEqual(start, undefined);
      assert.equal(isAlive(pid, start!), true);
      assert.equal(isAlive(pid, start!), true, 'asked again');
      assert.equal(pidfdsHeld(), holding ? 1 : 0);
      assert.equal(isAlive(pid, `${start}0`), false, 'another process of that PID');
      assert.equal(isAlive(pid, start!), true);
      child.kill('SIGKILL');
      await once(child, 'exit');
      assert.equal(isAlive(pid, start!), false);
      assert.equal(isAlive(pid, start!), false);
      assert.equal(pidfdsHeld(), 0, 'the pidfd of an ended process is closed');
    } finally {
      child.kill('SIGKILL');
      holdLiveProcesses(false);
    }
  });

  test(`${mode}: a process that has exited but is not reaped yet (a zombie) is not alive`, async () => {
    holdLiveProcesses(holding);
    // sh starts `sleep 0.3` and becomes `sleep 60`, which never waits: the short sleep stays a zombie.
    const parent = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
      const pid = Number(line.toString().trim());
      const start = readStartTime(pid);
      assert.notEqual(start, undefined);
      assert.equal(isAlive(pid, start!), true);
      const deadline = Date.now() + 10_000;
      while (!/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))) {
        assert.ok(Date.now() < deadline, 'the short sleep did not end within 10 s');
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(isAlive(pid, start!), false, 'a zombie');
    } finally {
      parent.kill('SIGKILL');
      holdLiveProcesses(false);
    }
  });
}

test('holding off closes every pidfd held', async () => {
  holdLiveProcesses(true);
  const children = [spawn('sleep', ['60'], { stdio: 'ignore' }), spawn('sleep', ['60'], { stdio: 'ignore' })];
  try {
    for (const c of children) assert.equal(isAlive(c.pid!, readStartTime(c.pid!)!), true);
    assert.equal(pidfdsHeld(), 2);
    holdLiveProcesses(false);
    assert.equal(pidfdsHeld(), 0);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    holdLiveProcesses(false);
  }
});

test('openPidfd of a PID nobody has is undefined', () => {
  // pid_max is at most 2^22: this PID cannot exist.
  assert.equal(openPidfd(4_194_305), undefined);
});

test('a liveness snapshot answers for every held process from one poll: the ended one ended, the others alive, new ones looked at', async () => {
  holdLiveProcesses(true);
  const [a, b, c] = [0, 1, 2].map(() => spawn('sleep', ['60'], { stdio: 'ignore' }));
  try {
    const start = (p: typeof a): string => readStartTime(p!.pid!)!;
    const [sa, sb, sc] = [start(a), start(b), start(c)];
    assert.equal(isAlive(a!.pid!, sa), true);
    assert.equal(isAlive(b!.pid!, sb), true);
    b!.kill('SIGKILL');
    await once(b!, 'exit');
    const seen = withLivenessSnapshot(() => [isAlive(a!.pid!, sa), isAlive(b!.pid!, sb), isAlive(c!.pid!, sc), isAlive(c!.pid!, sc), isAlive(a!.pid!, `${sa}0`)]);
    assert.deepEqual(seen, [true, false, true, true, false], 'a alive, b ended, c (not held before) alive twice, another start time not');
    assert.equal(pidfdsHeld(), 2, 'a and c held, b released');
    a!.kill('SIGKILL');
    await once(a!, 'exit');
    assert.equal(withLivenessSnapshot(() => isAlive(a!.pid!, sa)), false, 'each snapshot is taken anew');
  } finally {
    for (const p of [a, b, c]) p!.kill('SIGKILL');
    holdLiveProcesses(false);
  }
});

test('pidfdsExited: nothing for no descriptor, undefined for one that is not a pidfd', () => {
  assert.deepEqual(pidfdsExited([]), []);
  const fd = openPidfd(process.pid)!;
  assert.deepEqual(pidfdsExited([fd]), [false]);
  closePidfd(fd);
  const notOpen = fs.openSync('/dev/null', 'r');
  fs.closeSync(notOpen);
  assert.deepEqual(pidfdsExited([notOpen]), [undefined], 'a closed descriptor (POLLNVAL) cannot tell');
});
