/**
 * The layering the README describes ("Layout"), as a test. Every file under src/ belongs to a
 * unit: its top-level folder, or one of the few files named apart below because their job is not
 * their folder's. LAYERS says which units each unit may import (at run time, or for types only)
 * and why; OS_ACCESS says where Node's OS modules and the native packages may be used; terminal
 * output belongs to src/cli; files in src/ops import each other without cycles. A broken rule
 * fails with the file, the import and the rule.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const srcDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src');

// ---------------------------------------------------------------------------------------------
// The rules

/** Files whose job is not their folder's, so they are units of their own. */
const FILE_UNITS: Readonly<Record<string, string>> = {
  'index.ts': 'index',
  'cli/context.ts': 'cli/context',
  'host/port.ts': 'host/port',
  'host/kernel-host.ts': 'host/kernel-host',
  'plan/kernel-runner.ts': 'plan/kernel-runner',
};

/** The unit of a src-relative path (posix separators). */
function unitOf(rel: string): string {
  const named = FILE_UNITS[rel];
  if (named !== undefined) return named;
  if (rel.startsWith('cli/commands/')) return 'cli/commands';
  return rel.includes('/') ? (rel.split('/')[0] ?? rel) : rel;
}

interface Rule {
  /** Units (or single files, as src-relative paths) this unit may import at run time. */
  may: readonly string[];
  /** ... and those it may import only with `import type` (erased from the JavaScript). */
  types?: readonly string[];
  why: string;
}

const CLI = ['cli', 'cli/commands', 'cli/context', 'ops', 'lab', 'dns', 'engine', 'core', 'kernel', 'image'];

/** Who may import whom, top to bottom: cli → lab → ops → engine/plan/firewall → kernel/store/core. */
const LAYERS: Readonly<Record<string, Rule>> = {
  index: { may: ['ops', 'core', 'plan', 'cli/context'], types: ['host/port'], why: 'the library entry re-exports operations, errors, plan rendering and the composition root' },
  'cli/context': { may: ['ops', 'host/kernel-host', 'plan/kernel-runner'], why: 'the composition root: the one place that gives a Context the real host and step runner' },
  'cli/commands': { may: [...CLI, 'host/kernel-host', 'api'], types: ['store'], why: 'one file per verb; `system doctor` reads the real host before any Context exists' },
  cli: { may: CLI, types: ['store'], why: 'argv → operation → terminal; src/kernel only for what is no operation (capability check, demo sandbox, graphviz)' },
  api: {
    may: ['ops', 'engine', 'core', 'cli', 'cli/commands', 'image', 'kernel'],
    types: ['store', 'host/port'],
    why: 'the Docker Engine API: a second front end beside the CLI, over the same operations and the image store; it shares the CLI\'s listing filters (src/cli/listing) and views (network inspect), and exec/attach use src/kernel\'s terminals and process entry as the CLI\'s exec does',
  },
  lab: { may: ['ops', 'engine', 'core'], types: ['store', 'plan'], why: 'a lab is made of operations: it sits above ops, never below' },
  ops: { may: ['engine', 'plan', 'firewall', 'dns', 'cni', 'store', 'core', 'host/port', 'image'], why: 'operations decide over records and commit steps; they read the host through the Host port, never src/kernel' },
  'host/kernel-host': { may: ['kernel', 'host/port'], why: 'the Host port implemented on the real kernel' },
  'host/port': { may: [], types: ['kernel/api.ts', 'core'], why: 'the Host interface needs nothing at run time, so ops and the FakeHost of the tests need no kernel' },
  dns: { may: ['engine', 'core'], types: ['store'], why: 'the responder runs as its own process over store records; it must not reach ops or the kernel' },
  cni: { may: ['engine', 'core'], why: 'CNI config parsing is pure: no ops, no kernel' },
  engine: { may: ['core'], types: ['store', 'plan', 'firewall'], why: 'pure decisions: reads records, returns steps, does no I/O' },
  firewall: { may: ['core'], types: ['plan'], why: 'the drivers turn the firewall model into steps and apply nothing' },
  'plan/kernel-runner': { may: ['plan', 'kernel', 'core'], why: 'the step runner on the real kernel' },
  plan: { may: ['core'], types: ['kernel'], why: 'steps are data (apply, undo, render); the kernel shows only in their types' },
  kernel: { may: ['core'], why: 'the only code that touches the OS; it decides nothing' },
  store: { may: ['core'], why: 'SQLite records and the journal; knows nothing of who uses them' },
  image: { may: ['store', 'kernel', 'core'], why: 'the image store: archives read, layers extracted under ROOT/images (files, like the store\'s database), records in the store; device nodes and xattrs through src/kernel' },
  core: { may: [], why: 'errors, IPv4 maths, validation: the base of everything, importing nothing of nsnet' },
};

