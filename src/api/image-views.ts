/**
 * Images as the Docker Engine API shows them (API 1.41, dockerd 20.10's shapes): the summaries of
 * GET /images/json with its filters, the ImageInspect of GET /images/{name}/json, the history, and
 * the lines of the JSON progress streams (load, pull). Pure functions over the image store's records,
 * so every shape is checked by unit tests without a server.
 */
import { familiarReference } from '../image/reference.js';
import type { Credentials } from '../image/registry-auth.js';
import { badRequest } from './errors.js';
import { labelMatches, type EventFilters } from './events.js';

/** What the views need of an image (the image store's ImageRecord has at least this). */
export interface ImageFacts {
  /** sha256:<hex> of the config blob. */
  id: string;
  /** References naming it by tag, in any form (normalised or familiar). */
  repoTags: readonly string[];
  /** NAME@sha256:... references. */
  repoDigests: readonly string[];
  /** The config's created time (RFC 3339), when it has one. */
  created: string | null | undefined;
  /** Bytes of its layers' files. */
  size: number;
  /** The image config JSON (architecture, os, config{...}, rootfs{diff_ids}, history). */
  config: ImageConfigJson;
}

export interface ImageConfigJson {
  architecture?: string;
  os?: string;
  variant?: string;
  author?: string;
  created?: string;
  docker_version?: string;
  config?: Record<string, unknown> | null;
  rootfs?: { type?: string; diff_ids?: string[] };
  history?: unknown[];
}

/** The docker CLI's short form (busybox:latest); a stored reference that does not parse is shown as it is. */
export function familiar(ref: string): string {
  try {
    return familiarReference(ref);
  } catch {
    return ref;
  }
}

/** Unix seconds of an RFC 3339 time (0 when there is none, as dockerd shows an unknown time). */
export function unixSeconds(time: string | null | undefined): number {
  const ms = time === null || time === undefined ? NaN : Date.parse(time);
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

const labelsOf = (img: ImageFacts): Record<string, string> => {
  const labels = img.config.config?.['Labels'];
  return labels !== null && typeof labels === 'object' ? (labels as Record<string, string>) : {};
};

/** An image with no tag: dockerd's "dangling". */
export const isDangling = (img: ImageFacts): boolean => img.repoTags.length === 0;

/** One entry of GET /images/json. */
export function imageSummary(img: ImageFacts, version: string): Record<string, unknown> {
  const tags = img.repoTags.map(familiar);
  const digests = img.repoDigests.map(familiar);
  const labels = labelsOf(img);
  return {
    Containers: -1,
    Created: unixSeconds(img.created ?? img.config.created),
    Id: img.id,
    Labels: Object.keys(labels).length === 0 ? null : labels,
    ParentId: '',
    // API < 1.43 shows an untagged image as <none>:<none>, as docker 20.10's `docker images` expects.
    RepoDigests: digests.length === 0 && olderThan(version, '1.43') && isDangling(img) ? ['<none>@<none>'] : digests,
    RepoTags: tags.length === 0 && olderThan(version, '1.43') ? ['<none>:<none>'] : tags,
    SharedSize: -1,
    Size: img.size,
    ...(olderThan(version, '1.44') ? { VirtualSize: img.size } : {}),
  };
}

function olderThan(version: string, than: string): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  const [c = 0, d = 0] = than.split('.').map(Number);
  return a !== c ? a < c : b < d;
}

/** The container config of an image as ImageInspect's Config: every key dockerd writes, image values over defaults. */
function containerConfig(config: Record<string, unknown> | null | undefined): Record<string, unknown> {
  const c = config ?? {};
  return {
    Hostname: '',
    Domainname: '',
    User: c['User'] ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ...(c['ExposedPorts'] !== undefined ? { ExposedPorts: c['ExposedPorts'] } : {}),
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: c['Env'] ?? null,
    Cmd: c['Cmd'] ?? null,
    Image: '',
    Volumes: c['Volumes'] ?? null,
    WorkingDir: c['WorkingDir'] ?? '',
    Entrypoint: c['Entrypoint'] ?? null,
    OnBuild: c['OnBuild'] ?? null,
    Labels: c['Labels'] ?? null,
    ...(c['StopSignal'] !== undefined ? { StopSignal: c['StopSignal'] } : {}),
    ...(c['Healthcheck'] !== undefined ? { Healthcheck: c['Healthcheck'] } : {}),
  };
}

