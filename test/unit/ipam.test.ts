import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NsnetError } from '../../src/core/errors.js';
import { intToIp, ipToInt, parseCidr } from '../../src/core/ipv4.js';
import { allocate, defaultGateway, reserve, validateGateway, validateRange, type Pool } from '../../src/engine/ipam.js';

const ip = ipToInt;

function pool(subnet: string, gateway?: string, range?: string): Pool {
  const s = parseCidr(subnet);
  return {
    subnet: s,
    gateway: gateway === undefined ? defaultGateway(s) : ip(gateway),
    ...(range === undefined ? {} : { range: parseCidr(range, 'ip range') }),
    name: 'study',
  };
}

/** Allocate like the engine does: record the address as used and keep the cursor. */
function run(p: Pool, used: Set<number>, cursor: number | undefined, n: number): { got: string[]; cursor: number | undefined } {
  const got: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = allocate(p, used, cursor);
    used.add(r.address);
    cursor = r.cursor;
    got.push(intToIp(r.address));
  }
  return { got, cursor };
}

function codeIs(code: string, fragment: string) {
  return (err: unknown) => {
    assert.ok(err instanceof NsnetError);
    assert.equal(err.code, code);
    assert.ok(err.message.includes(fragment), `message ${JSON.stringify(err.message)} should include ${JSON.stringify(fragment)}`);
    return true;
  };
}

test('first allocation skips network and default gateway', () => {
  const p = pool('10.0.0.0/24');
  assert.equal(intToIp(p.gateway), '10.0.0.1');
  assert.deepEqual(run(p, new Set(), undefined, 2).got, ['10.0.0.2', '10.0.0.3']);
});

test('round robin: a released address is not reused before the rest', () => {
  const p = pool('10.0.0.0/24');
  const used = new Set<number>();
  const first = run(p, used, undefined, 2);
  assert.deepEqual(first.got, ['10.0.0.2', '10.0.0.3']);
  used.delete(ip('10.0.0.2'));
  const next = run(p, used, first.cursor, 1);
  assert.deepEqual(next.got, ['10.0.0.4']);
});

