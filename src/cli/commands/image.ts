/**
 * `nsnet image load|ls|inspect|tag|rm`: the image store (src/image/images.ts) with Docker's
 * output — `Loaded image: busybox:latest`, `docker images`' columns, `Untagged:`/`Deleted:` lines
 * and `No such image: X`.
 */
import fs from 'node:fs';
import tty from 'node:tty';
import { Command } from 'commander';
import { NsnetError } from '../../core/errors.js';
import { openImageStore, type ImageRecord, type ImageStore } from '../../image/images.js';
import { ApiError } from '../../api/errors.js';
import { filterImages, IMAGE_FILTERS, imageInspect, imageSummary, unixSeconds } from '../../api/image-views.js';
import { API_VERSION } from '../../api/router.js';
import { familiarName, parseReference } from '../../image/reference.js';
import { eachRef, eachRefAsync } from '../../ops/each.js';
import { since } from '../listing/docker-time.js';
import { renderEach, renderListing, type ListingShape } from '../listing/render.js';
import { collect, contextFor, formatOf, templateOf, withCommon } from '../common.js';
import { printJson, printLines } from '../output.js';
import { printDoneThenFail } from '../run-command.js';
import { imagePullCommand } from './image-pull.js';

/** With the image store of the command's state root (the Context's database); closed after. */
async function withImages<T>(cmd: Command, needsRoot: boolean, fn: (images: ImageStore, ctx: ReturnType<typeof contextFor>) => T | Promise<T>): Promise<T> {
  const ctx = contextFor(cmd, needsRoot);
  const images = openImageStore(ctx.root, { store: ctx.store });
  try {
    return await fn(images, ctx);
  } finally {
    images.close();
    ctx.close();
  }
}

export function imageCommand(): Command {
  const image = new Command('image').description('images: load docker save / OCI archives, list, inspect, tag, remove');

  withCommon(image.command('load'), { dryRun: false })
    .description('load images from a docker save or OCI image layout tar (gzip\'d or not), from a file or stdin')
    .option('-i, --input <file>', 'read from the file instead of stdin')
    .option('-q, --quiet', 'print only the loaded references')
    .action(async (o: { input?: string; quiet?: boolean }, cmd: Command) => {
      await withImages(cmd, true, async (images) => {
        const input = o.input ?? stdinArchive();
        const loaded = await images.load(input);
        if (formatOf(cmd) === 'json') return printJson(loaded.map((l) => ({ Id: l.id, RepoTags: l.loadedRefs })));
        const lines: string[] = [];
        for (const l of loaded) {
          if (o.quiet !== true) for (const m of l.moved) lines.push(`The image ${m.ref} already exists, renaming the old one with ID ${m.from} to empty string`);
          if (l.loadedRefs.length === 0) lines.push(`Loaded image ID: ${l.id}`);
          for (const ref of l.loadedRefs) lines.push(`Loaded image: ${ref}`);
        }
        printLines(lines);
      });
    });

  withCommon(image.command('ls'), { dryRun: false, templates: true })
    .alias('list')
    .description('list images (docker images)')
    .argument('[reference]', 'only this repository, or REPOSITORY:TAG')
    .option('-a, --all', 'accepted for Docker\'s sake (nsnet keeps no intermediate images)')
    .option('-q, --quiet', 'only the image ids')
    .option('--no-trunc', 'full image ids')
    .option('-f, --filter <key=value>', `filter, repeatable: reference=GLOB, dangling=true|false, label=KEY[=VALUE], before=IMAGE, since=IMAGE`, collect)
    .action(async (reference: string | undefined, o: { quiet?: boolean; trunc?: boolean; filter?: string[] }, cmd: Command) => {
      await withImages(cmd, false, (images) => {
        const filters = parseImageFilters(o.filter ?? []);
        const shown = filtered(() => filterImages(images.list(), filters, (ref) => unixSeconds(images.resolve(ref).created)));
        const rows = imageRows(shown, reference, o.trunc !== false, Date.now());
        if (o.quiet === true) return printLines([...new Set(rows.map((r) => r.ID))]);
        const template = templateOf(cmd);
        if (formatOf(cmd) === 'json') return printJson(images.list().filter((img) => rows.some((r) => r.full === img.id)).map((img) => imageSummary(img, API_VERSION)));
        printLines(renderListing(template ?? 'table', rows, IMAGE_LISTING));
      });
    });

  withCommon(image.command('inspect'), { dryRun: false, templates: true, shortFormat: true })
    .description('images in Docker\'s JSON (docker image inspect)')
    .argument('<image...>', 'references or ids')
    .action(async (refs: string[], _o: unknown, cmd: Command) => {
      await withImages(cmd, false, (images) => {
        const outcome = eachRef(refs, 'inspect image', (ref) => images.resolve(ref));
        const objects = outcome.done.map((img) => imageInspect(img, images.layerDirs(img)));
        const template = templateOf(cmd);
        if (template !== undefined) printLines(renderEach(template, objects));
        else printJson(objects);
        if (outcome.failures.length > 0) throw outcome.failures.length === 1 ? outcome.failures[0]! : new NsnetError(outcome.failures[0]!.code, outcome.failures.map((f) => f.message).join('\n'));
      });
    });

  withCommon(image.command('tag'), { dryRun: false })
    .description('give an image another reference (docker tag)')
    .argument('<source>', 'the image: reference or id')
    .argument('<target>', 'the new reference, NAME[:TAG]')
    .action(async (source: string, target: string, _o: unknown, cmd: Command) => {
      await withImages(cmd, false, (images) => images.tag(source, target));
    });

  withCommon(image.command('rm'), { dryRun: false })
    .alias('remove')
    .description('remove images (docker rmi): untag, and delete an image with its last reference')
    .argument('<image...>', 'references or ids')
    .option('-f, --force', 'remove an image with several references by id; untag an image stopped containers use')
    .action(async (refs: string[], o: { force?: boolean }, cmd: Command) => {
      await withImages(cmd, true, async (images, ctx) => {
        // Under the host lock too, so no container is made from an image while it goes.
        const release = ctx.lock();
        try {
          const outcome = await eachRefAsync(refs, 'remove image', async (ref) =>
            images
              .remove(ref, { force: o.force === true })
              .map((e) => ('Untagged' in e ? `Untagged: ${e.Untagged}` : `Deleted: ${e.Deleted}`))
              .join('\n'),
          );
          printDoneThenFail(ctx, 'remove images', outcome);
        } finally {
          release();
        }
      });
    });

  image.addCommand(imagePullCommand());
  withCommon(image.command('prune'), { dryRun: false })
    .description('remove images no container uses: untagged ones (docker image prune), or all of them with -a')
    .option('-a, --all', 'also images with references')
    .option('-f, --force', 'accepted for Docker\'s sake (nsnet does not ask)')
    .action(async (o: { all?: boolean }, cmd: Command) => {
      await withImages(cmd, true, (images, ctx) => {
        const release = ctx.lock();
        try {
          const { events, reclaimed } = images.prune({ all: o.all === true });
          if (formatOf(cmd) === 'json') return printJson({ ImagesDeleted: events, SpaceReclaimed: reclaimed });
          const lines = events.length === 0 ? [] : ['Deleted Images:', ...events.map((e) => ('Untagged' in e ? `untagged: ${e.Untagged}` : `deleted: ${e.Deleted}`)), ''];
          printLines([...lines, `Total reclaimed space: ${humanSize(reclaimed)}`]);
        } finally {
          release();
        }
      });
    });

  return image;
}

