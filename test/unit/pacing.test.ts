import { describe, expect, it } from 'vitest';
import {
  SESSION_STATUS_MAX_AGE_MS,
  decideClaim,
  estimateDrain,
  isQuietHours,
  localDayStart,
  nextLocalDayStart,
  nextQuietEnd,
  parseClockTime,
  planSlots,
  type ClaimInput,
  type SenderPacingState,
} from '../../lib/pacing/pacing.ts';

const TZ = 'Asia/Almaty';
/** An Almaty wall time (UTC+5 since March 2024), written independently of the code under test. */
const almaty = (local: string) => new Date(`${local}+05:00`);
const minutes = (n: number) => n * 60_000;

/** Minutes after local midnight in UTC+5, computed by plain arithmetic rather than Intl. */
const almatyMinuteOfDay = (d: Date) => (((Math.floor(d.getTime() / 60_000) + 300) % 1440) + 1440) % 1440;
const almatyDayKey = (d: Date) => Math.floor((d.getTime() + 5 * 3_600_000) / 86_400_000);

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sender(over: Partial<SenderPacingState> = {}): SenderPacingState {
  return {
    minGapSeconds: 20,
    maxGapSeconds: 60,
    dailyCap: 500,
    perBuyerDailyLimit: 3,
    quietHoursStart: '22:00',
    quietHoursEnd: '09:00',
    timezone: TZ,
    nextAllowedAt: new Date(0),
    sessionStatus: 'WORKING',
    sessionStatusAt: null,
    ...over,
  };
}

function claim(now: Date, over: Partial<Omit<ClaimInput, 'now' | 'sender'>> & { sender?: Partial<SenderPacingState> } = {}) {
  const { sender: s, ...rest } = over;
  return decideClaim({
    now,
    // A fresh WORKING status unless the test says otherwise.
    sender: sender({ sessionStatusAt: new Date(now.getTime() - 1000), ...s }),
    sendingPaused: false,
    sentToday: 0,
    sentTodayToBuyer: 0,
    random: () => 0.5,
    ...rest,
  });
}

