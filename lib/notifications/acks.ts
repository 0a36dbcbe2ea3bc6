import { desc, eq, sql, type SQL } from 'drizzle-orm';
import { messageAttempts } from '../../drizzle/schema.ts';
import type { Db } from '../db/client.ts';
import { ru } from '../i18n/messages.ts';
import { applyStatus, statusForAck } from './status.ts';

/**
 * WhatsApp acks, from the webhook or from a lookup: the attempt keeps the highest ack, and the
 * notification's status moves through the one monotonic writer.
 */

/**
 * Records an ack on the attempt (highest wins; ERROR only before DEVICE) and moves the status. A
 * SERVER ack or better also proves the number's receipts flow again: a queue held for stalled
 * receipts (lib/notifications/receipts.ts) is released, and its sender id returned so the caller
 * can wake the waiting workflows.
 */
export async function recordAck(ctx: { db: Pick<Db, 'execute'>; now: () => Date }, attemptId: string, notificationId: string, ack: number, source: string): Promise<{ resumedSenderId: string | null }> {
  // An ack of SERVER or better proves the message went out: an attempt still waiting for its
  // answer (or left unknown) is sent.
  await ctx.db.execute(sql`
    update message_attempts set last_ack = case
      when ${ack} < 0 then case when coalesce(last_ack, 0) < 2 then ${ack} else last_ack end
      else greatest(coalesce(last_ack, ${ack}), ${ack}) end,
      outcome = case when ${ack} >= 1 and outcome in ('sending', 'unknown') then 'sent' else outcome end,
      confirmed_by = case when ${ack} >= 1 and outcome in ('sending', 'unknown') then 'ack' else confirmed_by end
    where id = ${attemptId}`);
  const resumed = ack >= 1 ? await releaseStalledSender(ctx.db, attemptId) : null;
  const to = statusForAck(ack);
  if (!to) return { resumedSenderId: resumed };
  // An ERROR ack (docs/architecture.md "Invariants") fails only a message that went out; it never cancels a
  // pending resend or a row that is still waiting for its slot.
  await applyStatus(ctx.db, {
    notificationId,
    to,
    reasonCode: to === 'failed' ? 'ack_error' : null,
    reason: to === 'failed' ? ru.reasons.ack_error ?? null : null,
    source,
    at: ctx.now(),
    ...(to === 'failed' ? { onlyFrom: ['sent', 'undelivered'] as const } : {}),
  });
  return { resumedSenderId: resumed };
}

async function releaseStalledSender(db: Pick<Db, 'execute'>, attemptId: string): Promise<string | null> {
  return releaseHeldSender(db, sql`(select sender_id from message_attempts where id = ${attemptId})`);
}

/**
 * Ends a hold for stalled receipts (lib/notifications/receipts.ts), remembering when: the
 * detector then judges only sends made after it. Returns the sender id when a hold ended.
 */
export async function releaseHeldSender(db: Pick<Db, 'execute'>, senderId: SQL | string): Promise<string | null> {
  const released = await db.execute<{ id: string }>(sql`
    update senders set acks_stalled_since = null, acks_released_at = now(), updated_at = now()
    where acks_stalled_since is not null and id = ${senderId}
    returning id`);
  return released.rows[0]?.id ?? null;
}

/** Acks that arrived before their message id was stored are applied once it is. */
export async function applyPendingAcks(ctx: { db: Pick<Db, 'select' | 'execute'>; now: () => Date }, keyId: string): Promise<{ applied: number; resumedSenderId: string | null }> {
  const [attempt] = await ctx.db.select().from(messageAttempts).where(eq(messageAttempts.wahaKeyId, keyId)).orderBy(desc(messageAttempts.startedAt)).limit(1);
  if (!attempt) return { applied: 0, resumedSenderId: null };
  const pending = await ctx.db.execute<{ id: number; ack: number }>(sql`
    update message_events set pending = false, notification_id = ${attempt.notificationId}
    where pending and waha_key_id = ${keyId}
      and store_id = (select store_id from notifications where id = ${attempt.notificationId})
    returning id, ack`);
  let resumedSenderId: string | null = null;
  for (const row of pending.rows.sort((a, b) => a.ack - b.ack)) {
    resumedSenderId = (await recordAck(ctx, attempt.id, attempt.notificationId, row.ack, 'webhook')).resumedSenderId ?? resumedSenderId;
  }
  return { applied: pending.rows.length, resumedSenderId };
}
