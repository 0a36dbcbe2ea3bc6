import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pollPhaseSeconds } from '../../lib/temporal/schedules.ts';

/**
 * The phase spreads the stores' Schedules over their interval (docs/performance.md): the server
 * starts at most 30 Schedule actions a second per namespace by default, so what matters is how
 * many stores share one second. The ids are fixed (uuid-shaped hashes of 0…n-1), so the test is
 * deterministic.
 */
function storeIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const h = createHash('sha256').update(`store-${i}`).digest('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  });
}

function perSecond(ids: string[], intervalSeconds: number): number[] {
  const counts = new Array<number>(intervalSeconds).fill(0);
  for (const id of ids) counts[pollPhaseSeconds(id, intervalSeconds)]!++;
  return counts;
}

describe('poll phase', () => {
  it('is a whole second inside the interval and the same on every call', () => {
    for (const id of storeIds(200)) {
      for (const interval of [10, 60, 90, 3600]) {
        const phase = pollPhaseSeconds(id, interval);
        expect(Number.isInteger(phase)).toBe(true);
        expect(phase).toBeGreaterThanOrEqual(0);
        expect(phase).toBeLessThan(interval);
        expect(pollPhaseSeconds(id, interval)).toBe(phase);
      }
    }
  });

  it('spreads 1,000 stores polled every 60 s to well under 30 starts in any second', () => {
    const counts = perSecond(storeIds(1000), 60);
    // Even spread is 16.7 a second; a fair hash stays within a few standard deviations (~4).
    expect(Math.max(...counts)).toBeLessThanOrEqual(30);
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(5);
    expect(counts.filter((c) => c === 0)).toHaveLength(0);
  });

  it('differs between stores with ids that differ in one character', () => {
    const base = '3f1c2a9e-7b5d-4c1e-9a2f-0d8e6b4c2a10';
    const phases = new Set('0123456789abcdef'.split('').map((c) => pollPhaseSeconds(base.slice(0, -1) + c, 60)));
    expect(phases.size).toBeGreaterThanOrEqual(12);
  });
});
