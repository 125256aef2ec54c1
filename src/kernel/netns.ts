/**
 * Named network namespaces, laid out exactly like iproute2's `ip netns`: a namespace lives as long
 * as something references it, and a bind mount of /proc/thread-self/ns/net onto the empty file
 * /run/netns/NAME is such a reference. `ip netns list/exec/delete` therefore work on ours and we on
 * theirs.
 *
 * Switching namespaces: setns(2) and unshare(2) act on the calling *thread* only. Node runs all
 * JavaScript on the main thread, and everything here is synchronous, so switching the main thread
 * into a namespace, doing the work and switching back inside one synchronous call cannot interleave
 * with any other JavaScript. libuv's worker threads never switch, so async fs/dns work started
 * elsewhere keeps running in the original namespace. Never await inside a switched section.
 */
import * as fs from 'node:fs';
import { KernelError, NsnetError } from '../core/errors.js';
import type { Rtnl } from './api.js';
import * as libc from './libc.js';
import { openRtnl, type RtnlSocket } from './netlink/rtnl.js';

export const NETNS_RUN_DIR = '/run/netns';
const SELF_NET = '/proc/thread-self/ns/net';
// (libuv opens every file with O_CLOEXEC, so namespace fds never leak into spawned children.)

/**
 * A namespace is named (/run/netns/NAME, made by nsnet or `ip netns add`) or, when a container
 * runtime made it (CNI's CNI_NETNS), given by absolute path: /run/netns/cni-..., /proc/PID/ns/net.
 */
export function netnsPath(ref: string): string {
  return isNetnsPath(ref) ? ref : `${NETNS_RUN_DIR}/${ref}`;
}

export const isNetnsPath = (ref: string): boolean => ref.startsWith('/');

/** A runtime's namespace (given by path) is the runtime's to make and to delete, never nsnet's. */
function refuseRuntimeNamespace(ref: string): void {
  if (isNetnsPath(ref)) throw new NsnetError('STATE', `${ref} belongs to the container runtime: nsnet neither creates nor deletes it`);
}

function checkName(name: string): void {
  if (isNetnsPath(name)) {
    if (name.includes('\0') || name.split('/').includes('..') || name.length > 4095) {
      throw new NsnetError('INVALID_VALUE', `invalid network namespace path: ${JSON.stringify(name)}`);
    }
    return;
  }
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0') || name.length > 255) {
    throw new NsnetError('INVALID_VALUE', `invalid network namespace name: ${JSON.stringify(name)}`);
  }
}

let runDirShared = false;

/**
 * Make /run/netns a shared mount point (once per process), as iproute2 does: the bind mounts we put
 * under it then propagate to other mount namespaces (e.g. `unshare -m` shells, systemd services with
 * PrivateMounts), so the namespace files are usable there too. mount(MS_SHARED) fails with EINVAL
 * when /run/netns is not a mount point yet; bind-mounting it onto itself makes it one.
 */
function ensureRunDirShared(): void {
  if (runDirShared) return;
  try {
    fs.mkdirSync(NETNS_RUN_DIR, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw libc.fromNodeError(`create ${NETNS_RUN_DIR}`, err, `mkdir -p ${NETNS_RUN_DIR}`);
  }
  const cmd = `mount --make-rshared ${NETNS_RUN_DIR}`;
  try {
    libc.mount(null, NETNS_RUN_DIR, 'none', libc.MS_SHARED | libc.MS_REC, cmd);
  } catch (err) {
    if (!(err instanceof KernelError) || err.errno !== libc.EINVAL) throw err;
    libc.mount(NETNS_RUN_DIR, NETNS_RUN_DIR, 'none', libc.MS_BIND | libc.MS_REC, `mount --rbind ${NETNS_RUN_DIR} ${NETNS_RUN_DIR}`);
    libc.mount(null, NETNS_RUN_DIR, 'none', libc.MS_SHARED | libc.MS_REC, cmd);
  }
  runDirShared = true;
}

/** Open the calling thread's current network namespace (to come back to it later). */
function openSelfNet(): number {
  try {
    return fs.openSync(SELF_NET, fs.constants.O_RDONLY);
  } catch (err) {
    throw libc.fromNodeError(`open ${SELF_NET}`, err);
  }
}

/** Restore the saved namespace; failing to do so leaves the process in the wrong namespace. */
function restore(saved: number): void {
  try {
    libc.setns(saved, libc.CLONE_NEWNET);
  } finally {
    fs.closeSync(saved);
  }
}

/** Create a named network namespace, like `ip netns add NAME`. EEXIST when the name is taken. */
export function createNetns(name: string): void {
  checkName(name);
  refuseRuntimeNamespace(name);
  ensureRunDirShared();
  const path = netnsPath(name);
  const command = `ip netns add ${name}`;
  try {
    fs.closeSync(fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o444));
  } catch (err) {
    throw libc.fromNodeError(`create network namespace ${name}`, err, command);
  }
  try {
    const saved = openSelfNet();
    try {
      // unshare gives only this thread a fresh namespace; the bind mount keeps it alive after we
      // leave it.
      libc.unshare(libc.CLONE_NEWNET, command);
      libc.mount(SELF_NET, path, 'none', libc.MS_BIND, command);
    } finally {
      restore(saved);
    }
  } catch (err) {
    try {
      libc.umount2(path, libc.MNT_DETACH);
    } catch {
      /* not mounted */
    }
    fs.rmSync(path, { force: true });
    throw err;
  }
}

