/**
 * The image store (src/image/images.ts) as a pull's PullSink: verified downloads are handed to
 * putLayer (which unpacks them and checks the diff ids) and the image is recorded by commitImage,
 * or abort() drops every staged layer, so a failed pull leaves no layer, image or reference.
 */
import fs from 'node:fs';
import { NsnetError } from '../core/errors.js';
import type { ImageStore } from './images.js';
import { chainIds } from './layer-store.js';
import type { PullSink } from './pull.js';

function diffIdsOf(config: Buffer): string[] {
  return (JSON.parse(config.toString('utf8')) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
}

export function pullSinkOf(images: ImageStore): PullSink {
  return {
    makeStagingDir: () => {
      // What a pull or load killed half-way left (its process is gone) goes first.
      images.files.removeStale();
      return images.files.stagingDir('pull');
    },
    hasImage: (id) => images.find(id) !== undefined,
    storedLayers: (diffIds) => chainIds(diffIds).map((c) => images.layerExists(c)),
    commit: async (config, layers, refs) => {
      const diffIds = diffIdsOf(config);
      const chain = chainIds(diffIds);
      try {
        for (const layer of layers) {
          const i = layer.index;
          const diffId = diffIds[i];
          if (diffId === undefined) throw new NsnetError('INVALID_VALUE', `layer ${i} has no diff id in the image config`);
          await images.putLayer(fs.createReadStream(layer.path), { diffId, compressedDigest: layer.digest, parent: i === 0 ? null : chain[i - 1]! }, `${i + 1}/${diffIds.length} (${layer.digest.slice(0, 19)})`);
        }
        return images.commitImage(config, diffIds, refs).id;
      } catch (err) {
        images.abort();
        throw err;
      }
    },
  };
}