describe('quiet hours 22:00–09:00 in Asia/Almaty', () => {
  const cases: [string, boolean][] = [
    ['2025-06-14T12:00:00', false],
    ['2025-06-14T21:59:00', false],
    ['2025-06-14T21:59:59', false],
    ['2025-06-14T22:00:00', true],
    ['2025-06-14T23:59:59', true],
    ['2025-06-15T00:00:00', true],
    ['2025-06-15T08:59:00', true],
    ['2025-06-15T08:59:59', true],
    ['2025-06-15T09:00:00', false],
  ];
  it.each(cases)('%s local → quiet=%s', (local, quiet) => {
    expect(isQuietHours(almaty(local), '22:00', '09:00', TZ)).toBe(quiet);
  });

  it('uses the local clock, not UTC (22:00 Almaty is 17:00 UTC)', () => {
    expect(isQuietHours(new Date('2025-06-14T17:00:00Z'), '22:00', '09:00', TZ)).toBe(true);
    expect(isQuietHours(new Date('2025-06-14T16:59:00Z'), '22:00', '09:00', TZ)).toBe(false);
    // 23:00 UTC is 04:00 next day in Almaty: still quiet; 04:00 UTC is 09:00: not quiet.
    expect(isQuietHours(new Date('2025-06-14T23:00:00Z'), '22:00', '09:00', TZ)).toBe(true);
    expect(isQuietHours(new Date('2025-06-15T04:00:00Z'), '22:00', '09:00', TZ)).toBe(false);
  });

  it('a same-day window and the "no quiet hours" cases', () => {
    expect(isQuietHours(almaty('2025-06-14T13:30:00'), '13:00', '14:00', TZ)).toBe(true);
    expect(isQuietHours(almaty('2025-06-14T14:00:00'), '13:00', '14:00', TZ)).toBe(false);
    expect(isQuietHours(almaty('2025-06-14T12:59:00'), '13:00', '14:00', TZ)).toBe(false);
    expect(isQuietHours(almaty('2025-06-14T23:00:00'), null, '09:00', TZ)).toBe(false);
    expect(isQuietHours(almaty('2025-06-14T23:00:00'), '22:00', null, TZ)).toBe(false);
    expect(isQuietHours(almaty('2025-06-14T23:00:00'), '09:00', '09:00', TZ)).toBe(false);
  });

  it('rejects malformed times', () => {
    expect(() => parseClockTime('24:00')).toThrow(RangeError);
    expect(() => parseClockTime('9:00')).toThrow(RangeError);
    expect(() => isQuietHours(new Date(), '22:60', '09:00', TZ)).toThrow(RangeError);
    expect(parseClockTime('09:30')).toBe(570);
  });

  it('nextQuietEnd is the coming 09:00 local, before or after midnight', () => {
    expect(nextQuietEnd(almaty('2025-06-14T22:00:00'), '22:00', '09:00', TZ)).toEqual(almaty('2025-06-15T09:00:00'));
    expect(nextQuietEnd(almaty('2025-06-14T23:30:00'), '22:00', '09:00', TZ)).toEqual(almaty('2025-06-15T09:00:00'));
    expect(nextQuietEnd(almaty('2025-06-15T03:00:00'), '22:00', '09:00', TZ)).toEqual(almaty('2025-06-15T09:00:00'));
    expect(nextQuietEnd(almaty('2025-06-15T08:59:59'), '22:00', '09:00', TZ)).toEqual(almaty('2025-06-15T09:00:00'));
    // Month and year boundaries.
    expect(nextQuietEnd(almaty('2025-12-31T23:00:00'), '22:00', '09:00', TZ)).toEqual(almaty('2026-01-01T09:00:00'));
    expect(nextQuietEnd(almaty('2025-06-14T23:00:00'), null, null, TZ)).toBeNull();
  });

  it('follows real offsets: Almaty was UTC+6 before March 2024, Berlin has DST', () => {
    expect(nextQuietEnd(new Date('2024-01-10T23:00:00+06:00'), '22:00', '09:00', TZ)).toEqual(
      new Date('2024-01-11T09:00:00+06:00'),
    );
    expect(isQuietHours(new Date('2024-01-10T21:59:00+06:00'), '22:00', '09:00', TZ)).toBe(false);
    // The night clocks jump from 02:00 to 03:00: 09:00 next morning is UTC+2, not UTC+1.
    expect(nextQuietEnd(new Date('2025-03-29T23:00:00+01:00'), '22:00', '09:00', 'Europe/Berlin')).toEqual(
      new Date('2025-03-30T09:00:00+02:00'),
    );
    expect(isQuietHours(new Date('2025-10-26T08:30:00+01:00'), '22:00', '09:00', 'Europe/Berlin')).toBe(true);
  });

  it('a quiet end that happens twice (clocks back) is the first; one that is skipped is after the jump', () => {
    // Berlin, 26 Oct 2025: 02:00–03:00 happens at +02:00 and again at +01:00.
    expect(nextQuietEnd(new Date('2025-10-26T00:00:00+02:00'), '22:00', '02:30', 'Europe/Berlin')).toEqual(
      new Date('2025-10-26T02:30:00+02:00'),
    );
    // Berlin, 30 Mar 2025: 02:30 does not exist; the window ends when the clock reads 03:30.
    expect(nextQuietEnd(new Date('2025-03-30T00:00:00+01:00'), '22:00', '02:30', 'Europe/Berlin')).toEqual(
      new Date('2025-03-30T03:30:00+02:00'),
    );
  });

  it('localDayStart / nextLocalDayStart are Almaty midnights', () => {
    // 00:30 on the 14th in Almaty is still the 13th in UTC.
    const now = new Date('2025-06-13T19:30:00Z');
    expect(localDayStart(now, TZ)).toEqual(almaty('2025-06-14T00:00:00'));
    expect(nextLocalDayStart(now, TZ)).toEqual(almaty('2025-06-15T00:00:00'));
    expect(localDayStart(almaty('2025-06-14T23:59:59'), TZ)).toEqual(almaty('2025-06-14T00:00:00'));
  });
});

