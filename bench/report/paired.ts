/**
 * Paired comparison of two commands timed in the same rounds (a_i and b_i taken back to back in
 * round i): the per-round ratio a_i / b_i and difference a_i − b_i, the median of each with a
 * distribution-free confidence interval, and the sign test. Pairing cancels what both calls of a
 * round share (the machine's load at that moment, the docker CLI's own start), which the ratio of
 * the two medians does not: there, two independent medians' noise adds up.
 *
 * The interval is the classic one for a median from order statistics: with n values, the number
 * below the true median is Binomial(n, 1/2) whatever the distribution, so [x_(l), x_(n+1−l)]
 * covers it with probability 1 − 2·P(B ≤ l−1). No normality, no bootstrap, nothing random.
 */

/** P(B ≤ k) for B ~ Binomial(n, 1/2); in log space, so it holds for n in the thousands (0.5^1075 is 0 in a double). */
export function binomialHalfCdf(k: number, n: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  const logHalfN = n * Math.log(0.5);
  let logChoose = 0; // ln C(n, 0)
  let sum = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logChoose += Math.log((n - i + 1) / i);
    sum += Math.exp(logChoose + logHalfN);
  }
  return Math.min(1, sum);
}

/**
 * The 1-based order statistics [l, u] whose interval covers the median with probability at least
 * `level`, and that probability; null when n is too small for any (n < 6 at 95%).
 * For n = 100 at 95%: the 40th and 61st values, coverage 0.965.
 */
export function medianCiRanks(n: number, level = 0.95): { low: number; high: number; coverage: number } | null {
  if (!Number.isInteger(n) || n < 1) return null;
  const tail = (1 - level) / 2;
  // The largest l with P(B ≤ l−1) ≤ tail: the narrowest symmetric interval with enough coverage.
  let l = 0;
  while (binomialHalfCdf(l, n) <= tail) l++;
  if (l === 0) return null;
  return { low: l, high: n + 1 - l, coverage: 1 - 2 * binomialHalfCdf(l - 1, n) };
}

/** Two-sided exact sign test: the chance of a split at least this uneven when each side wins a round with probability 1/2. */
export function signTestP(wins: number, losses: number): number {
  const n = wins + losses;
  if (n === 0) return 1;
  return Math.min(1, 2 * binomialHalfCdf(Math.min(wins, losses), n));
}

/** A median and its distribution-free confidence interval (null bounds: too few values). */
export interface MedianCi {
  median: number;
  low: number | null;
  high: number | null;
}

function medianWithCi(xs: readonly number[], level: number): MedianCi {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  const r = medianCiRanks(n, level);
  return { median, low: r === null ? null : s[r.low - 1]!, high: r === null ? null : s[r.high - 1]! };
}

export interface PairedSummary {
  rounds: number;
  /** Per round a_i / b_i. */
  ratio: MedianCi;
  /** Per round a_i − b_i, in the samples' unit. */
  diff: MedianCi;
  /** How sure the intervals are (≥ the level asked for; order statistics give no exact level), null with too few rounds. */
  coverage: number | null;
  /** Rounds where a was faster (a_i < b_i), where b was, and exact ties (left out of the sign test). */
  aFaster: number;
  bFaster: number;
  ties: number;
  /** Two-sided sign test on aFaster against bFaster. */
  signTestP: number;
}

/**
 * a[i] and b[i] must be the two calls of round i. Arrays of different lengths cannot be paired:
 * that is a bug in whoever collected them, so it throws rather than pair the wrong rounds.
 */
export function pairedSummary(a: readonly number[], b: readonly number[], level = 0.95): PairedSummary {
  if (a.length !== b.length) throw new Error(`paired samples need one value of each per round: got ${a.length} and ${b.length}`);
  if (a.length === 0) throw new Error('paired samples: no rounds');
  let aFaster = 0;
  let bFaster = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i]! < b[i]!) aFaster++;
    else if (a[i]! > b[i]!) bFaster++;
  }
  return {
    rounds: a.length,
    ratio: medianWithCi(a.map((x, i) => x / b[i]!), level),
    diff: medianWithCi(a.map((x, i) => x - b[i]!), level),
    coverage: medianCiRanks(a.length, level)?.coverage ?? null,
    aFaster,
    bFaster,
    ties: a.length - aFaster - bFaster,
    signTestP: signTestP(aFaster, bFaster),
  };
}

/** Where a confidence interval lies against a ceiling: wholly at or under it, wholly over it, or across it (undecided). */
export function ciAgainst(ci: MedianCi, max: number): 'under' | 'over' | 'straddles' | 'no interval' {
  if (ci.low === null || ci.high === null) return 'no interval';
  if (ci.high <= max) return 'under';
  if (ci.low > max) return 'over';
  return 'straddles';
}
