/**
 * The image store (issue 18): images loaded from archives (`nsnet image load`, the API's
 * /images/load) or pulled from a registry (src/image/registry.ts through putLayer/commitImage),
 * listed, tagged and removed as Docker does. Records live in the state database (store/images.ts),
 * layer files under ROOT/images (layer-store.ts). A load either commits every image of the
 * archive with all its layers and references or leaves nothing: staged layers are removed, no
 * record is written.
 */
import type { Readable } from 'node:stream';
import { NsnetError } from '../core/errors.js';
import { openStore, type Store, type StoredImage } from '../store/index.js';
import { ImageArchive, archiveFile } from './archive.js';
import { chainIds, hexOf, LayerFiles, sha256Digest, type LayerExpectation, type StagedLayer } from './layer-store.js';
import { familiarReference, isImageId, isImageIdPrefix, normaliseReference, parseReference } from './reference.js';

/** The image config JSON (Docker's and OCI's), the parts nsnet reads. */
export interface DockerImageConfig {
  architecture?: string;
  os?: string;
  created?: string;
  author?: string;
  config?: {
    Env?: string[];
    Cmd?: string[];
    Entrypoint?: string[];
    WorkingDir?: string;
    ExposedPorts?: Record<string, object>;
    Labels?: Record<string, string>;
    User?: string;
    [key: string]: unknown;
  };
  rootfs: { type: string; diff_ids: string[] };
  history?: unknown[];
  [key: string]: unknown;
}

export interface ImageRecord {
  /** sha256:<hex> of the config blob. */
  id: string;
  /** Familiar form, as Docker shows them: `busybox:latest`. */
  repoTags: string[];
  /** Familiar form: `busybox@sha256:...`. */
  repoDigests: string[];
  /** The config's created time (RFC 3339), else when it was loaded. */
  created: string;
  /** Bytes of its layers' files. */
  size: number;
  config: DockerImageConfig;
  /** Chain ids, bottom layer first. */
  chainIds: string[];
  /** When this nsnet loaded it. */
  loaded: string;
}

export interface LoadedImage extends ImageRecord {
  /** The references this load set (familiar form); empty for an image the archive does not name. */
  loadedRefs: string[];
  /** References this load moved away from another image (Docker prints a line for each). */
  moved: { ref: string; from: string }[];
}

/** One line of Docker's rmi answer. */
export type RemoveEvent = { Untagged: string } | { Deleted: string };

export interface PutLayerInput extends LayerExpectation {
  /** Chain id of the layer below (null for the bottom one). */
  parent: string | null;
}

const shortId = (id: string): string => hexOf(id).slice(0, 12);

function noSuchImage(ref: string): NsnetError {
  return new NsnetError('NOT_FOUND', `No such image: ${ref}`, { hint: 'nsnet image ls lists the images; nsnet image load -i FILE adds one' });
}

/** Layers extracted and checked but not yet committed (one load, or one pull through putLayer). */
class Pending {
  readonly staged = new Map<string, StagedLayer>();

  constructor(private readonly files: LayerFiles) {}

  discard(): void {
    for (const s of this.staged.values()) this.files.discard(s);
    this.staged.clear();
  }
}

export class ImageStore {
  readonly files: LayerFiles;
  private readonly pending: Pending;

  constructor(
    readonly root: string,
    private readonly store: Store,
    private readonly ownsStore: boolean,
  ) {
    this.files = new LayerFiles(root);
    this.pending = new Pending(this.files);
  }

  /** The image a reference or (short) id names, or undefined. */
  find(ref: string): ImageRecord | undefined {
    const id = this.findId(ref);
    const stored = id === undefined ? undefined : this.store.images.get(id);
    return stored === undefined ? undefined : recordOf(stored);
  }

  /** As find, but a missing image is Docker's error: `No such image: REF` (NOT_FOUND). */
  resolve(ref: string): ImageRecord {
    const found = this.find(ref);
    if (found === undefined) throw noSuchImage(ref);
    return found;
  }

  /** Newest loaded first. */
  list(): ImageRecord[] {
    return this.store.images.list().map(recordOf);
  }

  private findId(ref: string): string | undefined {
    if (isImageId(ref)) return this.store.images.get(ref)?.id;
    let normalised: string | undefined;
    try {
      normalised = normaliseReference(ref);
    } catch {
      normalised = undefined;
    }
    const byRef = normalised === undefined ? undefined : this.store.images.idByRef(normalised);
    if (byRef !== undefined || !isImageIdPrefix(ref)) return byRef;
    const ids = this.store.images.idsByPrefix(hexOf(ref));
    if (ids.length > 1) throw new NsnetError('INVALID_VALUE', `image id prefix ${ref} is ambiguous: it starts ${ids.length} images`, { hint: 'give more digits of the id' });
    return ids[0];
  }

