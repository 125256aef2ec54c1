/**
 * The Docker Engine API's image endpoints over nsnet's image store (src/image): load (docker load),
 * create (docker pull, through the registry client), list with filters, inspect, history, tag and
 * delete. load and pull answer as dockerd does: a stream of JSON messages, one per line, which the
 * docker CLI prints; a failure once the stream has started is a last `{"errorDetail": ...}` line.
 * Shapes are built in image-views.ts.
 */
import type http from 'node:http';
import { parsePlatform } from '../image/registry-manifest.js';
import { pullImage } from '../image/pull.js';
import { pullSinkOf } from '../image/pull-store.js';
import { openImageStore, type ImageStore } from '../image/images.js';
import { normaliseReference } from '../image/reference.js';
import { ApiError, badRequest, errorAnswer } from './errors.js';
import { importImage } from './image-import.js';
import { parseFilterParam } from './events.js';
import { errorLine, filterImages, registryCredentials, IMAGE_FILTERS, imageHistory, imageInspect, imageSummary, loadedLines, statusLine, unixSeconds } from './image-views.js';
import type { ApiRequest, ApiResponse, RouteTable } from './router.js';
import { countImagesWith } from './routes-system.js';

/** The image store over the request's Context (its database: closed with the request's Context). */
function store(req: ApiRequest): ImageStore {
  const ctx = req.context();
  return openImageStore(ctx.root, { store: ctx.store });
}

/** `/images/{name*}` carries a suffix (/json, /tag, /history...): the image name and the verb. */
function splitName(rest: string, verbs: readonly string[]): { name: string; verb: string | undefined } {
  for (const verb of verbs) {
    if (rest.endsWith(`/${verb}`)) return { name: rest.slice(0, -verb.length - 1), verb };
  }
  return { name: rest, verb: undefined };
}

const truthy = (v: string | null): boolean => v !== null && /^(1|true|yes)$/i.test(v);

/**
 * Stream JSON message lines; what `work` throws before the first line is an ordinary error answer
 * (the client prints "Error response from daemon: ..."), after it a last errorDetail line.
 */
async function progressStream(res: ApiResponse, work: (write: (line: string) => void) => Promise<void>): Promise<void> {
  let raw: http.ServerResponse | undefined;
  const write = (line: string): void => {
    raw ??= res.stream(200, 'application/json');
    raw.write(line);
  };
  try {
    await work(write);
  } catch (err) {
    if (raw === undefined) throw err;
    raw.write(errorLine(errorAnswer(err).message));
  }
  (raw ?? res.stream(200, 'application/json')).end();
}

async function load(req: ApiRequest, res: ApiResponse): Promise<void> {
  // The archive is read as it arrives (no body limit: an image is as large as it is).
  const images = await store(req).load(req.raw);
  const quiet = truthy(req.query.get('quiet'));
  await progressStream(res, async (write) => {
    for (const line of loadedLines(images)) write(line);
    if (images.length === 0 && !quiet) write(statusLine('No images found in the archive'));
  });
}

/** docker import: fromSrc=- with the tar as the body; answers the new image's id as a status line. */
async function importFrom(req: ApiRequest, res: ApiResponse): Promise<void> {
  if (req.query.get('fromSrc') !== '-') throw new ApiError(501, 'docker import from a URL is not supported by nsnet: give the archive as a file or on stdin');
  const repo = req.query.get('repo') ?? '';
  const tag = req.query.get('tag') ?? '';
  const ref = repo === '' ? undefined : tag === '' ? repo : `${repo}:${tag}`;
  if (ref !== undefined) normaliseReference(ref); // a bad reference is a 400 before the body is read
  const platformText = req.query.get('platform');
  const platform = platformText === null || platformText === '' ? undefined : parsePlatform(platformText);
  const id = await importImage(store(req), req.raw, {
    ref,
    message: req.query.get('message') ?? undefined,
    changes: req.query.getAll('changes'),
    ...(platform !== undefined ? { os: platform.os, architecture: platform.architecture } : {}),
  });
  await progressStream(res, async (write) => write(statusLine(id)));
}

