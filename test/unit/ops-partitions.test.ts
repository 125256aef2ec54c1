/**
 * Partitions (nsnet partition create/ls/heal) on a fake machine, with both firewall drivers: the
 * pairs each makes (both ways, one-way), the refusals (nothing changed), two partitions sharing a
 * pair, rm of a member taking its pairs out, reset, system check agreeing, and failure and crash
 * at every step of create and heal.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { blockedPairs } from '../../src/engine/partitions.js';
import { partitionBridgeRules, partitionRules, updatePartitionsScript } from '../../src/firewall/partitions.js';
import { replaceScript } from '../../src/firewall/nftables.js';
import { check } from '../../src/ops/check.js';
import { remove, run } from '../../src/ops/containers.js';
import { createNetwork } from '../../src/ops/networks.js';
import { createPartition, healPartitions, listPartitions } from '../../src/ops/partitions.js';
import { reset } from '../../src/ops/system.js';
import { FakeHost } from '../helpers/fake-host.js';
import {
  assertFinishedAs,
  assertKept,
  assertRecoveredAsBefore,
  assertUndone,
  codeOf,
  crashEachStep,
  failEachStep,
  fixture,
  runInput,
  stateAfter,
  stateOf,
  type Fixture,
  type Op,
} from '../helpers/ops-fixture.js';

const A = '10.51.0.10';
const B = '10.51.0.11';
const C = '10.52.0.10';

type Driver = 'nftables' | 'iptables';

/** A fake machine with `driver` (iptables: with iptables and ebtables), set up by `ops`. */
function onFakeHost(driver: Driver, ...ops: Op[]): Promise<Fixture> {
  const host = new FakeHost({ ipForward: '1' });
  if (driver === 'iptables') Object.assign(host.facts, { iptables: true, ebtables: 'ok' });
  return fixture({ host, firewallDriver: driver }).setUp(...ops);
}

/** a and b on one network, c on another; h in the host's namespace, n with none. */
function base(driver: Driver = 'nftables'): Promise<Fixture> {
  return onFakeHost(
    driver,
    (ctx) => createNetwork(ctx, { name: 'ut-pa', subnet: '10.51.0.0/24' }),
    (ctx) => createNetwork(ctx, { name: 'ut-pb', subnet: '10.52.0.0/24' }),
    (ctx) => run(ctx, runInput({ name: 'ut-a', networks: ['ut-pa'], ip: A })),
    (ctx) => run(ctx, runInput({ name: 'ut-b', networks: ['ut-pa'], ip: B })),
    (ctx) => run(ctx, runInput({ name: 'ut-c', networks: ['ut-pb'], ip: C })),
    (ctx) => run(ctx, runInput({ name: 'ut-h', networks: ['host'] })),
    (ctx) => run(ctx, runInput({ name: 'ut-n', networks: ['none'] })),
  );
}

const split: Op = (ctx) => createPartition(ctx, { name: 'split', groups: ['ut-a,ut-b', 'ut-c'] });

/** The partitioned pairs of one nft table (IPv4's set, or IPv6's), as the fake lists them. */
function elements(fx: Fixture, family: 'inet' | 'bridge', set: 'partitioned' | 'partitioned6' = 'partitioned'): string[] {
  return (fx.host.nft.table(family, 'nsnet')?.collections.find((c) => c.name === set)?.elements ?? []).slice().sort();
}

/** The elements partitioning `from` and `to` both ways, sorted as `elements` lists them. */
const crossed = (from: readonly string[], to: readonly string[]): string[] => [...from.flatMap((f) => to.map((t) => `${f} . ${t}`)), ...to.flatMap((t) => from.map((f) => `${t} . ${f}`))].sort();

/** Heal of `name` on `fx` (which has it): a failure keeps it (heal again finishes), a crash is finished by recovery. */
async function healFailsAndCrashes(fx: Fixture, name: string): Promise<void> {
  const heal: Op = (ctx) => healPartitions(ctx, name);
  const healed = await stateAfter(fx, heal);
  await failEachStep(fx, heal, assertKept(`partition heal ${name}`, { op: heal, removed: healed }));
  await crashEachStep(fx, heal, assertFinishedAs(`partition heal ${name}`, healed));
}

