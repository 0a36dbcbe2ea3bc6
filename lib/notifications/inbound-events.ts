import { and, desc, eq, isNull, lt, or } from 'drizzle-orm';
import { messageAttempts, messageEvents, notifications, optOuts, senders, unmappedOptOuts } from '../../drizzle/schema.ts';
import { resolveLidSender, type SenderMatch } from '../buyers/lids.ts';
import { recordBuyerMessage } from '../buyers/replies.ts';
import { recordPairing } from '../waha/pairing.ts';
import type { AppContext } from '../context.ts';
import type { Db } from '../db/client.ts';
import { wahaClientForSender, type SenderRow } from '../waha/for-sender.ts';
import { altPhoneOf, isLid, keyIdOf, normalizeSessionStatus, phoneOfJid, type KnownSessionStatus, type MessageAckPayload, type MessagePayload, type ParsedWebhook } from '../waha/webhooks.ts';
import { recordAck, releaseHeldSender } from './acks.ts';
import { confirmSendFromEcho } from './echoes.ts';
import { buyerPhoneOf, creditOutcome, messageTime } from './outcomes.ts';

/**
 * What one verified WAHA webhook delivery does (docs/architecture.md "Webhook → status"):
 * - `message.ack`: the attempt's ack and the notification's status, through the one writer;
 * - `message.any` from us: proof of a send (lib/notifications/echoes.ts);
 * - `message` from a buyer: an opt-out word opts out the buyer's phone — found through the LID
 *   table, WAHA's lids API or NOWEB's remoteJidAlt when the buyer writes from a LID, kept unmapped
 *   when nothing maps it (lib/buyers/lids.ts); any other message is a reply, and either is credited
 *   to our latest message to that buyer within 24 hours (lib/notifications/outcomes.ts);
 * - `message` from a buyer also records that the buyer has written to the number (lib/buyers/replies.ts);
 * - `session.status`: the number's session status, in event order; WORKING with `me` records which
 *   phone is paired (lib/waha/pairing.ts), the start of a new number's warm-up.
 * The dedupe row and the effect commit together, so a delivery that fails half-way leaves nothing
 * behind and WAHA's retry is processed instead of being taken for a duplicate.
 */

export type InboundOutcome =
  | { duplicate: true }
  | { pending: true }
  | { ack: number; workflowId: string | null; resumedSenderId: string | null }
  | { echo: 'matched' | 'unmatched' }
  | { optedOut: SenderMatch | { unmappedLid: string } }
  | { replied: string }
  | { session: KnownSessionStatus; resumedSenderId: string | null }
  | { ignored: true };

export interface InboundTarget {
  storeId: string;
  sender: SenderRow;
}

/** Russian, Kazakh and English; OPT_OUT_WORDS replaces the list. */
export const DEFAULT_OPT_OUT_WORDS = ['стоп', 'stop', 'отписаться', 'отписка', 'unsubscribe', 'тоқта', 'тоқтату', 'хабарлама керек емес'];

export function isOptOutMessage(body: string, words: readonly string[] = DEFAULT_OPT_OUT_WORDS): boolean {
  const normalized = body.trim().toLowerCase().replace(/[.!?\s]+$/u, '');
  return words.some((w) => normalized === w);
}

/**
 * Work that needs WAHA (which buyer is behind a LID) happens before the transaction: a slow WAHA
 * must not hold row locks. Only an opt-out word from a LID needs it.
 */
export async function resolveOptOutSender(ctx: AppContext, target: InboundTarget, parsed: ParsedWebhook, words: readonly string[]): Promise<SenderMatch | { unmappedLid: string } | null> {
  if (parsed.event !== 'message' || parsed.payload.fromMe || !isOptOutMessage(parsed.payload.body, words)) return null;
  const from = parsed.payload.from;
  const phone = phoneOfJid(from);
  if (phone) return { phone, matchedBy: 'phone' };
  if (!isLid(from)) return null;
  const match = await resolveLidSender(ctx, wahaClientForSender(ctx, target.sender, { timeoutMs: 10_000 }), {
    senderId: target.sender.id,
    lid: from,
    altPhone: altPhoneOf(parsed.payload),
  });
  return match ?? { unmappedLid: from };
}

export async function applyInboundEvent(
  ctx: Pick<AppContext, 'db' | 'now'>,
  target: InboundTarget,
  parsed: ParsedWebhook,
  optOut: SenderMatch | { unmappedLid: string } | null,
): Promise<InboundOutcome> {
  const { envelope } = parsed;
  return ctx.db.transaction(async (tx) => {
    const inserted = await tx
      .insert(messageEvents)
      .values({
        envelopeId: envelope.id,
        storeId: target.storeId,
        kind: parsed.event,
        // An ack is parked as pending until it is matched, in this same statement: a send that
        // stores its message id concurrently then finds it (applyPendingAcks) in every order.
        // PENDING (0) proves nothing new; it is recorded for the trail but never parked or applied.
        ...(parsed.event === 'message.ack' ? { wahaKeyId: keyIdOf(parsed.payload.id), ack: parsed.payload.ack, pending: parsed.payload.ack !== 0 } : {}),
      })
      .onConflictDoNothing()
      .returning({ id: messageEvents.id });
    if (inserted.length === 0) return { duplicate: true };
    const eventRowId = inserted[0]!.id;
    const at = ctx.now();

    switch (parsed.event) {
      case 'message.ack':
        return parsed.payload.ack === 0 ? { ignored: true } : applyAck(tx, target, parsed.payload, eventRowId, ctx.now);
      case 'message.any':
        return applyEcho(tx, target, parsed.payload, eventRowId, at);
      case 'message':
        await recordBuyerMessage(tx, target.sender.id, parsed.payload, at);
        return applyBuyerMessage(tx, target, parsed.payload, optOut, at);
      case 'session.status': {
        const status = normalizeSessionStatus(parsed.payload.status);
        if (status === 'WORKING') await recordPairing(tx, target.sender.id, envelope.me?.id, at);
        return applySessionStatus(tx, target.sender.id, status, new Date(envelope.timestamp > 0 ? envelope.timestamp : at.getTime()), at);
      }
      default:
        return { ignored: true };
    }
  });
}

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