  /** Layer directories of an image, top-most first (overlayfs's lowerdir order). */
  layerDirs(image: ImageRecord | string): string[] {
    const img = typeof image === 'string' ? this.resolve(image) : image;
    return [...img.chainIds].reverse().map((c) => this.files.layerDir(c));
  }

  layerExists(chainId: string): boolean {
    return this.store.images.layer(chainId) !== undefined || this.pending.staged.has(chainId);
  }

  /**
   * Loads every image of a `docker save` or OCI layout archive (a path, or a stream such as
   * stdin; gzip'd or not). All or nothing: on any failure no layer, image or reference is left.
   */
  async load(input: string | Readable): Promise<LoadedImage[]> {
    this.files.removeStale();
    const spool = this.files.stagingDir('load');
    const pending = new Pending(this.files);
    try {
      const { file, name } = await archiveFile(input, spool);
      const archive = await ImageArchive.open(file, name);
      const images = archive.images();
      for (const img of images) {
        const chain = chainIds(img.layers.map((l) => l.diffId));
        const name = img.refs[0] !== undefined ? familiarReference(img.refs[0]) : shortId(img.id);
        for (const [i, layer] of img.layers.entries()) {
          const chainId = chain[i]!;
          if (this.store.images.layer(chainId) !== undefined || pending.staged.has(chainId)) continue;
          const label = `${i + 1}/${img.layers.length} of ${name} (${layer.diffId.slice(0, 19)})`;
          const staged = await this.files.stage(archive.stream(layer.member), layer, i === 0 ? null : chain[i - 1]!, label);
          pending.staged.set(chainId, staged);
        }
      }
      return this.commit(pending, images.map((img) => ({ config: img.config, refs: img.refs })));
    } finally {
      pending.discard();
      this.files.discard({ dir: spool } as StagedLayer);
    }
  }

  /**
   * For the registry client: extracts and checks one layer (its stream as the registry sends it,
   * gzip'd or not) and keeps it staged until commitImage; abort() drops what is staged.
   */
  async putLayer(source: Readable, input: PutLayerInput, label = input.diffId.slice(0, 19)): Promise<string> {
    const chainId = input.parent === null ? input.diffId : sha256Digest(`${input.parent} ${input.diffId}`);
    if (this.layerExists(chainId)) {
      source.destroy();
      return chainId;
    }
    const staged = await this.files.stage(source, input, input.parent, label);
    this.pending.staged.set(chainId, staged);
    return chainId;
  }

  /** Records an image whose layers exist or were put (putLayer), with its references; installs the staged layers. */
  commitImage(config: Buffer, diffIds: readonly string[], refs: readonly string[]): LoadedImage {
    const parsed = parseConfig(config, 'image config');
    if (parsed.rootfs.diff_ids.join() !== diffIds.join()) {
      throw new NsnetError('INVALID_VALUE', `image config lists layers ${parsed.rootfs.diff_ids.join(', ')}, not the ${diffIds.join(', ')} given`);
    }
    try {
      return this.commit(this.pending, [{ config, refs: refs.map((r) => normaliseReference(r)) }])[0]!;
    } finally {
      this.pending.discard();
    }
  }

  /** Drops the layers putLayer staged (a failed pull). */
  abort(): void {
    this.pending.discard();
  }