/** `-f KEY=VALUE` flags as the API's filters (dockerd's names; an unknown one refused naming the known ones). */
export function parseImageFilters(flags: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    const key = eq < 0 ? flag : flag.slice(0, eq);
    if (eq < 0 || !IMAGE_FILTERS.includes(key)) {
      throw new NsnetError('USAGE', `invalid filter '${flag}'`, { hint: `filters are KEY=VALUE with KEY one of ${IMAGE_FILTERS.join(', ')}` });
    }
    out.set(key, [...(out.get(key) ?? []), flag.slice(eq + 1)]);
  }
  return out;
}

/** The API's filter errors (a 400 there) are the user's bad value here. */
function filtered<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ApiError) throw new NsnetError('INVALID_VALUE', err.message, { cause: err });
    throw err;
  }
}

/** stdin as docker load takes it; a terminal is refused as Docker does. */
function stdinArchive(): fs.ReadStream {
  if (tty.isatty(0)) {
    throw new NsnetError('USAGE', 'requested load from stdin, but stdin is empty', { hint: 'nsnet image load -i FILE, or nsnet image load < FILE' });
  }
  // /dev/stdin opens what descriptor 0 is (a file or a pipe) afresh, also inside the nsnet service,
  // which puts the client's stdin on its descriptor 0 for the length of the command. A socket
  // cannot be opened that way (ENXIO: what Node's child_process gives as stdin): read fd 0 itself.
  try {
    return fs.createReadStream('', { fd: fs.openSync('/dev/stdin', 'r'), highWaterMark: 1 << 20 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
    return fs.createReadStream('', { fd: 0, autoClose: false, highWaterMark: 1 << 20 });
  }
}

interface ImageRow extends Record<string, unknown> {
  Repository: string;
  Tag: string;
  ID: string;
  full: string;
  CreatedSince: string;
  CreatedAt: string;
  Size: string;
  Digest: string;
}

const IMAGE_LISTING: ListingShape = {
  structType: 'formatter.imageContext',
  headers: { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', Size: 'SIZE', Digest: 'DIGEST' },
  defaultTable: 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}',
};

/** `docker images`' rows: one per tag (`<none>` for an untagged image), newest image first. */
export function imageRows(all: readonly ImageRecord[], filter: string | undefined, trunc: boolean, now: number): ImageRow[] {
  const want = filter === undefined ? undefined : parseReference(filter);
  const wantTag = filter !== undefined && filter.lastIndexOf(':') > filter.lastIndexOf('/');
  const rows: ImageRow[] = [];
  const sorted = [...all].sort((a, b) => Date.parse(b.created) - Date.parse(a.created) || b.loaded.localeCompare(a.loaded));
  for (const img of sorted) {
    const id = trunc ? img.id.slice('sha256:'.length, 'sha256:'.length + 12) : img.id;
    const base = { ID: id, full: img.id, CreatedSince: `${since(img.created, now)} ago`, CreatedAt: img.created, Size: humanSize(img.size) };
    const tags = img.repoTags.map((t) => parseReference(t));
    if (tags.length === 0) {
      if (want === undefined) rows.push({ ...base, Repository: '<none>', Tag: '<none>', Digest: '<none>' });
      continue;
    }
    for (const t of tags) {
      if (want !== undefined && (t.domain !== want.domain || t.path !== want.path || (wantTag && t.tag !== want.tag))) continue;
      rows.push({ ...base, Repository: familiarName(t), Tag: t.tag ?? '<none>', Digest: '<none>' });
    }
  }
  return rows;
}

/** go-units HumanSizeWithPrecision(size, 3): decimal units, three significant digits ("4.26MB"). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < units.length - 1) {
    size /= 1000;
    i++;
  }
  return `${Number(size.toPrecision(3))}${units[i]}`;
}
