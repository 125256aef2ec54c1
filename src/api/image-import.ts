/**
 * docker import (POST /images/create?fromSrc=-): a root filesystem tar (gzip'd or not) in the
 * request body becomes a one-layer image. The body is spooled to the image store's staging
 * directory while its diff id (sha256 of the uncompressed tar) is computed, then handed to the
 * store's putLayer/commitImage like a pulled layer: all or nothing, and the layer is checked
 * against that digest as it is extracted. `changes` takes the Dockerfile instructions dockerd
 * accepts there (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { ImageStore } from '../image/images.js';
import { badRequest } from './errors.js';

export interface ImportOptions {
  /** The reference to give the image (repo[:tag]), if any. */
  ref?: string | undefined;
  /** The history comment (docker import -m). */
  message?: string | undefined;
  /** Dockerfile instructions (docker import -c). */
  changes: readonly string[];
  /** The image's platform, linux/amd64 unless the request names one. */
  os?: string;
  architecture?: string;
}

/** A Dockerfile instruction's arguments: the JSON form ["a", "b"], or the shell form as sh -c. */
function commandOf(args: string, instruction: string): string[] {
  if (args.trimStart().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(args);
    } catch {
      throw badRequest(`invalid change "${instruction} ${args}": not a JSON list of strings`);
    }
    if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw badRequest(`invalid change "${instruction} ${args}": not a JSON list of strings`);
    return parsed as string[];
  }
  return ['/bin/sh', '-c', args];
}

/** KEY=VALUE pairs (quotes allowed), or the legacy `KEY VALUE` form. */
function pairsOf(args: string, instruction: string): Array<[string, string]> {
  const eq = /^([^\s=]+)=/.test(args.trim());
  if (!eq) {
    const m = /^(\S+)\s+(.*)$/.exec(args.trim());
    if (m === null) throw badRequest(`invalid change "${instruction} ${args}": expected KEY=VALUE`);
    return [[m[1]!, m[2]!]];
  }
  const out: Array<[string, string]> = [];
  for (const m of args.matchAll(/([^\s=]+)=("((?:[^"\\]|\\.)*)"|\S*)/g)) out.push([m[1]!, m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[2]!]);
  return out;
}

/** The image config's `config` from `changes` (what dockerd's import accepts). */
export function configFromChanges(changes: readonly string[]): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const change of changes) {
    const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(change);
    if (m === null) throw badRequest(`invalid change "${change}": expected INSTRUCTION ARGUMENTS, e.g. CMD ["sh"]`);
    const instruction = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    switch (instruction) {
      case 'CMD':
        config['Cmd'] = commandOf(args, instruction);
        break;
      case 'ENTRYPOINT':
        config['Entrypoint'] = commandOf(args, instruction);
        break;
      case 'ENV': {
        const env = (config['Env'] as string[] | undefined) ?? [];
        for (const [k, v] of pairsOf(args, instruction)) env.push(`${k}=${v}`);
        config['Env'] = env;
        break;
      }
      case 'LABEL': {
        const labels = (config['Labels'] as Record<string, string> | undefined) ?? {};
        for (const [k, v] of pairsOf(args, instruction)) labels[k] = v;
        config['Labels'] = labels;
        break;
      }
      case 'EXPOSE': {
        const ports = (config['ExposedPorts'] as Record<string, object> | undefined) ?? {};
        for (const p of args.split(/\s+/)) {
          if (!/^\d{1,5}(\/(tcp|udp|sctp))?$/.test(p)) throw badRequest(`invalid change "EXPOSE ${args}": ${p} is not PORT[/PROTOCOL]`);
          ports[p.includes('/') ? p : `${p}/tcp`] = {};
        }
        config['ExposedPorts'] = ports;
        break;
      }
      case 'USER':
        config['User'] = args;
        break;
      case 'WORKDIR':
        config['WorkingDir'] = args;
        break;
      default:
        throw badRequest(`invalid change "${change}": docker import takes CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER and WORKDIR`);
    }
  }
  return config;
}

/** sha256 of the file's bytes, gunzipped first when they are gzip. */
async function diffIdOf(file: string): Promise<string> {
  const head = Buffer.alloc(2);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, 2, 0);
  } finally {
    fs.closeSync(fd);
  }
  const hash = createHash('sha256');
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (hash.update(chunk), done()) });
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  if (gzip) await pipeline(fs.createReadStream(file), zlib.createGunzip(), sink);
  else await pipeline(fs.createReadStream(file), sink);
  return `sha256:${hash.digest('hex')}`;
}

/** Import the tar `body` as a one-layer image; returns its id. */
export async function importImage(images: ImageStore, body: Readable, opts: ImportOptions): Promise<string> {
  const staging = images.files.stagingDir('import');
  try {
    const file = path.join(staging, 'rootfs.tar');
    await pipeline(body, fs.createWriteStream(file, { flags: 'wx', mode: 0o600 }));
    if (fs.statSync(file).size === 0) throw badRequest('docker import: the request body is empty; send a root filesystem tar');
    const diffId = await diffIdOf(file);
    const created = new Date().toISOString();
    const config = Buffer.from(
      JSON.stringify({
        architecture: opts.architecture ?? 'amd64',
        os: opts.os ?? 'linux',
        created,
        config: configFromChanges(opts.changes),
        rootfs: { type: 'layers', diff_ids: [diffId] },
        history: [{ created, created_by: 'nsnet import', ...(opts.message !== undefined && opts.message !== '' ? { comment: opts.message } : {}) }],
      }),
    );
    try {
      // A bottom layer's chain id is its diff id: the same root filesystem imported again is already stored.
      if (!images.layerExists(diffId)) {
        const source = fs.createReadStream(file);
        source.on('error', () => {}); // putLayer reports it; without a listener a late open error would end the server
        await images.putLayer(source, { diffId, parent: null }, 'imported root filesystem');
      }
      return images.commitImage(config, [diffId], opts.ref !== undefined ? [opts.ref] : []).id;
    } catch (err) {
      images.abort();
      throw err;
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
