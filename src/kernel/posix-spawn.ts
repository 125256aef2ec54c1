/**
 * Starting a detached helper (a container's monitor) with posix_spawn(3) instead of Node's
 * child_process. libuv (1.46, Node 20) forks the whole process, which copies its page tables: the
 * longer a process lives and the more it holds, the more a start costs — 2.5 ms in the nsnet
 * service (64 MB) on a quiet machine, 9 ms at 106 MB under load. glibc's posix_spawn uses
 * clone(CLONE_VM | CLONE_VFORK) and costs 0.2 ms whatever the size.
 *
 * The child gets what Node's spawn(file, argv, { env, cwd, detached: true, stdio: ['ignore',
 * 'pipe', 'ignore'] }) gives it: every signal at its default and none blocked (Node itself
 * ignores SIGPIPE), its own session, the working directory, exactly the environment given, stdin
 * and stderr on /dev/null, stdout a pipe to this process, and no other descriptor (closefrom 3:
 * Node's spawn would pass on any descriptor opened without close-on-exec). The calling thread starts it, so it is born in that
 * thread's namespaces (setns, unshare), which is how nsnet places a container's monitor.
 *
 * Node does not know the child, so it does not reap it: reap() does, for a child that exits soon
 * (the monitor's first process, which forks the monitor and exits).
 */
import fs from 'node:fs';
import net from 'node:net';
import { NsnetError } from '../core/errors.js';
import { O_CLOEXEC, O_RDONLY, O_WRONLY, lastErrno, lazyLibcFunctions } from './libc.js';

type Fn = (...args: unknown[]) => number;

interface Fns {
  pipe2: Fn;
  faInit: Fn;
  faDestroy: Fn;
  faOpen: Fn;
  faDup2: Fn;
  faChdir: Fn;
  faCloseFrom: Fn;
  attrInit: Fn;
  attrDestroy: Fn;
  attrFlags: Fn;
  attrSigDefault: Fn;
  attrSigMask: Fn;
  sigemptyset: Fn;
  spawn: Fn;
  waitpid: Fn;
  strerror: (errno: number) => string;
}

const libc = lazyLibcFunctions((lib): Fns => {
  const f = (decl: string): Fn => lib.func(decl) as Fn;
  return {
    pipe2: f('int pipe2(void *fds, int flags)'),
    faInit: f('int posix_spawn_file_actions_init(void *fa)'),
    faDestroy: f('int posix_spawn_file_actions_destroy(void *fa)'),
    faOpen: f('int posix_spawn_file_actions_addopen(void *fa, int fd, const char *path, int oflag, uint32_t mode)'),
    faDup2: f('int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)'),
    faChdir: f('int posix_spawn_file_actions_addchdir_np(void *fa, const char *path)'),
    faCloseFrom: f('int posix_spawn_file_actions_addclosefrom_np(void *fa, int from)'),
    attrInit: f('int posix_spawnattr_init(void *attr)'),
    attrDestroy: f('int posix_spawnattr_destroy(void *attr)'),
    attrFlags: f('int posix_spawnattr_setflags(void *attr, short flags)'),
    attrSigDefault: f('int posix_spawnattr_setsigdefault(void *attr, const void *set)'),
    attrSigMask: f('int posix_spawnattr_setsigmask(void *attr, const void *set)'),
    sigemptyset: f('int sigemptyset(void *set)'),
    spawn: f('int posix_spawn(void *pid, const char *path, const void *fa, const void *attr, const char **argv, const char **envp)'),
    waitpid: f('int waitpid(int pid, void *status, int options)'),
    strerror: lib.func('const char *strerror(int errnum)') as (errno: number) => string,
  };
});

// glibc's values (x86-64 and aarch64).
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
const WNOHANG = 1;
// Opaque glibc types, with room to spare: posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t 336, sigset_t 128.
const FILE_ACTIONS_BYTES = 256;
const ATTR_BYTES = 1024;
const SIGSET_BYTES = 256;

export interface PipedChild {
  pid: number;
  /** The child's stdout, to read; destroy it when done. */
  stdout: net.Socket;
}

/** Start `file` with `argv` (argv[0] included) detached, as described above. Throws PROCESS when it cannot be started. */
export function spawnDetachedWithStdout(file: string, argv: readonly string[], env: Readonly<Record<string, string>>, cwd: string): PipedChild {
  const c = libc();
  const fds = Buffer.alloc(8);
  if (c.pipe2(fds, O_CLOEXEC) !== 0) throw new NsnetError('PROCESS', `start ${file}: pipe2: errno ${lastErrno()}`);
  const [readEnd, writeEnd] = [fds.readInt32LE(0), fds.readInt32LE(4)];
  const fa = Buffer.alloc(FILE_ACTIONS_BYTES);
  const attr = Buffer.alloc(ATTR_BYTES);
  const all = Buffer.alloc(SIGSET_BYTES);
  const none = Buffer.alloc(SIGSET_BYTES);
  let rc = 0;
  c.faInit(fa);
  c.attrInit(attr);
  try {
    rc ||= c.faOpen(fa, 0, '/dev/null', O_RDONLY, 0);
    rc ||= c.faDup2(fa, writeEnd, 1);
    rc ||= c.faOpen(fa, 2, '/dev/null', O_WRONLY, 0);
    rc ||= c.faChdir(fa, cwd);
    // Nothing but 0-2 reaches the monitor and so the container: a descriptor someone in this
    // process opened without close-on-exec (a library's, Node's own) must not leak into it.
    rc ||= c.faCloseFrom(fa, 3);
    // Every signal 1-64 by hand: sigfillset leaves out glibc's internal 32 and 33, which the child
    // would then keep ignored across exec (Node's spawn leaves a container nothing ignored).
    all.fill(0xff, 0, 8);
    c.sigemptyset(none);
    rc ||= c.attrSigDefault(attr, all);
    rc ||= c.attrSigMask(attr, none);
    rc ||= c.attrFlags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSID);
    const pid = Buffer.alloc(4);
    if (rc === 0) rc = c.spawn(pid, file, fa, attr, [...argv, null], [...Object.entries(env).map(([k, v]) => `${k}=${v}`), null]);
    if (rc !== 0) throw new NsnetError('PROCESS', `start ${file}: ${c.strerror(rc)}`);
    return { pid: pid.readInt32LE(0), stdout: new net.Socket({ fd: readEnd, readable: true, writable: false }) };
  } catch (err) {
    fs.closeSync(readEnd);
    throw err;
  } finally {
    fs.closeSync(writeEnd);
    c.faDestroy(fa);
    c.attrDestroy(attr);
  }
}

/** Collect the exit status of a child this module started, now or, while it still runs, a little later (up to 10 s). */
export function reap(pid: number, triesLeft = 500): void {
  const status = Buffer.alloc(4);
  if (libc().waitpid(pid, status, WNOHANG) !== 0 || triesLeft <= 0) return;
  setTimeout(() => reap(pid, triesLeft - 1), 20).unref();
}
