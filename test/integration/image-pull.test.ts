/**
 * `nsnet image pull` against real registries in a sandbox: Debian's docker-registry on 127.0.0.1
 * in the sandbox's host namespace (images pushed there with skopeo from archives the test builds:
 * a docker-archive busybox, and an OCI index of two platforms pushed with --all as a manifest
 * list), a second one on the world's 203.0.113.8 (not loopback: plain HTTP refused unless named
 * with --insecure-registry), and the fake registry of test/helpers/fake-registry.ts for what a real
 * one never does: garbage for a manifest, a layer whose bytes do not match its digest, Bearer
 * token auth through a token server and basic auth. Every failure must be a clear error naming
 * registry and repository, with nothing left in the image store (no image, no layer directory, no
 * staging directory).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { openImageStore } from '../../src/image/images.js';
import { tarArchive } from '../../src/image/tar-write.js';
import { builtImage, busyboxSpec, dockerArchive, hostileLayers, layeredSpec, writeArchive } from '../helpers/image-fixtures.js';
import { registryImage } from '../helpers/fake-registry.js';
import { multiPlatformOciArchive, platformImageId, selfSignedCert, skopeoPush, startFakeRegistry, startRegistry, type RunningRegistry, type SelfSigned } from '../helpers/registry.js';
import { needs, requiredSuite, tools } from '../helpers/requirements.js';
import { createSandbox, describeResult, WORLD_IP, WORLD_IP6, type RunResult, type Sandbox } from '../helpers/sandbox.js';

const ok = (r: RunResult): RunResult => {
  assert.equal(r.code, 0, describeResult(r));
  return r;
};

/** The pull failed (exit 1) and said each of `words`. */
const refused = (r: RunResult, ...words: Array<string | RegExp>): void => {
  assert.equal(r.code, 1, describeResult(r));
  for (const w of words) {
    if (typeof w === 'string') assert.ok(r.stderr.includes(w), `stderr lacks ${JSON.stringify(w)}: ${describeResult(r)}`);
    else assert.match(r.stderr, w, describeResult(r));
  }
};

const registryTools = tools('the registry pull tests', ['docker-registry', 'skopeo', 'openssl'], 'apt-get install docker-registry skopeo openssl');

