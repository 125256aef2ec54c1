/**
 * Safe layer extraction decided without touching the disk: a recording LayerWriter shows what
 * extraction would do for the fixture layers (whiteouts in overlayfs's form, metadata, links) and
 * that every hostile layer is refused, naming its member, before any operation lands outside
 * the layer's directory. (test/integration/image-store.test.ts does the same on the real disk.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NsnetError } from '../../src/core/errors.js';
import { extractLayer, type LayerWriter } from '../../src/image/extract.js';
import { ChunkReader } from '../../src/image/tar-read.js';
import { tarArchive, type TarEntry } from '../../src/image/tar-write.js';
import { busyboxLayer, hostileLayers, overlayLayer } from '../helpers/image-fixtures.js';

const DEST = '/layer';

function recorder(): { ops: string[]; writer: LayerWriter } {
  const ops: string[] = [];
  const rel = (file: string): string => {
    assert.ok(file === DEST || file.startsWith(`${DEST}/`), `an operation outside the layer: ${file}`);
    return file.slice(DEST.length + 1) || '.';
  };
  const writer: LayerWriter = {
    mkdir: (f) => void ops.push(`mkdir ${rel(f)}`),
    async writeFile(f, body) {
      let n = 0;
      for await (const p of body) n += p.length;
      ops.push(`write ${rel(f)} ${n}`);
    },
    symlink: (t, f) => void ops.push(`symlink ${rel(f)} -> ${t}`),
    link: (e, f) => void ops.push(`link ${rel(f)} = ${rel(e)}`),
    mknod: (f, kind, major, minor) => void ops.push(`mknod ${rel(f)} ${kind} ${major}:${minor}`),
    setxattr: (f, name, value) => void ops.push(`setxattr ${rel(f)} ${name}=${value.toString()}`),
    remove: (f) => void ops.push(`remove ${rel(f)}`),
    chown: (f, u, g) => void ops.push(`chown ${rel(f)} ${u}:${g}`),
    chmod: (f, m) => void ops.push(`chmod ${rel(f)} ${m.toString(8)}`),
    utimes: (f, t) => void ops.push(`utimes ${rel(f)} ${t}`),
  };
  return { ops, writer };
}

async function extract(tar: Buffer): Promise<string[]> {
  const { ops, writer } = recorder();
  await extractLayer(new ChunkReader((async function* () { yield tar; })()), DEST, 'L', writer);
  return ops;
}

describe('layer extraction', () => {
  test('AUFS whiteouts become overlayfs\'s: .wh.NAME a char device 0:0, .wh..wh..opq the opaque xattr', async () => {
    const ops = await extract(overlayLayer());
    assert.ok(ops.includes('mknod etc/motd char 0:0'), ops.join('\n'));
    assert.ok(ops.includes('setxattr opt/old trusted.overlay.opaque=y'));
    assert.ok(!ops.some((o) => o.includes('.wh.')), 'no .wh. name reaches the disk');
    assert.ok(ops.includes('write opt/old/b 24'));
  });

  test('a whiteout replaces a name made earlier in the same layer; other AUFS metadata is skipped', async () => {
    const ops = await extract(
      tarArchive([
        { name: 'd', type: 'dir' },
        { name: 'd/x', type: 'file', data: 'x' },
        { name: 'd/.wh.x', type: 'file' },
        { name: '.wh..wh.plnk', type: 'dir' },
        { name: '.wh..wh.plnk/123', type: 'file' },
      ]),
    );
    const at = ops.indexOf('remove d/x');
    assert.ok(at > 0 && ops[at + 1] === 'mknod d/x char 0:0', ops.join('\n'));
    assert.ok(!ops.some((o) => o.includes('plnk')));
  });

  test('the busybox layer: metadata after content, chmod after chown, directory times last', async () => {
    const ops = await extract(busyboxLayer());
    assert.ok(ops.includes('symlink bin/sh -> busybox'));
    assert.ok(ops.includes('link bin/cat = bin/busybox'));
    const file = ops.filter((o) => o.includes(' home/nobody-file'));
    assert.deepEqual(file, ['write home/nobody-file 16', 'chown home/nobody-file 65534:65534', 'chmod home/nobody-file 640', 'utimes home/nobody-file 1700000000']);
    assert.ok(ops.includes('chmod tmp 1777'));
    const lastWrite = Math.max(...ops.map((o, i) => (o.startsWith('write') ? i : -1)));
    assert.ok(ops.indexOf('utimes etc 1700000000') > lastWrite, 'directory times set after the files in them');
  });

  test('xattrs from a layer: file capabilities and user.* only, never overlayfs\'s trusted.*', async () => {
    const entry = (name: string, key: string): TarEntry => ({ name, type: 'file', data: '', pax: { [`SCHILY.xattr.${key}`]: 'v' } });
    const ops = await extract(tarArchive([entry('a', 'security.capability'), entry('b', 'user.note'), entry('c', 'trusted.overlay.opaque'), entry('d', 'trusted.overlay.redirect'), entry('e', 'security.selinux')]));
    assert.deepEqual(ops.filter((o) => o.startsWith('setxattr')), ['setxattr a security.capability=v', 'setxattr b user.note=v']);
  });

  for (const [name, { layer, member }] of Object.entries(hostileLayers())) {
    test(`hostile layer ${name}: refused naming member "${member}", nothing done outside the layer`, async () => {
      const { ops, writer } = recorder();
      await assert.rejects(extractLayer(new ChunkReader((async function* () { yield layer; })()), DEST, 'L', writer), (err: NsnetError) => {
        assert.equal(err.code, 'INVALID_VALUE');
        assert.ok(err.message.startsWith(`layer L: member "${member}": `), err.message);
        return true;
      });
      // The recorder asserts on every operation that it stays under DEST; also, nothing was written.
      assert.ok(!ops.some((o) => o.startsWith('write') || o.startsWith('link')), ops.join('\n'));
    });
  }

  test('a hard link may only name a file extracted before it in the same layer', async () => {
    await assert.rejects(extract(tarArchive([{ name: 'l', type: 'hardlink', linkname: 'later' }, { name: 'later', type: 'file', data: 'x' }])), /member "l": hard link to "later", which is not a file extracted before it/);
    await assert.rejects(extract(tarArchive([{ name: 'd', type: 'dir' }, { name: 'l', type: 'hardlink', linkname: 'd' }])), /which is not a file/);
  });

  test('a path through a file is refused; a symlink whose link is a hard link stays a symlink', async () => {
    await assert.rejects(extract(tarArchive([{ name: 'f', type: 'file', data: 'x' }, { name: 'f/g', type: 'file', data: 'y' }])), /member "f\/g": path goes through "f", which is not a directory/);
    await assert.rejects(
      extract(tarArchive([{ name: 's', type: 'symlink', linkname: '/etc' }, { name: 'h', type: 'hardlink', linkname: 's' }, { name: 'h/passwd', type: 'file', data: 'x' }])),
      /member "h\/passwd": path goes through the symlink "h"/,
    );
  });
});
