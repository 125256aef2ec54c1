/**
 * A container made from an image (run/create --image): what the image's config gives it, as
 * Docker applies it (Env under -e, Entrypoint and Cmd, WorkingDir, User, ExposedPorts, Labels),
 * and its root filesystem: ROOT/containers/ID/{upper,work,merged}, merged an overlay of the
 * image's layer directories under the container's own upper directory, mounted at start in the
 * host's mount namespace (typed steps: applied, undone, printed by --dry-run) and unmounted at
 * stop and rm. The process then runs exactly as with --rootfs merged.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NsnetError } from '../core/errors.js';
import type { Step } from '../plan/steps.js';
import { openImageStore } from '../image/images.js';
import type { ContainerRecord, Store } from '../store/index.js';
import { readAccounts, resolveUser } from './container-exec.js';
import { stateDirOf } from './container-state.js';
import { etcDir } from './dns-files.js';

/** The parts of an image's config (Docker's / OCI's `config` object) a container takes. */
export interface ImageRunConfig {
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  User?: string;
  ExposedPorts?: Record<string, unknown> | null;
  Labels?: Record<string, string> | null;
}

/** An image as the store resolves it: its id, its config and its layer directories (top first). */
export interface ResolvedImage {
  id: string;
  config: ImageRunConfig;
  layers: string[];
}

/** How ops reach the image store (src/image): a reference to its image's id, config and layers. */
export type ImageResolver = (root: string, store: Store, ref: string) => ResolvedImage;

/** The image store's answer ("No such image: REF", NOT_FOUND, when it has none). */
const fromImageStore: ImageResolver = (root, store, ref) => {
  const images = openImageStore(root, { store });
  const image = images.resolve(ref);
  return { id: image.id, config: image.config.config ?? {}, layers: images.layerDirs(image) };
};

let resolver: ImageResolver = fromImageStore;

/** Unit tests give images of their own (layer directories anywhere); undefined: the image store again. */
export function useImageResolver(r: ImageResolver | undefined): void {
  resolver = r ?? fromImageStore;
}

export const resolveImage = (root: string, store: Store, ref: string): ResolvedImage => resolver(root, store, ref);

/** What run/create --image was given on the command line beside the image. */
export interface ImageOverrides {
  argv: readonly string[];
  env: Readonly<Record<string, string>>;
  entrypoint?: readonly string[] | undefined;
  workdir?: string | undefined;
  user?: string | undefined;
  labels?: Readonly<Record<string, string>> | undefined;
  expose: readonly string[];
}

/** The container's own settings from its image and the overrides, as Docker merges them. */
export interface ImageDecision {
  command: string[];
  entrypoint: string[] | null;
  env: Record<string, string>;
  workingDir: string | null;
  user: string | null;
  labels: Record<string, string>;
  expose: string[];
}

