#!/usr/bin/env node
// The bundled CLI (npm run build makes it) starts faster; the plain tsc output is the fallback,
// and wins when it is newer (a `tsc`-only rebuild during development).
import { statSync } from 'node:fs';
const mtime = (rel) => statSync(new URL(rel, import.meta.url), { throwIfNoEntry: false })?.mtimeMs ?? -1;
const bundled = mtime('../dist/nsnet.mjs') >= mtime('../dist/src/cli/main.js');
await import(bundled ? '../dist/nsnet.mjs' : '../dist/src/cli/main.js');
