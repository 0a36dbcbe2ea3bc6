import { sql } from 'drizzle-orm';
import type { AppContext } from '../context.ts';

/**
 * Personal-data retention (docs/architecture.md "Invariants"): after the store's `retention_days`
 * (default 180) a message's phone, chat id, text and WAHA message id (it embeds the chat id) are
 * nulled and `purged_at` set; the attempt row itself stays, so counts, statuses, acks and times
 * — the dashboard and the message log — are unchanged. Orders not seen for as long lose the
 * buyer's name, phone and address from their snapshot. Cached WhatsApp number checks older than
 * the longest retention are deleted (they are a cache: the next message asks again), and so are
 * buyers' LIDs learned as long ago (a LID with its phone is the phone: it goes with it), and the
 * record that a buyer wrote to a number, as long after they last wrote.
 * Opt-outs are kept: forgetting them would message people who asked us to stop.
 *
 * Runs daily from its own Schedule (purgePersonalDataWorkflow); idempotent, in batches, so a first
 * run over a large backlog neither holds long locks nor times out.
 */
export interface PurgeResult {
  attempts: number;
  orders: number;
  phoneChecks: number;
  buyerLids: number;
}

export const PURGED_CUSTOMER = { firstName: null, lastName: null, name: null, cellPhone: null } as const;

export async function purgePersonalData(ctx: Pick<AppContext, 'db' | 'now' | 'logger'>, options: { batchSize?: number; heartbeat?: () => void } = {}): Promise<PurgeResult> {
  const batch = options.batchSize ?? 1000;
  const now = ctx.now();
  const result: PurgeResult = { attempts: 0, orders: 0, phoneChecks: 0, buyerLids: 0 };

  for (;;) {
    const r = await ctx.db.execute(sql`
      update message_attempts ma
      set rendered_text = null, phone = null, chat_id = null, waha_message_id = null, purged_at = ${now}
      where ma.id in (
        select a.id from message_attempts a
        join notifications n on n.id = a.notification_id
        join stores s on s.id = n.store_id
        where a.purged_at is null and a.started_at < ${now}::timestamptz - make_interval(days => s.retention_days)
        limit ${batch}
      )`);
    result.attempts += r.rowCount ?? 0;
    options.heartbeat?.();
    if ((r.rowCount ?? 0) < batch) break;
  }

  for (;;) {
    const r = await ctx.db.execute(sql`
      update orders o
      set snapshot = jsonb_set(jsonb_set(o.snapshot, '{customer}', ${JSON.stringify(PURGED_CUSTOMER)}::jsonb), '{deliveryAddress}', 'null'::jsonb)
        || jsonb_build_object('purgedAt', ${now.toISOString()}::text)
      where o.id in (
        select x.id from orders x join stores s on s.id = x.store_id
        where not (x.snapshot ? 'purgedAt') and x.last_seen_at < ${now}::timestamptz - make_interval(days => s.retention_days)
        limit ${batch}
      )`);
    result.orders += r.rowCount ?? 0;
    options.heartbeat?.();
    if ((r.rowCount ?? 0) < batch) break;
  }

  const checks = await ctx.db.execute(sql`
    delete from phone_checks
    where checked_at < ${now}::timestamptz - make_interval(days => (select coalesce(max(retention_days), 180) from stores))`);
  result.phoneChecks = checks.rowCount ?? 0;
  const lids = await ctx.db.execute(sql`
    delete from buyer_lids
    where learned_at < ${now}::timestamptz - make_interval(days => (select coalesce(max(retention_days), 180) from stores))`);
  // A matched unmapped opt-out holds a LID beside its phone; the opt_outs row keeps the opt-out.
  const matched = await ctx.db.execute(sql`
    delete from unmapped_opt_outs
    where matched_at < ${now}::timestamptz - make_interval(days => (select coalesce(max(retention_days), 180) from stores))`);
  // Who wrote to a number is a phone too; it goes after the longest retention since they last wrote.
  const replies = await ctx.db.execute(sql`
    delete from buyer_replies
    where last_at < ${now}::timestamptz - make_interval(days => (select coalesce(max(retention_days), 180) from stores))`);
  result.buyerLids = (lids.rowCount ?? 0) + (matched.rowCount ?? 0) + (replies.rowCount ?? 0);

  ctx.logger.info({ ...result }, 'personal data purged');
  return result;
}
