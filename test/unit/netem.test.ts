/**
 * Impairments: tc's units parsed and refused as tc would (with the value named), the qdiscs an
 * impairment is made of, the netlink bytes of netem and tbf checked against what tc 6.1 sends
 * (captured with strace), and the steps rendered for --dry-run.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { netemSummary, parseNetem, parsePercent, parseRate, parseTime, qdiscParts, sameAsKernel, tbfParams } from '../../src/core/netem.js';
import { addQdiscMessage, delRootQdiscMessage, impairmentOf, netemOptions, parsePsched, parseQdisc, tcHandle } from '../../src/kernel/netlink/qdisc.js';
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST } from '../../src/kernel/netlink/constants.js';
import { renderStep } from '../../src/plan/render.js';

/** /proc/net/psched of a kernel with high-resolution timers (every kernel nsnet runs on). */
const PSCHED = '000003e8 00000040 000f4240 3b9aca00\n';
const clock = parsePsched(PSCHED);

const hex = (s: string): Buffer => Buffer.from(s.replace(/\\x/g, ''), 'hex');

describe('units', () => {
  test('times: tc units, a bare number is microseconds', () => {
    assert.equal(parseTime('40ms', 'delay'), 40_000);
    assert.equal(parseTime('1.5s', 'delay'), 1_500_000);
    assert.equal(parseTime('500us', 'delay'), 500);
    assert.equal(parseTime('250', 'delay'), 250);
    assert.equal(parseTime('60s', 'delay'), 60_000_000);
  });

  test('times out of range or malformed are refused naming the value', () => {
    assert.throws(() => parseTime('61s', 'delay'), /invalid delay "61s": more than 60s/);
    assert.throws(() => parseTime('-5ms', 'delay'), /invalid delay "-5ms": expected a time/);
    assert.throws(() => parseTime('40 parsecs', 'jitter'), /invalid jitter "40 parsecs": unknown unit "parsecs"/);
    assert.throws(() => parseTime('soon', 'delay'), /invalid delay "soon"/);
  });

  test('percentages: 0 to 100, with or without %', () => {
    assert.equal(parsePercent('2%', 'loss'), 2);
    assert.equal(parsePercent('0.1%', 'corrupt'), 0.1);
    assert.equal(parsePercent('25', 'reorder'), 25);
    assert.throws(() => parsePercent('150%', 'loss'), (e: Error & { code?: string }) => e.code === 'INVALID_VALUE' && /invalid loss "150%": more than 100%/.test(e.message));
    assert.throws(() => parsePercent('2pct', 'loss'), /invalid loss "2pct"/);
  });

  test('rates: bits, and bytes for the bps forms, as tc reads them', () => {
    assert.equal(parseRate('10mbit'), 10_000_000);
    assert.equal(parseRate('512kbit'), 512_000);
    assert.equal(parseRate('1Gbit'), 1_000_000_000);
    assert.equal(parseRate('2mbps'), 16_000_000);
    assert.equal(parseRate('64000'), 64_000);
    assert.throws(() => parseRate('fast'), /invalid rate "fast": expected a rate such as 10mbit/);
    assert.throws(() => parseRate('10furlongs'), /invalid rate "10furlongs": unknown unit "furlongs"/);
    assert.throws(() => parseRate('10bit'), /invalid rate "10bit": out of range/);
  });

  test('a whole impairment: jitter and reorder need a delay; zero fields drop out', () => {
    assert.deepEqual(parseNetem({ delay: '40ms', jitter: '5ms', loss: '2%', rate: '10mbit' }), { delayUs: 40_000, jitterUs: 5_000, lossPct: 2, rateBit: 10_000_000 });
    assert.deepEqual(parseNetem({ loss: '0%' }), {});
    assert.throws(() => parseNetem({ jitter: '5ms' }), /invalid jitter "5ms": jitter varies a delay, and no delay is given/);
    assert.throws(() => parseNetem({ reorder: '25%' }), /invalid reorder "25%"/);
    assert.equal(netemSummary({ delayUs: 40_000, jitterUs: 5_000, lossPct: 2, rateBit: 10_000_000 }), 'delay 40ms 5ms loss 2% rate 10mbit');
  });
});

