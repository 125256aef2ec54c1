/**
 * The nsnet service: one long-lived process per state root and network namespace that runs CLI
 * commands for the compiled client (bin/nsnet, native/nsnet-client.c) and CNI calls for
 * nsnet-cni, so neither pays for starting Node.js and loading nsnet at every command.
 *
 * A CLI request runs the very program the in-process CLI runs (main.ts), with the client's
 * stdin on this process's descriptor 0 for its length and a memory file on 1 and 2 (the client's
 * own descriptor where a write never waits: a regular file, /dev/null; Node writes both
 * synchronously, as the service's own stdout and stderr are files), with the client's argv,
 * environment, working directory, umask and terminal facts; so output and exit codes are the
 * in-process CLI's byte for byte. What the command writes is copied to the client's stdout and
 * stderr asynchronously (client-output.ts), so a client that does not read its output blocks
 * nobody else. Commands run one at a time, and every command takes the host lock as any nsnet
 * process does; the next one may start while an earlier client's output is still being written.
 *
 * What the service does not serve, the client runs in-process (answer 'R'): commands that use
 * the terminal or wait on a container (IN_PROCESS below, foreground `run`, `logs -f`), a request
 * for another state root, a request whose process-wide test switches differ from the service's,
 * and any request after nsnet was rebuilt, after which the service exits.
 *
 * Conversation on the socket, after the request and its descriptors (src/kernel/service-socket.ts;
 * a client that did not attach them is sent 'F' and answers with them): the service sends 'S'
 * when the command starts; then, once the command's output is all written to the client,
 * 'D<exit code>\n',
 * or 'R<why>\n' (run in-process: nothing was done), or 'E<message>\n' (refused). A connection
 * that closes after 'S' without 'D' or 'R' means the service died in the command: the client
 * says so; the next command recovers what it left unfinished (the journal).
 */
import fs from 'node:fs';
import path from 'node:path';
import tty from 'node:tty';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { listenServiceSocket, type ServiceConnection, type ServiceRequest } from '../kernel/service-socket.js';
import { closeFd, dupHigh, dupOnto } from '../kernel/unix-fds.js';
import { ClientOutput, prepareMemoryFiles } from './client-output.js';
import { holdLiveProcesses, isAlive, readStartTime } from '../kernel/process.js';
import { nsnetCli, spawnNodeDaemon } from '../kernel/daemon.js';
import { answerCni, parseRequest, readRecord, recordPath, serviceDir, serviceLogPath, serviceTurnedOff, socketPath, type ServiceRecord } from '../ops/cni-service.js';
import { DEFAULT_ROOT, keepStoresOpen } from '../ops/context.js';
import { kernelContext } from './context.js';
import { requireRoot, withCommon, type CommonOptions } from './common.js';

/** How the service runs one command line: main() of main.ts, with these hooks. */
export type Dispatch = (argv: readonly string[], hooks: DispatchHooks) => Promise<number>;

export interface DispatchHooks {
  /** Called with the command about to run; may throw to stop it before it does anything. */
  beforeAction?: (action: Command) => void;
  /** Errors main() must not print but throw on (the service's "run it in-process"). */
  escapes?: (err: unknown) => boolean;
  /** Parse with the program the previous such call used, not a new one (the service: ~0.5 ms a command). */
  keepProgram?: boolean;
}

/**
 * Commands that use the caller's terminal, or run for as long as something else decides (a
 * container, a capture until ^C): served, they would hold the service, which runs one command at
 * a time, from every other client.
 */
const IN_PROCESS = new Set(['exec', 'demo', 'wait', 'attach', 'events', 'stats', 'top', 'capture', 'cni-plugin', 'cni-service', 'dns-serve', 'service', 'system reset', 'serve']);

/** Read once per process (src/plan/faults.ts, src/kernel/nft.ts): a request that sets them otherwise runs in-process. */
const PROCESS_SWITCHES = ['NSNET_TEST_FAULTS', 'NSNET_FAULT', 'NSNET_NFT_BINARY'];

const DEFAULT_IDLE_MS = 10 * 60_000;

/** How often a running command's output is copied to the client (progress shows this promptly). */
const OUTPUT_TICK_MS = 10;

