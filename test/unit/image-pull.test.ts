/**
 * The pull operation (src/image/pull.ts) over a fake registry and a fake store: which manifest and
 * layers it fetches, what it hands the store (layers in order, the tag and NAME@DIGEST), what it
 * skips (an image or layers already stored), and that every failure — a layer that does not come,
 * the store refusing, a config that does not fit its manifest — commits nothing and removes the
 * staging directory.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { after, afterEach, describe, test } from 'node:test';
import { NsnetError } from '../../src/core/errors.js';
import { pullImage, type PulledLayer, type PullEvent, type PullSink, type RegistrySource } from '../../src/image/pull.js';
import { MEDIA, parseManifest, parsePlatform, type Descriptor } from '../../src/image/registry-manifest.js';
import type { RegistryRef } from '../../src/image/registry-ref.js';

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const json = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));

interface FakeImage {
  config: Buffer;
  manifest: Buffer;
  layers: Buffer[];
}

/** An image of `n` layers (their bytes are just text: the fake store does not unpack). */
function image(name: string, n: number, platform = { os: 'linux', architecture: 'amd64' }, diffIds?: string[]): FakeImage {
  const layers = Array.from({ length: n }, (_, i) => Buffer.from(`${name} layer ${i}`));
  const config = json({ ...platform, rootfs: { type: 'layers', diff_ids: diffIds ?? layers.map((l) => sha(`${l.toString()} uncompressed`)) } });
  const manifest = json({
    schemaVersion: 2,
    mediaType: MEDIA.dockerManifest,
    config: { mediaType: MEDIA.dockerConfig, digest: sha(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: sha(l), size: l.length })),
  });
  return { config, manifest, layers };
}

function list(entries: Array<{ img: FakeImage; os: string; architecture: string }>): Buffer {
  return json({ schemaVersion: 2, mediaType: MEDIA.dockerList, manifests: entries.map((e) => ({ mediaType: MEDIA.dockerManifest, digest: sha(e.img.manifest), size: e.img.manifest.length, platform: { os: e.os, architecture: e.architecture } })) });
}