async function applyAck(tx: Tx, target: InboundTarget, payload: MessageAckPayload, eventRowId: number, now: () => Date): Promise<InboundOutcome> {
  const [attempt] = await tx
    .select({ id: messageAttempts.id, notificationId: messageAttempts.notificationId, workflowId: notifications.workflowId })
    .from(messageAttempts)
    .innerJoin(notifications, eq(notifications.id, messageAttempts.notificationId))
    .where(and(eq(messageAttempts.wahaKeyId, keyIdOf(payload.id)), eq(notifications.storeId, target.storeId)))
    .orderBy(desc(messageAttempts.startedAt))
    .limit(1);
  // The ack outran our own record of the send: it stays pending until the id is stored.
  if (!attempt) return { pending: true };
  await tx.update(messageEvents).set({ notificationId: attempt.notificationId, pending: false }).where(eq(messageEvents.id, eventRowId));
  const { resumedSenderId } = await recordAck({ db: tx, now }, attempt.id, attempt.notificationId, payload.ack, 'webhook');
  return { ack: payload.ack, workflowId: attempt.workflowId, resumedSenderId };
}

async function applyEcho(tx: Tx, target: InboundTarget, payload: MessagePayload, eventRowId: number, at: Date): Promise<InboundOutcome> {
  if (!payload.fromMe) return { ignored: true };
  const match = await confirmSendFromEcho(tx, { storeId: target.storeId, senderId: target.sender.id, payload, at });
  if (match) await tx.update(messageEvents).set({ notificationId: match.notificationId, wahaKeyId: keyIdOf(payload.id) }).where(eq(messageEvents.id, eventRowId));
  return { echo: match ? 'matched' : 'unmatched' };
}

/** A buyer's message: an opt-out, or a reply to our latest message to them; both count for that message's template. */
async function applyBuyerMessage(tx: Tx, target: InboundTarget, payload: MessagePayload, optOut: SenderMatch | { unmappedLid: string } | null, at: Date): Promise<InboundOutcome> {
  if (payload.fromMe) return { ignored: true };
  const when = messageTime(payload, at);
  if (optOut) {
    const outcome = await applyOptOut(tx, target.storeId, payload.from, optOut, at);
    if (!('unmappedLid' in optOut)) await creditOutcome(tx, 'opt_out', { storeId: target.storeId, phone: optOut.phone, at: when });
    return outcome;
  }
  const phone = await buyerPhoneOf(tx, target.sender.id, payload);
  const credited = phone ? await creditOutcome(tx, 'reply', { storeId: target.storeId, phone, at: when }) : null;
  return credited ? { replied: credited } : { ignored: true };
}

async function applyOptOut(tx: Tx, storeId: string, from: string, optOut: NonNullable<SenderMatch> | { unmappedLid: string }, at: Date): Promise<InboundOutcome> {
  if ('unmappedLid' in optOut) {
    await tx.insert(unmappedOptOuts).values({ storeId, lid: optOut.unmappedLid, createdAt: at }).onConflictDoNothing();
  } else {
    await tx.insert(optOuts).values({ storeId, phone: optOut.phone, source: 'whatsapp', matchedBy: optOut.matchedBy, lid: isLid(from) ? from : null, createdAt: at }).onConflictDoNothing();
  }
  return { optedOut: optOut };
}

/**
 * Deliveries arrive out of order (retries): a late STARTING must not overwrite WORKING. A session
 * that comes back to WORKING from anything else releases a queue held for stalled receipts — a
 * restart is what fixes them (WAHA issue #1721); the detector judges only sends made after it.
 */
async function applySessionStatus(tx: Tx, senderId: string, status: KnownSessionStatus, reportedAt: Date, at: Date): Promise<InboundOutcome> {
  const [before] = await tx.select({ status: senders.sessionStatus }).from(senders).where(eq(senders.id, senderId));
  const changed = await tx
    .update(senders)
    .set({ sessionStatus: status, sessionStatusAt: reportedAt, updatedAt: at })
    .where(and(eq(senders.id, senderId), or(isNull(senders.sessionStatusAt), lt(senders.sessionStatusAt, reportedAt))))
    .returning({ id: senders.id });
  let resumedSenderId: string | null = null;
  if (changed.length > 0 && status === 'WORKING' && before?.status !== 'WORKING') resumedSenderId = await releaseHeldSender(tx, senderId);
  return { session: status, resumedSenderId };
}