/** Where the modules that reach the OS may be imported (units or single files), and why there. */
const OS_ACCESS: Readonly<Record<string, { where: readonly string[]; why: string }>> = {
  child_process: { where: ['kernel'], why: 'processes are started by src/kernel only' },
  koffi: { where: ['kernel/libc.ts'], why: 'FFI is src/kernel\'s, and koffi is loaded in one place: src/kernel/libc.ts (its koffi() for another library, as nft.ts does; lazyLibcFunctions for libc calls)' },
  'better-sqlite3': { where: ['store'], why: 'SQLite is behind the store' },
  dgram: { where: ['dns'], why: 'UDP is the DNS responder\'s' },
  net: { where: ['kernel', 'dns', 'ops/cni-service.ts', 'api'], why: 'sockets: address parsing in kernel, the DNS responder, the CNI service\'s unix socket, the Docker API\'s unix socket' },
  fs: {
    where: ['kernel', 'store', 'plan/kernel-runner', 'ops', 'cli', 'cli/commands', 'image', 'api'],
    why: 'files: the OS (kernel, runner), the database, state files under the root (ops), lab and CNI config files (cli), image archives and layers (image), the Docker API\'s socket (api)',
  },
};

/**
 * Where libc.so.6 may be loaded: once, by src/kernel/libc.ts, on whose handle every other module
 * declares its calls (lazyLibcFunctions).
 */
const LIBC_LOADERS = ['kernel/libc.ts'];

/** Terminal output (stdout, stderr, console) only from these units. */
const TERMINAL = ['cli', 'cli/commands', 'cli/context'];

// ---------------------------------------------------------------------------------------------
// The checker: pure, over a map of src-relative path → source text

interface Import {
  spec: string;
  typeOnly: boolean;
}

/** Comments out, so text about an import or about stderr is not taken for one. */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|\s)\/\/[^\n'"`]*$/gm, '$1');
}

function importsOf(text: string): Import[] {
  const code = stripComments(text);
  const out: Import[] = [];
  const statement = /\b(import|export)\s+(type\s+)?(?:([\w*{}\s,$]+?)\s+from\s+)?['"]([^'"]+)['"]/g;
  for (const m of code.matchAll(statement)) {
    const clause = (m[3] ?? '').trim();
    const allTypes = clause.startsWith('{') && clause.replace(/[{}]/g, '').split(',').map((s) => s.trim()).filter((s) => s !== '').every((s) => s.startsWith('type '));
    out.push({ spec: m[4] ?? '', typeOnly: m[2] !== undefined || allTypes });
  }
  for (const m of code.matchAll(/\b(?:import|require)\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ spec: m[1] ?? '', typeOnly: false });
  return out;
}

/** The src-relative .ts path a relative import names ('../x.js' → 'dir/x.ts'). */
function resolve(from: string, spec: string): string {
  return path.posix.normalize(path.posix.join(path.posix.dirname(from), spec)).replace(/\.js$/, '.ts');
}

const matches = (allowed: readonly string[], target: string): boolean => allowed.includes(unitOf(target)) || allowed.includes(target);
const list = (xs: readonly string[] | undefined): string => (xs === undefined || xs.length === 0 ? 'nothing' : xs.join(', '));

