/**
 * Registries for the pull tests, inside a sandbox's namespaces only: Debian's docker-registry
 * (`/usr/bin/docker-registry serve CONFIG`, with a temporary config and storage directory under
 * the sandbox's state directory, never the packaged system service) and the fake registry of
 * fake-registry.ts; images are pushed with skopeo. Each server is a child of the test process,
 * killed by stop() and by the sandbox's destroy() if a test fails before it.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describeResult, REPO, runSync, type Sandbox } from './sandbox.js';
import zlib from 'node:zlib';
import { tarArchive, type TarEntry } from '../../src/image/tar-write.js';
import type { FakeRegistrySpec } from './fake-registry.js';
import { hexOf, imageConfig, sha256, type ImageSpec } from './image-fixtures.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface RunningRegistry {
  /** host:port as a reference names it: 127.0.0.1:5000. */
  addr: string;
  child: ChildProcess;
  /** Everything it printed so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/** Resolves when `line` matches something the child printed; rejects when it exits or after 15 s. */
function waitFor(child: ChildProcess, match: RegExp, output: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const m = match.exec(output());
      if (m !== null) {
        cleanup();
        resolve(m[1] ?? m[0]);
      }
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`the registry exited (${code}) before it listened:\n${output()}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`the registry did not listen within 15 s:\n${output()}`));
    }, 15_000);
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.on('exit', onExit);
    check();
  });
}

function running(child: ChildProcess, addr: string, output: () => string): RunningRegistry {
  return {
    addr,
    child,
    log: output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}

function collect(child: ChildProcess): () => string {
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  return () => out;
}

/**
 * docker-registry listening on `listen` (e.g. 127.0.0.1:5000) in the sandbox's host or world
 * namespace, storing under a fresh directory in `dir`. Plain HTTP, no auth.
 */
export async function startRegistry(sb: Sandbox, dir: string, listen: string, where: 'host' | 'world' = 'host', opts: { tls?: SelfSigned } = {}): Promise<RunningRegistry> {
  const base = fs.mkdtempSync(path.join(dir, 'registry-'));
  const tls = opts.tls === undefined ? [] : ['  tls:', `    certificate: ${opts.tls.cert}`, `    key: ${opts.tls.key}`];
  const config = path.join(base, 'config.yml');
  fs.writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: info',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(base, 'storage')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${listen}`,
      ...tls,
      '',
    ].join('\n'),
  );
  const argv = [REGISTRY_BIN, 'serve', config];
  const child = where === 'host' ? sb.spawnInHost(argv) : sb.spawnInWorld(argv);
  const output = collect(child);
  await waitFor(child, /listening on/, output);
  return running(child, listen, output);
}

export interface SelfSigned {
  cert: string;
  key: string;
}

/** A self-signed certificate (its own CA) for an IP address, made with openssl in `dir`. */
export function selfSignedCert(dir: string, ip: string): SelfSigned {
  const base = fs.mkdtempSync(path.join(dir, 'tls-'));
  const cert = path.join(base, 'cert.pem');
  const key = path.join(base, 'key.pem');
  const r = runSync(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=nsnet test registry', '-addext', `subjectAltName=IP:${ip}`, '-keyout', key, '-out', cert]);
  if (r.code !== 0) throw new Error(`openssl failed: ${describeResult(r)}`);
  return { cert, key };
}

/** The fake registry of fake-registry.ts with this spec, in the sandbox's host namespace on 127.0.0.1 (a free port). */
export async function startFakeRegistry(sb: Sandbox, dir: string, spec: Omit<FakeRegistrySpec, 'host' | 'port'>): Promise<RunningRegistry> {
  const file = path.join(fs.mkdtempSync(path.join(dir, 'fake-registry-')), 'spec.json');
  fs.writeFileSync(file, JSON.stringify({ ...spec, host: '127.0.0.1', port: 0 }));
  const child = sb.spawnInHost([process.execPath, path.join(REPO, 'dist', 'test', 'helpers', 'fake-registry.js'), file]);
  const output = collect(child);
  const port = await waitFor(child, /listening (\d+)/, output);
  return running(child, `127.0.0.1:${port}`, output);
}

/**
 * skopeo copy of an archive (docker-archive:FILE, oci-archive:FILE[:REF]) to docker://DEST in the
 * sandbox's host (or world) namespace, plain HTTP; `all` copies every image of a list or index.
 */
export async function skopeoPush(sb: Sandbox, source: string, dest: string, opts: { all?: boolean; where?: 'host' | 'world' } = {}): Promise<void> {
  const argv = ['skopeo', '--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', ...(opts.all === true ? ['--all'] : []), source, `docker://${dest}`];
  const r = opts.where === 'world' ? await sb.inWorldAsync(argv, { timeoutMs: 60_000 }) : await sb.inHostAsync(argv, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`skopeo push failed: ${describeResult(r)}`);
}

/**
 * An OCI image layout tar whose index.json holds one entry, an image index named `refName`
 * (org.opencontainers.image.ref.name) over one manifest per platform: what
 * `skopeo copy --all oci-archive:FILE:REF docker://...` pushes as a manifest list. Each image's
 * config says its platform, so the images differ (different ids) even over the same layers.
 */
export function multiPlatformOciArchive(images: ReadonlyArray<{ spec: ImageSpec; os: string; architecture: string; variant?: string }>, refName: string): Buffer {
  const blobs = new Map<string, Buffer>();
  const put = (data: Buffer): { digest: string; size: number } => {
    const digest = sha256(data);
    blobs.set(digest, data);
    return { digest, size: data.length };
  };
  const manifests = images.map(({ spec, os, architecture, variant }) => {
    const base = JSON.parse(imageConfig(spec).toString('utf8')) as Record<string, unknown>;
    const config = Buffer.from(JSON.stringify({ ...base, os, architecture, ...(variant !== undefined ? { variant } : {}) }));
    const layers = spec.layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(zlib.gzipSync(l)) }));
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(config) }, layers }));
    return { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...put(manifest), platform: { os, architecture, ...(variant !== undefined ? { variant } : {}) } };
  });
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
  const top = { mediaType: 'application/vnd.oci.image.index.v1+json', ...put(index), annotations: { 'org.opencontainers.image.ref.name': refName } };
  const entries: TarEntry[] = [
    { name: 'oci-layout', type: 'file', data: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { name: 'index.json', type: 'file', data: JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [top] }) },
    { name: 'blobs', type: 'dir' },
    { name: 'blobs/sha256', type: 'dir' },
    ...[...blobs].map(([digest, data]): TarEntry => ({ name: `blobs/sha256/${hexOf(digest)}`, type: 'file', data })),
  ];
  return tarArchive(entries);
}

/** The image id (config digest) multiPlatformOciArchive gives the image of one platform. */
export function platformImageId(spec: ImageSpec, os: string, architecture: string, variant?: string): string {
  const base = JSON.parse(imageConfig(spec).toString('utf8')) as Record<string, unknown>;
  return sha256(Buffer.from(JSON.stringify({ ...base, os, architecture, ...(variant !== undefined ? { variant } : {}) })));
}
