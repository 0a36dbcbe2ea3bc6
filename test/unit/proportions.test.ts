import { describe, expect, it } from 'vitest';
import { decide, newcombeInterval, normalCdf, normalQuantile, sampleSizePerGroup, twoProportionZTest, wilsonInterval, Z_95 } from '../../lib/stats/proportions.ts';

/**
 * The statistics behind the templates page's decision (lib/stats/proportions.ts), checked
 * against published values: Newcombe (1998) "Two-sided confidence intervals for the single
 * proportion: comparison of seven methods", Statistics in Medicine 17:857–872, Table II, method 3
 * (Wilson score), and Newcombe (1998) "Interval estimation for the difference between independent
 * proportions: comparison of eleven methods", Statistics in Medicine 17:873–890, Table II,
 * method 10 (score-based hybrid). Both tables print four decimals.
 */
const four = (x: number) => Math.round(x * 10_000) / 10_000;

describe('normal distribution', () => {
  it('matches the standard table', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 7);
    expect(normalCdf(-1.644853626951472)).toBeCloseTo(0.05, 7);
    expect(normalQuantile(0.975)).toBeCloseTo(Z_95, 6);
    expect(normalQuantile(0.8)).toBeCloseTo(0.8416212335729143, 6);
    expect(normalQuantile(0.9875)).toBeCloseTo(2.241402727604947, 6);
    expect(() => normalQuantile(1)).toThrow(RangeError);
  });
});

describe('Wilson score interval (Newcombe 1998a, Table II, method 3)', () => {
  it.each([
    [81, 263, 0.2553, 0.3662],
    [15, 148, 0.0624, 0.1605],
    [0, 20, 0, 0.1611],
    [1, 29, 0.0061, 0.1718],
  ])('%i/%i → %f to %f', (x, n, low, high) => {
    const w = wilsonInterval(x, n);
    expect(four(w.low)).toBe(low);
    expect(four(w.high)).toBe(high);
    expect(w.rate).toBe(x / n);
  });

  it('stays within [0, 1] and is unknown without trials', () => {
    expect(wilsonInterval(20, 20)).toMatchObject({ rate: 1, high: 1 });
    expect(wilsonInterval(0, 0)).toEqual({ rate: null, low: 0, high: 1 });
    expect(() => wilsonInterval(3, 2)).toThrow(RangeError);
    expect(() => wilsonInterval(1.5, 2)).toThrow(RangeError);
  });
});

describe('Newcombe difference interval (Newcombe 1998b, Table II, method 10)', () => {
  it.each([
    [56, 70, 48, 80, 0.0524, 0.3339],
    [9, 10, 3, 10, 0.1705, 0.809],
    [5, 56, 0, 29, -0.0381, 0.1926],
    [0, 10, 0, 20, -0.1611, 0.2775],
  ])('%i/%i − %i/%i → %f to %f', (x1, n1, x2, n2, low, high) => {
    const d = newcombeInterval(x1, n1, x2, n2);
    expect(four(d.low)).toBe(low);
    expect(four(d.high)).toBe(high);
    expect(d.difference).toBeCloseTo(x1 / n1 - x2 / n2, 12);
  });
});

describe('two-proportion z-test', () => {
  it('is Pearson χ² of the 2×2 table (no continuity correction)', () => {
    // 56/70 vs 48/80: χ² = N(ad − bc)² / (row and column totals) = 7.0233…, z = √χ².
    const [a, b, c, d] = [56, 14, 48, 32];
    const n = a + b + c + d;
    const chi2 = (n * (a * d - b * c) ** 2) / ((a + b) * (c + d) * (a + c) * (b + d));
    const t = twoProportionZTest(56, 70, 48, 80);
    expect(t.z).toBeCloseTo(Math.sqrt(chi2), 10);
    expect(t.pValue).toBeCloseTo(0.008045, 5);
  });
  it('calls z = 1.96 p = 0.05, and no difference p = 1', () => {
    expect(twoProportionZTest(30, 60, 30, 60)).toEqual({ z: 0, pValue: 1 });
    expect(twoProportionZTest(0, 10, 0, 12)).toEqual({ z: 0, pValue: 1 });
    expect(twoProportionZTest(10, 10, 0, 10).pValue).toBeLessThan(0.001);
  });
});