describe('partition pairs and scripts (pure)', () => {
  test('both ways: every pair across groups; one-way: only from the first group', () => {
    const groups = [[['a1', 'a2'], ['b']], [['c']]];
    assert.deepEqual(blockedPairs(groups, false), [['a1', 'c'], ['a2', 'c'], ['b', 'c'], ['c', 'a1'], ['c', 'a2'], ['c', 'b']]);
    assert.deepEqual(blockedPairs(groups, true), [['a1', 'c'], ['a2', 'c'], ['b', 'c']]);
    assert.deepEqual(blockedPairs([[['a']], [[]]], false), [], 'a member without addresses adds nothing');
  });

  test('the nft update: adds and deletes elements in both tables, one transaction; a pair another partition holds stays', () => {
    const p = { name: 'p', pairs: [['1.1.1.1', '2.2.2.2']] as Array<[string, string]> };
    const q = { name: 'q', pairs: [['1.1.1.1', '2.2.2.2'], ['3.3.3.3', '4.4.4.4']] as Array<[string, string]> };
    assert.equal(
      updatePartitionsScript([], [p]),
      [
        'add table inet nsnet',
        'add set inet nsnet partitioned { type ipv4_addr . ipv4_addr; }',
        'add element inet nsnet partitioned { 1.1.1.1 . 2.2.2.2 }',
        'add table bridge nsnet',
        'add set bridge nsnet partitioned { type ipv4_addr . ipv4_addr; }',
        'add element bridge nsnet partitioned { 1.1.1.1 . 2.2.2.2 }',
        '',
      ].join('\n'),
    );
    assert.doesNotMatch(updatePartitionsScript([p, q], [q]), /delete element/, 'healing p leaves the pair q also drops');
    assert.match(updatePartitionsScript([p, q], [p]), /delete element inet nsnet partitioned \{ 3\.3\.3\.3 \. 4\.4\.4\.4 \}/);
    assert.equal(updatePartitionsScript([p], [p]), '');
    assert.deepEqual(partitionRules([p]), ['-A NSNET-PARTITIONS -s 1.1.1.1/32 -d 2.2.2.2/32 -m comment --comment "nsnet partition p" -j DROP']);
  });

  test('the tables always have the sets and the first rules of each forward chain, whatever the number of containers', () => {
    const script = replaceScript({ networks: [{ id: 'a'.repeat(64), name: 'n', bridge: 'br-n', subnet: '10.0.0.0/24', internal: false, icc: true, masquerade: true, antiSpoofing: true, subnet6: null }], ports: [] });
    assert.equal(script.match(/ip saddr \. ip daddr @partitioned drop/g)?.length, 2);
    assert.equal(script.match(/ip6 saddr \. ip6 daddr @partitioned6 drop/g)?.length, 2);
    assert.equal(script.match(/set partitioned \{/g)?.length, 2);
    assert.equal(script.match(/set partitioned6 \{\n\t\ttype ipv6_addr \. ipv6_addr/g)?.length, 2);
  });

  test('IPv6: pairs of one family only (dual-stack with dual-stack: both; with IPv6-only: IPv6; with IPv4-only: IPv4)', () => {
    const dual = ['10.0.0.1', '2001:db8::1'];
    assert.deepEqual(blockedPairs([[dual], [['10.0.0.2', '2001:db8::2']]], true), [['10.0.0.1', '10.0.0.2'], ['2001:db8::1', '2001:db8::2']]);
    assert.deepEqual(blockedPairs([[dual], [['2001:db8::3']]], true), [['2001:db8::1', '2001:db8::3']]);
    assert.deepEqual(blockedPairs([[dual], [['10.0.0.4']]], true), [['10.0.0.1', '10.0.0.4']]);
    assert.deepEqual(blockedPairs([[['2001:db8::1']], [['10.0.0.4']]], false), [], 'no common family: nothing to drop (they cannot talk anyway)');
  });

  test('IPv6: the nft update touches partitioned6 only for IPv6 pairs; iptables and ebtables rules per family', () => {
    const p = { name: 'p', pairs: [['1.1.1.1', '2.2.2.2'], ['2001:db8::1', '2001:db8::2']] as Array<[string, string]> };
    const only6 = { name: 'q', pairs: [['2001:db8::1', '2001:db8::2']] as Array<[string, string]> };
    assert.equal(
      updatePartitionsScript([], [only6]),
      [
        'add table inet nsnet',
        'add set inet nsnet partitioned6 { type ipv6_addr . ipv6_addr; }',
        'add element inet nsnet partitioned6 { 2001:db8::1 . 2001:db8::2 }',
        'add table bridge nsnet',
        'add set bridge nsnet partitioned6 { type ipv6_addr . ipv6_addr; }',
        'add element bridge nsnet partitioned6 { 2001:db8::1 . 2001:db8::2 }',
        '',
      ].join('\n'),
    );
    assert.match(updatePartitionsScript([p], []), /delete element bridge nsnet partitioned \{ 1\.1\.1\.1 \. 2\.2\.2\.2 \}\n.*\n.*\ndelete element bridge nsnet partitioned6 \{ 2001:db8::1 \. 2001:db8::2 \}/);
    assert.deepEqual(partitionRules([p]), ['-A NSNET-PARTITIONS -s 1.1.1.1/32 -d 2.2.2.2/32 -m comment --comment "nsnet partition p" -j DROP']);
    assert.deepEqual(partitionRules([p], 6), ['-A NSNET-PARTITIONS -s 2001:db8::1/128 -d 2001:db8::2/128 -m comment --comment "nsnet partition p" -j DROP']);
    assert.equal(partitionRules([only6]), null, 'no IPv4 pair: no iptables chain');
    assert.deepEqual(partitionBridgeRules([p]), ['-A NSNET-PARTITIONS -p IPv4 --ip-src 1.1.1.1 --ip-dst 2.2.2.2 -j DROP', '-A NSNET-PARTITIONS -p IPv6 --ip6-src 2001:db8::1 --ip6-dst 2001:db8::2 -j DROP']);
  });
});

describe('partition create, ls, heal (nftables)', () => {
  test('both ways between {a,b} and {c}; within {a,b} untouched; ls; heal', async () => {
    const fx = await base();
    const before = stateOf(fx);
    split(fx.ctx);
    const pairs = crossed([A, B], [C]);
    assert.deepEqual(elements(fx, 'inet'), pairs);
    assert.deepEqual(elements(fx, 'bridge'), pairs);
    assert.deepEqual(listPartitions(fx.ctx).map((p) => [p.name, p.groups, p.oneWay]), [['split', [['ut-a', 'ut-b'], ['ut-c']], false]]);
    assert.deepEqual(check(fx.ctx, { fix: false }).differences, []);
    assert.deepEqual(healPartitions(fx.ctx, 'split'), ['split']);
    assert.deepEqual(stateOf(fx), before);
  });

  test('--one-way: only from the first group', async () => {
    const fx = await base();
    createPartition(fx.ctx, { name: 'ow', groups: ['ut-c', 'ut-a'], oneWay: true });
    assert.deepEqual(elements(fx, 'inet'), [`${C} . ${A}`]);
  });

  test('two partitions sharing a pair: healing one keeps the pair; heal without a name heals all', async () => {
    const fx = await base();
    const before = stateOf(fx);
    split(fx.ctx);
    createPartition(fx.ctx, { name: 'ac', groups: ['ut-a', 'ut-c'] });
    healPartitions(fx.ctx, 'split');
    assert.deepEqual(elements(fx, 'inet'), [`${A} . ${C}`, `${C} . ${A}`]);
    assert.deepEqual(healPartitions(fx.ctx), ['ac']);
    assert.deepEqual(stateOf(fx), before);
    assert.deepEqual(healPartitions(fx.ctx), [], 'nothing to heal is no error');
  });

  test('bad input is refused with the value named, and nothing changes', async () => {
    const fx = await base();
    split(fx.ctx);
    const before = stateOf(fx);
    const cases: Array<[Parameters<typeof createPartition>[1], string, RegExp]> = [
      [{ name: 'x', groups: ['ut-a,ut-b', 'ut-a'] }, 'INVALID_VALUE', /container ut-a is named twice \(in --between ut-a,ut-b and in --and ut-a\)/],
      [{ name: 'x', groups: ['ut-a,ut-a', 'ut-c'] }, 'INVALID_VALUE', /container ut-a is named twice \(in --between ut-a,ut-a\)/],
      [{ name: 'x', groups: ['ut-a', 'ut-zz'] }, 'NOT_FOUND', /no container named ut-zz/],
      [{ name: 'x', groups: ['ut-a,ut-b'] }, 'INVALID_VALUE', /two or more groups .* got 1/],
      [{ name: 'split', groups: ['ut-a', 'ut-c'] }, 'NAME_IN_USE', /partition split already exists/],
      [{ name: 'x', groups: ['ut-a', 'ut-h'] }, 'INVALID_VALUE', /ut-h runs in the host's network namespace/],
      [{ name: 'x', groups: ['ut-a', 'ut-n'] }, 'INVALID_VALUE', /ut-n has no address on an nsnet network \(--network none\)/],
      [{ name: 'x', groups: ['ut-a,', 'ut-c'] }, 'INVALID_VALUE', /invalid --between "ut-a,"/],
      [{ name: '-bad', groups: ['ut-a', 'ut-c'] }, 'INVALID_VALUE', /invalid partition name "-bad"/],
    ];
    for (const [input, code, message] of cases) {
      assert.throws(() => createPartition(fx.ctx, input), (err: Error) => codeOf(err) === code && message.test(err.message), `${JSON.stringify(input)}: ${(() => { try { createPartition(fx.ctx, input); return 'accepted'; } catch (e) { return (e as Error).message; } })()}`);
      assert.deepEqual(stateOf(fx), before, `${JSON.stringify(input)}: nothing changed`);
    }
    assert.throws(() => healPartitions(fx.ctx, 'nope'), (err: Error) => codeOf(err) === 'NOT_FOUND' && /no partition named nope/.test(err.message));
  });

  test('rm of a member takes its pairs out and its membership; the others stay partitioned', async () => {
    const fx = await base();
    split(fx.ctx);
    remove(fx.ctx, ['ut-b'], { force: true });
    assert.deepEqual(elements(fx, 'inet'), [`${A} . ${C}`, `${C} . ${A}`]);
    assert.deepEqual(listPartitions(fx.ctx)[0]?.groups, [['ut-a'], ['ut-c']]);
    // The address goes back to the pool: the next container there is not partitioned.
    await run(fx.ctx, runInput({ name: 'ut-d', networks: ['ut-pa'], ip: B }));
    assert.ok(!elements(fx, 'bridge').some((e) => e.includes(B)));
    assert.deepEqual(check(fx.ctx, { fix: false }).differences, []);
  });

  test('reset removes the partitions with everything else', async () => {
    const fx = await base();
    split(fx.ctx);
    reset(fx.ctx);
    assert.deepEqual(fx.store.partitions.list(), []);
    assert.equal(fx.host.nft.table('inet', 'nsnet'), undefined);
  });

  test('create: a failure undoes it; a crash is undone by the next process', async () => {
    const fx = await base();
    assert.equal(await failEachStep(fx, split, assertUndone), 1);
    await crashEachStep(fx, split, assertRecoveredAsBefore('partition create split'));
  });

  test('heal: a failure keeps the partition (heal again finishes); a crash is finished by recovery', async () => {
    await healFailsAndCrashes(await (await base()).setUp(split), 'split');
  });
});

describe('partitions with the iptables driver', () => {
  test('one rule per pair in NSNET-PARTITIONS (iptables and ebtables), jumped to from FORWARD; heal removes the chains', async () => {
    const fx = await base('iptables');
    const before = stateOf(fx);
    split(fx.ctx);
    const xt = fx.host.xt.snapshot();
    assert.deepEqual(xt['iptables filter']?.['NSNET-PARTITIONS']?.length, 4);
    assert.ok(xt['iptables filter']?.['FORWARD']?.includes('-A FORWARD -j NSNET-PARTITIONS'), JSON.stringify(xt['iptables filter']?.['FORWARD']));
    assert.deepEqual(xt['ebtables filter']?.['NSNET-PARTITIONS'], [
      `-A NSNET-PARTITIONS -p IPv4 --ip-src ${A} --ip-dst ${C} -j DROP`,
      `-A NSNET-PARTITIONS -p IPv4 --ip-src ${B} --ip-dst ${C} -j DROP`,
      `-A NSNET-PARTITIONS -p IPv4 --ip-src ${C} --ip-dst ${A} -j DROP`,
      `-A NSNET-PARTITIONS -p IPv4 --ip-src ${C} --ip-dst ${B} -j DROP`,
    ]);
    healPartitions(fx.ctx);
    assert.deepEqual(stateOf(fx), before);
  });

  test('failure and crash at every step of create', async () => {
    const fx = await base('iptables');
    assert.equal(await failEachStep(fx, split, assertUndone), 2);
    await crashEachStep(fx, split, assertRecoveredAsBefore('partition create split'));
  });

  test('rm of a member rewrites the chains without it', async () => {
    const fx = await base('iptables');
    split(fx.ctx);
    remove(fx.ctx, ['ut-c'], { force: true });
    const xt = fx.host.xt.snapshot();
    assert.equal(xt['iptables filter']?.['NSNET-PARTITIONS'], undefined, 'no pair left: the chain went');
  });
});

const A6 = '2001:db8:53::10';
const B6 = '2001:db8:53::11';
const C6 = '2001:db8:54::10';
const A4 = '10.53.0.10';
const B4 = '10.53.0.11';
const D4 = '10.55.0.10';

/** a and b dual-stack on one network, c IPv6-only on another, d IPv4-only on a third. */
function base6(driver: Driver = 'nftables'): Promise<Fixture> {
  return onFakeHost(
    driver,
    (ctx) => createNetwork(ctx, { name: 'ut-p6d', subnet: ['10.53.0.0/24', '2001:db8:53::/64'], ipv6: true }),
    (ctx) => createNetwork(ctx, { name: 'ut-p6o', subnet: '2001:db8:54::/64', ipv4: false, ipv6: true }),
    (ctx) => createNetwork(ctx, { name: 'ut-p4', subnet: '10.55.0.0/24' }),
    (ctx) => run(ctx, runInput({ name: 'ut-a', networks: ['ut-p6d'], ip: A4, ip6: A6 })),
    (ctx) => run(ctx, runInput({ name: 'ut-b', networks: ['ut-p6d'], ip: B4, ip6: B6 })),
    (ctx) => run(ctx, runInput({ name: 'ut-c', networks: ['ut-p6o'], ip6: C6 })),
    (ctx) => run(ctx, runInput({ name: 'ut-d', networks: ['ut-p4'], ip: D4 })),
  );
}

const split6: Op = (ctx) => createPartition(ctx, { name: 'split6', groups: ['ut-a,ut-b', 'ut-c,ut-d'] });

describe('partitions over IPv6 (dual-stack and IPv6-only members)', () => {
  test('nftables: IPv6 pairs in partitioned6, IPv4 pairs in partitioned, in both tables; rm and heal take them out', async () => {
    const fx = await base6();
    const before = stateOf(fx);
    split6(fx.ctx);
    const v6 = crossed([A6, B6], [C6]);
    const v4 = crossed([A4, B4], [D4]);
    for (const table of ['inet', 'bridge'] as const) {
      assert.deepEqual(elements(fx, table, 'partitioned6'), v6, `${table} partitioned6`);
      assert.deepEqual(elements(fx, table), v4, `${table} partitioned`);
    }
    assert.deepEqual(check(fx.ctx, { fix: false }).differences, []);
    remove(fx.ctx, ['ut-b'], { force: true });
    assert.deepEqual(elements(fx, 'bridge', 'partitioned6'), [`${A6} . ${C6}`, `${C6} . ${A6}`]);
    assert.deepEqual(elements(fx, 'inet'), [`${A4} . ${D4}`, `${D4} . ${A4}`]);
    assert.deepEqual(check(fx.ctx, { fix: false }).differences, []);
    healPartitions(fx.ctx);
    assert.deepEqual(elements(fx, 'inet', 'partitioned6'), []);
    assert.deepEqual(elements(fx, 'inet'), []);
  });

  test('an IPv6-only pair of groups is partitionable (nothing in the IPv4 set)', async () => {
    const fx = await base6();
    createPartition(fx.ctx, { name: 'only6', groups: ['ut-a', 'ut-c'], oneWay: true });
    assert.deepEqual(elements(fx, 'inet', 'partitioned6'), [`${A6} . ${C6}`]);
    assert.deepEqual(elements(fx, 'inet'), []);
  });

  test('nftables: create and heal, failure and crash at every step', async () => {
    const fx = await base6();
    assert.equal(await failEachStep(fx, split6, assertUndone), 1);
    await crashEachStep(fx, split6, assertRecoveredAsBefore('partition create split6'));
    const made = await fx.setUp(split6);
    await healFailsAndCrashes(made, 'split6');
  });

  test('iptables: IPv4 pairs in iptables, IPv6 pairs in ip6tables, both in ebtables; heal removes the chains', async () => {
    const fx = await base6('iptables');
    const before = stateOf(fx);
    split6(fx.ctx);
    const xt = fx.host.xt.snapshot();
    assert.equal(xt['iptables filter']?.['NSNET-PARTITIONS']?.length, 4);
    assert.deepEqual(xt['ip6tables filter']?.['NSNET-PARTITIONS'], [
      `-A NSNET-PARTITIONS -s ${A6}/128 -d ${C6}/128 -m comment --comment "nsnet partition split6" -j DROP`,
      `-A NSNET-PARTITIONS -s ${B6}/128 -d ${C6}/128 -m comment --comment "nsnet partition split6" -j DROP`,
      `-A NSNET-PARTITIONS -s ${C6}/128 -d ${A6}/128 -m comment --comment "nsnet partition split6" -j DROP`,
      `-A NSNET-PARTITIONS -s ${C6}/128 -d ${B6}/128 -m comment --comment "nsnet partition split6" -j DROP`,
    ]);
    assert.ok(xt['ip6tables filter']?.['FORWARD']?.includes('-A FORWARD -j NSNET-PARTITIONS'), JSON.stringify(xt['ip6tables filter']?.['FORWARD']));
    assert.deepEqual(xt['ebtables filter']?.['NSNET-PARTITIONS']?.filter((r) => r.includes('IPv6')), [
      `-A NSNET-PARTITIONS -p IPv6 --ip6-src ${A6} --ip6-dst ${C6} -j DROP`,
      `-A NSNET-PARTITIONS -p IPv6 --ip6-src ${B6} --ip6-dst ${C6} -j DROP`,
      `-A NSNET-PARTITIONS -p IPv6 --ip6-src ${C6} --ip6-dst ${A6} -j DROP`,
      `-A NSNET-PARTITIONS -p IPv6 --ip6-src ${C6} --ip6-dst ${B6} -j DROP`,
    ]);
    assert.equal(xt['ebtables filter']?.['NSNET-PARTITIONS']?.length, 8);
    assert.deepEqual(check(fx.ctx, { fix: false }).differences, []);
    healPartitions(fx.ctx);
    assert.deepEqual(stateOf(fx), before);
  });

  test('iptables: create and heal, failure and crash at every step; rm of the IPv6-only member', async () => {
    const fx = await base6('iptables');
    assert.equal(await failEachStep(fx, split6, assertUndone), 3, 'iptables, ip6tables, ebtables');
    await crashEachStep(fx, split6, assertRecoveredAsBefore('partition create split6'));
    const made = await fx.setUp(split6);
    await healFailsAndCrashes(made, 'split6');
    remove(made.ctx, ['ut-c'], { force: true });
    assert.equal(made.host.xt.snapshot()['ip6tables filter']?.['NSNET-PARTITIONS'], undefined, 'no IPv6 pair left: the chain went');
  });
});
