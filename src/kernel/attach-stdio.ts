/**
 * The stdio of a container the Docker API starts with Tty or OpenStdin (`docker run -it`,
 * `docker run -i`). Such a container still runs under its monitor (native/nsnet-monitor.c: exit
 * status, restarts, stop), which gives its command /dev/null as stdin and pipes as stdout and
 * stderr. Programs of the host run first in the monitor's child, before the launcher, and exec on
 * (kernel/monitor.ts `before`), and they put the stdio in place:
 *
 *   a terminal:  sh -c 'exec 0<>"$0" 1>&0 2>&0 && exec "$@"' /dev/pts/N  LAUNCHER...
 *                the pty's slave (its master stays with nsnet serve) as stdin, stdout and stderr;
 *                and in the launcher, right after unshare has made the PID namespace,
 *                `setsid --ctty`: the container's init leads a new session whose controlling
 *                terminal that is. Inside the namespace, not before it: a shell gives the terminal
 *                back to the process group it started in when it exits, and a group outside the
 *                namespace is one it cannot name (dash then fails its `exit N` with status 2);
 *   stdin only:  sh -c 'exec 0<"$0" && exec "$@"' FIFO  LAUNCHER...
 *                a named pipe in the container's state directory, which nsnet serve writes;
 *                stdout and stderr stay the monitor's pipes (the log).
 * sh and setsid are the host's, by absolute path; they exec, so the monitor's child is still the
 * launcher the monitor watches for its init.
 */
import fs from 'node:fs';
import path from 'node:path';
import { lazyLibcFunctions, throwErrno } from './libc.js';
import type { LaunchWrap } from './monitor.js';
import { whichPath } from './which.js';

const tool = (name: string): string => whichPath(name) ?? name;

/** The launch argv with a terminal (its slave's path in the host's /dev/pts). */
export function terminalStdio(slavePath: string): LaunchWrap {
  return (launch) => [tool('sh'), '-c', 'exec 0<>"$0" 1>&0 2>&0 && exec "$@"', slavePath, ...sessionInside(launch)];
}

/** The launch argv with stdin from a named pipe. */
export function pipedStdin(fifoPath: string): LaunchWrap {
  return (launch) => [tool('sh'), '-c', 'exec 0<"$0" && exec "$@"', fifoPath, ...launch];
}

/** `setsid --ctty` as the first program unshare runs (after the `--` that ends its options). */
export function sessionInside(launch: readonly string[]): string[] {
  const unshare = launch.findIndex((a) => path.basename(a) === 'unshare');
  const end = unshare < 0 ? -1 : launch.indexOf('--', unshare);
  if (end < 0) throw new Error(`cannot find unshare's -- in the launch command ${launch.join(' ')}`);
  return [...launch.slice(0, end + 1), tool('setsid'), '--ctty', ...launch.slice(end + 1)];
}

const libc = lazyLibcFunctions((lib) => ({ mkfifo: lib.func('int mkfifo(const char *path, uint32_t mode)') as (path: string, mode: number) => number }));

/**
 * A named pipe (mode 0600: only root writes a container's stdin), opened here for reading and
 * writing so that neither end's open blocks and the container's `exec 0<FIFO` returns at once.
 * Closing the returned fd is the container's end of input (EOF) once nobody else writes.
 */
export function openStdinFifo(path: string): number {
  fs.rmSync(path, { force: true });
  if (libc().mkfifo(path, 0o600) !== 0) throwErrno(`mkfifo ${path}`, `mkfifo -m 600 ${path}`);
  return fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
}
