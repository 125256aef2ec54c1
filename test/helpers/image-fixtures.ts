/**
 * Image archives built on the spot, with no network: a busybox image from the host's static
 * /bin/busybox (Debian's busybox-static) as a `docker save` archive and as an OCI image layout
 * tar, a second image on top of it with a whiteout and an opaque directory, and hostile archives
 * (tar-slip and friends, a layer whose digest does not match). Everything is deterministic: the
 * same busybox binary gives the same image id every time.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { tarArchive, type TarEntry } from '../../src/image/tar-write.js';

export const BUSYBOX_BINARY = '/bin/busybox';

/** Applets linked to bin/busybox in the fixture's layer (symlinks, and cat as a hardlink). */
export const BUSYBOX_APPLETS = ['sh', 'ls', 'ip', 'ping', 'sleep', 'hostname', 'echo', 'true', 'false', 'id', 'ps', 'mkdir', 'rm', 'wc', 'grep', 'nc', 'wget', 'env', 'mount', 'stat', 'test', 'touch', 'uname'];

const MTIME = 1_700_000_000;

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function hexOf(digest: string): string {
  return digest.replace(/^sha256:/, '');
}

/** The busybox layer: bin/busybox and its applets, /etc with passwd and group, /tmp, /proc, /sys, /dev, /root. */
export function busyboxLayer(): Buffer {
  const entries: TarEntry[] = [
    { name: 'bin', type: 'dir', mtime: MTIME },
    { name: 'bin/busybox', type: 'file', mode: 0o755, data: fs.readFileSync(BUSYBOX_BINARY), mtime: MTIME },
    ...BUSYBOX_APPLETS.map((a): TarEntry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox', mtime: MTIME })),
    // With its target's mode, as docker save and GNU tar write a hard link (tar applies a link's mode to the shared inode).
    { name: 'bin/cat', type: 'hardlink', linkname: 'bin/busybox', mode: 0o755, mtime: MTIME },
    { name: 'dev', type: 'dir', mtime: MTIME },
    { name: 'etc', type: 'dir', mtime: MTIME },
    { name: 'etc/passwd', type: 'file', data: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n', mtime: MTIME },
    { name: 'etc/group', type: 'file', data: 'root:x:0:\nnogroup:x:65534:\n', mtime: MTIME },
    { name: 'etc/motd', type: 'file', data: 'busybox fixture\n', mtime: MTIME },
    { name: 'opt', type: 'dir', mtime: MTIME },
    { name: 'opt/old', type: 'dir', mtime: MTIME },
    { name: 'opt/old/a', type: 'file', data: 'a from the first layer\n', mtime: MTIME },
    { name: 'proc', type: 'dir', mode: 0o555, mtime: MTIME },
    { name: 'root', type: 'dir', mode: 0o700, mtime: MTIME },
    { name: 'sys', type: 'dir', mode: 0o555, mtime: MTIME },
    { name: 'tmp', type: 'dir', mode: 0o1777, mtime: MTIME },
    { name: 'home', type: 'dir', mtime: MTIME },
    { name: 'home/nobody-file', type: 'file', uid: 65534, gid: 65534, mode: 0o640, data: 'owned by nobody\n', mtime: MTIME },
  ];
  return tarArchive(entries);
}

/**
 * The second image's own layer: etc/motd whited out, opt/old made opaque (its `a` hidden) with a
 * new `b`, a new file etc/added.
 */
export function overlayLayer(): Buffer {
  return tarArchive([
    { name: 'etc', type: 'dir', mtime: MTIME },
    { name: 'etc/.wh.motd', type: 'file', mtime: MTIME },
    { name: 'etc/added', type: 'file', data: 'from the second layer\n', mtime: MTIME },
    { name: 'opt', type: 'dir', mtime: MTIME },
    { name: 'opt/old', type: 'dir', mtime: MTIME },
    { name: 'opt/old/.wh..wh..opq', type: 'file', mtime: MTIME },
    { name: 'opt/old/b', type: 'file', data: 'b from the second layer\n', mtime: MTIME },
  ]);
}

export interface ImageSpec {
  /** Uncompressed layer tars, bottom first. */
  layers: Buffer[];
  /** References as `docker save` writes them (`busybox:latest`). */
  repoTags: string[];
  cmd?: string[];
  entrypoint?: string[];
  env?: string[];
  workingDir?: string;
  exposedPorts?: string[];
  /** diff_ids to write instead of the layers' real digests (the wrong-digest case). */
  diffIds?: string[];
}

export interface BuiltImage {
  /** sha256:<hex> of the config: the image id. */
  id: string;
  config: Buffer;
  diffIds: string[];
}

export function imageConfig(spec: ImageSpec): Buffer {
  const config = {
    architecture: 'amd64',
    os: 'linux',
    created: '2023-11-14T22:13:20Z',
    config: {
      Env: spec.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: spec.cmd ?? ['sh'],
      ...(spec.entrypoint !== undefined ? { Entrypoint: spec.entrypoint } : {}),
      ...(spec.workingDir !== undefined ? { WorkingDir: spec.workingDir } : {}),
      ...(spec.exposedPorts !== undefined ? { ExposedPorts: Object.fromEntries(spec.exposedPorts.map((p) => [p, {}])) } : {}),
    },
    rootfs: { type: 'layers', diff_ids: spec.diffIds ?? spec.layers.map((l) => sha256(l)) },
    history: spec.layers.map(() => ({ created: '2023-11-14T22:13:20Z', created_by: 'nsnet test fixture' })),
  };
  return Buffer.from(JSON.stringify(config));
}

export function builtImage(spec: ImageSpec): BuiltImage {
  const config = imageConfig(spec);
  return { id: sha256(config), config, diffIds: spec.diffIds ?? spec.layers.map((l) => sha256(l)) };
}

/** A `docker save` archive of the images: manifest.json, <id>.json configs, <diffid>/layer.tar (gzip'd with gzip: true). */
export function dockerArchive(specs: readonly ImageSpec[], opts: { gzip?: boolean } = {}): Buffer {
  const entries: TarEntry[] = [];
  const seen = new Set<string>();
  const manifest = specs.map((spec) => {
    const img = builtImage(spec);
    const layerPaths = spec.layers.map((layer) => {
      const dir = hexOf(sha256(layer));
      if (!seen.has(dir)) {
        seen.add(dir);
        entries.push({ name: dir, type: 'dir', mtime: MTIME });
        entries.push({ name: `${dir}/layer.tar`, type: 'file', data: opts.gzip === true ? zlib.gzipSync(layer) : layer, mtime: MTIME });
      }
      return `${dir}/layer.tar`;
    });
    entries.push({ name: `${hexOf(img.id)}.json`, type: 'file', data: img.config, mtime: MTIME });
    return { Config: `${hexOf(img.id)}.json`, RepoTags: spec.repoTags, Layers: layerPaths };
  });
  // docker save writes manifest.json last: a loader must not expect it first.
  entries.push({ name: 'manifest.json', type: 'file', data: JSON.stringify(manifest), mtime: MTIME });
  return tarArchive(entries);
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

/**
 * An OCI image layout tar (oci-layout, index.json, blobs/sha256/...) as `skopeo copy ...
 * oci-archive:` writes it: gzip'd layers, one manifest per image, named by
 * org.opencontainers.image.ref.name (the tag) and io.containerd.image.name (the full reference).
 * layerBlobBytes are stored under the layers' blob names instead of their bytes (the wrong-digest case).
 */
export function ociArchive(specs: readonly ImageSpec[], opts: { layerBlobBytes?: Buffer[] } = {}): Buffer {
  const blobs = new Map<string, Buffer>();
  const put = (data: Buffer): { digest: string; size: number } => {
    const digest = sha256(data);
    blobs.set(digest, data);
    return { digest, size: data.length };
  };
  const manifests = specs.map((spec) => {
    const img = builtImage(spec);
    const layers = spec.layers.map((layer, i) => {
      const blob = put(zlib.gzipSync(layer));
      const swapped = opts.layerBlobBytes?.[i];
      if (swapped !== undefined) blobs.set(blob.digest, swapped);
      return { mediaType: OCI_LAYER_GZIP, ...blob, ...(swapped !== undefined ? { size: swapped.length } : {}) };
    });
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, ...put(img.config) }, layers }));
    const ref = spec.repoTags[0];
    const annotations = ref === undefined ? {} : { 'io.containerd.image.name': normaliseForFixture(ref), 'org.opencontainers.image.ref.name': ref.slice(ref.lastIndexOf(':') + 1) };
    return { mediaType: OCI_MANIFEST, ...put(manifest), annotations };
  });
  const entries: TarEntry[] = [
    { name: 'oci-layout', type: 'file', data: JSON.stringify({ imageLayoutVersion: '1.0.0' }), mtime: MTIME },
    { name: 'index.json', type: 'file', data: JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }), mtime: MTIME },
    { name: 'blobs', type: 'dir', mtime: MTIME },
    { name: 'blobs/sha256', type: 'dir', mtime: MTIME },
    ...[...blobs].map(([digest, data]): TarEntry => ({ name: `blobs/sha256/${hexOf(digest)}`, type: 'file', data, mtime: MTIME })),
  ];
  return tarArchive(entries);
}

