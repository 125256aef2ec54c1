/**
 * A host-wide mutual-exclusion lock on a file. flock(2) locks belong to the open file description,
 * so they are released by the kernel when the process dies (no stale locks after a crash or
 * kill -9), and two opens of the same file in one process also exclude each other.
 */
import * as fs from 'node:fs';
import { NsnetError } from '../core/errors.js';
import * as libc from './libc.js';

export interface Lock {
  release(): void;
}

const POLL_MS = 5;
const WAIT_NOTICE_MS = 1000;

export function acquireLock(path: string, opts: { timeoutMs: number; onWait?: () => void }): Lock {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  } catch (err) {
    throw libc.fromNodeError(`open lock file ${path}`, err, `touch ${path}`);
  }
  try {
    const start = Date.now();
    let noticed = false;
    while (!libc.flock(fd, libc.LOCK_EX | libc.LOCK_NB)) {
      const waited = Date.now() - start;
      if (waited >= opts.timeoutMs) {
        throw new NsnetError('LOCK_TIMEOUT', `another nsnet command holds the lock ${path} (waited ${waited} ms)`, {
          hint: `wait for it to finish; \`fuser -v ${path}\` shows who holds it`,
        });
      }
      if (!noticed && waited >= WAIT_NOTICE_MS) {
        noticed = true;
        opts.onWait?.();
      }
      libc.sleepSync(Math.min(POLL_MS, opts.timeoutMs - waited));
    }
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  let released = false;
  return {
    release(): void {
      if (released) return;
      released = true;
      try {
        libc.flock(fd, libc.LOCK_UN);
      } finally {
        fs.closeSync(fd); // closing alone would release it too
      }
    },
  };
}
