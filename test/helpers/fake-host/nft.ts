/**
 * The fake machine's nftables: tables of sets, maps and chains, changed by scripts in exactly the
 * grammar src/firewall/nftables.ts writes (and a foreign table a test declares the same way):
 *
 *   add table FAMILY NAME                         create when missing
 *   delete table FAMILY NAME                      ENOENT when missing
 *   table FAMILY NAME { set|map N { type T; [elements = { ... }] } chain N { HEAD RULES } }
 *   add set|map FAMILY TABLE N { type T; }        create when missing (another type: EEXIST)
 *   add element FAMILY TABLE SET { E, ... }       an element already there is a no-op
 *                                                 (a map key with other data: EEXIST)
 *   delete element FAMILY TABLE SET { K, ... }    ENOENT when one is not there
 *
 * A script is one transaction, as with nft: it applies whole or not at all. Any other line throws
 * FakeUnsupported, so a test notices a script the fake does not understand instead of passing.
 * Tables are listed like `nft list table` (sets and maps, then chains; set elements sorted, so the
 * same contents list the same whatever order they were added in).
 */
import { NsnetError } from '../../../src/core/errors.js';
import { FakeUnsupported, nftError } from './errors.js';

export interface NftCollection {
  kind: 'set' | 'map';
  name: string;
  type: string;
  /** As written; for a map `KEY : VALUE`. */
  elements: string[];
}

export interface NftChain {
  name: string;
  /** `type filter hook forward priority filter; policy accept;` for a base chain. */
  head: string | undefined;
  rules: string[];
}

export interface NftTable {
  family: string;
  name: string;
  collections: NftCollection[];
  chains: NftChain[];
}

export interface NftState {
  tables: NftTable[];
}

type Command =
  | { op: 'add-table' | 'delete-table'; family: string; table: string; line: string }
  | { op: 'table-block'; family: string; table: string; collections: NftCollection[]; chains: NftChain[]; line: string }
  | { op: 'add-collection'; family: string; table: string; collection: NftCollection; line: string }
  | { op: 'add-element' | 'delete-element'; family: string; table: string; set: string; elements: string[]; line: string };

const FAMILY = '(ip|ip6|inet|arp|bridge|netdev)';
const NAME = '([A-Za-z_][A-Za-z0-9_.-]*)';
const TABLE_CMD = new RegExp(`^(add|delete) table ${FAMILY} ${NAME}$`);
const TABLE_BLOCK = new RegExp(`^table ${FAMILY} ${NAME} \\{$`);
const ADD_COLLECTION = new RegExp(`^add (set|map) ${FAMILY} ${NAME} ${NAME} \\{ (type [^;{}]+|typeof [^;{}]+); \\}$`);
const ELEMENT_CMD = new RegExp(`^(add|delete) element ${FAMILY} ${NAME} ${NAME} \\{ (.*) \\}$`);
const COLLECTION_BLOCK = new RegExp(`^(set|map) ${NAME} \\{$`);
const CHAIN_BLOCK = new RegExp(`^chain ${NAME} \\{$`);

/** Elements separated by commas outside quotes and braces. */
function splitElements(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (const c of text) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === '{') depth++;
    else if (!quoted && c === '}') depth--;
    if (c === ',' && !quoted && depth === 0) {
      out.push(current.trim());
      current = '';
    } else current += c;
  }
  if (current.trim() !== '') out.push(current.trim());
  return out;
}

/**
 * A collection's type as written after `type` (`ifname . ether_addr`); one declared by an
 * expression keeps its keyword (`typeof iifname . @th,64,128`), as nft lists it.
 */
const typeText = (declaration: string): string => (declaration.startsWith('typeof ') ? declaration.trim() : declaration.replace(/^type /, '').trim());

const keyOf = (kind: 'set' | 'map', element: string): string => (kind === 'map' ? element.split(' : ')[0]! : element);

function unsupported(line: string): never {
  throw new FakeUnsupported(`nft line not modelled: ${JSON.stringify(line)}`);
}

