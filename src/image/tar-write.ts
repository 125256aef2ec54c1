/**
 * A small tar writer (POSIX ustar, with a PAX header for names or link names longer than ustar
 * holds): what `docker save` writes, and what the tests build their image archives with. The
 * whole archive is built in memory, which suits image configs, manifests and test layers.
 */

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  name: string;
  type: TarEntryType;
  /** Permission bits (and setuid/setgid/sticky); 0o644 for files, 0o755 for directories by default. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch. */
  mtime?: number;
  /** Target of a symlink or hardlink. */
  linkname?: string;
  data?: Buffer | string;
  devmajor?: number;
  devminor?: number;
  /** Extra PAX records (e.g. `SCHILY.xattr.security.capability`). */
  pax?: Record<string, string>;
}

const BLOCK = 512;

const TYPEFLAG: Record<TarEntryType, string> = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

/** One tar archive holding the entries in order, with the two zero blocks that end it. */
export function tarArchive(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) parts.push(...entryBlocks(e));
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

function entryBlocks(e: TarEntry): Buffer[] {
  const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
  const name = e.type === 'dir' && !e.name.endsWith('/') ? `${e.name}/` : e.name;
  const linkname = e.linkname ?? '';
  const pax: Record<string, string> = { ...e.pax };
  if (Buffer.byteLength(name) > 100) pax['path'] = name;
  if (Buffer.byteLength(linkname) > 100) pax['linkpath'] = linkname;
  const out: Buffer[] = [];
  if (Object.keys(pax).length > 0) {
    const body = Buffer.from(Object.entries(pax).map(([k, v]) => paxRecord(k, v)).join(''));
    out.push(header({ name: 'PaxHeader', typeflag: 'x', size: body.length, mode: 0o644 }), padded(body));
  }
  out.push(
    header({
      name: name.slice(0, 100),
      typeflag: TYPEFLAG[e.type],
      size: e.type === 'file' ? data.length : 0,
      mode: e.mode ?? (e.type === 'dir' ? 0o755 : e.type === 'symlink' ? 0o777 : 0o644),
      uid: e.uid,
      gid: e.gid,
      mtime: e.mtime,
      linkname: linkname.slice(0, 100),
      devmajor: e.devmajor,
      devminor: e.devminor,
    }),
  );
  if (e.type === 'file' && data.length > 0) out.push(padded(data));
  return out;
}

/** "LEN key=value\n" where LEN counts the whole record, its own digits included. */
function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(rest) + 1;
  while (String(len).length + Buffer.byteLength(rest) !== len) len = String(len).length + Buffer.byteLength(rest);
  return `${len}${rest}`;
}

function padded(data: Buffer): Buffer {
  const rem = data.length % BLOCK;
  return rem === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rem)]);
}

interface HeaderFields {
  name: string;
  typeflag: string;
  size: number;
  mode: number;
  uid?: number | undefined;
  gid?: number | undefined;
  mtime?: number | undefined;
  linkname?: string | undefined;
  devmajor?: number | undefined;
  devminor?: number | undefined;
}

function header(f: HeaderFields): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(f.name, 0, 100, 'utf8');
  octal(h, 100, 8, f.mode & 0o7777);
  octal(h, 108, 8, f.uid ?? 0);
  octal(h, 116, 8, f.gid ?? 0);
  octal(h, 124, 12, f.size);
  octal(h, 136, 12, f.mtime ?? 0);
  h.write(f.typeflag, 156, 1, 'latin1');
  h.write(f.linkname ?? '', 157, 100, 'utf8');
  h.write('ustar\u000000', 257, 8, 'latin1');
  if ((f.uid ?? 0) === 0) h.write('root', 265, 32, 'latin1');
  if ((f.gid ?? 0) === 0) h.write('root', 297, 32, 'latin1');
  octal(h, 329, 8, f.devmajor ?? 0);
  octal(h, 337, 8, f.devminor ?? 0);
  h.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'latin1');
  return h;
}

function octal(h: Buffer, off: number, len: number, value: number): void {
  h.write(`${value.toString(8).padStart(len - 1, '0')}\u0000`, off, len, 'latin1');
}
