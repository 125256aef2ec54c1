/**
 * The fake machine's iptables and ebtables: per tool and table, the chains (built-in and user)
 * with their rules as `*-save` prints them (`-A CHAIN ...`). The fake runner writes them exactly
 * as the kernel runner does — it asks the same pure script builders of src/kernel/xtables.ts
 * (restoreScript, keyedScript, portScript) for a `*-restore --noflush` script against this
 * model's `*-save`, then runs that script here — so what is modelled is the tools, not nsnet.
 *
 * Restore lines understood: `*TABLE`, `:CHAIN ...` (declare: create or flush a user chain),
 * `-A CHAIN ...`, `-I CHAIN N ...`, `-D CHAIN ...` (the first equal rule; none is an error),
 * `-X CHAIN` (an empty, unreferenced user chain), `COMMIT`. One run is one transaction. Anything
 * else throws FakeUnsupported.
 */
import type { SavedTable, XtablesTool } from '../../../src/kernel/xtables.js';
import { FakeUnsupported, restoreError } from './errors.js';

const BUILT_IN: Record<XtablesTool, Record<string, readonly string[]>> = {
  iptables: {
    filter: ['INPUT', 'FORWARD', 'OUTPUT'],
    nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
    raw: ['PREROUTING', 'OUTPUT'],
    mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  },
  ip6tables: {
    filter: ['INPUT', 'FORWARD', 'OUTPUT'],
    nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
    raw: ['PREROUTING', 'OUTPUT'],
    mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  },
  ebtables: {
    filter: ['INPUT', 'FORWARD', 'OUTPUT'],
    nat: ['PREROUTING', 'OUTPUT', 'POSTROUTING'],
    broute: ['BROUTING'],
  },
};

/** Targets that are no chain: a `-j` to anything else must name a chain of the table. */
const STANDARD_TARGETS = new Set(['ACCEPT', 'DROP', 'RETURN', 'CONTINUE', 'REJECT', 'MASQUERADE', 'DNAT', 'SNAT', 'REDIRECT', 'LOG', 'MARK', 'CONNMARK', 'CT', 'NOTRACK']);

/** One table: chains in order, each with its `-A` lines. */
export type XtablesTableState = Array<{ chain: string; rules: string[] }>;

export interface XtablesState {
  /** By `TOOL TABLE`; a table appears once something names it. */
  tables: Record<string, XtablesTableState>;
}

const tableKey = (tool: XtablesTool, table: string): string => `${tool} ${table}`;

function jumpTarget(rule: string): string | undefined {
  const words = rule.split(' ');
  const j = words.lastIndexOf('-j');
  return j < 0 ? undefined : words[j + 1];
}

export class XtablesModel {
  state: XtablesState = { tables: {} };

  /** What `TOOL-save -t TABLE` gives (as kernel/xtables.ts's saveTable parses it). */
  save(tool: XtablesTool, table: string): SavedTable {
    const t = this.table(tool, table);
    return { chains: new Set(t.map((c) => c.chain)), rules: t.flatMap((c) => c.rules) };
  }

  chainExists(tool: XtablesTool, table: string, chain: string): boolean {
    return this.table(tool, table).some((c) => c.chain === chain);
  }

