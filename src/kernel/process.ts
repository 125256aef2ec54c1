/**
 * Container processes. A container is a named network namespace plus a process started in it
 * with its own PID, UTS, IPC and mount namespaces.
 *
 * How the process gets there without a shell or a helper binary of our own: setns and unshare act
 * on the calling thread, and Node forks children from the main thread (the one running this
 * code). So the main thread briefly enters the container's network namespace, unshares fresh
 * UTS and IPC namespaces, sets the hostname, and spawns util-linux `unshare`, which adds the PID
 * and mount namespaces (with a private /proc). The child inherits all of it; the main thread then
 * returns to its own namespaces before doing anything else. Last before the command, setpriv
 * leaves it only its capabilities (and chroot enters its root filesystem): see core/unshare.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { NsnetError } from '../core/errors.js';
import { confinedArgv, unshareArgs, type Confinement, type LaunchTools } from '../core/unshare.js';
import { whichPath } from './which.js';
import { CLONE_NEWNET, CLONE_NEWUTS, setns, sethostname, sleepSync, unshare } from './libc.js';
import { openNetnsFd } from './netns.js';
import { closePidfd, openPidfd, pidfdExited, pidfdsExited } from './pidfd.js';
import type { LaunchSpec, Started } from './api.js';

/**
 * Programs nsnet starts containers with, by absolute path from nsnet's own PATH: spawn looks a
 * bare name up on the child's PATH, which is the container's environment (-e PATH=...).
 */
const tool = (name: string): string => whichPath(name) ?? name;
const launchTools = (): LaunchTools => ({ setpriv: tool('setpriv'), chroot: tool('chroot'), nsenter: tool('nsenter') });

const CLONE_NEWIPC = 0x08000000;

/**
 * Told why nsnet stops at once: its main thread could not return from a container's namespaces,
 * and whatever it did next would happen in there. Only the caller knows where to say so (the CLI:
 * stderr); the process exits with status 70 straight after.
 */
export type FatalReport = (message: string) => void;

export function inContainerNamespaces<T>(spec: LaunchSpec, onFatal: FatalReport, fn: () => T): T {
  const saved = {
    net: fs.openSync('/proc/thread-self/ns/net', 'r'),
    uts: fs.openSync('/proc/thread-self/ns/uts', 'r'),
    ipc: fs.openSync('/proc/thread-self/ns/ipc', 'r'),
  };
  // --network host: the network namespace stays the caller's; UTS and IPC are still the container's own.
  const target = spec.netns === undefined ? undefined : openNetnsFd(spec.netns);
  try {
    if (target !== undefined) setns(target, CLONE_NEWNET);
    unshare(CLONE_NEWUTS | CLONE_NEWIPC);
    sethostname(spec.hostname);
    return fn();
  } finally {
    // Returning is not optional: a failure here would leave nsnet itself inside the container.
    try {
      setns(saved.net, CLONE_NEWNET);
      setns(saved.uts, CLONE_NEWUTS);
      setns(saved.ipc, CLONE_NEWIPC);
    } catch (err) {
      onFatal(`cannot return to the host namespaces: ${String(err)}`);
      process.exit(70);
    }
    for (const fd of [target, saved.net, saved.uts, saved.ipc]) if (fd !== undefined) fs.closeSync(fd);
  }
}

/** The program and arguments that start a container's process, by absolute paths: what the monitor runs too. */
export function launchArgv(spec: LaunchSpec): string[] {
  return spec.etcNetns === true && spec.netns !== undefined
    ? [tool('ip'), 'netns', 'exec', spec.netns, tool('unshare'), ...unshareArgs(spec, launchTools())]
    : [tool('unshare'), ...unshareArgs(spec, launchTools())];
}

function spawnInContainer(spec: LaunchSpec, onFatal: FatalReport): ChildProcess {
  const [program, ...args] = launchArgv(spec);
  return inContainerNamespaces(spec, onFatal, () => spawn(program!, args, { env: { ...spec.env }, stdio: 'inherit' }));
}

/**
 * The programs the container's PID 1 is before it is its command: a copy of unshare until it
 * execs setpriv, which execs chroot (with --rootfs), which execs the command. A command of the
 * same name as one of them is taken as started when it is seen under that name.
 */
export function launcherNames(spec: LaunchSpec): Set<string> {
  const names = new Set(['unshare', ...confinedArgv({ ...spec, argv: [] }).filter((a) => a === 'setpriv' || a === 'chroot' || a === 'nsenter')]);
  // /proc/PID/comm: the base name of the file exec'd, cut to 15 bytes.
  names.delete((spec.argv[0] ?? '').split('/').pop()!.slice(0, 15));
  return names;
}

/**
 * `unshare --fork` runs the command as its only child: that child is the container's PID 1, once
 * it has exec'd its command; undefined when unshare has already gone, i.e. the command ran and
 * finished (or could not be executed) before it was seen.
 */
