/**
 * Extracts one image layer (a tar) into an empty directory, safely, in the form overlayfs reads
 * as a lower layer. The tar-slip class of bugs is refused by construction: every member name is
 * made relative and may not contain `..`; nothing is ever written through a symlink (the
 * directory starts empty and only this code writes in it, so the record of what it made tells
 * every path's type without asking the disk); a symlink whose relative target climbs out of the
 * layer is refused (as Docker's archive package does; an absolute target is fine, it is resolved
 * inside the container's root); a hard link must name a member extracted before it in the same
 * layer. AUFS whiteouts become overlayfs's: `.wh.NAME` a character device 0:0, `.wh..wh..opq` the
 * xattr trusted.overlay.opaque=y on its directory. Modes, owners, times, links and device
 * nodes are kept.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NsnetError } from '../core/errors.js';
import { lsetxattr, mknod, S_IFBLK, S_IFCHR, S_IFIFO } from '../kernel/fs-nodes.js';
import type { ChunkReader, TarHeader } from './tar-read.js';
import { readTar } from './tar-read.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
export const OPAQUE_XATTR = 'trusted.overlay.opaque';

/** What the layer's members may set as xattrs: file capabilities and user attributes, never overlayfs's own (trusted.*). */
const ALLOWED_XATTR = /^(security\.capability|user\..+)$/;

export interface ExtractedLayer {
  /** Bytes of regular files written. */
  size: number;
  entries: number;
}

type Kind = 'dir' | 'file' | 'symlink' | 'other';

function refuse(layer: string, member: string, why: string): NsnetError {
  return new NsnetError('INVALID_VALUE', `layer ${layer}: member "${member}": ${why}`, {
    hint: 'the archive is malformed or hostile; nothing was loaded',
  });
}

/**
 * The member's path inside the layer as components ([] for the root), or a refusal: absolute
 * names and `..` anywhere are not cleaned up into something else, they are refused.
 */
export function memberPath(name: string, layer: string): string[] {
  if (name.startsWith('/')) throw refuse(layer, name, 'absolute path (a layer member must be relative to the layer)');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw refuse(layer, name, 'path leads outside the layer ("..")');
  if (parts.some((p) => p.includes('\0'))) throw refuse(layer, name, 'NUL in the name');
  return parts;
}

/** Whether a relative symlink target, seen from the link's directory, stays inside the layer (Docker's breakout check). */
export function symlinkStaysInside(linkParts: readonly string[], target: string): boolean {
  if (target.startsWith('/')) return true;
  // Relative to the layer's root, without a leading '/' (which would clamp '..' at the root).
  const resolved = path.posix.normalize(path.posix.join('.', ...linkParts.slice(0, -1), target));
  return resolved !== '..' && !resolved.startsWith('../');
}

/**
 * What extraction does to the disk, path by path (absolute paths under the layer's directory):
 * diskWriter on the real file system, a recording fake in the unit tests.
 */
export interface LayerWriter {
  mkdir(file: string): void;
  /** A new regular file (never an existing name, never through a link). */
  writeFile(file: string, body: AsyncIterable<Buffer>): Promise<void>;
  symlink(target: string, file: string): void;
  link(existing: string, file: string): void;
  mknod(file: string, kind: 'char' | 'block' | 'fifo', major: number, minor: number): void;
  setxattr(file: string, name: string, value: Buffer): void;
  /** Removes the name (a directory with everything in it). */
  remove(file: string): void;
  chown(file: string, uid: number, gid: number): void;
  chmod(file: string, mode: number): void;
  /** Access and modification time, of the link itself. */
  utimes(file: string, mtime: number): void;
}

export const diskWriter: LayerWriter = {
  mkdir: (file) => fs.mkdirSync(file, { mode: 0o700 }),
  async writeFile(file, body) {
    // O_EXCL|O_NOFOLLOW: the name was cleared just before; never open something that appeared there.
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    try {
      for await (const piece of body) fs.writeSync(fd, piece);
    } finally {
      fs.closeSync(fd);
    }
  },
  symlink: (target, file) => fs.symlinkSync(target, file),
  link: (existing, file) => fs.linkSync(existing, file),
  mknod: (file, kind, major, minor) => mknod(file, kind === 'char' ? S_IFCHR : kind === 'block' ? S_IFBLK : S_IFIFO, 0, major, minor),
  setxattr: (file, name, value) => lsetxattr(file, name, value),
  remove: (file) => fs.rmSync(file, { recursive: true, force: true }),
  chown: (file, uid, gid) => fs.lchownSync(file, uid, gid),
  chmod: (file, mode) => fs.chmodSync(file, mode),
  utimes: (file, mtime) => fs.lutimesSync(file, mtime, mtime),
};

/** Extracts the tar the reader yields into dest (an empty directory). */
export async function extractLayer(reader: ChunkReader, dest: string, layer: string, writer: LayerWriter = diskWriter): Promise<ExtractedLayer> {
  const x = new Extractor(dest, layer, writer);
  await readTar(reader, `layer ${layer}`, (h, body) => x.entry(h, body));
  x.finish();
  return { size: x.size, entries: x.entries };
}

class Extractor {
  /** What this extraction made, by relative path: the only writer here, so the truth. */
  private readonly made = new Map<string, Kind>([['', 'dir']]);
  /** Directory times are set last: adding their children changes them. */
  private readonly dirTimes = new Map<string, number>();
  size = 0;
  entries = 0;

