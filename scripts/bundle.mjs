// One-file bundle of the CLI: Node resolves and compiles ~50 small ES modules at every start,
// which costs more than the work of most commands; one file starts about 50 ms faster.
// Native packages stay external (they load their .node binaries relative to themselves).
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/src/cli/main.js'],
  outfile: 'dist/nsnet.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3', 'koffi'],
  // CommonJS dependencies (commander) call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __nsnetCreateRequire } from 'node:module'; const require = __nsnetCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
