/**
 * `nsnet image pull REF` as an operation: reference → manifest (a list narrowed to the platform)
 * → config → layers downloaded into a staging directory with their digests checked → handed to
 * the image store, which unpacks and records them all or nothing. A failure anywhere removes the
 * staging directory and records nothing, so a failed pull leaves no partial image.
 *
 * The store is reached through PullSink (src/image/pull-store.ts adapts the image store to it),
 * so the client side can be tested and reused by the API's POST /images/create.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NsnetError } from '../core/errors.js';
import type { Credentials } from './registry-auth.js';
import { choosePlatform, DEFAULT_PLATFORM, formatPlatform, layerCompression, platformMatches, type Descriptor, type ImageManifest, type Platform } from './registry-manifest.js';
import { registryCaFiles } from './registry-files.js';
import { CONFIG_LIMIT, RegistryClient, RegistryError, sha256, type FetchedManifest } from './registry.js';
import { formatRegistryRef, manifestReference, parseRegistryRef, type RegistryRef } from './registry-ref.js';

export interface PullOptions {
  /** os/arch[/variant] to choose from a manifest list; linux/amd64 by default. */
  platform?: Platform;
  /** Was the platform asked for (--platform)? Then a single-platform image of another one is refused. */
  platformExplicit?: boolean;
  insecureRegistries?: readonly string[];
  credentials?: Credentials;
  idleTimeoutMs?: number | undefined;
  /** Extra certificate authorities per registry host (default: Docker's /etc/docker/certs.d/HOST/*.crt). */
  registryCa?: (hostPort: string) => string[];
  /** Layers downloaded at once (Docker: 3). */
  concurrency?: number;
  /** The registry to pull from (default: a RegistryClient with the options above). */
  source?: (ref: RegistryRef) => RegistrySource;
  /** Progress, in Docker's words: {id: short layer digest, status: 'Pull complete'}, or a line without id. */
  onProgress?: (event: PullEvent) => void;
}

/** What a pull asks of a registry (RegistryClient; the unit tests give a fake). */
export type RegistrySource = Pick<RegistryClient, 'ref' | 'manifest' | 'blobBytes' | 'blobTo'>;

export interface PullEvent {
  id?: string;
  status: string;
}

export interface PulledLayer {
  /** Its place in the manifest, bottom first (the config's diff_ids[index] is its diff id). */
  index: number;
  /** The verified download. */
  path: string;
  compression: 'gzip' | 'tar';
  /** Its blob digest (compressed), from the manifest. */
  digest: string;
  size: number;
}

/** What a pull needs of the image store. */
export interface PullSink {
  /** A fresh directory for downloads, on the store's filesystem; removed by the pull. */
  makeStagingDir(): string;
  /** Is an image with this id (config digest) stored, layers and all? */
  hasImage(id: string): boolean;
  /** Which of the image's layers (by the config's diff ids, bottom first) are stored already: those are not downloaded. */
  storedLayers(diffIds: readonly string[]): boolean[];
  /**
   * Unpack the downloaded layers (each checked against the config's rootfs.diff_ids; the others
   * are stored already) and record the image with `refs`, all or nothing; returns the image id.
   */
  commit(config: Buffer, layers: readonly PulledLayer[], refs: readonly string[]): Promise<string>;
}

export interface PullResult {
  /** The normalised reference pulled: localhost:5000/busybox:latest. */
  ref: string;
  /** sha256 of the config. */
  id: string;
  /** The digest of the manifest (or list) the reference resolved to: NAME@DIGEST pins it. */
  digest: string;
  /** Was anything downloaded (false: the image was already stored, only its references were set). */
  downloaded: boolean;
  platform: string;
  layers: number;
}

/** Docker's layer store refuses deeper chains (maxLayerDepth); an overlay mount of more would not fit either. */
export const MAX_LAYERS = 125;

const short = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12);

interface ImageConfigFacts {
  os: string | undefined;
  architecture: string | undefined;
  variant: string | undefined;
  diffIds: string[];
}

function configFacts(bytes: Buffer, fail: (m: string) => Error): ImageConfigFacts {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw fail('the image config is not JSON');
  }
  const o = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  const rootfs = o['rootfs'] as { diff_ids?: unknown } | undefined;
  const diffIds = rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || !diffIds.every((d) => typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d))) throw fail('the image config has no rootfs.diff_ids list of sha256 digests');
  const str = (k: string): string | undefined => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
  return { os: str('os'), architecture: str('architecture'), variant: str('variant'), diffIds: diffIds as string[] };
}

/** The image manifest for the platform: the fetched one, or the list's entry fetched by digest. */
async function imageManifest(client: RegistrySource, top: FetchedManifest, platform: Platform): Promise<ImageManifest> {
  if (top.manifest.kind === 'manifest') return top.manifest;
  let entry: Descriptor;
  try {
    entry = choosePlatform(top.manifest, platform);
  } catch (err) {
    throw new RegistryError((err as NsnetError).code, client.ref, (err as Error).message, { hint: (err as NsnetError).hint });
  }
  const inner = await client.manifest(entry.digest);
  if (inner.manifest.kind !== 'manifest') throw new RegistryError('INVALID_VALUE', client.ref, `the manifest list's entry for ${formatPlatform(platform)} (${entry.digest}) is itself a list`);
  return inner.manifest;
}

