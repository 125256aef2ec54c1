/**
 * The nsnet service's CLI request (src/cli/service.ts): what native/nsnet-client.c sends, decoded;
 * anything else refused with a message that says what is wrong, never thrown past the service.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { commandPath, decodeCliCall } from '../../src/cli/service.js';

const payload = (...pairs: string[]): Buffer => Buffer.from(pairs.map((s) => `${s}\0`).join(''));

test('a request as the client writes it: argv in order, environment, directory, umask, terminals', () => {
  const call = decodeCliCall(
    payload('cwd', '/tmp', 'umask', '22', 'tty', '12', 'columns', '120', 'arg', 'ps', 'arg', '--format', 'arg', '{{.Names}} = x', 'env', 'NSNET_ROOT=/r', 'env', 'EMPTY=', 'env', 'EQ=a=b'),
  );
  assert.deepEqual(call.argv, ['ps', '--format', '{{.Names}} = x']);
  assert.deepEqual(call.env, { NSNET_ROOT: '/r', EMPTY: '', EQ: 'a=b' });
  assert.equal(call.cwd, '/tmp');
  assert.equal(call.umask, 0o22);
  assert.deepEqual(call.tty, [false, true, true]);
  assert.equal(call.columns, 120);
});

test('an empty argument and a command line without arguments are kept as they are', () => {
  assert.deepEqual(decodeCliCall(payload('cwd', '/', 'umask', '77', 'tty', '', 'arg', '')).argv, ['']);
  assert.deepEqual(decodeCliCall(payload('cwd', '/', 'umask', '0', 'tty', '')).argv, []);
});

test('malformed requests are refused with what is wrong', () => {
  const refused: Array<[Buffer, RegExp]> = [
    [Buffer.from('cwd\0/\0umask'), /not a list of NUL-terminated key\/value pairs/],
    [payload('cwd', '/', 'umask', '22', 'arg'), /not a list of NUL-terminated key\/value pairs/],
    [payload('cwd', 'relative', 'umask', '22'), /no absolute working directory/],
    [payload('cwd', '/', 'umask', '999'), /no umask/],
    [payload('cwd', '/', 'umask', '22', 'env', 'NOEQUALS'), /environment entry without a name/],
    [payload('cwd', '/', 'umask', '22', 'env', '=value'), /environment entry without a name/],
    [payload('cwd', '/', 'umask', '22', 'bogus', 'x'), /unknown field "bogus"/],
    [Buffer.from([0xff, 0xfe, 0]), /not a list/],
    [Buffer.alloc(0), /no absolute working directory/],
  ];
  for (const [bytes, why] of refused) assert.throws(() => decodeCliCall(bytes), why, JSON.stringify(bytes.toString('latin1')));
});

test('commandPath names a subcommand with its parents, without the program', () => {
  const program = new Command('nsnet');
  const network = program.command('network');
  const create = network.command('create');
  assert.equal(commandPath(create), 'network create');
  assert.equal(commandPath(program.command('ps')), 'ps');
});
