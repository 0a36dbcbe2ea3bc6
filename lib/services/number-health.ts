import { and, eq, isNull, or, gt, sql } from 'drizzle-orm';
import { senders } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import type { Db } from '../db/client.ts';
import { wakeWaiting } from '../notifications/wake.ts';
import { localDayStart, localMonthBounds, warmupState } from '../pacing/pacing.ts';
import { requireStore, type Actor } from './access.ts';
import { recordAudit } from './audit.ts';
import { ConflictError } from './errors.ts';

/**
 * The health of a store's WhatsApp number (the dashboard's "number" card):
 * - the warm-up of a newly paired number (lib/pacing/pacing.ts warmupState; pairing from
 *   lib/waha/pairing.ts), which an admin who knows the number is old may end (audited);
 * - this calendar month's messages to buyers who have never written to the number
 *   (lib/buyers/replies.ts), against the alert threshold (lib/alerts/alerts.ts).
 */

/** Calendar months of the unanswered count are Kazakhstan's (Asia/Almaty), whatever the sender's zone. */
export const UNANSWERED_MONTH_TIMEZONE = 'Asia/Almaty';

export interface NumberHealthView {
  paired_at: string | null;
  warmup:
    | { active: true; day: number; days: number; allowance: number; sent_today: number; ends_at: string }
    | { active: false; ended_early_at: string | null };
  unanswered: { month_start: string; count: number; threshold: number | null };
}

/** Messages this number sent since local midnight, counted as the claim counts them. */
async function sentToday(db: Pick<Db, 'execute'>, sender: typeof senders.$inferSelect, now: Date): Promise<number> {
  const r = await db.execute<{ n: number }>(sql`
    select count(*)::int as n from message_attempts
    where sender_id = ${sender.id} and started_at >= ${localDayStart(now, sender.timezone)} and outcome in ('sending', 'sent', 'unknown')`);
  return r.rows[0]?.n ?? 0;
}

/**
 * Messages sent this calendar month (Asia/Almaty) to buyers who have not written to the number,
 * as of now: a buyer who answers later stops counting, as WhatsApp's own test counts people who
 * never replied. A phone purged for retention no longer counts either.
 */
export async function countUnanswered(db: Pick<Db, 'execute'>, senderId: string, now: Date): Promise<{ monthStart: Date; count: number }> {
  const { start, end } = localMonthBounds(now, UNANSWERED_MONTH_TIMEZONE);
  const r = await db.execute<{ n: number }>(sql`
    select count(*)::int as n from message_attempts a
    where a.sender_id = ${senderId} and a.outcome = 'sent' and a.started_at >= ${start} and a.started_at < ${end} and a.phone is not null
      and not exists (select 1 from buyer_replies r where r.sender_id = a.sender_id and r.phone = a.phone)`);
  return { monthStart: start, count: r.rows[0]?.n ?? 0 };
}

export async function getNumberHealth(ctx: AppContext, actor: Actor, storeId: unknown): Promise<NumberHealthView | null> {
  const store = await requireStore(ctx, actor, storeId);
  if (!store.senderId) return null;
  const [s] = await ctx.db.select().from(senders).where(eq(senders.id, store.senderId));
  if (!s) return null;
  const now = ctx.now();
  const w = warmupState(s, now);
  const unanswered = await countUnanswered(ctx.db, s.id, now);
  return {
    paired_at: s.pairedAt?.toISOString() ?? null,
    warmup: w.active
      ? { active: true, day: w.day, days: w.days, allowance: w.allowance, sent_today: await sentToday(ctx.db, s, now), ends_at: w.endsAt.toISOString() }
      : { active: false, ended_early_at: s.warmupEndedAt && s.pairedAt && s.warmupEndedAt > s.pairedAt ? s.warmupEndedAt.toISOString() : null },
    unanswered: { month_start: unanswered.monthStart.toISOString(), count: unanswered.count, threshold: s.unansweredAlertThreshold },
  };
}

/**
 * "This number is not new": ends the warm-up now, for every store on the number (it belongs to the
 * number, like the daily cap). Audited with the day it was on; the messages it held claim at once.
 */
export async function endWarmup(ctx: AppContext, actor: Actor, storeId: unknown): Promise<void> {
  const store = await requireStore(ctx, actor, storeId);
  if (!store.senderId) throw new ConflictError('settings_missing', 'WhatsApp settings missing');
  const now = ctx.now();
  const ended = await ctx.db.transaction(async (tx) => {
    const [s] = await tx.select().from(senders).where(eq(senders.id, store.senderId!)).for('update');
    if (!s) return false;
    const w = warmupState(s, now);
    if (!w.active) return false;
    await tx.update(senders).set({ warmupEndedAt: now, updatedAt: now })
      .where(and(eq(senders.id, s.id), or(isNull(senders.warmupEndedAt), gt(senders.warmupEndedAt, now))));
    await recordAudit(tx, { storeId: store.id, actor, action: 'whatsapp.warmup_ended', details: { day: w.day, days: w.days, allowance: w.allowance } });
    return true;
  });
  if (ended) await wakeWaiting(ctx, store.senderId);
}
