import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NsnetError } from '../../src/core/errors.js';
import {
  broadcast,
  cidrContains,
  cidrOf,
  cidrOverlaps,
  cidrSize,
  cidrWithin,
  firstHost,
  formatCidr,
  intToIp,
  ipToInt,
  lastHost,
  parseCidr,
  parseIPv4,
} from '../../src/core/ipv4.js';

function invalidWith(fragment: string) {
  return (err: unknown) => {
    assert.ok(err instanceof NsnetError, 'expected NsnetError');
    assert.equal(err.code, 'INVALID_VALUE');
    assert.ok(err.message.includes(fragment), `message ${JSON.stringify(err.message)} should include ${JSON.stringify(fragment)}`);
    return true;
  };
}

test('parseIPv4 accepts dotted quads and rejects other spellings', () => {
  assert.equal(parseIPv4('10.0.0.1'), '10.0.0.1');
  assert.equal(parseIPv4('255.255.255.255'), '255.255.255.255');
  for (const bad of ['010.0.0.1', '10.0.1', '0x0a.0.0.1', '1.2.3.256', '1.2.3.4 ', '', 'fe80::1', '1.2.3.4/24']) {
    assert.throws(() => parseIPv4(bad), invalidWith(`"${bad}"`), bad);
  }
  assert.throws(() => parseIPv4('1.2.3', 'gateway'), invalidWith('invalid gateway "1.2.3"'));
});

test('ipToInt and intToIp round trip without sign problems', () => {
  assert.equal(ipToInt('0.0.0.0'), 0);
  assert.equal(ipToInt('255.255.255.255'), 0xffffffff);
  assert.equal(ipToInt('192.168.1.2'), 0xc0a80102);
  assert.equal(intToIp(0xc0a80102), '192.168.1.2');
  assert.equal(intToIp(0xffffffff), '255.255.255.255');
  assert.throws(() => intToIp(2 ** 32), invalidWith('4294967296'));
  assert.throws(() => intToIp(-1), invalidWith('-1'));
});

test('parseCidr canonical text and bounds', () => {
  const c = parseCidr('10.0.0.0/24');
  assert.deepEqual(c, { network: ipToInt('10.0.0.0'), prefixLen: 24, text: '10.0.0.0/24' });
  assert.equal(parseCidr('0.0.0.0/0').text, '0.0.0.0/0');
  assert.equal(parseCidr('10.1.2.3/32').text, '10.1.2.3/32');
  assert.equal(formatCidr(ipToInt('172.17.0.0'), 16), '172.17.0.0/16');
});

test('parseCidr rejects bad input naming the value', () => {
  assert.throws(
    () => parseCidr('10.0.0.0/33'),
    invalidWith('invalid subnet "10.0.0.0/33": expected an IPv4 CIDR such as 10.0.0.0/24'),
  );
  for (const bad of ['10.0.0.0', '10.0.0.0/', '10.0.0.0/024', '10.0.0.0/-1', '10.0.0/8', '10.0.0.0/24/1', 'x/8']) {
    assert.throws(() => parseCidr(bad), invalidWith(`"${bad}"`), bad);
  }
  assert.throws(() => parseCidr('1.2.3.4/x', '--ip-range'), invalidWith('invalid --ip-range "1.2.3.4/x"'));
});

test('parseCidr rejects host bits and suggests the network', () => {
  assert.throws(
    () => parseCidr('10.0.0.1/24'),
    invalidWith('invalid subnet "10.0.0.1/24": host bits set; did you mean 10.0.0.0/24?'),
  );
  assert.throws(() => parseCidr('192.168.1.200/20'), invalidWith('did you mean 192.168.0.0/20?'));
  assert.throws(() => parseCidr('255.255.255.255/1'), invalidWith('did you mean 128.0.0.0/1?'));
});

test('host range maths for /24, /30, /31 and /32', () => {
  const c24 = parseCidr('10.0.0.0/24');
  assert.equal(cidrSize(c24), 256);
  assert.equal(intToIp(broadcast(c24)), '10.0.0.255');
  assert.equal(intToIp(firstHost(c24)), '10.0.0.1');
  assert.equal(intToIp(lastHost(c24)), '10.0.0.254');

  const c30 = parseCidr('10.0.0.4/30');
  assert.equal(cidrSize(c30), 4);
  assert.equal(intToIp(firstHost(c30)), '10.0.0.5');
  assert.equal(intToIp(lastHost(c30)), '10.0.0.6');

  const c31 = parseCidr('10.0.0.4/31');
  assert.equal(cidrSize(c31), 2);
  assert.equal(intToIp(broadcast(c31)), '10.0.0.5');

  const c32 = parseCidr('10.0.0.4/32');
  assert.equal(cidrSize(c32), 1);
  assert.equal(broadcast(c32), c32.network);

  const all = parseCidr('0.0.0.0/0');
  assert.equal(cidrSize(all), 2 ** 32);
  assert.equal(broadcast(all), 0xffffffff);
  const top = parseCidr('255.255.255.0/24');
  assert.equal(intToIp(broadcast(top)), '255.255.255.255');
});

test('contains, overlaps and within', () => {
  const a = parseCidr('10.0.0.0/16');
  const b = parseCidr('10.0.5.0/24');
  const c = parseCidr('10.1.0.0/16');
  assert.ok(cidrContains(a, ipToInt('10.0.255.255')));
  assert.ok(!cidrContains(a, ipToInt('10.1.0.0')));
  assert.ok(cidrOverlaps(a, b));
  assert.ok(cidrOverlaps(b, a));
  assert.ok(!cidrOverlaps(a, c));
  assert.ok(cidrOverlaps(parseCidr('0.0.0.0/0'), c));
  assert.ok(cidrWithin(b, a));
  assert.ok(!cidrWithin(a, b));
  assert.ok(cidrWithin(a, a));
  assert.equal(cidrOf(ipToInt('192.168.1.77'), 24).text, '192.168.1.0/24');
});
