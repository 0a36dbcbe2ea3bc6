/**
 * Send-slot rules for one WhatsApp sender (docs/architecture.md "Invariants" — pacing is enforced at the
 * moment of sending). Pure: the clock, the counters and the randomness are all passed in, because
 * the claim activity applies these rules inside its `FOR UPDATE` transaction while workflows use
 * the same rules to show planned (`scheduled`) times. No I/O, no Date.now(), no Math.random().
 *
 * Local times ("quiet hours 22:00–09:00", "today") are read in the sender's IANA timezone with
 * `Intl`, so zones with or without DST, and zones whose offset changed (Asia/Almaty went from
 * UTC+6 to UTC+5 in March 2024), come out right without a timezone library.
 */

/** A session status older than this counts as unknown: the caller asks WAHA before sending. */
export const SESSION_STATUS_MAX_AGE_MS = 3 * 60_000;

/** `HH:MM`, 00:00–23:59 — what the admin form and the database hold for quiet hours. */
export const CLOCK_TIME_PATTERN = /^([01]\d|2[0-3]):([0-5]\d)$/;

const DAY_MS = 86_400_000;

/** The sender settings the rules read (columns of `senders`). */
export interface PacingRules {
  minGapSeconds: number;
  maxGapSeconds: number;
  dailyCap: number | null;
  perBuyerDailyLimit: number | null;
  quietHoursStart: string | null;
  quietHoursEnd: string | null;
  timezone: string;
  /** Warm-up of a newly paired number (see warmupState below); absent = no warm-up. */
  pairedAt?: Date | null;
  warmupEndedAt?: Date | null;
  warmupDays?: number;
  warmupStart?: number;
  warmupGrowthPercent?: number;
}

export interface SenderPacingState extends PacingRules {
  nextAllowedAt: Date;
  /** WAHA session status as last recorded (`UNKNOWN`, `STOPPED`, …, `WORKING`). */
  sessionStatus: string;
  sessionStatusAt: Date | null;
  /** Set while WhatsApp acknowledges none of the number's recent sends (lib/notifications/receipts.ts). */
  acksStalledSince?: Date | null;
}

export interface ClaimInput {
  now: Date;
  sender: SenderPacingState;
  sendingPaused: boolean;
  /** Messages this sender sent since `localDayStart(now, sender.timezone)`. */
  sentToday: number;
  /** Messages this sender sent to this buyer since the same local day start. */
  sentTodayToBuyer: number;
  /** Uniform in [0, 1): picks the gap before the next message. */
  random: () => number;
  /**
   * An older message of this sender, held back by a day limit (cap or warm-up), is still waiting:
   * the backlog leaves oldest first, so this one waits its turn.
   */
  heldAhead?: boolean;
}

export type ClaimRefusal =
  | 'paused'
  | 'gap'
  | 'quiet_hours'
  | 'daily_cap'
  | 'warmup'
  | 'backlog'
  | 'buyer_daily_limit'
  | 'session_not_working'
  | 'session_unknown'
  | 'acks_stalled';

export type ClaimDecision =
  | { ok: true; nextAllowedAt: Date }
  | {
      ok: false;
      reason: ClaimRefusal;
      /**
       * The earliest instant at which every time-based rule could pass (gap, quiet hours, caps
       * combined), or null when a signal or a status poll decides (paused, session).
       */
      retryAt: Date | null;
    };

/**
 * May this sender send one message now? On success the caller stores `nextAllowedAt` in the same
 * transaction and sends.
 *
 * The checks run in this order: paused, per-buyer limit, daily cap, warm-up allowance, quiet hours,
 * gap, the held backlog, session. Time-based refusals come before the session check on purpose: at
 * night the answer is "wait until 09:00" without asking WAHA for a status that will be stale again
 * by morning.
 */
