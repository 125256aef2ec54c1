/**
 * nsnet's own chains in iptables and ebtables, written with `*-restore --noflush`.
 *
 * With --noflush a restore run touches only what its script names: declaring a user chain
 * (`:NAME - [0:0]` / `:NAME RETURN`) creates it or flushes just that chain, and every other
 * chain, rule and table is left as it was. One run is one transaction for the table (one nft
 * batch with the nft backends, one table replace with iptables-legacy): it applies whole or not
 * at all. The jumps from built-in chains are added or deleted in the same run, after reading the
 * table once (`*-save -t TABLE`), so a jump is never duplicated and an absent one is never
 * deleted. nsnet's host-wide lock keeps other nsnet processes out between the read and the write.
 */
import { spawnSync } from 'node:child_process';
import { NsnetError } from '../core/errors.js';
import { onPath } from './which.js';

export type XtablesTool = 'iptables' | 'ip6tables' | 'ebtables';

/** iptables and ip6tables share one restore format (`- [0:0]` declarations, COMMIT, -w); ebtables has its own. */
export const isIpTool = (tool: XtablesTool): boolean => tool !== 'ebtables';

export interface XtablesJump {
  from: string;
  to: string;
  /** Matches before the `-j`, exactly as `*-save` prints them (`-m addrtype --dst-type LOCAL`); none: every packet. */
  match?: string | undefined;
}

/** nsnet's chains in one table, and the jumps into them from built-in chains. */
export interface XtablesChains {
  tool: XtablesTool;
  table: string;
  chains: readonly string[];
  jumps: readonly XtablesJump[];
}

/** What nsnet wants one table to hold: its chains with these rules and the jumps, or nothing (null). */
export interface XtablesTarget extends XtablesChains {
  /** `-A CHAIN ...` lines for nsnet's chains; null removes the jumps and the chains. */
  rules: readonly string[] | null;
}

/** Run one of the xtables tools; its exit status and output (a failure to start is status 1). */
export function runTool(file: string, args: readonly string[], input?: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(file, args, { encoding: 'utf8', input, maxBuffer: 256 * 1024 * 1024 });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: (r.stderr || r.error?.message) ?? '' };
}

const saveCmd = (tool: XtablesTool): string => `${tool}-save`;
const restoreCmd = (tool: XtablesTool): string => `${tool}-restore`;
/** ip(6)tables-restore takes -w (wait for the xtables lock); ebtables-restore has no such option. */
const restoreArgs = (tool: XtablesTool): string[] => (isIpTool(tool) ? ['-w', '--noflush'] : ['--noflush']);

export type EbtablesSupport = 'ok' | 'missing' | 'legacy';

let ebtablesMemo: EbtablesSupport | undefined;

/**
 * Whether ebtables can hold nsnet's port rules: present, and the nf_tables variant (its
 * ebtables-restore understands --noflush; the legacy 2.0 one replaces whole tables).
 */
export function ebtablesSupport(): EbtablesSupport {
  if (ebtablesMemo !== undefined) return ebtablesMemo;
  if (!onPath('ebtables') || !onPath('ebtables-save') || !onPath('ebtables-restore')) return (ebtablesMemo = 'missing');
  const v = runTool('ebtables', ['-V']);
  if (v.status !== 0) return (ebtablesMemo = 'missing');
  return (ebtablesMemo = /nf_tables/.test(v.stdout + v.stderr) ? 'ok' : 'legacy');
}

/** One table as `*-save -t TABLE` prints it: chain declarations and `-A` lines. */
export interface SavedTable {
  chains: Set<string>;
  rules: string[];
}

export function saveTable(tool: XtablesTool, table: string): SavedTable {
  const r = runTool(saveCmd(tool), ['-t', table]);
  if (r.status !== 0) throw new NsnetError('FIREWALL', `${saveCmd(tool)} -t ${table}: ${r.stderr.trim()}`);
  const chains = new Set<string>();
  const rules: string[] = [];
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith(':')) chains.add(line.slice(1).split(' ')[0] ?? '');
    else if (line.startsWith('-A ')) rules.push(line);
  }
  return { chains, rules };
}

/** The jump as `*-save` prints it, without the `-A`: `FROM [MATCH] -j TO`. */
const jumpSpec = (j: XtablesJump): string => `${j.from}${j.match === undefined ? '' : ` ${j.match}`} -j ${j.to}`;
const jumpLine = (j: XtablesJump): string => `-A ${jumpSpec(j)}`;
/** Insert at the top of the built-in chain (nsnet decides first on its own traffic). */
const jumpInsert = (j: XtablesJump): string => `-I ${j.from} 1${j.match === undefined ? '' : ` ${j.match}`} -j ${j.to}`;

/**
 * The restore script that takes the table from `saved` to `target`; empty when there is nothing
 * to do (removing what is not there must not create a table: with the nft backends, naming a
 * table in a restore script creates it).
 */