  private commit(pending: Pending, images: readonly { config: Buffer; refs: readonly string[] }[]): LoadedImage[] {
    const lock = this.files.lock();
    const installed: string[] = [];
    try {
      // Under the lock no other load is between installing a layer and recording it, so a layer
      // directory without a record is what a crash left there: removed.
      const recorded = new Set(this.store.images.layers().map((l) => l.chainId));
      for (const orphan of this.files.orphans(recorded)) this.files.removeLayer(orphan);
      const now = new Date().toISOString();
      const plans = images.map((img) => {
        const config = parseConfig(img.config, `config ${sha256Digest(img.config)}`);
        return { raw: img.config, refs: img.refs, id: sha256Digest(img.config), config, chain: chainIds(config.rootfs.diff_ids) };
      });
      for (const p of plans) {
        for (const chainId of p.chain) {
          if (this.store.images.layer(chainId) === undefined && !pending.staged.has(chainId)) {
            throw new NsnetError('STATE', `layer ${chainId} of image ${p.id} is neither stored nor loaded (removed meanwhile?)`, { hint: 'load the image again' });
          }
        }
      }
      const toInstall = [...pending.staged.values()].filter((s) => this.store.images.layer(s.chainId) === undefined && plans.some((p) => p.chain.includes(s.chainId)));
      for (const s of toInstall) {
        this.files.install(s);
        installed.push(s.chainId);
      }
      const result = this.store.tx(() => {
        for (const s of toInstall) this.store.images.insertLayer({ chainId: s.chainId, diffId: s.diffId, parent: s.parent, size: s.size, created: now });
        return plans.map((p) => {
          const size = p.chain.reduce((sum, c) => sum + (this.store.images.layer(c)?.size ?? 0), 0);
          const created = typeof p.config.created === 'string' ? p.config.created : null;
          this.store.images.insertImage({ id: p.id, config: p.raw, created, size, loaded: now, chainIds: p.chain });
          const moved: LoadedImage['moved'] = [];
          for (const ref of p.refs) {
            const from = this.store.images.setRef(ref, p.id, now);
            if (from !== undefined) moved.push({ ref: familiarReference(ref), from });
          }
          return { ...recordOf(this.store.images.get(p.id)!), loadedRefs: p.refs.map((r) => familiarReference(r)), moved };
        });
      });
      installed.length = 0;
      return result;
    } finally {
      for (const chainId of installed) this.files.removeLayer(chainId);
      lock.release();
    }
  }

  /** Points newRef at the image ref names (Docker's tag: a tag moves; the image it left stays). */
  tag(ref: string, newRef: string): void {
    const target = parseReference(newRef);
    if (target.digest !== undefined) throw new NsnetError('INVALID_VALUE', `refusing to create a tag with a digest reference: ${newRef}`, { hint: 'give NAME[:TAG]' });
    const img = this.resolve(ref);
    const lock = this.files.lock();
    try {
      this.store.tx(() => this.store.images.setRef(normaliseReference(newRef), img.id, new Date().toISOString()));
    } finally {
      lock.release();
    }
  }

  /**
   * Docker's rmi: a reference is untagged, and the image deleted with its last reference; an id
   * deletes the image (an image with several references only with force). An image a container
   * uses is refused (a running one even with force); with force and stopped containers only its
   * references go: the image stays, dangling, while a container needs its layers.
   */
  remove(ref: string, opts: { force?: boolean } = {}): RemoveEvent[] {
    const force = opts.force === true;
    const lock = this.files.lock();
    let unusedLayers: string[] = [];
    try {
      const events = this.store.tx(() => {
        const img = this.resolve(ref);
        const stored = this.store.images.get(img.id)!;
        const byId = !stored.refs.includes(tryNormalise(ref) ?? '');
        const users = this.store.images.usedBy(img.id);
        const running = users.find((u) => u.status === 'running');
        const out: RemoveEvent[] = [];
        if (!byId) {
          const untagged = untagRefs(stored.refs, tryNormalise(ref)!);
          const remaining = stored.refs.filter((r) => !untagged.includes(r));
          if (remaining.length > 0) {
            if (users.length > 0 && !force && isSingleReference(stored.refs)) throw usedByContainer(ref, img.id, users[0]!);
            for (const r of untagged) this.store.images.deleteRef(r);
            return untagged.map((r) => ({ Untagged: familiarReference(r) }));
          }
        }
        if (byId && stored.refs.length > 1 && !force) {
          throw new NsnetError('IN_USE', `conflict: unable to delete ${shortId(img.id)} (must be forced) - image is referenced in multiple repositories`, { hint: 'use -f, or remove the references one by one' });
        }
        if (running !== undefined) {
          throw new NsnetError('IN_USE', `conflict: unable to delete ${byId ? shortId(img.id) : ref} (cannot be forced) - image is being used by running container ${shortId(running.id)}`, { hint: `stop and remove container ${running.name} first` });
        }
        if (users.length > 0 && !force) {
          if (!byId) throw usedByContainer(ref, img.id, users[0]!);
          const message = `conflict: unable to delete ${shortId(img.id)} (must be forced) - image is being used by stopped container ${shortId(users[0]!.id)}`;
          throw new NsnetError('IN_USE', message, { hint: `remove container ${users[0]!.name} first, or use -f` });
        }
        for (const r of stored.refs) {
          this.store.images.deleteRef(r);
          out.push({ Untagged: familiarReference(r) });
        }
        if (users.length > 0) return out; // forced: the containers keep the image's layers
        unusedLayers = this.store.images.delete(img.id);
        out.push({ Deleted: img.id });
        for (const c of [...unusedLayers].reverse()) out.push({ Deleted: c });
        return out;
      });
      for (const c of unusedLayers) this.files.removeLayer(c);
      return events;
    } finally {
      lock.release();
    }
  }

