import { errorFunction } from 'simple-statistics';

/**
 * Rates of two or more template variants, and whether one is better (docs/architecture.md "What
 * people see"): pure functions, no clock, no I/O.
 *
 * - Wilson score interval for one rate (Wilson 1927; Newcombe 1998, "Two-sided confidence
 *   intervals for the single proportion", method 3): honest at 0 %, 100 % and small n, where the
 *   textbook p ± 1.96·SE interval collapses or leaves [0, 1].
 * - Newcombe's hybrid score interval for a difference of two rates (Newcombe 1998, "Interval
 *   estimation for the difference between independent proportions", method 10), built from the
 *   two Wilson intervals: "by how much" comes with its own range.
 * - The pooled two-proportion z-test for "is the difference more than chance".
 * - Fleiss' sample size per group (no continuity correction) for "how many more sends".
 * The normal distribution's error function comes from simple-statistics; its quantile is found
 * by bisection on it (simple-statistics' own `probit` is only good to two decimals).
 */

/** z of a two-sided 95 % interval. */
export const Z_95 = 1.959963984540054;

/** Φ(z): the standard normal distribution function. */
export function normalCdf(z: number): number {
  if (z === Infinity) return 1;
  if (z === -Infinity) return 0;
  return 0.5 * (1 + errorFunction(z / Math.SQRT2));
}

