/**
 * Pseudo-terminals, for `docker exec -it` and `docker run -it`: the master end stays with nsnet
 * (it reads what the container's program prints and writes what the user types), the slave end
 * becomes the program's stdin, stdout and stderr. Node has no openpty, so the four libc calls
 * are declared on libc.ts's shared handle.
 *
 * The program gets the slave as its controlling terminal through util-linux `setsid --ctty`
 * (setsid, then ioctl TIOCSCTTY on stdin): a shell then has job control, ^C reaches the program
 * as SIGINT through the terminal's line discipline, and closing the master hangs it up (SIGHUP).
 * The window size is set on the master with TIOCSWINSZ; the kernel sends SIGWINCH to the
 * terminal's foreground process group, as a real terminal does.
 */
import fs from 'node:fs';
import path from 'node:path';
import tty from 'node:tty';
import { KernelError } from '../core/errors.js';
import { O_CLOEXEC, O_DIRECTORY, O_NOCTTY, O_RDWR, errnoName, lazyLibcFunctions, throwErrno, type ForeignFn as Fn } from './libc.js';

interface PtyFns {
  posixOpenpt: Fn;
  grantpt: Fn;
  unlockpt: Fn;
  ptsnameR: Fn;
  ioctl: Fn;
  /** ioctl with an integer argument (TIOCGPTPEER's open flags). */
  ioctlInt: Fn;
  /** syscall(2), variadic: openat2 has no glibc wrapper. */
  syscall: Fn;
}

const libc = lazyLibcFunctions(
  (lib): PtyFns => ({
    posixOpenpt: lib.func('int posix_openpt(int flags)'),
    grantpt: lib.func('int grantpt(int fd)'),
    unlockpt: lib.func('int unlockpt(int fd)'),
    ptsnameR: lib.func('int ptsname_r(int fd, _Out_ char *buf, size_t buflen)'),
    // Declared with the winsize argument as a pointer: ioctl is variadic in C, and on x86-64
    // and arm64 a pointer is passed the same way either way.
    ioctl: lib.func('int ioctl(int fd, unsigned long request, void *arg)'),
    ioctlInt: lib.func('ioctl', 'int', ['int', 'unsigned long', 'long']),
    syscall: lib.func('long syscall(long number, ...)'),
  }),
);

const TIOCGWINSZ = 0x5413;
const TIOCGPTN = 0x80045430;
const TIOCSPTLCK = 0x40045431;
const TIOCGPTPEER = 0x5441;
/** openat2(2): the same number on every architecture (new system calls share one table). */
const SYS_OPENAT2 = 437;
const RESOLVE_NO_SYMLINKS = 0x04;
const RESOLVE_BENEATH = 0x08;
const TIOCSWINSZ = 0x5414;

/** A terminal's size in character cells (Docker's h and w). */
export interface WindowSize {
  rows: number;
  cols: number;
}

/** A pseudo-terminal pair: `master` for nsnet, `slave` (opened, with its path) for the program. */
export interface Pty {
  master: number;
  slave: number;
  /** /dev/pts/N in the host's devpts (openPty), or ROOTFS/dev/pts/N (openPtyIn). */
  slavePath: string;
}

/**
 * A new pseudo-terminal with the given size. Both ends are close-on-exec (the slave reaches a
 * child only as its stdio, which spawn dup2s into place) and O_NOCTTY: nsnet itself never gets a
 * container's terminal as its own controlling terminal.
 */
