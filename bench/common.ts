/** Shared by the benchmark orchestrator (bench/run.ts) and its workers (bench/worker.ts). */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout: dist/bench/common.js → two levels up. */
export function findRepo(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'tsconfig.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the nsnet checkout above ' + fileURLToPath(import.meta.url));
}

export const METHODS = ['floor', 'byhand', 'cli', 'lib-kernel', 'lib-run'] as const;
export type Method = (typeof METHODS)[number];

export const METHOD_LABEL: Record<Method, string> = {
  floor: 'kernel floor (ip -batch, 2 processes)',
  byhand: "article's by-hand recipe (1 process per step)",
  cli: 'nsnet CLI (run -d / rm -f)',
  'lib-kernel': 'nsnet library, kernel path (KernelRunner, no process)',
  'lib-run': 'nsnet library run()/remove() (with process)',
};

/** What "attach" and "detach" include, per method (printed in the Markdown). */
export const METHOD_SCOPE: Record<Method, { attach: string; detach: string }> = {
  floor: {
    attach:
      'namespace exists (made untimed just before): `ip -batch -` in the host (veth pair with the peer created in the namespace, master bridge, up, MAC) + `ip -n NS -batch -` (lo up, address, eth0 up, default route): 2 processes',
    detach: '`ip netns del NS` (the veth pair goes with the namespace): 1 process',
  },
  byhand: {
    attach:
      'namespace created: `ip netns add`, `ip link add H type veth peer name C`, `ip link set C netns NS`, `ip link set H master BR`, `ip link set H up`, `ip netns exec NS ip addr add`, `ip netns exec NS ip link set C up`, `ip netns exec NS ip link set lo up`, `ip netns exec NS ip route add default`: 9 processes',
    detach: '`ip netns del NS`: 1 process',
  },
  cli: {
    attach: 'everything: `bin/nsnet run -d --name X --network NET -- sleep 1000` (store, lock, namespace, wiring, container process), one CLI process',
    detach: '`bin/nsnet rm -f X` (kill the process, delete the namespace, forget the records)',
  },
  'lib-kernel': {
    attach:
      'namespace exists (netns-add step applied untimed just before, timed separately in the breakdown): planCreateContainer steps lo up, veth-add, addr-add, link-up, route-add applied with KernelRunner via applyPlan; no store, no lock, no child process',
    detach: 'planRemoveContainer (netns-del) applied with KernelRunner',
  },
  'lib-run': {
    attach: 'everything: `run(ctx, {detach: true, argv: [sleep, 1000]})` from src/index.ts in one long-lived process (store, lock, namespace, wiring, container process)',
    detach: '`remove(ctx, [name], {force: true})`',
  },
};

export interface Stats {
  n: number;
  median: number;
  p95: number;
  min: number;
  max: number;
  mean: number;
}

export function stats(xs: readonly number[]): Stats | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  const median = s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { n: s.length, median, p95: at(0.95), min: s[0]!, max: s[s.length - 1]!, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

export function medianOf(xs: readonly number[]): number {
  return stats(xs)?.median ?? NaN;
}

/** Growth: median of the last W samples over the median of the first W (W = 100 for N ≥ 200, 10 for N ≥ 20). */
export function growth(xs: readonly number[]): { window: number; ratio: number } | null {
  const w = xs.length >= 200 ? 100 : xs.length >= 20 ? 10 : 0;
  if (w === 0) return null;
  return { window: w, ratio: medianOf(xs.slice(-w)) / medianOf(xs.slice(0, w)) };
}

export interface WorkerResult {
  method: Method;
  n: number;
  attachMs: number[];
  detachMs: number[];
  /** Wall time of all N attaches (the "N containers through one batch" figure). */
  attachTotalMs: number;
  detachTotalMs: number;
  nftRulesAfter1: number | null;
  nftRulesAfterN: number | null;
  /** Per step kind: list of ms (KernelRunner methods) or per command (by-hand). */
  breakdown: Record<string, number[]>;
  notes: string[];
}

export const now = (): number => Number(process.hrtime.bigint()) / 1e6;

export function ipFromInt(x: number): string {
  return [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join('.');
}

export function intFromIp(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

/** Firewall rules in the bench's namespace, counted by the worker and reported by report.ts. */
export interface RuleCounts {
  /** Rules in nsnet's nftables tables (null: no nsnet table). */
  nftRules: number | null;
  nftSetElements: number | null;
  nftMapElements: number | null;
  /** -A lines of iptables-legacy-save + iptables-nft-save (every table, this namespace). */
  iptables: number;
  /** -A lines of ebtables-save (every table, this namespace). */
  ebtables: number;
}
