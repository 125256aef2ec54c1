/**
 * The CNI driver (test/cni-driver/main.go): a small Go program on the reference CNI library
 * (libcni 1.1.2 from Debian's golang-github-appc-cni-dev) that calls CNI plugins the way container
 * runtimes do. Tests build it into a fresh temp dir, run it inside a sandbox namespace
 * (`sb.inHost([bin, 'add', ...])`) and remove it with cleanup().
 *
 * The build is offline and hermetic: GOPATH mode (GO111MODULE=off) against the Debian sources in
 * /usr/share/gocode, no proxy, no user go env, and the Go build cache inside the temp dir (unless
 * the caller passes a cache dir of its own to share between builds). With a fresh cache a build
 * takes about 1 s (0.9-2 s; Debian's Go 1.19 ships the standard library precompiled, so only the
 * CNI packages and the driver compile); with a warm shared cache about 0.35 s.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, STATE_DIR_PREFIX, describeResult, runAsync, runSync, type RunResult } from './sandbox.js';

export const CNI_DRIVER_SRC = path.join(REPO, 'test', 'cni-driver');
/** Where Debian's golang-*-dev packages put Go sources (GOPATH layout). */
export const CNI_GOPATH = '/usr/share/gocode';
export const LIBCNI_SRC = path.join(CNI_GOPATH, 'src', 'github.com', 'containernetworking', 'cni');
/** Directories that hold the CNI reference plugins (bridge, host-local, ...) on Debian and elsewhere. */
export const REFERENCE_PLUGIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];

export interface CniDriverBuild {
  /** The driver executable. */
  bin: string;
  /** The temp dir (os.tmpdir()/nsnet-test-cni-*) holding it; cleanup() removes it. */
  dir: string;
  /** Wall time of `go build`, milliseconds. */
  buildMs: number;
  cleanup(): void;
}

export interface CniDriverBuildOptions {
  /**
   * A Go build cache to use (and keep) instead of a fresh one inside the temp dir; the caller
   * removes it. Sharing one makes later builds take ~0.35 s instead of ~1 s.
   */
  goCache?: string;
  /** Milliseconds before `go build` is killed. Default 180 s. */
  timeoutMs?: number;
}

/**
 * `go` on PATH, and only there: what a machine without Go on PATH (a CI image that lost it, or a
 * test run with it taken off PATH on purpose) must report, rather than finding one elsewhere.
 */
function findGo(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  for (const d of dirs) {
    const p = path.join(d, 'go');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Why the driver cannot be built here (no Go toolchain, no libcni sources), or undefined. */
export function cniDriverSkipReason(): string | undefined {
  const go = findGo();
  if (go === undefined) return 'the libcni driver needs the Go toolchain: `go` is not on PATH (apt-get install golang-go, or add its bin directory to PATH)';
  const needed = [
    path.join(LIBCNI_SRC, 'libcni', 'api.go'),
    path.join(LIBCNI_SRC, 'pkg', 'invoke', 'exec.go'),
    path.join(LIBCNI_SRC, 'pkg', 'version', 'version.go'),
  ];
  const missing = needed.filter((p) => !fs.existsSync(p));
  if (missing.length > 0) {
    return `the CNI driver needs the libcni sources in ${CNI_GOPATH} (apt-get install golang-github-appc-cni-dev); missing ${missing.join(', ')}`;
  }
  if (!fs.existsSync(path.join(CNI_DRIVER_SRC, 'main.go'))) return `${CNI_DRIVER_SRC}/main.go is missing`;
  const v = runSync([go, 'version'], { timeoutMs: 20_000, env: goEnv(os.tmpdir(), path.join(os.tmpdir(), 'unused-gocache')) });
  if (v.code !== 0) return `\`go version\` failed: ${v.stderr.trim() || v.stdout.trim()}`;
  return undefined;
}

/** The whole environment of `go build`: GOPATH mode, offline, nothing from the user's go env. */
function goEnv(home: string, goCache: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    GO111MODULE: 'off',
    GOPATH: CNI_GOPATH,
    GOCACHE: goCache,
    GOENV: 'off',
    GOFLAGS: '',
    GOPROXY: 'off',
    GOTOOLCHAIN: 'local',
    GOTELEMETRY: 'off',
    TMPDIR: home,
  };
}

interface Pending {
  dir: string;
  go: string;
  argv: string[];
  env: NodeJS.ProcessEnv;
  bin: string;
}

/** Temp dirs of builds not yet cleaned up: removed when the process exits, whatever happened. */
const unreleased = new Set<string>();
let exitHooked = false;

function prepare(opts: CniDriverBuildOptions): Pending {
  const reason = cniDriverSkipReason();
  if (reason !== undefined) throw new Error(reason);
  const go = findGo() as string;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${STATE_DIR_PREFIX}cni-`));
  unreleased.add(dir);
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const d of unreleased) fs.rmSync(d, { recursive: true, force: true });
    });
  }
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp);
  const bin = path.join(dir, 'cni-driver');
  const env = goEnv(tmp, opts.goCache ?? path.join(dir, 'gocache'));
  // Source files rather than the directory: runSync/runAsync have no cwd, and GOPATH mode cannot
  // build a package given by an absolute directory path outside GOPATH.
  const sources = fs
    .readdirSync(CNI_DRIVER_SRC)
    .filter((f) => f.endsWith('.go') && !f.endsWith('_test.go'))
    .map((f) => path.join(CNI_DRIVER_SRC, f));
  return { dir, go, bin, env, argv: [go, 'build', '-o', bin, ...sources] };
}

function finish(p: Pending, r: RunResult, ms: number): CniDriverBuild {
  const cleanup = (): void => {
    fs.rmSync(p.dir, { recursive: true, force: true });
    unreleased.delete(p.dir);
  };
  if (r.code !== 0 || !fs.existsSync(p.bin)) {
    cleanup();
    throw new Error(`building the CNI driver failed\n${describeResult(r)}`);
  }
  // The go build cache and TMPDIR are no longer needed (unless the caller keeps its own cache).
  fs.rmSync(path.join(p.dir, 'gocache'), { recursive: true, force: true });
  fs.rmSync(path.join(p.dir, 'tmp'), { recursive: true, force: true });
  return { bin: p.bin, dir: p.dir, buildMs: ms, cleanup };
}

/** Compile the driver into a fresh os.tmpdir()/nsnet-test-cni-* dir. Throws if it cannot. */
export async function buildCniDriver(opts: CniDriverBuildOptions = {}): Promise<CniDriverBuild> {
  const p = prepare(opts);
  const t0 = performance.now();
  let r: RunResult;
  try {
    r = await runAsync(p.argv, { env: p.env, timeoutMs: opts.timeoutMs ?? 180_000 });
  } catch (err) {
    fs.rmSync(p.dir, { recursive: true, force: true });
    unreleased.delete(p.dir);
    throw err;
  }
  return finish(p, r, performance.now() - t0);
}

/** The same, synchronously (for a top-level `before` that cannot await). */
export function buildCniDriverSync(opts: CniDriverBuildOptions = {}): CniDriverBuild {
  const p = prepare(opts);
  const t0 = performance.now();
  const r = runSync(p.argv, { env: p.env, timeoutMs: opts.timeoutMs ?? 180_000 });
  return finish(p, r, performance.now() - t0);
}
