/**
 * `docker exec`'s process: nsenter into a running container (core/exec-spec.ts builds the argv),
 * its stdio either a pseudo-terminal whose master nsnet keeps (kernel/pty.ts) or pipes — stdin
 * only when asked for (otherwise /dev/null, as Docker's), stdout and stderr apart. Unlike the CLI's
 * `nsnet exec` (kernel/process.ts execInContainer), nothing is inherited from nsnet's own stdio:
 * the caller is a server relaying the streams to a client.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type tty from 'node:tty';
import { NsnetError } from '../core/errors.js';
import { execArgs, type ExecSpec } from '../core/exec-spec.js';
import { masterStream, openPty, openPtyIn, resizePty, type WindowSize } from './pty.js';
import { whichPath } from './which.js';

const tool = (name: string): string => whichPath(name) ?? name;

export type ExecStdio = { tty: true; size?: WindowSize | undefined } | { tty: false; stdin: boolean };

/** A started exec: its streams, its terminal (with tty), and its end. */
export interface ExecProcess {
  /** nsenter's PID on the host (Docker's exec Pid is the process's, which nsenter forks: close enough to signal). */
  pid: number;
  /** The terminal's master, both directions (tty), or nothing. */
  terminal?: tty.ReadStream;
  stdin?: Writable;
  stdout?: Readable;
  stderr?: Readable;
  /** Its exit code: 128 + the signal number when killed, as shells and Docker report it. */
  exit: Promise<number>;
  resize(size: WindowSize): void;
  kill(signal?: NodeJS.Signals): void;
}

/** Start it; rejects when nsenter itself cannot be started (a command the container lacks is exit 126/127 instead). */
export async function startExec(spec: ExecSpec, env: Readonly<Record<string, string>>, stdio: ExecStdio): Promise<ExecProcess> {
  const args = execArgs(spec, { setpriv: tool('setpriv'), chroot: tool('chroot'), nsenter: tool('nsenter'), setsid: tool('setsid') });
  const pty = !stdio.tty ? undefined : spec.ownDevpts === true && spec.rootfs !== undefined ? openPtyIn(spec.rootfs, stdio.size) : openPty(stdio.size);
  let child;
  try {
    const fds = pty === undefined ? [stdio.tty === false && stdio.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] : [pty.slave, pty.slave, pty.slave];
    child = spawn(tool('nsenter'), args, { env: { ...env }, stdio: fds as ('pipe' | 'ignore' | number)[] });
  } finally {
    // The child has its copies (or failed): nsnet keeps only the master, so the master reads EIO
    // once the container's side is all closed.
    if (pty !== undefined) fs.closeSync(pty.slave);
  }
  const exit = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : (os.constants.signals[signal] ?? 0))));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('error', (err) => reject(new NsnetError('PROCESS', `start nsenter for exec in pid ${spec.pid}: ${err.message}`, { cause: err })));
      child.once('spawn', () => resolve());
    });
  } catch (err) {
    if (pty !== undefined) fs.closeSync(pty.master);
    throw err;
  }
  const master = pty === undefined ? undefined : masterStream(pty.master);
  // Input written after the process has gone fails with EPIPE: nothing to tell anyone.
  child.stdin?.on('error', () => {});
  return {
    pid: child.pid ?? 0,
    ...(master === undefined ? {} : { terminal: master }),
    ...(child.stdin === null ? {} : { stdin: child.stdin }),
    ...(child.stdout === null ? {} : { stdout: child.stdout }),
    ...(child.stderr === null ? {} : { stderr: child.stderr }),
    exit,
    resize(size: WindowSize): void {
      if (pty !== undefined && !master!.destroyed) resizePty(pty.master, size);
    },
    kill(signal: NodeJS.Signals = 'SIGKILL'): void {
      child.kill(signal);
    },
  };
}