/**
 * Delete a named namespace, like `ip netns delete NAME`: detach the bind mount and remove the file.
 * The namespace itself (and its veth ends, which takes their host peers with them) goes away once
 * no process runs in it and no fd/socket references it. A missing name is success.
 */
export function deleteNetns(name: string): void {
  checkName(name);
  refuseRuntimeNamespace(name);
  const path = netnsPath(name);
  if (!fs.existsSync(path)) return;
  try {
    libc.umount2(path, libc.MNT_DETACH, `umount -l ${path}`);
  } catch (err) {
    // EINVAL: not a mount point (a stray file); ENOENT: raced with another delete
    if (!(err instanceof KernelError) || (err.errno !== libc.EINVAL && err.errno !== libc.ENOENT)) throw err;
  }
  try {
    fs.unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw libc.fromNodeError(`delete network namespace ${name}`, err, `ip netns delete ${name}`);
  }
}

export function netnsExists(name: string): boolean {
  checkName(name);
  return fs.existsSync(netnsPath(name));
}

export function listNetns(): string[] {
  try {
    return fs.readdirSync(NETNS_RUN_DIR).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw libc.fromNodeError(`list ${NETNS_RUN_DIR}`, err, 'ip netns list');
  }
}

/**
 * Which namespace a reference leads to: the device and inode of its nsfs file, or of the calling
 * thread's own namespace when `ref` is absent; undefined when nothing is there. stat() follows the
 * magic links /proc/PID/ns/net to the namespace itself, and a bind mount at /run/netns/NAME shows
 * the namespace it holds, so every path to one namespace gives the same pair (and a leftover
 * file under /run/netns, on tmpfs, gives another device).
 */
export function netnsIdentity(ref?: string): { dev: number; ino: number } | undefined {
  if (ref !== undefined) checkName(ref);
  try {
    const st = fs.statSync(ref === undefined ? SELF_NET : netnsPath(ref));
    return { dev: st.dev, ino: st.ino };
  } catch {
    // gone, or no file at all where a directory was expected (ENOTDIR): nothing to compare with
    return undefined;
  }
}

/** fd of a named namespace for IFLA_NET_NS_FD or setns; close with fs.closeSync. */
export function openNetnsFd(name: string): number {
  checkName(name);
  try {
    return fs.openSync(netnsPath(name), fs.constants.O_RDONLY);
  } catch (err) {
    throw libc.fromNodeError(`open network namespace ${name}`, err, `ip netns exec ${name} true`);
  }
}

/**
 * Run fn with the calling thread inside namespace NAME and switch back afterwards, even on throw.
 * fn must be synchronous: a Promise would finish its work after we switched back.
 */
export function withNetns<T>(name: string, fn: () => T): T {
  const target = openNetnsFd(name);
  let saved: number;
  try {
    saved = openSelfNet();
  } catch (err) {
    fs.closeSync(target);
    throw err;
  }
  let result: T;
  try {
    try {
      // setns on a file that is not a namespace (a stray file in /run/netns) fails with EINVAL
      libc.setns(target, libc.CLONE_NEWNET, `ip netns exec ${name} ...`);
    } finally {
      fs.closeSync(target);
    }
    result = fn();
  } finally {
    restore(saved);
  }
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
    throw new NsnetError('STATE', `withNetns(${name}): the callback returned a Promise; it must be synchronous`);
  }
  return result;
}

/** A netlink route socket bound to namespace NAME; usable from any namespace afterwards. */
export function openRtnlIn(name: string): RtnlSocket & Rtnl {
  return withNetns(name, () => openRtnl(name));
}

/** True when /run/netns/NAME is a mount point (a live namespace), not just a leftover file. */
export function isMountedNetns(name: string): boolean {
  checkName(name);
  const path = netnsPath(name);
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return false;
  }
  for (const line of text.split('\n')) {
    // fields: id parent major:minor root mount-point options ...; spaces etc. escaped as \ooo
    const mountPoint = line.split(' ')[4];
    if (mountPoint === undefined) continue;
    const decoded = mountPoint.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (decoded === path) return true;
  }
  return false;
}