/** Every broken rule in the given sources, one line each naming file, import and rule. */
function check(sources: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  const opsGraph = new Map<string, string[]>();
  for (const [file, text] of sources) {
    const unit = unitOf(file);
    const rule = LAYERS[unit];
    if (rule === undefined) {
      problems.push(`src/${file}: unit '${unit}' is not in the layer table; add it to LAYERS (architecture.test.ts) with what it may import and why, and to the README's layout`);
      continue;
    }
    for (const imp of importsOf(text)) {
      if (imp.spec.startsWith('.')) {
        const target = resolve(file, imp.spec);
        const to = unitOf(target);
        if (target.startsWith('..')) {
          problems.push(`src/${file}: import '${imp.spec}' leaves src/`);
          continue;
        }
        if (unit === 'ops' && to === 'ops' && !imp.typeOnly) opsGraph.set(file, [...(opsGraph.get(file) ?? []), target]);
        if (to === unit || matches(rule.may, target) || (imp.typeOnly && matches(rule.types ?? [], target))) continue;
        const typesNote = matches(rule.types ?? [], target) ? ' except with `import type`' : '';
        problems.push(
          `src/${file}: import '${imp.spec}' reaches ${to}, which ${unit} may not import${typesNote} ` +
            `(${unit} may import ${list(rule.may)}; types only: ${list(rule.types)}) — ${unit}: ${rule.why}`,
        );
      } else {
        const name = imp.spec.replace(/^node:/, '').split('/')[0] ?? imp.spec;
        const access = OS_ACCESS[name];
        if (access !== undefined && !imp.typeOnly && !matches(access.where, file)) {
          problems.push(`src/${file}: import '${imp.spec}' is allowed only in ${access.where.join(', ')} — ${access.why}`);
        }
      }
    }
    const code = stripComments(text);
    if (/\.load\(\s*['"`]libc\.so/.test(code) && !LIBC_LOADERS.includes(file)) {
      problems.push(`src/${file}: loads libc itself; declare its calls with lazyLibcFunctions from src/kernel/libc.ts, which loads libc once for every module`);
    }
    const output = /\bprocess\.(stdout|stderr)\b|\bconsole\.\w+\s*\(/.exec(code);
    if (output !== null && !TERMINAL.includes(unit)) {
      problems.push(`src/${file}: writes to the terminal (${output[0]}); only ${TERMINAL.join(', ')} may — return the text or take a callback the CLI gives`);
    }
  }
  for (const cycle of cyclesIn(opsGraph)) problems.push(`src/ops: import cycle ${cycle.map((f) => `src/${f}`).join(' → ')} — split the shared part into a module both import`);
  return problems;
}

/** Cycles in a file import graph (depth-first search), each as the path back to its start. */
function cyclesIn(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (state.get(next) === undefined) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (state.get(node) === undefined) visit(node);
  return found;
}

// ---------------------------------------------------------------------------------------------
// The real tree

function srcFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? srcFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function readSources(): Map<string, string> {
  assert.ok(fs.existsSync(srcDir), `source tree not found at ${srcDir}`);
  return new Map(srcFiles(srcDir).map((f) => [path.relative(srcDir, f).split(path.sep).join('/'), fs.readFileSync(f, 'utf8')]));
}

/** `grep -rn "from '../kernel\|from '../../kernel" DIR`: the lines found (empty when none). */
function grepKernelImports(dir: string): string {
  const r = spawnSync('grep', ['-rn', "from '../kernel\\|from '../../kernel", dir], { encoding: 'utf8' });
  assert.ok(r.status === 0 || r.status === 1, `grep failed (status ${r.status}): ${r.stderr}`);
  return r.stdout;
}

describe('architecture', () => {
  test('every src file keeps to the layer table, OS access, terminal output and acyclic ops', () => {
    const problems = check(readSources());
    assert.ok(problems.length === 0, `${problems.length} architecture rule(s) broken:\n${problems.join('\n')}`);
  });

  test('every unit in the table exists (the table describes the tree, not a wish)', () => {
    const units = new Set([...readSources().keys()].map(unitOf));
    const stale = Object.keys(LAYERS).filter((u) => !units.has(u));
    assert.deepEqual(stale, [], `LAYERS names units no file belongs to: ${stale.join(', ')}`);
  });

  test("src/ops has no '../kernel' or '../../kernel' import (grep)", () => {
    const found = grepKernelImports(path.join(srcDir, 'ops'));
    assert.equal(found, '', `src/ops reaches src/kernel directly; read the host through ctx.host (src/host/port.ts) instead:\n${found}`);
  });

  test('control: the grep finds a kernel import in a synthetic ops folder', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-arch-'));
    try {
      fs.mkdirSync(path.join(dir, 'ops', 'deep'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'ops', 'deep', 'bad.ts'), "import { x } from '../../kernel/netns.js';\n");
      assert.match(grepKernelImports(path.join(dir, 'ops')), /bad\.ts:1:/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('control: the checker flags each kind of bad file it is fed, and passes good ones', () => {
    const fake = new Map<string, string>([
      ['ops/bad-kernel.ts', "import { openRtnl } from '../kernel/netlink/rtnl.js';\n"],
      ['ops/bad-host.ts', "import {\n  KernelHost,\n} from '../host/kernel-host.js';\n"],
      ['ops/a.ts', "import { b } from './b.js';\nexport const a = 1;\n"],
      ['ops/b.ts', "import { c } from './c.js';\nexport const b = 2;\n"],
      ['ops/c.ts', "import { a } from './a.js';\nexport const c = 3;\n"],
      ['ops/typed.ts', "import type { Context } from './d.js';\nexport const t = 1;\n"],
      ['ops/d.ts', "import { t } from './typed.js';\nexport type Context = number;\n"],
      ['engine/loud.ts', "export const f = (): void => console.log('x');\n"],
      ['engine/runtime-store.ts', "import { openStore } from '../store/index.js';\n"],
      ['engine/typed.ts', "import { type Store } from '../store/index.js';\n// process.stderr in a comment is no output\n"],
      ['kernel/noisy.ts', "export const f = (): void => void process.stderr.write('x');\n"],
      ['kernel/own-libc.ts', "import { koffi } from './libc.js';\nconst lib = koffi().load('libc.so.6');\n"],
      ['kernel/own-koffi.ts', "const k = require('koffi');\n"],
      ['dns/spawns.ts', "import { spawn } from 'node:child_process';\n"],
      ['dns/lazy.ts', "export const load = () => import('../ops/context.js');\n"],
      ['host/port.ts', "import { openRtnl } from '../kernel/api.js';\n"],
      ['cli/common.ts', "import { KernelHost } from '../host/kernel-host.js';\nprocess.stderr.write('fine here');\n"],
      ['newdir/x.ts', 'export const x = 1;\n'],
    ]);
    const problems = check(fake);
    const expect = (file: string, ...words: string[]): void => {
      const hit = problems.find((p) => p.startsWith(`src/${file}:`) && words.every((w) => p.includes(w)));
      assert.ok(hit !== undefined, `expected a problem for src/${file} naming ${words.join(', ')}; got:\n${problems.join('\n')}`);
    };
    expect('ops/bad-kernel.ts', "'../kernel/netlink/rtnl.js'", 'reaches kernel', 'ops may not import', LAYERS['ops']?.why ?? '?');
    expect('ops/bad-host.ts', "'../host/kernel-host.js'", 'reaches host/kernel-host');
    expect('engine/loud.ts', 'console.log(', 'writes to the terminal');
    expect('kernel/noisy.ts', 'process.stderr', 'writes to the terminal');
    expect('kernel/own-libc.ts', 'loads libc itself', 'lazyLibcFunctions');
    expect('kernel/own-koffi.ts', "'koffi'", 'allowed only in kernel/libc.ts');
    expect('engine/runtime-store.ts', 'reaches store', 'except with `import type`');
    expect('dns/spawns.ts', "'node:child_process'", 'allowed only in kernel');
    expect('dns/lazy.ts', "'../ops/context.js'", 'reaches ops');
    expect('host/port.ts', "'../kernel/api.js'", 'except with `import type`');
    expect('cli/common.ts', "'../host/kernel-host.js'", 'cli may not import');
    expect('newdir/x.ts', "unit 'newdir' is not in the layer table");
    assert.ok(problems.some((p) => p.includes('import cycle src/ops/a.ts → src/ops/b.ts → src/ops/c.ts → src/ops/a.ts')), problems.join('\n'));
    for (const good of ['engine/typed.ts', 'ops/typed.ts', 'ops/d.ts']) {
      assert.ok(!problems.some((p) => p.startsWith(`src/${good}:`)), `src/${good} broke no rule, yet:\n${problems.join('\n')}`);
    }
    assert.ok(!problems.some((p) => p.startsWith('src/cli/common.ts:') && p.includes('writes to the terminal')), 'src/cli may write to the terminal');
    assert.ok(!problems.some((p) => p.includes('typed.ts →') || p.includes('d.ts →')), 'a type-only import makes no cycle (it is erased)');
  });
});