/** GET /images/{name}/json: Docker's ImageInspect. layerDirs are the overlay lower directories, top first. */
export function imageInspect(img: ImageFacts, layerDirs: readonly string[]): Record<string, unknown> {
  const cfg = img.config;
  return {
    Id: img.id,
    RepoTags: img.repoTags.map(familiar),
    RepoDigests: img.repoDigests.map(familiar),
    Parent: '',
    Comment: '',
    Created: img.created ?? cfg.created ?? '0001-01-01T00:00:00Z',
    Container: '',
    ContainerConfig: containerConfig(null),
    DockerVersion: cfg.docker_version ?? '',
    Author: cfg.author ?? '',
    Config: containerConfig(cfg.config),
    Architecture: cfg.architecture ?? '',
    ...(cfg.variant !== undefined ? { Variant: cfg.variant } : {}),
    Os: cfg.os ?? '',
    Size: img.size,
    VirtualSize: img.size,
    GraphDriver: {
      // nsnet's layers are overlayfs lower directories as overlay2's are (no upper: an image has none).
      Data: layerDirs.length === 0 ? null : { LowerDir: layerDirs.join(':') },
      Name: 'overlay2',
    },
    RootFS: { Type: cfg.rootfs?.type ?? 'layers', Layers: cfg.rootfs?.diff_ids ?? [] },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  };
}

interface HistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
}

/** GET /images/{name}/history: newest first, as dockerd; only the top entry carries the id and tags. */
export function imageHistory(img: ImageFacts): Array<Record<string, unknown>> {
  const history = (img.config.history ?? []).map((h) => (h !== null && typeof h === 'object' ? (h as HistoryEntry) : {}));
  const entries = history.map((h, i) => ({
    Id: i === history.length - 1 ? img.id : '<missing>',
    Created: unixSeconds(h.created),
    CreatedBy: h.created_by ?? '',
    Tags: i === history.length - 1 && img.repoTags.length > 0 ? img.repoTags.map(familiar) : null,
    Size: 0,
    Comment: h.comment ?? '',
  }));
  return entries.reverse();
}

// ---------------------------------------------------------------------------------------------
// GET /images/json filters

export const IMAGE_FILTERS = ['reference', 'dangling', 'label', 'before', 'since'];

/** path.Match's glob over one reference: `*` and `?` never cross a `/`; `[...]` as a class. */
function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw badRequest(`invalid reference filter "${pattern}": an unclosed [`);
      const body = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
      re += `[${body.startsWith('^') ? `^${body.slice(1)}` : body}]`;
      i = end;
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * dockerd's reference filter for one reference: the glob is matched against the familiar form
 * (`busybox:latest`) and, when that fails, against the name alone (`busybox`, `localhost:5000/*`).
 */
export function refMatches(pattern: string, ref: string): boolean {
  const re = globToRegExp(pattern);
  const shown = familiar(ref);
  return re.test(shown) || re.test(shown.replace(/@sha256:[0-9a-f]+$/, '').replace(/:[^:/]+$/, ''));
}

/** Whether any of an image's references matches the pattern. */
export function referenceMatches(pattern: string, img: ImageFacts): boolean {
  return [...img.repoTags, ...img.repoDigests].some((ref) => refMatches(pattern, ref));
}

/**
 * Apply GET /images/json's filters. `before`/`since` name an image (resolved by the caller into
 * its created time). An unknown filter or a bad dangling value is a 400 with dockerd's words.
 */
