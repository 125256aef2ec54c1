/**
 * What the nsnet service needs from a Unix socket that Node does not give: the peer's
 * credentials (SO_PEERCRED), file descriptors passed with SCM_RIGHTS (a client's stdin, stdout
 * and stderr), dup/dup2 to bind them to 0, 1 and 2 for the length of one command, and the
 * memory file a command's output goes to before it is copied to the client (memfd_create,
 * fallocate to give back what was copied, send(2) that never waits on a client's socket).
 *
 * Node reads a stream socket with read(2), which discards passed descriptors; so the service
 * stops Node reading a connection (readStop) before it asks the client for its descriptors, and
 * receives them here with recvmsg(2). Waiting for them runs poll(2) on koffi's worker thread, so
 * a client that never sends them holds nothing but its own request.
 *
 * The libc calls are declared on libc.ts's shared handle, bound on first use.
 */
import fs from 'node:fs';
import { EAGAIN, EMSGSIZE, POLLIN, SOL_SOCKET, errnoName, koffi, lastErrno, lazyLibcFunctions, throwErrno, type ForeignFn } from './libc.js';
import { KernelError } from '../core/errors.js';

/** poll also runs on koffi's worker thread (`.async`), so a silent client never holds this one. */
type Fn = ForeignFn & { async: (...args: unknown[]) => void };

interface Fns {
  getsockopt: Fn;
  recvmsg: Fn;
  poll: Fn;
  fcntl: Fn;
  dup2: Fn;
  memfd_create: Fn;
  fallocate: Fn;
  send: Fn;
}

const libc = lazyLibcFunctions(
  (lib): Fns => ({
    getsockopt: lib.func('int getsockopt(int fd, int level, int optname, void *optval, _Inout_ uint32_t *optlen)') as Fn,
    recvmsg: lib.func('long recvmsg(int fd, void *msg, int flags)') as Fn,
    poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)') as Fn,
    fcntl: lib.func('int fcntl(int fd, int cmd, int arg)') as Fn,
    dup2: lib.func('int dup2(int oldfd, int newfd)') as Fn,
    memfd_create: lib.func('int memfd_create(const char *name, unsigned int flags)') as Fn,
    fallocate: lib.func('int fallocate(int fd, int mode, int64_t offset, int64_t len)') as Fn,
    send: lib.func('long send(int fd, const void *buf, unsigned long len, int flags)') as Fn,
  }),
);

const SO_PEERCRED = 17;
const SCM_RIGHTS = 1;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const MSG_CTRUNC = 0x8;
const MSG_CMSG_CLOEXEC = 0x40000000;
const F_DUPFD_CLOEXEC = 1030;
const MFD_CLOEXEC = 1;
const FALLOC_FL_KEEP_SIZE = 1;
const FALLOC_FL_PUNCH_HOLE = 2;

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** Who is at the other end of a connected Unix socket, as the kernel recorded it at connect(2). */
export function peerCredentials(fd: number): PeerCredentials {
  const cred = Buffer.alloc(12);
  const len = [12];
  if ((libc().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, len) as number) < 0) throwErrno('getsockopt(SO_PEERCRED)');
  return { pid: cred.readInt32LE(0), uid: cred.readUInt32LE(4), gid: cred.readUInt32LE(8) };
}

/**
 * Resolves true once fd has something to read (or its peer hung up), false after timeoutMs.
 * It waits up to `blockMs` right here (a client answers in microseconds, and a hop through
 * koffi's worker thread costs more), then on the worker thread, so a silent client never holds
 * this thread for longer than that.
 */
export function waitReadable(fd: number, timeoutMs: number, blockMs = 0): Promise<boolean> {
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(POLLIN, 4);
  const block = Math.min(blockMs, timeoutMs);
  if (block > 0 && (libc().poll(pfd, 1, block) as number) > 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    libc().poll.async(pfd, 1, timeoutMs, (err: unknown, n: number) => resolve(err == null && n > 0));
  });
}

export interface Received {
  /** Bytes read (0: the peer closed the connection). */
  bytes: Buffer;
  /** Descriptors that came with them, close-on-exec in this process. */
  fds: number[];
}

/**
 * One recvmsg(2) without waiting: up to `size` bytes and up to `maxFds` passed descriptors.
 * Throws EAGAIN (as a KernelError) when nothing is there yet. Descriptors beyond maxFds are
 * closed by the kernel (MSG_CTRUNC), and then this throws too, after closing the ones it got.
 */