export function restoreScript(target: XtablesTarget, saved: SavedTable): string {
  const lines: string[] = [];
  const jumpCount = (j: XtablesJump): number => saved.rules.filter((l) => l === jumpLine(j)).length;
  const declare = (c: string): string => (isIpTool(target.tool) ? `:${c} - [0:0]` : `:${c} RETURN`);
  if (target.rules === null) {
    for (const j of target.jumps) for (let i = jumpCount(j); i > 0; i--) lines.push(`-D ${jumpSpec(j)}`);
    const present = target.chains.filter((c) => saved.chains.has(c));
    // Flush all of them first: one may jump to another, and a referenced chain cannot go.
    lines.push(...present.map(declare), ...present.map((c) => `-X ${c}`));
  } else {
    lines.push(...target.chains.map(declare), ...target.rules);
    for (const j of target.jumps) {
      const n = jumpCount(j);
      if (n === 0) lines.push(jumpInsert(j));
      // Extra copies of nsnet's own jump (a crash between two tools): keep one.
      for (let i = n; i > 1; i--) lines.push(`-D ${jumpSpec(j)}`);
    }
  }
  if (lines.length === 0) return '';
  return [`*${target.table}`, ...lines, ...(isIpTool(target.tool) ? ['COMMIT'] : []), ''].join('\n');
}

export function runRestore(tool: XtablesTool, script: string): void {
  if (script === '') return;
  const r = runTool(restoreCmd(tool), restoreArgs(tool), script);
  if (r.status !== 0) {
    throw new NsnetError('FIREWALL', `${restoreCmd(tool)} ${restoreArgs(tool).join(' ')}: ${r.stderr.trim() || `exit ${r.status}`}`);
  }
}

/** Make one table hold exactly `target` (nsnet's part of it), in one restore run. */
export function applyXtables(target: XtablesTarget): void {
  runRestore(target.tool, restoreScript(target, saveTable(target.tool, target.table)));
}

/** The `-i IF` of a rule line, if any (as ebtables-save prints it: `-A CHAIN ... -i IF ...`). */
export function ruleInterface(line: string): string | undefined {
  const words = line.split(' ');
  const i = words.indexOf('-i');
  return i < 0 ? undefined : words[i + 1];
}

/**
 * The comment of an iptables rule line as `iptables-save` prints it (quoted when it has spaces).
 * Published ports' rules are found by it (see firewall/iptables-driver.ts).
 */
export function ruleComment(line: string): string | undefined {
  const m = / --comment (?:"((?:[^"\\]|\\.)*)"|(\S+))/.exec(line);
  if (m === null) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
}

/** A rule's key is one of `keys`: the same, or the key followed by more words (`KEY (container web)`). */
const keyed = (key: string, keys: ReadonlySet<string>): boolean => {
  if (keys.has(key)) return true;
  for (let i = key.indexOf(' '); i >= 0; i = key.indexOf(' ', i + 1)) if (keys.has(key.slice(0, i))) return true;
  return false;
};

/**
 * Rules found by a key (ebtables port rules by their `-i PORT`, iptables published-port rules
 * by their comment): the rules of nsnet's chains whose key is one of `keys` are replaced by `add`
 * (nothing, to remove). Whatever was or was not there before, the chains end up with exactly
 * these rules for those keys, so a removal is idempotent and a repeated add does not duplicate.
 * When the chains are there (the usual case) only the changed rules are sent (`-D` of the saved
 * lines, `-A` of the new ones), so the cost does not grow with the number of keyed rules; when
 * they are missing or lack their fixed rules, the chains and jumps are written whole. Empty when
 * there is nothing to do.
 */
export function keyedScript(
  base: XtablesChains,
  baseRules: readonly string[],
  saved: SavedTable,
  keyOf: (line: string) => string | undefined,
  keys: readonly string[],
  add: readonly string[],
): string {
  const ours = new Set(base.chains);
  const drop = new Set(keys);
  const inOurs = saved.rules.filter((l) => ours.has(l.split(' ')[1] ?? ''));
  const isKeyed = (l: string): boolean => keyOf(l) !== undefined;
  const isStale = (l: string): boolean => keyed(keyOf(l)!, drop);
  const stale = inOurs.filter((l) => isKeyed(l) && isStale(l));
  const intact = base.chains.every((c) => saved.chains.has(c)) && baseRules.every((r) => saved.rules.includes(r));
  if (!intact) {
    // Only ever make the chains when there is something to hold (a removal after a reset is a no-op).
    if (add.length === 0 && !base.chains.some((c) => saved.chains.has(c))) return '';
    const keep = inOurs.filter((l) => isKeyed(l) && !isStale(l));
    return restoreScript({ ...base, rules: [...baseRules, ...keep, ...add] }, saved);
  }
  const lines = [...stale.map((l) => l.replace(/^-A /, '-D ')), ...add];
  const jumps = base.jumps.filter((j) => !saved.rules.includes(jumpLine(j)));
  lines.push(...jumps.map(jumpInsert));
  if (lines.length === 0) return '';
  return [`*${base.table}`, ...lines, ...(isIpTool(base.tool) ? ['COMMIT'] : []), ''].join('\n');
}

/** Port rules (ebtables), found by their `-i PORT`. */
export function portScript(
  base: XtablesChains,
  baseRules: readonly string[],
  saved: SavedTable,
  ifaces: readonly string[],
  add: readonly string[],
): string {
  return keyedScript(base, baseRules, saved, ruleInterface, ifaces, add);
}

export function applyPortRules(base: XtablesChains, baseRules: readonly string[], ifaces: readonly string[], add: readonly string[]): void {
  runRestore(base.tool, portScript(base, baseRules, saveTable(base.tool, base.table), ifaces, add));
}

/** iptables rules found by their comment (`keys`): replaced by `add`, or removed. */
export function applyCommentedRules(base: XtablesChains, keys: readonly string[], add: readonly string[]): void {
  runRestore(base.tool, keyedScript(base, [], saveTable(base.tool, base.table), ruleComment, keys, add));
}
