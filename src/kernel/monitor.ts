/**
 * Detached containers run under a monitor (native/nsnet-monitor.c, built to bin/nsnet-monitor):
 * a small C program that is the parent of the container's launcher, outlives nsnet, writes the
 * container's output to its log with timestamps, records the exit status in the container's
 * state directory and applies the restart policy.
 *
 * nsnet starts it exactly where it used to start the launcher — from its main thread inside the
 * container's network namespace, with fresh UTS and IPC namespaces (kernel/process.ts) — and
 * hands it the same launch argv, so nothing else about the container changes. The monitor then
 * lives in the container's network namespace: killing the namespace's processes (rm, crash
 * recovery) ends it too. It says on its stdout, one line, whether the command started.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ALL_CAPABILITIES, DEFAULT_PRIVILEGES, type Capability } from '../core/capabilities.js';
import { NsnetError } from '../core/errors.js';
import type { Finished, LaunchSpec, MonitorOptions, Started } from './api.js';
import { nsnetCli } from './daemon.js';
import { commandFailure, execFailure, inContainerNamespaces, launchArgv, launcherNames, type FatalReport } from './process.js';
import { reap, spawnDetachedWithStdout } from './posix-spawn.js';

/** bin/nsnet-monitor of this installation, beside the CLI (scripts/build-native.sh builds it). */
export function monitorBinary(): string {
  const bin = path.join(path.dirname(nsnetCli()), 'nsnet-monitor');
  if (fs.existsSync(bin)) return bin;
  throw new NsnetError('STATE', `cannot find ${bin}, which runs detached containers`, { hint: 'build it: sh scripts/build-native.sh (npm run build does it)' });
}

/** bin/nsnet of this installation (the compiled client): what a --rm container's monitor removes it with. */
export const nsnetClient = (): string => path.join(path.dirname(nsnetCli()), 'nsnet');

/**
 * The environment of the monitor's `nsnet rm`: this nsnet's PATH and NSNET_* switches
 * (NSNET_SERVICE=off, a firewall driver, test switches), so it runs as the nsnet that started the
 * container; the state root is given as --root, and a fault injected for this command is not
 * injected again there.
 */
export function removalEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const skip = new Set(['NSNET_ROOT', 'NSNET_FAULT', 'NSNET_CLIENT_FALLBACK']);
  return Object.entries(env)
    .filter(([k, v]) => v !== undefined && (k === 'PATH' || (k.startsWith('NSNET_') && !skip.has(k))))
    .map(([k, v]) => `${k}=${v!}`);
}

/** The launch argv as it is, or with host programs around it that exec on (see monitorArgv). */
export type LaunchWrap = (launch: readonly string[]) => string[];

/**
 * The monitor's command line: its options, then what it runs. Without a wrap the monitor starts
 * the command confined itself (--pid-ns ...: what unshare, setpriv and chroot/nsenter would do,
 * native/nsnet-monitor.c confined_exec), three program starts less on every run -d; --dry-run
 * still prints those programs, the by-hand way. With a wrap — the Docker API's attachable
 * containers get their stdin, or a terminal, put in place by host programs that exec on
 * (src/kernel/attach-stdio.ts) — it runs the launch argv, wrapped, as nsnet would.
 */
export function monitorArgv(spec: LaunchSpec, logPath: string, opts: MonitorOptions, wrap?: LaunchWrap, hostNs?: readonly string[]): string[] {
  const common = [
    '--dir', opts.stateDir, '--log', logPath, '--hostname', spec.hostname,
    '--restart', opts.restart.name, '--max-retries', String(opts.restart.maximumRetryCount),
    ...removalArgv(opts, hostNs),
  ];
  // `ip netns exec NS` first (a container with /etc/netns files): the monitor does its steps itself.
  const netnsExec = spec.etcNetns === true && spec.netns !== undefined ? ['--netns-exec', spec.netns] : [];
  if (wrap === undefined) return [...common, ...netnsExec, ...confinementOptions(spec), '--', ...spec.argv];
  return [...common, '--launchers', [...launcherNames(spec)].join(','), '--', ...wrap(launchArgv(spec))];
}

/** The monitor's options for unshare's, setpriv's and chroot's parts of the launch (core/unshare.ts). */
function confinementOptions(spec: LaunchSpec): string[] {
  const rootfs = spec.rootfs?.replace(/\/+$/, '');
  const privileges = spec.privileges ?? DEFAULT_PRIVILEGES;
  return [
    '--pid-ns', rootfs === undefined ? '/proc' : `${rootfs}/proc`,
    ...(privileges.privileged ? [] : ['--bounding-set', capabilityMask(privileges.capabilities)]),
    ...(rootfs === undefined ? [] : ['--rootfs', rootfs]),
    ...(rootfs !== undefined && spec.workdir !== undefined ? ['--workdir', spec.workdir] : []),
    ...(rootfs !== undefined && spec.user !== undefined ? ['--user', spec.user.includes(':') ? spec.user : `${spec.user}:0`] : []),
  ];
}