function containerInit(unsharePid: number, launchers: ReadonlySet<string>): Started | undefined {
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline) {
    let children = '';
    try {
      children = fs.readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim();
    } catch {
      return undefined; // unshare already exited
    }
    const first = children.split(/\s+/)[0];
    if (first !== undefined && first !== '') {
      const pid = Number(first);
      const startTime = readStartTime(pid);
      // Until it has exec'd its command, the child is unshare, setpriv or chroot; a command that
      // cannot be executed never gets past that point, and the child exits (status 126/127).
      const comm = commOf(pid);
      if (startTime !== undefined && comm !== undefined && !launchers.has(comm) && readStartTime(pid) === startTime) return { pid, startTime };
    } else if (readStartTime(unsharePid) === undefined) {
      // unshare has exited and waits, a zombie, for this (busy) thread to reap it.
      return undefined;
    }
    sleepSync(1);
  }
  throw new NsnetError('PROCESS', `the container process did not start (unshare pid ${unsharePid})`);
}

/**
 * The last launcher's own words when it could not execute the command (status 126/127):
 * unshare's and setpriv's "failed to execute", chroot's "failed to run command".
 */
export const execFailure = (said: string): boolean => /failed to (execute|run command)/.test(said);

/**
 * Why the launcher could not execute the command, typed by its exit status (util-linux's and
 * coreutils' convention, which Docker's run and exec follow too: 127 not found, 126 found but not
 * executable), in Docker's words, with the launcher's own kept for the detail.
 */
export function commandFailure(program: string, exitCode: 126 | 127, said: string): NsnetError {
  const where = program.includes('/') ? 'no such file or directory' : 'executable file not found in $PATH';
  return exitCode === 127
    ? new NsnetError('COMMAND_NOT_FOUND', `exec: "${program}": ${where} (${said})`, { hint: 'check the command name and the container\'s PATH (-e PATH=...)' })
    : new NsnetError('COMMAND_NOT_EXECUTABLE', `exec: "${program}": permission denied (${said})`, { hint: 'the command must be an executable file (chmod +x), not a directory' });
}

export async function spawned(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', (err) => reject(new NsnetError('PROCESS', `start unshare: ${err.message}`, { cause: err })));
    child.once('spawn', () => resolve(child.pid ?? -1));
  });
}

/**
 * Start a container process in the foreground with the caller's stdio. `exit` resolves to its exit
 * code (128 + signal number when killed, as shells report it); `started` is undefined when the
 * command finished before it was seen running.
 */
export async function launchForeground(spec: LaunchSpec, onFatal: FatalReport): Promise<{ started: Started | undefined; exit: Promise<number> }> {
  const child = spawnInContainer(spec, onFatal);
  await spawned(child);
  const exit = waitChild(child);
  try {
    return { started: containerInit(child.pid ?? -1, launcherNames(spec)), exit };
  } catch (err) {
    child.kill('SIGKILL');
    await exit;
    throw err;
  }
}

/**
 * Run a command inside all of a running container's namespaces with the caller's stdio, confined
 * as the container's own process is (its capabilities, no_new_privs, its root filesystem).
 */
export async function execInContainer(pid: number, argv: readonly string[], env: Readonly<Record<string, string>>, confinement: Confinement): Promise<number> {
  // With a root filesystem nsenter stays at the mount namespace's root, where setpriv is;
  // chroot(8) enters the container's root after it (core/unshare.ts says why in that order).
  const where = confinement.rootfs === undefined ? ['--root', '--wd'] : [];
  const args = ['--target', String(pid), '--net', '--uts', '--ipc', '--mount', '--pid', ...where, '--', ...confinedArgv({ ...confinement, argv }, launchTools())];
  const child = spawn(tool('nsenter'), args, { env: { ...env }, stdio: 'inherit' });
  await spawned(child);
  return waitChild(child);
}

export async function waitChild(child: ChildProcess): Promise<number> {
  // The terminal sends ^C to the whole foreground group; the container handles it, nsnet waits.
  const ignore = (): void => {};
  process.on('SIGINT', ignore);
  try {
    return await new Promise<number>((resolve) => {
      child.once('exit', (code, signal) => {
        resolve(code ?? 128 + (signal === null ? 0 : (os_signals[signal] ?? 0)));
      });
    });
  } finally {
    process.off('SIGINT', ignore);
  }
}

const os_signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

function commOf(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** /proc/PID/stat is one line of a few hundred bytes; one buffer serves every read (this thread only). */
const statBuffer = Buffer.alloc(4096);

/** One read(2) into statBuffer: readFileSync costs an fstat and a second read for a /proc file (size 0). */
function readProcStat(pid: number): string {
  const fd = fs.openSync(`/proc/${pid}/stat`, 'r');
  try {
    return statBuffer.toString('latin1', 0, fs.readSync(fd, statBuffer, 0, statBuffer.length, 0));
  } finally {
    fs.closeSync(fd);
  }
}

/** Field 22 of /proc/PID/stat (start time in clock ticks), or undefined when there is no such process. */
export function readStartTime(pid: number): string | undefined {
  try {
    return startTimeOf(readProcStat(pid));
  } catch {
    return undefined;
  }
}

/** Field 22 of a stat line, undefined for a process that has exited but is not yet reaped. */
function startTimeOf(stat: string): string | undefined {
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19];
}

