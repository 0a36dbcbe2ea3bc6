import { describe, expect, it } from 'vitest';
import { dayLimit, decideClaim, estimateDrain, planSlots, warmupAllowance, warmupState, type ClaimInput, type SenderPacingState } from '../../lib/pacing/pacing.ts';

/**
 * The warm-up of a newly paired number as a pure rule with an injected clock: a growing allowance
 * per local day (day 1 = the day of pairing), refused like the daily cap, planned and estimated
 * like it, and the held backlog leaving oldest first.
 */
const almaty = (local: string) => new Date(`${local}+05:00`);

function sender(over: Partial<SenderPacingState> = {}): SenderPacingState {
  return {
    minGapSeconds: 0,
    maxGapSeconds: 0,
    dailyCap: null,
    perBuyerDailyLimit: null,
    quietHoursStart: null,
    quietHoursEnd: null,
    timezone: 'Asia/Almaty',
    nextAllowedAt: new Date(0),
    sessionStatus: 'WORKING',
    sessionStatusAt: null,
    pairedAt: almaty('2026-11-10T17:30:00'),
    warmupEndedAt: null,
    warmupDays: 14,
    warmupStart: 20,
    warmupGrowthPercent: 100,
    ...over,
  };
}

function claim(now: Date, sentToday: number, over: Partial<ClaimInput> = {}, s: Partial<SenderPacingState> = {}) {
  return decideClaim({ now, sender: sender({ sessionStatusAt: now, ...s }), sendingPaused: false, sentToday, sentTodayToBuyer: 0, random: () => 0, ...over });
}

describe('warm-up allowance', () => {
  it('doubles each local day from the day of pairing and ends after the configured days', () => {
    expect([1, 2, 3, 4, 5].map((d) => warmupAllowance({ warmupStart: 20, warmupGrowthPercent: 100 }, d))).toEqual([20, 40, 80, 160, 320]);
    expect(warmupAllowance({ warmupStart: 10, warmupGrowthPercent: 50 }, 3)).toBe(22); // 10 × 1.5², whole messages
    expect(warmupAllowance({ warmupStart: 20, warmupGrowthPercent: 0 }, 9)).toBe(20);
    expect(warmupAllowance({ warmupStart: 20, warmupGrowthPercent: 400 }, 60)).toBe(1_000_000); // bounded

    // Paired at 17:30 on 10 November (Almaty): that day is day 1, 23 November is day 14, 24 November is free.
    expect(warmupState(sender(), almaty('2026-11-10T23:59:00'))).toMatchObject({ active: true, day: 1, allowance: 20 });
    expect(warmupState(sender(), almaty('2026-11-11T00:00:00'))).toMatchObject({ active: true, day: 2, allowance: 40 });
    const last = warmupState(sender(), almaty('2026-11-23T21:00:00'));
    expect(last).toMatchObject({ active: true, day: 14, days: 14 });
    expect(last.active && last.endsAt.toISOString()).toBe(almaty('2026-11-24T00:00:00').toISOString());
    expect(warmupState(sender(), almaty('2026-11-24T00:00:00'))).toEqual({ active: false });
  });

  it('does not apply before pairing is known, without days, or once an admin ended it', () => {
    expect(warmupState(sender({ pairedAt: null }), almaty('2026-11-10T18:00:00'))).toEqual({ active: false });
    expect(warmupState(sender({ warmupDays: 0 }), almaty('2026-11-10T18:00:00'))).toEqual({ active: false });
    expect(warmupState(sender({ warmupEndedAt: almaty('2026-11-10T18:00:00') }), almaty('2026-11-10T18:00:01'))).toEqual({ active: false });
    // Ended later than now (a clock behind the admin's): still warming up until then.
    expect(warmupState(sender({ warmupEndedAt: almaty('2026-11-10T19:00:00') }), almaty('2026-11-10T18:00:00')).active).toBe(true);
  });

  it('counts local days in the sender timezone, not UTC days', () => {
    // 23:30 Almaty on 10 November is 18:30 UTC; one hour later it is already the second local day.
    const s = { pairedAt: almaty('2026-11-10T23:30:00') };
    expect(warmupState(sender(s), almaty('2026-11-10T23:59:00'))).toMatchObject({ day: 1 });
    expect(warmupState(sender(s), almaty('2026-11-11T00:30:00'))).toMatchObject({ day: 2, allowance: 40 });
    expect(warmupState(sender({ ...s, timezone: 'UTC' }), new Date('2026-11-10T19:30:00Z'))).toMatchObject({ day: 1 });
  });

  it('the day limit is the lower of the daily cap and the allowance', () => {
    const day3 = almaty('2026-11-12T12:00:00');
    expect(dayLimit(sender(), day3)).toBe(80);
    expect(dayLimit(sender({ dailyCap: 50 }), day3)).toBe(50);
    expect(dayLimit(sender({ dailyCap: 500 }), almaty('2026-12-01T12:00:00'))).toBe(500); // warm-up over
    expect(dayLimit(sender({ warmupDays: 0 }), day3)).toBeNull();
  });
});

