/**
 * The image store on the real file system (root: device nodes, owners, trusted.* xattrs): busybox
 * loaded from a docker save archive and from an OCI layout, layers shared and refcounted, whiteouts
 * and opaque directories in overlayfs's form — checked by mounting the layers with overlayfs (in a
 * mount namespace of its own, so nothing is left mounted) and running busybox from the result —
 * and every hostile archive refused, naming the member, with nothing left behind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { afterEach, beforeEach, it } from 'node:test';
import { NsnetError } from '../../src/core/errors.js';
import { lgetxattr } from '../../src/kernel/fs-nodes.js';
import { openImageStore, type ImageStore } from '../../src/image/images.js';
import { openStore } from '../../src/store/index.js';
import { tarArchive } from '../../src/image/tar-write.js';
import {
  busyboxSpec,
  dockerArchive,
  hostileLayers,
  imageConfig,
  layeredSpec,
  ociArchive,
  overlayLayer,
  singleLayerArchive,
  sha256,
  wrongDigestArchive,
  writeArchive,
} from '../helpers/image-fixtures.js';
import { needs, requiredSuite, tools } from '../helpers/requirements.js';
import { NSNET_BIN } from '../helpers/sandbox.js';

requiredSuite('image store', { needs: [needs.root, needs.busybox, tools('the image store tests', ['unshare', 'mount', 'chroot'], 'apt-get install util-linux coreutils')], concurrency: false }, () => {
  let dir: string;
  let root: string;
  let images: ImageStore;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-images-'));
    root = path.join(dir, 'root');
    images = openImageStore(root);
  });
  afterEach(() => {
    images.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Everything under ROOT/images but the lock and the two empty directories. */
  function leftovers(): string[] {
    const base = path.join(root, 'images');
    const out: string[] = [];
    for (const sub of ['layers', 'tmp']) for (const n of fs.readdirSync(path.join(base, sub))) out.push(`${sub}/${n}`);
    return out;
  }

  function assertNothingLoaded(): void {
    assert.deepEqual(images.list(), []);
    assert.deepEqual(leftovers(), []);
    assert.ok(!fs.readFileSync('/etc/passwd', 'utf8').includes('pwned'));
  }

  it('loads busybox from a docker save archive: the layer as the tar had it', async () => {
    const loaded = await images.load(writeArchive(dir, 'busybox.tar', dockerArchive([busyboxSpec()])));
    assert.equal(loaded.length, 1);
    const img = loaded[0]!;
    assert.deepEqual(img.loadedRefs, ['busybox:latest']);
    assert.deepEqual(img.repoTags, ['busybox:latest']);
    assert.equal(img.id, sha256(imageConfig(busyboxSpec())));
    assert.deepEqual(img.config.config?.Cmd, ['sh']);
    for (const ref of ['busybox', 'busybox:latest', 'docker.io/library/busybox', img.id, img.id.slice(7, 19)]) assert.equal(images.resolve(ref).id, img.id, ref);
    assert.throws(() => images.resolve('nope'), (err: NsnetError) => err.code === 'NOT_FOUND' && err.message === 'No such image: nope');

    const [layer] = images.layerDirs(img);
    const st = (p: string): fs.Stats => fs.lstatSync(path.join(layer!, p));
    assert.equal(st('bin/busybox').mode & 0o7777, 0o755);
    assert.equal(st('bin/busybox').size, fs.statSync('/bin/busybox').size);
    assert.equal(fs.readlinkSync(path.join(layer!, 'bin/sh')), 'busybox');
    assert.equal(st('bin/cat').ino, st('bin/busybox').ino); // a hard link inside the layer
    assert.deepEqual([st('home/nobody-file').uid, st('home/nobody-file').gid, st('home/nobody-file').mode & 0o7777], [65534, 65534, 0o640]);
    assert.equal(st('tmp').mode & 0o7777, 0o1777);
    assert.equal(st('etc/passwd').mtimeMs, 1_700_000_000_000);
    assert.equal(st('etc').mtimeMs, 1_700_000_000_000); // directory times set after their contents
    assert.ok(st('proc').isDirectory() && st('sys').isDirectory() && st('dev').isDirectory());
    assert.deepEqual(leftovers(), [`layers/${path.basename(layer!)}`]);
  });

  it('gzip\'d layers, a gzip\'d archive on a stream and an OCI layout give the same image', async () => {
    const want = sha256(imageConfig(busyboxSpec()));
    const [a] = await images.load(writeArchive(dir, 'gz-layers.tar', dockerArchive([busyboxSpec()], { gzip: true })));
    const [b] = await images.load(Readable.from([zlib.gzipSync(dockerArchive([busyboxSpec()]))]));
    const [c] = await images.load(writeArchive(dir, 'oci.tar', ociArchive([busyboxSpec()])));
    assert.deepEqual([a!.id, b!.id, c!.id], [want, want, want]);
    assert.equal(images.list().length, 1);
    assert.equal(leftovers().filter((l) => l.startsWith('layers/')).length, 1);
  });

  it('shares layers between images; whiteouts and opaque dirs work as overlayfs lower layers', async () => {
    const loaded = await images.load(writeArchive(dir, 'two.tar', ociArchive([busyboxSpec(), layeredSpec()])));
    assert.deepEqual(loaded.map((l) => l.loadedRefs), [['busybox:latest'], ['layered:latest']]);
    const layered = images.resolve('layered');
    const dirs = images.layerDirs(layered);
    assert.equal(dirs.length, 2);
    assert.equal(dirs[1], images.layerDirs('busybox')[0]); // the shared bottom layer, stored once
    assert.equal(leftovers().length, 2);
    const whiteout = fs.lstatSync(path.join(dirs[0]!, 'etc/motd'));
    assert.ok(whiteout.isCharacterDevice() && whiteout.rdev === 0, 'a .wh. file is a character device 0:0');
    assert.equal(lgetxattr(path.join(dirs[0]!, 'opt/old'), 'trusted.overlay.opaque')?.toString(), 'y');
    assert.ok(!fs.existsSync(path.join(dirs[0]!, 'opt/old/.wh..wh..opq')));

    // The layers as a container would see them: overlayfs, in a throwaway mount namespace.
    const merged = path.join(dir, 'merged');
    fs.mkdirSync(merged);
    const script = [
      `mount -t overlay overlay -o lowerdir=${dirs.join(':')} ${merged}`,
      `ls ${merged}/etc | tr '\\n' ' '; echo`,
      `ls -A ${merged}/opt/old | tr '\\n' ' '; echo`,
      `chroot ${merged} /bin/sh -c 'echo "$(cat /etc/added)" from $(hostname -s >/dev/null; echo busybox)'`,
    ].join(' && ');
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const [etc, old, run] = r.stdout.split('\n');
    assert.equal(etc!.trim(), 'added group passwd', 'etc/motd whited out, etc/added added');
    assert.equal(old!.trim(), 'b', 'opt/old opaque: the lower a hidden');
    assert.equal(run, 'from the second layer from busybox');

    // rm of one image keeps the layer the other uses; rm of the last one removes it.
    const rm1 = images.remove('layered');
    assert.deepEqual(rm1.map((e) => Object.keys(e)[0]), ['Untagged', 'Deleted', 'Deleted']);
    assert.equal(leftovers().length, 1);
    assert.ok(fs.existsSync(path.join(images.layerDirs('busybox')[0]!, 'bin/busybox')));
    images.remove('busybox');
    assertNothingLoaded();
  });

  it('two loads of the same archive at once: both succeed, the layer is stored once', async () => {
    const other = openImageStore(root);
    try {
      const file = writeArchive(dir, 'busybox.tar', dockerArchive([busyboxSpec()]));
      const [a, b] = await Promise.all([images.load(file), other.load(file)]);
      assert.equal(a![0]!.id, b![0]!.id);
      assert.equal(images.list().length, 1);
      assert.deepEqual(leftovers().filter((l) => l.startsWith('tmp/')), []);
      assert.equal(leftovers().length, 1);
    } finally {
      other.close();
    }
  });

  it('keeps device nodes and FIFOs a layer holds', async () => {
    const layer = tarArchive([
      { name: 'dev', type: 'dir' },
      { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/loop0', type: 'block', devmajor: 7, devminor: 0, mode: 0o660, gid: 6 },
      { name: 'run/fifo', type: 'fifo', mode: 0o620 },
    ]);
    const [img] = await images.load(writeArchive(dir, 'dev.tar', singleLayerArchive(layer, 'devices:latest')));
    const [top] = images.layerDirs(img!);
    const nul = fs.lstatSync(path.join(top!, 'dev/null'));
    assert.ok(nul.isCharacterDevice() && nul.rdev === fs.statSync('/dev/null').rdev && (nul.mode & 0o777) === 0o666);
    const loop = fs.lstatSync(path.join(top!, 'dev/loop0'));
    assert.ok(loop.isBlockDevice() && loop.gid === 6 && (loop.mode & 0o777) === 0o660);
    const fifo = fs.lstatSync(path.join(top!, 'run/fifo'));
    assert.ok(fifo.isFIFO() && (fifo.mode & 0o777) === 0o620);
  });

  for (const [name, { layer, member }] of Object.entries(hostileLayers())) {
    it(`refuses a hostile layer (${name}), naming member "${member}", and leaves nothing`, async () => {
      await assert.rejects(images.load(writeArchive(dir, `${name}.tar`, singleLayerArchive(layer))), (err: NsnetError) => {
        assert.equal(err.code, 'INVALID_VALUE');
        assert.ok(err.message.includes(`member "${member}"`), err.message);
        return true;
      });
      assertNothingLoaded();
    });
  }

  it('refuses a layer whose digest is not the one the config gives, and leaves nothing', async () => {
    await assert.rejects(images.load(writeArchive(dir, 'wrong.tar', wrongDigestArchive())), /digest of the uncompressed tar \(diff id\) is sha256:[0-9a-f]{64}, the manifest says sha256:/);
    assertNothingLoaded();
  });

  it('refuses an OCI layer blob whose bytes are not the manifest\'s digest (even when they are a good layer)', async () => {
    const archive = ociArchive([busyboxSpec()], { layerBlobBytes: [zlib.gzipSync(overlayLayer())] });
    await assert.rejects(images.load(writeArchive(dir, 'oci-wrong.tar', archive)), /digest of the blob is sha256:[0-9a-f]{64}, the manifest says sha256:/);
    assertNothingLoaded();
  });

  it('loads all the images of an archive or none: a hostile second image keeps the first out too', async () => {
    const hostile = hostileLayers()['dot-dot']!.layer;
    const archive = dockerArchive([busyboxSpec(), { layers: [hostile], repoTags: ['bad:latest'] }]);
    await assert.rejects(images.load(writeArchive(dir, 'mixed.tar', archive)), /member "\.\.\/etc\/passwd"/);
    assertNothingLoaded();
  });

  it('tags move as in Docker; rm of an image a container uses is refused unless forced', async () => {
    await images.load(writeArchive(dir, 'two.tar', dockerArchive([busyboxSpec(), layeredSpec()])));
    images.tag('busybox', 'localhost:5000/busybox:v1');
    assert.deepEqual(images.resolve('busybox').repoTags, ['busybox:latest', 'localhost:5000/busybox:v1']);
    assert.throws(() => images.tag('busybox', `x@sha256:${'0'.repeat(64)}`), /refusing to create a tag with a digest reference/);
    assert.throws(() => images.tag('nope', 'x'), /No such image: nope/);
    // An id with two references needs -f; one of two references is only untagged.
    assert.throws(() => images.remove(images.resolve('busybox').id), /must be forced\) - image is referenced in multiple repositories/);
    assert.deepEqual(images.remove('localhost:5000/busybox:v1'), [{ Untagged: 'localhost:5000/busybox:v1' }]);

    const id = images.resolve('busybox').id;
    const db = new (createRequire(import.meta.url)('better-sqlite3'))(path.join(root, 'nsnet.db'));
    try {
      db.prepare("INSERT INTO containers (id, name, hostname, status, log_path, created, netns, image_id, image_ref) VALUES (?, 'web', 'web', ?, '', '2025-01-01T00:00:00Z', 'n', ?, 'busybox')").run('c'.repeat(64), 'running', id);
      assert.throws(() => images.remove('busybox', { force: true }), /unable to delete busybox \(cannot be forced\) - image is being used by running container cccccccccccc/);
      db.prepare("UPDATE containers SET status = 'exited'").run();
      assert.throws(() => images.remove('busybox'), /conflict: unable to remove repository reference "busybox" \(must force\) - container cccccccccccc is using its referenced image [0-9a-f]{12}$/);
      // Forced: untagged, but the image stays (dangling) for the container's layers.
      assert.deepEqual(images.remove('busybox', { force: true }), [{ Untagged: 'busybox:latest' }]);
      assert.deepEqual(images.find(id)?.repoTags, []);
      assert.equal(leftovers().filter((l) => l.startsWith('layers/')).length, 2);
      db.prepare('DELETE FROM containers').run();
    } finally {
      db.close();
    }
    assert.deepEqual(images.remove(id).map((e) => Object.keys(e)[0]), ['Deleted']); // the shared layer stays for layered
    images.remove('layered');
    assertNothingLoaded();
  });

  it('prune removes dangling images (a moved tag leaves one), -a every image no container uses', async () => {
    await images.load(writeArchive(dir, 'two.tar', dockerArchive([busyboxSpec(), layeredSpec()])));
    const old = images.resolve('busybox').id;
    images.tag('layered', 'busybox');
    assert.deepEqual(images.find(old)?.repoTags, []);
    const first = images.prune();
    assert.deepEqual(first.events, [{ Deleted: old }]); // its layer is layered's bottom one: kept
    assert.equal(first.reclaimed, 0);
    assert.deepEqual(images.prune().events, []);
    const all = images.prune({ all: true });
    assert.deepEqual(all.events.filter((e) => 'Untagged' in e), [{ Untagged: 'layered:latest' }, { Untagged: 'busybox:latest' }]);
    assert.ok(all.reclaimed > fs.statSync('/bin/busybox').size);
    assertNothingLoaded();
  });

  it('what a crashed load left (a staging dir, a layer dir without its record) is removed by the next load', async () => {
    const stale = path.join(root, 'images', 'tmp', '999999999-layer-x');
    fs.mkdirSync(stale, { recursive: true });
    const orphan = path.join(root, 'images', 'layers', 'f'.repeat(64));
    fs.mkdirSync(path.join(orphan, 'bin'), { recursive: true });
    await images.load(writeArchive(dir, 'busybox.tar', dockerArchive([busyboxSpec()])));
    assert.ok(!fs.existsSync(stale));
    assert.ok(!fs.existsSync(orphan));
    const store = openStore(root);
    try {
      assert.equal(store.images.list().length, 1);
    } finally {
      store.close();
    }
  });
});