/**
 * Processes isAlive found alive, each held by a pidfd (kernel/pidfd.ts) in a long-lived nsnet
 * process that asked for it (holdLiveProcesses: nsnet serve, the service), so the next question
 * about the same process is one poll instead of a look at /proc. A short-lived command asks about
 * each process once or twice: it looks at /proc every time and does not load the FFI for it.
 * At most maxHeld (the oldest is closed first), a quarter of the open-files limit, so a serve
 * with thousands of containers keeps descriptors for everything else.
 */
interface Held {
  pidfd: number;
  startTime: string;
}
const held = new Map<number, Held>();
let maxHeld = 0;

/** Hold the pidfds of processes found alive (on), or close them all and look at /proc each time (off). */
export function holdLiveProcesses(on: boolean): void {
  maxHeld = on ? Math.min(4096, Math.floor(openFilesLimit() / 4)) : 0;
  if (!on) for (const pid of [...held.keys()]) releaseHeld(pid);
}

/** The soft limit of open files (/proc/self/limits), 1024 when it cannot be read. */
function openFilesLimit(): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    return m === null ? 1024 : Number(m[1]);
  } catch {
    return 1024;
  }
}

function releaseHeld(pid: number): void {
  const h = held.get(pid);
  if (h === undefined) return;
  held.delete(pid);
  closePidfd(h.pidfd);
}

/**
 * While a snapshot is taken (withLivenessSnapshot): what one poll(2) said of each process held at
 * that moment (by its held entry: one held since is not in it), exited or not (undefined: its
 * pidfd could not tell).
 */
let snapshot: Map<Held, boolean | undefined> | undefined;

/**
 * Runs fn with isAlive answering for every held process from one poll(2) of all their pidfds,
 * taken now: a listing asks about each container's processes in turn, within microseconds, and
 * one system call serves them all (at 21 containers, one instead of 42 foreign calls). Processes
 * not held yet are looked at as always.
 */
export function withLivenessSnapshot<T>(fn: () => T): T {
  if (snapshot !== undefined || held.size === 0) return fn();
  const entries = [...held.values()];
  const exited = pidfdsExited(entries.map((h) => h.pidfd));
  snapshot = new Map(entries.map((h, i) => [h, exited[i]]));
  try {
    return fn();
  } finally {
    snapshot = undefined;
  }
}

/** True when the process still runs and is the one we started (not a reused PID). */
export function isAlive(pid: number, startTime: string): boolean {
  const h = held.get(pid);
  if (h !== undefined) {
    // Another process of that PID is held (a caller asking about an older one): a plain look.
    if (h.startTime !== startTime) return readStartTime(pid) === startTime;
    const exited = snapshot?.has(h) === true ? snapshot.get(h) : pidfdExited(h.pidfd);
    if (exited === false) return true;
    releaseHeld(pid);
    if (exited === true) return false;
  }
  if (maxHeld === 0) return readStartTime(pid) === startTime;
  // The pidfd first, then the start time: a process that has this start time now was already
  // running (and had this PID) when the pidfd was opened, so the pidfd is bound to it.
  const pidfd = openPidfd(pid);
  const alive = readStartTime(pid) === startTime;
  if (pidfd === undefined) return alive;
  if (!alive) {
    closePidfd(pidfd);
    return false;
  }
  if (held.size >= maxHeld) releaseHeld(held.keys().next().value!);
  held.set(pid, { pidfd, startTime });
  return true;
}

export function sendSignal(pid: number, startTime: string, signal: NodeJS.Signals): void {
  if (!isAlive(pid, startTime)) return;
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Wait until the process is gone; returns false when it still runs after timeoutMs. */
export function waitGone(pid: number, startTime: string, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid, startTime)) {
    if (Date.now() >= deadline) return false;
    sleepSync(5);
  }
  return true;
}

/**
 * Docker's stop: SIGTERM, then SIGKILL after the grace period. A PID 1 without a SIGTERM handler
 * ignores SIGTERM (the kernel protects a namespace's init), so such containers take the full grace.
 */
export function stopProcess(pid: number, startTime: string, graceMs: number): 'term' | 'kill' | 'gone' {
  if (!isAlive(pid, startTime)) return 'gone';
  if (graceMs > 0) {
    sendSignal(pid, startTime, 'SIGTERM');
    if (waitGone(pid, startTime, graceMs)) return 'term';
  }
  sendSignal(pid, startTime, 'SIGKILL');
  waitGone(pid, startTime, 5000);
  return 'kill';
}