/** `network create` for the create subcommand of network. */
export function commandPath(action: Command): string {
  const names: string[] = [];
  for (let c: Command | null = action; c?.parent != null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Why this command must run in the caller's process, or undefined when the service may run it. */
function inProcessReason(action: Command, serviceRoot: string): string | undefined {
  const name = commandPath(action);
  if (IN_PROCESS.has(name)) return `${name} runs in the caller's process`;
  const opts = action.opts<{ detach?: boolean; follow?: boolean }>();
  if (name === 'run' && opts.detach !== true) return 'run in the foreground runs in the caller\'s process';
  if (name === 'logs' && opts.follow === true) return 'logs -f runs in the caller\'s process';
  const given = action.optsWithGlobals<CommonOptions>().root ?? process.env['NSNET_ROOT'] ?? DEFAULT_ROOT;
  if (given.trim() === '' || path.resolve(given) !== serviceRoot) return `the command's state root is not ${serviceRoot}`;
  return undefined;
}

class RunInProcess extends Error {}

// ---------------------------------------------------------------------------------------------
// The request

export interface CliCall {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  umask: number;
  /** Which of stdin, stdout, stderr are terminals, and the terminal's width. */
  tty: [boolean, boolean, boolean];
  columns: number | undefined;
}

/** Payload: NUL-terminated key and value strings, pairs one after another (native/nsnet-client.c writes them). */
export function decodeCliCall(payload: Buffer): CliCall {
  const parts = payload.toString('utf8').split('\0');
  if (parts.pop() !== '' || parts.length % 2 !== 0) throw new Error('malformed request: not a list of NUL-terminated key/value pairs');
  const call: CliCall = { argv: [], env: {}, cwd: '', umask: -1, tty: [false, false, false], columns: undefined };
  for (let i = 0; i < parts.length; i += 2) {
    const key = parts[i]!;
    const value = parts[i + 1]!;
    if (key === 'arg') call.argv.push(value);
    else if (key === 'env') {
      const eq = value.indexOf('=');
      if (eq <= 0) throw new Error(`malformed request: environment entry without a name: ${JSON.stringify(value.slice(0, 40))}`);
      call.env[value.slice(0, eq)] = value.slice(eq + 1);
    } else if (key === 'cwd') call.cwd = value;
    else if (key === 'umask') call.umask = /^[0-7]{1,4}$/.test(value) ? parseInt(value, 8) : -1;
    else if (key === 'tty') call.tty = [value.includes('0'), value.includes('1'), value.includes('2')];
    else if (key === 'columns') call.columns = /^\d{1,5}$/.test(value) && value !== '0' ? Number(value) : undefined;
    else throw new Error(`malformed request: unknown field ${JSON.stringify(key.slice(0, 40))}`);
  }
  if (!call.cwd.startsWith('/')) throw new Error('malformed request: no absolute working directory');
  if (call.umask < 0) throw new Error('malformed request: no umask');
  return call;
}

type Streams = 'stdout' | 'stderr';

/** The client's process, as far as the program can see: descriptors, environment, directory, umask, terminal. */
async function asTheClient<T>(call: CliCall, fds: readonly [number, number, number], body: () => Promise<T>): Promise<T> {
  const saved = [dupHigh(0), dupHigh(1), dupHigh(2)];
  const env = { ...process.env };
  const cwd = process.cwd();
  let umask: number | undefined;
  const streams: Streams[] = ['stdout', 'stderr'];
  try {
    fds.forEach((fd, i) => dupOnto(fd, i));
    setEnv(call.env);
    process.chdir(call.cwd);
    umask = process.umask(call.umask);
    streams.forEach((s, i) => {
      const stream = process[s] as unknown as { isTTY?: boolean; columns?: number };
      if (call.tty[i + 1]) {
        stream.isTTY = true;
        if (call.columns !== undefined) stream.columns = call.columns;
      }
    });
    process.exitCode = undefined;
    return await body();
  } finally {
    process.exitCode = undefined;
    for (const s of streams) {
      const stream = process[s] as unknown as { isTTY?: boolean; columns?: number };
      delete stream.isTTY;
      delete stream.columns;
    }
    if (umask !== undefined) process.umask(umask);
    process.chdir(cwd);
    setEnv(env);
    saved.forEach((fd, i) => {
      dupOnto(fd, i);
      closeFd(fd);
    });
  }
}

function setEnv(to: Readonly<Record<string, string | undefined>>): void {
  for (const key of Object.keys(process.env)) if (!(key in to)) delete process.env[key];
  for (const [key, value] of Object.entries(to)) if (value !== undefined && process.env[key] !== value) process.env[key] = value;
}

// ---------------------------------------------------------------------------------------------
// The service process

interface Running {
  root: string;
  socket: string;
  log: (line: string) => void;
  /** Why this code should no longer serve (nsnet rebuilt), or undefined. */
  outdated: () => string | undefined;
  switches: Record<string, string | undefined>;
  stop: (why: string) => void;
  dispatch: Dispatch;
  /** Clients whose command ended and whose output is still being written; settled when it is. */
  flushing: Set<Promise<void>>;
}

async function serveCli(s: Running, req: ServiceRequest): Promise<void> {
  const conn = req.conn;
  let call: CliCall;
  try {
    call = decodeCliCall(req.payload);
  } catch (err) {
    s.log(`refused a request: ${(err as Error).message}`);
    conn.write(`E${(err as Error).message}\n`);
    return;
  }
  const outdated = s.outdated();
  if (outdated !== undefined) {
    conn.write(`R${outdated}\n`);
    s.stop(outdated);
    return;
  }
  const differs = PROCESS_SWITCHES.find((k) => call.env[k] !== s.switches[k]);
  if (differs !== undefined) {
    conn.write(`R${differs} differs from the service's\n`);
    return;
  }
  let fds: [number, number, number];
  try {
    fds = await conn.receiveStdio();
  } catch (err) {
    s.log(`refused a request: ${(err as Error).message}`);
    conn.write(`E${(err as Error).message}\n`);
    return;
  }
  let output: ClientOutput;
  try {
    output = new ClientOutput(fds[1], fds[2], OUTPUT_TICK_MS);
  } catch (err) {
    for (const fd of fds) closeFd(fd);
    const why = `no memory file for the output: ${(err as Error).message}`;
    conn.write(`R${why}\n`);
    s.log(`${described(call.argv)} → R${why}`);
    return;
  }
  const started = process.hrtime.bigint();
  conn.write('S');
  let answer: string | undefined;
  let failure: unknown;
  try {
    const code = await asTheClient(call, [fds[0], ...output.targets], () =>
      s.dispatch(call.argv, {
        beforeAction: (action) => {
          const why = inProcessReason(action, s.root);
          if (why !== undefined) throw new RunInProcess(why);
        },
        escapes: (err) => err instanceof RunInProcess,
        keepProgram: true,
      }),
    );
    answer = `D${code}\n`;
  } catch (err) {
    if (err instanceof RunInProcess) answer = `R${err.message}\n`;
    else failure = err;
  } finally {
    closeFd(fds[0]);
  }
  // The answer goes after the output (the client exits on it), and the next request is served
  // meanwhile: this one's output may wait on a reader for as long as the reader likes.
  const close = conn.keepOpen();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const answered = (): void => {
    close(answer);
    output.close();
    prepareMemoryFiles();
    if (failure !== undefined) s.log(`request failed: ${failure instanceof Error ? (failure.stack ?? failure.message) : String(failure)}`);
    const waited = Number(process.hrtime.bigint() - started) / 1e6 - ms;
    s.log(`${described(call.argv)} → ${answer?.trim() ?? 'no answer'} in ${ms.toFixed(1)} ms${waited >= 1 ? ` (its output written ${waited.toFixed(0)} ms later)` : ''}`);
  };
  if (output.end()) return answered();
  const flushed = output.settled().then(answered);
  s.flushing.add(flushed);
  void flushed.finally(() => s.flushing.delete(flushed));
}

/** The command for the log: its first words, without --root. */
function described(argv: readonly string[]): string {
  const words = argv.filter((a, i) => a !== '--root' && argv[i - 1] !== '--root' && !a.startsWith('--root='));
  return words.slice(0, 3).join(' ').slice(0, 60);
}

function refuse(kind: 'cli' | 'cni', conn: ServiceConnection, why: string): void {
  if (kind === 'cli') conn.write(`E${why}\n`);
  else conn.write(`1\n${JSON.stringify({ cniVersion: '1.1.0', code: 11, msg: `nsnet service: ${why}` })}\n`);
}

/** mtimes of what this process runs: the bundle and the plain tsc output, whichever bin/nsnet.mjs chose. */
function codeVersion(): string {
  const here = fileURLToPath(import.meta.url);
  const dist = here.includes(`${path.sep}src${path.sep}`) ? path.resolve(path.dirname(here), '../..') : path.dirname(here);
  return [here, path.join(dist, 'nsnet.mjs'), path.join(dist, 'src', 'cli', 'main.js')]
    .map((f) => fs.statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? -1)
    .join(' ');
}

/** Descriptors 1 and 2 must be files (the log) so Node writes them synchronously; /dev/null otherwise. */
function stdoutToFiles(logPath: string): void {
  const isFile = (fd: number): boolean => {
    try {
      const st = fs.fstatSync(fd);
      return st.isFile() || (st.isCharacterDevice() && !tty.isatty(fd));
    } catch {
      return false;
    }
  };
  if (isFile(1) && isFile(2)) return;
  const log = fs.openSync(logPath, 'a', 0o600);
  dupOnto(log, 1);
  dupOnto(log, 2);
  fs.closeSync(log);
}

export async function serve(root: string, dispatch: Dispatch): Promise<void> {
  const socket = socketPath(root);
  fs.mkdirSync(serviceDir(root), { recursive: true, mode: 0o700 });
  stdoutToFiles(serviceLogPath(root));
  // Touch them now, while 1 and 2 are the log: Node makes them once, by what the descriptor is then.
  void process.stdout;
  void process.stderr;
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  const logFd = dupHigh(2);
  const log = (line: string): void => {
    try {
      fs.writeSync(logFd, `${new Date().toISOString()} ${line}\n`);
    } catch {
      /* the log is best effort */
    }
  };
  process.on('uncaughtException', (err) => log(`uncaught: ${err.stack ?? err.message}`));
  process.on('unhandledRejection', (err) => log(`unhandled: ${String(err)}`));
  const cni = kernelContext({ root, onWarning: (line) => log(`warning: ${line}`) });
  let lock: { release(): void };
  try {
    lock = cni.host.acquire(`${socket}.lock`, { timeoutMs: 0 });
  } catch {
    log(`another nsnet service serves ${socket}`);
    cni.close();
    return;
  }
  // Commands open their store through a Context each time; here it stays open between them.
  keepStoresOpen(true);
  holdLiveProcesses(true);
  const version = codeVersion();
  const idleMs = Number(process.env['NSNET_SERVICE_IDLE_MS'] ?? process.env['NSNET_CNI_IDLE_MS'] ?? DEFAULT_IDLE_MS);
  let stopped = false;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  let timer: NodeJS.Timeout | undefined;
  let socketIno = -1;
  let listener: Awaited<ReturnType<typeof listenServiceSocket>> | undefined;
  let watch: NodeJS.Timeout | undefined;
  const running: Running = {
    root,
    socket,
    log,
    dispatch,
    flushing: new Set(),
    switches: Object.fromEntries(PROCESS_SWITCHES.map((k) => [k, process.env[k]])),
    outdated: () => (codeVersion() === version ? undefined : 'nsnet was rebuilt or upgraded since the service started'),
    stop: (why) => {
      if (stopped) return;
      stopped = true;
      log(`stopping: ${why}`);
      // Only our own socket and record: a new service may already have its own there. (Closing
      // the listener unlinks the socket path, whoever's it is by then: look first.)
      const ours = fs.statSync(socket, { throwIfNoEntry: false })?.ino === socketIno;
      if (ours) fs.rmSync(recordPath(socket), { force: true });
      listener?.close();
      if (ours) fs.rmSync(socket, { force: true });
      if (timer !== undefined) clearTimeout(timer);
      if (watch !== undefined) clearInterval(watch);
      const exit = (): void => {
        if (listener?.busy === true) return void setTimeout(exit, 20);
        cni.close();
        keepStoresOpen(false);
        holdLiveProcesses(false);
        lock.release();
        done();
      };
      exit();
    },
  };
  const touch = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => running.stop(`idle for ${idleMs} ms`), idleMs);
  };
  listener = await listenServiceSocket(socket, {
    log,
    refuse: (kind, conn, why) => {
      log(`refused a ${kind} request from uid ${conn.peer.uid} pid ${conn.peer.pid}: ${why}`);
      refuse(kind, conn, why);
    },
    serve: async (req) => {
      if (stopped) return req.kind === 'cli' ? req.conn.write('Rthe service is stopping\n') : undefined;
      try {
        if (req.kind === 'cli') await serveCli(running, req);
        else serveCniCall(running, cni, req);
      } finally {
        if (!stopped) touch();
      }
    },
  });
  socketIno = fs.statSync(socket).ino;
  const record: ServiceRecord = { pid: process.pid, start: readStartTime(process.pid) ?? '', socket };
  fs.writeFileSync(recordPath(socket), JSON.stringify(record), { mode: 0o600 });
  log(`serving ${socket} (pid ${process.pid}; exits after ${idleMs} ms idle)`);
  prepareMemoryFiles();
  touch();
  // The state root removed under it (rm -rf, a test's sandbox): nobody can reach it any more.
  watch = setInterval(() => {
    if (fs.statSync(socket, { throwIfNoEntry: false })?.ino !== socketIno) running.stop(`${socket} was removed`);
  }, 5000);
  watch.unref();
  process.once('SIGTERM', () => running.stop('SIGTERM'));
  process.once('SIGINT', () => running.stop('SIGINT'));
  await finished;
  // Clients still reading their output get all of it (the caller exits the process after this).
  if (running.flushing.size > 0) log(`waiting for the output of ${running.flushing.size} clients to be written`);
  while (running.flushing.size > 0) await Promise.all([...running.flushing]);
}

