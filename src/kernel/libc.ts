/**
 * The one place nsnet loads libc (through koffi), and the few libc calls Node does not expose:
 * raw sockets (for netlink), namespace switching, mounts, hostname, flock. Other modules of
 * src/kernel that need calls of their own (pty.ts, posix-spawn.ts, fs-nodes.ts ...) declare them
 * with lazyLibcFunctions, and take errno handling (lastErrno, throwErrno, errnoName) and the
 * shared constants (O_*, E*) from here. Nothing is loaded at import time: koffi and libc load on
 * the first call that needs them, so importing this module (e.g. from unit tests or `--help`)
 * never needs the native library.
 *
 * Every wrapper returns the raw result on success and throws KernelError on failure. errno is
 * thread-local in libc; koffi captures it right after the foreign call returns, so reading
 * lastErrno() immediately after the call (no other foreign call in between) is reliable.
 */
import { createRequire } from 'node:module';
import { KernelError } from '../core/errors.js';

type KoffiModule = typeof import('koffi');
/** The loaded libc.so.6, on which a module declares the functions it calls (`lib.func('int close(int fd)')`). */
export type LibcHandle = ReturnType<KoffiModule['load']>;
/** A bound libc function as the modules type it: arguments and result checked where it is called. */
export type ForeignFn = (...args: unknown[]) => unknown;

let koffiMod: KoffiModule | undefined;
let libcHandle: LibcHandle | undefined;

/** The koffi module, loaded on demand (shared with nft.ts for libnftables). */
export function koffi(): KoffiModule {
  if (koffiMod === undefined) {
    const require = createRequire(import.meta.url);
    koffiMod = require('koffi') as KoffiModule;
  }
  return koffiMod;
}

/**
 * A getter for libc functions bound on first use: `declare` runs once, at the getter's first
 * call, on the one libc handle every module shares (loaded then if nobody has yet). A module's
 * declarations cost nothing until the module is used.
 */
export function lazyLibcFunctions<T>(declare: (lib: LibcHandle) => T): () => T {
  let bound: T | undefined;
  return () => (bound ??= declare((libcHandle ??= koffi().load('libc.so.6'))));
}

const libc = lazyLibcFunctions((lib) => {
  const f = (declaration: string): ForeignFn => lib.func(declaration) as ForeignFn;
  return {
    socket: f('int socket(int domain, int type, int protocol)'),
    bind: f('int bind(int fd, const void *addr, uint32_t addrlen)'),
    sendto: f('long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)'),
    recv: f('long recv(int fd, void *buf, size_t len, int flags)'),
    close: f('int close(int fd)'),
    setsockopt: f('int setsockopt(int fd, int level, int optname, const void *optval, uint32_t optlen)'),
    setns: f('int setns(int fd, int nstype)'),
    unshare: f('int unshare(int flags)'),
    mount: f('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const void *data)'),
    umount2: f('int umount2(const char *target, int flags)'),
    sethostname: f('int sethostname(const char *name, size_t len)'),
    flock: f('int flock(int fd, int operation)'),
  };
});

// ---------------------------------------------------------------------------------------------
// errno names

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM',
  2: 'ENOENT',
  3: 'ESRCH',
  4: 'EINTR',
  5: 'EIO',
  6: 'ENXIO',
  7: 'E2BIG',
  9: 'EBADF',
  11: 'EAGAIN', // == EWOULDBLOCK on Linux
  12: 'ENOMEM',
  13: 'EACCES',
  14: 'EFAULT',
  16: 'EBUSY',
  17: 'EEXIST',
  18: 'EXDEV',
  19: 'ENODEV',
  20: 'ENOTDIR',
  21: 'EISDIR',
  22: 'EINVAL',
  23: 'ENFILE',
  24: 'EMFILE',
  28: 'ENOSPC',
  30: 'EROFS',
  32: 'EPIPE',
  34: 'ERANGE',
  36: 'ENAMETOOLONG',
  38: 'ENOSYS',
  39: 'ENOTEMPTY',
  61: 'ENODATA',
  71: 'EPROTO',
  75: 'EOVERFLOW',
  88: 'ENOTSOCK',
  90: 'EMSGSIZE',
  93: 'EPROTONOSUPPORT',
  95: 'EOPNOTSUPP',
  97: 'EAFNOSUPPORT',
  98: 'EADDRINUSE',
  99: 'EADDRNOTAVAIL',
  100: 'ENETDOWN',
  101: 'ENETUNREACH',
  105: 'ENOBUFS',
  107: 'ENOTCONN',
  110: 'ETIMEDOUT',
  111: 'ECONNREFUSED',
  113: 'EHOSTUNREACH',
  114: 'EALREADY',
  122: 'EDQUOT',
};

export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EBADF = 9;
export const EAGAIN = 11;
export const EWOULDBLOCK = 11;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const ENOSYS = 38;
export const EXFULL = 54;
export const ENODATA = 61;
export const EMSGSIZE = 90;
export const EOPNOTSUPP = 95;
export const EADDRNOTAVAIL = 99;
export const ENETUNREACH = 101;
export const ENOBUFS = 105;

/** poll(2): the descriptor is readable (struct pollfd's events and revents). */
export const POLLIN = 0x1;

