/**
 * Docker's stream framing (its stdcopy) for a container without a terminal: each chunk of output
 * goes out behind an 8-byte header — the stream (0 stdin, 1 stdout, 2 stderr), three zero bytes,
 * and the payload's length as a big-endian 32-bit number — so a client can tell stdout from
 * stderr on one connection. With a terminal (Tty) output is sent raw.
 */
export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export type StreamId = typeof STDIN | typeof STDOUT | typeof STDERR;

/** Largest payload one frame carries; longer output is cut into several frames. */
const MAX_FRAME = 1 << 20;

export function frame(stream: StreamId, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length || (at === 0 && body.length === 0); at += MAX_FRAME) {
    const chunk = body.subarray(at, at + MAX_FRAME);
    const header = Buffer.alloc(8);
    header[0] = stream;
    header.writeUInt32BE(chunk.length, 4);
    parts.push(header, chunk);
    if (body.length === 0) break;
  }
  return Buffer.concat(parts);
}

/** The frames in a buffer and what is left of an unfinished one (tests, and clients of nsnet's own). */
export function unframe(data: Buffer): { frames: Array<{ stream: number; payload: Buffer }>; rest: Buffer } {
  const frames: Array<{ stream: number; payload: Buffer }> = [];
  let at = 0;
  while (data.length - at >= 8) {
    const size = data.readUInt32BE(at + 4);
    if (data.length - at - 8 < size) break;
    frames.push({ stream: data[at]!, payload: data.subarray(at + 8, at + 8 + size) });
    at += 8 + size;
  }
  return { frames, rest: data.subarray(at) };
}
