/**
 * One DNS-over-TCP connection (RFC 7766): two-byte length-prefixed messages in both directions,
 * pipelined queries answered as each answer is ready (possibly out of order, matched by id), an
 * idle timeout that does not count time spent waiting for an upstream, and no reading while the
 * client leaves too many answers unread.
 */
import type net from 'node:net';

export interface TcpSessionOptions {
  /** Close after this long with no query in flight and no traffic. */
  idleMs: number;
  /** Stop reading while this many bytes of answers wait to be sent. */
  maxBufferedBytes: number;
  /** One query in, at most one answer out. */
  answer(query: Buffer): Promise<Buffer | undefined>;
  /** A query arrived or an answer left (the connection's budget takes busy ones back last). */
  active(): void;
  log(line: string): void;
}

export function serveTcpSession(sock: net.Socket, opts: TcpSessionOptions): void {
  let inFlight = 0;
  let buf: Buffer = Buffer.alloc(0);
  sock.on('error', () => {});
  sock.setTimeout(opts.idleMs);
  sock.on('timeout', () => {
    // Waiting for an upstream is not idleness: look again after another period.
    if (inFlight > 0) sock.setTimeout(opts.idleMs);
    else sock.destroy();
  });
  sock.on('drain', () => sock.resume());
  const send = (out: Buffer): void => {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(out.length);
    sock.write(Buffer.concat([len, out]));
    opts.active();
    if (sock.writableLength > opts.maxBufferedBytes) sock.pause();
  };
  sock.on('data', (chunk: Buffer) => {
    opts.active();
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (buf.length >= 2) {
      const len = buf.readUInt16BE(0);
      if (buf.length < 2 + len) break;
      const msg = Buffer.from(buf.subarray(2, 2 + len));
      buf = buf.subarray(2 + len);
      inFlight++;
      opts.answer(msg).then(
        (out) => {
          inFlight--;
          if (out !== undefined && !sock.destroyed) send(out);
        },
        (err: unknown) => {
          inFlight--;
          opts.log(`tcp query from ${sock.remoteAddress ?? '?'}: ${String(err)}`);
        },
      );
    }
  });
}