  /** `TOOL-restore --noflush` of one script: whole or not at all. An empty script does nothing. */
  restore(tool: XtablesTool, script: string): void {
    if (script === '') return;
    const lines = script.split('\n').filter((l) => l.trim() !== '');
    const head = /^\*(\S+)$/.exec(lines[0] ?? '');
    if (head === null) throw new FakeUnsupported(`${tool}-restore script does not start with *TABLE: ${JSON.stringify(lines[0])}`);
    const table = head[1]!;
    const builtIn = this.builtIn(tool, table);
    const draft = structuredClone(this.table(tool, table));
    const fail = (problem: string): never => {
      throw restoreError(tool, problem);
    };
    const find = (chain: string) => draft.find((c) => c.chain === chain);
    const must = (chain: string, line: string) => find(chain) ?? fail(`line ${JSON.stringify(line)}: chain ${chain} does not exist`);
    const checkTarget = (rule: string, line: string): void => {
      const target = jumpTarget(rule);
      if (target !== undefined && !STANDARD_TARGETS.has(target) && find(target) === undefined) fail(`line ${JSON.stringify(line)}: no chain/target ${target}`);
    };
    let committed = tool === 'ebtables'; // ebtables-restore has no COMMIT: the end of input commits
    for (const line of lines.slice(1)) {
      if (line === 'COMMIT' && tool !== 'ebtables') {
        committed = true;
        continue;
      }
      let m: RegExpExecArray | null;
      if ((m = /^:(\S+) (.+)$/.exec(line)) !== null) {
        const chain = m[1]!;
        if (builtIn.includes(chain)) throw new FakeUnsupported(`${tool}-restore: declaring built-in chain ${chain} (a policy) is not modelled`);
        const existing = find(chain);
        if (existing === undefined) draft.push({ chain, rules: [] });
        else existing.rules = [];
      } else if ((m = /^-A (\S+)( .*)?$/.exec(line)) !== null) {
        checkTarget(line, line);
        must(m[1]!, line).rules.push(line);
      } else if ((m = /^-I (\S+) (\d+)( .*)?$/.exec(line)) !== null) {
        const rule = `-A ${m[1]}${m[3] ?? ''}`;
        checkTarget(rule, line);
        const c = must(m[1]!, line);
        const at = Number(m[2]) - 1;
        if (at < 0 || at > c.rules.length) fail(`line ${JSON.stringify(line)}: index of insertion too big`);
        c.rules.splice(at, 0, rule);
      } else if ((m = /^-D (\S+)( .*)?$/.exec(line)) !== null) {
        const c = must(m[1]!, line);
        const i = c.rules.indexOf(`-A ${m[1]}${m[2] ?? ''}`);
        if (i < 0) fail(`line ${JSON.stringify(line)}: Bad rule (does a matching rule exist in that chain?)`);
        c.rules.splice(i, 1);
      } else if ((m = /^-X (\S+)$/.exec(line)) !== null) {
        const chain = m[1]!;
        if (builtIn.includes(chain)) fail(`line ${JSON.stringify(line)}: cannot delete built-in chain ${chain}`);
        const c = must(chain, line);
        if (c.rules.length > 0) fail(`line ${JSON.stringify(line)}: Directory not empty`);
        if (draft.some((x) => x.rules.some((r) => jumpTarget(r) === chain))) fail(`line ${JSON.stringify(line)}: Device or resource busy`);
        draft.splice(draft.indexOf(c), 1);
      } else {
        throw new FakeUnsupported(`${tool}-restore line not modelled: ${JSON.stringify(line)}`);
      }
    }
    if (!committed) fail('no COMMIT line');
    this.state.tables[tableKey(tool, table)] = draft;
  }

  /** Deterministic: user chains (even empty) and built-in chains that hold rules, by `TOOL TABLE`. */
  snapshot(): Record<string, Record<string, string[]>> {
    const out: Record<string, Record<string, string[]>> = {};
    for (const key of Object.keys(this.state.tables).sort()) {
      const [tool, table] = key.split(' ') as [XtablesTool, string];
      const builtIn = this.builtIn(tool, table);
      const chains = this.state.tables[key]!.filter((c) => !builtIn.includes(c.chain) || c.rules.length > 0);
      if (chains.length > 0) out[key] = Object.fromEntries(chains.map((c) => [c.chain, [...c.rules]]));
    }
    return out;
  }

  private builtIn(tool: XtablesTool, table: string): readonly string[] {
    const chains = BUILT_IN[tool][table];
    if (chains === undefined) throw restoreError(tool, `can't initialize ${tool} table \`${table}': Table does not exist`);
    return chains;
  }

  /** The table, made with its built-in chains the first time it is named. */
  private table(tool: XtablesTool, table: string): XtablesTableState {
    const key = tableKey(tool, table);
    return (this.state.tables[key] ??= this.builtIn(tool, table).map((chain) => ({ chain, rules: [] })));
  }
}
