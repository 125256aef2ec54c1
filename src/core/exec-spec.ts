/**
 * What `docker exec` starts, as an argv for nsenter(1): a process in all of a running container's
 * namespaces, confined as the container's own process is (core/unshare.ts confinedArgv: setpriv
 * leaves it the container's capabilities and sets no_new_privs, then its root filesystem is
 * entered, as the user and in the working directory asked for), and with a terminal, that
 * terminal as its controlling terminal. Pure: the kernel runs it (kernel/container-exec.ts), the
 * tests read it.
 *
 *   nsenter --target PID --net --uts --ipc --mount --pid [--root (--wd | --wdns=DIR)] --
 *     [setsid --ctty]        a terminal: a new session whose controlling terminal is stdin (job
 *                            control, ^C as SIGINT, a hang-up when the master closes)
 *     CONFINED ARGV          core/unshare.ts confinedArgv, as the container's own process
 *
 * Without a root filesystem nsenter takes the target's root, and its working directory or the one
 * asked for (--wdns opens it inside the namespace, after the root is entered); a user is only
 * possible with a root filesystem (setpriv must drop the capabilities while still root, and the
 * user is changed after it when the root is entered).
 */
import { confinedArgv, type Confinement, type LaunchTools } from './unshare.js';

export interface ExecSpec extends Confinement {
  /** Absolute, inside the container; absent or '/': where Docker starts, the root. */
  workdir?: string | undefined;
  /** Numeric UID:GID (names are resolved in the container's /etc/passwd by ops/container-exec.ts). */
  user?: string | undefined;
  /** A process of the container (its init), as the host numbers it: nsenter's --target. */
  pid: number;
  argv: readonly string[];
  /** The process's stdio is a terminal: it gets it as its controlling terminal. */
  tty: boolean;
  /**
   * The container has a devpts instance of its own on ROOTFS/dev/pts (an image's container): the
   * terminal comes from it, as Docker's exec terminal does, so the program finds it as /dev/pts/N.
   */
  ownDevpts?: boolean | undefined;
}

export interface ExecTools extends LaunchTools {
  setsid: string;
  nsenter?: string | undefined;
}

const BY_NAME: ExecTools = { setpriv: 'setpriv', chroot: 'chroot', nsenter: 'nsenter', setsid: 'setsid' };

/** nsenter's arguments (without the program itself) for one exec. */
export function execArgs(spec: ExecSpec, tools: ExecTools = BY_NAME): string[] {
  const workdir = spec.workdir === undefined || spec.workdir === '/' ? undefined : spec.workdir;
  const where = spec.rootfs !== undefined ? [] : ['--root', workdir === undefined ? '--wd' : `--wdns=${workdir}`];
  const ns = ['--target', String(spec.pid), '--net', '--uts', '--ipc', '--mount', '--pid', ...where, '--'];
  const terminal = spec.tty ? [tools.setsid, '--ctty'] : [];
  const confined = { privileges: spec.privileges, rootfs: spec.rootfs, ...(spec.rootfs === undefined ? {} : { workdir, user: spec.user }), argv: spec.argv };
  return [...ns, ...terminal, ...confinedArgv(confined, tools)];
}
