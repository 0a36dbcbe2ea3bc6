import { desc, eq, sql } from 'drizzle-orm';
import { messageAttempts } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import { applyStatus, statusForAck } from './status.ts';

/**
 * WhatsApp acks, from the webhook or from a lookup: the attempt keeps the highest ack, and the
 * notification's status moves through the one monotonic writer.
 */
const ACK_ERROR_REASON = 'WhatsApp сообщил об ошибке доставки';

/** Records an ack on the attempt (highest wins; ERROR only before DEVICE) and moves the status. */
export async function recordAck(ctx: { db: Pick<AppContext['db'], 'execute'>; now: () => Date }, attemptId: string, notificationId: string, ack: number, source: string): Promise<void> {
  await ctx.db.execute(sql`
    update message_attempts set last_ack = case
      when ${ack} < 0 then case when coalesce(last_ack, 0) < 2 then ${ack} else last_ack end
      else greatest(coalesce(last_ack, ${ack}), ${ack}) end
    where id = ${attemptId}`);
  const to = statusForAck(ack);
  if (!to) return;
  // An ERROR ack (DESIGN "One writer") fails only a message that went out; it never cancels a
  // pending resend or a row that is still waiting for its slot.
  await applyStatus(ctx.db, {
    notificationId,
    to,
    reasonCode: to === 'failed' ? 'ack_error' : null,
    reason: to === 'failed' ? ACK_ERROR_REASON : null,
    source,
    at: ctx.now(),
    ...(to === 'failed' ? { onlyFrom: ['sent', 'undelivered'] as const } : {}),
  });
}

/** Acks that arrived before their message id was stored are applied once it is. */
export async function applyPendingAcks(ctx: Pick<AppContext, 'db' | 'now'>, keyId: string): Promise<number> {
  const [attempt] = await ctx.db.select().from(messageAttempts).where(eq(messageAttempts.wahaKeyId, keyId)).orderBy(desc(messageAttempts.startedAt)).limit(1);
  if (!attempt) return 0;
  const pending = await ctx.db.execute<{ id: number; ack: number }>(sql`
    update message_events set pending = false, notification_id = ${attempt.notificationId}
    where pending and waha_key_id = ${keyId}
      and store_id = (select store_id from notifications where id = ${attempt.notificationId})
    returning id, ack`);
  for (const row of pending.rows.sort((a, b) => a.ack - b.ack)) await recordAck(ctx, attempt.id, attempt.notificationId, row.ack, 'webhook');
  return pending.rows.length;
}
