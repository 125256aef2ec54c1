/**
 * `nsnet logs`: a detached container's output from the log its monitor writes (engine/log-lines.ts
 * has the format and the selection). With --follow, lines appended later are read as they come,
 * until the container stops (or --until passes), as docker logs -f does.
 */
import fs from 'node:fs';
import { parseLog, selectLog, type LogLine, type LogSelection } from '../engine/log-lines.js';
import type { ContainerRecord } from '../store/index.js';
import type { Context } from './context.js';
import { liveState } from './liveness.js';

export interface LogsOptions extends LogSelection {
  follow: boolean;
}

/** How often --follow looks for new lines. */
const FOLLOW_POLL_MS = 100;

/** The complete lines from byte `offset` on, and the offset after the last of them. */
function readFrom(logPath: string, offset: number): { lines: LogLine[]; next: number } {
  let fd: number;
  try {
    fd = fs.openSync(logPath, 'r');
  } catch {
    return { lines: [], next: offset };
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size <= offset) return { lines: [], next: size < offset ? 0 : offset };
    const buf = Buffer.alloc(size - offset);
    const n = fs.readSync(fd, buf, 0, buf.length, offset);
    const end = buf.subarray(0, n).lastIndexOf(0x0a) + 1; // a line still being written waits for its newline
    return { lines: parseLog(buf.subarray(0, end).toString('utf8')), next: offset + end };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The selected lines, in batches: first what the log holds, then (with follow) what is appended,
 * until the container is no longer running.
 */
export async function* containerLogs(ctx: Context, ref: string, opts: LogsOptions): AsyncGenerator<LogLine[]> {
  const c = ctx.store.containers.resolve(ref);
  let { lines, next } = readFrom(c.logPath, 0);
  yield selectLog(lines, opts);
  if (!opts.follow) return;
  const later = { since: opts.since, until: opts.until };
  for (;;) {
    const running = stillRunning(ctx, c);
    await new Promise((resolve) => setTimeout(resolve, running ? FOLLOW_POLL_MS : 0));
    ({ lines, next } = readFrom(c.logPath, next));
    if (lines.length > 0) yield selectLog(lines, later);
    if (!running || (opts.until !== undefined && new Date().toISOString() > opts.until)) return;
  }
}

function stillRunning(ctx: Context, c: ContainerRecord): boolean {
  const now = ctx.store.containers.get(c.id);
  return now !== undefined && liveState(ctx.host, now).status === 'running';
}

/** The whole output as text (the library's logs()). */
export function logs(ctx: Context, ref: string): Buffer {
  const c = ctx.store.containers.resolve(ref);
  return Buffer.from(readFrom(c.logPath, 0).lines.map((l) => l.text).join(''));
}
