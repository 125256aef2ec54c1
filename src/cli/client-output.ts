/**
 * Where a command served by the nsnet service writes, so that a client that does not read its
 * output (`nsnet ps | sleep 100`, a terminal stopped with ^S) blocks nobody but itself.
 *
 * The command writes to a memory file (memfd) put on descriptors 1 and 2, which never blocks;
 * what it wrote is copied to the client's own stdout and stderr while the command runs (so
 * progress shows as it happens) and after it ended, by writes that never wait (WriteNow below):
 * when the client takes no more (a full pipe), the copy tries again a little later (1 ms, doubled
 * up to 50 ms while it stays full). No thread ever waits on a client, so the service goes on
 * with other clients meanwhile, and answers this one when its output is all written.
 *
 * When the client's stdout and stderr are the same file (a terminal, `2>&1`), one memory file
 * takes both, so the order in which the command interleaved them is kept byte for byte; else
 * each has its own. Copied bytes are given back to the kernel as they go (a long `logs` to a
 * slow reader holds only what is not yet written). A client whose descriptor fails (EPIPE: its
 * reader went away) is not written to any more, quietly, as the in-process CLI ignores EPIPE.
 */
import fs from 'node:fs';
import { closeFd, memoryFile, releaseRange, sendNow } from '../kernel/unix-fds.js';

/** Bytes read from the memory file and offered to the client at once (a pipe takes 64 KiB). */
const CHUNK = 128 << 10;
/** Bytes one pump writes without waiting before it lets the event loop run (a fast reader of a large output). */
const PUMP_BUDGET = 4 << 20;
const PAGE = 4096;
/** How long a copy waits before it writes again to a client that took no more; doubled up to the most while it takes nothing. */
const RETRY_FIRST_MS = 1;
const RETRY_MOST_MS = 50;
/**
 * Copies whose client has no descriptor that can be written without waiting (WriteNow 'never')
 * write in libuv's pool, where a write may wait on the client: at most this many at once, so the
 * rest of the pool's 4 threads stays for the commands' own asynchronous calls.
 */
const POOL_SLOTS = 2;
let inPool = 0;

/**
 * How bytes reach the client without waiting, on this thread. 'again' means it would wait.
 *  - a regular file: write(2) itself (a disk file does not make a writer wait on a reader);
 *  - a socket: send(2) with MSG_DONTWAIT;
 *  - a pipe, FIFO or terminal: write(2) on a second, non-blocking open file description of it
 *    (opened through /proc/self/fd): setting O_NONBLOCK on the client's own would change it for
 *    every process that shares it (the user's shell, on a terminal);
 *  - anything else, or when that open fails: never (every write goes to libuv's pool).
 */
type WriteNow = (data: Buffer, length: number) => number | 'again';
interface Writer {
  now: WriteNow;
  /** Whether now() can write at all (false: always 'again'). */
  canWrite: boolean;
  close(): void;
}

/** Character devices of major 1 (null, zero, full, random...): a write never waits on them. */
const MEMORY_DEVICES = 1;

/** A regular file or /dev/null: a write to it never waits on a reader. */
function neverWaits(st: fs.Stats | undefined): boolean {
  return st !== undefined && (st.isFile() || (st.isCharacterDevice() && st.rdev >> 8 === MEMORY_DEVICES));
}

function writerFor(client: number, st: fs.Stats | undefined): Writer {
  const never: Writer = { now: () => 'again', canWrite: false, close: () => {} };
  if (st === undefined) return never;
  if (neverWaits(st)) return { now: (data, length) => fs.writeSync(client, data, 0, length), canWrite: true, close: () => {} };
  if (st.isSocket()) return { now: (data, length) => sendNow(client, data, length), canWrite: true, close: () => {} };
  if (!st.isFIFO() && !st.isCharacterDevice()) return never;
  let own: number;
  try {
    const { O_WRONLY, O_NONBLOCK, O_NOCTTY } = fs.constants;
    own = fs.openSync(`/proc/self/fd/${client}`, O_WRONLY | O_NONBLOCK | O_NOCTTY);
  } catch {
    return never; // a FIFO without a reader (ENXIO), a terminal opened exclusively: the pool's write says what
  }
  return {
    now: (data, length) => {
      try {
        return fs.writeSync(own, data, 0, length);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return 'again';
        throw err;
      }
    },
    canWrite: true,
    close: () => fs.closeSync(own),
  };
}