export function openPty(size?: WindowSize): Pty {
  const f = libc();
  const master = f.posixOpenpt(O_RDWR | O_NOCTTY | O_CLOEXEC) as number;
  if (master < 0) throwErrno('posix_openpt');
  try {
    if ((f.grantpt(master) as number) !== 0) throwErrno('grantpt');
    if ((f.unlockpt(master) as number) !== 0) throwErrno('unlockpt');
    const buf = Buffer.alloc(128);
    const r = f.ptsnameR(master, buf, buf.length) as number;
    if (r !== 0) throw new KernelError('ptsname_r', r, errnoName(r));
    const slavePath = buf.subarray(0, buf.indexOf(0)).toString('utf8');
    const slave = fs.openSync(slavePath, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
    if (size !== undefined) resizePty(master, size);
    return { master, slave, slavePath };
  } catch (err) {
    fs.closeSync(master);
    throw err;
  }
}

/**
 * A new pseudo-terminal of a container's own devpts instance (mounted on ROOTFS/dev/pts in the
 * host's mount namespace), as Docker's exec gets its terminal inside the container: the program
 * there sees /dev/pts/N of its own /dev, so `tty` names it and ttyname(3) finds it. `slavePath` is
 * that entry as the host reaches it.
 *
 * The container owns everything under ROOTFS and may have replaced dev or dev/pts with a
 * symbolic link to a host path: ptmx is opened with openat2 beneath ROOTFS, refusing any link on
 * the way, and the slave is reached through the master (TIOCGPTPEER), never by its path.
 */
export function openPtyIn(rootfs: string, size?: WindowSize): Pty {
  const f = libc();
  const dir = fs.openSync(rootfs, fs.constants.O_RDONLY | O_DIRECTORY);
  let master: number;
  try {
    // struct open_how { u64 flags; u64 mode; u64 resolve; }
    const how = Buffer.alloc(24);
    how.writeBigUInt64LE(BigInt(O_RDWR | O_NOCTTY | O_CLOEXEC), 0);
    how.writeBigUInt64LE(BigInt(RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH), 16);
    master = Number(f.syscall(SYS_OPENAT2, 'int', dir, 'str', 'dev/pts/ptmx', 'void *', how, 'size_t', how.length));
    if (master < 0) throwErrno(`openat2 ${path.join(rootfs, 'dev/pts/ptmx')}`);
  } finally {
    fs.closeSync(dir);
  }
  try {
    if ((f.ioctl(master, TIOCSPTLCK, Buffer.alloc(4)) as number) !== 0) throwErrno('ioctl TIOCSPTLCK');
    const n = Buffer.alloc(4);
    if ((f.ioctl(master, TIOCGPTN, n) as number) !== 0) throwErrno('ioctl TIOCGPTN');
    const slave = f.ioctlInt(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC) as number;
    if (slave < 0) throwErrno('ioctl TIOCGPTPEER');
    if (size !== undefined) resizePty(master, size);
    return { master, slave, slavePath: path.join(rootfs, 'dev/pts', String(n.readUInt32LE(0))) };
  } catch (err) {
    fs.closeSync(master);
    throw err;
  }
}

/** Refuses a size the kernel's struct winsize (two unsigned shorts) cannot hold. */
function checkedSize(size: WindowSize): WindowSize {
  for (const [name, v] of [['rows', size.rows], ['cols', size.cols]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`invalid terminal ${name} ${String(v)}: a whole number from 0 to 65535`);
  }
  return size;
}

/** TIOCSWINSZ on the master (the slave would do as well): the program gets SIGWINCH. */
export function resizePty(fd: number, size: WindowSize): void {
  const { rows, cols } = checkedSize(size);
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(rows, 0);
  ws.writeUInt16LE(cols, 2);
  if ((libc().ioctl(fd, TIOCSWINSZ, ws) as number) !== 0) throwErrno(`ioctl TIOCSWINSZ ${rows}x${cols}`);
}

/** TIOCGWINSZ: the terminal's size as the program sees it (`stty size`). */
export function ptySize(fd: number): WindowSize {
  const ws = Buffer.alloc(8);
  if ((libc().ioctl(fd, TIOCGWINSZ, ws) as number) !== 0) throwErrno('ioctl TIOCGWINSZ');
  return { rows: ws.readUInt16LE(0), cols: ws.readUInt16LE(2) };
}

/**
 * The master as a duplex stream (tty.ReadStream is a net.Socket, writable too; raw mode is the
 * slave's business, which the program sets). Once no process holds the slave any more, Linux
 * answers a read of the master with EIO: that is how the terminal's output ends, not a failure.
 * Any error ends the stream the same way ('close'): a server relaying it must not die of one.
 * Takes ownership of the fd.
 */
export function masterStream(master: number): tty.ReadStream {
  const stream = new tty.ReadStream(master);
  stream.on('error', () => {});
  return stream;
}
