/**
 * A process's streams onto a hijacked connection and back (exec start, container attach): with
 * a terminal its one output goes out raw, without one stdout and stderr go out in stdcopy frames
 * (stdcopy.ts); the client's bytes go in as stdin. A slow client slows the process down (the
 * source pauses until the socket drains) rather than the server buffering without bound.
 */
import type net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { frame, STDERR, STDOUT } from './stdcopy.js';

/** Where the output of one process comes from: a terminal's master, or stdout and stderr. */
export type OutputSources = { terminal: Readable } | { stdout?: Readable | undefined; stderr?: Readable | undefined };

export interface OutputChoice {
  stdout: boolean;
  stderr: boolean;
}

/** Copy one source to the socket (framed or raw); resolves when the source is done. */
function copy(src: Readable, socket: net.Socket, wrap: (chunk: Buffer) => Buffer, wanted: boolean): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => resolve();
    src.once('end', done);
    src.once('close', done);
    src.on('data', (chunk: Buffer) => {
      if (!wanted || socket.destroyed || !socket.writable) return;
      if (!socket.write(wrap(chunk))) {
        src.pause();
        socket.once('drain', () => src.resume());
      }
    });
  });
}

/** Relay the output; resolves once every source has ended. */
export function relayOutput(socket: net.Socket, sources: OutputSources, choice: OutputChoice): Promise<void> {
  // A socket gone (client away) must not stop the process by backpressure: resume on close.
  if ('terminal' in sources) {
    socket.once('close', () => sources.terminal.resume());
    return copy(sources.terminal, socket, (c) => c, choice.stdout || choice.stderr);
  }
  const jobs: Promise<void>[] = [];
  if (sources.stdout !== undefined) {
    const out = sources.stdout;
    socket.once('close', () => out.resume());
    jobs.push(copy(out, socket, (c) => frame(STDOUT, c), choice.stdout));
  }
  if (sources.stderr !== undefined) {
    const err = sources.stderr;
    socket.once('close', () => err.resume());
    jobs.push(copy(err, socket, (c) => frame(STDERR, c), choice.stderr));
  }
  return Promise.all(jobs).then(() => undefined);
}

/** Wait for p, but at most ms (output a background process keeps open must not hold the answer). */
export function atMost(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void p.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Write the client's input to a writable, ending it on the client's half-close (when asked to). */
export function inputTo(target: Writable, endOnClose: boolean): { data: (chunk: Buffer) => void; end: () => void } {
  return {
    data: (chunk) => {
      if (!target.destroyed && target.writable) target.write(chunk);
    },
    end: () => {
      if (endOnClose && !target.destroyed && target.writable) target.end();
    },
  };
}