/** The capabilities as a bit mask (bit n: capability n), in hex. */
export function capabilityMask(caps: readonly Capability[]): string {
  let mask = 0n;
  for (const c of caps) mask |= 1n << BigInt(ALL_CAPABILITIES.indexOf(c));
  return mask.toString(16);
}

/** --rm: how the monitor has the container removed (native/nsnet-monitor.c, remove_container). */
function removalArgv(opts: MonitorOptions, hostNs: readonly string[] | undefined): string[] {
  const r = opts.removeOnExit;
  if (r === undefined) return [];
  if (hostNs === undefined) throw new NsnetError('PROCESS', 'a --rm container\'s monitor needs the host namespaces to remove it from');
  return [
    '--remove-on-exit', r.containerId,
    '--nsnet', nsnetClient(),
    '--root', r.root,
    '--host-ns', hostNs.join(','),
    '--remove-log', r.logPath,
    ...removalEnv().flatMap((e) => ['--remove-env', e]),
  ];
}

/**
 * This thread's network, UTS and IPC namespaces — the host's, before it enters the container's —
 * held open while the monitor starts, which opens them by their /proc/PID/fd path (its spawn
 * passes no descriptor but 0-2) to go back to them for the removal.
 */
function holdHostNamespaces(): { paths: string[]; close: () => void } {
  const fds = ['net', 'uts', 'ipc'].map((ns) => fs.openSync(`/proc/thread-self/ns/${ns}`, 'r'));
  return { paths: fds.map((fd) => `/proc/${process.pid}/fd/${fd}`), close: () => fds.forEach((fd) => fs.closeSync(fd)) };
}

/** The monitor's first line: up to its newline, or all it wrote before closing. */
function handshake(out: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const done = (): void => {
      out.removeAllListeners('data');
      resolve(text.split('\n')[0] ?? '');
    };
    out.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (text.includes('\n')) done();
    });
    out.once('end', done);
  });
}

/** The last lines a command printed, from a json-file log (what the launcher said when it failed). */
function lastWords(logPath: string): string {
  let text = '';
  try {
    text = fs.readFileSync(logPath, 'utf8');
  } catch {
    return '';
  }
  return text
    .trim()
    .split('\n')
    .slice(-3)
    .map((line) => {
      try {
        return String((JSON.parse(line) as { log?: unknown }).log ?? '').trim();
      } catch {
        return line;
      }
    })
    .join('; ');
}

/**
 * Start a detached container under its monitor. Started (with the monitor's PID) once the
 * command runs; Finished when it ended before it was seen running (a command that cannot be
 * executed is the launcher's typed failure instead, as for a foreground run).
 */
export async function launchMonitored(spec: LaunchSpec, logPath: string, opts: MonitorOptions, onFatal: FatalReport, wrap?: LaunchWrap): Promise<Started | Finished> {
  const bin = monitorBinary();
  const host = opts.removeOnExit === undefined ? undefined : holdHostNamespaces();
  let line: string;
  let child: ReturnType<typeof spawnDetachedWithStdout>;
  try {
    const argv = [bin, ...monitorArgv(spec, logPath, opts, wrap, host?.paths)];
    // posix_spawn, not Node's spawn: a fork of the nsnet service cost 2.5 ms of each run -d (posix-spawn.ts).
    child = inContainerNamespaces(spec, onFatal, () => spawnDetachedWithStdout(bin, argv, { ...spec.env }, '/'));
    // The monitor has opened the host's namespaces before it says anything.
    line = await handshake(child.stdout);
  } finally {
    host?.close();
  }
  child.stdout.destroy();
  // The process started forks the monitor and exits (double fork).
  reap(child.pid);
  const [word, ...rest] = line.split(' ');
  const [monitorPid, monitorStart, a, b] = rest;
  const monitor = { pid: Number(monitorPid), startTime: monitorStart ?? '' };
  if (word === 'started' && a !== undefined && b !== undefined) return { pid: Number(a), startTime: b, monitor };
  if (word === 'exited' && a !== undefined) {
    const exitCode = Number(a);
    const said = lastWords(logPath);
    if ((exitCode === 126 || exitCode === 127) && execFailure(said)) throw commandFailure(spec.argv[0] ?? '', exitCode, said);
    return { exitCode, monitor };
  }
  throw new NsnetError('PROCESS', `the container's monitor could not start it: ${word === 'failed' ? rest.join(' ') : `it said "${line}"`}`);
}
