/**
 * Docker's exec, decided: which process of which container, with what environment, user and
 * working directory — everything nsenter needs (core/exec-spec.ts), checked before anything
 * starts. Starting it and relaying its streams is the caller's (the API: src/api/exec*.ts, with
 * src/kernel/container-exec.ts); the CLI's `nsnet exec` stays in containers.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { privilegesOf } from '../core/capabilities.js';
import { NsnetError } from '../core/errors.js';
import type { ExecSpec } from '../core/exec-spec.js';
import type { ContainerRecord } from '../store/index.js';
import type { Context } from './context.js';
import { liveState } from './liveness.js';
import { isCniContainer } from './specs.js';

/** Docker's ExecConfig, as the API gives it (Cmd, Env as KEY=VALUE, User, WorkingDir, Tty, Privileged). */
export interface ExecOptions {
  cmd: readonly string[];
  env?: readonly string[] | undefined;
  user?: string | undefined;
  workdir?: string | undefined;
  tty: boolean;
  privileged?: boolean | undefined;
}

/** Everything to start one exec now: the spec for nsenter and the environment it passes on. */
export interface ExecPlan {
  container: ContainerRecord;
  spec: ExecSpec;
  env: Record<string, string>;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The container must run (not restarting); checked at exec create and again at start, as Docker
 * does. Docker's words, which clients show as they are.
 */
export function runningContainer(ctx: Context, ref: string): { container: ContainerRecord; pid: number } {
  const c = ctx.store.containers.resolve(ref);
  if (isCniContainer(c)) {
    throw new NsnetError('FORBIDDEN', `cannot exec in ${c.name}: ${c.runtime ?? 'a container runtime'} runs it (CNI container ${c.cniContainerId}); nsnet only wires its network`);
  }
  const live = liveState(ctx.host, c);
  if (live.status !== 'running') throw new NsnetError('STATE', `Container ${c.id} is not running`);
  if (live.restarting === true || live.pid === 0) throw new NsnetError('STATE', `Container ${c.id} is restarting, wait until the container is running`);
  return { container: c, pid: live.pid };
}

/** Refuses what Docker refuses at exec create: no command, an empty program, a relative working directory. */
export function validateExecOptions(opts: ExecOptions): void {
  if (opts.cmd.length === 0) throw new NsnetError('INVALID_VALUE', 'No exec command specified');
  if (opts.cmd[0]!.trim() === '') throw new NsnetError('INVALID_VALUE', 'invalid exec command "": the program to run is empty');
  if (opts.workdir !== undefined && opts.workdir !== '' && !opts.workdir.startsWith('/')) {
    throw new NsnetError('INVALID_VALUE', `the working directory '${opts.workdir}' is invalid, it needs to be an absolute path`);
  }
  for (const e of opts.env ?? []) {
    if (e === '' || e.startsWith('=')) throw new NsnetError('INVALID_VALUE', `invalid environment variable "${e}": KEY=VALUE with a non-empty KEY`);
  }
}

/** Decide one exec of a running container: Docker's defaults from the container (its Env, User, WorkingDir). */
export function planExec(ctx: Context, ref: string, opts: ExecOptions): ExecPlan {
  validateExecOptions(opts);
  const { container: c, pid } = runningContainer(ctx, ref);
  const rootfs = c.rootfs ?? undefined;
  const userText = opts.user !== undefined && opts.user !== '' ? opts.user : (c.user ?? undefined);
  if (userText !== undefined && rootfs === undefined) {
    throw new NsnetError('INVALID_VALUE', `cannot exec as user "${userText}" in ${c.name}: nsnet changes the user when it enters a root filesystem, and ${c.name} runs on the host's (no image, no --rootfs)`, { hint: 'leave the user out' });
  }
  const user = userText === undefined ? undefined : resolveUser(userText, readAccounts(rootfs!));
  const workdir = opts.workdir !== undefined && opts.workdir !== '' ? opts.workdir : (c.workingDir ?? undefined);
  const privileges = opts.privileged === true ? { privileged: true as const } : privilegesOf({ capAdd: c.capAdd, capDrop: c.capDrop, privileged: c.privileged });
  return {
    container: c,
    spec: { pid, argv: opts.cmd, rootfs, privileges, user, workdir, tty: opts.tty, ownDevpts: c.imageLayers != null && rootfs !== undefined },
    env: execEnv(c, opts),
  };
}

/**
 * Docker's order: PATH, HOSTNAME and (with a terminal) TERM=xterm first, the container's Env over
 * them, the exec's Env over all.
 */
export function execEnv(c: Pick<ContainerRecord, 'hostname' | 'env'>, opts: Pick<ExecOptions, 'env' | 'tty'>): Record<string, string> {
  const env: Record<string, string> = { PATH: DEFAULT_PATH, HOSTNAME: c.hostname, HOME: '/root', ...(opts.tty ? { TERM: 'xterm' } : {}), ...c.env };
  for (const e of opts.env ?? []) {
    const eq = e.indexOf('=');
    // Docker: a bare KEY takes its value from the daemon's environment; nsnet passes none of its own.
    if (eq > 0) env[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return env;
}

/** The container's /etc/passwd and /etc/group (missing files: no names, numeric ids still work). */
export interface Accounts {
  passwd: string;
  group: string;
}

/** The account files of a root filesystem (also read at a container's start: its User by name). */
export function readAccounts(root: string): Accounts {
  const read = (file: string): string => {
    try {
      return fs.readFileSync(path.join(root, 'etc', file), 'utf8');
    } catch {
      return '';
    }
  };
  return { passwd: read('passwd'), group: read('group') };
}

const fields = (text: string): string[][] =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'));

const NUMERIC = /^\d+$/;

/**
 * Docker's User: NAME, UID, NAME:GROUP, UID:GID (and mixes), resolved in the container's own
 * account files as runc resolves it, to the numeric UID:GID nsenter takes. A name the files lack
 * is refused with Docker's words. (Supplementary groups are not given: nsenter clears them.)
 */
export function resolveUser(text: string, accounts: Accounts): string {
  const [u = '', g] = text.split(':', 2);
  const users = fields(accounts.passwd);
  const groups = fields(accounts.group);
  const entry = NUMERIC.test(u) ? users.find((f) => f[2] === u) : users.find((f) => f[0] === u);
  if (entry === undefined && !NUMERIC.test(u)) throw new NsnetError('INVALID_VALUE', `unable to find user ${u}: no matching entries in passwd file`);
  const uid = Number(entry?.[2] ?? u);
  let gid = Number(entry?.[3] ?? 0);
  if (g !== undefined && g !== '') {
    const ge = NUMERIC.test(g) ? undefined : groups.find((f) => f[0] === g);
    if (ge === undefined && !NUMERIC.test(g)) throw new NsnetError('INVALID_VALUE', `unable to find group ${g}: no matching entries in group file`);
    gid = Number(ge?.[2] ?? g);
  }
  for (const id of [uid, gid]) if (!Number.isSafeInteger(id) || id > 0xfffffffe) throw new NsnetError('INVALID_VALUE', `invalid user "${text}": ids are 0 to 4294967294`);
  return `${uid}:${gid}`;
}
