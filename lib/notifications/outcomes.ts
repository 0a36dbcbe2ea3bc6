import { sql } from 'drizzle-orm';
import { knownPhoneOfLid } from '../buyers/lids.ts';
import type { Db } from '../db/client.ts';
import { altPhoneOf, isLid, phoneOfJid, type MessagePayload } from '../waha/webhooks.ts';

/**
 * What a buyer did after a message: wrote back (a reply) or asked to stop (an opt-out), each
 * credited to our latest message to that buyer from this store that went out at most 24 hours
 * before theirs. The template statistics count them per variant (lib/services/template-stats.ts).
 * Only the first reply and the first opt-out of a message are kept.
 */

/** How long after our message the buyer's counts as an answer to it. */
export const REPLY_WINDOW_MS = 24 * 60 * 60 * 1000;

type Executor = Pick<Db, 'execute' | 'select'>;

/**
 * The buyer's phone behind an incoming message, without asking WAHA: the sender's own number,
 * or for a LID the number we learned for it when we sent (lib/buyers/lids.ts) or NOWEB's
 * remoteJidAlt. A LID nobody mapped yet answers null: its reply is not counted.
 */
export async function buyerPhoneOf(db: Pick<Db, 'select'>, senderId: string, payload: MessagePayload): Promise<string | null> {
  const direct = phoneOfJid(payload.from);
  if (direct) return direct;
  if (!isLid(payload.from)) return null;
  return (await knownPhoneOfLid(db, senderId, payload.from)) ?? altPhoneOf(payload);
}

/**
 * When the buyer wrote: the message's own time (WhatsApp counts whole seconds, so the end of that
 * second: a reply within a second of our message is still after it), never later than its arrival.
 */
export function messageTime(payload: MessagePayload, receivedAt: Date): Date {
  const ms = payload.timestamp > 1e12 ? payload.timestamp : payload.timestamp * 1000 + 999;
  return ms > 0 && ms <= receivedAt.getTime() ? new Date(ms) : receivedAt;
}

/** Marks our latest message to `phone` within the window before `at`; its id, or null when none. */
export async function creditOutcome(db: Executor, kind: 'reply' | 'opt_out', r: { storeId: string; phone: string; at: Date }): Promise<string | null> {
  const column = sql.raw(kind === 'reply' ? 'replied_at' : 'opted_out_at');
  const since = new Date(r.at.getTime() - REPLY_WINDOW_MS);
  const rows = await db.execute<{ id: string }>(sql`
    update notifications n set ${column} = ${r.at}
    where n.id = (
      select x.id from notifications x
      where x.store_id = ${r.storeId} and x.sent_at is not null and x.sent_at <= ${r.at} and x.sent_at >= ${since}
        and exists (select 1 from message_attempts a where a.notification_id = x.id and a.phone = ${r.phone} and a.outcome = 'sent')
      order by x.sent_at desc, x.id desc
      limit 1
    ) and n.${column} is null
    returning n.id`);
  return rows.rows[0]?.id ?? null;
}
