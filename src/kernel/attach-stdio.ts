/**
 * The stdio of a container the Docker API starts with Tty or OpenStdin (`docker run -it`,
 * `docker run -i`). Such a container still runs under its monitor (native/nsnet-monitor.c: exit
 * status, restarts, stop), which gives its command /dev/null as stdin and pipes as stdout and
 * stderr. Programs of the host run first in the monitor's child, before the launcher, and exec on
 * (kernel/monitor.ts `before`), and they put the stdio in place:
 *
 *   a terminal:  sh -c 'exec 0<>"$0" 1>&0 2>&0 && exec "$@"' /dev/pts/N  setsid --ctty  LAUNCHER...
 *                the pty's slave (its master stays with nsnet serve) as stdin, stdout and stderr,
 *                and as the controlling terminal of a new session (a shell gets job control);
 *   stdin only:  sh -c 'exec 0<"$0" && exec "$@"' FIFO  LAUNCHER...
 *                a named pipe in the container's state directory, which nsnet serve writes;
 *                stdout and stderr stay the monitor's pipes (the log).
 * sh and setsid are the host's, by absolute path; they exec, so the monitor's child is still the
 * launcher the monitor watches for its init.
 */
import fs from 'node:fs';
import { KernelError } from '../core/errors.js';
import { errnoName, koffi } from './libc.js';
import { whichPath } from './which.js';

const tool = (name: string): string => whichPath(name) ?? name;

/** The programs before the launcher for a terminal (its slave's path in the host's /dev/pts). */
export function terminalStdio(slavePath: string): string[] {
  return [tool('sh'), '-c', 'exec 0<>"$0" 1>&0 2>&0 && exec "$@"', slavePath, tool('setsid'), '--ctty'];
}

/** The programs before the launcher for stdin from a named pipe. */
export function pipedStdin(fifoPath: string): string[] {
  return [tool('sh'), '-c', 'exec 0<"$0" && exec "$@"', fifoPath];
}

let mkfifoFn: ((path: string, mode: number) => number) | undefined;

/**
 * A named pipe (mode 0600: only root writes a container's stdin), opened here for reading and
 * writing so that neither end's open blocks and the container's `exec 0<FIFO` returns at once.
 * Closing the returned fd is the container's end of input (EOF) once nobody else writes.
 */
export function openStdinFifo(path: string): number {
  fs.rmSync(path, { force: true });
  mkfifoFn ??= koffi().load('libc.so.6').func('int mkfifo(const char *path, uint32_t mode)') as (path: string, mode: number) => number;
  if (mkfifoFn(path, 0o600) !== 0) {
    const errno = koffi().errno();
    throw new KernelError(`mkfifo ${path}`, errno, errnoName(errno), `mkfifo -m 600 ${path}`);
  }
  return fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
}
