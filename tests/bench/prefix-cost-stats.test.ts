/**
 * The prefix-cost bench's verdict comes from ratioStats (bench/prefix-cost.ts): the median pair, a
 * seeded bootstrap interval of it and a sign test. Checked against known binomial tails and on
 * pairs whose answer is plain, so the printed verdict cannot drift from what the figures say.
 */
import { describe, expect, it } from 'vitest';
import { median, prefixVerdict, ratioStats, type RatioStats } from '../../bench/prefix-cost.ts';

describe('prefix-cost bench statistics', () => {
  it('sign test: two-sided binomial tails', () => {
    // 13 of 18 above: P(X >= 13) = 0.04813 for X ~ Bin(18, 1/2), doubled.
    const pairs = [...Array(13).fill(1.02), ...Array(5).fill(0.98)];
    const s = ratioStats(pairs);
    expect(s.above).toBe(13);
    expect(s.n).toBe(18);
    expect(s.p).toBeCloseTo(0.0963, 3);
    // All 18 above: 2 / 2^18.
    expect(ratioStats(Array(18).fill(1.05)).p).toBeCloseTo(2 / 2 ** 18, 9);
    // An even split is no evidence at all.
    expect(ratioStats([...Array(9).fill(1.01), ...Array(9).fill(0.99)]).p).toBe(1);
  });

  it('ties (a ratio of exactly 1) count neither way', () => {
    const s = ratioStats([1, 1, 1.1, 0.9]);
    expect(s.n).toBe(2);
    expect(s.above).toBe(1);
  });

  it('the interval holds the median pair, lies above 1 for a clear cost and holds 1 for noise around 1', () => {
    const cost = [1.05, 1.06, 1.04, 1.07, 1.05, 1.03, 1.06, 1.05, 1.04, 1.08, 1.05, 1.06, 1.02, 1.05, 1.06, 1.04, 1.05, 1.07];
    const c = ratioStats(cost);
    expect(c.median).toBe(median(cost));
    expect(c.low).toBeLessThanOrEqual(c.median);
    expect(c.high).toBeGreaterThanOrEqual(c.median);
    expect(c.low).toBeGreaterThan(1);
    const noise = [1.03, 0.97, 1.01, 0.99, 1.02, 0.98, 1.0, 1.04, 0.96, 1.01, 0.99, 1.02, 0.98, 1.03, 0.97, 1.01, 0.99, 1.0];
    const n = ratioStats(noise);
    expect(n.low).toBeLessThanOrEqual(1);
    expect(n.high).toBeGreaterThanOrEqual(1);
    // Seeded: the same pairs give the same interval.
    expect(ratioStats(noise)).toEqual(n);
  });

  it('the verdict: beyond noise only when the cost interval lies above both 1 and the noise floor', () => {
    const stats = (low: number, high: number): RatioStats => ({ median: (low + high) / 2, low, high, above: 0, n: 18, p: 1 });
    // The quiet run of 2026-12-06: +2.8 … +7.3% against a floor of +0.9%.
    expect(prefixVerdict(stats(1.028, 1.073), stats(0.979, 1.009))).toMatchObject({ beyondNoise: true, detectable: true, biased: false });
    expect(prefixVerdict(stats(1.028, 1.073), stats(0.979, 1.009)).text).toMatch(/^a loss of replay speed BEYOND NOISE \(the cost's interval \+2\.8% … \+7\.3% lies above the noise floor \+0\.9%; a cost is still detectable/);
    // Detectable, but no larger than what identical runs differ by.
    expect(prefixVerdict(stats(1.01, 1.05), stats(0.98, 1.03))).toMatchObject({ beyondNoise: false, detectable: true });
    // Noise pairs all below 1 (biased) are no floor: a cost interval holding 1 is no loss.
    const v = prefixVerdict(stats(0.995, 1.02), stats(0.97, 0.99));
    expect(v).toMatchObject({ beyondNoise: false, detectable: false, biased: true });
    expect(v.text).toMatch(/reaches down to or below the noise floor \+0\.0%; the interval holds 1/);
  });
});
