/**
 * Manifests as registries serve them: Docker's image manifest v2 schema 2 and manifest list, OCI's
 * image manifest and index. Parsing checks every field nsnet uses (a registry that answers garbage
 * gets a clear error, never a crash later), and a list is narrowed to one platform as Docker does.
 */
import { invalid, NsnetError } from '../core/errors.js';
import { DIGEST } from './registry-ref.js';

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
} as const;

/** Layer media types nsnet can unpack: gzip-compressed or plain tar, Docker's and OCI's names. */
export const LAYER_MEDIA: Readonly<Record<string, 'gzip' | 'tar'>> = {
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'gzip',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.v1.tar': 'tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar': 'tar',
};

/** The Accept header of a manifest GET: every form nsnet understands, lists and indexes first. */
export const MANIFEST_ACCEPT = [MEDIA.dockerList, MEDIA.ociIndex, MEDIA.dockerManifest, MEDIA.ociManifest].join(', ');

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ManifestList {
  kind: 'list';
  mediaType: string;
  manifests: Array<Descriptor & { platform: Platform | undefined }>;
}

export type Manifest = ImageManifest | ManifestList;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function descriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) throw invalid(`${where} is not a JSON object`);
  const { mediaType, digest, size } = v;
  if (typeof digest !== 'string' || !DIGEST.test(digest)) throw invalid(`${where}: digest ${JSON.stringify(digest)} is not sha256:<64 hex digits>`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where}: size ${JSON.stringify(size)} is not a byte count`);
  if (mediaType !== undefined && typeof mediaType !== 'string') throw invalid(`${where}: mediaType ${JSON.stringify(mediaType)} is not a string`);
  return { mediaType: mediaType ?? '', digest, size };
}

function platformOf(v: unknown, where: string): Platform | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v) || typeof v['os'] !== 'string' || typeof v['architecture'] !== 'string') throw invalid(`${where}: platform is not {os, architecture}`);
  const variant = v['variant'];
  return { os: v['os'], architecture: v['architecture'], ...(typeof variant === 'string' && variant !== '' ? { variant } : {}) };
}

/**
 * A manifest from its bytes and the Content-Type the registry gave. The type decides; a missing or
 * generic one (application/json, OCI allows it) falls back to the document's mediaType, then to
 * its shape (manifests[] is an index, layers[] a manifest).
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined): Manifest {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid(`the manifest is not JSON (it starts with ${JSON.stringify(bytes.subarray(0, 40).toString('utf8'))})`);
  }
  if (!isObject(doc)) throw invalid('the manifest is not a JSON object');
  const declared = typeof doc['mediaType'] === 'string' ? doc['mediaType'] : undefined;
  const header = contentType?.split(';')[0]?.trim().toLowerCase();
  let type = header !== undefined && header !== '' && header !== 'application/json' && header !== 'application/octet-stream' ? header : declared;
  if (type === undefined) type = Array.isArray(doc['manifests']) ? MEDIA.ociIndex : MEDIA.ociManifest;
  if (type === MEDIA.dockerSchema1 || type === MEDIA.dockerSchema1Signed || doc['schemaVersion'] === 1) {
    throw new NsnetError('INVALID_VALUE', 'the manifest is Docker image manifest schema 1, which nsnet does not pull (Docker dropped it too)', { hint: 'push the image again with a current client (schema 2 or OCI)' });
  }
  if (type === MEDIA.dockerList || type === MEDIA.ociIndex) {
    const list = doc['manifests'];
    if (!Array.isArray(list)) throw invalid(`the manifest list (${type}) has no manifests array`);
    return {
      kind: 'list',
      mediaType: type,
      manifests: list.map((m, i) => ({ ...descriptor(m, `manifest list entry ${i}`), platform: platformOf(isObject(m) ? m['platform'] : undefined, `manifest list entry ${i}`) })),
    };
  }
  if (type === MEDIA.dockerManifest || type === MEDIA.ociManifest) {
    const layers = doc['layers'];
    if (!Array.isArray(layers)) throw invalid(`the image manifest (${type}) has no layers array`);
    return { kind: 'manifest', mediaType: type, config: descriptor(doc['config'], 'the manifest\'s config'), layers: layers.map((l, i) => descriptor(l, `layer ${i}`)) };
  }
  throw invalid(`the manifest's media type ${JSON.stringify(type)} is not one nsnet pulls`, `nsnet pulls ${[MEDIA.dockerManifest, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.ociIndex].join(', ')}`);
}