/** A registry of manifests (by tag or digest) and blobs; `failBlob` makes one blob's download fail. */
function fakeSource(manifests: Record<string, Buffer>, images: FakeImage[], opts: { failBlob?: string } = {}): { source: (ref: RegistryRef) => RegistrySource; fetched: string[] } {
  const blobs = new Map<string, Buffer>();
  for (const img of images) {
    for (const b of [img.config, ...img.layers]) blobs.set(sha(b), b);
    manifests[sha(img.manifest)] = img.manifest;
  }
  for (const m of Object.values(manifests)) manifests[sha(m)] = m;
  const fetched: string[] = [];
  const source = (ref: RegistryRef): RegistrySource => ({
    ref,
    manifest: async (reference: string) => {
      fetched.push(`manifest ${reference}`);
      const bytes = manifests[reference];
      if (bytes === undefined) throw new NsnetError('NOT_FOUND', `manifest unknown: ${reference}`);
      return { manifest: parseManifest(bytes, undefined), bytes, digest: sha(bytes) };
    },
    blobBytes: async (desc: Descriptor) => {
      fetched.push(`blob ${desc.digest}`);
      return blobs.get(desc.digest)!;
    },
    blobTo: async (desc: Descriptor, out: Writable) => {
      fetched.push(`blob ${desc.digest}`);
      if (desc.digest === opts.failBlob) {
        out.destroy();
        throw new NsnetError('INVALID_VALUE', `bad digest: ${desc.digest}`);
      }
      await new Promise<void>((resolve) => out.end(blobs.get(desc.digest)!, resolve));
    },
  });
  return { source, fetched };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-pull-unit-'));
afterEach(() => assert.deepEqual(fs.readdirSync(tmp), [], 'every staging directory is removed'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Commit {
  config: Buffer;
  layers: Array<Omit<PulledLayer, 'path'> & { bytes: string }>;
  refs: readonly string[];
}

function fakeSink(opts: { images?: string[]; layers?: string[]; commitFails?: boolean } = {}): PullSink & { commits: Commit[]; staged: number } {
  const sink = {
    commits: [] as Commit[],
    staged: 0,
    makeStagingDir: () => {
      sink.staged++;
      return fs.mkdtempSync(path.join(tmp, 'stage-'));
    },
    hasImage: (id: string) => (opts.images ?? []).includes(id),
    storedLayers: (diffIds: readonly string[]) => diffIds.map((d) => (opts.layers ?? []).includes(d)),
    commit: async (config: Buffer, layers: readonly PulledLayer[], refs: readonly string[]) => {
      if (opts.commitFails === true) throw new NsnetError('INVALID_VALUE', 'layer 1/1: uncompressed tar (diff id) is not what the config says');
      sink.commits.push({ config, layers: layers.map(({ path: p, ...l }) => ({ ...l, bytes: fs.readFileSync(p, 'utf8') })), refs });
      return sha(config);
    },
  };
  return sink;
}

const rejects = async (p: Promise<unknown>, code: string, message: RegExp): Promise<void> => {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof NsnetError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
};

describe('pullImage', () => {
  test('an image manifest: config and layers fetched, layers handed over in order with the tag and NAME@DIGEST', async () => {
    const img = image('app', 3);
    const { source, fetched } = fakeSource({ v1: img.manifest }, [img]);
    const sink = fakeSink();
    const events: PullEvent[] = [];
    const r = await pullImage('localhost:5000/team/app:v1', sink, { source, onProgress: (e) => events.push(e) });
    assert.deepEqual(r, { ref: 'localhost:5000/team/app:v1', id: sha(img.config), digest: sha(img.manifest), platform: 'linux/amd64', layers: 3, downloaded: true });
    assert.equal(sink.commits.length, 1);
    const [c] = sink.commits;
    assert.deepEqual(c!.refs, ['localhost:5000/team/app:v1', `localhost:5000/team/app@${sha(img.manifest)}`]);
    assert.deepEqual(c!.layers.map((l) => [l.index, l.bytes, l.compression]), [[0, 'app layer 0', 'gzip'], [1, 'app layer 1', 'gzip'], [2, 'app layer 2', 'gzip']]);
    assert.equal(fetched[0], 'manifest v1');
    assert.equal(events.filter((e) => e.status === 'Pull complete').length, 3);
    assert.equal(events.at(-1)?.status, 'Status: Downloaded newer image for localhost:5000/team/app:v1');
  });

  test('a manifest list: linux/amd64 by default, the requested platform otherwise; the list\'s digest is the repo digest', async () => {
    const amd = image('amd', 1);
    const arm = image('arm', 1, { os: 'linux', architecture: 'arm64' });
    const top = list([{ img: arm, os: 'linux', architecture: 'arm64' }, { img: amd, os: 'linux', architecture: 'amd64' }]);
    const { source } = fakeSource({ latest: top }, [amd, arm]);
    const sink = fakeSink();
    assert.equal((await pullImage('reg.example/multi', sink, { source })).id, sha(amd.config));
    assert.equal((await pullImage('reg.example/multi', sink, { source, platform: parsePlatform('linux/arm64'), platformExplicit: true })).id, sha(arm.config));
    assert.deepEqual(sink.commits[1]!.refs, ['reg.example/multi:latest', `reg.example/multi@${sha(top)}`]);
    await rejects(pullImage('reg.example/multi', sink, { source, platform: parsePlatform('linux/ppc64le') }), 'NOT_FOUND', /^registry reg\.example, repository multi: no image for platform linux\/ppc64le in the manifest list \(it has linux\/arm64, linux\/amd64\)$/);
  });

  test('an image already stored: nothing downloaded, no staging, its references set', async () => {
    const img = image('have', 2);
    const { source, fetched } = fakeSource({ latest: img.manifest }, [img]);
    const sink = fakeSink({ images: [sha(img.config)] });
    const r = await pullImage('reg.example/have', sink, { source });
    assert.equal(r.downloaded, false);
    assert.equal(sink.staged, 0);
    assert.deepEqual(sink.commits[0]!.layers, []);
    assert.ok(!fetched.some((f) => img.layers.some((l) => f === `blob ${sha(l)}`)), fetched.join(' '));
  });

  test('layers already stored are not downloaded', async () => {
    const img = image('part', 3);
    const diffIds = (JSON.parse(img.config.toString()) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
    const { source, fetched } = fakeSource({ latest: img.manifest }, [img]);
    const sink = fakeSink({ layers: [diffIds[0]!, diffIds[1]!] });
    const events: PullEvent[] = [];
    await pullImage('reg.example/part', sink, { source, onProgress: (e) => events.push(e) });
    assert.deepEqual(sink.commits[0]!.layers.map((l) => l.index), [2]);
    assert.equal(events.filter((e) => e.status === 'Already exists').length, 2);
    assert.ok(!fetched.includes(`blob ${sha(img.layers[0]!)}`));
  });

  test('a layer that fails: the error, no commit, staging removed', async () => {
    const img = image('bad', 4);
    const { source } = fakeSource({ latest: img.manifest }, [img], { failBlob: sha(img.layers[2]!) });
    const sink = fakeSink();
    await rejects(pullImage('reg.example/bad', sink, { source, concurrency: 2 }), 'INVALID_VALUE', /bad digest/);
    assert.equal(sink.commits.length, 0);
  });

  test('the store refusing: named as the pull\'s failure, staging removed', async () => {
    const img = image('refused', 1);
    const { source } = fakeSource({ latest: img.manifest }, [img]);
    await rejects(pullImage('reg.example/refused', fakeSink({ commitFails: true }), { source }), 'INVALID_VALUE', /^registry reg\.example, repository refused: store the image: layer 1\/1: uncompressed tar \(diff id\)/);
  });

  test('a config that does not fit its manifest, or is not JSON: refused before any layer', async () => {
    const short = image('short', 2, undefined, [sha('only one')]);
    const { source, fetched } = fakeSource({ latest: short.manifest }, [short]);
    const sink = fakeSink();
    await rejects(pullImage('reg.example/short', sink, { source }), 'INVALID_VALUE', /the manifest has 2 layers, its config's rootfs\.diff_ids 1/);
    assert.equal(sink.staged, 0);
    assert.ok(!fetched.some((f) => f === `blob ${sha(short.layers[0]!)}`));
  });

  test('--platform names another platform than a single image\'s config: refused; without --platform accepted', async () => {
    const arm = image('armonly', 1, { os: 'linux', architecture: 'arm64' });
    const { source } = fakeSource({ latest: arm.manifest }, [arm]);
    await rejects(pullImage('reg.example/armonly', fakeSink(), { source, platform: parsePlatform('linux/amd64'), platformExplicit: true }), 'NOT_FOUND', /the image is for linux\/arm64, not the requested linux\/amd64/);
    assert.equal((await pullImage('reg.example/armonly', fakeSink(), { source })).platform, 'linux/arm64');
  });

  test('a bad reference is refused before anything is asked', async () => {
    const { source, fetched } = fakeSource({}, []);
    await rejects(pullImage('Bad/Name', fakeSink(), { source }), 'INVALID_VALUE', /invalid reference format/);
    assert.deepEqual(fetched, []);
  });
});