requiredSuite('nsnet image pull from registries in the sandbox', { needs: [needs.integration, registryTools], concurrency: false, timeout: 240_000 }, () => {
  let sb: Sandbox;
  let dir: string;
  let local: RunningRegistry;
  let remote: RunningRegistry;
  const servers: RunningRegistry[] = [];
  const busybox = builtImage(busyboxSpec());
  const remoteAddr = `${WORLD_IP}:5000`;
  const tlsAddr = `${WORLD_IP}:5443`;
  let tlsCert: SelfSigned;

  /** Every image in the sandbox's store: id → references (normalised, tags and digests). */
  const stored = (): Map<string, string[]> => {
    const images = openImageStore(sb.root);
    try {
      return new Map(images.list().map((i) => [i.id, [...i.repoTags, ...i.repoDigests]]));
    } finally {
      images.close();
    }
  };
  const imagesDir = (sub: string): string[] => {
    try {
      return fs.readdirSync(path.join(sb.root, 'images', sub)).sort();
    } catch {
      return [];
    }
  };
  /** What a failed pull must leave exactly as it was: images, layer directories, and no staging directory. */
  const snapshot = (): string => JSON.stringify({ images: [...stored()].sort(), layers: imagesDir('layers'), tmp: imagesDir('tmp') });
  const pull = (args: readonly string[], env?: NodeJS.ProcessEnv): Promise<RunResult> => sb.nsnet(['image', 'pull', ...args], { timeoutMs: 60_000, ...(env !== undefined ? { env } : {}) });

  before(async () => {
    sb = await createSandbox('rpul');
    dir = fs.mkdtempSync(path.join(sb.root, 'pull-'));
    local = await startRegistry(sb, dir, '127.0.0.1:5000');
    servers.push(local);
    await skopeoPush(sb, `docker-archive:${writeArchive(dir, 'busybox.tar', dockerArchive([busyboxSpec()]))}`, '127.0.0.1:5000/busybox:latest');
    await skopeoPush(sb, `docker-archive:${writeArchive(dir, 'layered.tar', dockerArchive([layeredSpec()]))}`, '127.0.0.1:5000/tools/layered:v1');
    const multi = multiPlatformOciArchive(
      [
        { spec: busyboxSpec(), os: 'linux', architecture: 'amd64' },
        { spec: busyboxSpec(), os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
      'latest',
    );
    await skopeoPush(sb, `oci-archive:${writeArchive(dir, 'multi.tar', multi)}:latest`, '127.0.0.1:5000/multi:latest', { all: true });
    // Not loopback: in the world namespace on its "internet" address, reached over the uplink.
    remote = await startRegistry(sb, dir, remoteAddr, 'world');
    servers.push(remote);
    await skopeoPush(sb, `docker-archive:${path.join(dir, 'busybox.tar')}`, `${remoteAddr}/busybox:latest`, { where: 'world' });
    // And an HTTPS one there, with a self-signed certificate.
    tlsCert = selfSignedCert(dir, WORLD_IP);
    const secure = await startRegistry(sb, dir, tlsAddr, 'world', { tls: tlsCert });
    servers.push(secure);
    await skopeoPush(sb, `docker-archive:${path.join(dir, 'busybox.tar')}`, `${tlsAddr}/busybox:latest`, { where: 'world' });
  });

  after(async () => {
    for (const s of servers) await s.stop();
    const report = await sb?.destroy();
    assert.deepEqual(report?.problems ?? [], []);
  });

  test('busybox from the local registry: listed with its id, tag, digest and layer files', async () => {
    const r = ok(await pull(['127.0.0.1:5000/busybox']));
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.at(-1), '127.0.0.1:5000/busybox:latest', r.stdout);
    assert.ok(lines.includes(`Status: Downloaded newer image for 127.0.0.1:5000/busybox:latest`), r.stdout);
    assert.ok(lines.some((l) => /^[0-9a-f]{12}: Pull complete$/.test(l)), r.stdout);
    const refs = stored().get(busybox.id);
    assert.ok(refs !== undefined, `image ${busybox.id} is not stored: ${snapshot()}`);
    assert.ok(refs.includes('127.0.0.1:5000/busybox:latest'), refs.join(' '));
    assert.ok(refs.some((x) => /^127\.0\.0\.1:5000\/busybox@sha256:[0-9a-f]{64}$/.test(x)), refs.join(' '));
    const images = openImageStore(sb.root);
    try {
      const img = images.resolve('127.0.0.1:5000/busybox');
      assert.deepEqual(img.config.rootfs.diff_ids, busybox.diffIds);
      const [layer] = images.layerDirs(img);
      assert.ok(fs.statSync(path.join(layer!, 'bin', 'busybox')).size === fs.statSync('/bin/busybox').size, 'bin/busybox unpacked whole');
      assert.equal(fs.readlinkSync(path.join(layer!, 'bin', 'sh')), 'busybox');
    } finally {
      images.close();
    }
    const ls = ok(await sb.nsnet(['image', 'ls']));
    assert.match(ls.stdout, /127\.0\.0\.1:5000\/busybox\s+latest/, ls.stdout);
    assert.deepEqual(imagesDir('tmp'), [], 'no staging directory left');
  });

  test('a second pull downloads nothing; by digest works too', async () => {
    const again = ok(await pull(['127.0.0.1:5000/busybox:latest']));
    assert.match(again.stdout, /Status: Image is up to date for 127\.0\.0\.1:5000\/busybox:latest/);
    const digest = stored().get(busybox.id)!.find((x) => x.includes('@'))!.split('@')[1]!;
    const byDigest = ok(await pull([`127.0.0.1:5000/busybox@${digest}`]));
    assert.equal(byDigest.stdout.trim().split('\n').at(-1), `127.0.0.1:5000/busybox@${digest}`);
  });

  test('two layers with a whiteout and an opaque directory, a nested repository; the shared bottom layer is not downloaded again', async () => {
    const r = ok(await pull(['127.0.0.1:5000/tools/layered:v1']));
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.filter((l) => l.endsWith(': Already exists')).length, 1, `busybox's layer is not downloaded again: ${r.stdout}`);
    assert.equal(lines.filter((l) => l.endsWith(': Pull complete')).length, 1, r.stdout);
    const layered = builtImage(layeredSpec());
    const images = openImageStore(sb.root);
    try {
      const img = images.resolve('127.0.0.1:5000/tools/layered:v1');
      assert.equal(img.id, layered.id);
      const [top, bottom] = images.layerDirs(img);
      assert.equal(images.layerDirs(img).length, 2);
      assert.ok(fs.existsSync(path.join(bottom!, 'etc', 'motd')), 'the bottom layer has etc/motd');
      assert.ok(fs.statSync(path.join(top!, 'etc', 'motd')).isCharacterDevice(), 'the top layer whites it out (char 0/0)');
    } finally {
      images.close();
    }
  });

  test('a manifest list: linux/amd64 by default, --platform for another, an absent platform named', async () => {
    const amd64 = platformImageId(busyboxSpec(), 'linux', 'amd64');
    const arm64 = platformImageId(busyboxSpec(), 'linux', 'arm64', 'v8');
    ok(await pull(['127.0.0.1:5000/multi']));
    assert.ok(stored().get(amd64)?.includes('127.0.0.1:5000/multi:latest'), snapshot());
    ok(await pull(['--platform', 'linux/arm64', '127.0.0.1:5000/multi']));
    assert.ok(stored().get(arm64)?.includes('127.0.0.1:5000/multi:latest'), `the tag moved to the arm64 image: ${snapshot()}`);
    const before = snapshot();
    refused(await pull(['--platform', 'linux/s390x', '127.0.0.1:5000/multi']), 'registry 127.0.0.1:5000, repository multi', 'no image for platform linux/s390x in the manifest list (it has linux/amd64, linux/arm64/v8)');
    assert.equal(snapshot(), before);
  });

  test('manifest unknown, a repository that does not exist, bad input: clear errors, nothing stored', async () => {
    const before = snapshot();
    refused(await pull(['127.0.0.1:5000/busybox:nope']), 'registry 127.0.0.1:5000, repository busybox: get manifest nope: manifest unknown');
    refused(await pull(['localhost:5000/nothere']), 'registry localhost:5000, repository nothere: get manifest latest:');
    const bad = await pull(['127.0.0.1:5000/Busy']);
    assert.equal(bad.code, 1, describeResult(bad));
    assert.match(bad.stderr, /invalid reference format: .*"127\.0\.0\.1:5000\/Busy"/);
    const badPlatform = await pull(['--platform', 'amd64', '127.0.0.1:5000/busybox']);
    assert.match(badPlatform.stderr, /--platform "amd64": not os\/arch/);
    refused(await pull(['127.0.0.1:5999/busybox']), 'registry 127.0.0.1:5999, repository busybox: reach the registry', 'ECONNREFUSED');
    assert.equal(snapshot(), before);
  });

  test('a registry that is not loopback: HTTPS only, plain HTTP with --insecure-registry', async () => {
    const before = snapshot();
    const r = await pull([`${remoteAddr}/busybox`]);
    refused(r, `registry ${remoteAddr}, repository busybox: reach the registry over HTTPS`, `--insecure-registry ${remoteAddr}`);
    assert.equal(snapshot(), before);
    const done = ok(await pull(['--insecure-registry', remoteAddr, `${remoteAddr}/busybox`]));
    assert.equal(done.stdout.trim().split('\n').at(-1), `${remoteAddr}/busybox:latest`);
    assert.ok(stored().get(busybox.id)?.includes(`${remoteAddr}/busybox:latest`), snapshot());
  });

  test('IPv6 registries in brackets: [::1] is loopback (plain HTTP), another address needs --insecure-registry', async () => {
    // Each registry listens on every address of its namespace (Go's dual-stack ":PORT"); skopeo pushes
    // over IPv4, nsnet pulls over IPv6 from the same storage.
    const v6 = await startRegistry(sb, dir, ':5006');
    const world6 = await startRegistry(sb, dir, ':5007', 'world');
    try {
      await skopeoPush(sb, `docker-archive:${path.join(dir, 'busybox.tar')}`, '127.0.0.1:5006/busybox:latest');
      await skopeoPush(sb, `docker-archive:${path.join(dir, 'busybox.tar')}`, `${WORLD_IP}:5007/busybox:latest`, { where: 'world' });
      const loop = ok(await pull(['[::1]:5006/busybox']));
      assert.equal(loop.stdout.trim().split('\n').at(-1), '[::1]:5006/busybox:latest', loop.stdout);
      assert.ok(stored().get(busybox.id)?.includes('[::1]:5006/busybox:latest'), snapshot());
      assert.match(ok(await sb.nsnet(['image', 'ls'])).stdout, /\[::1\]:5006\/busybox\s+latest/);
      const remote6 = `[${WORLD_IP6}]:5007`;
      const before = snapshot();
      refused(await pull([`${remote6}/busybox`]), `registry ${remote6}, repository busybox: reach the registry over HTTPS`, `--insecure-registry ${remote6}`);
      refused(await pull([`${WORLD_IP6}:5007/busybox`]), /looks like an IPv6 address without brackets/, /\[fd00::1\]:5000\/busybox/);
      assert.equal(snapshot(), before);
      ok(await pull(['--insecure-registry', remote6, `${remote6}/busybox:latest`]));
      assert.ok(stored().get(busybox.id)?.includes(`${remote6}/busybox:latest`), snapshot());
      for (const ref of ['[::1]:5006/busybox:latest', `${remote6}/busybox:latest`]) ok(await sb.nsnet(['image', 'rm', ref]));
    } finally {
      await v6.stop();
      await world6.stop();
    }
  });

  test('an IPv6 registry spelt in capitals and uncompressed: --insecure-registry in the short form covers it (plain HTTP, HTTPS unchecked); certs.d/ named as the reference writes it', async () => {
    const spelt = '2001:DB8:8:0:0:0:0:8';
    assert.equal(new URL(`http://[${spelt}]/`).host, `[${WORLD_IP6}]`, 'the same address as WORLD_IP6');
    const plain = await startRegistry(sb, dir, ':5008', 'world');
    const cert = selfSignedCert(dir, WORLD_IP6);
    const secure = await startRegistry(sb, dir, ':5444', 'world', { tls: cert });
    try {
      await skopeoPush(sb, `docker-archive:${path.join(dir, 'busybox.tar')}`, `${WORLD_IP}:5008/busybox:latest`, { where: 'world' });
      await skopeoPush(sb, `docker-archive:${path.join(dir, 'busybox.tar')}`, `${WORLD_IP}:5444/busybox:latest`, { where: 'world' });
      /** Pulled (each time from the registry: the reference is removed after), as the reference writes it. */
      const pullThenRm = async (args: string[], env?: NodeJS.ProcessEnv): Promise<void> => {
        const ref = ok(await pull(args, env)).stdout.trim().split('\n').at(-1)!;
        assert.equal(ref, `${args.at(-1)!}:latest`);
        ok(await sb.nsnet(['image', 'rm', ref]));
      };
      await pullThenRm(['--insecure-registry', `[${WORLD_IP6}]:5008`, `[${spelt}]:5008/busybox`]);
      const https = `[${spelt}]:5444`;
      const before = snapshot();
      refused(await pull([`${https}/busybox`]), 'self-signed certificate', `/etc/docker/certs.d/${https}/ca.crt`);
      assert.equal(snapshot(), before);
      // Node's URL writes the host [2001:db8:8::8]:5444: the certificate check is skipped all the same.
      await pullThenRm(['--insecure-registry', `[${WORLD_IP6}]:5444`, `${https}/busybox`]);
      // Docker's certs.d directory is the registry as the reference writes it.
      const certs = fs.mkdtempSync(path.join(dir, 'certs.d-'));
      fs.mkdirSync(path.join(certs, https));
      fs.copyFileSync(cert.cert, path.join(certs, https, 'ca.crt'));
      await pullThenRm([`${https}/busybox`], { ...process.env, NSNET_REGISTRY_CERTS_DIR: certs });
    } finally {
      await plain.stop();
      await secure.stop();
    }
  });

  test('HTTPS: an unknown CA refused with a hint; trusted through certs.d/HOST/ca.crt; unchecked with --insecure-registry', async () => {
    const before = snapshot();
    refused(await pull([`${tlsAddr}/busybox`]), `registry ${tlsAddr}, repository busybox: reach the registry over HTTPS`, 'self-signed certificate', `/etc/docker/certs.d/${tlsAddr}/ca.crt`);
    assert.equal(snapshot(), before);
    const certs = fs.mkdtempSync(path.join(dir, 'certs.d-'));
    fs.mkdirSync(path.join(certs, tlsAddr));
    fs.copyFileSync(tlsCert.cert, path.join(certs, tlsAddr, 'ca.crt'));
    ok(await pull([`${tlsAddr}/busybox`], { ...process.env, NSNET_REGISTRY_CERTS_DIR: certs }));
    assert.ok(stored().get(busybox.id)?.includes(`${tlsAddr}/busybox:latest`), snapshot());
    ok(await sb.nsnet(['image', 'rm', `${tlsAddr}/busybox:latest`]));
    ok(await pull(['--insecure-registry', tlsAddr, `${tlsAddr}/busybox`]));
    assert.ok(stored().get(busybox.id)?.includes(`${tlsAddr}/busybox:latest`), snapshot());
  });

  test('a registry that answers garbage for the manifest', async () => {
    const fake = await startFakeRegistry(sb, dir, { routes: {}, garbageManifest: '<html><body>Welcome to nginx!</body></html>' });
    servers.push(fake);
    const before = snapshot();
    refused(await pull([`${fake.addr}/busybox`]), `registry ${fake.addr}, repository busybox: get manifest latest: the manifest is not JSON`, 'Welcome to nginx');
    assert.equal(snapshot(), before);
    await fake.stop();
  });

  test('a layer whose bytes do not match its digest: bad digest, no image, no layer, no staging left', async () => {
    // A layer of its own: one the store has already would not be downloaded at all.
    const layer = tarArchive([{ name: 'evil', type: 'file', data: 'x'.repeat(100_000) }]);
    const img = registryImage('evil', 'latest', { layers: [layer], repoTags: ['evil:latest'], cmd: ['evil'] }, { corruptLayer: true });
    const fake = await startFakeRegistry(sb, dir, { routes: img.routes });
    servers.push(fake);
    const before = snapshot();
    refused(await pull([`${fake.addr}/evil`]), `registry ${fake.addr}, repository evil: get layer 0 sha256:`, 'bad digest: the content hashes to sha256:');
    assert.equal(snapshot(), before);
    assert.equal(stored().has(img.id), false);
    await fake.stop();
  });

  test('layers that try to write outside their directory (right digests): refused naming the member, nothing written, nothing stored', async () => {
    const hostile = hostileLayers();
    const routes: Record<string, { contentType: string; base64: string; digestHeader?: string }> = {};
    const cases = ['dot-dot', 'absolute', 'symlink-then-file', 'hardlink-out'] as const;
    for (const name of cases) Object.assign(routes, registryImage(`hostile/${name}`, 'latest', { layers: [hostile[name]!.layer], repoTags: [`${name}:latest`], cmd: [name] }).routes);
    const fake = await startFakeRegistry(sb, dir, { routes });
    servers.push(fake);
    const before = snapshot();
    const passwd = fs.readFileSync('/etc/passwd', 'utf8');
    for (const name of cases) {
      refused(await pull([`${fake.addr}/hostile/${name}`]), `registry ${fake.addr}, repository hostile/${name}: store the image:`, hostile[name]!.member);
      assert.equal(snapshot(), before, name);
    }
    assert.equal(fs.readFileSync('/etc/passwd', 'utf8'), passwd, 'the host\'s /etc/passwd is untouched');
    await fake.stop();
  });

  test('token auth: anonymous refused by the token server; credentials from Docker\'s config.json get a token', async () => {
    const img = registryImage('private/app', 'v2', { layers: [busyboxSpec().layers[0]!], repoTags: ['app:v2'], cmd: ['token'] });
    const fake = await startFakeRegistry(sb, dir, { routes: img.routes, auth: { kind: 'bearer', username: 'alice', password: 's3cret' } });
    servers.push(fake);
    const before = snapshot();
    refused(await pull([`${fake.addr}/private/app:v2`]), `registry ${fake.addr}, repository private/app: unauthorized: the token server http://${fake.addr} refused an anonymous token`);
    const config = fs.mkdtempSync(path.join(dir, 'docker-config-'));
    fs.writeFileSync(path.join(config, 'config.json'), JSON.stringify({ auths: { [fake.addr]: { auth: Buffer.from('alice:wrong').toString('base64') } } }));
    refused(await pull([`${fake.addr}/private/app:v2`], { ...process.env, DOCKER_CONFIG: config }), 'refused the credentials of alice');
    assert.equal(snapshot(), before);
    fs.writeFileSync(path.join(config, 'config.json'), JSON.stringify({ auths: { [fake.addr]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }));
    ok(await pull([`${fake.addr}/private/app:v2`], { ...process.env, DOCKER_CONFIG: config }));
    assert.ok(stored().get(img.id)?.includes(`${fake.addr}/private/app:v2`), snapshot());
    await fake.stop();
  });

  test('a manifest that is not what its digest says: by tag (Docker-Content-Digest) and by digest', async () => {
    const img = registryImage('liar', 'latest', { layers: [busyboxSpec().layers[0]!], repoTags: ['liar:latest'], cmd: ['liar'] });
    const wrong = `sha256:${'0'.repeat(64)}`;
    const routes = { ...img.routes };
    routes['v2/liar/manifests/latest'] = { ...routes['v2/liar/manifests/latest']!, digestHeader: wrong };
    routes[`v2/liar/manifests/${wrong}`] = { ...routes['v2/liar/manifests/latest']!, digestHeader: undefined };
    const fake = await startFakeRegistry(sb, dir, { routes });
    servers.push(fake);
    const before = snapshot();
    refused(await pull([`${fake.addr}/liar`]), `registry ${fake.addr}, repository liar: get manifest latest: bad digest: the registry announced ${wrong}, the content hashes to ${img.manifestDigest}`);
    refused(await pull([`${fake.addr}/liar@${wrong}`]), `get manifest ${wrong}: bad digest: the manifest's content hashes to ${img.manifestDigest}`);
    assert.equal(snapshot(), before);
    await fake.stop();
  });

  test('an image of 126 layers is refused before any download', async () => {
    const layers = Array.from({ length: 126 }, (_, i) => tarArchive([{ name: `f${i}`, type: 'file', data: `${i}\n` }]));
    const img = registryImage('deep', 'latest', { layers, repoTags: ['deep:latest'], cmd: ['deep'] });
    const fake = await startFakeRegistry(sb, dir, { routes: img.routes });
    servers.push(fake);
    const before = snapshot();
    refused(await pull([`${fake.addr}/deep`]), `registry ${fake.addr}, repository deep: the image has 126 layers, more than the 125`);
    assert.equal(snapshot(), before);
    await fake.stop();
  });

  test('a manifest larger than 4 MiB is refused, nothing stored', async () => {
    const fake = await startFakeRegistry(sb, dir, { routes: {}, hugeManifest: 5 * 1024 * 1024 });
    servers.push(fake);
    const before = snapshot();
    refused(await pull([`${fake.addr}/big`]), `registry ${fake.addr}, repository big: get manifest latest: the manifest is more than the 4194304 bytes nsnet accepts`);
    assert.equal(snapshot(), before);
    await fake.stop();
  });

  test('a registry that stops sending in the middle of a layer: timed out, nothing stored', async () => {
    // Random bytes: gzip leaves them big enough for half a layer to be a real download.
    const layer = tarArchive([{ name: 'slow', type: 'file', data: randomBytes(200_000) }]);
    const img = registryImage('slow', 'latest', { layers: [layer], repoTags: ['slow:latest'], cmd: ['slow'] });
    const fake = await startFakeRegistry(sb, dir, { routes: img.routes, stallBlobs: true });
    servers.push(fake);
    const before = snapshot();
    refused(await pull([`${fake.addr}/slow`], { ...process.env, NSNET_REGISTRY_TIMEOUT: '1' }), `registry ${fake.addr}, repository slow: get layer 0 sha256:`, 'no data for 1 s (timed out)');
    assert.equal(snapshot(), before);
    await fake.stop();
  });

  test('blobs redirected to storage on another host: followed, without the registry token', async () => {
    const img = registryImage('redirected', 'latest', { layers: [busyboxSpec().layers[0]!], repoTags: ['r:latest'], cmd: ['redirected'] });
    const fake = await startFakeRegistry(sb, dir, { routes: img.routes, redirectBlobs: true, auth: { kind: 'bearer', username: 'u', password: 'p' } });
    servers.push(fake);
    const config = fs.mkdtempSync(path.join(dir, 'docker-config-'));
    fs.writeFileSync(path.join(config, 'config.json'), JSON.stringify({ auths: { [fake.addr]: { auth: Buffer.from('u:p').toString('base64') } } }));
    ok(await pull([`${fake.addr}/redirected`], { ...process.env, DOCKER_CONFIG: config }));
    assert.ok(stored().has(img.id), snapshot());
    await fake.stop();
  });

  test('a token that expires in the middle of a pull is renewed once', async () => {
    const img = registryImage('expiring', 'latest', { layers: [tarArchive([{ name: 'e', type: 'file', data: 'expiring\n' }])], repoTags: ['e:latest'], cmd: ['e'] });
    const fake = await startFakeRegistry(sb, dir, { routes: img.routes, auth: { kind: 'bearer', username: 'u', password: 'p' }, tokenUses: 2 });
    servers.push(fake);
    const config = fs.mkdtempSync(path.join(dir, 'docker-config-'));
    fs.writeFileSync(path.join(config, 'config.json'), JSON.stringify({ auths: { [fake.addr]: { auth: Buffer.from('u:p').toString('base64') } } }));
    ok(await pull([`${fake.addr}/expiring`], { ...process.env, DOCKER_CONFIG: config }));
    assert.ok(stored().has(img.id), snapshot());
    await fake.stop();
  });

  test('basic auth: refused without credentials, pulled with them', async () => {
    const img = registryImage('basic', 'latest', { layers: [busyboxSpec().layers[0]!], repoTags: ['basic:latest'], cmd: ['basic'] });
    const fake = await startFakeRegistry(sb, dir, { routes: img.routes, auth: { kind: 'basic', username: 'bob', password: 'pw' } });
    servers.push(fake);
    refused(await pull([`${fake.addr}/basic`]), `registry ${fake.addr}, repository basic: get manifest latest: unauthorized (HTTP 401`);
    const config = fs.mkdtempSync(path.join(dir, 'docker-config-'));
    fs.writeFileSync(path.join(config, 'config.json'), JSON.stringify({ auths: { [fake.addr]: { auth: Buffer.from('bob:pw').toString('base64') } } }));
    ok(await pull([`${fake.addr}/basic`], { ...process.env, DOCKER_CONFIG: config }));
    assert.ok(stored().has(img.id), snapshot());
    await fake.stop();
  });
});
