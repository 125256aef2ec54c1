/**
 * `--format=json` is `--format json`: for output and for errors, on the command or on the
 * program. Read-only commands on an empty state root, so no root and no kernel change is needed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const NSNET = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/nsnet.mjs');

describe('--format=json works like --format json', () => {
  let root: string;
  const nsnet = (...args: string[]): { code: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [NSNET, ...args], { encoding: 'utf8', env: { ...process.env, NSNET_ROOT: root }, timeout: 20_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-format-'));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  test('network ls prints JSON with either spelling', () => {
    for (const args of [['network', 'ls', '--format=json'], ['network', 'ls', '--format', 'json'], ['--format=json', 'network', 'ls']]) {
      const r = nsnet(...args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(Array.isArray(JSON.parse(r.stdout)), `${args.join(' ')} printed: ${r.stdout}`);
    }
  });

  test('an error is printed as {"error": {...}} with either spelling', () => {
    for (const args of [['inspect', 'nope', '--format=json'], ['inspect', 'nope', '--format', 'json'], ['--format=json', 'inspect', 'nope']]) {
      const r = nsnet(...args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      const body = JSON.parse(r.stderr) as { error?: { code?: string; message?: string } };
      assert.equal(body.error?.code, 'NOT_FOUND', `${args.join(' ')} printed: ${r.stderr}`);
      assert.match(body.error?.message ?? '', /nope/);
    }
  });

  test('without --format the error is text', () => {
    const r = nsnet('inspect', 'nope');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^nsnet: no such container: nope$/m);
  });
});