/** Run `jobs` with at most `n` at once; the first failure is thrown once every started job has ended. */
async function limited<T>(items: readonly T[], n: number, job: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        await job(items[i]!, i);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  if (failure !== undefined) throw failure;
}

/** The store's failure as the pull's, naming the registry and repository. */
async function commitTo(sink: PullSink, ref: RegistryRef, config: Buffer, layers: readonly PulledLayer[], refs: readonly string[]): Promise<string> {
  try {
    return await sink.commit(config, layers, refs);
  } catch (err) {
    if (err instanceof NsnetError) throw new RegistryError(err.code, ref, `store the image: ${err.message}`, { hint: err.hint, cause: err });
    throw err;
  }
}

export async function pullImage(input: string, sink: PullSink, opts: PullOptions = {}): Promise<PullResult> {
  const ref: RegistryRef = parseRegistryRef(input);
  const platform = opts.platform ?? DEFAULT_PLATFORM;
  const emit = opts.onProgress ?? ((): void => {});
  const client: RegistrySource =
    opts.source?.(ref) ?? new RegistryClient(ref, { insecureRegistries: opts.insecureRegistries, credentials: opts.credentials, idleTimeoutMs: opts.idleTimeoutMs, registryCa: opts.registryCa ?? registryCaFiles });
  const fail = (m: string): RegistryError => new RegistryError('INVALID_VALUE', ref, m);

  const reference = manifestReference(ref);
  emit({ status: ref.digest !== undefined ? `${ref.digest}: Pulling from ${ref.repository}` : `${reference}: Pulling from ${ref.repository}` });
  const top = await client.manifest(reference);
  const manifest = await imageManifest(client, top, platform);
  if (manifest.layers.length > MAX_LAYERS) throw fail(`the image has ${manifest.layers.length} layers, more than the ${MAX_LAYERS} nsnet (as Docker's layer store) stacks`);
  manifest.layers.forEach((l, i) => layerCompression(l, i));
  const config = await client.blobBytes(manifest.config, CONFIG_LIMIT, 'config');
  const facts = configFacts(config, fail);
  if (facts.diffIds.length !== manifest.layers.length) {
    throw fail(`the manifest has ${manifest.layers.length} layers, its config's rootfs.diff_ids ${facts.diffIds.length}`);
  }
  const imagePlatform: Platform | undefined = facts.os !== undefined && facts.architecture !== undefined ? { os: facts.os, architecture: facts.architecture, ...(facts.variant !== undefined ? { variant: facts.variant } : {}) } : undefined;
  if (opts.platformExplicit === true && top.manifest.kind === 'manifest' && imagePlatform !== undefined && !platformMatches(imagePlatform, platform)) {
    throw new RegistryError('NOT_FOUND', ref, `the image is for ${formatPlatform(imagePlatform)}, not the requested ${formatPlatform(platform)}`);
  }

  const id = sha256(config);
  const named = formatRegistryRef({ ...ref, digest: undefined });
  const refs = [...(ref.tag !== undefined ? [named] : []), `${ref.registry}/${ref.repository}@${top.digest}`];
  const result = { ref: formatRegistryRef(ref), id, digest: top.digest, platform: formatPlatform(imagePlatform ?? platform), layers: manifest.layers.length };
  if (sink.hasImage(id)) {
    await commitTo(sink, ref, config, [], refs);
    emit({ status: `Digest: ${top.digest}` });
    emit({ status: `Status: Image is up to date for ${result.ref}` });
    return { ...result, downloaded: false };
  }

  const present = sink.storedLayers(facts.diffIds);
  const wanted = manifest.layers.map((layer, index) => ({ layer, index })).filter(({ index }) => present[index] !== true);
  for (const [i, l] of manifest.layers.entries()) if (present[i] === true) emit({ id: short(l.digest), status: 'Already exists' });
  const staging = sink.makeStagingDir();
  try {
    const pulled: PulledLayer[] = [];
    await limited(wanted, opts.concurrency ?? 3, async ({ layer, index }) => {
      emit({ id: short(layer.digest), status: 'Pulling fs layer' });
      const file = path.join(staging, `${index}-${layer.digest.replace(/^sha256:/, '')}`);
      await client.blobTo(layer, fs.createWriteStream(file, { flags: 'wx', mode: 0o600 }), `layer ${index}`);
      emit({ id: short(layer.digest), status: 'Download complete' });
      pulled.push({ index, path: file, compression: layerCompression(layer, index), digest: layer.digest, size: layer.size });
    });
    pulled.sort((a, b) => a.index - b.index);
    const stored = await commitTo(sink, ref, config, pulled, refs);
    if (stored !== id) throw new NsnetError('INTERNAL', `the image store recorded ${stored} for a config whose digest is ${id}`);
    for (const l of pulled) emit({ id: short(l.digest), status: 'Pull complete' });
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  emit({ status: `Digest: ${top.digest}` });
  emit({ status: `Status: Downloaded newer image for ${result.ref}` });
  return { ...result, downloaded: true };
}