function serveCniCall(s: Running, ctx: ReturnType<typeof kernelContext>, req: ServiceRequest): void {
  const outdated = s.outdated();
  if (outdated !== undefined) {
    // No answer: nsnet-cni runs the (new) Node plugin itself.
    s.stop(outdated);
    return;
  }
  const reply = answerCni(ctx, parseRequest(req.payload), s.log);
  req.conn.write(`${reply.exitCode}\n${reply.stdout}`);
}

/** `nsnet service` (hidden; started by the in-process CLI and by nsnet-cni's Node plugin). */
export function serviceCommand(name: string, dispatch: Dispatch): Command {
  return withCommon(new Command(name), { dryRun: false })
    .description('serve the nsnet client and nsnet-cni of this network namespace over a Unix socket (started by nsnet)')
    .action(async (_o: unknown, cmd: Command) => {
      requireRoot();
      const given = cmd.optsWithGlobals<CommonOptions>().root ?? process.env['NSNET_ROOT'] ?? DEFAULT_ROOT;
      await serve(path.resolve(given), dispatch);
    });
}

// ---------------------------------------------------------------------------------------------
// After an in-process command the client handed over

/** Set by bin/nsnet when no service answered: the state root it looked in. Taken out of the environment. */
export function takeClientFallback(): string | undefined {
  const root = process.env['NSNET_CLIENT_FALLBACK'];
  delete process.env['NSNET_CLIENT_FALLBACK'];
  return root === undefined || root === '' ? undefined : root;
}

/** Commands after which no service is started: the service's own, and the uninstall. */
const NO_START_AFTER = new Set(['system reset', 'service', 'cni-service', 'cni-plugin', 'dns-serve', 'demo']);

/** Start the service for the next command, when the client asked for it and it makes sense. */
export function startServiceAfterFallback(root: string, command: string | undefined): void {
  try {
    if (process.getuid?.() !== 0 || serviceTurnedOff(process.env, false)) return;
    if (command === undefined || NO_START_AFTER.has(command)) return;
    if (!fs.existsSync(root)) return;
    const socket = socketPath(root);
    const r = readRecord(recordPath(socket));
    if (r !== undefined && isAlive(r.pid, r.start)) return;
    fs.mkdirSync(serviceDir(root), { recursive: true, mode: 0o700 });
    spawnNodeDaemon(nsnetCli(), ['service', '--root', root], serviceLogPath(root));
  } catch {
    /* the next command runs in-process again: slower, never wrong */
  }
}
