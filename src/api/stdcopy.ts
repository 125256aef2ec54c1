/**
 * Docker's stream multiplexing ("stdcopy"), the reading side and the stream ids exec and attach
 * use; the writing side (`frame`) is framing.ts's, shared with the logs. Without a terminal,
 * stdout and stderr travel on one connection, each chunk behind an 8-byte header —
 *
 *   byte 0: the stream (0 stdin, 1 stdout, 2 stderr, 3 systemerr); bytes 1-3: zero;
 *   bytes 4-7: the payload's length, big-endian.
 *
 * With a terminal there is one stream and no header (application/vnd.docker.raw-stream).
 */
export { frame, STDERR, STDIN, STDOUT, type StreamId } from './framing.js';

/** Docker's stream for the daemon's own error about the exec (the CLI prints it and fails). */
export const SYSTEMERR = 3;
export const HEADER_BYTES = 8;

export interface Frame {
  stream: number;
  payload: Buffer;
}

/**
 * Bytes in, whole frames out, however the bytes were cut. A header whose bytes 1-3 are not zero
 * (or whose stream is not 0-3) is not Docker's framing: an error naming the bytes, not a guess.
 */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Frame[] = [];
    while (this.pending.length >= HEADER_BYTES) {
      const h = this.pending;
      if (h[1] !== 0 || h[2] !== 0 || h[3] !== 0 || h[0]! > SYSTEMERR) {
        throw new Error(`not a Docker stream frame header: ${h.subarray(0, HEADER_BYTES).toString('hex')} (expected a stream 0-3, three zero bytes and a big-endian length)`);
      }
      const length = h.readUInt32BE(4);
      if (h.length < HEADER_BYTES + length) break;
      frames.push({ stream: h[0]!, payload: h.subarray(HEADER_BYTES, HEADER_BYTES + length) });
      this.pending = h.subarray(HEADER_BYTES + length);
    }
    return frames;
  }

  /** Bytes of a frame not complete yet (a stream that ends here was cut). */
  get buffered(): number {
    return this.pending.length;
  }
}

/** Every frame of a whole buffer, joined per stream (tests, small outputs); a cut frame is an error. */
export function demux(data: Buffer): { stdout: Buffer; stderr: Buffer; systemerr: Buffer } {
  const reader = new FrameReader();
  const by: Buffer[][] = [[], [], [], []];
  for (const f of reader.push(data)) by[f.stream]!.push(f.payload);
  if (reader.buffered !== 0) throw new Error(`a Docker stream cut inside a frame (${reader.buffered} bytes left over)`);
  return { stdout: Buffer.concat(by[1]!), stderr: Buffer.concat(by[2]!), systemerr: Buffer.concat(by[SYSTEMERR]!) };
}