describe('sample size per group (Fleiss, no continuity correction)', () => {
  it('computes the textbook formula', () => {
    // 0.60 vs 0.50, α = 0.05 two-sided, power 0.8: (1.95996·√(2·0.55·0.45) + 0.84162·√(0.24 + 0.25))² / 0.01 = 387.3.
    expect(sampleSizePerGroup(0.6, 0.5)).toBe(388);
    expect(sampleSizePerGroup(0.5, 0.6)).toBe(388);
    expect(sampleSizePerGroup(0.4, 0.4)).toBe(Infinity);
    expect(sampleSizePerGroup(0.8, 0.2)).toBeLessThan(sampleSizePerGroup(0.6, 0.4));
  });
});

describe('decide', () => {
  it('names a clearly better variant and the margin over the runner-up', () => {
    const d = decide([{ id: 'a', successes: 6, trials: 30 }, { id: 'b', successes: 24, trials: 30 }]);
    expect(d.kind).toBe('winner');
    if (d.kind !== 'winner') return;
    expect(d.best).toBe('b');
    expect(d.runnerUp).toBe('a');
    expect(d.difference.difference).toBeCloseTo(0.6, 12);
    expect(d.difference.low).toBeGreaterThan(0.3);
    expect(d.pValue).toBeLessThan(0.001);
  });

  it('says how many more sends a tie needs', () => {
    const d = decide([{ id: 'a', successes: 5, trials: 10 }, { id: 'b', successes: 4, trials: 10 }]);
    expect(d.kind).toBe('undecided');
    if (d.kind !== 'undecided') return;
    expect(d.leader).toBe('a');
    expect(d.observed).toBeCloseTo(0.1, 12);
    // The observed 50 % vs 40 % needs 388 per variant (see above, mirrored): 378 + 378 more.
    expect(d.perArm).toBe(388);
    expect(d.moreTrials).toBe(2 * (388 - 10));
  });

  it('plans for the smallest worthwhile difference when the observed one is smaller', () => {
    const d = decide([{ id: 'a', successes: 10, trials: 20 }, { id: 'b', successes: 10, trials: 20 }]);
    expect(d).toMatchObject({ kind: 'undecided', observed: 0, plannedEffect: 0.05 });
    if (d.kind === 'undecided') expect(d.perArm).toBe(sampleSizePerGroup(0.525, 0.475));
    const none = decide([{ id: 'a', successes: 0, trials: 20 }, { id: 'b', successes: 0, trials: 20 }]);
    if (none.kind === 'undecided') expect(none.perArm).toBe(sampleSizePerGroup(0.05, 0));
  });

  it('corrects for several comparisons (Bonferroni)', () => {
    // Clearly better than one variant at 95 %, but three variants make two comparisons at 97.5 %.
    const two = decide([{ id: 'a', successes: 17, trials: 30 }, { id: 'b', successes: 9, trials: 30 }]);
    const three = decide([{ id: 'a', successes: 17, trials: 30 }, { id: 'b', successes: 9, trials: 30 }, { id: 'c', successes: 9, trials: 30 }]);
    const p = twoProportionZTest(17, 30, 9, 30).pValue;
    expect(p).toBeGreaterThan(0.025);
    expect(p).toBeLessThan(0.05);
    expect(two.kind).toBe('winner');
    expect(three.kind).toBe('undecided');
  });

  it('needs two variants with sends', () => {
    expect(decide([{ id: 'a', successes: 3, trials: 10 }])).toEqual({ kind: 'no_comparison' });
    expect(decide([{ id: 'a', successes: 3, trials: 10 }, { id: 'b', successes: 0, trials: 0 }])).toEqual({ kind: 'no_comparison' });
  });
});
