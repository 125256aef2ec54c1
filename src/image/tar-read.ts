/**
 * A streaming tar reader for image layers and archives: POSIX ustar, PAX extended headers (long
 * names, sizes, xattrs as SCHILY.xattr.*), GNU long names (././@LongLink) and base-256 numbers —
 * what Go's archive/tar (docker save, buildkit) and GNU tar write. Every header's checksum is
 * checked; anything it does not know (sparse files, multi-volume) is refused by name rather than
 * guessed at. It only parses: what a member may do to the disk is extract.ts's business.
 */
import { NsnetError } from '../core/errors.js';

export type TarType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarHeader {
  /** The member's name as the archive gives it (PAX or GNU long name applied). */
  name: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (fractional from a PAX mtime). */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from PAX SCHILY.xattr.* records. */
  xattrs: Map<string, Buffer>;
}

const BLOCK = 512;

/** Reads exact byte counts from an async stream of chunks. */
export class ChunkReader {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  /** Bytes handed out so far. */
  offset = 0;
  private readonly it: AsyncIterator<Buffer | string>;

  constructor(source: AsyncIterable<Buffer | string>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<boolean> {
    while (this.buf.length < n && !this.done) {
      const next = await this.it.next();
      if (next.done === true) this.done = true;
      else this.buf = this.buf.length === 0 ? Buffer.from(next.value) : Buffer.concat([this.buf, Buffer.from(next.value)]);
    }
    return this.buf.length >= n;
  }

  /** Exactly n bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(out.length);
    this.offset += out.length;
    return out;
  }

  /** n bytes in the pieces they arrive in (at most max each); throws if the stream ends first. */
  async *pieces(n: number, what: string, max = 1 << 20): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill(1))) throw truncated(what);
      const piece = this.buf.subarray(0, Math.min(left, max, this.buf.length));
      this.buf = this.buf.subarray(piece.length);
      this.offset += piece.length;
      left -= piece.length;
      yield piece;
    }
  }

  /** Reads to the end of the stream (so a hash over it sees every byte); returns how many there were. */
  async drain(): Promise<number> {
    let n = this.buf.length;
    this.buf = Buffer.alloc(0);
    while (!this.done) {
      const next = await this.it.next();
      if (next.done === true) this.done = true;
      else n += next.value.length;
    }
    this.offset += n;
    return n;
  }
}

function truncated(what: string): NsnetError {
  return new NsnetError('INVALID_VALUE', `${what}: the tar ends in the middle of a member (truncated archive)`);
}

function malformed(what: string, why: string): NsnetError {
  return new NsnetError('INVALID_VALUE', `${what}: ${why}`, { hint: 'the archive is damaged or not a tar archive; nothing was loaded' });
}

/**
 * Calls onEntry for each member in order with its body (size bytes, to be read or left: what is
 * left is skipped). Stops at the end-of-archive blocks; the caller may drain the rest.
 */
export async function readTar(reader: ChunkReader, what: string, onEntry: (h: TarHeader, body: AsyncIterable<Buffer>) => Promise<void>): Promise<void> {
  let pax: Map<string, string> = new Map();
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const at = reader.offset;
    const block = await reader.read(BLOCK);
    if (block.length === 0) return; // no end-of-archive blocks: accepted, as GNU tar does
    if (block.length < BLOCK) throw truncated(what);
    if (block.every((b) => b === 0)) return;
    checkSum(block, what, at);
    const flag = String.fromCharCode(block[156] ?? 0);
    const size = numeric(block, 124, 12, what, at);
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > 1 << 20) throw malformed(what, `extended header of ${size} bytes at offset ${at} (more than 1 MiB)`);
      const data = Buffer.concat(await collect(reader.pieces(Math.ceil(size / BLOCK) * BLOCK, what))).subarray(0, size);
      if (flag === 'x') pax = parsePax(data, what, at);
      else if (flag === 'L') longName = cString(data);
      else if (flag === 'K') longLink = cString(data);
      // 'g' (global PAX) sets defaults nobody writes for images: read and ignored.
      continue;
    }
    const h = header(block, flag, pax, longName, longLink, what, at);
    pax = new Map();
    longName = undefined;
    longLink = undefined;
    // Links, directories and devices have no data whatever their size field says (as Go's reader).
    const bodySize = h.type === 'file' ? h.size : 0;
    const skip = Math.ceil(bodySize / BLOCK) * BLOCK - bodySize;
    let consumed = 0;
    const body = (async function* (): AsyncGenerator<Buffer> {
      for await (const p of reader.pieces(bodySize, what)) {
        consumed += p.length;
        yield p;
      }
    })();
    await onEntry(h, body);
    if (consumed < bodySize) for await (const p of reader.pieces(bodySize - consumed, what)) void p;
    if (skip > 0) for await (const p of reader.pieces(skip, what)) void p;
  }
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const p of it) out.push(p);
  return out;
}