/** Parse a script into commands; the fake's grammar only (see the module comment). */
export function parseNftScript(script: string): Command[] {
  const lines = script.split('\n').map((l) => l.trim());
  const commands: Command[] = [];
  let i = 0;
  const next = (): string => {
    if (i >= lines.length) throw new FakeUnsupported('nft script ends inside a block');
    return lines[i++]!;
  };
  while (i < lines.length) {
    const line = next();
    if (line === '') continue;
    let m: RegExpExecArray | null;
    if ((m = TABLE_CMD.exec(line)) !== null) {
      commands.push({ op: m[1] === 'add' ? 'add-table' : 'delete-table', family: m[2]!, table: m[3]!, line });
    } else if ((m = ADD_COLLECTION.exec(line)) !== null) {
      const collection: NftCollection = { kind: m[1] as 'set' | 'map', name: m[4]!, type: typeText(m[5]!), elements: [] };
      commands.push({ op: 'add-collection', family: m[2]!, table: m[3]!, collection, line });
    } else if ((m = ELEMENT_CMD.exec(line)) !== null) {
      const op = m[1] === 'add' ? 'add-element' : 'delete-element';
      commands.push({ op, family: m[2]!, table: m[3]!, set: m[4]!, elements: splitElements(m[5]!), line });
    } else if ((m = TABLE_BLOCK.exec(line)) !== null) {
      commands.push({ op: 'table-block', family: m[1]!, table: m[2]!, ...parseTableBody(next), line });
    } else unsupported(line);
  }
  return commands;
}

function parseTableBody(next: () => string): { collections: NftCollection[]; chains: NftChain[] } {
  const collections: NftCollection[] = [];
  const chains: NftChain[] = [];
  for (let line = next(); line !== '}'; line = next()) {
    if (line === '') continue;
    let m: RegExpExecArray | null;
    if ((m = COLLECTION_BLOCK.exec(line)) !== null) {
      const c: NftCollection = { kind: m[1] as 'set' | 'map', name: m[2]!, type: '', elements: [] };
      for (let body = next(); body !== '}'; body = next()) {
        const type = /^(type|typeof) (.+)$/.exec(body);
        const elements = /^elements = \{ (.*) \}$/.exec(body);
        if (type !== null) c.type = typeText(body);
        else if (elements !== null) c.elements.push(...splitElements(elements[1]!));
        else if (body !== '') unsupported(body);
      }
      if (c.type === '') throw new FakeUnsupported(`nft ${c.kind} ${c.name} has no type`);
      collections.push(c);
    } else if ((m = CHAIN_BLOCK.exec(line)) !== null) {
      const chain: NftChain = { name: m[1]!, head: undefined, rules: [] };
      for (let body = next(); body !== '}'; body = next()) {
        if (body === '') continue;
        if (body.startsWith('type ') && chain.head === undefined && chain.rules.length === 0) chain.head = body;
        else chain.rules.push(body);
      }
      chains.push(chain);
    } else unsupported(line);
  }
  return { collections, chains };
}

const ENOENT_TEXT = 'No such file or directory';
const EEXIST_TEXT = 'File exists';

export class NftModel {
  state: NftState = { tables: [] };

  table(family: string, name: string): NftTable | undefined {
    return this.state.tables.find((t) => t.family === family && t.name === name);
  }

  /** One transaction: every command applies, or the model stays as it was and nft's error is thrown. */
  run(script: string): void {
    const commands = parseNftScript(script);
    const draft = structuredClone(this.state);
    for (const c of commands) execute(draft, c);
    this.state = draft;
  }

  /** `nft list table FAMILY NAME`, or undefined when there is no such table. */
  list(family: string, name: string): string | undefined {
    const t = this.table(family, name);
    return t === undefined ? undefined : listTable(t);
  }

  /** `nft ARGS...` for the few questions nsnet asks (doctor's view of base chains, a table, the ruleset). */
  output(args: readonly string[]): string {
    const text = args.join(' ');
    if (text === '-j list chains') return JSON.stringify({ nftables: [{ metainfo: { json_schema_version: 1 } }, ...this.chainsJson()] });
    if (text === 'list ruleset') return this.state.tables.map(listTable).join('');
    const m = /^list table (\S+) (\S+)$/.exec(text);
    if (m !== null) {
      const listed = this.list(m[1]!, m[2]!);
      if (listed === undefined) throw new NsnetError('FIREWALL', `nft ${text}: Error: ${ENOENT_TEXT}`);
      return listed;
    }
    throw new FakeUnsupported(`nft ${text} not modelled`);
  }

