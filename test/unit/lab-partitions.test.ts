/**
 * A lab's partitions (`partitions:`): the file's checks, and `up`/`down` on the fake machine (made
 * after their members, kept by a no-op up, made again when a member is remade, healed when no
 * longer declared and by down).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { down, up } from '../../src/lab/up.js';
import { parseLab, type LabSpec } from '../../src/lab/spec.js';
import { fixture, ROOTFS, stateOf } from '../helpers/ops-fixture.js';

const yaml = (partitions: string, cCommand = 'infinity'): string => `
name: ulp
networks:
  n: { subnet: 10.73.0.0/24 }
containers:
  a: { command: [sleep, infinity], rootfs: ${ROOTFS}, networks: { n: { ip: 10.73.0.10 } } }
  b: { command: [sleep, infinity], rootfs: ${ROOTFS}, networks: { n: { ip: 10.73.0.11 } } }
  c: { command: [sleep, ${cCommand}], rootfs: ${ROOTFS}, networks: { n: { ip: 10.73.0.12 } } }
partitions:
${partitions}
`;
const SPLIT = '  - { name: split, between: [a, b], and: [c] }';
const parse = (text: string): LabSpec => parseLab(text, 'lab.yaml', 'x');
const elements = (fx: ReturnType<typeof fixture>): string[] =>
  (fx.host.nft.table('inet', 'nsnet')?.collections.find((c) => c.name === 'partitioned')?.elements ?? []).slice().sort();

describe('lab partitions', () => {
  test('the file: groups by name; several groups; refusals name the place', () => {
    assert.deepEqual(parse(yaml(SPLIT)).partitions, [{ key: 'split', name: 'ulp-split', groups: [['ulp-a', 'ulp-b'], ['ulp-c']], oneWay: false }]);
    assert.deepEqual(parse(yaml('  - { name: three, between: [a], and: [[b], [c]], one_way: true }')).partitions[0]?.groups, [['ulp-a'], ['ulp-b'], ['ulp-c']]);
    const cases: Array<[string, RegExp]> = [
      ['  - { name: p, between: [a], and: [zz] }', /partitions\[0\]: container "zz" is not declared/],
      ['  - { name: p, between: [a, b], and: [a] }', /partitions\[0\]: container a is named twice/],
      [`${SPLIT}\n${SPLIT}`, /partitions\[1\]: partition split is declared twice/],
      ['  - { name: p, between: [a] }', /partitions\[0\]: missing "and"/],
    ];
    for (const [text, message] of cases) assert.throws(() => parse(yaml(text)), (err: Error) => message.test(err.message), text);
  });

  test('up makes it after its members; up again is a no-op; a remade member is partitioned again; down heals it', async () => {
    const fx = fixture();
    const before = stateOf(fx);
    await up(fx.ctx, parse(yaml(SPLIT)));
    const pairs = ['10.73.0.10 . 10.73.0.12', '10.73.0.11 . 10.73.0.12', '10.73.0.12 . 10.73.0.10', '10.73.0.12 . 10.73.0.11'];
    assert.deepEqual(elements(fx), pairs);
    assert.equal((await up(fx.ctx, parse(yaml(SPLIT)))).noop, true);
    await up(fx.ctx, parse(yaml(SPLIT, '"1000"')));
    assert.deepEqual(elements(fx), pairs, 'c made again and partitioned again');
    assert.deepEqual(fx.store.partitions.list().map((p) => p.groups.length), [2]);
    await up(fx.ctx, parse(yaml('  []', '"1000"')));
    assert.deepEqual(fx.store.partitions.list(), [], 'no longer declared: healed');
    await up(fx.ctx, parse(yaml(SPLIT, '"1000"')));
    down(fx.ctx, 'ulp');
    assert.deepEqual(fx.store.partitions.list(), []);
    assert.deepEqual(stateOf(fx).host.network, before.host.network);
  });
});
