import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../src/api/errors.js';
import { parseFilterParam } from '../../src/api/events.js';
import {
  errorLine,
  familiar,
  filterImages,
  IMAGE_FILTERS,
  imageHistory,
  imageInspect,
  imageSummary,
  loadedLines,
  referenceMatches,
  registryCredentials,
  statusLine,
  type ImageFacts,
} from '../../src/api/image-views.js';

const ID = `sha256:${'a'.repeat(64)}`;
const busybox: ImageFacts = {
  id: ID,
  repoTags: ['docker.io/library/busybox:latest', 'localhost:5000/busybox:latest'],
  repoDigests: [`localhost:5000/busybox@sha256:${'b'.repeat(64)}`],
  created: '2023-11-14T22:13:20Z',
  size: 1234,
  config: {
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/bin'], Cmd: ['sh'], Labels: { tier: 'base' }, ExposedPorts: { '80/tcp': {} } },
    rootfs: { type: 'layers', diff_ids: [`sha256:${'c'.repeat(64)}`] },
    history: [{ created: '2023-11-14T22:13:20Z', created_by: 'fixture' }, { created: '2023-11-14T22:13:21Z', created_by: 'second' }],
  },
};
const dangling: ImageFacts = { ...busybox, id: `sha256:${'d'.repeat(64)}`, repoTags: [], repoDigests: [], created: '2024-01-01T00:00:00Z', config: { ...busybox.config, config: {} } };
const filters = (json: object): ReturnType<typeof parseFilterParam> => parseFilterParam(JSON.stringify(json), IMAGE_FILTERS);
const createdOf = (ref: string): number => (ref === 'busybox' ? 1_699_999_999 : 0);

