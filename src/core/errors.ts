/**
 * Every failure nsnet reports is an NsnetError with a stable code. The CLI maps codes to exit
 * codes as Docker does (cli/output.ts exitCodeFor: USAGE → 2, or 125 for run; COMMAND_NOT_FOUND →
 * 127, COMMAND_NOT_EXECUTABLE → 126; run's other failures → 125, other commands' → 1) and prints `{"error": {code, message, hint}}` with
 * `--format json`. Messages say what was being done to which object, then the cause:
 * "attach red to study: create veth pair: file exists".
 */
export type ErrorCode =
  | 'USAGE'
  | 'INVALID_VALUE'
  | 'NOT_FOUND'
  | 'NAME_IN_USE'
  | 'ADDRESS_IN_USE'
  | 'SUBNET_OVERLAP'
  | 'POOL_EXHAUSTED'
  | 'IN_USE'
  | 'FORBIDDEN'
  | 'NOT_PERMITTED'
  | 'LOCK_TIMEOUT'
  | 'STATE'
  | 'KERNEL'
  | 'FIREWALL'
  | 'PROCESS'
  /** The container's command does not exist (the launcher's execve: ENOENT); exit code 127, as Docker's. */
  | 'COMMAND_NOT_FOUND'
  /** The container's command exists but cannot be executed (EACCES, a directory...); exit code 126. */
  | 'COMMAND_NOT_EXECUTABLE'
  /** Not the user's or the machine's doing: a bug in nsnet (the stack goes to the log). */
  | 'INTERNAL';

export class NsnetError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'NsnetError';
    this.code = code;
    this.hint = opts.hint;
  }
}

/** A kernel call failed: keeps errno as number and name, and the by-hand command that would do the same. */
export class KernelError extends NsnetError {
  readonly errno: number;
  readonly errnoName: string;
  readonly command: string | undefined;
  constructor(message: string, errno: number, errnoName: string, command?: string) {
    super('KERNEL', `${message}: ${errnoName} (${errno})`);
    this.name = 'KernelError';
    this.errno = errno;
    this.errnoName = errnoName;
    this.command = command;
  }
}

/** Several failures of one command (rm a b c, reset): each keeps its code; the command's is the first one's. */
export class NsnetErrors extends NsnetError {
  readonly errors: readonly NsnetError[];
  constructor(what: string, errors: readonly NsnetError[]) {
    super(errors[0]?.code ?? 'INTERNAL', `${what}: ${errors.length} problems:\n  ${errors.map((e) => e.message).join('\n  ')}`, { cause: errors[0] });
    this.name = 'NsnetErrors';
    this.errors = errors;
  }
}

/** Prefix an error's message with what was being done, keeping code, hint and cause. */
export function wrap(context: string, err: unknown): NsnetError {
  if (err instanceof NsnetError) {
    const wrapped = new NsnetError(err.code, `${context}: ${err.message}`, { hint: err.hint, cause: err });
    return wrapped;
  }
  const msg = err instanceof Error ? err.message : String(err);
  // A system call's failure (Node's fs and friends carry an errno name) is the machine's; any
  // other exception is not something nsnet expects: a bug, not bad state.
  const code = isSystemError(err) ? 'KERNEL' : 'INTERNAL';
  return new NsnetError(code, `${context}: ${msg}`, { cause: err });
}

const isSystemError = (err: unknown): boolean =>
  err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && /^E[A-Z0-9]+$/.test((err as NodeJS.ErrnoException).code!);

export const usage = (message: string, hint?: string): NsnetError =>
  new NsnetError('USAGE', message, hint === undefined ? {} : { hint });
export const invalid = (message: string, hint?: string): NsnetError =>
  new NsnetError('INVALID_VALUE', message, hint === undefined ? {} : { hint });
