/**
 * Exit codes as Docker's (issue 17 item 7): the error code → exit code mapping, the launcher's
 * status → typed error mapping, commands over several names going on past failures (on the fake
 * machine), and run's usage errors through the real command line (no root needed: they fail before
 * anything is touched).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NsnetError, NsnetErrors, type ErrorCode } from '../../src/core/errors.js';
import { exitCodeFor } from '../../src/cli/output.js';
import { commandFailure } from '../../src/kernel/process.js';
import { removeEach, run, startEach, stop, stopEach } from '../../src/ops/containers.js';
import { doneOrThrow, eachRef, failureOfEach } from '../../src/ops/each.js';
import { fixture, runInput } from '../helpers/ops-fixture.js';

const err = (code: ErrorCode): NsnetError => new NsnetError(code, `a ${code} failure`);

describe('exitCodeFor', () => {
  const table: Array<[string, unknown, string | undefined, number]> = [
    ['run: the command is not found', err('COMMAND_NOT_FOUND'), 'run', 127],
    ['run: the command cannot be invoked', err('COMMAND_NOT_EXECUTABLE'), 'run', 126],
    ['run: a usage error', err('USAGE'), 'run', 125],
    ['run: nsnet could not make the container', err('ADDRESS_IN_USE'), 'run', 125],
    ['run: a kernel failure', err('KERNEL'), 'run', 125],
    ['run: a bug', new Error('boom'), 'run', 125],
    ['exec: the command is not found', err('COMMAND_NOT_FOUND'), 'exec', 127],
    ['exec: the command cannot be invoked', err('COMMAND_NOT_EXECUTABLE'), 'exec', 126],
    ['exec: the container is not running', err('STATE'), 'exec', 1],
    ['start: a command not found is a failed start (Docker exits 1)', err('COMMAND_NOT_FOUND'), 'start', 1],
    ['rm: several failures', new NsnetErrors('rm', [err('NOT_FOUND'), err('IN_USE')]), 'rm', 1],
    ['network create: a usage error', err('USAGE'), 'create', 2],
    ['no command known: a usage error', err('USAGE'), undefined, 2],
    ['no command known: anything else', err('NOT_FOUND'), undefined, 1],
  ];
  for (const [what, e, command, code] of table) {
    test(what, () => assert.equal(exitCodeFor(e, command), code));
  }
});

describe("commandFailure: the launcher's status as a typed error, in Docker's words", () => {
  test('127 with a bare name: not found in $PATH', () => {
    const e = commandFailure('nosuch', 127, 'setpriv: failed to execute nosuch: No such file or directory');
    assert.equal(e.code, 'COMMAND_NOT_FOUND');
    assert.match(e.message, /^exec: "nosuch": executable file not found in \$PATH \(setpriv: failed to execute nosuch: No such file or directory\)$/);
  });
  test('127 with a path: no such file', () => {
    const e = commandFailure('/no/such', 127, "chroot: failed to run command '/no/such': No such file or directory");
    assert.equal(e.code, 'COMMAND_NOT_FOUND');
    assert.match(e.message, /^exec: "\/no\/such": no such file or directory/);
  });
  test('126: permission denied', () => {
    const e = commandFailure('/etc', 126, 'setpriv: failed to execute /etc: Permission denied');
    assert.equal(e.code, 'COMMAND_NOT_EXECUTABLE');
    assert.match(e.message, /^exec: "\/etc": permission denied/);
  });
});

describe('eachRef: every name tried, failures kept with their codes', () => {
  test('done in order, failures collected, one error for several', () => {
    const out = eachRef(['a', 'b', 'c', 'd'], 'poke', (ref) => {
      if (ref === 'b') throw err('NOT_FOUND');
      if (ref === 'c') throw new Error('not an NsnetError');
      return ref === 'd' ? undefined : ref.toUpperCase();
    });
    assert.deepEqual(out.done, ['A']);
    assert.deepEqual(out.failures.map((f) => f.code), ['NOT_FOUND', 'INTERNAL']);
    assert.match(out.failures[1]!.message, /^poke c: not an NsnetError$/);
    const failure = failureOfEach('poke', out);
    assert.ok(failure instanceof NsnetErrors);
    assert.deepEqual(failure.errors.map((f) => f.code), ['NOT_FOUND', 'INTERNAL']);
    assert.throws(() => doneOrThrow('poke', out), (e: unknown) => e === failure || (e instanceof NsnetErrors && e.errors.length === 2));
  });
  test('a single failure is thrown as it is; none gives the done list', () => {
    const one = eachRef(['a'], 'poke', () => {
      throw err('IN_USE');
    });
    assert.equal(failureOfEach('poke', one), one.failures[0]);
    assert.deepEqual(doneOrThrow('poke', eachRef(['a', 'b'], 'poke', (r) => r)), ['a', 'b']);
  });
});

describe('rm, stop and start over several names (fake machine)', () => {
  const twoContainers = async () => {
    const fx = fixture();
    await run(fx.ctx, runInput({ name: 'ut-x1' }));
    await run(fx.ctx, runInput({ name: 'ut-x2' }));
    return fx;
  };

  test('rm -f ignores a missing container and removes the present one', async () => {
    const fx = await twoContainers();
    const out = removeEach(fx.ctx, ['ut-missing', 'ut-x1'], { force: true });
    assert.deepEqual(out, { done: ['ut-x1'], failures: [] });
    assert.equal(fx.store.containers.byIdOrName('ut-x1'), undefined);
  });

  test('rm without -f reports each missing one and a running one, and removes the rest', async () => {
    const fx = await twoContainers();
    stop(fx.ctx, ['ut-x2'], 0);
    const out = removeEach(fx.ctx, ['ut-m1', 'ut-x1', 'ut-x2', 'ut-m2'], { force: false });
    assert.deepEqual(out.done, ['ut-x2']);
    assert.deepEqual(out.failures.map((f) => f.code), ['NOT_FOUND', 'IN_USE', 'NOT_FOUND']);
    assert.ok(fx.store.containers.byIdOrName('ut-x1'));
    assert.equal(fx.store.containers.byIdOrName('ut-x2'), undefined);
  });

  test('stop and start go on past a missing container', async () => {
    const fx = await twoContainers();
    const stopped = stopEach(fx.ctx, ['ut-missing', 'ut-x1'], 0);
    assert.deepEqual([stopped.done, stopped.failures.map((f) => f.code)], [['ut-x1'], ['NOT_FOUND']]);
    assert.equal(fx.store.containers.resolve('ut-x1').status, 'exited');
    const started = await startEach(fx.ctx, ['ut-x1', 'ut-missing']);
    assert.deepEqual([started.done, started.failures.map((f) => f.code)], [['ut-x1'], ['NOT_FOUND']]);
    assert.equal(fx.store.containers.resolve('ut-x1').status, 'running');
  });
});

describe("run's usage errors exit 125 as Docker's; other commands' still 2", () => {
  const NSNET = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/nsnet.mjs');
  let root: string;
  const nsnet = (...args: string[]): { code: number | null; stderr: string } => {
    const r = spawnSync(process.execPath, [NSNET, ...args], { encoding: 'utf8', env: { ...process.env, NSNET_ROOT: root }, timeout: 20_000 });
    return { code: r.status, stderr: r.stderr };
  };
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'nsnet-exitcodes-'));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  const table: Array<[string[], number, RegExp]> = [
    [['run', '--bogus', '--', 'true'], 125, /unknown option '--bogus'/],
    [['run'], 125, /run needs a command, or an image/],
    [['run', '--help'], 0, /Usage: nsnet run/],
    [['network', 'create'], 2, /missing required argument/],
    [['ps', '--bogus'], 2, /unknown option '--bogus'/],
  ];
  for (const [args, code, message] of table) {
    test(`nsnet ${args.join(' ')} → ${code}`, () => {
      const r = nsnet(...args);
      assert.equal(r.code, code, r.stderr);
      if (code !== 0) assert.match(r.stderr, message);
    });
  }
});
