/**
 * Docker's exec endpoints: POST /containers/{id}/exec (create), POST /exec/{id}/start (hijacked:
 * the process's streams on the connection; with Detach a plain 200), POST /exec/{id}/resize and
 * GET /exec/{id}/json. `docker exec` creates, starts with an upgrade, relays until the stream
 * ends, then inspects once for the exit code — so the exit code is recorded before the stream
 * closes.
 */
import type net from 'node:net';
import { startExec as startProcess } from '../kernel/container-exec.js';
import type { WindowSize } from '../kernel/pty.js';
import { planExec, runningContainer, validateExecOptions, type ExecOptions } from '../ops/container-exec.js';
import { answerHijack, answerPlain, hijackBody, MULTIPLEXED_STREAM, pipeClientInput, RAW_STREAM, wantsUpgrade } from './attach-hijack.js';
import { atMost, inputTo, relayOutput } from './attach-relay.js';
import { asRecord } from './body.js';
import { badRequest, conflict } from './errors.js';
import { execInspect, ExecInstances, type ExecConfigBody } from './exec-instances.js';
import type { ApiRequest, RouteTable } from './router.js';

/** How long the answer waits, after the process has ended, for output still in flight. */
const DRAIN_MS = 2000;

/** The server's exec instances (one per server process, as dockerd's). */
export const execInstances = new ExecInstances();

export function execRoutes(r: RouteTable): void {
  r.route('POST', '/containers/{id}/exec', async (req, res) => {
    const body = asRecord(await req.json(), 'request body') as ExecConfigBody;
    const options = execOptions(body);
    validateExecOptions(options);
    const { container } = runningContainer(req.context(), req.params.id!);
    const inst = execInstances.add(container.id, body, options);
    res.json(201, { Id: inst.id });
  }, { concurrent: true });

  r.hijack('POST', '/exec/{id}/start', (req, socket, head) => startHandler(req, socket, head), { concurrent: true });

  r.route('POST', '/exec/{id}/resize', async (req, res) => {
    const inst = execInstances.get(req.params.id!);
    const size = sizeFrom(req.query);
    if (inst.state === 'exited') throw conflict(`Exec ${inst.id} is not running`);
    inst.size = size;
    inst.process?.resize(size);
    res.empty(201);
  }, { concurrent: true });

  r.route('GET', '/exec/{id}/json', async (req, res) => {
    res.json(200, execInspect(execInstances.get(req.params.id!)));
  });
}

/** Docker's Cmd (an array; a string is one word), the rest as given. */
function execOptions(body: ExecConfigBody): ExecOptions {
  const cmd = typeof body.Cmd === 'string' ? [body.Cmd] : (body.Cmd ?? []);
  if (!Array.isArray(cmd) || cmd.some((a) => typeof a !== 'string')) throw badRequest('invalid Cmd: a list of strings');
  if (body.Env != null && (!Array.isArray(body.Env) || body.Env.some((e) => typeof e !== 'string'))) throw badRequest('invalid Env: a list of KEY=VALUE strings');
  for (const key of ['User', 'WorkingDir', 'DetachKeys'] as const) {
    if (body[key] != null && typeof body[key] !== 'string') throw badRequest(`invalid ${key}: a string`);
  }
  return { cmd, env: body.Env ?? undefined, user: body.User ?? undefined, workdir: body.WorkingDir ?? undefined, tty: body.Tty === true, privileged: body.Privileged === true };
}

/** ?h=ROWS&w=COLS, as dockerd reads them (both required, whole numbers). */
export function sizeFrom(query: URLSearchParams): WindowSize {
  const h = query.get('h');
  const w = query.get('w');
  const rows = Number(h);
  const cols = Number(w);
  if (h === null || w === null || !Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0 || rows > 0xffff || cols > 0xffff) {
    throw badRequest(`invalid terminal size h=${String(h)} w=${String(w)}: whole numbers from 0 to 65535`);
  }
  return { rows, cols };
}

interface StartBody {
  Detach?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
}

async function startHandler(req: ApiRequest, socket: net.Socket, head: Buffer): Promise<void> {
  const inst = execInstances.get(req.params.id!);
  const { body: raw, rest } = await hijackBody<unknown>(req, socket, head);
  const body = asRecord(raw, 'request body') as StartBody;
  if (inst.state === 'running') throw conflict(`Exec command ${inst.id} is already running`);
  if (inst.state === 'exited') throw conflict(`Exec command ${inst.id} has already run`);
  const size = Array.isArray(body.ConsoleSize) && body.ConsoleSize[0]! > 0 ? { rows: body.ConsoleSize[0]!, cols: body.ConsoleSize[1]! } : inst.size;
  const detach = body.Detach === true;
  const plan = planExec(req.context(), inst.containerId, inst.options);
  const tty = inst.options.tty;
  inst.state = 'running';
  // The answer's head goes out before the process starts, as dockerd's does: a client that reads
  // the head through a buffered reader (docker-py's http.client) and then the raw socket loses
  // whatever output arrived in the same read.
  if (!detach) answerHijack(req, socket, tty ? RAW_STREAM : MULTIPLEXED_STREAM);
  let proc;
  try {
    proc = await startProcess(plan.spec, plan.env, tty ? { tty: true, size } : { tty: false, stdin: inst.attachStdin && !detach && wantsUpgrade(req) });
  } catch (err) {
    inst.state = 'created';
    if (detach) throw err;
    // Too late for an HTTP error: dockerd, too, writes it into the stream.
    socket.end(`${(err as Error).message}\r\n`);
    return;
  }
  inst.process = proc;
  inst.pid = proc.pid;
  if (inst.size !== undefined && inst.size !== size) proc.resize(inst.size);
  if (detach) {
    answerPlain(socket, 200);
    // Nobody reads a detached exec's terminal: its output is read and dropped so it never blocks.
    proc.terminal?.resume();
    proc.stdout?.resume();
    proc.stderr?.resume();
    void proc.exit.then((code) => execInstances.finished(inst, code));
    return;
  }
  const output = relayOutput(socket, proc.terminal !== undefined ? { terminal: proc.terminal } : { stdout: proc.stdout, stderr: proc.stderr }, {
    stdout: inst.attachStdout,
    stderr: inst.attachStderr,
  });
  const stdinTarget = proc.terminal ?? proc.stdin;
  if (inst.attachStdin && stdinTarget !== undefined && wantsUpgrade(req)) {
    // A terminal's input does not end with the client's: the program reads its terminal until it exits.
    const input = inputTo(stdinTarget, proc.terminal === undefined);
    pipeClientInput(socket, rest, input.data, input.end);
  }
  // The client gone: the process goes on (as with dockerd), its output read and dropped.
  const code = await proc.exit;
  await atMost(output, DRAIN_MS);
  execInstances.finished(inst, code);
  if (!socket.destroyed) socket.end();
  proc.terminal?.destroy();
}

