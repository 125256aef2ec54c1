/**
 * bench/report/paired.ts: the paired statistics the Docker-API bench judges its targets on. Known
 * values come from exact binomial sums (Python's fractions) and the published tables of the
 * median's order-statistic interval (n = 10: 2nd..9th, n = 20: 6th..15th, n = 50: 18th..33rd,
 * n = 100: 40th..61st).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { binomialHalfCdf, ciAgainst, medianCiRanks, pairedSummary, signTestP } from '../../bench/report/paired.js';

const close = (actual: number, expected: number, tol = 1e-12): void => assert.ok(Math.abs(actual - expected) <= tol, `${actual} is not ${expected} (±${tol})`);

describe('binomialHalfCdf', () => {
  test('matches exact sums', () => {
    close(binomialHalfCdf(39, 100), 0.017600100108852407);
    close(binomialHalfCdf(40, 100), 0.028443966820490395);
    close(binomialHalfCdf(2, 10), 56 / 1024);
    close(binomialHalfCdf(0, 6), 1 / 64);
  });
  test('is 0 below the support and 1 at its top, also where 0.5^n underflows', () => {
    assert.equal(binomialHalfCdf(-1, 10), 0);
    assert.equal(binomialHalfCdf(10, 10), 1);
    close(binomialHalfCdf(1000, 2001), 0.5, 1e-9);
  });
});

describe('medianCiRanks', () => {
  test('the 95% interval of the median from the tables', () => {
    assert.deepEqual(medianCiRanks(100), { low: 40, high: 61, coverage: medianCiRanks(100)!.coverage });
    close(medianCiRanks(100)!.coverage, 0.9647997997822951);
    for (const [n, low, high] of [[6, 1, 6], [10, 2, 9], [20, 6, 15], [50, 18, 33], [201, 87, 115], [1000, 469, 532]] as const) {
      const r = medianCiRanks(n)!;
      assert.deepEqual([r.low, r.high], [low, high], `n=${n}`);
      assert.ok(r.coverage >= 0.95, `n=${n}: coverage ${r.coverage}`);
    }
    close(medianCiRanks(6)!.coverage, 31 / 32);
  });
  test('null when no interval reaches the level', () => {
    assert.equal(medianCiRanks(5), null);
    assert.equal(medianCiRanks(0), null);
    assert.deepEqual(medianCiRanks(5, 0.9)?.low, 1); // 1 − 2/32 = 0.9375
  });
});

describe('signTestP', () => {
  test('two-sided exact p', () => {
    close(signTestP(0, 10), 2 / 1024);
    close(signTestP(10, 0), 2 / 1024);
    close(signTestP(2, 8), 112 / 1024);
    assert.equal(signTestP(5, 5), 1);
    assert.equal(signTestP(0, 0), 1);
    close(signTestP(80, 121), 0.004660051974640122, 1e-12);
  });
});

describe('pairedSummary', () => {
  test('pairs by index: per-round ratio and difference, who was faster', () => {
    // Round i: a is 1 ms faster in rounds 0..6, 2 ms slower in 7..9; b drifts (the shared load) so the medians alone say little.
    const b = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    const a = b.map((x, i) => (i < 7 ? x - 1 : x + 2));
    const s = pairedSummary(a, b);
    assert.equal(s.rounds, 10);
    assert.equal(s.aFaster, 7);
    assert.equal(s.bFaster, 3);
    assert.equal(s.ties, 0);
    close(s.signTestP, signTestP(7, 3));
    assert.equal(s.diff.median, -1);
    // n = 10: the 2nd and 9th of the sorted differences [-1 ×7, 2 ×3].
    assert.deepEqual([s.diff.low, s.diff.high], [-1, 2]);
    const ratios = a.map((x, i) => x / b[i]!).sort((p, q) => p - q);
    close(s.ratio.median, (ratios[4]! + ratios[5]!) / 2);
    assert.deepEqual([s.ratio.low, s.ratio.high], [ratios[1], ratios[8]]);
    close(s.coverage!, 0.978515625);
  });
  test('ties are counted apart and left out of the sign test', () => {
    const s = pairedSummary([1, 2, 3, 4, 5, 6], [1, 2, 3, 5, 6, 7]);
    assert.deepEqual([s.aFaster, s.bFaster, s.ties], [3, 0, 3]);
    close(s.signTestP, 2 / 8);
  });
  test('too few rounds for an interval: the median alone', () => {
    const s = pairedSummary([1, 2], [2, 2]);
    assert.deepEqual(s.ratio, { median: 0.75, low: null, high: null });
    assert.equal(s.coverage, null);
  });
  test('refuses samples that cannot be paired', () => {
    assert.throws(() => pairedSummary([1, 2, 3], [1, 2]), /one value of each per round: got 3 and 2/);
    assert.throws(() => pairedSummary([], []), /no rounds/);
  });
});

describe('ciAgainst', () => {
  test('under, over, across the ceiling', () => {
    assert.equal(ciAgainst({ median: 0.9, low: 0.8, high: 1 }, 1), 'under');
    assert.equal(ciAgainst({ median: 1.1, low: 1.01, high: 1.2 }, 1), 'over');
    assert.equal(ciAgainst({ median: 0.99, low: 0.97, high: 1.02 }, 1), 'straddles');
    assert.equal(ciAgainst({ median: 1, low: null, high: null }, 1), 'no interval');
  });
});