  /** Deterministic: every table's listing, by `FAMILY NAME`. */
  snapshot(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const t of [...this.state.tables].sort((a, b) => `${a.family} ${a.name}`.localeCompare(`${b.family} ${b.name}`))) {
      out[`${t.family} ${t.name}`] = listTable(t);
    }
    return out;
  }

  private chainsJson(): Array<{ chain: Record<string, unknown> }> {
    let handle = 1;
    const out: Array<{ chain: Record<string, unknown> }> = [];
    for (const t of this.state.tables) {
      for (const c of t.chains) {
        const base = /^type (\w+) hook (\w+) priority ([^;]+); policy (\w+);$/.exec(c.head ?? '');
        const hook = base === null ? {} : { type: base[1], hook: base[2], prio: base[3], policy: base[4] };
        out.push({ chain: { family: t.family, table: t.name, name: c.name, handle: handle++, ...hook } });
      }
    }
    return out;
  }
}

function execute(state: NftState, c: Command): void {
  const find = (): NftTable | undefined => state.tables.find((t) => t.family === c.family && t.name === c.table);
  const mustFind = (): NftTable => find() ?? fail(ENOENT_TEXT, c.line);
  switch (c.op) {
    case 'add-table':
      if (find() === undefined) state.tables.push({ family: c.family, name: c.table, collections: [], chains: [] });
      return;
    case 'delete-table':
      mustFind();
      state.tables = state.tables.filter((t) => !(t.family === c.family && t.name === c.table));
      return;
    case 'table-block': {
      let t = find();
      if (t === undefined) state.tables.push((t = { family: c.family, name: c.table, collections: [], chains: [] }));
      for (const col of c.collections) {
        const target = declareCollection(t, { ...col, elements: [] }, c.line);
        addElements(target, col.elements, c.line);
      }
      for (const chain of c.chains) {
        const existing = t.chains.find((x) => x.name === chain.name);
        if (existing === undefined) t.chains.push(structuredClone(chain));
        else existing.rules.push(...chain.rules); // nft appends to a chain that is there
      }
      return;
    }
    case 'add-collection':
      declareCollection(mustFind(), c.collection, c.line);
      return;
    case 'add-element':
    case 'delete-element': {
      const col = mustFind().collections.find((x) => x.name === c.set) ?? fail(ENOENT_TEXT, c.line);
      if (c.op === 'add-element') addElements(col, c.elements, c.line);
      else deleteElements(col, c.elements, c.line);
      return;
    }
  }
}

function declareCollection(t: NftTable, col: NftCollection, line: string): NftCollection {
  const existing = t.collections.find((x) => x.name === col.name);
  if (existing === undefined) {
    const made = structuredClone(col);
    t.collections.push(made);
    return made;
  }
  if (existing.kind !== col.kind || existing.type !== col.type) fail(EEXIST_TEXT, line);
  return existing;
}

function addElements(col: NftCollection, elements: readonly string[], line: string): void {
  for (const e of elements) {
    if ((col.kind === 'map') !== e.includes(' : ')) fail(`${col.kind} element ${e} does not fit the ${col.kind} ${col.name}`, line);
    const there = col.elements.find((x) => keyOf(col.kind, x) === keyOf(col.kind, e));
    if (there === undefined) col.elements.push(e);
    else if (there !== e) fail(EEXIST_TEXT, line); // a map key with other data (checked with nft 1.0.6)
  }
}

function deleteElements(col: NftCollection, keys: readonly string[], line: string): void {
  for (const k of keys) {
    const i = col.elements.findIndex((x) => keyOf(col.kind, x) === keyOf(col.kind, k));
    if (i < 0) fail(ENOENT_TEXT, line);
    col.elements.splice(i, 1);
  }
}

function fail(problem: string, line: string): never {
  throw nftError(problem, line);
}

/** As nft lists it (blocks separated by a blank line), except that elements stay on one line. */
function listTable(t: NftTable): string {
  const blocks: string[][] = [];
  for (const c of t.collections) {
    const elements = c.elements.length === 0 ? [] : [`\t\telements = { ${[...c.elements].sort().join(', ')} }`];
    blocks.push([`\t${c.kind} ${c.name} {`, c.type.startsWith('typeof ') ? `\t\t${c.type}` : `\t\ttype ${c.type}`, ...elements, '\t}']);
  }
  for (const c of t.chains) {
    blocks.push([`\tchain ${c.name} {`, ...(c.head === undefined ? [] : [`\t\t${c.head}`]), ...c.rules.map((r) => `\t\t${r}`), '\t}']);
  }
  const body = blocks.map((b) => b.join('\n')).join('\n\n');
  return `table ${t.family} ${t.name} {\n${body === '' ? '' : `${body}\n`}}\n`;
}