describe('decideClaim', () => {
  const noon = almaty('2025-06-14T12:00:00');

  it('grants a slot and sets the next one min..max seconds later', () => {
    const atMin = claim(noon, { random: () => 0 });
    expect(atMin).toEqual({ ok: true, nextAllowedAt: new Date(noon.getTime() + 20_000) });
    const atHalf = claim(noon, { random: () => 0.5 });
    expect(atHalf).toEqual({ ok: true, nextAllowedAt: new Date(noon.getTime() + 40_000) });
  });

  it('gap jitter stays within [min, max] and is not a fixed rhythm', () => {
    const random = seeded(42);
    const gaps = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const d = claim(noon, { random });
      if (!d.ok) throw new Error(`unexpected refusal ${d.reason}`);
      const gap = d.nextAllowedAt.getTime() - noon.getTime();
      expect(gap).toBeGreaterThanOrEqual(20_000);
      expect(gap).toBeLessThanOrEqual(60_000);
      gaps.add(gap);
    }
    expect(gaps.size).toBeGreaterThan(1000);
    // Out-of-range randomness is clamped rather than trusted.
    const wild = claim(noon, { random: () => 7 });
    expect(wild.ok && wild.nextAllowedAt.getTime() - noon.getTime()).toBe(60_000);
  });

  it('refuses before next_allowed_at and says when to come back', () => {
    const nextAllowedAt = new Date(noon.getTime() + 15_000);
    expect(claim(noon, { sender: { nextAllowedAt } })).toEqual({ ok: false, reason: 'gap', retryAt: nextAllowedAt });
    expect(claim(nextAllowedAt, { sender: { nextAllowedAt } }).ok).toBe(true);
  });

  it('a gap that ends inside quiet hours retries at the end of quiet hours', () => {
    const now = almaty('2025-06-14T21:59:40');
    const d = claim(now, { sender: { nextAllowedAt: almaty('2025-06-14T22:00:10') } });
    expect(d).toEqual({ ok: false, reason: 'gap', retryAt: almaty('2025-06-15T09:00:00') });
  });

  it.each([
    ['2025-06-14T21:59:00', true, null],
    ['2025-06-14T22:00:00', false, '2025-06-15T09:00:00'],
    ['2025-06-15T03:00:00', false, '2025-06-15T09:00:00'],
    ['2025-06-15T08:59:00', false, '2025-06-15T09:00:00'],
    ['2025-06-15T09:00:00', true, null],
  ])('quiet hours at %s: ok=%s, retry %s', (local, ok, retry) => {
    const d = claim(almaty(local));
    expect(d.ok).toBe(ok);
    if (!d.ok) expect(d).toEqual({ ok: false, reason: 'quiet_hours', retryAt: almaty(retry ?? '') });
  });

  it('paused wins over everything and waits for a signal', () => {
    expect(claim(almaty('2025-06-14T23:00:00'), { sendingPaused: true })).toEqual({
      ok: false,
      reason: 'paused',
      retryAt: null,
    });
  });

  it('the daily cap stops at N and resumes on the next local day', () => {
    const cap = 5;
    const s = { dailyCap: cap, quietHoursStart: null, quietHoursEnd: null, perBuyerDailyLimit: null };
    const sent: Date[] = [];
    let now = almaty('2025-06-14T20:00:00');
    let nextAllowedAt = new Date(0);
    const sentSince = (from: Date) => sent.filter((t) => t.getTime() >= from.getTime()).length;
    // Our own "today" bound, so the counting is independent of localDayStart.
    const todayStart = (d: Date) => new Date(almatyDayKey(d) * 86_400_000 - 5 * 3_600_000);

    let refusal: ReturnType<typeof decideClaim> | null = null;
    for (let i = 0; i < 20 && refusal === null; i++) {
      const d = claim(now, { sender: { ...s, nextAllowedAt }, sentToday: sentSince(todayStart(now)) });
      if (d.ok) {
        sent.push(now);
        nextAllowedAt = d.nextAllowedAt;
        now = d.nextAllowedAt;
      } else {
        refusal = d;
      }
    }
    expect(sent).toHaveLength(cap);
    expect(refusal).toEqual({ ok: false, reason: 'daily_cap', retryAt: almaty('2025-06-15T00:00:00') });

    // Just before midnight it is still refused; at local midnight the new day's count is 0.
    const beforeMidnight = almaty('2025-06-14T23:59:59');
    expect(claim(beforeMidnight, { sender: s, sentToday: sentSince(todayStart(beforeMidnight)) }).ok).toBe(false);
    const midnight = almaty('2025-06-15T00:00:00');
    expect(claim(midnight, { sender: s, sentToday: sentSince(todayStart(midnight)) }).ok).toBe(true);
  });

  it('a cap reached in the evening retries when quiet hours end the next morning', () => {
    const d = claim(almaty('2025-06-14T20:00:00'), { sentToday: 500 });
    expect(d).toEqual({ ok: false, reason: 'daily_cap', retryAt: almaty('2025-06-15T09:00:00') });
  });

  it('the per-buyer daily limit', () => {
    expect(claim(almaty('2025-06-14T12:00:00'), { sentTodayToBuyer: 2 }).ok).toBe(true);
    expect(claim(almaty('2025-06-14T12:00:00'), { sentTodayToBuyer: 3 })).toEqual({
      ok: false,
      reason: 'buyer_daily_limit',
      retryAt: almaty('2025-06-15T09:00:00'),
    });
    expect(claim(almaty('2025-06-14T12:00:00'), { sentTodayToBuyer: 99, sender: { perBuyerDailyLimit: null } }).ok).toBe(
      true,
    );
  });

  it('session: fresh WORKING sends; stale, missing or UNKNOWN asks WAHA; other statuses wait', () => {
    const stale = new Date(noon.getTime() - SESSION_STATUS_MAX_AGE_MS - 1);
    const edge = new Date(noon.getTime() - SESSION_STATUS_MAX_AGE_MS);
    expect(SESSION_STATUS_MAX_AGE_MS).toBeGreaterThanOrEqual(60_000);
    expect(SESSION_STATUS_MAX_AGE_MS).toBeLessThanOrEqual(10 * 60_000);
    expect(claim(noon, { sender: { sessionStatusAt: edge } }).ok).toBe(true);
    expect(claim(noon, { sender: { sessionStatusAt: stale } })).toEqual({ ok: false, reason: 'session_unknown', retryAt: null });
    expect(claim(noon, { sender: { sessionStatusAt: null } })).toEqual({ ok: false, reason: 'session_unknown', retryAt: null });
    expect(claim(noon, { sender: { sessionStatus: 'UNKNOWN' } })).toEqual({ ok: false, reason: 'session_unknown', retryAt: null });
    for (const status of ['SCAN_QR_CODE', 'STOPPED', 'STARTING', 'FAILED']) {
      expect(claim(noon, { sender: { sessionStatus: status } })).toEqual({
        ok: false,
        reason: 'session_not_working',
        retryAt: null,
      });
    }
  });

  it('a number whose receipts stopped is held, after the time rules, until they return', () => {
    expect(claim(noon, { sender: { acksStalledSince: new Date(noon.getTime() - 60_000) } })).toEqual({ ok: false, reason: 'acks_stalled', retryAt: null });
    expect(claim(noon, { sender: { acksStalledSince: null } }).ok).toBe(true);
    // Quiet hours still answer first, with a time to come back at.
    const night = almaty('2025-06-14T23:00:00');
    expect(claim(night, { sender: { acksStalledSince: noon } })).toMatchObject({ ok: false, reason: 'quiet_hours' });
  });

  it('at night a stale session is not worth a WAHA call: quiet hours answer first', () => {
    const night = almaty('2025-06-14T23:00:00');
    const d = claim(night, { sender: { sessionStatusAt: null } });
    expect(d).toEqual({ ok: false, reason: 'quiet_hours', retryAt: almaty('2025-06-15T09:00:00') });
  });
});