describe('claims during the warm-up', () => {
  it('refuses past the allowance until the next local midnight, and allows more the next day', () => {
    const now = almaty('2026-11-10T18:00:00');
    expect(claim(now, 19).ok).toBe(true);
    expect(claim(now, 20)).toEqual({ ok: false, reason: 'warmup', retryAt: almaty('2026-11-11T00:00:00') });
    expect(claim(almaty('2026-11-11T00:00:00'), 0).ok).toBe(true);
    expect(claim(almaty('2026-11-11T10:00:00'), 39).ok).toBe(true);
    expect(claim(almaty('2026-11-11T10:00:00'), 40)).toMatchObject({ ok: false, reason: 'warmup' });
  });

  it('keeps quiet hours: the next day starts when they end', () => {
    const refused = claim(almaty('2026-11-10T18:00:00'), 20, {}, { quietHoursStart: '22:00', quietHoursEnd: '09:00' });
    expect(refused).toEqual({ ok: false, reason: 'warmup', retryAt: almaty('2026-11-11T09:00:00') });
  });

  it('a lower daily cap speaks first; the per-buyer limit before both', () => {
    expect(claim(almaty('2026-11-12T12:00:00'), 50, {}, { dailyCap: 50 })).toMatchObject({ reason: 'daily_cap' });
    expect(claim(almaty('2026-11-12T12:00:00'), 80, { sentTodayToBuyer: 3 }, { perBuyerDailyLimit: 3 })).toMatchObject({ reason: 'buyer_daily_limit' });
  });

  it('a message behind an older held one waits its turn after the day limits and quiet hours', () => {
    const now = almaty('2026-11-11T10:00:00');
    expect(claim(now, 0, { heldAhead: true }, { minGapSeconds: 30 })).toEqual({ ok: false, reason: 'backlog', retryAt: new Date(now.getTime() + 30_000) });
    expect(claim(now, 0, { heldAhead: true })).toEqual({ ok: false, reason: 'backlog', retryAt: new Date(now.getTime() + 1_000) });
    expect(claim(now, 40, { heldAhead: true })).toMatchObject({ reason: 'warmup' });
    expect(claim(almaty('2026-11-11T23:00:00'), 0, { heldAhead: true }, { quietHoursStart: '22:00', quietHoursEnd: '09:00' })).toMatchObject({ reason: 'quiet_hours' });
    expect(claim(now, 0, { heldAhead: false }).ok).toBe(true);
  });
});

describe('plans and drain estimates during the warm-up', () => {
  it('plans no more than each day allows, in order, the surplus on the following days', () => {
    const s = sender({ minGapSeconds: 60, maxGapSeconds: 60, warmupStart: 2, warmupDays: 3 });
    const slots = planSlots(10, almaty('2026-11-10T18:00:00'), s, () => 0);
    const perDay = new Map<string, number>();
    for (const t of slots) {
      const day = new Date(t.getTime() + 5 * 3_600_000).toISOString().slice(0, 10);
      perDay.set(day, (perDay.get(day) ?? 0) + 1);
    }
    // 2, then 4, then 8 allowed; 10 messages: 2 + 4 + 4.
    expect([...perDay]).toEqual([['2026-11-10', 2], ['2026-11-11', 4], ['2026-11-12', 4]]);
    expect(slots.map((t) => t.getTime())).toEqual([...slots.map((t) => t.getTime())].sort((a, b) => a - b));
    expect(slots[2]!.toISOString()).toBe(almaty('2026-11-11T00:00:00').toISOString());
  });

  it('counts what the first day already sent, and the estimate waits for the next days', () => {
    const s = sender({ minGapSeconds: 60, maxGapSeconds: 60 });
    const now = almaty('2026-11-10T18:00:00');
    expect(planSlots(1, now, s, () => 0, { sentToday: 20 })[0]!.toISOString()).toBe(almaty('2026-11-11T00:00:00').toISOString());
    const warm = estimateDrain(30, s, now, { sentToday: 20 });
    const cold = estimateDrain(30, sender({ minGapSeconds: 60, maxGapSeconds: 60, warmupDays: 0 }), now, { sentToday: 20 });
    expect(warm.finishesAt!.getTime()).toBeGreaterThan(almaty('2026-11-11T00:00:00').getTime());
    expect(cold.finishesAt!.getTime()).toBeLessThan(almaty('2026-11-11T00:00:00').getTime());
  });
});