async function create(req: ApiRequest, res: ApiResponse): Promise<void> {
  if (req.query.get('fromSrc') !== null) return importFrom(req, res);
  const from = req.query.get('fromImage');
  if (from === null || from === '') throw badRequest('missing fromImage: POST /images/create needs ?fromImage=NAME[&tag=TAG]');
  const tag = req.query.get('tag');
  // The docker CLI sends the tag (or digest) apart: fromImage=busybox&tag=latest, tag=sha256:... for a digest.
  const input = tag === null || tag === '' ? from : tag.startsWith('sha256:') ? `${from}@${tag}` : `${from}:${tag}`;
  normaliseReference(input); // a bad reference is a 400 before the stream starts
  const platformText = req.query.get('platform');
  const platform = platformText === null || platformText === '' ? undefined : parsePlatform(platformText);
  const credentials = registryCredentials(req.headers['x-registry-auth']);
  const images = store(req);
  await progressStream(res, async (write) => {
    await pullImage(input, pullSinkOf(images), {
      ...(platform !== undefined ? { platform, platformExplicit: true } : {}),
      ...(credentials !== undefined ? { credentials } : {}),
      onProgress: (e) => write(statusLine(e.status, e.id)),
    });
  });
}

function list(req: ApiRequest, res: ApiResponse): void {
  const filters = parseFilterParam(req.query.get('filters'), IMAGE_FILTERS);
  const images = store(req);
  const all = images.list();
  const createdOf = (ref: string): number => {
    const img = images.resolve(ref);
    return unixSeconds(img.created ?? img.config.created);
  };
  const shown = filterImages(all, filters, createdOf);
  res.json(200, shown.map((img) => imageSummary(img, req.version)));
}

async function getImage(req: ApiRequest, res: ApiResponse): Promise<void> {
  const { name, verb } = splitName(req.params['name'] ?? '', ['json', 'history', 'get']);
  const images = store(req);
  if (verb === 'get') throw new ApiError(501, 'docker save is not supported by nsnet');
  if (verb === undefined) throw new ApiError(404, `page not found: GET /images/${name}`);
  const img = images.resolve(name);
  res.json(200, verb === 'json' ? imageInspect(img, images.layerDirs(img)) : imageHistory(img));
}

async function postImage(req: ApiRequest, res: ApiResponse): Promise<void> {
  const { name, verb } = splitName(req.params['name'] ?? '', ['tag', 'push']);
  if (verb === 'push') throw new ApiError(501, 'docker push is not supported by nsnet');
  if (verb === undefined) throw new ApiError(404, `page not found: POST /images/${name}`);
  const repo = req.query.get('repo');
  if (repo === null || repo === '') throw badRequest('missing repo: POST /images/{name}/tag needs ?repo=NAME[&tag=TAG]');
  const tag = req.query.get('tag');
  const target = tag === null || tag === '' ? repo : `${repo}:${tag}`;
  store(req).tag(name, target);
  res.empty(201);
}

async function removeImage(req: ApiRequest, res: ApiResponse): Promise<void> {
  const name = req.params['name'] ?? '';
  const report = store(req).remove(name, { force: truthy(req.query.get('force')) });
  res.json(200, report);
}

/** docker image prune: dangling images (filters dangling=true, the default), or with dangling=false every unused one. */
async function prune(req: ApiRequest, res: ApiResponse): Promise<void> {
  const filters = parseFilterParam(req.query.get('filters'), ['dangling', 'label', 'until']);
  for (const name of ['label', 'until']) {
    if ((filters.get(name) ?? []).length > 0) throw new ApiError(501, `docker image prune --filter ${name}=... is not supported by nsnet`);
  }
  const dangling = filters.get('dangling')?.at(-1)?.toLowerCase() ?? 'true';
  if (!['true', 'false', '1', '0'].includes(dangling)) throw badRequest(`invalid filter 'dangling=${dangling}': expected true or false`);
  const { events, reclaimed } = store(req).prune({ all: dangling === 'false' || dangling === '0' });
  // dockerd's report: null, not [], when nothing was deleted.
  res.json(200, { ImagesDeleted: events.length === 0 ? null : events, SpaceReclaimed: reclaimed });
}

export function imageRoutes(r: RouteTable): void {
  // A load or a pull may take minutes (a slow client, a slow registry): they run beside other
  // changes. The image store commits each under its own lock in one synchronous step.
  r.route('POST', '/images/load', load, { concurrent: true });
  r.route('POST', '/images/create', create, { concurrent: true });
  r.route('GET', '/images/json', async (req, res) => list(req, res));
  r.route('GET', '/images/{name*}', getImage);
  r.route('POST', '/images/{name*}', postImage);
  r.route('DELETE', '/images/{name*}', removeImage);
  r.unsupported('GET', '/images/get', 'docker save');
  r.unsupported('GET', '/images/search', 'docker search');
  r.route('POST', '/images/prune', prune);
  countImagesWith((ctx) => openImageStore(ctx.root, { store: ctx.store }).list().length);
}