requiredSuite('nsnet image commands', { needs: [needs.root, needs.busybox, (): string | undefined => (fs.existsSync(NSNET_BIN) ? undefined : `${NSNET_BIN} does not exist (build the CLI first)`)], concurrency: false }, () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-image-cli-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** bin/nsnet in-process (no service for a throwaway root), with the archive on stdin if given. */
  const nsnet = (args: string[], input?: Buffer): { status: number | null; stdout: string; stderr: string } =>
    spawnSync(NSNET_BIN, ['--root', path.join(dir, 'root'), ...args], { input, encoding: 'utf8', env: { ...process.env, NSNET_SERVICE: 'off' } });

  it('load from stdin and -i, ls, inspect, tag, rm: Docker\'s output and exit codes', () => {
    const load = nsnet(['image', 'load'], dockerArchive([busyboxSpec()]));
    assert.equal(load.status, 0, load.stderr);
    assert.equal(load.stdout, 'Loaded image: busybox:latest\n');
    assert.equal(nsnet(['image', 'load', '-i', writeArchive(dir, 'oci.tar', ociArchive([layeredSpec()]))]).stdout, 'Loaded image: layered:latest\n');
    const id = sha256(imageConfig(busyboxSpec()));
    const ls = nsnet(['image', 'ls']).stdout.split('\n');
    assert.match(ls[0]!, /^REPOSITORY {3}TAG {7}IMAGE ID {7}CREATED {7}SIZE$/);
    assert.ok(ls.some((l) => new RegExp(`^busybox {6}latest {4}${id.slice(7, 19)} {3}\\d+ years ago {3}1\\.98MB$`).test(l)), ls.join('\n'));
    assert.equal(nsnet(['image', 'inspect', '-f', '{{.Id}} {{index .RepoTags 0}} {{.Config.Cmd}}', 'busybox']).stdout, `${id} busybox:latest [sh]\n`);
    assert.equal(nsnet(['image', 'tag', 'busybox', 'localhost:5000/busybox:v1']).status, 0);
    assert.equal(nsnet(['image', 'ls', '-q', 'localhost:5000/busybox']).stdout, `${id.slice(7, 19)}\n`);
    const missing = nsnet(['image', 'rm', 'nope']);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^nsnet: No such image: nope$/m);
    assert.equal(nsnet(['image', 'inspect', 'nope']).status, 1);
    const rm = nsnet(['image', 'rm', 'localhost:5000/busybox:v1', 'busybox']);
    assert.equal(rm.status, 0, rm.stderr);
    assert.equal(rm.stdout, `Untagged: localhost:5000/busybox:v1\nUntagged: busybox:latest\nDeleted: ${id}\n`);
  });

  it('a hostile or broken archive: exit 1, the member named, nothing loaded', () => {
    const hostile = nsnet(['image', 'load'], singleLayerArchive(hostileLayers()['symlink-then-file']!.layer));
    assert.equal(hostile.status, 1);
    assert.match(hostile.stderr, /member "etc\/passwd": path goes through the symlink "etc"/);
    const junk = nsnet(['image', 'load'], Buffer.from('not a tar at all'.repeat(64)));
    assert.equal(junk.status, 1);
    assert.match(junk.stderr, /archive stdin: not a tar header at offset 0/);
    assert.equal(nsnet(['image', 'ls', '-q']).stdout, '');
  });
});

