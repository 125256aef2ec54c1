/**
 * The layer files under ROOT/images: one directory per layer, keyed by chain id as Docker's layer
 * store is, each usable as an overlayfs lowerdir. A layer is extracted into a staging directory
 * under ROOT/images/tmp (named after the loading process, so one left by a crash is recognised
 * and removed) and renamed into ROOT/images/layers/<chain id hex> only when the whole image is
 * committed: a failed load leaves no layer behind. Renames, record changes and removals happen
 * under ROOT/images/lock, so a load cannot reuse a layer an rm is deleting.
 */
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, pipeline, Readable } from 'node:stream';
import zlib from 'node:zlib';
import { NsnetError, wrap } from '../core/errors.js';
import { acquireLock, type Lock } from '../kernel/lock.js';
import { extractLayer } from './extract.js';
import { ChunkReader } from './tar-read.js';

const LOCK_TIMEOUT_MS = 60_000;

export const sha256Hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');
export const sha256Digest = (data: Buffer | string): string => `sha256:${sha256Hex(data)}`;

/** Docker's chain ids: the first layer's is its diff id, each next one sha256("<parent chain id> <diff id>"). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : sha256Digest(`${out[out.length - 1]} ${d}`));
  return out;
}

export function hexOf(digest: string): string {
  return digest.startsWith('sha256:') ? digest.slice('sha256:'.length) : digest;
}

export type Compression = 'gzip' | 'none';

/** What a layer's bytes must hash to. */
export interface LayerExpectation {
  /** sha256 of the uncompressed tar (config rootfs.diff_ids). */
  diffId: string;
  /** sha256 of the bytes as stored (an OCI or registry blob), when known. */
  compressedDigest?: string | undefined;
}

export interface StagedLayer {
  chainId: string;
  diffId: string;
  parent: string | null;
  dir: string;
  size: number;
}

export class LayerFiles {
  readonly dir: string;
  readonly layersDir: string;
  readonly tmpDir: string;

  constructor(root: string) {
    this.dir = path.join(root, 'images');
    this.layersDir = path.join(this.dir, 'layers');
    this.tmpDir = path.join(this.dir, 'tmp');
  }

  layerDir(chainId: string): string {
    return path.join(this.layersDir, hexOf(chainId));
  }

