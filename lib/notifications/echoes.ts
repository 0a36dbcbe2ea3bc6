import { and, desc, eq, gte, inArray, isNull, lte, or, sql } from 'drizzle-orm';
import { messageAttempts, notifications } from '../../drizzle/schema.ts';
import { knownPhoneOfLid } from '../buyers/lids.ts';
import type { Db } from '../db/client.ts';
import { isLid, keyIdOf, phoneOfJid, type MessagePayload } from '../waha/webhooks.ts';
import { applyPendingAcks } from './acks.ts';
import { applyStatus } from './status.ts';

/**
 * Knowing what we sent without a message store (docs/contracts/waha.md "Knowing what we
 * sent"). With `message.any` subscribed, WAHA echoes every message the session sends
 * (`fromMe: true`, `source: "api"`). An echo is proof that the send happened, so it settles an
 * attempt whose HTTP answer was lost or ambiguous — by the reserved key id on NOWEB/GOWS, and on
 * WEBJS (no reserved ids) by the chat and the exact text within the attempt's window.
 */

/** How far around the echo's timestamp an attempt without a reserved id may have started. */
const TEXT_MATCH_BEFORE_MS = 10 * 60_000;
// WhatsApp timestamps are whole seconds and clocks differ a little; an attempt cannot start long after its own echo.
const TEXT_MATCH_AFTER_MS = 5_000;

type Tx = Pick<Db, 'select' | 'update' | 'execute'>;

export interface EchoMatch {
  attemptId: string;
  notificationId: string;
  workflowId: string | null;
}

/** Finds our attempt behind an echo and records it as sent; null when the echo is not ours. */
export async function confirmSendFromEcho(
  tx: Tx,
  input: { storeId: string; senderId: string; payload: MessagePayload; at: Date },
): Promise<EchoMatch | null> {
  const { payload } = input;
  if (!payload.fromMe) return null;
  const match = (await byKeyId(tx, input.storeId, keyIdOf(payload.id))) ?? (await byChatAndText(tx, input));
  if (!match) return null;
  const messageId = payload.id;
  const settled = await tx
    .update(messageAttempts)
    .set({ outcome: 'sent', wahaMessageId: messageId, wahaKeyId: keyIdOf(messageId), confirmedBy: 'echo', finishedAt: sql`coalesce(${messageAttempts.finishedAt}, ${input.at})` })
    .where(and(eq(messageAttempts.id, match.attemptId), inArray(messageAttempts.outcome, ['sending', 'unknown'])))
    .returning({ id: messageAttempts.id });
  if (settled.length > 0) {
    await applyStatus(tx, { notificationId: match.notificationId, to: 'sent', source: 'echo', at: input.at });
    await applyPendingAcks({ db: tx, now: () => input.at }, keyIdOf(messageId));
  }
  return match;
}

async function byKeyId(tx: Tx, storeId: string, keyId: string): Promise<EchoMatch | null> {
  const [row] = await tx
    .select({ attemptId: messageAttempts.id, notificationId: messageAttempts.notificationId, workflowId: notifications.workflowId })
    .from(messageAttempts)
    .innerJoin(notifications, eq(notifications.id, messageAttempts.notificationId))
    .where(and(eq(notifications.storeId, storeId), eq(messageAttempts.wahaKeyId, keyId)))
    .orderBy(desc(messageAttempts.startedAt))
    .limit(1);
  return row ?? null;
}

/**
 * WEBJS: our own message in that chat with exactly the attempt's text. Only attempts without a
 * reserved id qualify — one with a reserved id would have matched by key — and only those still
 * waiting for an answer.
 */
async function byChatAndText(tx: Tx, input: { storeId: string; senderId: string; payload: MessagePayload }): Promise<EchoMatch | null> {
  const { payload } = input;
  const to = payload.to ?? '';
  const phone = phoneOfJid(to) ?? (isLid(to) ? await knownPhoneOfLid(tx, input.senderId, to) : null);
  // Only what the session sent through the API: a seller typing the same words on the phone is not our send.
  if (!phone || payload.body === '' || (payload.source ?? 'api') !== 'api') return null;
  const echoAt = payload.timestamp * 1000;
  const [row] = await tx
    .select({ attemptId: messageAttempts.id, notificationId: messageAttempts.notificationId, workflowId: notifications.workflowId })
    .from(messageAttempts)
    .innerJoin(notifications, eq(notifications.id, messageAttempts.notificationId))
    .where(and(
      eq(notifications.storeId, input.storeId),
      isNull(messageAttempts.reservedId),
      inArray(messageAttempts.outcome, ['sending', 'unknown']),
      or(eq(messageAttempts.phone, phone), eq(messageAttempts.chatId, to)),
      eq(messageAttempts.renderedText, payload.body),
      gte(messageAttempts.startedAt, new Date(echoAt - TEXT_MATCH_BEFORE_MS)),
      lte(messageAttempts.startedAt, new Date(echoAt + TEXT_MATCH_AFTER_MS)),
    ))
    .orderBy(desc(messageAttempts.startedAt))
    .limit(1);
  return row ?? null;
}
