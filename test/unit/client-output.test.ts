/**
 * Where a command served by the nsnet service writes (src/cli/client-output.ts): a memory file
 * copied to the client's descriptors, so that a client that does not read holds nobody else.
 * Files and FIFOs in a temporary directory; no root needed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { ClientOutput, unsettledCopies } from '../../src/cli/client-output.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-client-output-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A FIFO whose read end the test holds, non-blocking, and a blocking write end for the "client". */
function fifo(): { reader: number; writer: number; readAll: () => Promise<Buffer> } {
  const p = path.join(dir, `fifo${n++}`);
  assert.equal(spawnSync('mkfifo', [p]).status, 0, 'mkfifo');
  const reader = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const writer = fs.openSync(p, 'w');
  return {
    reader,
    writer,
    readAll: async () => {
      const chunks: Buffer[] = [];
      const buf = Buffer.alloc(1 << 16);
      for (;;) {
        let got: number;
        try {
          got = fs.readSync(reader, buf);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
          await sleep(5);
          continue;
        }
        if (got === 0) return Buffer.concat(chunks);
        chunks.push(Buffer.from(buf.subarray(0, got)));
      }
    },
  };
}

/** Writes as a command would, to its descriptor 1 or 2 in turn; then the command ends. */
async function command(o: ClientOutput, writes: ReadonlyArray<[0 | 1, string]>): Promise<void> {
  for (const [i, text] of writes) fs.writeSync(o.targets[i], text);
  await o.finish();
}

test('stdout and stderr to two pipes: a memory file each, and each pipe gets what was written to it', async () => {
  const [out, err] = [fifo(), fifo()];
  const o = new ClientOutput(out.writer, err.writer, 10);
  assert.equal(o.size, 2);
  assert.notEqual(o.targets[0], o.targets[1]);
  const read = [out.readAll(), err.readAll()];
  await command(o, [[0, 'one\n'], [1, 'oops\n'], [0, 'two\n']]);
  assert.deepEqual((await Promise.all(read)).map(String), ['one\ntwo\n', 'oops\n']);
  assert.throws(() => fs.fstatSync(out.writer), /EBADF/, 'the client\'s descriptors are closed once written');
  assert.equal(unsettledCopies(), 0);
});

test('stdout and stderr that are one pipe (2>&1) share one memory file: their interleaving is kept', async () => {
  const f = fifo();
  const o = new ClientOutput(f.writer, fs.openSync(`/proc/self/fd/${f.writer}`, 'w'), 10);
  assert.equal(o.size, 1);
  assert.equal(o.targets[0], o.targets[1]);
  const read = f.readAll();
  await command(o, [[1, 'warning\n'], [0, 'id\n'], [1, 'error\n']]);
  assert.equal(String(await read), 'warning\nid\nerror\n');
});

test('a regular file and /dev/null are written directly: a write to them never waits', async () => {
  const file = path.join(dir, 'direct');
  const out = fs.openSync(file, 'w');
  const nul = fs.openSync('/dev/null', 'w');
  const o = new ClientOutput(out, nul, 10);
  assert.equal(o.size, 0);
  assert.deepEqual(o.targets, [out, nul]);
  await command(o, [[0, 'one\n'], [1, 'gone\n'], [0, 'two\n']]);
  assert.equal(fs.readFileSync(file, 'utf8'), 'one\ntwo\n');
  assert.throws(() => fs.fstatSync(out), /EBADF/);
});

test('a pipe nobody reads: the event loop goes on, and the output is all there once it is read', async () => {
  const f = fifo();
  const err = fs.openSync(path.join(dir, 'err2'), 'w');
  const o = new ClientOutput(f.writer, err, 10);
  const big = Buffer.alloc(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251;
  fs.writeSync(o.targets[0], big);
  let finished = false;
  const done = o.finish().then(() => (finished = true));
  // Timers keep firing while 1 MiB waits on a 64 KiB pipe nobody reads.
  let ticks = 0;
  for (let i = 0; i < 5; i++) {
    await sleep(20);
    ticks++;
  }
  assert.equal(ticks, 5);
  assert.equal(finished, false, 'not finished while the pipe is full');
  assert.equal(unsettledCopies(), 1, 'the stdout copy still waits (stderr, a file, is written directly)');
  const read = f.readAll();
  await done;
  const got = await read;
  assert.equal(got.length, big.length);
  assert.ok(got.equals(big), 'byte for byte');
  fs.closeSync(f.reader);
});

test('a reader that went away (EPIPE) ends the copy quietly', async () => {
  const f = fifo();
  const o = new ClientOutput(f.writer, fs.openSync(path.join(dir, 'err3'), 'w'), 10);
  fs.writeSync(o.targets[0], Buffer.alloc(256 << 10, 'x'));
  const done = o.finish();
  await sleep(20);
  fs.closeSync(f.reader);
  await done;
  assert.equal(unsettledCopies(), 0);
});

test('output written while the command runs reaches the client before it ends', async () => {
  const f = fifo();
  const o = new ClientOutput(f.writer, fs.openSync(path.join(dir, 'err4'), 'w'), 5);
  fs.writeSync(o.targets[0], 'progress 1/2\n');
  const buf = Buffer.alloc(64);
  let got = '';
  for (let i = 0; i < 400 && got === ''; i++) {
    await sleep(5);
    try {
      got = buf.subarray(0, fs.readSync(f.reader, buf)).toString();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
  }
  assert.equal(got, 'progress 1/2\n');
  fs.writeSync(o.targets[0], 'progress 2/2\n');
  const rest = f.readAll();
  await o.finish();
  assert.equal((await rest).toString(), 'progress 2/2\n');
  fs.closeSync(f.reader);
});
