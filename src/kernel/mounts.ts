/**
 * A container's root filesystem from an image, in the host's mount namespace: the overlay of the
 * image's layers under the container's own upper directory, the host files bind-mounted into it
 * (/etc/hosts, /etc/resolv.conf, /etc/hostname), the device files of its /dev, and their unmounting. mount(2) and
 * umount2(2) through koffi, no mount(8) per step.
 *
 * The files and directories inside the overlay belong to the container, which may have replaced
 * any of them with a symbolic link to a host path (/etc/hosts -> /etc/shadow): the kernel resolves
 * a mount target on the host, so every path into the container is walked here component by
 * component without following links, and a link where nsnet mounts is replaced by a plain file.
 * The container is not running when this happens (start mounts before it runs), so nothing in it
 * can swap a component between the check and the mount.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KernelError, NsnetError } from '../core/errors.js';
import { mknod, S_IFCHR } from './fs-nodes.js';
import { EINVAL, ENOENT, MNT_DETACH, MS_BIND, UMOUNT_NOFOLLOW, mount, umount2 } from './libc.js';

/** The mount points a container's root needs: unshare mounts its /proc there; /dev and /etc get bind mounts. */
export const ROOTFS_MOUNT_POINTS = ['proc', 'dev', 'etc'] as const;

/**
 * overlay's options are one comma-separated string and lowerdir one colon-separated list: a path
 * holding either character (or whitespace) would be split by the kernel; it is refused instead.
 */
function refuseSeparators(dir: string): void {
  if (/[,:\s]/.test(dir)) {
    throw new NsnetError('INVALID_VALUE', `overlay directory "${dir}" holds a comma, colon or space, which overlayfs options cannot carry`, {
      hint: 'use a state root (NSNET_ROOT) whose path has none',
    });
  }
}

export function overlayOptions(lower: readonly string[], upper: string, work: string): string {
  for (const d of [...lower, upper, work]) refuseSeparators(d);
  return `lowerdir=${lower.join(':')},upperdir=${upper},workdir=${work}`;
}

/**
 * Mount the overlay on `target` (made if missing). A mount already there (a container that ended on
 * its own keeps its root mounted until it is stopped, started or removed) is detached first: two
 * overlays cannot share one work directory.
 */
export function mountOverlay(target: string, lower: readonly string[], upper: string, work: string, command?: string, workingDir?: string): void {
  if (lower.length === 0) throw new NsnetError('INVALID_VALUE', `mount ${target}: an image with no layers has no root filesystem`);
  const options = overlayOptions(lower, upper, work);
  for (const d of [upper, work, target]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  unmountTree(target);
  mount('overlay', target, 'overlay', 0, command, options);
  try {
    for (const p of ROOTFS_MOUNT_POINTS) ensureDirIn(target, p);
    for (const d of DEVICES) ensureDeviceIn(target, d);
    ensureLinkIn(target, 'dev/ptmx', 'pts/ptmx');
    if (workingDir !== undefined) ensureWorkingDir(target, workingDir);
  } catch (err) {
    unmountTree(target);
    throw err;
  }
}

/**
 * Docker's basic device files in a container's /dev, made in the container's upper directory (no
 * mounts: each mount would be copied into every mount namespace made after it). The same numbers as
 * the host's, mode 0666; a container's own file of that name (not the device) is replaced.
 */
export const DEVICES: ReadonlyArray<{ name: string; major: number; minor: number }> = [
  { name: 'null', major: 1, minor: 3 },
  { name: 'zero', major: 1, minor: 5 },
  { name: 'full', major: 1, minor: 7 },
  { name: 'random', major: 1, minor: 8 },
  { name: 'urandom', major: 1, minor: 9 },
  { name: 'tty', major: 5, minor: 0 },
];

function ensureDeviceIn(root: string, d: { name: string; major: number; minor: number }): void {
  const file = path.join(ensureDirIn(root, 'dev'), d.name);
  const st = lstatOrUndefined(file);
  // Linux's dev_t for numbers this small: major << 8 | minor.
  if (st?.isCharacterDevice() === true && st.rdev === d.major * 256 + d.minor) return;
  if (st?.isDirectory() === true) fs.rmSync(file, { recursive: true, force: true });
  else if (st !== undefined) fs.rmSync(file, { force: true });
  mknod(file, S_IFCHR, 0o666, d.major, d.minor);
  fs.chmodSync(file, 0o666); // mknod's mode went through the umask
}

/**
 * Docker makes a WorkingDir the image lacks before the process starts (dockerd's
 * SetupWorkingDirectory: mode 0755, owned by root, whatever the container's user), refusing one
 * whose path holds a file. Made by the overlay step in the freshly mounted root (the container's
 * own layer), while nothing runs in it. The path is resolved as the container will see it, as dockerd's scoped join does:
 * a symbolic link is followed inside the root and `..` stops at it, so a link in the image
 * (`/app -> /etc`, or `../../..`) cannot make nsnet create a directory on the host.
 */
export function ensureWorkingDir(rootfs: string, dir: string): void {
  const root = path.resolve(rootfs);
  const pending = partsOf(dir);
  let at = root; // resolved: always root or a real directory beneath it
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      if (at !== root) at = path.dirname(at);
      continue;
    }
    const next = path.join(at, part);
    const st = lstatOrUndefined(next);
    if (st === undefined) {
      fs.mkdirSync(next, { mode: 0o755 });
      fs.chmodSync(next, 0o755); // mkdir's mode went through the umask
    } else if (st.isSymbolicLink()) {
      if (++links > 40) throw new NsnetError('INVALID_VALUE', `working directory "${dir}": too many levels of symbolic links in the image`);
      const target = fs.readlinkSync(next);
      pending.unshift(...partsOf(target));
      if (target.startsWith('/')) at = root;
      continue;
    } else if (!st.isDirectory()) {
      throw new NsnetError('INVALID_VALUE', `Cannot mkdir: ${dir} is not a directory (${path.join('/', path.relative(root, next))} is a file in the image)`, { hint: 'give -w a directory' });
    }
    at = next;
  }
}

