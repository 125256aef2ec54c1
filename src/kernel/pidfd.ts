/**
 * Process file descriptors (pidfd_open(2), Linux 5.3): a descriptor bound to one process, which
 * polls readable once that process has exited, even when its PID has been given to another
 * process since. A long-lived nsnet process (nsnet serve, the service) answers "is this container
 * still running?" twice per container per listing; a held pidfd answers with one poll(2), where
 * /proc/PID/stat costs a path lookup, an open and the formatting of 52 fields.
 */
import { ENOSYS, EPERM, POLLIN, close, lastErrno, lazyLibcFunctions, type ForeignFn } from './libc.js';

const SYS_PIDFD_OPEN = 434; // the same number on every architecture (asm-generic and x86 tables)

const libc = lazyLibcFunctions((lib) => ({
  // glibc has pidfd_open only since 2.36; the system call itself is older.
  syscall: lib.func('long syscall(long number, ...)') as ForeignFn,
  poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)') as ForeignFn,
}));

/** struct pollfd {int fd; short events; short revents;} for each descriptor polled, reused (callers are on one thread); grown as needed. */
let pollSet = Buffer.alloc(8);

let unsupported = false;

/**
 * A close-on-exec pidfd for PID (pidfd_open sets O_CLOEXEC itself), or undefined when no such
 * process exists or the kernel has no pidfds (then every later call says undefined at once).
 */
export function openPidfd(pid: number): number | undefined {
  if (unsupported) return undefined;
  const fd = Number(libc().syscall(SYS_PIDFD_OPEN, 'int', pid, 'unsigned int', 0));
  if (fd >= 0) return fd;
  // No such process (ESRCH), or none left to spare (EMFILE): this once. No pidfds at all: never again.
  const errno = lastErrno();
  if (errno === ENOSYS || errno === EPERM) unsupported = true; // before Linux 5.3; a seccomp filter
  return undefined;
}

/**
 * Whether the process of the pidfd has exited (a zombie counts as exited), by a poll that does
 * not wait; undefined when the poll cannot tell (an interrupted call, a descriptor gone bad), so
 * the caller looks at /proc instead of guessing.
 */
export function pidfdExited(fd: number): boolean | undefined {
  return pidfdsExited([fd])[0];
}

/**
 * pidfdExited for many pidfds with one poll(2): a listing asks about every container's processes
 * at once, and one system call for all of them costs less than one foreign call each.
 */
export function pidfdsExited(fds: readonly number[]): Array<boolean | undefined> {
  if (fds.length === 0) return [];
  if (pollSet.length < 8 * fds.length) pollSet = Buffer.alloc(8 * fds.length);
  fds.forEach((fd, i) => {
    pollSet.writeInt32LE(fd, 8 * i);
    pollSet.writeInt16LE(POLLIN, 8 * i + 4);
    pollSet.writeInt16LE(0, 8 * i + 6);
  });
  const n = Number(libc().poll(pollSet, fds.length, 0));
  if (n < 0) return fds.map(() => undefined);
  return fds.map((_, i) => {
    const revents = pollSet.readInt16LE(8 * i + 6);
    return revents === 0 ? false : (revents & POLLIN) !== 0 ? true : undefined;
  });
}

export function closePidfd(fd: number): void {
  close(fd);
}