describe('planSlots', () => {
  const s = sender({ nextAllowedAt: new Date(0) });

  it('never closer than the min gap, never in quiet hours, starting at the first allowed time', () => {
    const from = almaty('2025-06-14T20:30:00');
    const slots = planSlots(400, from, s, seeded(7));
    expect(slots).toHaveLength(400);
    expect(slots[0]).toEqual(from);
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as Date;
      const minute = almatyMinuteOfDay(slot);
      expect(minute >= 22 * 60 || minute < 9 * 60, `slot ${slot.toISOString()} in quiet hours`).toBe(false);
      if (i === 0) continue;
      const gap = slot.getTime() - (slots[i - 1] as Date).getTime();
      expect(gap).toBeGreaterThanOrEqual(20_000);
      // Either a normal jittered gap, or a jump to exactly 09:00 after the night.
      if (gap > 60_000) expect(minute).toBe(9 * 60);
    }
    // 90 minutes at ≥20 s apart cannot hold 400 slots: some must be the next morning.
    expect(slots.some((t) => almatyDayKey(t) === almatyDayKey(almaty('2025-06-15T12:00:00')))).toBe(true);
  });

  it('starts no earlier than next_allowed_at', () => {
    const from = almaty('2025-06-14T12:00:00');
    const later = almaty('2025-06-14T12:05:00');
    expect(planSlots(1, from, { ...s, nextAllowedAt: later }, () => 0)[0]).toEqual(later);
  });

  it('puts at most dailyCap slots on one local day, counting what was sent today', () => {
    const capped = { ...s, dailyCap: 10, quietHoursStart: null, quietHoursEnd: null };
    const slots = planSlots(25, almaty('2025-06-14T23:50:00'), capped, seeded(3), { sentToday: 8 });
    const perDay = new Map<number, number>();
    for (const t of slots) perDay.set(almatyDayKey(t), (perDay.get(almatyDayKey(t)) ?? 0) + 1);
    expect([...perDay.values()]).toEqual([2, 10, 10, 3]);
    expect(slots[2]).toEqual(almaty('2025-06-15T00:00:00'));
  });

  it('zero or negative count plans nothing', () => {
    expect(planSlots(0, new Date(), s, Math.random)).toEqual([]);
  });
});

