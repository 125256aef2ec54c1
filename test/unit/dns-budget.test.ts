/** The DNS responder's fair budgets (src/dns/budget.ts) and the limits it uses (src/dns/limits.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Budget } from '../../src/dns/budget.js';
import { FORWARD_DEADLINE_MS, FORWARD_LIMITS, TCP_IDLE_MS, TCP_LIMITS } from '../../src/dns/limits.js';

const SMALL = { perClient: 2, perNetwork: 4, total: 6 };

test('one client gets at most its share; a released unit can be taken again', () => {
  const b = new Budget<number>(SMALL, true);
  assert.deepEqual(b.admit(1, '10.1.0.2', 'a', 0), { ok: true });
  assert.deepEqual(b.admit(2, '10.1.0.2', 'a', 1), { ok: true });
  assert.deepEqual(b.admit(3, '10.1.0.2', 'a', 2), { ok: false, why: 'client 10.1.0.2 holds its 2' });
  b.release(1);
  b.release(1); // twice: nothing more happens
  assert.equal(b.clientCount('10.1.0.2'), 1);
  assert.deepEqual(b.admit(3, '10.1.0.2', 'a', 3), { ok: true });
  assert.equal(b.size, 2);
});

test('200 connections from one container leave room for everyone else (the attack of issue 14, item 6)', () => {
  const b = new Budget<number>(TCP_LIMITS, true);
  let admitted = 0;
  for (let i = 0; i < 200; i++) if (b.admit(i, '10.1.0.2', 'a', i).ok) admitted++;
  assert.equal(admitted, TCP_LIMITS.perClient);
  assert.equal(b.admit(1000, '10.1.0.3', 'a', 300).ok, true, 'a neighbour on the same network');
  assert.equal(b.admit(1001, '10.2.0.2', 'b', 300).ok, true, 'a container of another network');
});

test('a full network takes back from its largest client, never from a client holding as few', () => {
  const b = new Budget<number>(SMALL, true);
  b.admit(1, 'x', 'a', 10);
  b.admit(2, 'x', 'a', 5);
  b.admit(3, 'y', 'a', 20);
  b.admit(4, 'z', 'a', 30);
  // Network a is full (4): w holds none, x holds 2, so x's least recently active (2, at 5) goes.
  assert.deepEqual(b.admit(5, 'w', 'a', 40), { ok: true, evict: 2 });
  assert.equal(b.networkCount('a'), 4);
  // Now x, y, z, w hold one each: a fifth newcomer would only swap equals, so it is refused.
  assert.deepEqual(b.admit(6, 'v', 'a', 50), { ok: false, why: 'network a holds its 4' });
  // Another network is not affected.
  assert.deepEqual(b.admit(7, 'q', 'b', 60), { ok: true });
});

test('a full budget takes back from the network holding the most, least recently active first', () => {
  const b = new Budget<number>(SMALL, true);
  // Network a: four clients, one each; network b: two.
  for (const [id, c] of [[1, 'a1'], [2, 'a2'], [3, 'a3'], [4, 'a4']] as const) b.admit(id, c, 'a', id);
  b.admit(5, 'b1', 'b', 5);
  b.admit(6, 'b2', 'b', 6);
  b.touch(1, 100); // a1 was active lately: a2 (at 2) is now a's least recently active
  assert.deepEqual(b.admit(7, 'c1', 'c', 7), { ok: true, evict: 2 });
  assert.equal(b.size, 6);
  // a 3, b 2, c 1: another from c takes from a again (3 ≥ 1 + 2).
  assert.deepEqual(b.admit(8, 'c2', 'c', 8), { ok: true, evict: 3 });
  // a 2, b 2, c 2: equal shares; a newcomer from b or c or d would only swap equals... except d holds 0.
  assert.deepEqual(b.admit(9, 'c3', 'c', 9), { ok: false, why: 'all 6 are held' });
  const d = b.admit(10, 'd1', 'd', 10);
  assert.equal(d.ok, true);
  assert.ok(d.ok && d.evict !== undefined && [1, 4, 5, 6, 7, 8].includes(d.evict));
});

test('a budget that may not take back (forwards in flight) refuses instead', () => {
  const b = new Budget<number>(SMALL, false);
  for (let i = 0; i < 4; i++) assert.equal(b.admit(i, `c${i}`, 'a', i).ok, true);
  assert.deepEqual(b.admit(9, 'c9', 'a', 9), { ok: false, why: 'network a holds its 4' });
  b.admit(10, 'd1', 'b', 10);
  b.admit(11, 'd2', 'b', 11);
  assert.deepEqual(b.admit(12, 'e1', 'c', 12), { ok: false, why: 'all 6 are held' });
});

test('the limits keep their reasons: one client < one network < all, and TCP idleness outlasts a forward', () => {
  for (const l of [TCP_LIMITS, FORWARD_LIMITS]) {
    assert.ok(l.perClient < l.perNetwork && l.perNetwork < l.total, JSON.stringify(l));
    assert.ok(l.total / l.perNetwork >= 4, 'at least four networks at their full share');
  }
  assert.ok(TCP_IDLE_MS > FORWARD_DEADLINE_MS && TCP_IDLE_MS <= 5000, 'idle "of the order of seconds" (RFC 7766), longer than one forward');
});