export function filterImages<T extends ImageFacts>(images: readonly T[], filters: EventFilters, createdOf: (ref: string) => number): T[] {
  const dangling = filters.get('dangling');
  let wantDangling: boolean | undefined;
  if (dangling !== undefined && dangling.length > 0) {
    const v = dangling[dangling.length - 1]!.toLowerCase();
    if (v !== 'true' && v !== 'false' && v !== '1' && v !== '0') throw badRequest(`invalid filter 'dangling=${dangling[dangling.length - 1]}': expected true or false`);
    wantDangling = v === 'true' || v === '1';
  }
  const before = filters.get('before')?.map(createdOf);
  const since = filters.get('since')?.map(createdOf);
  const patterns = filters.get('reference') ?? [];
  // As dockerd: with a reference filter an image shows only the references that matched.
  const narrowed = patterns.length === 0 ? images : images.flatMap((img) => {
    const keep = (refs: readonly string[]): string[] => refs.filter((r) => patterns.some((p) => refMatches(p, r)));
    const repoTags = keep(img.repoTags);
    const repoDigests = keep(img.repoDigests);
    return repoTags.length + repoDigests.length === 0 ? [] : [{ ...img, repoTags, repoDigests }];
  });
  return narrowed.filter((img) => {
    const created = unixSeconds(img.created ?? img.config.created);
    if (wantDangling !== undefined && isDangling(img) !== wantDangling) return false;
    const labels = filters.get('label');
    if (labels !== undefined && !labels.every((l) => labelMatches(l, labelsOf(img)))) return false;
    if (before !== undefined && !before.every((t) => created < t)) return false;
    if (since !== undefined && !since.every((t) => created > t)) return false;
    return true;
  });
}

/** X-Registry-Auth: base64url JSON {username, password, serveraddress} (an empty one is none). */
export function registryCredentials(header: string | string[] | undefined): Credentials | undefined {
  const text = Array.isArray(header) ? header[0] : header;
  if (text === undefined || text.trim() === '' || text === 'e30=' || text === 'e30') return undefined;
  let auth: unknown;
  try {
    auth = JSON.parse(Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
  } catch {
    throw badRequest('invalid X-Registry-Auth header: expected base64url-encoded JSON');
  }
  const o = (auth ?? {}) as Record<string, unknown>;
  const username = typeof o['username'] === 'string' ? o['username'] : '';
  const password = typeof o['password'] === 'string' ? o['password'] : typeof o['identitytoken'] === 'string' ? o['identitytoken'] : '';
  return username === '' && password === '' ? undefined : { username, password };
}

// ---------------------------------------------------------------------------------------------
// JSON progress streams (docker load, docker pull): one JSON message per line

/** A line of text for the client to print (`{"stream": "Loaded image: busybox:latest\n"}`). */
export const streamLine = (text: string): string => `${JSON.stringify({ stream: text.endsWith('\n') ? text : `${text}\n` })}\n`;

/** A status line, with the id it is about (a layer's short id, a tag) when there is one. */
export const statusLine = (status: string, id?: string, progress?: { current: number; total?: number }): string =>
  `${JSON.stringify({ status, ...(id !== undefined ? { id } : {}), ...(progress !== undefined ? { progressDetail: progress } : {}) })}\n`;

/** An error after the answer has started: the client prints message and exits 1. */
export const errorLine = (message: string): string => `${JSON.stringify({ errorDetail: { message }, error: message })}\n`;

/** What a load did to one image (the image store's LoadedImage has it). */
export interface LoadFacts {
  id: string;
  /** The references this load set, familiar; none for an image the archive does not name. */
  loadedRefs: readonly string[];
  /** References moved here from another image. */
  moved: readonly { ref: string; from: string }[];
}

/** docker load's lines, in dockerd's words: a moved reference, then each reference loaded, or the id of an unnamed image. */
export function loadedLines(images: readonly LoadFacts[]): string[] {
  const lines: string[] = [];
  for (const img of images) {
    for (const m of img.moved) lines.push(streamLine(`The image ${familiar(m.ref)} already exists, renaming the old one with ID ${m.from} to empty string`));
    if (img.loadedRefs.length === 0) lines.push(streamLine(`Loaded image ID: ${img.id}`));
    for (const ref of img.loadedRefs) lines.push(streamLine(`Loaded image: ${familiar(ref)}`));
  }
  return lines;
}
