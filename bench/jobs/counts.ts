/** Firewall state in this namespace, counted: nsnet's nftables tables and the xtables *-save output. */
import { spawnSync } from 'node:child_process';
import type { RuleCounts } from '../common.js';

/** What nsnet's nftables tables hold in this namespace: rules, and elements of its sets and maps (null: no nsnet table). */
function nftCounts(): { rules: number; setElements: number; mapElements: number } | null {
  const r = spawnSync('nft', ['-j', 'list', 'ruleset'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) return null;
  type Obj = { table?: string; name?: string; elem?: unknown[] };
  const doc = JSON.parse(r.stdout) as { nftables: Array<Record<string, Obj>> };
  const ours = (o: Obj | undefined): boolean => o?.table === 'nsnet';
  if (!doc.nftables.some((o) => o['table']?.name === 'nsnet')) return null;
  let setElements = 0;
  let mapElements = 0;
  for (const o of doc.nftables) {
    if (ours(o['set'])) setElements += o['set']!.elem?.length ?? 0;
    if (ours(o['map'])) mapElements += o['map']!.elem?.length ?? 0;
  }
  return { rules: doc.nftables.filter((o) => ours(o['rule'])).length, setElements, mapElements };
}

/** Rules in nsnet's tables (any family) in this namespace, or null when there is none. */
export function nftRuleCount(): number | null {
  return nftCounts()?.rules ?? null;
}

/** `-A` lines of a *-save tool's output (0 when the tool is missing or fails). */
export function saveLines(tool: string): number {
  const r = spawnSync(tool, [], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return r.status === 0 ? r.stdout.split('\n').filter((l) => l.startsWith('-A ')).length : 0;
}

export function ruleCounts(): RuleCounts {
  const n = nftCounts();
  return {
    nftRules: n?.rules ?? null,
    nftSetElements: n?.setElements ?? null,
    nftMapElements: n?.mapElements ?? null,
    iptables: saveLines('iptables-legacy-save') + saveLines('iptables-nft-save'),
    ebtables: saveLines('ebtables-save'),
  };
}