/** One memory file copied to one client descriptor. */
class Copy {
  /** Bytes of the memory file written to the client so far. */
  private written = 0;
  /** Bytes given back to the kernel (a multiple of PAGE). */
  private released = 0;
  private waiting = false;
  private failed = false;
  private ended = false;
  private settled: (() => void) | undefined;
  /** Made at the first write: most commands write nothing to stderr. */
  private writer: Writer | undefined;
  private retryMs = RETRY_FIRST_MS;
  readonly done: Promise<void>;

  constructor(
    readonly memory: number,
    readonly client: number,
    private readonly stat: fs.Stats | undefined,
  ) {
    this.done = new Promise((resolve) => (this.settled = resolve));
  }

  /** Write what the command added since the last call, as far as the client takes it now. */
  pump(): void {
    if (this.waiting || this.settled === undefined) return;
    for (let budget = PUMP_BUDGET; ; ) {
      const chunk = this.next();
      if (chunk === undefined) {
        if (this.ended) this.settle();
        return;
      }
      if (budget <= 0) return void setImmediate(() => this.pump());
      let wrote: number | 'again';
      try {
        this.writer ??= writerFor(this.client, this.stat);
        wrote = this.writer.now(chunk, chunk.length);
      } catch {
        this.failed = true; // EPIPE and the like: the client's reader is gone
        continue;
      }
      if (wrote === 'again') return this.wait(chunk);
      this.advance(wrote);
      budget -= wrote;
    }
  }

  /** The command ended: settle once everything it wrote is with the client. */
  end(): void {
    this.ended = true;
    this.pump();
  }

  /** Everything the command wrote is with the client (or cannot be: its reader went away). */
  get isSettled(): boolean {
    return this.settled === undefined;
  }

  /** The next bytes to write, or undefined when there are none (or they cannot be had). */
  private next(): Buffer | undefined {
    if (this.failed) return undefined;
    try {
      const size = fs.fstatSync(this.memory).size;
      if (this.written >= size) return undefined;
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, size - this.written));
      const n = fs.readSync(this.memory, chunk, 0, chunk.length, this.written);
      return n === 0 ? undefined : chunk.subarray(0, n);
    } catch {
      this.failed = true; // the memory file itself failed: nothing more can be read from it
      return undefined;
    }
  }

  /**
   * The client takes no more now: try again later. A client descriptor that cannot be written
   * without waiting gets the chunk in libuv's pool instead, while a slot there is free.
   */
  private wait(chunk: Buffer): void {
    this.waiting = true;
    if (this.writer?.canWrite !== false || inPool >= POOL_SLOTS) {
      setTimeout(() => {
        this.waiting = false;
        this.pump();
      }, this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MOST_MS);
      return;
    }
    inPool++;
    fs.write(this.client, chunk, 0, chunk.length, null, (err, wrote) => {
      inPool--;
      if (err?.code === 'EAGAIN') return this.wait(chunk);
      this.waiting = false;
      if (err !== null) this.failed = true;
      else this.advance(wrote);
      this.pump();
    });
  }

  private advance(wrote: number): void {
    this.retryMs = RETRY_FIRST_MS;
    this.written += wrote;
    const upTo = Math.floor(this.written / PAGE) * PAGE;
    if (upTo > this.released && releaseRange(this.memory, this.released, upTo - this.released)) this.released = upTo;
  }

  private settle(): void {
    const settled = this.settled;
    this.settled = undefined;
    try {
      this.writer?.close();
    } catch {
      /* already closed */
    }
    settled?.();
  }
}

