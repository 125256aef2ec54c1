/**
 * nftables. A script given to nft in one go (libnftables' nft_run_cmd_from_buffer, or `nft -f`)
 * is sent to the kernel as one netlink batch, which nf_tables commits as a single transaction:
 * either every command applies or none does, and packets never see a half-applied ruleset.
 *
 * libnftables is used in-process when it can be loaded (no fork/exec per change); otherwise the
 * `nft` binary. Each call makes a fresh nft context, so the netlink socket it talks through is
 * opened in the calling thread's network namespace at the time of the call — inside
 * withNetns(name, ...) this programs that namespace. (A spawned `nft` is forked from the calling
 * thread and inherits its namespace too.)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { NsnetError } from '../core/errors.js';
import { koffi } from './libc.js';

type Fn = (...args: unknown[]) => unknown;
interface NftLib {
  ctxNew: Fn;
  ctxFree: Fn;
  bufferOutput: Fn;
  bufferError: Fn;
  setOutputFlags: Fn;
  getOutputFlags: Fn;
  runCmd: Fn;
  getOutput: Fn;
  getError: Fn;
}

// nft_ctx_output_set_flags bits (<nftables/libnftables.h>)
const OUTPUT_FLAGS: Record<string, number> = {
  '-s': 1 << 1, // stateless
  '--stateless': 1 << 1,
  '-a': 1 << 3, // handle
  '--handle': 1 << 3,
  '-j': 1 << 4, // json
  '--json': 1 << 4,
  '-t': 1 << 7, // terse
  '--terse': 1 << 7,
};

let lib: NftLib | null | undefined;

function loadLib(): NftLib | null {
  if (lib !== undefined) return lib;
  if (process.env['NSNET_NFT_BINARY'] === '1') return (lib = null); // force the fallback (tests)
  try {
    const k = koffi();
    const so = k.load('libnftables.so.1');
    lib = {
      ctxNew: so.func('void *nft_ctx_new(uint32_t flags)'),
      ctxFree: so.func('void nft_ctx_free(void *ctx)'),
      bufferOutput: so.func('int nft_ctx_buffer_output(void *ctx)'),
      bufferError: so.func('int nft_ctx_buffer_error(void *ctx)'),
      setOutputFlags: so.func('void nft_ctx_output_set_flags(void *ctx, uint32_t flags)'),
      getOutputFlags: so.func('uint32_t nft_ctx_output_get_flags(void *ctx)'),
      runCmd: so.func('int nft_run_cmd_from_buffer(void *ctx, const char *buf)'),
      getOutput: so.func('const char *nft_ctx_get_output_buffer(void *ctx)'),
      getError: so.func('const char *nft_ctx_get_error_buffer(void *ctx)'),
    };
  } catch {
    lib = null;
  }
  return lib;
}

/** True when nftables can be driven at all: libnftables loads, or the nft binary is installed. */
export function nftUsable(): boolean {
  if (loadLib() !== null) return true;
  return ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].some((p) => existsSync(p));
}

/** Which backend runNft uses: 'libnftables' or 'nft' (the binary). */
export function nftBackend(): 'libnftables' | 'nft' {
  return loadLib() === null ? 'nft' : 'libnftables';
}

function nftError(what: string, text: string): NsnetError {
  const clean = text.trim();
  return new NsnetError('FIREWALL', `${what}: ${clean === '' ? 'nft failed' : clean}`);
}

/**
 * Closing an nft context closes its netlink socket, and the kernel makes that close wait until
 * elements deleted through the socket are freed (an RCU grace period, 10-15 ms here). So the
 * context for the process's own network namespace is kept for the life of the process: deleting
 * a container's set elements then costs ~0.1 ms instead. Contexts for other namespaces (a
 * namespace entered with withNetns) are made and freed per call, so none keeps a namespace alive.
 */
let home: { ino: number; ctx: unknown; baseFlags: number } | undefined;
const homeIno = netnsIno();

function netnsIno(): number {
  try {
    return statSync('/proc/thread-self/ns/net').ino;
  } catch {
    return -1;
  }
}

function newCtx(l: NftLib, what: string): { ctx: unknown; baseFlags: number } {
  const ctx = l.ctxNew(0);
  if (ctx === null) throw new NsnetError('FIREWALL', `${what}: nft_ctx_new failed`);
  l.bufferOutput(ctx);
  l.bufferError(ctx);
  return { ctx, baseFlags: l.getOutputFlags(ctx) as number };
}

/** Run commands through libnftables; returns output or throws with nft's error text. */
function runLib(l: NftLib, commands: string, flags: number, what: string): string {
  const atHome = homeIno !== -1 && netnsIno() === homeIno;
  if (atHome) home ??= { ino: homeIno, ...newCtx(l, what) };
  const { ctx, baseFlags } = atHome ? home! : newCtx(l, what);
  try {
    l.setOutputFlags(ctx, baseFlags | flags);
    const rc = l.runCmd(ctx, commands) as number;
    // Both buffers are read every time: reading one is what resets it for the next command.
    const out = (l.getOutput(ctx) as string | null) ?? '';
    const err = (l.getError(ctx) as string | null) ?? '';
    if (rc !== 0) throw nftError(what, err);
    return out;
  } finally {
    if (!atHome) l.ctxFree(ctx);
  }
}

function runBinary(args: string[], input: string | undefined, what: string): string {
  let r = spawnSync('nft', args, { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    r = spawnSync('/usr/sbin/nft', args, { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  }
  if (r.error !== undefined) {
    throw new NsnetError('FIREWALL', `${what}: cannot run nft: ${r.error.message}`, {
      hint: 'install nftables (apt-get install nftables)',
      cause: r.error,
    });
  }
  if (r.status !== 0) throw nftError(what, r.stderr || `nft exited with ${r.status ?? r.signal}`);
  return r.stdout;
}

/** Apply an nftables script as one atomic transaction. */
export function runNft(script: string): void {
  const l = loadLib();
  if (l !== null) runLib(l, script, 0, 'apply nftables script');
  else runBinary(['-f', '-'], script, 'apply nftables script');
}

/**
 * Output of `nft ARGS...`, e.g. nftOutput(['-j', 'list', 'ruleset']). Output options -j -a -s -t
 * are mapped to libnftables flags; anything else runs the binary.
 */
export function nftOutput(args: string[]): string {
  const what = `nft ${args.join(' ')}`;
  const l = loadLib();
  let flags = 0;
  let i = 0;
  for (; i < args.length && args[i]!.startsWith('-'); i++) {
    const f = OUTPUT_FLAGS[args[i]!];
    if (f === undefined) return runBinary(args, undefined, what);
    flags |= f;
  }
  if (l === null) return runBinary(args, undefined, what);
  return runLib(l, args.slice(i).join(' '), flags, what);
}

/** `nft list table FAMILY NAME`, or undefined when the table does not exist. */
export function listNftTable(family: string, name: string): string | undefined {
  try {
    return nftOutput(['list', 'table', family, name]);
  } catch (err) {
    if (err instanceof NsnetError && err.code === 'FIREWALL' && /No such file or directory/.test(err.message)) return undefined;
    throw err;
  }
}
