/**
 * Property-based tests for address allocation: any sequence of dynamic allocations, static
 * requests and releases never hands out an address twice, never the network, gateway or
 * broadcast address, stays inside --ip-range for dynamic ones, and reports exhaustion clearly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { NsnetError } from '../../src/core/errors.js';
import { broadcast, cidrContains, intToIp, parseCidr } from '../../src/core/ipv4.js';
import { allocate, reserve, type Pool } from '../../src/engine/ipam.js';

type Op = { kind: 'alloc' } | { kind: 'static'; offset: number } | { kind: 'release'; pick: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.constant<Op>({ kind: 'alloc' }),
  fc.record({ kind: fc.constant('static' as const), offset: fc.integer({ min: 0, max: 63 }) }),
  fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
);

// A /26 (64 addresses) keeps exhaustion within reach of short sequences.
const subnets = fc.constantFrom('10.1.0.0/26', '172.20.5.64/26', '192.168.1.192/26');

test('allocation never duplicates, never hands out reserved addresses, and respects the range', () => {
  fc.assert(
    fc.property(subnets, fc.integer({ min: 1, max: 62 }), fc.boolean(), fc.array(op, { maxLength: 150 }), (text, gwOffset, withRange, ops) => {
      const subnet = parseCidr(text);
      const gateway = subnet.network + gwOffset;
      const pool: Pool = { subnet, gateway };
      if (withRange) pool.range = parseCidr(`${intToIp(subnet.network + 32)}/27`);
      const used = new Set<number>();
      let cursor: number | undefined;
      for (const o of ops) {
        if (o.kind === 'release') {
          const all = [...used];
          if (all.length > 0) used.delete(all[o.pick % all.length]!);
          continue;
        }
        try {
          let address: number;
          if (o.kind === 'alloc') {
            const got = allocate(pool, used, cursor);
            address = got.address;
            cursor = got.cursor;
            if (pool.range !== undefined) assert.ok(cidrContains(pool.range, address), `${intToIp(address)} outside the range`);
          } else {
            address = reserve(pool, used, subnet.network + o.offset);
          }
          assert.ok(!used.has(address), `${intToIp(address)} handed out twice`);
          assert.notEqual(address, subnet.network);
          assert.notEqual(address, broadcast(subnet));
          assert.notEqual(address, gateway);
          assert.ok(cidrContains(subnet, address));
          used.add(address);
        } catch (err) {
          assert.ok(err instanceof NsnetError, String(err));
          if (o.kind === 'alloc') {
            // Exhaustion only when every allowed address really is taken.
            assert.equal(err.code, 'POOL_EXHAUSTED');
            assert.match(err.message, /has no free address in/);
            const lo = pool.range?.network ?? subnet.network + 1;
            const hi = pool.range !== undefined ? Math.min(broadcast(pool.range), broadcast(subnet) - 1) : broadcast(subnet) - 1;
            for (let a = Math.max(lo, subnet.network + 1); a <= hi; a++) assert.ok(a === gateway || used.has(a), `${intToIp(a)} was free`);
          } else {
            assert.ok(err.code === 'ADDRESS_IN_USE' || err.code === 'INVALID_VALUE', err.code);
          }
        }
      }
    }),
    { numRuns: 300 },
  );
});

test('a released address is not reused before the rest of the range', () => {
  fc.assert(
    fc.property(subnets, fc.integer({ min: 1, max: 40 }), (text, n) => {
      const subnet = parseCidr(text);
      const pool: Pool = { subnet, gateway: subnet.network + 1 };
      const used = new Set<number>();
      let cursor: number | undefined;
      const handed: number[] = [];
      for (let i = 0; i < n; i++) {
        const got = allocate(pool, used, cursor);
        cursor = got.cursor;
        used.add(got.address);
        handed.push(got.address);
      }
      const released = handed[0]!;
      used.delete(released);
      const next = allocate(pool, used, cursor);
      // Free addresses remain after the cursor (n ≤ 40 of 61), so the released one waits.
      assert.notEqual(next.address, released);
    }),
    { numRuns: 200 },
  );
});
