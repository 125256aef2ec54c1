/**
 * Image archives as `docker load` takes them: `docker save`'s format (manifest.json naming each
 * image's config and layer files, RepoTags) and the OCI image layout (oci-layout, index.json,
 * blobs/sha256/...), either as a plain tar or gzip'd. The archive is indexed once (member name →
 * offset, size), so layers are read straight from it in the order the manifest gives them; input
 * from a pipe is spooled to a file under ROOT/images/tmp first (docker save writes manifest.json
 * last, so nothing can be extracted before the end of the stream anyway).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { NsnetError } from '../core/errors.js';
import { gunzip, hexOf, sha256Digest } from './layer-store.js';
import { normaliseReference } from './reference.js';
import { ChunkReader, readTar, type TarType } from './tar-read.js';

export interface ArchiveMember {
  name: string;
  type: TarType;
  offset: number;
  size: number;
  linkname: string;
}

export interface ArchiveLayer {
  /** The member holding the layer's bytes (a tar, maybe gzip'd). */
  member: ArchiveMember;
  diffId: string;
  /** OCI: the blob's digest as the manifest gives it. */
  compressedDigest?: string | undefined;
}

export interface ArchiveImage {
  config: Buffer;
  /** sha256 of the config: the image id. */
  id: string;
  layers: ArchiveLayer[];
  /** Normalised references the archive gives the image. */
  refs: string[];
}

export type ArchiveFormat = 'docker-archive' | 'oci-layout';

const MAX_JSON = 16 << 20;

function bad(file: string, why: string): NsnetError {
  return new NsnetError('INVALID_VALUE', `load ${file}: ${why}`, {
    hint: 'give a tar written by `docker save` or an OCI image layout tar (skopeo copy ... oci-archive:FILE); nothing was loaded',
  });
}

/** An archive file on disk, indexed. */
export class ImageArchive {
  private constructor(
    readonly file: string,
    /** How errors name the archive: its path, or `stdin` for one spooled from a stream. */
    readonly name: string,
    private readonly members: Map<string, ArchiveMember>,
  ) {}

  static async open(file: string, name = file): Promise<ImageArchive> {
    const members = new Map<string, ArchiveMember>();
    const reader = new ChunkReader(fs.createReadStream(file));
    await readTar(reader, `archive ${name}`, async (h) => {
      const name = h.name.split('/').filter((p) => p !== '' && p !== '.').join('/');
      members.set(name, { name, type: h.type, offset: reader.offset, size: h.type === 'file' ? h.size : 0, linkname: h.linkname });
    });
    if (members.size === 0) throw bad(name, 'the archive is empty');
    return new ImageArchive(file, name, members);
  }

  get format(): ArchiveFormat {
    if (this.members.has('manifest.json')) return 'docker-archive';
    if (this.members.has('index.json')) return 'oci-layout';
    throw bad(this.name, this.members.has('repositories') ? 'only the legacy "repositories" format (Docker < 1.10), which nsnet does not read' : 'neither manifest.json (docker save) nor index.json (OCI layout) in the archive');
  }

  /** A member by name, following symlinks inside the archive (old docker save links shared layers). */
  member(name: string): ArchiveMember {
    let cur = name.split('/').filter((p) => p !== '' && p !== '.').join('/');
    for (let hops = 0; hops < 16; hops++) {
      const m = this.members.get(cur);
      if (m === undefined) throw bad(this.name, `the archive has no member "${name}"`);
      if (m.type === 'file') return m;
      if (m.type !== 'symlink' && m.type !== 'hardlink') throw bad(this.name, `member "${name}" is not a file`);
      const base = m.type === 'symlink' ? path.posix.dirname(cur) : '';
      const next = path.posix.normalize(path.posix.join('/', base, m.linkname)).slice(1);
      cur = next;
    }
    throw bad(this.name, `member "${name}": too many links`);
  }

  has(name: string): boolean {
    return this.members.has(name);
  }