export function decideClaim(input: ClaimInput): ClaimDecision {
  const { now, sender } = input;
  if (input.sendingPaused) return { ok: false, reason: 'paused', retryAt: null };

  const buyerLimitHit = sender.perBuyerDailyLimit !== null && input.sentTodayToBuyer >= sender.perBuyerDailyLimit;
  const capHit = sender.dailyCap !== null && input.sentToday >= sender.dailyCap;
  const warmup = warmupState(sender, now);
  const warmupHit = warmup.active && input.sentToday >= warmup.allowance;
  const quiet = isQuietHours(now, sender.quietHoursStart, sender.quietHoursEnd, sender.timezone);
  const gapHit = now.getTime() < sender.nextAllowedAt.getTime();

  const timeReason: ClaimRefusal | null = buyerLimitHit
    ? 'buyer_daily_limit'
    : capHit
      ? 'daily_cap'
      : warmupHit
        ? 'warmup'
        : quiet
          ? 'quiet_hours'
          : gapHit
            ? 'gap'
            : null;
  if (timeReason !== null) {
    return {
      ok: false,
      reason: timeReason,
      retryAt: nextSendableAt(now, sender, { dayBlocked: buyerLimitHit || capHit || warmupHit }),
    };
  }
  if (input.heldAhead) {
    // The older message claims within moments of its own wake-up; look again after the shortest gap.
    const after = new Date(now.getTime() + Math.max(1_000, sender.minGapSeconds * 1000));
    return { ok: false, reason: 'backlog', retryAt: nextSendableAt(after, sender) };
  }

  const session = sessionState(sender.sessionStatus, sender.sessionStatusAt, now);
  if (session === 'unknown') return { ok: false, reason: 'session_unknown', retryAt: null };
  if (session === 'not_working') return { ok: false, reason: 'session_not_working', retryAt: null };
  // Sending on into a session whose receipts stopped would pile up messages nobody can account
  // for; the hold ends when an ack returns or the session restarts.
  if (sender.acksStalledSince) return { ok: false, reason: 'acks_stalled', retryAt: null };

  return { ok: true, nextAllowedAt: new Date(now.getTime() + randomGapMs(sender, input.random)) };
}

/**
 * `working` only for a WORKING status recorded less than SESSION_STATUS_MAX_AGE_MS ago; a stale or
 * missing status is `unknown` (WAHA sends no event for a session that was already WORKING).
 */
export function sessionState(
  status: string,
  statusAt: Date | null,
  now: Date,
): 'working' | 'not_working' | 'unknown' {
  if (status === 'UNKNOWN' || statusAt === null) return 'unknown';
  if (now.getTime() - statusAt.getTime() > SESSION_STATUS_MAX_AGE_MS) return 'unknown';
  return status === 'WORKING' ? 'working' : 'not_working';
}

/**
 * The earliest instant ≥ now that is outside quiet hours and not before `nextAllowedAt`; with
 * `dayBlocked` (a daily cap was reached) it is also not before the next local midnight.
 */
export function nextSendableAt(
  now: Date,
  sender: Pick<PacingRules, 'quietHoursStart' | 'quietHoursEnd' | 'timezone'> & { nextAllowedAt?: Date },
  opts: { dayBlocked?: boolean } = {},
): Date {
  let t = opts.dayBlocked ? nextLocalDayStart(now, sender.timezone) : now;
  // Two rules can push each other (the gap ends inside quiet hours); a few rounds settle it.
  for (let round = 0; round < 4; round++) {
    let moved = false;
    if (sender.nextAllowedAt && t.getTime() < sender.nextAllowedAt.getTime()) {
      t = sender.nextAllowedAt;
      moved = true;
    }
    if (isQuietHours(t, sender.quietHoursStart, sender.quietHoursEnd, sender.timezone)) {
      t = nextQuietEnd(t, sender.quietHoursStart, sender.quietHoursEnd, sender.timezone) ?? t;
      moved = true;
    }
    if (!moved) break;
  }
  return t;
}

