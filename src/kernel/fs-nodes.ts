/**
 * The file-system calls Node does not have, for extracting image layers: mknod (device nodes,
 * FIFOs, and overlayfs whiteouts, which are character devices 0:0) and extended attributes on
 * the link itself (overlayfs's trusted.overlay.opaque, file capabilities). Loaded on first use.
 */
import { ENODATA, lastErrno, lazyLibcFunctions, throwErrno, type ForeignFn as Fn } from './libc.js';

const lib = lazyLibcFunctions(
  (l): { mknod: Fn; lsetxattr: Fn; lgetxattr: Fn } => ({
    mknod: l.func('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
    lsetxattr: l.func('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)'),
    lgetxattr: l.func('long lgetxattr(const char *path, const char *name, void *value, size_t size)'),
  }),
);

export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

/** glibc's makedev: the 64-bit dev_t of a major and minor number. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n) | ((ma & ~0xfffn) << 32n);
}

/** mknod(2); type is S_IFCHR, S_IFBLK or S_IFIFO, perm the permission bits. */
export function mknod(path: string, type: number, perm: number, major = 0, minor = 0): void {
  const kind = type === S_IFCHR ? 'c' : type === S_IFBLK ? 'b' : 'p';
  if ((lib().mknod(path, type | (perm & 0o7777), makedev(major, minor)) as number) < 0) {
    throwErrno(`mknod ${path}`, `mknod ${path} ${kind}${kind === 'p' ? '' : ` ${major} ${minor}`}`);
  }
}

/** lsetxattr(2): on the path itself, not what a symlink points to. */
export function lsetxattr(path: string, name: string, value: Buffer): void {
  if ((lib().lsetxattr(path, name, value, value.length, 0) as number) < 0) {
    throwErrno(`set xattr ${name} on ${path}`, `setfattr -h -n ${name} -v 0x${value.toString('hex')} ${path}`);
  }
}

/** lgetxattr(2); undefined when the attribute is not set. */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  const buf = Buffer.alloc(4096);
  const n = Number(lib().lgetxattr(path, name, buf, buf.length));
  if (n >= 0) return buf.subarray(0, n);
  if (lastErrno() === ENODATA) return undefined;
  return throwErrno(`get xattr ${name} of ${path}`, `getfattr -h -n ${name} ${path}`);
}
