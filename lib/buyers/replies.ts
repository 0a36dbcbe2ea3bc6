import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { altPhoneOf, isLid, phoneOfJid, type MessagePayload } from '../waha/webhooks.ts';
import { knownPhoneOfLid } from './lids.ts';

/**
 * Who has ever written to a number (`buyer_replies`): WhatsApp has tested a monthly cap on
 * messages to people who never answered, so the dashboard counts, per number and calendar month,
 * our messages to buyers who have not written to that number (lib/services/number-health.ts).
 */

/**
 * Records an inbound message from a buyer: their phone from a phone jid, NOWEB's number beside a
 * LID, or a LID we learned when we sent to them. A LID nobody can map yet is not recorded (no WAHA
 * call here: this runs inside the webhook's transaction); the count errs towards "unanswered".
 */
export async function recordBuyerMessage(db: Pick<Db, 'execute' | 'select'>, senderId: string, payload: MessagePayload, at: Date): Promise<string | null> {
  if (payload.fromMe) return null;
  const phone = phoneOfJid(payload.from) ?? (isLid(payload.from) ? (altPhoneOf(payload) ?? (await knownPhoneOfLid(db, senderId, payload.from))) : null);
  if (!phone) return null;
  await db.execute(sql`
    insert into buyer_replies (sender_id, phone, first_at, last_at) values (${senderId}, ${phone}, ${at}, ${at})
    on conflict (sender_id, phone) do update set last_at = greatest(buyer_replies.last_at, excluded.last_at)`);
  return phone;
}
