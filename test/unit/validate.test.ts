import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NsnetError } from '../../src/core/errors.js';
import * as v from '../../src/core/validate.js';

function invalidWith(fragment: string) {
  return (err: unknown) => {
    assert.ok(err instanceof NsnetError, 'expected NsnetError');
    assert.equal(err.code, 'INVALID_VALUE');
    assert.ok(err.message.includes(fragment), `message ${JSON.stringify(err.message)} should include ${JSON.stringify(fragment)}`);
    return true;
  };
}

test('network and container names follow Docker rules', () => {
  for (const ok of ['a', 'study', 'my-net_1.0', 'A9', 'x'.repeat(63)]) {
    assert.equal(v.networkName(ok), ok);
    assert.equal(v.containerName(ok), ok);
  }
  for (const bad of ['', '-x', '_x', '.x', '.', '..', 'a/b', 'a b', 'ä', 'a:b']) {
    assert.throws(() => v.networkName(bad), invalidWith(`invalid network name ${JSON.stringify(bad)}`), bad);
    assert.throws(() => v.containerName(bad), invalidWith(`invalid container name ${JSON.stringify(bad)}`), bad);
  }
  assert.throws(() => v.networkName('x'.repeat(64)), invalidWith('at most 63 characters'));
  assert.throws(() => v.containerName('y'.repeat(64)), invalidWith('at most 63 characters'));
});

test('interface names', () => {
  for (const ok of ['eth0', 'a', 'x'.repeat(15), 'nsv0123456789ab']) assert.equal(v.ifName(ok), ok);
  assert.throws(() => v.ifName(''), invalidWith('invalid interface name "": expected 1 to 15 bytes'));
  assert.throws(() => v.ifName('x'.repeat(16)), invalidWith('expected 1 to 15 bytes (got 16)'));
  // 8 characters but 16 bytes in UTF-8.
  assert.throws(() => v.ifName('éééééééé'), invalidWith('(got 16)'));
  for (const bad of ['.', '..', 'a/b', 'a b', 'a\tb', 'eth0:1']) {
    assert.throws(() => v.ifName(bad), invalidWith(`invalid interface name ${JSON.stringify(bad)}`), bad);
  }
});

test('mac addresses', () => {
  assert.equal(v.mac('02:42:AC:11:00:02'), '02:42:ac:11:00:02');
  assert.throws(() => v.mac('01:00:5e:00:00:01'), invalidWith('"01:00:5e:00:00:01": multicast bit set'));
  assert.throws(() => v.mac('ff:ff:ff:ff:ff:ff'), invalidWith('multicast'));
  assert.throws(() => v.mac('00:00:00:00:00:00'), invalidWith('all-zero'));
  for (const bad of ['02:42:ac:11:00', '02-42-ac-11-00-02', '0242.ac11.0002', '02:42:ac:11:00:0g', '2:42:ac:11:0:2']) {
    assert.throws(() => v.mac(bad), invalidWith(`invalid MAC address "${bad}"`), bad);
  }
});

test('mtu', () => {
  assert.equal(v.mtu(1500), 1500);
  assert.equal(v.mtu('68'), 68);
  assert.equal(v.mtu('65535'), 65535);
  for (const bad of [67, 65536, 1500.5, '1500x', '', '-1', '0x5dc']) {
    assert.throws(() => v.mtu(bad), invalidWith(`invalid MTU "${bad}": expected an integer from 68 to 65535`), String(bad));
  }
});

test('keyValue', () => {
  assert.deepEqual(v.keyValue('A=b', 'label'), ['A', 'b']);
  assert.deepEqual(v.keyValue('A=', 'label'), ['A', '']);
  assert.deepEqual(v.keyValue('opt=x=y', '--opt'), ['opt', 'x=y']);
  assert.throws(() => v.keyValue('=x', 'label'), invalidWith('invalid label "=x": expected KEY=VALUE'));
  assert.throws(() => v.keyValue('FOO', 'environment variable'), invalidWith('invalid environment variable "FOO"'));
});

test('hostname', () => {
  for (const ok of ['web', 'a', 'web-1', 'A1', 'x'.repeat(63)]) assert.equal(v.hostname(ok), ok);
  for (const bad of ['', '-web', 'web-', 'a.b', 'a_b', 'x'.repeat(64)]) {
    assert.throws(() => v.hostname(bad), invalidWith(`invalid hostname ${JSON.stringify(bad)}`), bad);
  }
});

test('subnet requires prefix 8..30', () => {
  assert.equal(v.subnet('10.0.0.0/8').text, '10.0.0.0/8');
  assert.equal(v.subnet('10.0.0.4/30').text, '10.0.0.4/30');
  assert.throws(() => v.subnet('10.0.0.4/31'), invalidWith('invalid subnet "10.0.0.4/31": prefix length must be between /8 and /30'));
  assert.throws(() => v.subnet('10.0.0.4/32'), invalidWith('"10.0.0.4/32"'));
  assert.throws(() => v.subnet('10.0.0.0/7'), invalidWith('"10.0.0.0/7"'));
  assert.throws(() => v.subnet('10.0.0.1/24'), invalidWith('host bits set'));
});