/** Φ⁻¹(p) for 0 < p < 1, to about 1e-9. */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile needs 0 < p < 1 (got ${p})`);
  let lo = -40;
  let hi = 40;
  for (let i = 0; i < 200 && hi - lo > 1e-12; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface RateInterval {
  /** successes / n, or null without trials. */
  rate: number | null;
  low: number;
  high: number;
}

function checkCounts(successes: number, n: number): void {
  if (!Number.isInteger(successes) || !Number.isInteger(n) || n < 0 || successes < 0 || successes > n) {
    throw new RangeError(`counts must be integers with 0 <= successes <= n (got ${successes}/${n})`);
  }
}

/** Wilson score interval of successes/n; without trials the rate is unknown and the interval [0, 1]. */
export function wilsonInterval(successes: number, n: number, z = Z_95): RateInterval {
  checkCounts(successes, n);
  if (n === 0) return { rate: null, low: 0, high: 1 };
  const p = successes / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // At 0 and n the exact bound is 0 (or 1); floating point would leave a hair beside it.
  return { rate: p, low: successes === 0 ? 0 : Math.max(0, centre - half), high: successes === n ? 1 : Math.min(1, centre + half) };
}

export interface DifferenceInterval {
  /** p1 − p2 */
  difference: number;
  low: number;
  high: number;
}

/** Newcombe's interval for p1 − p2 (both groups need at least one trial). */
export function newcombeInterval(x1: number, n1: number, x2: number, n2: number, z = Z_95): DifferenceInterval {
  checkCounts(x1, n1);
  checkCounts(x2, n2);
  if (n1 === 0 || n2 === 0) throw new RangeError('newcombeInterval needs trials in both groups');
  const a = wilsonInterval(x1, n1, z);
  const b = wilsonInterval(x2, n2, z);
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const d = p1 - p2;
  return {
    difference: d,
    low: d - Math.sqrt((p1 - a.low) ** 2 + (b.high - p2) ** 2),
    high: d + Math.sqrt((a.high - p1) ** 2 + (p2 - b.low) ** 2),
  };
}

export interface ZTest {
  z: number;
  /** Two-sided. */
  pValue: number;
}

/** Pooled two-proportion z-test of p1 = p2; z² is Pearson's χ² of the 2×2 table without correction. */
export function twoProportionZTest(x1: number, n1: number, x2: number, n2: number): ZTest {
  checkCounts(x1, n1);
  checkCounts(x2, n2);
  if (n1 === 0 || n2 === 0) throw new RangeError('twoProportionZTest needs trials in both groups');
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  // Both all-success or all-failure: no evidence of any difference.
  if (se === 0) return { z: 0, pValue: 1 };
  const z = (x1 / n1 - x2 / n2) / se;
  return { z, pValue: Math.min(1, 2 * (1 - normalCdf(Math.abs(z)))) };
}

/**
 * Trials per group for a two-sided test at `alpha` to detect p1 vs p2 with `power` (Fleiss,
 * Statistical Methods for Rates and Proportions, formula without continuity correction).
 */
export function sampleSizePerGroup(p1: number, p2: number, alpha = 0.05, power = 0.8): number {
  if (p1 === p2) return Infinity;
  const za = normalQuantile(1 - alpha / 2);
  const zb = normalQuantile(power);
  const mean = (p1 + p2) / 2;
  const root = za * Math.sqrt(2 * mean * (1 - mean)) + zb * Math.sqrt(p1 * (1 - p1) + p2 * (1 - p2));
  return Math.ceil((root * root) / ((p1 - p2) ** 2));
}

// ---------------------------------------------------------------------------------------------
// The decision

export interface Arm<Id extends string = string> {
  id: Id;
  successes: number;
  trials: number;
}

export interface DecisionOptions {
  /** Overall error rate, split over the comparisons (Bonferroni). Default 0.05: 95 % confidence. */
  alpha?: number;
  /** Chance to detect a real difference of the planned size. Default 0.8. */
  power?: number;
  /** The smallest difference worth planning for when the observed one is smaller. Default 0.05 (5 points). */
  minEffect?: number;
}

export type Decision<Id extends string = string> =
  /** Fewer than two variants with sends: nothing to compare. */
  | { kind: 'no_comparison' }
  /** `best` beats every other variant with the confidence asked for; the margin is over the runner-up. */
  | { kind: 'winner'; best: Id; runnerUp: Id; difference: DifferenceInterval; pValue: number; confidence: number }
  /**
   * No variant is better yet. `plannedEffect` is the difference the estimate is for (the observed
   * one, or minEffect when that is smaller); `perArm` trials each would show it; `moreTrials` is
   * what the compared variants still lack in total.
   */
  | { kind: 'undecided'; leader: Id; runnerUp: Id; observed: number; plannedEffect: number; perArm: number; moreTrials: number; confidence: number };

const rateOf = (a: Arm) => a.successes / a.trials;

/**
 * Is one variant better than all the others? The leader (highest rate) is compared with each
 * other variant at alpha/(k−1); it wins only when every comparison says so by both the z-test and
 * Newcombe's interval (lower bound above zero), so the sentence and its range never disagree.
 */
export function decide<Id extends string>(arms: readonly Arm<Id>[], options: DecisionOptions = {}): Decision<Id> {
  const alpha = options.alpha ?? 0.05;
  const power = options.power ?? 0.8;
  const minEffect = options.minEffect ?? 0.05;
  const withTrials = arms.filter((a) => a.trials > 0);
  if (withTrials.length < 2) return { kind: 'no_comparison' };
  // Highest rate first; among equal rates the one with more trials (the surer estimate).
  const ranked = [...withTrials].sort((a, b) => rateOf(b) - rateOf(a) || b.trials - a.trials);
  const [leader, runnerUp] = ranked as [Arm<Id>, Arm<Id>];
  const others = ranked.slice(1);
  const alphaEach = alpha / others.length;
  const z = normalQuantile(1 - alphaEach / 2);
  const confidence = 1 - alpha;

  let worstP = 0;
  let allBetter = true;
  for (const other of others) {
    const test = twoProportionZTest(leader.successes, leader.trials, other.successes, other.trials);
    const interval = newcombeInterval(leader.successes, leader.trials, other.successes, other.trials, z);
    worstP = Math.max(worstP, test.pValue);
    if (!(test.pValue < alphaEach && interval.low > 0)) allBetter = false;
  }
  if (allBetter) {
    return { kind: 'winner', best: leader.id, runnerUp: runnerUp.id, difference: newcombeInterval(leader.successes, leader.trials, runnerUp.successes, runnerUp.trials, z), pValue: worstP, confidence };
  }

  const observed = rateOf(leader) - rateOf(runnerUp);
  const plannedEffect = Math.max(observed, minEffect);
  const [high, low] = plannedRates(rateOf(leader), rateOf(runnerUp), plannedEffect);
  const perArm = sampleSizePerGroup(high, low, alphaEach, power);
  const moreTrials = others.concat([leader]).reduce((sum, a) => sum + Math.max(0, perArm - a.trials), 0);
  return { kind: 'undecided', leader: leader.id, runnerUp: runnerUp.id, observed, plannedEffect, perArm, moreTrials, confidence };
}

/** The two rates the plan is for: the observed ones, or centred on them `effect` apart, within [0, 1]. */
function plannedRates(leaderRate: number, runnerUpRate: number, effect: number): [number, number] {
  if (leaderRate - runnerUpRate >= effect) return [leaderRate, runnerUpRate];
  const centre = (leaderRate + runnerUpRate) / 2;
  let low = centre - effect / 2;
  let high = centre + effect / 2;
  if (low < 0) [low, high] = [0, effect];
  if (high > 1) [low, high] = [1 - effect, 1];
  return [high, low];
}