/** Copies not yet settled, in this process (clients whose output is still being written). */
let unsettled = 0;

/** How many client descriptors have output still being written (some possibly into a full pipe). */
export function unsettledCopies(): number {
  return unsettled;
}

/**
 * Memory files made ahead, never used: a command takes them instead of making its own, so the
 * memfd_create(2) calls (the dearest part of this) fall after the previous client's answer, not
 * before this one's. Never reused after a command: a process the command started could still
 * hold one and write to it.
 */
const ahead: number[] = [];

function takeMemoryFile(): number {
  return ahead.pop() ?? memoryFile('nsnet-client-output');
}

/** Make the memory files the next command takes (call it when no client waits on this process). */
export function prepareMemoryFiles(): void {
  try {
    while (ahead.length < 2) ahead.push(memoryFile('nsnet-client-output'));
  } catch {
    /* the next command makes its own, and says why if it cannot */
  }
}

function statOf(fd: number): fs.Stats | undefined {
  try {
    return fs.fstatSync(fd);
  } catch {
    return undefined;
  }
}

export class ClientOutput {
  /**
   * The descriptors the command writes its stdout and stderr to: a memory file each, one for both
   * when they are one file (a terminal, `2>&1`, one pipe: same device and inode), or the client's
   * own descriptor when a write to it never waits (a regular file, /dev/null: as `ps >/dev/null`).
   */
  readonly targets: readonly [number, number];
  private readonly copies: Copy[] = [];
  private readonly owned: number[];
  private timer: NodeJS.Timeout | undefined;

  /** Takes over `stdout` and `stderr` (the client's): they are closed once written. */
  constructor(stdout: number, stderr: number, tickMs: number) {
    this.owned = [stdout, stderr];
    const [so, se] = [statOf(stdout), statOf(stderr)];
    const target = (client: number, st: fs.Stats | undefined): number => {
      if (neverWaits(st)) return client;
      const memory = takeMemoryFile();
      this.copies.push(new Copy(memory, client, st));
      return memory;
    };
    try {
      const out = target(stdout, so);
      const oneFile = so !== undefined && se !== undefined && so.dev === se.dev && so.ino === se.ino;
      this.targets = [out, oneFile ? out : target(stderr, se)];
    } catch (err) {
      for (const c of this.copies) closeFd(c.memory);
      throw err;
    }
    unsettled += this.copies.length;
    // While the command runs: what it wrote reaches the client within a tick, or as fast as the
    // client reads. (The command's own synchronous stretches delay it; they are short.)
    if (this.copies.length > 0) this.timer = setInterval(() => this.pump(), tickMs);
  }

  /** How many memory files this output copies from (0 to 2). */
  get size(): number {
    return this.copies.length;
  }

  pump(): void {
    for (const c of this.copies) c.pump();
  }

  /**
   * The command ended (nothing writes to the memory files any more): writes what it can right
   * away. True when its output is all with the client then (the common case: the client's
   * answer need not wait for a later turn of the event loop); else settled() resolves when it
   * is. Then close() (after the answer: closing is not the client's wait).
   */
  end(): boolean {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    for (const c of this.copies) c.end();
    return this.copies.every((c) => c.isSettled);
  }

  /** After end(): resolves when the output is with the client (or its descriptor failed). Never rejects. */
  async settled(): Promise<void> {
    await Promise.all(this.copies.map((c) => c.done));
  }

  /** end(), settled() and close(). */
  async finish(): Promise<void> {
    if (!this.end()) await this.settled();
    this.close();
  }

  private closed = false;

  /** Close the memory files and the client's descriptors (once settled). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    unsettled -= this.copies.length;
    for (const fd of new Set([...this.targets, ...this.owned])) {
      try {
        closeFd(fd);
      } catch {
        /* already closed */
      }
    }
  }
}
