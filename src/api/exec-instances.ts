/**
 * Exec instances, as dockerd keeps them: made by POST /containers/{id}/exec, started once by
 * POST /exec/{id}/start, inspected (Running, ExitCode, Pid) until the container goes. They live
 * in the server's memory, as dockerd's do (a restarted dockerd forgets them too); finished ones
 * are forgotten after a while so a long-running server does not collect them forever.
 */
import { randomBytes } from 'node:crypto';
import type { ExecOptions } from '../ops/container-exec.js';
import type { ExecProcess } from '../kernel/container-exec.js';
import type { WindowSize } from '../kernel/pty.js';
import { notFound } from './errors.js';

/** Docker's ExecConfig (POST /containers/{id}/exec), the fields nsnet reads. */
export interface ExecConfigBody {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | string | null;
  WorkingDir?: string | null;
  User?: string | null;
  Privileged?: boolean;
  DetachKeys?: string | null;
  /** [height, width] (API 1.42+; older clients resize after start). */
  ConsoleSize?: [number, number] | null;
}

export interface ExecInstance {
  id: string;
  containerId: string;
  options: ExecOptions;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  detachKeys: string;
  state: 'created' | 'running' | 'exited';
  exitCode: number | null;
  pid: number;
  /** A size asked for before the process ran (the CLI resizes right after start): applied at start. */
  size?: WindowSize | undefined;
  process?: ExecProcess | undefined;
  finishedAt?: number | undefined;
}

/** How long a finished exec stays inspectable (clients inspect right after the stream ends). */
const KEEP_FINISHED_MS = 10 * 60_000;

export class ExecInstances {
  private readonly byId = new Map<string, ExecInstance>();

  add(containerId: string, body: ExecConfigBody, options: ExecOptions): ExecInstance {
    this.prune();
    const size = body.ConsoleSize;
    const inst: ExecInstance = {
      id: randomBytes(32).toString('hex'),
      containerId,
      options,
      attachStdin: body.AttachStdin === true,
      attachStdout: body.AttachStdout === true,
      attachStderr: body.AttachStderr === true,
      detachKeys: body.DetachKeys ?? '',
      state: 'created',
      exitCode: null,
      pid: 0,
      size: Array.isArray(size) && size[0]! > 0 && size[1]! > 0 ? { rows: size[0]!, cols: size[1]! } : undefined,
    };
    this.byId.set(inst.id, inst);
    return inst;
  }

  /** By id, or a unique prefix of one (as dockerd's exec store finds them); Docker's 404 otherwise. */
  get(ref: string): ExecInstance {
    const exact = this.byId.get(ref);
    if (exact !== undefined) return exact;
    const found = ref.length >= 1 ? [...this.byId.values()].filter((e) => e.id.startsWith(ref)) : [];
    if (found.length !== 1) throw notFound(`No such exec instance: ${ref}`);
    return found[0]!;
  }

  /** The container's execs (its inspect lists their ids as ExecIDs). */
  ofContainer(containerId: string): ExecInstance[] {
    return [...this.byId.values()].filter((e) => e.containerId === containerId);
  }

  finished(inst: ExecInstance, exitCode: number): void {
    inst.state = 'exited';
    inst.exitCode = exitCode;
    inst.process = undefined;
    inst.finishedAt = Date.now();
  }

  private prune(): void {
    const now = Date.now();
    for (const [id, e] of this.byId) if (e.finishedAt !== undefined && now - e.finishedAt > KEEP_FINISHED_MS) this.byId.delete(id);
  }
}

/** GET /exec/{id}/json in Docker's shape. */
export function execInspect(inst: ExecInstance): Record<string, unknown> {
  const [entrypoint = '', ...args] = inst.options.cmd;
  return {
    ID: inst.id,
    Running: inst.state === 'running',
    ExitCode: inst.exitCode,
    ProcessConfig: {
      tty: inst.options.tty,
      entrypoint,
      arguments: args,
      privileged: inst.options.privileged === true,
      ...(inst.options.user === undefined || inst.options.user === '' ? {} : { user: inst.options.user }),
    },
    OpenStdin: inst.attachStdin,
    OpenStderr: inst.attachStderr,
    OpenStdout: inst.attachStdout,
    CanRemove: false,
    ContainerID: inst.containerId,
    DetachKeys: inst.detachKeys,
    Pid: inst.pid,
  };
}