function normaliseForFixture(ref: string): string {
  const first = ref.split('/')[0] ?? '';
  if (ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return ref;
  return ref.includes('/') ? `docker.io/${ref}` : `docker.io/library/${ref}`;
}

export function busyboxSpec(): ImageSpec {
  return { layers: [busyboxLayer()], repoTags: ['busybox:latest'] };
}

/** busybox's layer plus overlayLayer(), tagged layered:latest. */
export function layeredSpec(): ImageSpec {
  return { layers: [busyboxLayer(), overlayLayer()], repoTags: ['layered:latest'], cmd: ['cat', '/etc/added'] };
}

/**
 * Hostile layers, each alone in an image, by case name. Their digests are right, so what refuses
 * them is the extraction's own checks. `member` is the name the error must mention.
 */
export function hostileLayers(): Record<string, { layer: Buffer; member: string }> {
  const file = (name: string, data = 'pwned\n'): TarEntry => ({ name, type: 'file', data, mtime: MTIME });
  return {
    'dot-dot': { layer: tarArchive([file('../etc/passwd')]), member: '../etc/passwd' },
    'dot-dot-inside': { layer: tarArchive([{ name: 'a', type: 'dir' }, file('a/../../escaped')]), member: 'a/../../escaped' },
    absolute: { layer: tarArchive([file('/etc/passwd')]), member: '/etc/passwd' },
    'symlink-then-file': {
      layer: tarArchive([{ name: 'etc', type: 'symlink', linkname: '/etc' }, file('etc/passwd')]),
      member: 'etc/passwd',
    },
    'relative-symlink-then-file': {
      layer: tarArchive([{ name: 'up', type: 'symlink', linkname: '../../../../../../' }, file('up/tmp/escaped')]),
      member: 'up',
    },
    'hardlink-out': { layer: tarArchive([{ name: 'shadow', type: 'hardlink', linkname: '/etc/shadow' }]), member: 'shadow' },
    'hardlink-dot-dot': { layer: tarArchive([{ name: 'shadow', type: 'hardlink', linkname: '../../../../etc/shadow' }]), member: 'shadow' },
  };
}

/** A docker archive of one image over the layer. */
export function singleLayerArchive(layer: Buffer, tag = 'hostile:latest'): Buffer {
  return dockerArchive([{ layers: [layer], repoTags: [tag] }]);
}

/** A docker archive whose config names a diff id the layer does not have. */
export function wrongDigestArchive(): Buffer {
  const layer = tarArchive([{ name: 'hello', type: 'file', data: 'hello\n' }]);
  return dockerArchive([{ layers: [layer], repoTags: ['wrongdigest:latest'], diffIds: [sha256('not this layer')] }]);
}

/** Writes an archive to dir/name and returns its path. */
export function writeArchive(dir: string, name: string, data: Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return file;
}