/** A gap in [minGapSeconds, maxGapSeconds], in whole milliseconds. */
export function randomGapMs(rules: Pick<PacingRules, 'minGapSeconds' | 'maxGapSeconds'>, random: () => number): number {
  const min = Math.max(0, rules.minGapSeconds);
  const max = Math.max(min, rules.maxGapSeconds);
  const r = random();
  // A misbehaving source must not produce a gap outside the configured bounds.
  const u = Number.isFinite(r) ? Math.min(1, Math.max(0, r)) : 0;
  return Math.round((min + u * (max - min)) * 1000);
}

/** Minutes after midnight for `HH:MM`; throws RangeError for anything else. */
export function parseClockTime(value: string): number {
  const m = CLOCK_TIME_PATTERN.exec(value);
  if (!m) throw new RangeError(`Invalid time "${value}": expected HH:MM between 00:00 and 23:59`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/**
 * Whether `now` falls in the quiet window [start, end) of local time in `timezone`. A window whose
 * start is later than its end crosses midnight (22:00–09:00). Null on either side, or start equal
 * to end, means no quiet hours — an empty window, not a 24-hour one, so a sender can never be
 * silenced forever by a typo.
 */
export function isQuietHours(now: Date, start: string | null, end: string | null, timezone: string): boolean {
  if (start === null || end === null) return false;
  const s = parseClockTime(start);
  const e = parseClockTime(end);
  if (s === e) return false;
  const p = localParts(now.getTime(), timezone);
  const minute = p.hour * 60 + p.minute;
  return s < e ? minute >= s && minute < e : minute >= s || minute < e;
}

/**
 * The first instant strictly after `now` at which local time in `timezone` reads `end` — the end of
 * the current quiet window when `now` is inside one. Null without quiet hours.
 */
export function nextQuietEnd(now: Date, start: string | null, end: string | null, timezone: string): Date | null {
  if (start === null || end === null || parseClockTime(start) === parseClockTime(end)) return null;
  const endMinute = parseClockTime(end);
  const p = localParts(now.getTime(), timezone);
  const h = Math.floor(endMinute / 60);
  const m = endMinute % 60;
  let candidate = localToUtc(p.year, p.month, p.day, h, m, timezone);
  for (let dayOffset = 1; candidate <= now.getTime() && dayOffset <= 2; dayOffset++) {
    candidate = localToUtc(p.year, p.month, p.day + dayOffset, h, m, timezone);
  }
  return new Date(candidate);
}

/** Local midnight that starts the day containing `now`: where "sent today" is counted from. */
export function localDayStart(now: Date, timezone: string): Date {
  const p = localParts(now.getTime(), timezone);
  return new Date(localToUtc(p.year, p.month, p.day, 0, 0, timezone));
}

/** Local midnight that starts the next day: when the daily caps reset. */
export function nextLocalDayStart(now: Date, timezone: string): Date {
  const p = localParts(now.getTime(), timezone);
  return new Date(localToUtc(p.year, p.month, p.day + 1, 0, 0, timezone));
}

/** Local midnight that starts the calendar month containing `now`, and the one that starts the next. */
export function localMonthBounds(now: Date, timezone: string): { start: Date; end: Date } {
  const p = localParts(now.getTime(), timezone);
  return { start: new Date(localToUtc(p.year, p.month, 1, 0, 0, timezone)), end: new Date(localToUtc(p.year, p.month + 1, 1, 0, 0, timezone)) };
}

/**
 * Planned send times for `count` messages queued on one sender, for the admin's `scheduled` view:
 * consecutive slots are at least the min gap apart (each is the previous plus a random gap, or
 * later), none falls in quiet hours, and no local day gets more than the daily cap (`sentToday`
 * counts what the first day already used). Only a plan: the claim decides at send time.
 */
export function planSlots(
  count: number,
  fromTime: Date,
  sender: PacingRules & { nextAllowedAt?: Date },
  random: () => number,
  opts: { sentToday?: number } = {},
): Date[] {
  const slots: Date[] = [];
  if (count <= 0) return slots;
  let t = nextSendableAt(fromTime, sender);
  let dayEnd = nextLocalDayStart(t, sender.timezone).getTime();
  let usedToday = localDayStart(fromTime, sender.timezone).getTime() === localDayStart(t, sender.timezone).getTime()
    ? Math.max(0, opts.sentToday ?? 0)
    : 0;
  while (slots.length < count) {
    if (t.getTime() >= dayEnd) {
      dayEnd = nextLocalDayStart(t, sender.timezone).getTime();
      usedToday = 0;
    }
    const limit = dayLimit(sender, t);
    if (limit !== null && usedToday >= limit) {
      t = nextSendableAt(new Date(dayEnd), sender);
      continue;
    }
    slots.push(t);
    usedToday++;
    const afterGap = new Date(t.getTime() + randomGapMs(sender, random));
    t = nextSendableAt(afterGap, { ...sender, nextAllowedAt: undefined });
  }
  return slots;
}

/** The most messages the local day of `at` allows: the daily cap or the warm-up allowance, whichever is lower. */
export function dayLimit(sender: PacingRules, at: Date): number | null {
  const warmup = warmupState(sender, at);
  if (!warmup.active) return sender.dailyCap;
  return sender.dailyCap === null ? warmup.allowance : Math.min(sender.dailyCap, warmup.allowance);
}

// ---------------------------------------------------------------------------------------------
// Warm-up of a newly paired number. WhatsApp restricts numbers that start sending many messages
// right after being linked; a new number therefore sends a growing daily allowance for its first
// local days (day 1 = the day it was paired), like a daily cap that rises each day.

export type WarmupRules = Pick<PacingRules, 'timezone' | 'pairedAt' | 'warmupEndedAt' | 'warmupDays' | 'warmupStart' | 'warmupGrowthPercent'>;

export type WarmupState =
  | { active: false }
  | {
      active: true;
      /** 1 on the local day of pairing. */
      day: number;
      days: number;
      /** Messages this local day may carry. */
      allowance: number;
      /** Local midnight after the last warm-up day: from then on only the daily cap applies. */
      endsAt: Date;
    };

/** Upper bound of an allowance, so a long steep schedule cannot overflow into nonsense. */
const MAX_ALLOWANCE = 1_000_000;

/** The allowance of warm-up day `day` (1-based): start × (1 + growth %)^(day − 1), whole messages. */
export function warmupAllowance(rules: Pick<WarmupRules, 'warmupStart' | 'warmupGrowthPercent'>, day: number): number {
  const start = Math.max(1, rules.warmupStart ?? 1);
  const factor = 1 + Math.max(0, rules.warmupGrowthPercent ?? 0) / 100;
  return Math.min(MAX_ALLOWANCE, Math.floor(start * factor ** Math.max(0, day - 1)));
}

/**
 * Whether the number is warming up at `now`, which day it is and what the day allows. Not warming
 * up: never seen paired, no warm-up configured, ended early by an admin, or past its last day.
 * Days are local calendar days in the sender's timezone, so a number paired at 23:00 starts its
 * second day an hour later — the allowance is per local day, like the daily cap.
 */
export function warmupState(rules: WarmupRules, now: Date): WarmupState {
  const days = rules.warmupDays ?? 0;
  if (!rules.pairedAt || days <= 0) return { active: false };
  if (rules.warmupEndedAt && rules.warmupEndedAt.getTime() <= now.getTime()) return { active: false };
  const day = localDayNumber(now, rules.timezone) - localDayNumber(rules.pairedAt, rules.timezone) + 1;
  if (day > days) return { active: false };
  const endsAt = new Date(localToUtcDay(localDayNumber(rules.pairedAt, rules.timezone) + days, rules.timezone));
  // A clock behind the pairing time (day < 1) still counts as the first day.
  const today = Math.max(1, day);
  return { active: true, day: today, days, allowance: warmupAllowance(rules, today), endsAt };
}

/** Above this many messages the drain estimate is extrapolated instead of simulated slot by slot. */
export const DRAIN_SIMULATION_LIMIT = 10_000;

export interface DrainEstimate {
  /** When the last queued message is expected to go out; null for an empty queue. */
  finishesAt: Date | null;
  durationMs: number;
  /** Steady rate inside sending hours at the mean gap, ignoring caps. */
  messagesPerHour: number;
}

/**
 * How long a backlog of `queueDepth` messages takes on this sender at the mean gap, honouring quiet
 * hours and the daily cap. Assumes sending is possible (not paused, session WORKING): the dashboard
 * shows those conditions separately.
 */
export function estimateDrain(
  queueDepth: number,
  sender: PacingRules & { nextAllowedAt?: Date },
  now: Date,
  opts: { sentToday?: number } = {},
): DrainEstimate {
  const meanGapSeconds = (Math.max(0, sender.minGapSeconds) + Math.max(sender.minGapSeconds, sender.maxGapSeconds)) / 2;
  const messagesPerHour = meanGapSeconds > 0 ? 3600 / meanGapSeconds : Number.POSITIVE_INFINITY;
  if (queueDepth <= 0) return { finishesAt: null, durationMs: 0, messagesPerHour };
  const simulated = Math.min(queueDepth, DRAIN_SIMULATION_LIMIT);
  const slots = planSlots(simulated, now, sender, () => 0.5, opts);
  const last = slots[slots.length - 1] ?? now;
  let durationMs = Math.max(0, last.getTime() - now.getTime());
  if (simulated < queueDepth) durationMs = Math.round((durationMs * queueDepth) / simulated);
  return { finishesAt: new Date(now.getTime() + durationMs), durationMs, messagesPerHour };
}

/** Whether `timezone` is an IANA zone this runtime knows (for validating settings forms). */
export function isValidTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Local time arithmetic with Intl only.

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

// Formatters are costly to build and planSlots calls this per slot.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timezone, f);
  }
  return f;
}