const TYPES: Record<string, TarType> = { '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };

function header(block: Buffer, flag: string, pax: Map<string, string>, longName: string | undefined, longLink: string | undefined, what: string, at: number): TarHeader {
  const magic = block.subarray(257, 263).toString('latin1');
  let name = cString(block.subarray(0, 100));
  // POSIX ustar splits long names into prefix/name; GNU's "ustar  " magic has no prefix field.
  if (magic === 'ustar\0') {
    const prefix = cString(block.subarray(345, 500));
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  name = pax.get('path') ?? longName ?? name;
  let type = TYPES[flag];
  if (type === undefined) {
    const kind = flag === 'S' ? 'a sparse file' : flag === 'M' ? 'a multi-volume continuation' : flag === 'V' ? 'a volume label' : `type '${flag}'`;
    throw malformed(what, `member "${name}" is ${kind}, which nsnet does not extract`);
  }
  if (type === 'file' && flag !== '7' && name.endsWith('/')) type = 'dir'; // old tars mark directories by the slash
  const xattrs = new Map<string, Buffer>();
  for (const [k, v] of pax) if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice('SCHILY.xattr.'.length), Buffer.from(v, 'latin1'));
  const num = (key: string, off: number, len: number): number => {
    const v = pax.get(key);
    if (v === undefined) return numeric(block, off, len, what, at);
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw malformed(what, `member "${name}": PAX ${key}="${v}" is not a number`);
    return n;
  };
  return {
    name,
    type,
    mode: numeric(block, 100, 8, what, at) & 0o7777,
    uid: num('uid', 108, 8),
    gid: num('gid', 116, 8),
    size: num('size', 124, 12),
    mtime: num('mtime', 136, 12),
    linkname: pax.get('linkpath') ?? longLink ?? cString(block.subarray(157, 257)),
    devmajor: numeric(block, 329, 8, what, at),
    devminor: numeric(block, 337, 8, what, at),
    xattrs,
  };
}

function checkSum(block: Buffer, what: string, at: number): void {
  let stored: number;
  try {
    stored = numeric(block, 148, 8, what, at);
  } catch {
    throw malformed(what, `not a tar header at offset ${at} (its checksum field is not a number)`);
  }
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored !== unsigned && stored !== signed) throw malformed(what, `bad tar header checksum at offset ${at}`);
}

/** An octal field, or base-256 when the high bit of the first byte is set (GNU, Go for big values). */
function numeric(block: Buffer, off: number, len: number, what: string, at: number): number {
  const field = block.subarray(off, off + len);
  if (((field[0] ?? 0) & 0x80) !== 0) {
    let n = (field[0] ?? 0) & 0x7f;
    for (let i = 1; i < len; i++) n = n * 256 + (field[i] ?? 0);
    if (!Number.isSafeInteger(n)) throw malformed(what, `number too large in the tar header at offset ${at}`);
    return n;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw malformed(what, `bad number "${text}" in the tar header at offset ${at}`);
  return parseInt(text, 8);
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString('utf8');
}

/** PAX records: "LEN key=value\n", LEN counting the whole record. */
function parsePax(data: Buffer, what: string, at: number): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < data.length) {
    if (data[i] === 0) break;
    const space = data.indexOf(0x20, i);
    const len = space < 0 ? NaN : Number(data.subarray(i, space).toString('latin1'));
    if (!Number.isInteger(len) || len <= 0 || i + len > data.length) throw malformed(what, `bad PAX record in the extended header at offset ${at}`);
    const record = data.subarray(space + 1, i + len - 1); // without the trailing newline
    const eq = record.indexOf(0x3d);
    if (eq < 0) throw malformed(what, `bad PAX record in the extended header at offset ${at}`);
    const key = record.subarray(0, eq).toString('utf8');
    // xattr values are bytes; everything else is UTF-8 text.
    out.set(key, record.subarray(eq + 1).toString(key.startsWith('SCHILY.xattr.') ? 'latin1' : 'utf8'));
    i += len;
  }
  return out;
}