describe('estimateDrain', () => {
  const base = sender({ minGapSeconds: 20, maxGapSeconds: 40, dailyCap: null, nextAllowedAt: new Date(0) });

  it('an empty queue is done now', () => {
    expect(estimateDrain(0, base, almaty('2025-06-14T12:00:00'))).toMatchObject({ finishesAt: null, durationMs: 0 });
  });

  it('daytime: (n − 1) mean gaps', () => {
    const now = almaty('2025-06-14T12:00:00');
    const e = estimateDrain(100, base, now);
    expect(e.durationMs).toBe(99 * 30_000);
    expect(e.messagesPerHour).toBe(120);
  });

  it('a backlog that runs into the night resumes at 09:00', () => {
    const now = almaty('2025-06-14T21:00:00');
    // 120 slots fit 21:00–21:59:30 at 30 s; the other 80 start at 09:00.
    const e = estimateDrain(200, base, now);
    expect(e.finishesAt).toEqual(new Date(almaty('2025-06-15T09:00:00').getTime() + 79 * 30_000));
  });

  it('honours the daily cap', () => {
    const now = almaty('2025-06-14T12:00:00');
    const e = estimateDrain(30, { ...base, dailyCap: 20, quietHoursStart: null, quietHoursEnd: null }, now, {
      sentToday: 10,
    });
    // 10 today, 20 tomorrow from midnight.
    expect(e.finishesAt).toEqual(new Date(almaty('2025-06-15T00:00:00').getTime() + 19 * 30_000));
    expect(e.durationMs).toBeGreaterThan(minutes(12 * 60 - 1));
  });
});