requiredSuite('image archives written by skopeo', { needs: [needs.root, needs.busybox, tools('the skopeo archive test', ['skopeo'], 'apt-get install skopeo')], concurrency: false }, () => {
  it('loads skopeo\'s docker-archive (legacy layer symlinks, repositories file) and OCI archives (gzip\'d blobs)', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-skopeo-'));
    const images = openImageStore(path.join(dir, 'root'));
    t.after(() => {
      images.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const source = writeArchive(dir, 'busybox.tar', dockerArchive([busyboxSpec()]));
    const skopeo = (dest: string): void => {
      const r = spawnSync('skopeo', ['copy', '--quiet', '--insecure-policy', `docker-archive:${source}`, dest], { encoding: 'utf8', env: { ...process.env, HOME: dir } });
      assert.equal(r.status, 0, r.stderr);
    };
    skopeo(`docker-archive:${path.join(dir, 'sk-docker.tar')}:sk/bb:v3`);
    skopeo(`oci-archive:${path.join(dir, 'sk-oci.tar')}:localhost:5000/sk/bb:v2`);
    const [fromDocker] = await images.load(path.join(dir, 'sk-docker.tar'));
    assert.deepEqual(fromDocker!.loadedRefs, ['sk/bb:v3']);
    assert.equal(fromDocker!.id, sha256(imageConfig(busyboxSpec()))); // skopeo kept the config byte for byte
    const [fromOci] = await images.load(path.join(dir, 'sk-oci.tar'));
    assert.deepEqual(fromOci!.loadedRefs, ['localhost:5000/sk/bb:v2']);
    assert.deepEqual(fromOci!.config.rootfs.diff_ids, fromDocker!.config.rootfs.diff_ids);
    assert.equal(images.layerDirs(fromOci!)[0], images.layerDirs(fromDocker!)[0]); // the same layer, stored once
  });
});