describe('image views (Docker API shapes)', () => {
  it('familiar: the docker CLI\'s short references; an unparsable one as it is', () => {
    assert.equal(familiar('docker.io/library/busybox:latest'), 'busybox:latest');
    assert.equal(familiar('docker.io/me/app:1'), 'me/app:1');
    assert.equal(familiar('localhost:5000/busybox:latest'), 'localhost:5000/busybox:latest');
    assert.equal(familiar('Not A Ref'), 'Not A Ref');
  });

  it('summary: Unix Created, familiar tags; <none>:<none> for an untagged image before API 1.43', () => {
    const s = imageSummary(busybox, '1.41');
    assert.deepEqual(s['RepoTags'], ['busybox:latest', 'localhost:5000/busybox:latest']);
    assert.equal(s['Created'], 1_700_000_000);
    assert.equal(s['Id'], ID);
    assert.equal(s['VirtualSize'], 1234);
    assert.deepEqual(s['Labels'], { tier: 'base' });
    assert.deepEqual(imageSummary(dangling, '1.41')['RepoTags'], ['<none>:<none>']);
    assert.deepEqual(imageSummary(dangling, '1.41')['RepoDigests'], ['<none>@<none>']);
    assert.deepEqual(imageSummary(dangling, '1.44')['RepoTags'], []);
    assert.equal(imageSummary(dangling, '1.44')['VirtualSize'], undefined);
  });

  it('inspect: ImageInspect with the config\'s Cmd, Env, ExposedPorts, RootFS and the layer dirs', () => {
    const i = imageInspect(busybox, ['/r/images/layers/2', '/r/images/layers/1']);
    assert.equal(i['Id'], ID);
    assert.equal(i['Created'], '2023-11-14T22:13:20Z');
    assert.equal(i['Architecture'], 'amd64');
    assert.equal(i['Os'], 'linux');
    const config = i['Config'] as Record<string, unknown>;
    assert.deepEqual(config['Cmd'], ['sh']);
    assert.deepEqual(config['Env'], ['PATH=/bin']);
    assert.deepEqual(config['ExposedPorts'], { '80/tcp': {} });
    assert.equal(config['Entrypoint'], null);
    assert.equal(config['WorkingDir'], '');
    assert.deepEqual(i['RootFS'], { Type: 'layers', Layers: [`sha256:${'c'.repeat(64)}`] });
    assert.deepEqual(i['GraphDriver'], { Data: { LowerDir: '/r/images/layers/2:/r/images/layers/1' }, Name: 'overlay2' });
  });

  it('history: newest first, the id and tags on the top entry only', () => {
    const h = imageHistory(busybox);
    assert.deepEqual(h.map((e) => [e['Id'], e['CreatedBy']]), [[ID, 'second'], ['<missing>', 'fixture']]);
    assert.deepEqual(h[0]!['Tags'], ['busybox:latest', 'localhost:5000/busybox:latest']);
  });

  it('reference filter: globs over familiar tags, or the name when the pattern has no tag', () => {
    assert.ok(referenceMatches('busybox', busybox));
    assert.ok(referenceMatches('busybox:latest', busybox));
    assert.ok(referenceMatches('busy*', busybox));
    assert.ok(referenceMatches('localhost:5000/*', busybox));
    assert.ok(referenceMatches('*:lat?st', busybox));
    assert.ok(!referenceMatches('busybox:1.36', busybox));
    assert.ok(!referenceMatches('*', { ...busybox, repoTags: ['localhost:5000/busybox:latest'], repoDigests: [] }), '* does not cross a /');
    assert.throws(() => referenceMatches('[abc', busybox), ApiError);
  });

  it('filters: reference, dangling, label (key and key=value), before/since', () => {
    const all = [busybox, dangling];
    assert.deepEqual(filterImages(all, filters({ reference: ['busybox'] }), createdOf), [{ ...busybox, repoTags: ['docker.io/library/busybox:latest'], repoDigests: [] }]);
    assert.deepEqual(filterImages(all, filters({ reference: ['localhost:5000/*'] }), createdOf), [{ ...busybox, repoTags: ['localhost:5000/busybox:latest'], repoDigests: [`localhost:5000/busybox@sha256:${'b'.repeat(64)}`] }], 'only the matching references are shown');
    assert.deepEqual(filterImages(all, filters({ dangling: ['true'] }), createdOf), [dangling]);
    assert.deepEqual(filterImages(all, filters({ dangling: { false: true } }), createdOf), [busybox]);
    assert.deepEqual(filterImages(all, filters({ label: ['tier'] }), createdOf), [busybox]);
    assert.deepEqual(filterImages(all, filters({ label: ['tier=base'] }), createdOf), [busybox]);
    assert.deepEqual(filterImages(all, filters({ label: ['tier=other'] }), createdOf), []);
    assert.deepEqual(filterImages(all, filters({ since: ['busybox'] }), createdOf), [busybox, dangling]);
    assert.deepEqual(filterImages(all, filters({ before: ['busybox'] }), createdOf), []);
    assert.throws(() => filterImages(all, filters({ dangling: ['maybe'] }), createdOf), /dangling=maybe/);
    assert.throws(() => filters({ colour: ['red'] }), /invalid filter 'colour'/);
  });

  it('progress lines: stream, status, errorDetail; load names each tag or the id of an untagged image', () => {
    const loaded = [
      { id: busybox.id, loadedRefs: ['busybox:latest', 'localhost:5000/busybox:latest'], moved: [{ ref: 'busybox:latest', from: dangling.id }] },
      { id: dangling.id, loadedRefs: [], moved: [] },
    ];
    assert.deepEqual(loadedLines(loaded).map((l) => JSON.parse(l)), [
      { stream: `The image busybox:latest already exists, renaming the old one with ID ${dangling.id} to empty string\n` },
      { stream: 'Loaded image: busybox:latest\n' },
      { stream: 'Loaded image: localhost:5000/busybox:latest\n' },
      { stream: `Loaded image ID: ${dangling.id}\n` },
    ]);
    assert.deepEqual(JSON.parse(statusLine('Pull complete', 'abc')), { status: 'Pull complete', id: 'abc' });
    assert.deepEqual(JSON.parse(errorLine('boom')), { errorDetail: { message: 'boom' }, error: 'boom' });
  });

  it('X-Registry-Auth: base64url JSON credentials; empty means none; garbage is a 400', () => {
    const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    assert.deepEqual(registryCredentials(enc({ username: 'u', password: 'p', serveraddress: 'localhost:5000' })), { username: 'u', password: 'p' });
    assert.equal(registryCredentials(undefined), undefined);
    assert.equal(registryCredentials('e30='), undefined);
    assert.equal(registryCredentials(enc({})), undefined);
    assert.throws(() => registryCredentials('!!!not base64 json'), /X-Registry-Auth/);
  });
});