/** "K=V" lines into a map (a line without "=" is the name with an empty value, as Docker keeps it). */
function envOf(lines: readonly string[] | null | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of lines ?? []) {
    const eq = line.indexOf('=');
    if (eq < 0) env[line] = '';
    else env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

/**
 * Docker's rules: -e over the image's Env; a command after the image replaces Cmd; --entrypoint
 * replaces Entrypoint and drops the image's Cmd (`--entrypoint ""` clears it); -w and -u replace
 * WorkingDir and User; --label over the image's Labels; the image's ExposedPorts are exposed.
 */
export function decideImageConfig(image: ResolvedImage, o: ImageOverrides): ImageDecision {
  const cfg = image.config;
  // `--entrypoint ""` (one empty word) clears the image's.
  const given = o.entrypoint?.length === 1 && o.entrypoint[0] === '' ? [] : o.entrypoint;
  const entrypoint = given !== undefined ? [...given] : [...(cfg.Entrypoint ?? [])];
  const cmd = o.argv.length > 0 ? [...o.argv] : o.entrypoint !== undefined ? [] : [...(cfg.Cmd ?? [])];
  if (entrypoint.length === 0 && cmd.length === 0) {
    throw new NsnetError('USAGE', 'No command specified: the image has no Entrypoint or Cmd', { hint: 'give one after --: nsnet run --image REF -- sh' });
  }
  const workingDir = o.workdir ?? (cfg.WorkingDir || undefined);
  if (workingDir !== undefined && !workingDir.startsWith('/')) {
    throw new NsnetError('INVALID_VALUE', `invalid working directory "${workingDir}": it needs to be an absolute path`, { hint: '-w /app' });
  }
  const user = o.user ?? (cfg.User || undefined);
  if (user !== undefined) validateUser(user);
  const exposed = Object.keys(cfg.ExposedPorts ?? {});
  return {
    command: cmd,
    entrypoint: entrypoint.length > 0 ? entrypoint : null,
    env: { ...envOf(cfg.Env), ...o.env },
    workingDir: workingDir ?? null,
    user: user ?? null,
    labels: { ...(cfg.Labels ?? {}), ...(o.labels ?? {}) },
    expose: [...new Set([...exposed, ...o.expose])],
  };
}

/**
 * Docker's User forms: NAME, UID, NAME:GROUP, UID:GID (and mixes). Only the shape is checked here;
 * names are looked up in the image's own /etc/passwd and /etc/group when the container starts
 * (its root is mounted then), as Docker does (a name the image lacks fails the start, not create).
 */
export function validateUser(user: string): void {
  if (!/^[^:\s]+(?::[^:\s]+)?$/.test(user)) {
    throw new NsnetError('INVALID_VALUE', `invalid user "${user}": give USER, UID, USER:GROUP or UID:GID`, { hint: '-u 1000:1000 or -u www-data' });
  }
}

/** The container's own directories: its overlay's upper and work directories and the mount point. */
export function rootfsDirs(root: string, id: string): { dir: string; upper: string; work: string; merged: string } {
  return dirsAround(stateDirOf(root, id));
}

function dirsAround(dir: string): { dir: string; upper: string; work: string; merged: string } {
  return { dir, upper: path.join(dir, 'upper'), work: path.join(dir, 'work'), merged: path.join(dir, 'merged') };
}

/** An image's container's directories, from its record (its root is DIR/merged). */
const dirsOf = (c: ContainerRecord): ReturnType<typeof dirsAround> => dirsAround(path.dirname(c.rootfs ?? ''));

/** Docker's /etc/hostname: a file of the container's, bind-mounted into its root. */
export const hostnameFileOf = (c: ContainerRecord): string => path.join(dirsOf(c).dir, 'hostname');

/**
 * The steps that give an image's container its root: the overlay (which also makes /dev's device
 * files, its ptmx link and a WorkingDir the image lacks), /dev/pts and /dev/shm, then the files
 * bind-mounted into it (nsnet writes /etc/netns/NAME/{hosts,resolv.conf} and the hostname file in
 * place, so the mounts see every rewrite). Empty for a container without an image.
 */
export function rootfsSteps(c: ContainerRecord): Step[] {
  if (c.imageLayers == null || c.rootfs === null) return [];
  const d = dirsOf(c);
  return [
    { kind: 'overlay-mount', target: d.merged, lower: [...c.imageLayers], upper: d.upper, work: d.work, ...(c.workingDir == null ? {} : { workingDir: c.workingDir }) },
    // Docker's: a devpts instance of the container's own (its terminals, /dev/ptmx -> pts/ptmx made
    // by the overlay step) and a 64 MB tmpfs for POSIX shared memory.
    { kind: 'fs-mount', fstype: 'devpts', root: d.merged, path: 'dev/pts', flags: ['nosuid', 'noexec'], options: 'newinstance,ptmxmode=0666,mode=0620,gid=5' },
    { kind: 'fs-mount', fstype: 'tmpfs', root: d.merged, path: 'dev/shm', flags: ['nosuid', 'nodev', 'noexec'], options: 'mode=1777,size=65536k' },
    ...resolverFilesOf(c).map((source): Step => ({ kind: 'bind-mount', source, root: d.merged, path: `etc/${path.basename(source)}` })),
    { kind: 'bind-mount', source: hostnameFileOf(c), root: d.merged, path: 'etc/hostname' },
  ];
}

/**
 * Where its /etc/hosts and /etc/resolv.conf come from, as Docker shares them: the host's own with
 * --network host (those that exist: nsnet never makes a host file), the joined container's with
 * --network container:NAME, its own /etc/netns/NAME files otherwise.
 */
function resolverFilesOf(c: ContainerRecord): string[] {
  if (c.networkMode === 'host') return ['/etc/hosts', '/etc/resolv.conf'].filter((f) => fs.existsSync(f));
  const owner = c.networkMode?.startsWith('container:') === true && c.netns !== '' ? path.basename(c.netns) : c.name;
  return [path.join(etcDir(owner), 'hosts'), path.join(etcDir(owner), 'resolv.conf')];
}

/** The teardown of an image's container root (its bind mounts go with it); empty without an image. */
export function unmountSteps(c: ContainerRecord): Step[] {
  return c.imageLayers == null || c.rootfs === null ? [] : [{ kind: 'unmount', target: c.rootfs }];
}

/**
 * The numeric UID:GID its process runs as: its User (an image's, -u) looked up in the account
 * files of its mounted root, as exec looks up its -u (a number the files lack stays as it is,
 * group 0). undefined: root, as Docker's default.
 */
export function containerUser(c: Pick<ContainerRecord, 'user' | 'rootfs'>): string | undefined {
  if (c.user == null) return undefined;
  return resolveUser(c.user, readAccounts(c.rootfs ?? '/nonexistent'));
}

/** The program the container runs: its Entrypoint, then its Cmd. */
export const processArgv = (c: ContainerRecord): string[] => [...(c.entrypoint ?? []), ...c.command];