/** How a layer is compressed, from its media type; zstd and foreign (Windows) layers are refused. */
export function layerCompression(layer: Descriptor, index: number): 'gzip' | 'tar' {
  const c = LAYER_MEDIA[layer.mediaType];
  if (c !== undefined) return c;
  if (layer.mediaType === '') return 'gzip';
  throw invalid(`layer ${index} (${layer.digest}) has media type ${layer.mediaType}, which nsnet cannot unpack`, 'nsnet unpacks gzip-compressed and plain tar layers');
}

// ---------------------------------------------------------------------------------------------
// Platforms

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

const PLATFORM_SYNTAX = /^[a-z0-9_]+\/[a-z0-9_]+(?:\/[a-z0-9_.]+)?$/;

/** `--platform os/arch[/variant]` (linux/amd64, linux/arm64/v8, linux/arm/v7). */
export function parsePlatform(value: string): Platform {
  const v = value.trim().toLowerCase();
  if (!PLATFORM_SYNTAX.test(v)) throw invalid(`--platform ${JSON.stringify(value)}: not os/arch[/variant]`, 'e.g. --platform linux/amd64 or linux/arm64/v8');
  const [os = '', architecture = '', variant] = v.split('/');
  return { os, architecture: normaliseArch(architecture), ...(variant !== undefined ? { variant } : {}) };
}

/** Docker's aliases (containerd/platforms): x86_64 is amd64, aarch64 is arm64. */
function normaliseArch(arch: string): string {
  if (arch === 'x86_64' || arch === 'x86-64') return 'amd64';
  if (arch === 'aarch64') return 'arm64';
  return arch;
}

export const formatPlatform = (p: Platform): string => `${p.os}/${p.architecture}${p.variant !== undefined ? `/${p.variant}` : ''}`;

/** arm64's default variant is v8, so linux/arm64 and linux/arm64/v8 are one platform. */
const variantOf = (p: Platform): string | undefined => p.variant ?? (p.architecture === 'arm64' ? 'v8' : undefined);

/** Does an entry's platform satisfy the wanted one? A wanted platform without a variant takes any variant. */
export function platformMatches(have: Platform, want: Platform): boolean {
  if (have.os.toLowerCase() !== want.os || normaliseArch(have.architecture.toLowerCase()) !== want.architecture) return false;
  return want.variant === undefined || variantOf(have) === variantOf(want);
}

/**
 * The entry of a list for `want`: the first that matches exactly, else the first that matches
 * without a variant (a list that names none). Entries without a platform (attestations in an OCI
 * index) never match. None: an error listing what the list has.
 */
export function choosePlatform(list: ManifestList, want: Platform): Descriptor & { platform: Platform | undefined } {
  const found = list.manifests.find((m) => m.platform !== undefined && platformMatches(m.platform, want));
  if (found !== undefined) return found;
  const have = list.manifests.flatMap((m) => (m.platform === undefined || m.platform.os === 'unknown' ? [] : [formatPlatform(m.platform)]));
  throw new NsnetError('NOT_FOUND', `no image for platform ${formatPlatform(want)} in the manifest list (it has ${have.length === 0 ? 'no platforms' : have.join(', ')})`, {
    hint: have.length === 0 ? undefined : `choose one with --platform, e.g. --platform ${have[0]}`,
  });
}