  read(m: ArchiveMember, max = MAX_JSON): Buffer {
    if (m.size > max) throw bad(this.name, `member "${m.name}" is ${m.size} bytes, more than the ${max} a manifest or config may have`);
    const buf = Buffer.alloc(m.size);
    const fd = fs.openSync(this.file, 'r');
    try {
      let off = 0;
      while (off < m.size) {
        const n = fs.readSync(fd, buf, off, m.size - off, m.offset + off);
        if (n === 0) throw bad(this.name, `member "${m.name}" is truncated`);
        off += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    return buf;
  }

  json(name: string): unknown {
    const m = this.member(name);
    try {
      return JSON.parse(this.read(m).toString('utf8'));
    } catch (err) {
      if (err instanceof NsnetError) throw err;
      throw bad(this.name, `${name} is not valid JSON: ${(err as Error).message}`);
    }
  }

  stream(m: ArchiveMember): Readable {
    if (m.size === 0) return Readable.from([]);
    return fs.createReadStream(this.file, { start: m.offset, end: m.offset + m.size - 1, highWaterMark: 1 << 20 });
  }

  /** The images the archive holds, checked (configs parse, layer counts match). */
  images(): ArchiveImage[] {
    return this.format === 'docker-archive' ? this.dockerImages() : this.ociImages();
  }

  private dockerImages(): ArchiveImage[] {
    const manifest = this.json('manifest.json');
    if (!Array.isArray(manifest)) throw bad(this.name, 'manifest.json is not a list of images');
    return manifest.map((entry: unknown, i) => {
      const e = entry as { Config?: unknown; RepoTags?: unknown; Layers?: unknown };
      if (typeof e?.Config !== 'string' || !Array.isArray(e.Layers) || !e.Layers.every((l) => typeof l === 'string')) {
        throw bad(this.name, `manifest.json entry ${i} lacks Config or Layers`);
      }
      const config = this.read(this.member(e.Config));
      const diffIds = diffIdsOf(config, this.name, e.Config);
      const layers = e.Layers as string[];
      if (diffIds.length !== layers.length) throw bad(this.name, `${e.Config} lists ${diffIds.length} layers (rootfs.diff_ids), manifest.json ${layers.length}`);
      const tags = Array.isArray(e.RepoTags) ? e.RepoTags.filter((t): t is string => typeof t === 'string') : [];
      return {
        config,
        id: sha256Digest(config),
        layers: layers.map((l, j) => ({ member: this.member(l), diffId: diffIds[j]! })),
        refs: tags.map((t) => normaliseReference(t)),
      };
    });
  }

  private blob(digest: unknown, size: unknown, what: string): Buffer {
    if (typeof digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(digest)) throw bad(this.name, `${what}: digest ${String(digest)} is not sha256:<64 hex>`);
    const data = this.read(this.member(`blobs/sha256/${hexOf(digest)}`));
    if (sha256Digest(data) !== digest) throw bad(this.name, `${what}: blob ${digest} has digest ${sha256Digest(data)}`);
    if (typeof size === 'number' && size !== data.length) throw bad(this.name, `${what}: blob ${digest} is ${data.length} bytes, the descriptor says ${size}`);
    return data;
  }

  private ociImages(): ArchiveImage[] {
    const index = this.json('index.json') as { manifests?: unknown };
    if (!Array.isArray(index?.manifests)) throw bad(this.name, 'index.json has no manifests');
    const out: ArchiveImage[] = [];
    for (const d of index.manifests as Descriptor[]) {
      const manifest = this.pickManifest(d, 'index.json');
      const refs = refsOf(d.annotations);
      const m = JSON.parse(manifest.toString('utf8')) as { config?: Descriptor; layers?: Descriptor[] };
      if (m.config === undefined || !Array.isArray(m.layers)) throw bad(this.name, `manifest ${d.digest} lacks config or layers`);
      const config = this.blob(m.config.digest, m.config.size, `config of ${d.digest}`);
      const diffIds = diffIdsOf(config, this.name, `config ${m.config.digest}`);
      if (diffIds.length !== m.layers.length) throw bad(this.name, `config ${m.config.digest} lists ${diffIds.length} layers, manifest ${d.digest} ${m.layers.length}`);
      const layers = m.layers.map((l, j) => {
        if (typeof l.digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(l.digest)) throw bad(this.name, `manifest ${d.digest}: layer ${j} has no sha256 digest`);
        const member = this.member(`blobs/sha256/${hexOf(l.digest)}`);
        if (typeof l.size === 'number' && l.size !== member.size) throw bad(this.name, `layer blob ${l.digest} is ${member.size} bytes, the manifest says ${l.size}`);
        return { member, diffId: diffIds[j]!, compressedDigest: l.digest };
      });
      out.push({ config, id: sha256Digest(config), layers, refs });
    }
    return out;
  }

  /** A manifest descriptor's blob; an index (manifest list) is followed to its linux/<this machine> image. */
  private pickManifest(d: Descriptor, from: string): Buffer {
    const data = this.blob(d.digest, d.size, `manifest listed in ${from}`);
    const parsed = JSON.parse(data.toString('utf8')) as { mediaType?: string; manifests?: Descriptor[] };
    if (!Array.isArray(parsed.manifests)) return data;
    const arch = goArch();
    const pick = parsed.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === arch);
    if (pick === undefined) throw bad(this.name, `index ${d.digest} has no image for linux/${arch}`);
    return this.pickManifest(pick, `index ${d.digest}`);
  }
}

interface Descriptor {
  mediaType?: string;
  digest?: string;
  size?: number;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string };
}

