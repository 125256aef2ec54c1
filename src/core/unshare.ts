/**
 * How a container's process gets its PID and mount namespaces, its root filesystem and its
 * capabilities: the arguments of unshare(1), and what unshare (or exec's nsenter) runs last.
 * Shared by the kernel, which runs them, and by --dry-run, which prints them.
 */
import { DEFAULT_PRIVILEGES, type Capability, type Privileges } from './capabilities.js';

/** What a container's processes are confined to, besides their namespaces. */
export interface Confinement {
  /** Absent: Docker's default set, as a container run without capability flags has. */
  privileges?: Privileges | undefined;
  /** Root filesystem directory (--rootfs); absent: the host's. */
  rootfs?: string | undefined;
  /** The working directory inside the root filesystem (an image's WorkingDir, -w); absent: /. */
  workdir?: string | undefined;
  /** UID[:GID], numeric (an image's User, -u); absent: root. */
  user?: string | undefined;
}

/**
 * The host programs that start a container's command. The by-hand line names them; the kernel
 * gives their absolute paths, found on nsnet's own PATH: the container's environment (its PATH
 * from -e) must not decide which setpriv confines it.
 */
export interface LaunchTools {
  setpriv: string;
  chroot: string;
  /** For a working directory or a user (see enterRoot); absent: found by name. */
  nsenter?: string | undefined;
}

const BY_NAME: LaunchTools = { setpriv: 'setpriv', chroot: 'chroot', nsenter: 'nsenter' };

export function unshareArgs(spec: Confinement & { argv: readonly string[] }, tools: LaunchTools = BY_NAME): string[] {
  // Slave, not private: the container's copy of /run/netns must go on receiving the host's
  // `ip netns add/delete` mounts. A private copy freezes it at start, so a namespace added later
  // is a plain empty file in there, and `ip addr` in the container, resolving a veth's
  // link-netnsid by trying every /run/netns entry, says "Peer netns reference is invalid" for
  // each. The container's own mounts (its /proc) still do not reach the host.
  // With a root filesystem, its own /proc is mounted inside it: chroot(8) comes later.
  const proc = spec.rootfs === undefined ? '--mount-proc' : `--mount-proc=${spec.rootfs.replace(/\/+$/, '')}/proc`;
  return ['--pid', '--fork', '--kill-child', '--mount', proc, '--propagation', 'slave', '--', ...confinedArgv(spec, tools)];
}

/**
 * The last programs before the command, run by unshare at start and by nsenter for exec:
 * setpriv(1) leaves the command only its capabilities, as bounding, permitted and effective
 * sets, and sets no_new_privs; then chroot(8) enters the root filesystem.
 *
 * Why this order: unshare needs CAP_SYS_ADMIN to mount the container's /proc, so the capabilities
 * go after it; and setpriv comes from the host, so it runs before the chroot (the root filesystem
 * need not have it). chroot then needs CAP_SYS_CHROOT, which validation keeps for --rootfs.
 */
export function confinedArgv(spec: Confinement & { argv: readonly string[] }, tools: LaunchTools = BY_NAME): string[] {
  const root = spec.rootfs === undefined ? [] : enterRoot(spec.rootfs, spec, tools);
  const privileges = spec.privileges ?? DEFAULT_PRIVILEGES;
  if (privileges.privileged) return [...root, ...spec.argv];
  return [tools.setpriv, ...setprivArgs(privileges.capabilities), '--', ...root, ...spec.argv];
}

/**
 * setpriv's options for a root process that keeps exactly `caps`. For root the kernel computes
 * the permitted and effective sets at exec from the bounding set (and the inheritable set, which
 * is emptied as Docker empties it since CVE-2022-24769), so dropping the bounding set is what
 * sets all three; no_new_privs stops a setuid or file-capability binary from getting more.
 */
export function setprivArgs(caps: readonly Capability[]): string[] {
  const bounding = ['-all', ...caps.map((c) => `+${c.slice('CAP_'.length).toLowerCase()}`)].join(',');
  return [`--bounding-set=${bounding}`, '--inh-caps=-all', '--no-new-privs'];
}

/**
 * chroot(8) always changes to the new root's /. With a working directory or a user, nsenter(1)
 * enters the root instead, still after setpriv: --root chroots, --wdns then changes to the
 * directory as seen inside the new root (opened after the chroot, so a link in the container's
 * path cannot lead out of it), -S/-G set the numeric user and group (clearing supplementary groups).
 * It needs CAP_SYS_CHROOT, as chroot does, and CAP_SETUID/CAP_SETGID for a user (Docker's default set has them).
 */
function enterRoot(rootfs: string, spec: Confinement, tools: LaunchTools): string[] {
  if (spec.workdir === undefined && spec.user === undefined) return [tools.chroot, rootfs];
  const [uid, gid = '0'] = (spec.user ?? '').split(':');
  const user = spec.user === undefined ? [] : ['-S', uid!, '-G', gid];
  return [tools.nsenter ?? 'nsenter', `--root=${rootfs}`, ...(spec.workdir === undefined ? [] : [`--wdns=${spec.workdir}`]), ...user, '--'];
}