  /**
   * Docker's image prune: removes the images no container uses that have no reference (with all,
   * every image no container uses). Returns the rmi events and the bytes of the layers deleted.
   */
  prune(opts: { all?: boolean } = {}): { events: RemoveEvent[]; reclaimed: number } {
    const sizes = new Map(this.store.images.layers().map((l) => [l.chainId, l.size]));
    const events: RemoveEvent[] = [];
    for (const img of this.list()) {
      if (opts.all !== true && img.repoTags.length + img.repoDigests.length > 0) continue;
      if (this.store.images.usedBy(img.id).length > 0) continue;
      events.push(...this.remove(img.id, { force: true }));
    }
    const reclaimed = events.reduce((sum, e) => sum + ('Deleted' in e ? (sizes.get(e.Deleted) ?? 0) : 0), 0);
    return { events, reclaimed };
  }

  close(): void {
    this.pending.discard();
    if (this.ownsStore) this.store.close();
  }
}

/** The image store under a state root; with a Store given (an operation's Context) it uses that one. */
export function openImageStore(root: string, opts: { store?: Store } = {}): ImageStore {
  return opts.store !== undefined ? new ImageStore(root, opts.store, false) : new ImageStore(root, openStore(root), true);
}

function tryNormalise(ref: string): string | undefined {
  try {
    return normaliseReference(ref);
  } catch {
    return undefined;
  }
}

export function parseConfig(config: Buffer, what: string): DockerImageConfig {
  let parsed: DockerImageConfig;
  try {
    parsed = JSON.parse(config.toString('utf8')) as DockerImageConfig;
  } catch (err) {
    throw new NsnetError('INVALID_VALUE', `${what} is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed?.rootfs?.diff_ids)) throw new NsnetError('INVALID_VALUE', `${what} has no rootfs.diff_ids`);
  return parsed;
}

export function recordOf(s: StoredImage): ImageRecord {
  const config = parseConfig(s.config, `config of image ${s.id}`);
  return {
    id: s.id,
    repoTags: s.refs.filter((r) => !r.includes('@')).map(familiarReference),
    repoDigests: s.refs.filter((r) => r.includes('@')).map(familiarReference),
    created: typeof config.created === 'string' ? config.created : s.loaded,
    size: s.size,
    config,
    chainIds: s.chainIds,
    loaded: s.loaded,
  };
}

/** A reference's repository: `localhost:5000/busybox` of `localhost:5000/busybox:latest` and of `...@sha256:...`. */
const repositoryOf = (normalised: string): string => {
  const r = parseReference(normalised);
  return `${r.domain}/${r.path}`;
};
const isDigestRef = (normalised: string): boolean => normalised.includes('@');

/**
 * The references `rmi REF` removes (dockerd's image_delete.go): REF itself and, when REF was its
 * repository's last tag, that repository's digest references too (a pull's NAME@sha256:...) —
 * otherwise an image pulled by tag would outlive the removal of its only tag.
 */
export function untagRefs(refs: readonly string[], ref: string): string[] {
  if (isDigestRef(ref)) return [ref];
  const repo = repositoryOf(ref);
  const otherTag = refs.some((r) => r !== ref && !isDigestRef(r) && repositoryOf(r) === repo);
  return otherTag ? [ref] : [ref, ...refs.filter((r) => isDigestRef(r) && repositoryOf(r) === repo)];
}

/** dockerd's isSingleReference: every reference in one repository, with at most one tag. */
function isSingleReference(refs: readonly string[]): boolean {
  return new Set(refs.map(repositoryOf)).size <= 1 && refs.filter((r) => !isDigestRef(r)).length <= 1;
}

/** Docker's refusal to untag the reference a stopped container's image is known by. */
function usedByContainer(ref: string, imageId: string, user: { id: string; name: string }): NsnetError {
  return new NsnetError('IN_USE', `conflict: unable to remove repository reference "${ref}" (must force) - container ${shortId(user.id)} is using its referenced image ${shortId(imageId)}`, {
    hint: `remove container ${user.name} first, or use -f`,
  });
}
