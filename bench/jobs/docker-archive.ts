/**
 * The busybox archive the Docker-API section loads into nsnet and into dockerd: the tests'
 * fixture (test/helpers/image-fixtures.ts, built from the host's /bin/busybox, no network), with
 * one change. The fixture's layer writes `bin/cat` as a hard link whose header says mode 0644;
 * dockerd, like GNU tar, applies a hard link header's mode to the inode it shares with
 * `bin/busybox`, which then is not executable (`exec: "sleep": executable file not found`).
 * `docker save` writes a hard link with its target's mode, so this copy does the same.
 */
import { busyboxSpec, dockerArchive } from '../../test/helpers/image-fixtures.js';

const BLOCK = 512;

const field = (h: Buffer, at: number, len: number): string => h.subarray(at, at + len).toString('latin1').replace(/\0.*$/s, '');

/** A ustar header's checksum: the sum of its bytes with the checksum field read as spaces. */
function writeChecksum(h: Buffer): void {
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
}

/** A copy of a tar whose hard links carry their target's mode, as `docker save` writes them. */
export function hardlinksWithTargetModes(tar: Buffer): Buffer {
  const out = Buffer.from(tar);
  const modes = new Map<string, string>();
  for (let at = 0; at + BLOCK <= out.length; ) {
    const h = out.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) break;
    const prefix = field(h, 345, 155);
    const name = (prefix === '' ? '' : `${prefix}/`) + field(h, 0, 100);
    const type = String.fromCharCode(h[156]!);
    const mode = field(h, 100, 8);
    if (type === '1') {
      const target = modes.get(field(h, 157, 100));
      if (target !== undefined && target !== mode) {
        h.write(target.padEnd(8, '\0'), 100, 8, 'latin1');
        writeChecksum(h);
      }
    } else modes.set(name, mode);
    const size = type === '0' || type === '\0' || type === 'x' ? parseInt(field(h, 124, 12).trim() || '0', 8) : 0;
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}

/** `docker save`'s form of busybox:latest, for `docker load -i` into either daemon. */
export function benchBusyboxArchive(): Buffer {
  const spec = busyboxSpec();
  return dockerArchive([{ ...spec, layers: spec.layers.map(hardlinksWithTargetModes) }]);
}