/** Docker's names for Node's architectures. */
export function goArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch] ?? process.arch;
}

/** io.containerd.image.name (a full reference), else org.opencontainers.image.ref.name when it is one (not a bare tag). */
function refsOf(annotations: Record<string, string> | undefined): string[] {
  const full = annotations?.['io.containerd.image.name'];
  const refName = annotations?.['org.opencontainers.image.ref.name'];
  for (const candidate of [full, refName]) {
    if (candidate === undefined || (candidate === refName && !/[/:]/.test(candidate))) continue;
    try {
      return [normaliseReference(candidate)];
    } catch {
      continue;
    }
  }
  return [];
}

function diffIdsOf(config: Buffer, file: string, what: string): string[] {
  let parsed: { rootfs?: { diff_ids?: unknown } };
  try {
    parsed = JSON.parse(config.toString('utf8')) as typeof parsed;
  } catch (err) {
    throw bad(file, `${what} is not valid JSON: ${(err as Error).message}`);
  }
  const ids = parsed?.rootfs?.diff_ids;
  if (!Array.isArray(ids) || !ids.every((d) => typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d))) {
    throw bad(file, `${what} has no rootfs.diff_ids of sha256 digests`);
  }
  return ids as string[];
}

/**
 * The input as an archive file: a path is used as it is (gunzipped to a spool file when gzip'd);
 * a stream is spooled. Returns the file and a cleanup for what was spooled.
 */
export async function archiveFile(input: string | Readable, spoolDir: string): Promise<{ file: string; name: string; cleanup: () => void }> {
  let source: Readable;
  if (typeof input === 'string') {
    if (!isGzipFile(input)) return { file: input, name: input, cleanup: () => undefined };
    source = fs.createReadStream(input);
  } else {
    source = input;
  }
  const file = path.join(spoolDir, 'archive.tar');
  const cleanup = (): void => fs.rmSync(file, { force: true });
  try {
    const out = fs.openSync(file, 'wx', 0o600);
    try {
      const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      const head = await it.next();
      if (head.done === true) throw new NsnetError('INVALID_VALUE', 'load: the input is empty', { hint: 'give an archive with -i FILE or on stdin' });
      const all = (async function* (): AsyncGenerator<Buffer> {
        yield head.value;
        for (let n = await it.next(); n.done !== true; n = await it.next()) yield n.value;
      })();
      const gzipped = head.value[0] === 0x1f && head.value[1] === 0x8b;
      for await (const c of gzipped ? gunzip(all) : all) fs.writeSync(out, c);
    } finally {
      fs.closeSync(out);
    }
  } catch (err) {
    cleanup();
    const zcode = (err as NodeJS.ErrnoException).code;
    if (typeof zcode === 'string' && zcode.startsWith('Z_')) throw new NsnetError('INVALID_VALUE', `load: the input is not valid gzip: ${(err as Error).message}`, { cause: err });
    throw err;
  }
  return { file, name: typeof input === 'string' ? input : 'stdin', cleanup };
}

function isGzipFile(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new NsnetError(code === 'ENOENT' ? 'NOT_FOUND' : 'INVALID_VALUE', `load ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw new NsnetError('INVALID_VALUE', `load ${file}: not a file`, { hint: 'give the archive file with -i, or the archive on stdin' });
    const b = Buffer.alloc(2);
    fs.readSync(fd, b, 0, 2, 0);
    return b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    fs.closeSync(fd);
  }
}
