/**
 * A small registry for the pull tests' hostile and auth cases, run as its own process inside a
 * sandbox namespace (`node dist/test/helpers/fake-registry.js SPEC.json`): it serves the
 * manifests and blobs of a spec file, and can answer garbage, serve a layer whose bytes do not
 * hash to its digest, or demand Bearer tokens from its own token endpoint (/token, which checks
 * basic credentials) or basic auth. It prints `listening PORT` on stdout once it accepts.
 *
 * The module also builds spec content from the image fixtures (registryImage), so the tests and
 * the server agree on digests.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { builtImage, type ImageSpec } from './image-fixtures.js';

export interface FakeRegistrySpec {
  host: string;
  port: number;
  /** Path (v2/<repo>/manifests/<ref> or v2/<repo>/blobs/<digest>) → content. */
  routes: Record<string, { contentType: string; base64: string; digestHeader?: string }>;
  auth?: { kind: 'bearer' | 'basic'; username: string; password: string };
  /** Answer every manifest with this text (garbage), as application/vnd.docker.distribution.manifest.v2+json. */
  garbageManifest?: string;
  /** Answer every manifest with this many bytes of JSON padding (more than a client should take). */
  hugeManifest?: number;
  /**
   * Blobs answer 307 to http://localhost:PORT/storage/<digest> (another host name, as a registry
   * sends clients to its object storage), which refuses a request that carries Authorization (as
   * S3 does when a signed URL comes with a second credential).
   */
  redirectBlobs?: boolean;
  /** With Bearer auth: each token is good for this many requests, then 401 (an expired token); /token hands out a new one. */
  tokenUses?: number;
  /** Blobs send their headers and half their bytes, then nothing more (the connection stays open). */
  stallBlobs?: boolean;
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface RegistryImage {
  id: string;
  manifest: Buffer;
  manifestDigest: string;
  config: Buffer;
  layers: Buffer[];
  routes: FakeRegistrySpec['routes'];
}

/**
 * One image's routes in a repository: a Docker schema 2 manifest under `tag` and by digest, the
 * config and gzip'd layers. `corruptLayer` serves layer 0 with one byte changed (same size).
 */
export function registryImage(repo: string, tag: string, spec: ImageSpec, opts: { corruptLayer?: boolean } = {}): RegistryImage {
  const img = builtImage(spec);
  const layers = spec.layers.map((l) => zlib.gzipSync(l));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: img.id, size: img.config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: sha(l), size: l.length })),
    }),
  );
  const manifestDigest = sha(manifest);
  const m = { contentType: 'application/vnd.docker.distribution.manifest.v2+json', base64: manifest.toString('base64'), digestHeader: manifestDigest };
  const routes: FakeRegistrySpec['routes'] = {
    [`v2/${repo}/manifests/${tag}`]: m,
    [`v2/${repo}/manifests/${manifestDigest}`]: m,
    [`v2/${repo}/blobs/${img.id}`]: { contentType: 'application/octet-stream', base64: img.config.toString('base64') },
  };
  layers.forEach((l, i) => {
    const served = Buffer.from(l);
    if (opts.corruptLayer === true && i === 0) served[served.length - 10] = served[served.length - 10]! ^ 0xff;
    routes[`v2/${repo}/blobs/${sha(l)}`] = { contentType: 'application/octet-stream', base64: served.toString('base64') };
  });
  return { id: img.id, manifest, manifestDigest, config: img.config, layers, routes };
}


function serve(spec: FakeRegistrySpec): void {
  const basic = spec.auth === undefined ? undefined : `Basic ${Buffer.from(`${spec.auth.username}:${spec.auth.password}`).toString('base64')}`;
  let token = 'fake-registry-token-0';
  let issued = 0;
  let uses = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'x'}`);
    const json = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (url.pathname.startsWith('/storage/')) {
      if (req.headers.authorization !== undefined) return json(400, { errors: [{ code: 'DENIED', message: 'credentials sent to storage' }] });
      const blob = Object.entries(spec.routes).find(([k]) => k.endsWith(`/blobs/${url.pathname.slice('/storage/'.length)}`))?.[1];
      if (blob === undefined) return json(404, { errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] });
      const body = Buffer.from(blob.base64, 'base64');
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) });
      res.end(body);
      return;
    }
    if (url.pathname === '/token') {
      if (spec.auth?.kind !== 'bearer' || req.headers.authorization !== basic) return json(401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] });
      token = `fake-registry-token-${++issued}`;
      uses = 0;
      return json(200, { token, expires_in: 300 });
    }
    if (spec.auth !== undefined) {
      const want = spec.auth.kind === 'bearer' ? `Bearer ${token}` : basic;
      const expired = spec.auth.kind === 'bearer' && spec.tokenUses !== undefined && req.headers.authorization === want && ++uses > spec.tokenUses;
      if (req.headers.authorization !== want || expired || (spec.auth.kind === 'bearer' && issued === 0)) {
        const challenge =
          spec.auth.kind === 'bearer'
            ? `Bearer realm="http://${spec.host}:${(server.address() as { port: number }).port}/token",service="fake-registry"`
            : 'Basic realm="fake-registry"';
        return json(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, { 'WWW-Authenticate': challenge });
      }
    }
    if (url.pathname === '/v2/') return json(200, {});
    const path = url.pathname.slice(1);
    if (spec.garbageManifest !== undefined && path.includes('/manifests/')) {
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' });
      res.end(spec.garbageManifest);
      return;
    }
    if (spec.hugeManifest !== undefined && path.includes('/manifests/')) {
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' });
      res.end(`{"schemaVersion":2,"padding":"${'x'.repeat(spec.hugeManifest)}"}`);
      return;
    }
    const route = spec.routes[path];
    if (route !== undefined && spec.redirectBlobs === true && path.includes('/blobs/')) {
      res.writeHead(307, { Location: `http://localhost:${(server.address() as { port: number }).port}/storage/${path.slice(path.lastIndexOf('/') + 1)}` });
      res.end();
      return;
    }
    if (route === undefined) {
      const code = path.includes('/manifests/') ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN';
      return json(404, { errors: [{ code, message: code === 'MANIFEST_UNKNOWN' ? 'manifest unknown' : 'blob unknown to registry' }] });
    }
    const body = Buffer.from(route.base64, 'base64');
    if (spec.stallBlobs === true && path.includes('/blobs/') && route.contentType === 'application/octet-stream' && body.length > 1000) {
      res.writeHead(200, { 'Content-Type': route.contentType, 'Content-Length': String(body.length) });
      res.write(body.subarray(0, body.length >> 1));
      return;
    }
    res.writeHead(200, { 'Content-Type': route.contentType, 'Content-Length': String(body.length), ...(route.digestHeader !== undefined ? { 'Docker-Content-Digest': route.digestHeader } : {}) });
    res.end(body);
  });
  server.listen(spec.port, spec.host, () => {
    process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  serve(JSON.parse(fs.readFileSync(process.argv[2] ?? '', 'utf8')) as FakeRegistrySpec);
}
