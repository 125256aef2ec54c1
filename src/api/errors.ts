/**
 * Errors as the Docker Engine API gives them: a status code and `{"message": "..."}`, which
 * clients print as "Error response from daemon: <message>". nsnet's own errors keep their
 * message (and hint) and get the status dockerd gives the same kind of failure.
 */
import { NsnetError, type ErrorCode } from '../core/errors.js';

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

export const badRequest = (message: string): ApiError => new ApiError(400, message);
export const notFound = (message: string): ApiError => new ApiError(404, message);
export const conflict = (message: string): ApiError => new ApiError(409, message);

/** dockerd's status for each kind of failure (its errdefs: InvalidParameter 400, NotFound 404, Conflict 409, Forbidden 403...). */
const STATUS: Readonly<Record<ErrorCode, number>> = {
  USAGE: 400,
  INVALID_VALUE: 400,
  NOT_FOUND: 404,
  NAME_IN_USE: 409,
  ADDRESS_IN_USE: 409,
  SUBNET_OVERLAP: 409,
  POOL_EXHAUSTED: 409,
  IN_USE: 409,
  FORBIDDEN: 403,
  NOT_PERMITTED: 403,
  LOCK_TIMEOUT: 503,
  STATE: 409,
  KERNEL: 500,
  FIREWALL: 500,
  PROCESS: 500,
  // docker run reads "executable file not found" / "permission denied" in the message for 127 / 126.
  COMMAND_NOT_FOUND: 400,
  COMMAND_NOT_EXECUTABLE: 400,
  INTERNAL: 500,
};

/** Status and message of any failure a handler throws. */
export function errorAnswer(err: unknown): { status: number; message: string } {
  if (err instanceof ApiError) return { status: err.status, message: err.message };
  if (err instanceof NsnetError) {
    // Docker's wording for a missing container, which clients (and scripts) look for.
    const message = err.message.replace(/^no such container: /, 'No such container: ');
    // A hint helps with what to do next; for a missing object Docker's words alone are clearer
    // (nsnet's hint names its own CLI: "see nsnet ps -a").
    const hinted = err.hint === undefined || err.code === 'NOT_FOUND' ? message : `${message} (hint: ${err.hint})`;
    return { status: STATUS[err.code] ?? 500, message: hinted };
  }
  return { status: 500, message: err instanceof Error ? err.message : String(err) };
}
