/**
 * The pure parts of image loading: the tar reader against the writer (and against GNU tar's
 * output), the member-name and symlink rules of safe extraction, chain ids, archive parsing
 * refusals, and `nsnet image ls`' rows.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { humanSize, imageRows, parseImageFilters } from '../../src/cli/commands/image.js';
import { memberPath, symlinkStaysInside } from '../../src/image/extract.js';
import { ImageArchive } from '../../src/image/archive.js';
import type { ImageRecord } from '../../src/image/images.js';
import { chainIds, sha256Digest } from '../../src/image/layer-store.js';
import { ChunkReader, readTar, type TarHeader } from '../../src/image/tar-read.js';
import { tarArchive } from '../../src/image/tar-write.js';
import { busyboxSpec, dockerArchive, layeredSpec, ociArchive, wrongDigestArchive } from '../helpers/image-fixtures.js';

async function entries(tar: Buffer, chunk = 7): Promise<{ h: TarHeader; data: string }[]> {
  const pieces = (function* () {
    for (let i = 0; i < tar.length; i += chunk) yield tar.subarray(i, i + chunk);
  })();
  const out: { h: TarHeader; data: string }[] = [];
  await readTar(new ChunkReader((async function* () { yield* pieces; })()), 'test', async (h, body) => {
    const parts: Buffer[] = [];
    for await (const p of body) parts.push(p);
    out.push({ h, data: Buffer.concat(parts).toString() });
  });
  return out;
}

describe('tar reader', () => {
  test('reads what the writer wrote, in odd-sized chunks, long names and xattrs included', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(120)}`;
    const tar = tarArchive([
      { name: 'dir', type: 'dir', mode: 0o1777, mtime: 1_000 },
      { name: 'dir/file', type: 'file', data: 'hello', mode: 0o4755, uid: 1000, gid: 100, mtime: 2_000 },
      { name: long, type: 'file', data: 'x'.repeat(1000) },
      { name: 'link', type: 'symlink', linkname: 'l'.repeat(150) },
      { name: 'hard', type: 'hardlink', linkname: 'dir/file' },
      { name: 'null', type: 'char', devmajor: 1, devminor: 3 },
      { name: 'cap', type: 'file', data: '', pax: { 'SCHILY.xattr.security.capability': '\u0001\u0002' } },
    ]);
    const got = await entries(tar);
    assert.deepEqual(got.map((e) => [e.h.name, e.h.type]), [['dir/', 'dir'], ['dir/file', 'file'], [long, 'file'], ['link', 'symlink'], ['hard', 'hardlink'], ['null', 'char'], ['cap', 'file']]);
    assert.equal(got[0]!.h.mode, 0o1777);
    assert.deepEqual([got[1]!.h.mode, got[1]!.h.uid, got[1]!.h.gid, got[1]!.h.mtime, got[1]!.data], [0o4755, 1000, 100, 2_000, 'hello']);
    assert.equal(got[2]!.data.length, 1000);
    assert.equal(got[3]!.h.linkname, 'l'.repeat(150));
    assert.deepEqual([got[5]!.h.devmajor, got[5]!.h.devminor], [1, 3]);
    assert.deepEqual([...got[6]!.h.xattrs.get('security.capability')!], [1, 2]);
  });

  test('reads GNU tar\'s own output (GNU long names, its headers)', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-tar-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const long = 'n'.repeat(130);
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'src', long), 'long');
    fs.symlinkSync('target', path.join(dir, 'src', 'sym'));
    for (const format of ['gnu', 'posix']) {
      const r = spawnSync('tar', ['-C', path.join(dir, 'src'), `--format=${format}`, '-cf', '-', '.'], { maxBuffer: 1 << 24 });
      assert.equal(r.status, 0, String(r.stderr));
      const got = await entries(r.stdout, 512);
      assert.deepEqual(got.map((e) => e.h.name).sort(), ['./', `./${long}`, './sym'], format);
      assert.equal(got.find((e) => e.h.name === `./${long}`)!.data, 'long');
    }
  });

  test('a damaged header is refused, not guessed at', async () => {
    const tar = tarArchive([{ name: 'a', type: 'file', data: 'x' }]);
    tar[10] = 0x41;
    await assert.rejects(entries(tar), /bad tar header checksum at offset 0/);
    const sparse = tarArchive([{ name: 'a', type: 'file', data: 'x' }]);
    sparse[156] = 'S'.charCodeAt(0);
    fixChecksum(sparse);
    await assert.rejects(entries(sparse), /member "a" is a sparse file, which nsnet does not extract/);
    const cut = tarArchive([{ name: 'a', type: 'file', data: 'x'.repeat(2000) }]).subarray(0, 1024);
    await assert.rejects(entries(cut), /truncated archive/);
  });
});

function fixChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += block[i]!;
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'latin1');
}

describe('member names and links', () => {
  test('relative names are their components; absolute and .. are refused naming the member', () => {
    assert.deepEqual(memberPath('./bin/sh', 'L'), ['bin', 'sh']);
    assert.deepEqual(memberPath('bin//./sh', 'L'), ['bin', 'sh']);
    assert.deepEqual(memberPath('./', 'L'), []);
    assert.throws(() => memberPath('../etc/passwd', 'L'), /layer L: member "\.\.\/etc\/passwd": path leads outside the layer/);
    assert.throws(() => memberPath('a/../../x', 'L'), /member "a\/\.\.\/\.\.\/x": path leads outside/);
    assert.throws(() => memberPath('a/../b', 'L'), /path leads outside/); // not cleaned into something else
    assert.throws(() => memberPath('/etc/passwd', 'L'), /member "\/etc\/passwd": absolute path/);
  });

  test('symlinks: absolute targets stay in the container root; relative ones may not climb out', () => {
    assert.equal(symlinkStaysInside(['bin', 'sh'], '/bin/busybox'), true);
    assert.equal(symlinkStaysInside(['bin', 'sh'], 'busybox'), true);
    assert.equal(symlinkStaysInside(['usr', 'bin', 'x'], '../../bin/busybox'), true);
    assert.equal(symlinkStaysInside(['usr', 'bin', 'x'], '../../../etc'), false);
    assert.equal(symlinkStaysInside(['up'], '..'), false);
    assert.equal(symlinkStaysInside(['a', 'b'], 'c/../../..'), false);
  });

  test('chain ids are Docker\'s', () => {
    const a = sha256Digest('a');
    const b = sha256Digest('b');
    assert.deepEqual(chainIds([a, b]), [a, sha256Digest(`${a} ${b}`)]);
  });
});

describe('archives', () => {
  async function open(data: Buffer, t: { after: (fn: () => void) => void }): Promise<ImageArchive> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-archive-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'a.tar');
    fs.writeFileSync(file, data);
    return ImageArchive.open(file);
  }

  test('docker save: images with their layers and references, manifest.json last', async (t) => {
    const a = await open(dockerArchive([busyboxSpec(), layeredSpec()]), t);
    assert.equal(a.format, 'docker-archive');
    const imgs = a.images();
    assert.deepEqual(imgs.map((i) => [i.refs, i.layers.length]), [[['docker.io/library/busybox:latest'], 1], [['docker.io/library/layered:latest'], 2]]);
    assert.equal(imgs[0]!.layers[0]!.member.name, imgs[1]!.layers[0]!.member.name); // the shared layer is stored once
  });

  test('OCI layout: blobs checked against their digests, names from the annotations', async (t) => {
    const a = await open(ociArchive([busyboxSpec()]), t);
    assert.equal(a.format, 'oci-layout');
    const [img] = a.images();
    assert.deepEqual(img!.refs, ['docker.io/library/busybox:latest']);
    assert.match(img!.layers[0]!.compressedDigest!, /^sha256:/);
  });

  test('an archive that is neither format, or whose config lies about its layers, is refused', async (t) => {
    const none = await open(tarArchive([{ name: 'hello', type: 'file', data: 'x' }]), t);
    assert.throws(() => none.images(), /neither manifest.json \(docker save\) nor index.json \(OCI layout\)/);
    const manifest = JSON.stringify([{ Config: 'c.json', RepoTags: ['x:1'], Layers: ['l.tar', 'l.tar'] }]);
    const config = JSON.stringify({ rootfs: { type: 'layers', diff_ids: [sha256Digest('l')] } });
    const lies = await open(tarArchive([{ name: 'manifest.json', type: 'file', data: manifest }, { name: 'c.json', type: 'file', data: config }, { name: 'l.tar', type: 'file', data: 'l' }]), t);
    assert.throws(() => lies.images(), /c\.json lists 1 layers \(rootfs\.diff_ids\), manifest\.json 2/);
    const missing = await open(tarArchive([{ name: 'manifest.json', type: 'file', data: JSON.stringify([{ Config: 'nope.json', Layers: [] }]) }]), t);
    assert.throws(() => missing.images(), /the archive has no member "nope\.json"/);
    // The wrong-digest fixture parses: its lie is found when the layer is hashed (integration test).
    assert.equal((await open(wrongDigestArchive(), t)).images().length, 1);
  });
});

describe('image ls rows', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  const img = (id: string, repoTags: string[], created: string, size: number): ImageRecord => ({
    id: `sha256:${id.repeat(64 / id.length)}`,
    repoTags,
    repoDigests: [],
    created,
    size,
    config: { rootfs: { type: 'layers', diff_ids: [] } },
    chainIds: [],
    loaded: created,
  });
  const all = [img('a', ['busybox:latest', 'localhost:5000/busybox:v1'], '2024-12-31T22:00:00Z', 4_261_550), img('b', [], '2023-01-01T00:00:00Z', 512)];

  test('one row per tag, <none> for an untagged image, newest first, Docker\'s sizes', () => {
    const rows = imageRows(all, undefined, true, now);
    assert.deepEqual(
      rows.map((r) => [r.Repository, r.Tag, r.ID, r.CreatedSince, r.Size]),
      [
        ['busybox', 'latest', 'aaaaaaaaaaaa', '2 hours ago', '4.26MB'],
        ['localhost:5000/busybox', 'v1', 'aaaaaaaaaaaa', '2 hours ago', '4.26MB'],
        ['<none>', '<none>', 'bbbbbbbbbbbb', '2 years ago', '512B'],
      ],
    );
  });

  test('a REPOSITORY[:TAG] argument filters', () => {
    assert.deepEqual(imageRows(all, 'busybox', true, now).map((r) => r.Repository), ['busybox']);
    assert.deepEqual(imageRows(all, 'localhost:5000/busybox', true, now).map((r) => r.Tag), ['v1']);
    assert.deepEqual(imageRows(all, 'busybox:v1', true, now), []);
  });

  test('-f KEY=VALUE filters: dockerd\'s names, repeatable, an unknown one refused naming the known ones', () => {
    assert.deepEqual([...parseImageFilters(['dangling=true', 'reference=bus*', 'reference=x'])], [['dangling', ['true']], ['reference', ['bus*', 'x']]]);
    assert.throws(() => parseImageFilters(['nope=1']), (err: Error & { code?: string; hint?: string }) => err.code === 'USAGE' && err.message === "invalid filter 'nope=1'" && /reference, dangling, label, before, since/.test(err.hint ?? ''));
    assert.throws(() => parseImageFilters(['dangling']), /invalid filter 'dangling'/);
  });

  test('sizes as go-units prints them', () => {
    assert.deepEqual([0, 999, 1000, 1234, 1_982_413, 123_456_789, 5e9].map(humanSize), ['0B', '999B', '1kB', '1.23kB', '1.98MB', '123MB', '5GB']);
  });
});