  ensureDirs(): void {
    for (const d of [this.dir, this.layersDir, this.tmpDir]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  }

  lock(): Lock {
    this.ensureDirs();
    return acquireLock(path.join(this.dir, 'lock'), { timeoutMs: LOCK_TIMEOUT_MS });
  }

  /** A fresh staging directory of this process (removed by the caller, or after a crash by removeStale). */
  stagingDir(label: string): string {
    this.ensureDirs();
    return fs.mkdtempSync(path.join(this.tmpDir, `${process.pid}-${label}-`));
  }

  /** Staging directories whose process is gone (a crash or kill -9 during a load). */
  removeStale(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.tmpDir);
    } catch {
      return;
    }
    for (const name of names) {
      const pid = Number(name.split('-')[0]);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) continue;
      if (pid === process.pid) continue;
      fs.rmSync(path.join(this.tmpDir, name), { recursive: true, force: true });
    }
  }

  /**
   * Extracts a layer's bytes into a new staging directory, checking its digests; on any failure
   * the directory is removed and the error names the layer.
   */
  async stage(source: Readable, expect: LayerExpectation, parent: string | null, label: string): Promise<StagedLayer> {
    const chainId = parent === null ? expect.diffId : sha256Digest(`${parent} ${expect.diffId}`);
    const dir = this.stagingDir('layer');
    const target = path.join(dir, 'fs');
    fs.mkdirSync(target, { mode: 0o755 });
    try {
      const stored = createHash('sha256');
      const plain = createHash('sha256');
      const head = await peek(source);
      const compression = compressionOf(head.first, label);
      const raw = tap(head.stream, stored);
      const tar = compression === 'gzip' ? gunzip(raw) : raw;
      const reader = new ChunkReader(tap(tar, plain));
      const extracted = await extractLayer(reader, target, label);
      await reader.drain();
      const gotStored = `sha256:${stored.digest('hex')}`;
      const gotPlain = `sha256:${plain.digest('hex')}`;
      if (expect.compressedDigest !== undefined && gotStored !== expect.compressedDigest) {
        throw digestMismatch(label, 'blob', expect.compressedDigest, gotStored);
      }
      if (gotPlain !== expect.diffId) throw digestMismatch(label, 'uncompressed tar (diff id)', expect.diffId, gotPlain);
      return { chainId, diffId: expect.diffId, parent, dir, size: extracted.size };
    } catch (err) {
      source.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
      if (err instanceof NsnetError) throw err;
      // zlib's errors (Z_DATA_ERROR, Z_BUF_ERROR) are the archive's fault, not nsnet's.
      const zcode = (err as NodeJS.ErrnoException).code;
      if (typeof zcode === 'string' && zcode.startsWith('Z_')) {
        throw new NsnetError('INVALID_VALUE', `layer ${label}: not valid gzip: ${(err as Error).message}`, { hint: 'the archive is damaged; nothing was loaded', cause: err });
      }
      throw wrap(`layer ${label}`, err);
    }
  }

  /**
   * Moves a staged layer into place (under the lock). A directory already there with no record is
   * what a crash between rename and record left: it is replaced.
   */
  install(staged: StagedLayer): string {
    const final = this.layerDir(staged.chainId);
    fs.rmSync(final, { recursive: true, force: true });
    fs.renameSync(path.join(staged.dir, 'fs'), final);
    fs.rmSync(staged.dir, { recursive: true, force: true });
    return final;
  }

  discard(staged: StagedLayer): void {
    fs.rmSync(staged.dir, { recursive: true, force: true });
  }

  removeLayer(chainId: string): void {
    fs.rmSync(this.layerDir(chainId), { recursive: true, force: true });
  }

  /** Layer directories that no record names (a crash after install, before the records). */
  orphans(known: ReadonlySet<string>): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.layersDir);
    } catch {
      return [];
    }
    return names.filter((n) => !known.has(`sha256:${n}`)).map((n) => `sha256:${n}`);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function digestMismatch(label: string, what: string, want: string, got: string): NsnetError {
  return new NsnetError('INVALID_VALUE', `layer ${label}: digest of the ${what} is ${got}, the manifest says ${want}`, {
    hint: 'the archive is damaged or was altered; nothing was loaded',
  });
}

/** gzip by its magic bytes; zstd (OCI's tar+zstd) is refused by name; anything else is taken as a plain tar. */
function compressionOf(first: Buffer, label: string): Compression {
  if (first[0] === 0x1f && first[1] === 0x8b) return 'gzip';
  if (first[0] === 0x28 && first[1] === 0xb5 && first[2] === 0x2f && first[3] === 0xfd) {
    throw new NsnetError('INVALID_VALUE', `layer ${label} is zstd-compressed, which nsnet cannot read`, { hint: 'save the image with gzip or uncompressed layers' });
  }
  if (first[0] === 0x42 && first[1] === 0x5a && first[2] === 0x68) {
    throw new NsnetError('INVALID_VALUE', `layer ${label} is bzip2-compressed, which nsnet cannot read`, { hint: 'save the image with gzip or uncompressed layers' });
  }
  return 'none';
}

/** The first bytes of a stream, and the whole stream again (those bytes included). */
async function peek(source: Readable): Promise<{ first: Buffer; stream: AsyncIterable<Buffer> }> {
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let have = 0;
  let ended = false;
  while (have < 4) {
    const next = await it.next();
    if (next.done === true) {
      ended = true;
      break;
    }
    chunks.push(next.value);
    have += next.value.length;
  }
  const stream = (async function* (): AsyncGenerator<Buffer> {
    yield* chunks;
    if (ended) return;
    for (;;) {
      const next = await it.next();
      if (next.done === true) return;
      yield next.value;
    }
  })();
  return { first: Buffer.concat(chunks).subarray(0, 4), stream };
}

export async function* tap(src: AsyncIterable<Buffer>, hash: Hash): AsyncGenerator<Buffer> {
  for await (const c of src) {
    hash.update(c);
    yield c;
  }
}

export function gunzip(src: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const out = new PassThrough();
  pipeline(Readable.from(src), zlib.createGunzip(), out, () => undefined);
  return out;
}
