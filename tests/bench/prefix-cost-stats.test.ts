/**
 * The prefix-cost bench's verdict comes from ratioStats (bench/prefix-cost.ts): the median pair, a
 * seeded bootstrap interval of it and a sign test. Checked against known binomial tails and on
 * pairs whose answer is plain, so the printed verdict cannot drift from what the figures say.
 */
import { describe, expect, it } from 'vitest';
import { median, ratioStats } from '../../bench/prefix-cost.ts';

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
});
