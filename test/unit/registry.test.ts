/**
 * The registry client's pure parts: references as Docker normalises them, where plain HTTP is
 * allowed, manifests and the Accept header, platform choice in a manifest list, WWW-Authenticate
 * challenges and token answers, credentials from Docker's config.json.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NsnetError } from '../../src/core/errors.js';
import { basicAuthorization, dockerConfigCredentials, parseChallenges, pickChallenge, tokenFromAnswer, tokenUrl } from '../../src/image/registry-auth.js';
import { choosePlatform, MANIFEST_ACCEPT, MEDIA, layerCompression, parseManifest, parsePlatform, platformMatches, type ManifestList } from '../../src/image/registry-manifest.js';
import { allowsPlainHttp, canonicalHostPort, formatRegistryRef, isLoopbackHost, manifestReference, parseInsecureRegistry, parseRegistryRef, registryHost } from '../../src/image/registry-ref.js';
import { certsDirName, isRegistryUrl } from '../../src/image/registry.js';

const HEX = 'a'.repeat(64);
const D = `sha256:${HEX}`;

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof NsnetError, `not an NsnetError: ${String(err)}`);
    return `${err.code}: ${err.message}`;
  }
  assert.fail('no error');
};

describe('references', () => {
  const cases: Array<[string, string, string, string | undefined, string | undefined]> = [
    ['busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['busybox:1.36', 'docker.io', 'library/busybox', '1.36', undefined],
    ['library/busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['docker.io/busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['index.docker.io/library/busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['someone/app', 'docker.io', 'someone/app', 'latest', undefined],
    ['localhost:5000/busybox', 'localhost:5000', 'busybox', 'latest', undefined],
    ['localhost/busybox', 'localhost', 'busybox', 'latest', undefined],
    ['127.0.0.1:5000/a/b:v1', '127.0.0.1:5000', 'a/b', 'v1', undefined],
    [`example.com/a/b@${D}`, 'example.com', 'a/b', undefined, D],
    [`busybox:1@${D}`, 'docker.io', 'library/busybox', '1', D],
    ['my-reg.example:443/x_y/z.w', 'my-reg.example:443', 'x_y/z.w', 'latest', undefined],
  ];
  for (const [input, registry, repository, tag, digest] of cases) {
    test(input, () => assert.deepEqual(parseRegistryRef(input), { registry, repository, tag, digest }));
  }

  test('normalised form and what the manifest is asked by', () => {
    assert.equal(formatRegistryRef(parseRegistryRef('busybox')), 'docker.io/library/busybox:latest');
    assert.equal(manifestReference(parseRegistryRef('busybox')), 'latest');
    assert.equal(manifestReference(parseRegistryRef(`busybox:1@${D}`)), D);
    assert.equal(registryHost('docker.io'), 'registry-1.docker.io');
    assert.equal(registryHost('localhost:5000'), 'localhost:5000');
  });

  for (const bad of ['', 'BusyBox', 'busybox:', 'busybox@sha256:abc', 'a//b', 'busybox:-x', ':tag', `busybox@md5:${HEX}`, 'local host/x', `${'a'.repeat(256)}`]) {
    test(`refused: ${JSON.stringify(bad)}`, () => {
      const msg = code(() => parseRegistryRef(bad));
      assert.match(msg, /^INVALID_VALUE: invalid reference format: /);
      assert.ok(msg.includes(JSON.stringify(bad)), msg);
    });
  }
});

describe('plain HTTP only for loopback and insecure registries', () => {
  test('loopback without configuration', () => {
    for (const h of ['localhost:5000', 'localhost', '127.0.0.1:5000', '127.1.2.3', '[::1]:5000', '::1']) assert.equal(allowsPlainHttp(h, []), true, h);
  });
  test('anything else only when named', () => {
    assert.equal(allowsPlainHttp('203.0.113.8:5000', []), false);
    assert.equal(allowsPlainHttp('registry-1.docker.io', []), false);
    assert.equal(allowsPlainHttp('localhost.example.com:5000', []), false);
    assert.equal(allowsPlainHttp('203.0.113.8:5000', ['203.0.113.8:5000']), true);
    assert.equal(allowsPlainHttp('203.0.113.8:5000', ['203.0.113.8']), true, 'a host without a port covers every port');
    assert.equal(allowsPlainHttp('203.0.113.8:5000', ['203.0.113.8:5001']), false);
    assert.equal(allowsPlainHttp('reg.example:5000', ['http://reg.example:5000/']), true);
  });
  test('loopback in every spelling Docker takes (::1/128 and 127.0.0.0/8, IPv4-mapped addresses unmapped)', () => {
    for (const h of ['[0:0::1]:5000', '[0000::1]:5000', '[0:0:0:0:0:0:0:1]', '0::1', '[::ffff:127.0.0.1]:5000', '[::ffff:7f00:1]:5000', '[::FFFF:7F01:203]', '127.255.255.254:5000', 'LOCALHOST:5000']) {
      assert.equal(isLoopbackHost(h), true, h);
      assert.equal(allowsPlainHttp(h, []), true, h);
    }
    // IPv4-compatible (not mapped), another IPv6 address, a mapped non-loopback, not dotted quads, names.
    for (const h of ['[::127.0.0.1]:5000', '[::2]:5000', '[::ffff:10.0.0.1]', '[::1:0:0:1]', '[1::1]', '128.0.0.1', '127.1:5000', '0127.0.0.1', '127.0.0.256', 'localhost.example', '127.0.0.1.nip.io']) {
      assert.equal(isLoopbackHost(h), false, h);
      assert.equal(allowsPlainHttp(h, []), false, h);
    }
  });

  test('a registry and its --insecure-registry entry compared in one spelling (case, IPv6 compression, default port)', () => {
    assert.equal(canonicalHostPort('[FD00:0:0::1]:5000'), '[fd00::1]:5000');
    assert.equal(canonicalHostPort('[FD00:0:0::1]:5000'), new URL('https://[FD00:0:0::1]:5000/').host, 'as Node\'s URL writes it');
    assert.equal(canonicalHostPort('Reg.Example:05000'), 'reg.example:5000');
    assert.equal(canonicalHostPort('[::127.0.0.1]'), new URL('http://[::127.0.0.1]/').host, 'IPv4-compatible stays so (not mapped)');
    assert.equal(canonicalHostPort('reg.example', 443), 'reg.example:443');
    assert.equal(allowsPlainHttp('[FD00:0:0::1]:5000', ['[fd00::1]:5000']), true);
    assert.equal(allowsPlainHttp('[fd00::1]:5000', ['[FD00:0:0::1]:5000']), true);
    assert.equal(allowsPlainHttp('[fd00::1]:5000', ['fd00:0::1']), true, 'a bare address without a port covers every port');
    assert.equal(allowsPlainHttp('[FD00:0:0::1]:5000', ['[fd00::2]:5000']), false);
    assert.equal(allowsPlainHttp('[fd00::1]:5000', ['[fd00::1]:5001']), false);
    assert.equal(allowsPlainHttp('REG.example:5000', ['reg.EXAMPLE:5000']), true);
    // A URL's host leaves out its default port: http://reg.example:80/ has the host reg.example.
    assert.equal(allowsPlainHttp(new URL('http://reg.example:80/').host, ['reg.example:80'], 80), true);
    assert.equal(allowsPlainHttp('reg.example', ['reg.example:80']), false, 'a registry named without a port is not the entry with one, as in Docker');
  });

  test('the registry\'s own URLs: certificate checks skipped for the insecure one; certs.d named as the reference writes the host, as Docker does', () => {
    const written = '[FD00:0:0::1]:5000';
    const url = new URL(`https://${written}/v2/`);
    assert.equal(url.host, '[fd00::1]:5000', 'Node\'s URL rewrites the host');
    assert.equal(isRegistryUrl(url, written), true);
    assert.equal(isRegistryUrl(new URL('https://[fd00::1]:5001/v2/'), written), false);
    assert.equal(isRegistryUrl(new URL('https://reg.example/v2/'), 'Reg.Example:443'), true, 'the default port left out by the URL');
    assert.equal(isRegistryUrl(new URL('http://reg.example/v2/'), 'reg.example:443'), false);
    assert.equal(certsDirName(url, written), written);
    assert.equal(certsDirName(new URL('https://Auth.Example/token'), written), 'auth.example', 'another host (a token server): its own name');
  });

  test('--insecure-registry values', () => {
    assert.equal(parseInsecureRegistry('http://10.0.0.5:5000/'), '10.0.0.5:5000');
    assert.match(code(() => parseInsecureRegistry('reg.example/path')), /INVALID_VALUE: --insecure-registry "reg.example\/path": not a registry host/);
  });
});

describe('manifests', () => {
  const manifest = { schemaVersion: 2, mediaType: MEDIA.dockerManifest, config: { mediaType: MEDIA.dockerConfig, digest: D, size: 10 }, layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: D, size: 20 }] };
  const buf = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));

  test('Accept names lists, indexes and both manifest kinds', () => {
    for (const t of [MEDIA.dockerList, MEDIA.ociIndex, MEDIA.dockerManifest, MEDIA.ociManifest]) assert.ok(MANIFEST_ACCEPT.split(', ').includes(t), t);
    assert.ok(!MANIFEST_ACCEPT.includes('v1+prettyjws'), 'schema 1 is not asked for');
  });

  test('Docker schema 2 by Content-Type', () => {
    const m = parseManifest(buf(manifest), `${MEDIA.dockerManifest}; charset=utf-8`);
    assert.equal(m.kind, 'manifest');
    assert.equal(m.kind === 'manifest' && m.layers[0]?.size, 20);
  });

  test('OCI without mediaType: by shape', () => {
    const { mediaType: _m, ...bare } = manifest;
    assert.equal(parseManifest(buf(bare), 'application/json').kind, 'manifest');
    assert.equal(parseManifest(buf({ schemaVersion: 2, manifests: [] }), undefined).kind, 'list');
  });

  test('garbage is refused with what was wrong', () => {
    assert.match(code(() => parseManifest(Buffer.from('<html>nope</html>'), 'text/html')), /INVALID_VALUE: the manifest is not JSON .*starts with "<html>nope<\/html>"/);
    assert.match(code(() => parseManifest(buf([1, 2]), MEDIA.dockerManifest)), /not a JSON object/);
    assert.match(code(() => parseManifest(buf({ ...manifest, layers: 'x' }), MEDIA.dockerManifest)), /has no layers array/);
    assert.match(code(() => parseManifest(buf({ ...manifest, config: { digest: 'sha256:xyz', size: 1 } }), MEDIA.dockerManifest)), /config: digest "sha256:xyz" is not sha256/);
    assert.match(code(() => parseManifest(buf({ ...manifest, layers: [{ digest: D, size: -1 }] }), MEDIA.dockerManifest)), /layer 0: size -1 is not a byte count/);
    assert.match(code(() => parseManifest(buf({ schemaVersion: 1, fsLayers: [] }), MEDIA.dockerSchema1Signed)), /schema 1, which nsnet does not pull/);
    assert.match(code(() => parseManifest(buf(manifest), 'application/vnd.example+json')), /media type "application\/vnd.example\+json" is not one nsnet pulls/);
  });

  test('layer compression from the media type', () => {
    assert.equal(layerCompression({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: D, size: 1 }, 0), 'tar');
    assert.equal(layerCompression({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D, size: 1 }, 0), 'gzip');
    assert.match(code(() => layerCompression({ mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: D, size: 1 }, 2)), /layer 2 .*v1\.tar\+zstd, which nsnet cannot unpack/);
  });
});

describe('platforms', () => {
  const entry = (os: string, architecture: string, variant?: string, n = 1): ManifestList['manifests'][number] => ({
    mediaType: MEDIA.ociManifest,
    digest: `sha256:${String(n).repeat(64)}`,
    size: 1,
    platform: { os, architecture, ...(variant !== undefined ? { variant } : {}) },
  });
  const list: ManifestList = {
    kind: 'list',
    mediaType: MEDIA.ociIndex,
    manifests: [entry('linux', 'arm', 'v7', 1), entry('linux', 'arm64', 'v8', 2), entry('linux', 'amd64', undefined, 3), { mediaType: MEDIA.ociManifest, digest: `sha256:${'4'.repeat(64)}`, size: 1, platform: { os: 'unknown', architecture: 'unknown' } }],
  };

  test('--platform syntax and aliases', () => {
    assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('linux/x86_64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('Linux/ARM64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.match(code(() => parsePlatform('amd64')), /--platform "amd64": not os\/arch\[\/variant\]/);
  });

  test('linux/amd64 by default; others by request; variants', () => {
    assert.equal(choosePlatform(list, parsePlatform('linux/amd64')).digest, `sha256:${'3'.repeat(64)}`);
    assert.equal(choosePlatform(list, parsePlatform('linux/arm64')).digest, `sha256:${'2'.repeat(64)}`);
    assert.equal(choosePlatform(list, parsePlatform('linux/arm/v7')).digest, `sha256:${'1'.repeat(64)}`);
    assert.equal(platformMatches({ os: 'linux', architecture: 'arm64' }, parsePlatform('linux/arm64/v8')), true, 'arm64 means v8');
    assert.equal(platformMatches({ os: 'linux', architecture: 'arm', variant: 'v6' }, parsePlatform('linux/arm/v7')), false);
  });

  test('a platform the list lacks: the error lists what it has (attestations left out)', () => {
    const msg = code(() => choosePlatform(list, parsePlatform('linux/s390x')));
    assert.equal(msg, 'NOT_FOUND: no image for platform linux/s390x in the manifest list (it has linux/arm/v7, linux/arm64/v8, linux/amd64)');
  });
});

describe('authentication', () => {
  test('Bearer challenge with quoted parameters', () => {
    const [c] = parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"');
    assert.deepEqual(c, { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } });
  });

  test('two challenges in one header; Bearer preferred; escapes and bare tokens', () => {
    const cs = parseChallenges('Basic realm="Registry \\"x\\"", Bearer realm=https://t.example/token, service=reg');
    assert.deepEqual(cs, [
      { scheme: 'basic', params: { realm: 'Registry "x"' } },
      { scheme: 'bearer', params: { realm: 'https://t.example/token', service: 'reg' } },
    ]);
    assert.equal(pickChallenge(cs)?.scheme, 'bearer');
    assert.equal(pickChallenge(parseChallenges('Negotiate abc')), undefined);
    assert.deepEqual(parseChallenges(undefined), []);
  });

  test('token URL: service and the repository scope (the challenge\'s scope wins)', () => {
    const u = tokenUrl({ scheme: 'bearer', params: { realm: 'https://t.example/token?x=1', service: 'reg' } }, 'library/busybox');
    assert.equal(u.href, 'https://t.example/token?x=1&service=reg&scope=repository%3Alibrary%2Fbusybox%3Apull');
    const v = tokenUrl({ scheme: 'bearer', params: { realm: 'https://t.example/token', scope: 'repository:a:pull,push' } }, 'a');
    assert.equal(v.searchParams.get('scope'), 'repository:a:pull,push');
    assert.match(code(() => tokenUrl({ scheme: 'bearer', params: {} }, 'a')), /named no realm/);
    assert.match(code(() => tokenUrl({ scheme: 'bearer', params: { realm: 'not a url' } }, 'a')), /realm "not a url" is not a URL/);
  });

  test('token answers', () => {
    assert.equal(tokenFromAnswer(Buffer.from('{"token":"abc"}'), 'r'), 'abc');
    assert.equal(tokenFromAnswer(Buffer.from('{"access_token":"def","expires_in":300}'), 'r'), 'def');
    assert.match(code(() => tokenFromAnswer(Buffer.from('{}'), 'https://t')), /token server https:\/\/t answered JSON without a token/);
    assert.match(code(() => tokenFromAnswer(Buffer.from('{"token":"a\\r\\nX-Evil: 1"}'), 'r')), /without a token/, 'a token that would split headers is refused');
    assert.match(code(() => tokenFromAnswer(Buffer.from('nope'), 'r')), /not JSON/);
  });

  test('basic authorization and Docker config credentials', () => {
    assert.equal(basicAuthorization({ username: 'u', password: 'p:w' }), `Basic ${Buffer.from('u:p:w').toString('base64')}`);
    const config = JSON.stringify({ auths: { 'localhost:5000': { auth: Buffer.from('alice:s3cr:t').toString('base64') }, 'https://index.docker.io/v1/': { auth: Buffer.from('bob:pw').toString('base64') } } });
    assert.deepEqual(dockerConfigCredentials(config, 'localhost:5000'), { username: 'alice', password: 's3cr:t' });
    assert.deepEqual(dockerConfigCredentials(config, 'docker.io'), { username: 'bob', password: 'pw' });
    assert.equal(dockerConfigCredentials(config, 'other:5000'), undefined);
    assert.equal(dockerConfigCredentials('not json', 'x'), undefined);
    assert.equal(dockerConfigCredentials(undefined, 'x'), undefined);
  });
});