/** 'EEXIST' for 17; falls back to koffi's table, then to 'E<number>'. */
export function errnoName(errno: number): string {
  const known = ERRNO_NAMES[errno];
  if (known !== undefined) return known;
  if (koffiMod !== undefined) {
    for (const [name, value] of Object.entries(koffiMod.os.errno)) if (value === errno) return name;
  }
  return `E${errno}`;
}

/** Map a Node fs error (err.code like 'EEXIST', err.errno negative) to a KernelError. */
export function fromNodeError(message: string, err: unknown, command?: string): KernelError {
  const e = err as NodeJS.ErrnoException;
  const name = typeof e?.code === 'string' ? e.code : 'EIO';
  const num = typeof e?.errno === 'number' ? Math.abs(e.errno) : 5;
  return new KernelError(message, num, name, command);
}

/** The errno the last foreign call on this thread left: read it right after that call, before any other. */
export function lastErrno(): number {
  return koffi().errno();
}

/** Throws KernelError for the errno the last foreign call left (`command`: the same by hand, for the message). */
export function throwErrno(message: string, command?: string): never {
  const errno = lastErrno();
  throw new KernelError(message, errno, errnoName(errno), command);
}

function check(result: unknown, message: string, command?: string): number {
  const n = typeof result === 'bigint' ? Number(result) : (result as number);
  if (n < 0) throwErrno(message, command);
  return n;
}

// ---------------------------------------------------------------------------------------------
// constants (glibc's values on x86-64 and aarch64)

/** open(2) flags Node's fs.constants lacks (O_CLOEXEC) or that a foreign call takes as a number. */
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 0o2;
export const O_NOCTTY = 0o400;
export const O_DIRECTORY = 0o200000;
export const O_CLOEXEC = 0o2000000;

export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = O_CLOEXEC;
export const MSG_TRUNC = 0x20;
export const SOL_SOCKET = 1;
export const SO_RCVTIMEO = 20; // struct timeval on 64-bit
export const CLONE_NEWNET = 0x40000000;
export const CLONE_NEWUTS = 0x04000000;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_SHARED = 1 << 20;
export const MNT_DETACH = 2;
/** umount2: do not follow a symbolic link at the target (a container's own file may be one). */
export const UMOUNT_NOFOLLOW = 8;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

// ---------------------------------------------------------------------------------------------
// wrappers

export function socket(domain: number, type: number, protocol: number, command?: string): number {
  return check(libc().socket(domain, type, protocol), 'socket', command);
}

export function bind(fd: number, addr: Buffer, command?: string): void {
  check(libc().bind(fd, addr, addr.length), 'bind', command);
}

export function setsockopt(fd: number, level: number, optname: number, value: Buffer): void {
  check(libc().setsockopt(fd, level, optname, value, value.length), `setsockopt(${level}, ${optname})`);
}

export function setsockoptInt(fd: number, level: number, optname: number, value: number): void {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value, 0);
  setsockopt(fd, level, optname, b);
}

/** sendto; EINTR is retried. Returns bytes sent. */
export function sendto(fd: number, buf: Buffer, flags: number, addr: Buffer | null, command?: string): number {
  for (;;) {
    const r = Number(libc().sendto(fd, buf, buf.length, flags, addr, addr === null ? 0 : addr.length));
    if (r >= 0) return r;
    if (lastErrno() !== EINTR) throwErrno('sendto', command);
  }
}

/**
 * recv into buf; EINTR is retried. With MSG_TRUNC the return value is the real datagram length,
 * which may exceed buf.length (the tail was dropped).
 */
export function recv(fd: number, buf: Buffer, flags: number, command?: string): number {
  for (;;) {
    const r = Number(libc().recv(fd, buf, buf.length, flags));
    if (r >= 0) return r;
    if (lastErrno() !== EINTR) throwErrno('recv', command);
  }
}

export function close(fd: number): void {
  check(libc().close(fd), 'close');
}

export function setns(fd: number, nstype: number, command?: string): void {
  check(libc().setns(fd, nstype), 'setns', command);
}

export function unshare(flags: number, command?: string): void {
  check(libc().unshare(flags), 'unshare', command);
}

export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  command?: string,
  /** The filesystem's options (overlay's lowerdir=...), NUL-terminated for the kernel. */
  data?: string,
): void {
  const options = data === undefined ? null : Buffer.from(`${data}\0`, 'utf8');
  check(libc().mount(source, target, fstype, flags, options), `mount ${target}`, command);
}

export function umount2(target: string, flags: number, command?: string): void {
  check(libc().umount2(target, flags), `umount ${target}`, command);
}

export function sethostname(name: string): void {
  const b = Buffer.from(name, 'utf8');
  check(libc().sethostname(b, b.length), 'sethostname', `hostname ${name}`);
}

/** flock; returns false when LOCK_NB was given and the lock is held elsewhere (EWOULDBLOCK). */
export function flock(fd: number, operation: number): boolean {
  for (;;) {
    const r = libc().flock(fd, operation) as number;
    if (r === 0) return true;
    const errno = lastErrno();
    if (errno === EINTR) continue;
    if (errno === EWOULDBLOCK && (operation & LOCK_NB) !== 0) return false;
    throw new KernelError('flock', errno, errnoName(errno));
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Block the calling thread for ms milliseconds without spinning. */
export function sleepSync(ms: number): void {
  if (ms > 0) Atomics.wait(sleepCell, 0, 0, ms);
}
