/**
 * The layering rule as a test: only src/kernel reaches the OS (child_process, FFI), only
 * src/store imports SQLite, only src/cli writes to stdout, and src/engine does no I/O.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const srcDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src');

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const rules: Array<{ pattern: RegExp; allowed: string[]; what: string }> = [
  { pattern: /from 'node:child_process'|from 'koffi'|require\('koffi'\)/, allowed: ['kernel'], what: 'child processes and FFI' },
  { pattern: /from 'better-sqlite3'/, allowed: ['store'], what: 'SQLite' },
  { pattern: /process\.stdout|console\.log/, allowed: ['cli'], what: 'stdout' },
  { pattern: /from 'node:fs'|from '\.\.\/kernel\//, allowed: ['kernel', 'store', 'ops', 'cli', 'plan'], what: 'file and kernel I/O' },
];

test('layers import only what they may', () => {
  assert.ok(fs.existsSync(srcDir), `source tree not found at ${srcDir}`);
  const violations: string[] = [];
  for (const file of files(srcDir)) {
    const layer = path.relative(srcDir, file).split(path.sep)[0] ?? '';
    const text = fs.readFileSync(file, 'utf8');
    for (const rule of rules) {
      if (rule.pattern.test(text) && !rule.allowed.includes(layer)) {
        violations.push(`${path.relative(srcDir, file)} uses ${rule.what} (allowed only in ${rule.allowed.join(', ')})`);
      }
    }
  }
  assert.deepEqual(violations, []);
});