test('wraps around after the end of the subnet, skipping broadcast', () => {
  const p = pool('10.0.0.0/29'); // hosts .1-.6, gateway .1
  const used = new Set<number>();
  const r = run(p, used, undefined, 5);
  assert.deepEqual(r.got, ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
  used.delete(ip('10.0.0.3'));
  used.delete(ip('10.0.0.5'));
  assert.deepEqual(run(p, used, r.cursor, 2).got, ['10.0.0.3', '10.0.0.5']);
});

test('exhaustion throws POOL_EXHAUSTED naming network and range', () => {
  const p = pool('10.0.0.0/30'); // hosts .1 (gateway) and .2
  const used = new Set<number>();
  const r = run(p, used, undefined, 1);
  assert.deepEqual(r.got, ['10.0.0.2']);
  assert.throws(() => allocate(p, used, r.cursor), codeIs('POOL_EXHAUSTED', 'network study has no free address in 10.0.0.0/30'));
  try {
    allocate(p, used, r.cursor);
  } catch (err) {
    assert.ok(err instanceof NsnetError && err.hint !== undefined);
  }
});

test('custom gateway at the top of the subnet is skipped', () => {
  const p = pool('10.0.0.0/24', '10.0.0.254');
  const used = new Set<number>();
  const r = run(p, used, undefined, 1);
  assert.deepEqual(r.got, ['10.0.0.1']);
  const end = run(p, used, ip('10.0.0.252'), 2);
  assert.deepEqual(end.got, ['10.0.0.253', '10.0.0.2']);
});

test('range restriction, including wrap inside the range', () => {
  const p = pool('10.0.0.0/16', undefined, '10.0.5.0/30');
  const used = new Set<number>();
  const r = run(p, used, undefined, 4);
  // Range network and broadcast are ordinary hosts of the subnet.
  assert.deepEqual(r.got, ['10.0.5.0', '10.0.5.1', '10.0.5.2', '10.0.5.3']);
  assert.throws(() => allocate(p, used, r.cursor), codeIs('POOL_EXHAUSTED', 'no free address in 10.0.5.0/30'));
  used.delete(ip('10.0.5.1'));
  assert.deepEqual(run(p, used, r.cursor, 1).got, ['10.0.5.1']);
  // A stale cursor outside the range restarts at the range's start.
  assert.deepEqual(run(pool('10.0.0.0/16', undefined, '10.0.5.0/30'), new Set(), ip('10.0.9.9'), 1).got, ['10.0.5.0']);
});

test('range covering the subnet edges still skips network and broadcast', () => {
  const p = pool('10.0.0.0/24', '10.0.0.1', '10.0.0.0/24');
  const used = new Set<number>();
  const r = run(p, used, ip('10.0.0.253'), 2);
  assert.deepEqual(r.got, ['10.0.0.254', '10.0.0.2']);
});

test('reserve validates a static address', () => {
  const p = pool('10.0.0.0/24', undefined, '10.0.0.128/25');
  const used = new Set([ip('10.0.0.5')]);
  assert.equal(reserve(p, used, ip('10.0.0.9')), ip('10.0.0.9')); // outside range, inside subnet: allowed
  assert.throws(() => reserve(p, used, ip('10.0.1.9')), codeIs('INVALID_VALUE', '"10.0.1.9": not inside subnet 10.0.0.0/24'));
  assert.throws(() => reserve(p, used, ip('10.0.0.0')), codeIs('INVALID_VALUE', '"10.0.0.0": it is the network address'));
  assert.throws(() => reserve(p, used, ip('10.0.0.255')), codeIs('INVALID_VALUE', '"10.0.0.255": it is the broadcast address'));
  assert.throws(() => reserve(p, used, ip('10.0.0.1')), codeIs('INVALID_VALUE', '"10.0.0.1": it is the gateway of network study'));
  assert.throws(() => reserve(p, used, ip('10.0.0.5')), codeIs('ADDRESS_IN_USE', 'address 10.0.0.5 is already in use on network study'));
});

test('gateway and range validation', () => {
  const s = parseCidr('10.0.0.0/24');
  assert.equal(intToIp(defaultGateway(s)), '10.0.0.1');
  assert.equal(validateGateway(s, ip('10.0.0.254')), ip('10.0.0.254'));
  assert.throws(() => validateGateway(s, ip('10.0.1.1')), codeIs('INVALID_VALUE', 'invalid gateway "10.0.1.1": not inside subnet 10.0.0.0/24'));
  assert.throws(() => validateGateway(s, ip('10.0.0.0')), codeIs('INVALID_VALUE', 'network address'));
  assert.throws(() => validateGateway(s, ip('10.0.0.255')), codeIs('INVALID_VALUE', 'broadcast address'));
  const gw = ip('10.0.0.1');
  assert.equal(validateRange(s, parseCidr('10.0.0.128/25'), gw).text, '10.0.0.128/25');
  assert.throws(() => validateRange(s, parseCidr('10.0.0.0/23'), gw), codeIs('INVALID_VALUE', 'invalid ip range "10.0.0.0/23": not inside subnet 10.0.0.0/24'));
  assert.throws(() => validateRange(s, parseCidr('10.0.1.0/25'), gw), codeIs('INVALID_VALUE', '"10.0.1.0/25"'));
  // A range that is only the gateway, or only the network or broadcast address, leaves no address.
  assert.throws(() => validateRange(s, parseCidr('10.0.0.1/32'), gw), codeIs('INVALID_VALUE', 'leaves no address for a container'));
  assert.throws(() => validateRange(s, parseCidr('10.0.0.255/32'), gw), codeIs('INVALID_VALUE', 'leaves no address for a container'));
  assert.equal(validateRange(s, parseCidr('10.0.0.7/32'), gw).text, '10.0.0.7/32');
});