describe('qdiscs of an impairment', () => {
  test('netem alone, tbf alone, or tbf with netem as its child', () => {
    assert.deepEqual(qdiscParts({ delayUs: 1000 }).map((p) => p.kind), ['netem']);
    assert.deepEqual(qdiscParts({ rateBit: 1e7 }).map((p) => `${p.kind} ${p.parent} ${p.handle}`), ['tbf root 1:']);
    assert.deepEqual(qdiscParts({ rateBit: 1e7, lossPct: 1 }).map((p) => `${p.kind} ${p.parent} ${p.handle}`), ['tbf root 1:', 'netem 1:1 10:']);
    assert.deepEqual(qdiscParts({}), []);
  });

  test('tbf bucket: 10 ms of traffic, at least 16 KiB; queue 50 ms more', () => {
    assert.deepEqual(tbfParams(10_000_000), { burstBytes: 16384, limitBytes: 62500 + 16384 });
    assert.deepEqual(tbfParams(10_000_000_000), { burstBytes: 12_500_000, limitBytes: 62_500_000 + 12_500_000 });
  });
});

describe('netlink encoding (against tc 6.1, captured with strace)', () => {
  test('the psched clock: 15.625 ticks per microsecond', () => {
    assert.equal(clock.tickInUsec, 15.625);
  });

  test('netem options: `tc qdisc replace dev v0 root netem delay 40ms 5ms loss 2% duplicate 1% corrupt 0.1% reorder 25%`', () => {
    // TCA_OPTIONS payload tc sent: tc_netem_qopt {latency 625000, limit 1000, loss, gap 1, duplicate, jitter 78125},
    // then TCA_NETEM_REORDER {25%, 0} and TCA_NETEM_CORRUPT {0.1%, 0}.
    const tc = hex(
      '\\x68\\x89\\x09\\x00\\xe8\\x03\\x00\\x00\\x52\\xb8\\x1e\\x05\\x01\\x00\\x00\\x00\\x29\\x5c\\x8f\\x02\\x2d\\x31\\x01\\x00' +
        '\\x0c\\x00\\x03\\x00\\x00\\x00\\x00\\x40\\x00\\x00\\x00\\x00\\x0c\\x00\\x04\\x00\\x37\\x89\\x41\\x00\\x00\\x00\\x00\\x00',
    );
    const mine = netemOptions(parseNetem({ delay: '40ms', jitter: '5ms', loss: '2%', duplicate: '1%', corrupt: '0.1%', reorder: '25%' }), clock);
    assert.equal(mine.toString('hex'), tc.toString('hex'));
  });

  test('the whole RTM_NEWQDISC of a netem root: tcmsg, TCA_KIND "netem", TCA_OPTIONS (reorder and corrupt always there)', () => {
    const flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    const bytes = addQdiscMessage(flags, 3, { kind: 'netem', parent: 'root', handle: undefined }, { delayUs: 40_000 }, clock).finish(7);
    const expected = Buffer.concat([
      hex('64000000' + '2400' + '0506' + '07000000' + '00000000'), // nlmsghdr: len 100, RTM_NEWQDISC, flags, seq 7
      hex('00000000' + '03000000' + '00000000' + 'ffffffff' + '00000000'), // tcmsg: ifindex 3, handle 0, parent root
      hex('0a000100' + '6e6574656d000000'), // TCA_KIND "netem\0" padded
      hex('34000200' + '68890900' + 'e8030000' + '00000000' + '00000000' + '00000000' + '00000000'), // TCA_OPTIONS: latency 625000, limit 1000
      // ... and REORDER and CORRUPT at zero, always (tc leaves them out; a change in place would keep old ones)
      hex('0c000300' + '00000000' + '00000000' + '0c000400' + '00000000' + '00000000'),
    ]);
    assert.equal(bytes.toString('hex'), expected.toString('hex'));
  });

  test('tbf: TCA_TBF_PARMS with linklayer ethernet (no rate table needed), TCA_TBF_BURST', () => {
    const flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    const bytes = addQdiscMessage(flags, 3, { kind: 'tbf', parent: 'root', handle: '1:' }, { rateBit: 10_000_000 }, clock).finish(1);
    const payload = bytes.subarray(16 + 20 + 8); // after nlmsghdr, tcmsg and TCA_KIND "tbf\0"
    assert.equal(bytes.readUInt32LE(16 + 8), 0x10000, 'handle 1:');
    assert.equal(payload.readUInt16LE(2), 2, 'TCA_OPTIONS');
    // As tc sends them for `rate 10mbit`: the ratespec {cell_log, linklayer 1, overhead 0, cell_align -1, mpu 0, rate 1250000}.
    assert.equal(payload.subarray(8, 20).toString('hex'), '000100'.padEnd(6, '0') + '00' + 'ffff' + '0000' + 'd0121300');
    assert.equal(payload.readUInt32LE(8 + 24), 78884, 'limit');
    assert.equal(payload.readUInt16LE(4 + 40 + 2), 6, 'TCA_TBF_BURST');
    assert.equal(payload.readUInt32LE(4 + 40 + 4), 16384);
  });

  test('handles and the root delete', () => {
    assert.equal(tcHandle('1:1'), 0x10001);
    assert.equal(tcHandle('10:'), 0x100000);
    const del = delRootQdiscMessage(NLM_F_REQUEST | NLM_F_ACK, 9).finish(1);
    assert.equal(del.readUInt16LE(4), 37, 'RTM_DELQDISC');
    assert.equal(del.readInt32LE(16 + 4), 9);
    assert.equal(del.readUInt32LE(16 + 12), 0xffffffff);
  });
});

