/**
 * Image records (issue 18): images (their config blob), the layers they are made of (stored once,
 * keyed by chain id, refcounted by image_layers) and the references that name them. The files of a
 * layer live under ROOT/images/layers/<chain id hex> (src/image/); this module keeps only the rows.
 */
import type Database from 'better-sqlite3';

export interface LayerRecord {
  /** sha256:<hex> over the parent's chain id and this layer's diff id (Docker's layer store key). */
  chainId: string;
  /** sha256:<hex> of the uncompressed layer tar (the config's rootfs.diff_ids entry). */
  diffId: string;
  /** Chain id of the layer below, null for the bottom one. */
  parent: string | null;
  /** Bytes of the extracted files. */
  size: number;
  created: string;
}

export interface StoredImage {
  /** sha256:<hex> of the config blob. */
  id: string;
  /** The config blob as loaded (its digest is the id, so it is kept byte for byte). */
  config: Buffer;
  /** The config's "created", when it has one. */
  created: string | null;
  /** Bytes of all its layers' files. */
  size: number;
  /** When this nsnet loaded it. */
  loaded: string;
  /** Chain ids, bottom layer first. */
  chainIds: string[];
  /** Normalised references naming it (`docker.io/library/busybox:latest`, `NAME@sha256:...`), oldest first. */
  refs: string[];
}

export interface ImageUser {
  id: string;
  name: string;
  status: string;
}

interface ImageRow {
  id: string;
  config: Buffer;
  created: string | null;
  size: number;
  loaded: string;
}

interface LayerRow {
  chain_id: string;
  diff_id: string;
  parent: string | null;
  size: number;
  created: string;
}

export class Images {
  constructor(private readonly db: Database.Database) {}

  get(id: string): StoredImage | undefined {
    const row = this.db.prepare('SELECT * FROM images WHERE id = ?').get(id) as ImageRow | undefined;
    return row === undefined ? undefined : this.withParts(row);
  }

  /** Newest loaded first, as `docker images` lists them. */
  list(): StoredImage[] {
    const rows = this.db.prepare('SELECT * FROM images ORDER BY loaded DESC, rowid DESC').all() as ImageRow[];
    return rows.map((r) => this.withParts(r));
  }

  /** The image a normalised reference names. */
  idByRef(ref: string): string | undefined {
    const row = this.db.prepare('SELECT image_id FROM image_refs WHERE ref = ?').get(ref) as { image_id: string } | undefined;
    return row?.image_id;
  }

  /** Ids starting with `sha256:<prefix>` (a short id as `docker images` prints it). */
  idsByPrefix(hexPrefix: string): string[] {
    const rows = this.db.prepare("SELECT id FROM images WHERE substr(id, 8, ?) = ? AND id LIKE 'sha256:%'").all(hexPrefix.length, hexPrefix) as { id: string }[];
    return rows.map((r) => r.id);
  }

  layer(chainId: string): LayerRecord | undefined {
    const row = this.db.prepare('SELECT * FROM layers WHERE chain_id = ?').get(chainId) as LayerRow | undefined;
    return row === undefined ? undefined : layerOf(row);
  }

  layers(): LayerRecord[] {
    return (this.db.prepare('SELECT * FROM layers').all() as LayerRow[]).map(layerOf);
  }

  /** Records a layer whose files are in place; an existing record of the same chain id is kept. */
  insertLayer(layer: LayerRecord): void {
    this.db
      .prepare('INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size, created) VALUES (?, ?, ?, ?, ?)')
      .run(layer.chainId, layer.diffId, layer.parent, layer.size, layer.created);
  }

  /** Records an image over layers already recorded (insertLayer); an existing image is kept as it is. */
  insertImage(img: Omit<StoredImage, 'refs'>): void {
    const inserted = this.db
      .prepare('INSERT OR IGNORE INTO images (id, config, created, size, loaded) VALUES (?, ?, ?, ?, ?)')
      .run(img.id, img.config, img.created, img.size, img.loaded);
    if (inserted.changes === 0) return;
    const layer = this.db.prepare('INSERT INTO image_layers (image_id, position, chain_id) VALUES (?, ?, ?)');
    img.chainIds.forEach((chainId, position) => layer.run(img.id, position, chainId));
  }

  /** Points ref at an image (a tag moves, as in Docker); returns the image it named before, if another. */
  setRef(ref: string, imageId: string, created: string): string | undefined {
    const before = this.idByRef(ref);
    this.db
      .prepare('INSERT INTO image_refs (ref, image_id, created) VALUES (?, ?, ?) ON CONFLICT (ref) DO UPDATE SET image_id = excluded.image_id, created = excluded.created')
      .run(ref, imageId, created);
    return before !== undefined && before !== imageId ? before : undefined;
  }

  deleteRef(ref: string): boolean {
    return this.db.prepare('DELETE FROM image_refs WHERE ref = ?').run(ref).changes > 0;
  }

  /**
   * Deletes an image (its refs and layer links go with it) and the layer records no other image
   * uses; returns those layers' chain ids, whose files the caller removes.
   */
  delete(id: string): string[] {
    const chainIds = (this.db.prepare('SELECT chain_id FROM image_layers WHERE image_id = ?').all(id) as { chain_id: string }[]).map((r) => r.chain_id);
    this.db.prepare('DELETE FROM images WHERE id = ?').run(id);
    const unused: string[] = [];
    for (const chainId of new Set(chainIds)) {
      const used = this.db.prepare('SELECT 1 FROM image_layers WHERE chain_id = ? LIMIT 1').get(chainId);
      if (used !== undefined) continue;
      this.db.prepare('DELETE FROM layers WHERE chain_id = ?').run(chainId);
      unused.push(chainId);
    }
    return unused;
  }

  /** Containers made from the image (containers.image_id). */
  usedBy(imageId: string): ImageUser[] {
    return this.db.prepare('SELECT id, name, status FROM containers WHERE image_id = ? ORDER BY created, rowid').all(imageId) as ImageUser[];
  }

  private withParts(row: ImageRow): StoredImage {
    const chainIds = (this.db.prepare('SELECT chain_id FROM image_layers WHERE image_id = ? ORDER BY position').all(row.id) as { chain_id: string }[]).map((r) => r.chain_id);
    const refs = (this.db.prepare('SELECT ref FROM image_refs WHERE image_id = ? ORDER BY created, rowid').all(row.id) as { ref: string }[]).map((r) => r.ref);
    return { id: row.id, config: Buffer.from(row.config), created: row.created, size: row.size, loaded: row.loaded, chainIds, refs };
  }
}

function layerOf(r: LayerRow): LayerRecord {
  return { chainId: r.chain_id, diffId: r.diff_id, parent: r.parent, size: r.size, created: r.created };
}