  constructor(
    private readonly dest: string,
    private readonly layer: string,
    private readonly w: LayerWriter,
  ) {}

  private abs(rel: string): string {
    return rel === '' ? this.dest : path.join(this.dest, rel);
  }

  async entry(h: TarHeader, body: AsyncIterable<Buffer>): Promise<void> {
    this.entries++;
    const parts = memberPath(h.name, this.layer);
    if (parts.length === 0) return; // the layer's root: its metadata is the image's business, not a layer's
    const base = parts[parts.length - 1]!;
    const parent = parts.slice(0, -1);
    // AUFS's own metadata (.wh..wh.plnk, its hard-link directory, and what is in it) is not content.
    if (parent.some((p) => p.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`))) return;
    this.ensureParents(parent, h.name);
    if (base === OPAQUE_MARKER) {
      this.w.setxattr(this.abs(parent.join('/')), OPAQUE_XATTR, Buffer.from('y'));
      return;
    }
    if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return; // other AUFS metadata (.wh..wh.plnk): not content
    if (base.startsWith(WHITEOUT_PREFIX)) {
      const hidden = base.slice(WHITEOUT_PREFIX.length);
      if (hidden === '' || hidden === '.' || hidden === '..') throw refuse(this.layer, h.name, 'whiteout of nothing');
      const rel = [...parent, hidden].join('/');
      this.clear(rel, false);
      this.w.mknod(this.abs(rel), 'char', 0, 0);
      this.made.set(rel, 'other');
      this.w.chown(this.abs(rel), h.uid, h.gid);
      return;
    }
    const rel = parts.join('/');
    const file = this.abs(rel);
    this.clear(rel, h.type === 'dir');
    switch (h.type) {
      case 'dir':
        if (this.made.get(rel) !== 'dir') this.w.mkdir(file);
        this.made.set(rel, 'dir');
        this.dirTimes.set(rel, h.mtime);
        break;
      case 'file':
        await this.w.writeFile(file, body);
        this.made.set(rel, 'file');
        this.size += h.size;
        break;
      case 'symlink':
        if (!symlinkStaysInside(parts, h.linkname)) throw refuse(this.layer, h.name, `symlink to "${h.linkname}" leads outside the layer`);
        this.w.symlink(h.linkname, file);
        this.made.set(rel, 'symlink');
        break;
      case 'hardlink': {
        if (h.linkname.startsWith('/')) throw refuse(this.layer, h.name, `hard link to "${h.linkname}" leads outside the layer (absolute path)`);
        const target = h.linkname.split('/').filter((p) => p !== '' && p !== '.');
        if (target.includes('..')) throw refuse(this.layer, h.name, `hard link to "${h.linkname}" leads outside the layer ("..")`);
        const kind = this.made.get(target.join('/'));
        if (kind === undefined || kind === 'dir') throw refuse(this.layer, h.name, `hard link to "${h.linkname}", which is not a file extracted before it in this layer`);
        this.w.link(this.abs(target.join('/')), file);
        this.made.set(rel, kind);
        return; // the inode's metadata is its first name's
      }
      case 'char':
      case 'block':
      case 'fifo':
        this.w.mknod(file, h.type, h.devmajor, h.devminor);
        this.made.set(rel, 'other');
        break;
    }
    this.metadata(file, h);
  }

  /** Parent directories exist as directories; a symlink or file on the way is a refusal, never followed. */
  private ensureParents(parent: readonly string[], member: string): void {
    for (let i = 1; i <= parent.length; i++) {
      const rel = parent.slice(0, i).join('/');
      const kind = this.made.get(rel);
      if (kind === 'dir') continue;
      if (kind === 'symlink') throw refuse(this.layer, member, `path goes through the symlink "${rel}" (a write through a link could land outside the layer)`);
      if (kind !== undefined) throw refuse(this.layer, member, `path goes through "${rel}", which is not a directory`);
      this.w.mkdir(this.abs(rel));
      this.w.chmod(this.abs(rel), 0o755);
      this.made.set(rel, 'dir');
    }
  }

  /** A later member of the same name replaces an earlier one (tar's rule); a directory stays for a directory. */
  private clear(rel: string, keepDir: boolean): void {
    const kind = this.made.get(rel);
    if (kind === undefined || (keepDir && kind === 'dir')) return;
    this.w.remove(this.abs(rel));
    this.made.delete(rel);
    if (kind === 'dir') {
      for (const k of [...this.made.keys()]) if (k.startsWith(`${rel}/`)) this.made.delete(k);
      for (const k of [...this.dirTimes.keys()]) if (k === rel || k.startsWith(`${rel}/`)) this.dirTimes.delete(k);
    }
  }

  private metadata(file: string, h: TarHeader): void {
    this.w.chown(file, h.uid, h.gid);
    // After chown, which clears setuid/setgid bits; a symlink's mode means nothing on Linux.
    if (h.type !== 'symlink') this.w.chmod(file, h.mode);
    for (const [name, value] of h.xattrs) if (ALLOWED_XATTR.test(name)) this.w.setxattr(file, name, value);
    if (h.type !== 'dir') this.w.utimes(file, h.mtime);
  }

  finish(): void {
    // Deepest first: a directory's time is set after everything inside it is made.
    const dirs = [...this.dirTimes].sort((a, b) => b[0].split('/').length - a[0].split('/').length);
    for (const [rel, mtime] of dirs) this.w.utimes(this.abs(rel), mtime);
  }
}
