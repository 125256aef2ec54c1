/**
 * nft-ctx: why an nft transaction that deletes set/map elements costs a grace period (the socket close).
 *
 * libnftables transactions on a table of the benchmark's own (never nsnet's): one set element
 * added then deleted, with a fresh nft context per call (what src/kernel/nft.ts does) and with one
 * context kept open; and the close of the kept context. The kernel defers freeing deleted
 * elements to a work item that waits for an RCU grace period, and closing an nftables netlink
 * socket flushes that work (nft_rcv_nl_event), so whoever closes the socket waits for it.
 */
import { now } from '../common.js';
import { koffi } from '../../src/kernel/libc.js';
import type { Job } from './job.js';

export async function nftCtxJob(job: Job): Promise<Record<string, unknown>> {
  const reps = job.reps ?? 40;
  const so = koffi().load('libnftables.so.1');
  const ctxNew = so.func('void *nft_ctx_new(uint32_t flags)') as (f: number) => unknown;
  const ctxFree = so.func('void nft_ctx_free(void *ctx)') as (c: unknown) => void;
  const bufErr = so.func('int nft_ctx_buffer_error(void *ctx)') as (c: unknown) => number;
  const runCmd = so.func('int nft_run_cmd_from_buffer(void *ctx, const char *buf)') as (c: unknown, s: string) => number;
  const table = `inet ${job.prefix}t`;
  const withCtx = (c: unknown, script: string): void => {
    if (runCmd(c, script) !== 0) throw new Error(`nft: ${script.trim()}`);
  };
  const fresh = (script: string): void => {
    const c = ctxNew(0);
    bufErr(c);
    try {
      withCtx(c, script);
    } finally {
      ctxFree(c);
    }
  };
  const samples: Record<string, number[]> = {
    'fresh context per call: add element': [],
    'fresh context per call: delete element': [],
    'one context kept open: add element': [],
    'one context kept open: delete element': [],
    'closing the kept context after the deletes': [],
  };
  const time = (key: string, fn: () => void): void => {
    const a = now();
    fn();
    samples[key]!.push(now() - a);
  };
  const add = `add element ${table} m { tcp . 8080 : 10.0.0.2 . 80 }\n`;
  const del = `delete element ${table} m { tcp . 8080 : 10.0.0.2 . 80 }\n`;
  fresh(`add table ${table}\nadd map ${table} m { type inet_proto . inet_service : ipv4_addr . inet_service; }\n`);
  try {
    for (let i = 0; i < reps; i++) {
      time('fresh context per call: add element', () => fresh(add));
      time('fresh context per call: delete element', () => fresh(del));
    }
    for (let round = 0; round < 5; round++) {
      const c = ctxNew(0);
      bufErr(c);
      for (let i = 0; i < reps / 5; i++) {
        time('one context kept open: add element', () => withCtx(c, add));
        time('one context kept open: delete element', () => withCtx(c, del));
      }
      time('closing the kept context after the deletes', () => ctxFree(c));
    }
  } finally {
    fresh(`delete table ${table}\n`);
  }
  return { job: 'nft-ctx', samples };
}