export function receiveWithFds(fd: number, size: number, maxFds: number): Received {
  const k = koffi();
  const data = Buffer.alloc(size);
  const iov = Buffer.alloc(16);
  iov.writeBigUInt64LE(BigInt(k.address(data) as bigint), 0);
  iov.writeBigUInt64LE(BigInt(size), 8);
  // struct cmsghdr { size_t len; int level; int type; int fds[]; }, 8-byte aligned.
  const controlLen = 16 + Math.ceil((4 * maxFds) / 8) * 8;
  const control = Buffer.alloc(controlLen);
  // struct msghdr (x86-64 / aarch64 LP64): name, namelen(+pad), iov, iovlen, control, controllen, flags.
  const msg = Buffer.alloc(56);
  msg.writeBigUInt64LE(BigInt(k.address(iov) as bigint), 16);
  msg.writeBigUInt64LE(1n, 24);
  msg.writeBigUInt64LE(BigInt(k.address(control) as bigint), 32);
  msg.writeBigUInt64LE(BigInt(controlLen), 40);
  const n = Number(libc().recvmsg(fd, msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) as bigint | number);
  if (n < 0) throwErrno('recvmsg');
  const fds: number[] = [];
  const got = Number(msg.readBigUInt64LE(40));
  for (let off = 0; off + 16 <= got; ) {
    const len = Number(control.readBigUInt64LE(off));
    if (len < 16) break;
    if (control.readInt32LE(off + 8) === SOL_SOCKET && control.readInt32LE(off + 12) === SCM_RIGHTS) {
      for (let p = off + 16; p + 4 <= off + len; p += 4) fds.push(control.readInt32LE(p));
    }
    off += Math.ceil(len / 8) * 8;
  }
  if ((msg.readInt32LE(48) & MSG_CTRUNC) !== 0) {
    closeAll(fds);
    throw new KernelError(`recvmsg: more than ${maxFds} descriptors passed`, EMSGSIZE, errnoName(EMSGSIZE));
  }
  // Keep the buffers alive across the call (their addresses were taken above).
  void iov.length;
  return { bytes: data.subarray(0, n), fds };
}

function closeAll(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      closeFd(fd);
    } catch {
      /* already closed */
    }
  }
}

/** A close-on-exec copy of fd, numbered 10 or above (out of the way of 0, 1 and 2). */
export function dupHigh(fd: number): number {
  const n = libc().fcntl(fd, F_DUPFD_CLOEXEC, 10) as number;
  if (n < 0) throwErrno(`fcntl(${fd}, F_DUPFD_CLOEXEC)`);
  return n;
}

/** Make `target` (0, 1 or 2) refer to what `fd` refers to. */
export function dupOnto(fd: number, target: number): void {
  if ((libc().dup2(fd, target) as number) < 0) throwErrno(`dup2(${fd}, ${target})`);
}

export function closeFd(fd: number): void {
  fs.closeSync(fd);
}

/** A new anonymous file in memory (memfd_create(2)), close-on-exec; `name` shows in /proc/PID/fd. */
export function memoryFile(name: string): number {
  const fd = libc().memfd_create(name, MFD_CLOEXEC) as number;
  if (fd < 0) throwErrno(`memfd_create(${name})`);
  return fd;
}

/**
 * Give back the memory of bytes [offset, offset + len) of a memory file without changing its
 * size (fallocate(2) PUNCH_HOLE): they read as zeros afterwards. Best effort: false when the
 * kernel refused.
 */
export function releaseRange(fd: number, offset: number, len: number): boolean {
  return len <= 0 || (libc().fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len) as number) === 0;
}

/**
 * send(2) on a stream socket without waiting (MSG_DONTWAIT, whatever the socket's own flags,
 * which other processes share) and without SIGPIPE: the bytes sent, or 'again' when its buffer
 * is full. Throws a KernelError on any other failure (EPIPE: the peer is gone).
 */
export function sendNow(fd: number, data: Buffer, length: number): number | 'again' {
  const n = Number(libc().send(fd, data, Math.min(length, data.length), MSG_DONTWAIT | MSG_NOSIGNAL) as bigint | number);
  if (n >= 0) return n;
  if (lastErrno() === EAGAIN) return 'again';
  return throwErrno('send');
}