describe('steps rendered for --dry-run', () => {
  test('an impairment: tc qdisc add (after del when there was one)', () => {
    assert.equal(
      renderStep({ kind: 'qdisc-netem', ns: 'red', dev: 'eth0', netem: { delayUs: 40_000, jitterUs: 5_000, lossPct: 2 } }),
      'ip netns exec red tc qdisc add dev eth0 root netem delay 40ms 5ms loss 2%',
    );
    assert.equal(
      renderStep({ kind: 'qdisc-netem', ns: 'red', dev: 'eth0', netem: { delayUs: 40_000, rateBit: 1e7 }, previous: { delayUs: 10_000 } }),
      [
        'ip netns exec red tc qdisc del dev eth0 root',
        'ip netns exec red tc qdisc add dev eth0 root handle 1: tbf rate 10mbit burst 16384 limit 78884',
        'ip netns exec red tc qdisc add dev eth0 parent 1:1 handle 10: netem delay 40ms',
      ].join('\n'),
    );
  });

  test('the same kinds of qdisc: their parameters changed in place', () => {
    assert.equal(
      renderStep({ kind: 'qdisc-netem', ns: 'red', dev: 'eth0', netem: { rateBit: 2e7 }, previous: { rateBit: 1e7 } }),
      'ip netns exec red tc qdisc change dev eth0 root handle 1: tbf rate 20mbit burst 25000 limit 150000',
    );
    assert.equal(
      renderStep({ kind: 'qdisc-netem', ns: 'red', dev: 'eth0', netem: { delayUs: 80_000 }, previous: { delayUs: 40_000, lossPct: 1 } }),
      'ip netns exec red tc qdisc change dev eth0 root netem delay 80ms',
    );
  });

  test('clear and link state', () => {
    assert.equal(renderStep({ kind: 'qdisc-clear', ns: 'red', dev: 'eth1', previous: { lossPct: 1 } }), 'ip netns exec red tc qdisc del dev eth1 root');
    assert.equal(renderStep({ kind: 'link-state', dev: 'nsv0123', up: false }), 'ip link set nsv0123 down');
    assert.equal(renderStep({ kind: 'link-state', ns: 'r2', dev: 'eth1', up: true }), 'ip -n r2 link set eth1 up');
  });
});

describe('reading the qdiscs back (system check)', () => {
  /** A qdisc of a dump as the kernel sends it: tcmsg, TCA_KIND, TCA_OPTIONS, as the request had them. */
  const entry = (part: Parameters<typeof addQdiscMessage>[2], n: Parameters<typeof addQdiscMessage>[3]) =>
    parseQdisc(addQdiscMessage(0, 3, part, n, clock).finish(1).subarray(16));

  test('tbf with netem as its child: the rate and the netem values come back', () => {
    const netem = { delayUs: 40_000, jitterUs: 5_000, lossPct: 2, corruptPct: 0.1, reorderPct: 25, rateBit: 10_000_000 };
    const [root, child] = qdiscParts(netem).map((p) => entry(p, netem));
    // The kernel names the handles it was given (1: and 10:); the default root has handle 0.
    const facts = impairmentOf([{ ...root!, handle: 0x10000 }, { ...child!, handle: 0x100000 }, { ifindex: 4, handle: 0, parent: 0xffffffff, kind: 'noqueue', options: undefined }], 3, clock);
    assert.deepEqual(facts.kinds, ['tbf', 'netem']);
    assert.ok(sameAsKernel(netem, facts.netem), JSON.stringify(facts.netem));
    assert.ok(!sameAsKernel({ ...netem, lossPct: 3 }, facts.netem));
    assert.deepEqual(impairmentOf([{ ifindex: 3, handle: 0, parent: 0xffffffff, kind: 'noqueue', options: undefined }], 3, clock), { kinds: [], netem: {} });
  });
});