function localParts(epochMs: number, timezone: string): LocalParts {
  const out: LocalParts = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatterFor(timezone).formatToParts(epochMs)) {
    if (part.type in out) out[part.type as keyof LocalParts] = Number(part.value);
  }
  return out;
}

/** Days since 1970-01-01 of the local calendar date of `at` in `timezone`. */
function localDayNumber(at: Date, timezone: string): number {
  const p = localParts(at.getTime(), timezone);
  return Math.round(Date.UTC(p.year, p.month - 1, p.day) / DAY_MS);
}

/** Local midnight that starts local day number `dayNumber`, as epoch ms. */
function localToUtcDay(dayNumber: number, timezone: string): number {
  const d = new Date(dayNumber * DAY_MS);
  return localToUtc(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), 0, 0, timezone);
}

/** Local wall time minus UTC at `epochMs`, in ms. */
function offsetMs(epochMs: number, timezone: string): number {
  const p = localParts(epochMs, timezone);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wall - Math.floor(epochMs / 1000) * 1000;
}

/**
 * The UTC instant of a local wall time (`day` may overflow into the next month). Ambiguous times
 * (clocks turned back) give the earlier instant; times skipped by a DST jump give the instant that
 * reads as the same distance past the jump — the "compatible" rule of JS Temporal.
 */
function localToUtc(year: number, month: number, day: number, hour: number, minute: number, timezone: string): number {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  // Offsets a day either side bracket at most one transition, which covers every real zone.
  const before = offsetMs(wall - DAY_MS, timezone);
  const after = offsetMs(wall + DAY_MS, timezone);
  const candidates = [wall - before, wall - after].filter((c) => offsetMs(c, timezone) === wall - c);
  if (candidates.length > 0) return Math.min(...candidates);
  return wall - before;
}
