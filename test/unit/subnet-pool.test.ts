import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NsnetError } from '../../src/core/errors.js';
import { parseCidr } from '../../src/core/ipv4.js';
import { defaultCandidates, pickSubnet } from '../../src/engine/subnet-pool.js';

const c = (t: string) => parseCidr(t);

test('candidates are Docker default pools in order', () => {
  const all = defaultCandidates().map((x) => x.text);
  assert.equal(all.length, 15 + 16);
  assert.equal(all[0], '172.17.0.0/16');
  assert.equal(all[14], '172.31.0.0/16');
  assert.equal(all[15], '192.168.0.0/20');
  assert.equal(all[16], '192.168.16.0/20');
  assert.equal(all[30], '192.168.240.0/20');
});

test('first free when nothing is taken', () => {
  assert.equal(pickSubnet([]).text, '172.17.0.0/16');
});

test('skips taken and overlapping subnets', () => {
  assert.equal(pickSubnet([c('172.17.0.0/16')]).text, '172.18.0.0/16');
  // A host route inside 172.18/16, then 172.19/16, then a wider route covering 172.20/16 and 172.21/16.
  assert.equal(pickSubnet([c('172.17.0.0/16'), c('172.18.3.0/24'), c('172.19.0.0/16'), c('172.20.0.0/15')]).text, '172.22.0.0/16');
  // A host address as /32.
  assert.equal(pickSubnet([c('172.17.5.9/32')]).text, '172.18.0.0/16');
});

test('default route does not block everything', () => {
  assert.equal(pickSubnet([c('0.0.0.0/0')]).text, '172.17.0.0/16');
});

test('falls through to 192.168.x/20 blocks', () => {
  const taken = [c('172.16.0.0/12')];
  assert.equal(pickSubnet(taken).text, '192.168.0.0/20');
  assert.equal(pickSubnet([...taken, c('192.168.1.0/24')]).text, '192.168.16.0/20');
  assert.equal(pickSubnet([...taken, c('192.168.0.0/17')]).text, '192.168.128.0/20');
});

test('exhaustion suggests --subnet', () => {
  assert.throws(
    () => pickSubnet([c('172.16.0.0/12'), c('192.168.0.0/16')]),
    (err: unknown) => err instanceof NsnetError && err.code === 'POOL_EXHAUSTED' && err.hint === 'use --subnet to choose one',
  );
});