const partsOf = (p: string): string[] => p.split('/').filter((x) => x !== '' && x !== '.');

/** mount(2)'s flags by mount(8)'s names (plan/steps.ts MountFlag). */
const MOUNT_FLAGS: Readonly<Record<'nosuid' | 'nodev' | 'noexec', number>> = { nosuid: 2, nodev: 4, noexec: 8 };

/**
 * Mount a kernel filesystem (a devpts instance, a tmpfs) on `rel` inside `root`, the mount point
 * made a real directory first (a link there replaced, never followed on the host). The source
 * is the name Docker's mounts show in /proc/mounts.
 */
export function mountFilesystemIn(fstype: 'devpts' | 'tmpfs', root: string, rel: string, flags: ReadonlyArray<keyof typeof MOUNT_FLAGS>, options: string, command?: string): void {
  const target = ensureDirIn(root, rel);
  const bits = flags.reduce((all, f) => all | MOUNT_FLAGS[f], 0);
  mount(fstype === 'tmpfs' ? 'shm' : 'devpts', target, fstype, bits, command, options);
}

/** The symbolic link `rel` inside `root` pointing at `to` (whatever the container had there is replaced). */
function ensureLinkIn(root: string, rel: string, to: string): void {
  const file = path.join(ensureDirIn(root, path.dirname(rel)), path.basename(rel));
  const st = lstatOrUndefined(file);
  if (st?.isSymbolicLink() === true && fs.readlinkSync(file) === to) return;
  if (st !== undefined) fs.rmSync(file, { recursive: true, force: true });
  fs.symlinkSync(to, file);
}

/** Bind-mount `source` (a host file, made empty when missing) over `rel` inside `root`. */
export function bindFileIn(source: string, root: string, rel: string, command?: string): void {
  if (!fs.existsSync(source)) {
    fs.mkdirSync(path.dirname(source), { recursive: true, mode: 0o755 });
    fs.writeFileSync(source, '', { mode: 0o644, flag: 'a' });
  }
  const target = ensureFileIn(root, rel);
  mount(source, target, null, MS_BIND, command);
}

/**
 * Detach `target` and everything mounted beneath it, without following a link at the target;
 * not a mount point (EINVAL) or absent (ENOENT) is fine.
 */
export function unmountTree(target: string, command?: string): void {
  try {
    umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW, command);
  } catch (err) {
    if (err instanceof KernelError && (err.errno === EINVAL || err.errno === ENOENT)) return;
    throw err;
  }
}

/** The directory `rel` inside `root`, each component a real directory (a link or a file there is replaced). */
function ensureDirIn(root: string, rel: string): string {
  let at = root;
  for (const part of components(rel)) {
    at = path.join(at, part);
    const st = lstatOrUndefined(at);
    if (st?.isDirectory() === true) continue;
    if (st !== undefined) fs.rmSync(at, { force: true });
    fs.mkdirSync(at, { mode: 0o755 });
  }
  return at;
}

/** The plain file `rel` inside `root` (made empty when missing; a link, device or socket there is replaced). */
function ensureFileIn(root: string, rel: string): string {
  const parts = components(rel);
  const name = parts.pop();
  if (name === undefined) throw new NsnetError('INVALID_VALUE', `bind-mount target "${rel}" names no file`);
  const file = path.join(ensureDirIn(root, parts.join('/')), name);
  const st = lstatOrUndefined(file);
  if (st?.isFile() === true) return file;
  if (st?.isDirectory() === true) {
    throw new NsnetError('STATE', `cannot mount over /${rel} in ${root}: it is a directory in the container`, { hint: 'remove it in the container, or remove the container' });
  }
  if (st !== undefined) fs.rmSync(file, { force: true });
  fs.writeFileSync(file, '', { mode: 0o644, flag: 'wx' });
  return file;
}

function components(rel: string): string[] {
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new NsnetError('INVALID_VALUE', `path "${rel}" leaves the root filesystem`);
  return parts;
}

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

/** /proc/self/mountinfo escapes space, tab, newline and backslash in paths as octal. */
const unescapeMountPath = (p: string): string => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Mount points at or under `dir` in this mount namespace, deepest first (the order to unmount them). */
export function mountsUnder(dir: string): string[] {
  let text = '';
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const base = path.resolve(dir);
  const found = text
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map(unescapeMountPath)
    .filter((p) => p === base || p.startsWith(base + path.sep));
  return [...new Set(found)].sort((a, b) => b.length - a.length);
}
