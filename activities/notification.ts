/**
 * Activities of the notification workflow: prepare → claim a send slot and send → look up →
 * finish. Each reads the truth from PostgreSQL and writes status only through
 * lib/notifications/status.ts.
 *
 * Error contract (what the workflow can rely on):
 * - Business outcomes are RETURN VALUES, never exceptions: "wait until X" (pacing, quiet hours,
 *   caps, session not ready, sending paused), "skipped" (expired, stale, opted out, not on
 *   WhatsApp), "failed" (463, a request WAHA refuses), "ambiguous" (may have been sent).
 * - Exceptions are for infrastructure (database, Kaspi re-read, WAHA lookups) and are retried by
 *   Temporal. Every activity is safe to retry: `claimAndSend` marks the attempt `sending` before
 *   the HTTP call, and a retry that finds `sending` returns "ambiguous" instead of sending again.
 * - "Sent" needs evidence: a 2xx answer, a `message.any` echo (it may settle the attempt while the
 *   HTTP call is still open, so failures settle only an attempt still `sending`), an ack, or a
 *   look-up that finds the message. A look-up that cannot answer is "unknown", never "absent".
 * - Nothing personal crosses into Temporal: inputs and results hold ids, codes and reason codes.
 * - A template's attachment goes with the text as its caption. A WAHA that cannot take files
 *   (a Core build before 2026.6, an engine without the method) or refuses this one before sending
 *   gets the text alone, in the same claimed slot, with the reason on the attempt: never silence.
 */
import { heartbeat } from './heartbeat.ts';
import { ApplicationFailure } from '@temporalio/common';
import { and, desc, eq, gte, inArray, isNotNull, isNull, sql } from 'drizzle-orm';
import {
  messageAttempts,
  notifications,
  optOuts,
  orders,
  phoneChecks,
  senders,
  stores,
  templateAttachments,
  templates,
  type AttachmentKind,
  type NotificationStatus,
  type NotifyEvent,
} from '../drizzle/schema.ts';
import type { AppContext } from '../lib/context.ts';
import { KaspiClient, KaspiAuthError } from '../lib/kaspi/client.ts';
import { isEventCurrent, isFresh, freshUntil } from '../lib/kaspi/events.ts';
import { parseOrderSnapshot, type KaspiOrder } from '../lib/kaspi/orders.ts';
import { applyPendingAcks, recordAck } from '../lib/notifications/acks.ts';
import { wakeWaiting } from '../lib/notifications/wake.ts';
import { applyStatus, FINAL_STATUSES, OUTCOME_UNKNOWN, reopenNotification, setWaitingReason } from '../lib/notifications/status.ts';
import { learnLidBeforeSend } from '../lib/buyers/lids.ts';
import { ru } from '../lib/i18n/messages.ts';
import { publicBase, withReviewLink } from '../lib/review-links/links.ts';
import { decideClaim, localDayStart, nextSendableAt, sessionState } from '../lib/pacing/pacing.ts';
import { normalizeKzPhone } from '../lib/phones/phones.ts';
import { chooseVariant, tryRenderTemplate } from '../lib/templates/render.ts';
import { WahaClient, WahaError, WahaSessionNotReadyError, type SendTextResult } from '../lib/waha/client.ts';
import { wahaClientForSender } from '../lib/waha/for-sender.ts';
import { recordPairing } from '../lib/waha/pairing.ts';
import { keyIdOf, normalizeSessionStatus } from '../lib/waha/webhooks.ts';

export interface NotificationRef {
  notificationId: string;
}

export type PrepareResult =
  | { action: 'send'; /** epoch ms: the template's delay ends */ notBefore: number; /** epoch ms */ freshUntil: number }
  | { action: 'done'; status: NotificationStatus; reasonCode: string | null };

export type WaitReason = 'paused' | 'gap' | 'quiet_hours' | 'daily_cap' | 'warmup' | 'backlog' | 'buyer_daily_limit' | 'session_not_working' | 'session_unknown' | 'acks_stalled' | 'waha_unauthorized' | 'waha_unreachable';

export type SendResult =
  | { result: 'sent'; attemptId: string; hasMessageId: boolean }
  | { result: 'wait'; reason: WaitReason; /** epoch ms, or null when a status change decides */ retryAt: number | null }
  | { result: 'done'; status: NotificationStatus; reasonCode: string | null }
  | { result: 'ambiguous'; attemptId: string };

export type LookupResult = { found: 'sent' } | { found: 'absent' } | { found: 'unknown' };

/** The Russian reason shown in the admin's message log (lib/i18n/messages.ts). */
export const reasonText = (code: string): string => ru.reasons[code] ?? code;

export interface NotificationDeps {
  wahaClientFor?: (sender: typeof senders.$inferSelect, apiKey: string | null) => WahaClient;
  kaspiClientFor?: (store: typeof stores.$inferSelect, token: string) => KaspiClient;
  random?: () => number;
}

export function createNotificationActivities(ctx: AppContext, deps: NotificationDeps = {}) {
  const random = deps.random ?? Math.random;
  const log = ctx.logger.child({ component: 'notification' });

  const waha = (sender: typeof senders.$inferSelect): WahaClient => {
    const apiKey = sender.wahaApiKeyEnc ? ctx.secrets.decrypt(sender.wahaApiKeyEnc) : null;
    return deps.wahaClientFor?.(sender, apiKey) ?? wahaClientForSender(ctx, sender, { timeoutMs: 60_000 });
  };
  const kaspi = (store: typeof stores.$inferSelect): KaspiClient | null => {
    if (!store.kaspiTokenEnc || store.tokenRejected) return null;
    const token = ctx.secrets.decrypt(store.kaspiTokenEnc);
    return deps.kaspiClientFor?.(store, token) ?? new KaspiClient({ baseUrl: ctx.config.KASPI_API_URL, token, merchantUid: store.kaspiMerchantUid, userAgent: 'kaspi-notify/0.1' });
  };

  async function load(notificationId: string) {
    const [row] = await ctx.db
      .select({ n: notifications, store: stores, sender: senders, order: orders })
      .from(notifications)
      .innerJoin(stores, eq(stores.id, notifications.storeId))
      .leftJoin(senders, eq(senders.id, stores.senderId))
      .leftJoin(orders, and(eq(orders.storeId, notifications.storeId), eq(orders.code, notifications.orderCode)))
      .where(eq(notifications.id, notificationId));
    // Deleted with its store: nothing left to send, and retrying cannot bring it back.
    if (!row) throw ApplicationFailure.nonRetryable(`notification ${notificationId} no longer exists (store deleted)`, 'NotificationGone');
    return row;
  }

  const finish = async (notificationId: string, status: 'skipped' | 'failed' | 'undelivered', reasonCode: string, source: string) => {
    // "Unknown" fails only a row still waiting for its answer: an echo or ack that proved it sent meanwhile wins.
    const onlyFrom = reasonCode === OUTCOME_UNKNOWN ? { onlyFrom: ['sending'] as const } : {};
    await applyStatus(ctx.db, { notificationId, to: status, reasonCode, reason: reasonText(reasonCode), source, at: ctx.now(), ...onlyFrom });
    const [n] = await ctx.db.select({ status: notifications.status, reasonCode: notifications.reasonCode }).from(notifications).where(eq(notifications.id, notificationId));
    log.info({ notificationId, status: n?.status, reasonCode: n?.reasonCode }, 'notification finished');
    return { status: (n?.status ?? status) as NotificationStatus, reasonCode: n?.reasonCode ?? reasonCode };
  };

  async function templateFor(n: typeof notifications.$inferSelect) {
    if (n.templateId) {
      const [t] = await ctx.db.select().from(templates).where(eq(templates.id, n.templateId));
      if (t) return t;
    }
    return undefined;
  }

  /** The phone a message goes to: the buyer's, or the seller's own in test mode. */
  function recipient(store: typeof stores.$inferSelect, order: KaspiOrder) {
    return normalizeKzPhone(store.testModePhone ?? order.customer.cellPhone);
  }

  return {
    async prepareNotification({ notificationId }: NotificationRef): Promise<PrepareResult> {
      const { n, store, sender, order } = await load(notificationId);
      if (FINAL_STATUSES.has(n.status as NotificationStatus) || n.status === 'sent' || n.status === 'sending') {
        return n.status === 'sent' || n.status === 'sending'
          ? { action: 'send', notBefore: 0, freshUntil: Number.MAX_SAFE_INTEGER }
          : { action: 'done', status: n.status as NotificationStatus, reasonCode: n.reasonCode };
      }
      const skip = async (code: string) => ({ action: 'done' as const, ...(await finish(notificationId, 'skipped', code, 'prepare')) });
      if (!store.enabled) return skip('store_disabled');
      if (!sender) return skip('no_whatsapp');
      if (!order) throw new Error(`order ${n.orderCode} of notification ${notificationId} is not stored`);

      let template = await templateFor(n);
      if (!template) {
        const variants = await ctx.db
          .select()
          .from(templates)
          .where(and(eq(templates.storeId, n.storeId), eq(templates.event, n.event), eq(templates.isActive, true), isNull(templates.deletedAt)));
        const chosen = chooseVariant(variants.map((t) => ({ id: t.id, weight: t.weight })), `${n.storeId}:${n.orderCode}:${n.event}`);
        template = variants.find((t) => t.id === chosen);
        if (!template) return skip('no_active_template');
        const variantNo = [...variants].sort((a, b) => (a.id < b.id ? -1 : 1)).findIndex((t) => t.id === template!.id) + 1;
        await ctx.db.update(notifications).set({ templateId: template.id, variant: variantNo }).where(and(eq(notifications.id, notificationId), isNull(notifications.templateId)));
      }

      const event = n.event as NotifyEvent;
      const now = ctx.now();
      if (!isFresh(event, n.eventAt, now, template.delayMinutes)) return skip('expired');

      const snapshot = parseOrderSnapshot(order.snapshot);
      const phone = recipient(store, snapshot);
      if (!phone.ok) return skip(phone.reasonCode);
      const [optedOut] = await ctx.db.select({ phone: optOuts.phone }).from(optOuts).where(and(eq(optOuts.storeId, n.storeId), eq(optOuts.phone, phone.digits)));
      if (optedOut && !store.testModePhone) return skip('opted_out');
      const rendered = tryRenderTemplate(template.text, snapshot, { shopName: store.name, timezone: store.timezone });
      if (!rendered.ok) return skip('render_failed');

      const delayEnds = n.eventAt.getTime() + template.delayMinutes * 60_000;
      const planned = n.status === 'scheduled' && n.scheduledFor ? n.scheduledFor : await planSlot(sender.id, new Date(Math.max(now.getTime(), delayEnds)));
      await applyStatus(ctx.db, { notificationId, to: 'scheduled', source: 'prepare', at: now });
      await setWaitingReason(ctx.db, notificationId, null, null, planned);
      // The workflow sleeps until its planned slot; the claim at that moment still decides.
      return { action: 'send', notBefore: planned.getTime(), freshUntil: freshUntil(event, n.eventAt, template.delayMinutes) };
    },

    /**
     * Claims the right to send (pacing, caps, quiet hours, pause, session) in one transaction that
     * locks the sender row, then sends. Re-checks freshness and re-reads the order from Kaspi first.
     */
    async claimAndSend({ notificationId }: NotificationRef): Promise<SendResult> {
      // Heartbeat from the first line: the Kaspi re-read and WAHA checks before the claim can take
      // longer than the heartbeat timeout, and a second attempt must never run beside this one.
      const beat = setInterval(heartbeat, 5_000);
      try {
        return await claimAndSendOnce(notificationId);
      } finally {
        clearInterval(beat);
      }
    },

    /**
     * After an ambiguous send: was it sent? By the reserved id where the engine has one, else among
     * the chat's own messages since the attempt started, with the exact text.
     */
    lookUpAttempt,

    deliveryState,

    checkSentMessage,

    async finishNotification({ notificationId, status, reasonCode }: NotificationRef & { status: 'failed' | 'undelivered' | 'skipped'; reasonCode: string }): Promise<{ status: NotificationStatus }> {
      return { status: (await finish(notificationId, status, reasonCode, 'workflow')).status };
    },
  };

  /**
   * One claim, in named steps: settle what a previous attempt left → is the message still wanted
   * (template, freshness, cheap pacing, the order re-read, phone, opt-out, text) → is the session
   * up → which chat (number check) → the buyer's LID → the reserved id → the paced claim in one
   * transaction → the send. Each step returns either what the next needs or the SendResult.
   */
  async function claimAndSendOnce(notificationId: string): Promise<SendResult> {
    const loaded = await load(notificationId);
    const { n, store, sender, order } = loaded;
    const status = n.status as NotificationStatus;
    if (status === 'skipped' || status === 'failed') return { result: 'done', status, reasonCode: n.reasonCode };
    if (!sender || !order) return done(notificationId, 'skipped', 'no_whatsapp');

    const attempts = await ctx.db.select().from(messageAttempts).where(eq(messageAttempts.notificationId, notificationId)).orderBy(desc(messageAttempts.attemptNo));
    const resumed = await resumePreviousAttempt(notificationId, attempts[0]);
    if (resumed) return resumed;
    if (status !== 'queued' && status !== 'scheduled') return { result: 'done', status, reasonCode: n.reasonCode };

    const wanted = await checkStillWanted({ ...loaded, sender, order });
    if ('result' in wanted) return wanted;
    const client = waha(sender);
    const session = await checkSession(notificationId, sender, store, client);
    if (typeof session !== 'string') return session;
    const chat = await resolveChat(notificationId, sender, wanted.phone, session, client);
    if (typeof chat !== 'string') return chat;
    if (session === 'WORKING') {
      const learned = await learnLidBeforeSend(ctx, client, { senderId: sender.id, phone: wanted.phone.digits });
      if (learned.optedOutStoreIds.includes(store.id) && !store.testModePhone) return done(notificationId, 'skipped', 'opted_out');
    }
    // A file is sent without a reserved id (WAHA documents `id` for sendText, not for sendImage or
    // sendFile: docs/contracts/waha.md "Media"); its echo and look-up match it by the caption.
    const reservedId = wanted.attachment ? null : await reserveMessageId(attempts, session, client);
    const claim = await claimSlot({ notificationId, eventAt: n.eventAt, store, sender, sessionStatus: session, phone: wanted.phone.digits, chatId: chat, text: wanted.text, reservedId, attemptNo: (attempts[0]?.attemptNo ?? 0) + 1 });
    if ('result' in claim) return claim;
    return sendClaimed({ notificationId, n, sender, client, attemptId: claim.attemptId, chatId: chat, text: wanted.text, reservedId, attachment: wanted.attachment });
  }

  // Declarations, not consts: the factory returns above them, and hoisting is what makes them ready.
  async function done(notificationId: string, status: 'skipped' | 'failed', reasonCode: string): Promise<SendResult> {
    return { result: 'done', ...(await finish(notificationId, status, reasonCode, 'claim')) };
  }
  function wait(notificationId: string, reason: WaitReason, retryAt: Date | null): Promise<SendResult> {
    return waitFor(notificationId, reason, retryAt);
  }

  /** A previous run that marked the attempt sending and never learned the outcome, or crashed after it. */
  async function resumePreviousAttempt(notificationId: string, last: typeof messageAttempts.$inferSelect | undefined): Promise<SendResult | null> {
    if (!last) return null;
    if (last.outcome === 'sending' || last.outcome === 'unknown') return { result: 'ambiguous', attemptId: last.id };
    if (last.outcome !== 'sent') return null;
    // A retry after the attempt was recorded but before the status was: finish that write.
    await applyStatus(ctx.db, { notificationId, to: 'sent', source: 'claim', at: ctx.now() });
    if (last.wahaKeyId) await applyPendingAcks(ctx, last.wahaKeyId);
    return { result: 'sent', attemptId: last.id, hasMessageId: last.wahaMessageId !== null };
  }

  type Loaded = Awaited<ReturnType<typeof load>>;
  type Sender = typeof senders.$inferSelect;
  type Phone = Extract<ReturnType<typeof normalizeKzPhone>, { ok: true }>;

  async function checkStillWanted({ n, store, sender, order }: Loaded & { sender: Sender; order: NonNullable<Loaded['order']> }): Promise<SendResult | { phone: Phone; text: string; attachment: AttachmentRef | null }> {
    const notificationId = n.id;
    const template = await templateFor(n);
    if (!template) return done(notificationId, 'skipped', 'no_active_template');
    const event = n.event as NotifyEvent;
    if (!isFresh(event, n.eventAt, ctx.now(), template.delayMinutes)) return done(notificationId, 'skipped', 'expired');

    // Pacing first, without a lock or any I/O: a backlog waking together must not each re-read
    // Kaspi and ask WAHA only to learn the slot is taken. The claim below decides for real.
    const early = decideClaim({ now: ctx.now(), sender: { ...sender, sessionStatus: 'WORKING', sessionStatusAt: ctx.now() }, sendingPaused: store.sendingPaused, sentToday: 0, sentTodayToBuyer: 0, random });
    if (!early.ok && (early.reason === 'gap' || early.reason === 'quiet_hours' || early.reason === 'paused' || early.reason === 'acks_stalled')) {
      return waitFor(notificationId, early.reason, early.retryAt && jitter(early.retryAt, sender));
    }

    const snapshot = await rereadOrder(n, store, parseOrderSnapshot(order.snapshot), order.source);
    if (!isEventCurrent(snapshot, event)) return done(notificationId, 'skipped', 'stale');
    const phone = recipient(store, snapshot);
    if (!phone.ok) return done(notificationId, 'skipped', phone.reasonCode);
    const [optedOut] = await ctx.db.select({ phone: optOuts.phone }).from(optOuts).where(and(eq(optOuts.storeId, n.storeId), eq(optOuts.phone, phone.digits)));
    if (optedOut && !store.testModePhone) return done(notificationId, 'skipped', 'opted_out');
    const options = await withReviewLink(ctx.db, {
      enabled: store.reviewLinksEnabled, base: publicBase(ctx.config), notificationId, storeId: store.id, templateText: template.text, order: snapshot,
      options: { shopName: store.name, timezone: store.timezone },
    });
    const rendered = tryRenderTemplate(template.text, snapshot, options);
    if (!rendered.ok) return done(notificationId, 'skipped', 'render_failed');
    const [attachment] = await ctx.db
      .select({ id: templateAttachments.id, kind: templateAttachments.kind, filename: templateAttachments.filename, sizeBytes: templateAttachments.sizeBytes, sha256: templateAttachments.sha256 })
      .from(templateAttachments)
      .where(eq(templateAttachments.templateId, template.id));
    return { phone, text: rendered.text, attachment: attachment ? { ...attachment, kind: attachment.kind as AttachmentKind } : null };
  }

  /** Re-read the order: a buyer who cancelled at 23:00 is not told "accepted" at 09:00. */
  async function rereadOrder(n: Loaded['n'], store: Loaded['store'], stored: KaspiOrder, source: string): Promise<KaspiOrder> {
    const kaspiClient = kaspi(store);
    if (!kaspiClient || source === 'push') return stored;
    try {
      const fresh = await kaspiClient.getOrderByCode(n.orderCode);
      // Used for this decision only, never written to `orders`: the poll must still see the
      // change as new, or the event it means (accepted, cancelled, …) would never be notified.
      return fresh ? { ...fresh, entries: fresh.entries.length ? fresh.entries : stored.entries } : stored;
    } catch (err) {
      // Kaspi being down must not hold every message; the poll re-reads orders every minute.
      if (err instanceof KaspiAuthError) log.warn({ storeId: n.storeId }, 'Kaspi token rejected during pre-send re-read');
      else log.warn({ storeId: n.storeId, orderCode: n.orderCode, err: (err as Error).message }, 'pre-send Kaspi re-read failed; using the stored order');
      return stored;
    }
  }

  /** WAHA sends no event for a session that was already WORKING when it was connected: ask. */
  async function checkSession(notificationId: string, sender: Sender, store: Loaded['store'], client: WahaClient): Promise<string | SendResult> {
    if (sessionState(sender.sessionStatus, sender.sessionStatusAt, ctx.now()) !== 'unknown' || store.sendingPaused) return sender.sessionStatus;
    let reported: string;
    try {
      const info = await client.getSession();
      reported = info?.status ?? 'STOPPED';
      // A session already WORKING when it was connected sends no session.status: this is where its phone is first seen.
      if (normalizeSessionStatus(reported) === 'WORKING') await recordPairing(ctx.db, sender.id, info?.me?.id, ctx.now());
    } catch (err) {
      if (err instanceof WahaError && err.kind === 'auth') return wait(notificationId, 'waha_unauthorized', null);
      if (err instanceof WahaError) return wait(notificationId, 'waha_unreachable', null);
      throw err;
    }
    const known = normalizeSessionStatus(reported);
    await ctx.db.update(senders).set({ sessionStatus: known, sessionStatusAt: ctx.now() }).where(eq(senders.id, sender.id));
    return known;
  }

  /** The number check happens once per buyer number and sender; its answer is cached. */
  async function resolveChat(notificationId: string, sender: Sender, phone: Phone, sessionStatus: string, client: WahaClient): Promise<string | SendResult> {
    const [check] = await ctx.db.select().from(phoneChecks).where(and(eq(phoneChecks.senderId, sender.id), eq(phoneChecks.phone, phone.digits)));
    if (check) return check.numberExists ? (check.chatId ?? phone.chatId) : done(notificationId, 'skipped', 'not_on_whatsapp');
    if (sessionStatus !== 'WORKING') return phone.chatId; // the claim waits for the session
    try {
      const exists = await client.checkExists(phone.digits);
      await ctx.db.insert(phoneChecks).values({ senderId: sender.id, phone: phone.digits, numberExists: exists.numberExists, chatId: exists.chatId }).onConflictDoNothing();
      if (!exists.numberExists) return done(notificationId, 'skipped', 'not_on_whatsapp');
      return exists.chatId ?? phone.chatId;
    } catch (err) {
      if (err instanceof WahaSessionNotReadyError) return wait(notificationId, 'session_not_working', null);
      if (err instanceof WahaError && err.kind === 'auth') return wait(notificationId, 'waha_unauthorized', null);
      if (err instanceof WahaError) return wait(notificationId, 'waha_unreachable', null);
      throw err;
    }
  }

  /** An id reserved for an attempt proven absent is reused, so WhatsApp itself dedupes. */
  async function reserveMessageId(attempts: (typeof messageAttempts.$inferSelect)[], sessionStatus: string, client: WahaClient): Promise<string | null> {
    const reused = attempts.find((a) => a.outcome === 'not_sent' && a.reservedId)?.reservedId ?? null;
    if (reused || sessionStatus !== 'WORKING') return reused;
    try {
      return await client.newMessageId();
    } catch {
      return null; // WEBJS has none; the echo or the chat's own messages identify the send.
    }
  }

  interface ClaimRequest {
    notificationId: string;
    eventAt: Date;
    store: Loaded['store'];
    sender: Sender;
    sessionStatus: string;
    phone: string;
    chatId: string;
    text: string;
    reservedId: string | null;
    attemptNo: number;
  }

  /**
   * Pacing, caps, quiet hours, pause, session and stalled receipts, decided in one transaction that
   * locks the sender row; on success the attempt is recorded as `sending` before any HTTP call.
   */
  async function claimSlot(r: ClaimRequest): Promise<SendResult | { attemptId: string }> {
    const claim = await ctx.db.transaction(async (tx) => {
      // NO KEY UPDATE still serializes the sender's claims (and waits for settings changes, which
      // lock FOR UPDATE), but lets foreign-key checks through: a plain FOR UPDATE also held every
      // insert that references the sender (the number checks and LIDs of the sender's other
      // messages, being prepared meanwhile) until this claim committed (bench/CAPACITY.md).
      const [locked] = await tx.select().from(senders).where(eq(senders.id, r.sender.id)).for('no key update');
      if (!locked) throw new Error(`sender ${r.sender.id} vanished`);
      // Read the clock after the lock: a claim that waited for another must compare against the
      // next_allowed_at that one just set, with the time it actually is now.
      const now = ctx.now();
      const dayStart = localDayStart(now, locked.timezone);
      const [counts] = await tx
        .select({ all: sql<number>`count(*)::int`, buyer: sql<number>`count(*) filter (where ${messageAttempts.phone} = ${r.phone})::int` })
        .from(messageAttempts)
        .where(and(eq(messageAttempts.senderId, locked.id), gte(messageAttempts.startedAt, dayStart), inArray(messageAttempts.outcome, ['sending', 'sent', 'unknown'])));
      const [fresh] = await tx.select({ paused: stores.sendingPaused }).from(stores).where(eq(stores.id, r.store.id));
      const decision = decideClaim({
        now,
        sender: { ...locked, sessionStatus: r.sessionStatus, sessionStatusAt: now },
        sendingPaused: fresh?.paused ?? true,
        sentToday: counts?.all ?? 0,
        sentTodayToBuyer: r.store.testModePhone ? 0 : (counts?.buyer ?? 0),
        random,
        heldAhead: await heldAhead(tx, locked.id, r.notificationId, r.eventAt, now),
      });
      if (!decision.ok) {
        // Held by a day limit, or queued behind messages that were: this one joins the backlog,
        // which leaves oldest first when the limit allows again.
        if (decision.reason === 'daily_cap' || decision.reason === 'warmup' || decision.reason === 'backlog') {
          await tx.update(notifications).set({ heldSince: sql`coalesce(${notifications.heldSince}, ${now})` }).where(eq(notifications.id, r.notificationId));
        }
        return decision;
      }
      // A «стоп» that arrived while we asked WAHA (number check, LID, reserved id) still counts.
      const [optedOut] = r.store.testModePhone ? [] : await tx.select({ phone: optOuts.phone }).from(optOuts).where(and(eq(optOuts.storeId, r.store.id), eq(optOuts.phone, r.phone)));
      if (optedOut) return { ok: false as const, optedOut: true as const };
      // The one guard against sending what an admin just cancelled, a resend raced by a late
      // ack, or anything else that moved the row: only queued/scheduled may become sending.
      const previous = await applyStatus(tx, { notificationId: r.notificationId, to: 'sending', source: 'claim', at: now });
      if (previous === undefined) return { ok: false as const, moved: true as const };
      await tx.update(senders).set({ nextAllowedAt: decision.nextAllowedAt, updatedAt: now }).where(eq(senders.id, locked.id));
      await tx.update(notifications).set({ heldSince: null }).where(and(eq(notifications.id, r.notificationId), isNotNull(notifications.heldSince)));
      const [attempt] = await tx
        .insert(messageAttempts)
        .values({
          notificationId: r.notificationId, senderId: locked.id, attemptNo: r.attemptNo, renderedText: r.text, phone: r.phone, chatId: r.chatId,
          wahaMessageId: r.reservedId, wahaKeyId: r.reservedId ? keyIdOf(r.reservedId) : null, reservedId: r.reservedId, startedAt: now, outcome: 'sending',
        })
        .returning({ id: messageAttempts.id });
      return { ok: true as const, attemptId: attempt!.id };
    });
    if ('optedOut' in claim) return done(r.notificationId, 'skipped', 'opted_out');
    if ('moved' in claim) {
      const [row] = await ctx.db.select({ status: notifications.status, reasonCode: notifications.reasonCode }).from(notifications).where(eq(notifications.id, r.notificationId));
      return { result: 'done', status: (row?.status ?? 'skipped') as NotificationStatus, reasonCode: row?.reasonCode ?? null };
    }
    if (!claim.ok) return wait(r.notificationId, claim.reason, claim.retryAt && claim.reason === 'gap' ? jitter(claim.retryAt, r.sender) : claim.retryAt);
    return { attemptId: claim.attemptId };
  }

  interface ClaimedSend {
    notificationId: string;
    n: Loaded['n'];
    sender: Sender;
    client: WahaClient;
    attemptId: string;
    chatId: string;
    text: string;
    reservedId: string | null;
    attachment: AttachmentRef | null;
  }

  async function sendClaimed(r: ClaimedSend): Promise<SendResult> {
    const { notificationId, attemptId } = r;
    try {
      const { sent, reservedId } = await deliver(r);
      const messageId = sent.messageId ?? reservedId;
      // An echo may have stored the id already: an answer without one must not erase it; and a
      // look-up that meanwhile proved the attempt absent is not overwritten.
      await ctx.db
        .update(messageAttempts)
        .set({
          wahaMessageId: sql`coalesce(${messageId}, ${messageAttempts.wahaMessageId})`,
          wahaKeyId: sql`coalesce(${messageId ? keyIdOf(messageId) : null}, ${messageAttempts.wahaKeyId})`,
          outcome: 'sent',
          confirmedBy: sql`coalesce(${messageAttempts.confirmedBy}, 'response')`,
          finishedAt: ctx.now(),
        })
        .where(and(eq(messageAttempts.id, attemptId), inArray(messageAttempts.outcome, ['sending', 'unknown', 'sent'])));
      await applyStatus(ctx.db, { notificationId, to: 'sent', source: 'send', at: ctx.now() });
      await clearWaitingReason(ctx.db, notificationId);
      if (messageId) await applyPendingAcks(ctx, keyIdOf(messageId));
      log.info({ notificationId, storeId: r.n.storeId, orderCode: r.n.orderCode, event: r.n.event, engine: sent.engineShape }, 'message sent');
      return { result: 'sent', attemptId, hasMessageId: messageId !== null };
    } catch (err) {
      if (!(err instanceof WahaError)) throw err;
      return settleFailedSend(r, err);
    }
  }

  /**
   * The one HTTP send of a claimed attempt. With an attachment, its bytes are read now and what it
   * is goes on the attempt first (the message log shows which file went out); it is sent with the
   * text as caption. When WAHA cannot take files at all or refuses this one — answers that come
   * before anything reaches WhatsApp — the text goes alone in the same claimed slot: nothing was
   * sent, so this is still the first send. Any other failure is the caller's to settle.
   */
  async function deliver(r: ClaimedSend): Promise<{ sent: SendTextResult; reservedId: string | null }> {
    if (!r.attachment) return { sent: await r.client.sendText({ chatId: r.chatId, text: r.text, id: r.reservedId }), reservedId: r.reservedId };
    const a = r.attachment;
    const stillSending = and(eq(messageAttempts.id, r.attemptId), eq(messageAttempts.outcome, 'sending'));
    const [file] = await ctx.db.select({ mimetype: templateAttachments.mimetype, content: templateAttachments.content }).from(templateAttachments).where(eq(templateAttachments.id, a.id));
    await ctx.db.update(messageAttempts).set({
      attachmentId: a.id, attachmentKind: a.kind, attachmentFilename: a.filename, attachmentSize: a.sizeBytes, attachmentSha256: a.sha256,
      // Replaced or removed since the claim read it: the seller no longer wants that file sent.
      attachmentFallback: file ? null : 'attachment_gone',
    }).where(stillSending);
    if (file) {
      try {
        const sent = await r.client.sendMedia({ kind: a.kind, chatId: r.chatId, caption: r.text, file: { mimetype: file.mimetype, filename: a.filename, data: file.content }, timeoutMs: 90_000 });
        return { sent, reservedId: null };
      } catch (err) {
        const fallback = err instanceof WahaError ? mediaFallbackFor(err) : null;
        if (!fallback) throw err;
        log.warn({ notificationId: r.notificationId, kind: (err as WahaError).kind, httpStatus: (err as WahaError).httpStatus }, 'WAHA took no file; sending the text alone');
        await ctx.db.update(messageAttempts).set({ attachmentFallback: fallback, error: (err as Error).message }).where(stillSending);
      }
    }
    // The text alone, with an id reserved for it as any text send has (NOWEB/GOWS).
    const reservedId = await reserveMessageId([], 'WORKING', r.client);
    if (reservedId) await ctx.db.update(messageAttempts).set({ reservedId, wahaMessageId: reservedId, wahaKeyId: keyIdOf(reservedId) }).where(stillSending);
    return { sent: await r.client.sendText({ chatId: r.chatId, text: r.text, id: reservedId }), reservedId };
  }

  /**
   * What a failed send means. The attempt is settled only while it is still `sending`: a
   * `message.any` echo may already have proven it sent (lib/notifications/echoes.ts).
   */
  async function settleFailedSend(r: { notificationId: string; sender: Sender; attemptId: string }, err: WahaError): Promise<SendResult> {
    const { notificationId, attemptId } = r;
    const settle = async (outcome: string) => {
      const rows = await ctx.db
        .update(messageAttempts)
        .set({ outcome, error: err.message, finishedAt: ctx.now() })
        .where(and(eq(messageAttempts.id, attemptId), eq(messageAttempts.outcome, 'sending')))
        .returning({ id: messageAttempts.id });
      return rows.length > 0;
    };
    log.warn({ notificationId, kind: err.kind, httpStatus: err.httpStatus }, 'WAHA send failed');
    const notSent = async (reason: WaitReason) => {
      const proven = await proveNotSent({ attemptId, notificationId, outcomes: ['sending'], statuses: ['sending'], source: 'send_failed', error: err.message });
      if (proven === 'sent') return echoed();
      return wait(notificationId, reason, null);
    };
    const echoed = async (): Promise<SendResult> => {
      // Kept for engineers: WAHA failed the request although the message went out.
      await ctx.db.update(messageAttempts).set({ error: err.message }).where(and(eq(messageAttempts.id, attemptId), isNull(messageAttempts.error)));
      return { result: 'sent', attemptId, hasMessageId: true };
    };
    switch (err.kind) {
      case 'ambiguous':
        if (!(await settle('unknown'))) return echoed();
        return { result: 'ambiguous', attemptId };
      case 'session_not_ready': {
        const reported = err instanceof WahaSessionNotReadyError && err.sessionStatus ? normalizeSessionStatus(err.sessionStatus) : 'STOPPED';
        await ctx.db.update(senders).set({ sessionStatus: reported === 'WORKING' ? 'STOPPED' : reported, sessionStatusAt: ctx.now() }).where(eq(senders.id, r.sender.id));
        return notSent('session_not_working');
      }
      case 'auth':
        return notSent('waha_unauthorized');
      case 'network':
        return notSent('waha_unreachable');
      case 'refused':
        if (!(await settle('failed'))) return echoed();
        return done(notificationId, 'failed', 'cold_outreach_refused');
      default:
        if (!(await settle('failed'))) return echoed();
        return done(notificationId, 'failed', 'waha_rejected');
    }
  }

  /**
   * An attempt proven not sent and its notification back to `scheduled` for the next claim, in one
   * transaction: a crash between the two would leave the row `sending` with nothing to send it.
   * 'sent' when an echo or an ack settled the attempt meanwhile; 'other' when it moved elsewhere.
   */
  async function proveNotSent(r: { attemptId: string; notificationId: string; outcomes: string[]; statuses: NotificationStatus[]; source: string; error?: string }): Promise<'reopened' | 'sent' | 'other'> {
    return ctx.db.transaction(async (tx) => {
      const proven = await tx
        .update(messageAttempts)
        .set({ outcome: 'not_sent', finishedAt: ctx.now(), ...(r.error ? { error: r.error } : {}) })
        .where(and(eq(messageAttempts.id, r.attemptId), inArray(messageAttempts.outcome, r.outcomes), sql`coalesce(${messageAttempts.lastAck}, -2) < 1`))
        .returning({ id: messageAttempts.id });
      if (proven.length === 0) {
        const [now] = await tx.select({ outcome: messageAttempts.outcome }).from(messageAttempts).where(eq(messageAttempts.id, r.attemptId));
        return now?.outcome === 'sent' ? 'sent' : 'other';
      }
      await reopenNotification(tx, { notificationId: r.notificationId, from: r.statuses, to: 'scheduled', source: r.source, at: ctx.now() });
      return 'reopened';
    });
  }

  /**
   * After an ambiguous send: was it sent? What WAHA already told us first (an ack, a
   * `message.any` echo settled the attempt), then the reserved id, then — WEBJS — the chat's own
   * messages with the exact text. A session that cannot answer (NOWEB without its store) leaves it
   * unknown: never "absent", which would send it again.
   */
  async function lookUpAttempt({ attemptId }: { attemptId: string }): Promise<LookupResult> {
    const [a] = await ctx.db.select().from(messageAttempts).where(eq(messageAttempts.id, attemptId));
    if (!a) throw new Error(`attempt ${attemptId} not found`);
    if (a.outcome === 'sent') return { found: 'sent' };
    if ((a.lastAck ?? -2) >= 1 && a.wahaMessageId) {
      // WhatsApp already acknowledged it: sent, whatever a flaky lookup would say.
      await markAttemptSent(ctx, a.id, a.notificationId, a.wahaMessageId, null);
      return { found: 'sent' };
    }
    const [s] = a.senderId ? await ctx.db.select().from(senders).where(eq(senders.id, a.senderId)) : [];
    if (!s || !a.chatId) return { found: 'unknown' };
    try {
      const found = await findAttemptAtWaha(waha(s), a);
      if (found === null) return { found: 'unknown' };
      if (found.present) {
        await markAttemptSent(ctx, a.id, a.notificationId, found.id, found.ack);
        return { found: 'sent' };
      }
      const proven = await proveNotSent({ attemptId: a.id, notificationId: a.notificationId, outcomes: ['sending', 'unknown'], statuses: ['sending'], source: 'lookup_absent' });
      return proven === 'reopened' ? { found: 'absent' } : proven === 'sent' ? { found: 'sent' } : { found: 'unknown' };
    } catch (err) {
      if (!(err instanceof WahaError)) throw err;
      log.warn({ attemptId, kind: err.kind }, 'message lookup failed');
      return { found: 'unknown' };
    }
  }

  /** Highest ack PostgreSQL knows for the notification's sent attempt (signals are best-effort). */
  async function deliveryState({ notificationId }: NotificationRef): Promise<{ status: NotificationStatus; lastAck: number | null }> {
      // An ack that outran the stored message id and was parked as pending is applied here at the latest.
      const [sentAttempt] = await ctx.db
        .select({ keyId: messageAttempts.wahaKeyId })
        .from(messageAttempts)
        .where(and(eq(messageAttempts.notificationId, notificationId), eq(messageAttempts.outcome, 'sent')))
        .orderBy(desc(messageAttempts.attemptNo))
        .limit(1);
      if (sentAttempt?.keyId) await applyPendingAcks(ctx, sentAttempt.keyId);
      const [n] = await ctx.db.select({ status: notifications.status }).from(notifications).where(eq(notifications.id, notificationId));
      const [a] = await ctx.db
        .select({ lastAck: messageAttempts.lastAck })
        .from(messageAttempts)
        .where(and(eq(messageAttempts.notificationId, notificationId), eq(messageAttempts.outcome, 'sent')))
        .orderBy(desc(messageAttempts.attemptNo))
        .limit(1);
      return { status: (n?.status ?? 'queued') as NotificationStatus, lastAck: a?.lastAck ?? null };
  }

  /**
   * No SERVER ack within the wait: ask WAHA about the message itself. Only when a resend will
   * follow (`allowResend`) does a proven absence reopen the notification for it; otherwise the
   * message stays `sent` and the DEVICE wait decides.
   */
  async function checkSentMessage({ notificationId, allowResend = true }: NotificationRef & { allowResend?: boolean }): Promise<LookupResult> {
      const [a] = await ctx.db
        .select()
        .from(messageAttempts)
        .where(and(eq(messageAttempts.notificationId, notificationId), eq(messageAttempts.outcome, 'sent')))
        .orderBy(desc(messageAttempts.attemptNo))
        .limit(1);
      if (!a?.wahaMessageId || !a.chatId || !a.senderId) return { found: 'unknown' };
      const [s] = await ctx.db.select().from(senders).where(eq(senders.id, a.senderId));
      if (!s) return { found: 'unknown' };
      try {
        const message = await waha(s).getMessage(a.chatId, a.wahaMessageId);
        if (!message) {
          if (!allowResend || (a.lastAck ?? -2) >= 1) return { found: 'unknown' };
          // Proven absent: the next claim reuses the same reserved id for the one allowed resend.
          const proven = await proveNotSent({ attemptId: a.id, notificationId, outcomes: ['sent'], statuses: ['sending', 'sent'], source: 'no_server_ack_absent' });
          return proven === 'reopened' ? { found: 'absent' } : { found: 'unknown' };
        }
        if (message.ack !== null) {
          const { resumedSenderId } = await recordAck(ctx, a.id, notificationId, message.ack, 'lookup');
          if (resumedSenderId) await wakeWaiting(ctx, resumedSenderId);
        }
        return { found: 'sent' };
      } catch (err) {
        if (!(err instanceof WahaError)) throw err;
        return { found: 'unknown' };
      }
  }

  /**
   * The sender's next planned slot: one mean gap after the last slot planned for a message that
   * is already due (a review request held back until tomorrow is not in the queue yet), never
   * before `earliest` or next_allowed_at, outside quiet hours. Reading the live rows (not a stored
   * cursor) means a cancelled or skipped message frees its slot at once. Planning is only a plan
   * (docs/architecture.md "Pacing at claim time"); it keeps a backlog in order, so each
   * workflow claims near its own slot instead of all racing for the next free one.
   */
  async function planSlot(senderId: string, earliest: Date): Promise<Date> {
    const [s] = await ctx.db.select().from(senders).where(eq(senders.id, senderId));
    if (!s) return earliest;
    const meanGapMs = ((s.minGapSeconds + s.maxGapSeconds) / 2) * 1000;
    const [last] = await ctx.db
      .select({ at: sql<Date | null>`max(${notifications.scheduledFor})` })
      .from(notifications)
      .innerJoin(stores, eq(stores.id, notifications.storeId))
      .innerJoin(templates, eq(templates.id, notifications.templateId))
      .where(and(
        eq(stores.senderId, senderId),
        eq(notifications.status, 'scheduled'),
        sql`${notifications.eventAt} + make_interval(mins => ${templates.delayMinutes}) <= ${earliest}`,
      ));
    const lastPlanned = last?.at ? new Date(last.at).getTime() + meanGapMs : 0;
    return nextSendableAt(new Date(Math.max(earliest.getTime(), s.nextAllowedAt.getTime(), lastPlanned)), s);
  }

  async function waitFor(notificationId: string, reason: WaitReason, retryAt: Date | null): Promise<SendResult> {
    await setWaitingReason(ctx.db, notificationId, reason, ru.waitReasons[reason] ?? reason, retryAt);
    return { result: 'wait', reason, retryAt: retryAt?.getTime() ?? null };
  }

  /** Spreads a backlog over the sender's gap so waiting workflows do not all wake at one instant. */
  function jitter(at: Date, sender: { minGapSeconds: number; maxGapSeconds: number }): Date {
    const spread = Math.max(1, (sender.minGapSeconds + sender.maxGapSeconds) / 2) * 1000;
    return new Date(at.getTime() + Math.floor(random() * spread));
  }
}

export type NotificationActivities = ReturnType<typeof createNotificationActivities>;

/**
 * Whether an older message of this sender, held back by a day limit, still waits (status
 * `scheduled`, `held_since` set): the backlog leaves in (event time, id) order. A held message
 * whose retry time passed more than 15 minutes ago no longer counts, so a row whose workflow is
 * gone cannot hold the number for ever (a live one re-arms `scheduled_for` at every refusal).
 */
async function heldAhead(db: Pick<AppContext['db'], 'execute'>, senderId: string, notificationId: string, eventAt: Date, now: Date): Promise<boolean> {
  const r = await db.execute<{ ahead: boolean }>(sql`
    select exists (
      select 1 from notifications x join stores s on s.id = x.store_id
      where s.sender_id = ${senderId} and x.status = 'scheduled' and x.held_since is not null
        and x.id <> ${notificationId} and (x.event_at, x.id) < (${eventAt}, ${notificationId}::uuid)
        and x.scheduled_for >= ${now}::timestamptz - interval '15 minutes'
    ) as ahead`);
  return r.rows[0]?.ahead === true;
}

/** A template's file as the claim sees it: what it is, not its bytes (those are read at the send). */
interface AttachmentRef {
  id: string;
  kind: AttachmentKind;
  filename: string;
  sizeBytes: number;
  sha256: string;
}

/**
 * Why a file send may fall back to the text alone, or null when it may not: only for answers that
 * prove nothing was sent — this WAHA cannot send files (422 AvailableInPlusVersion, 501), or it
 * refused the request (400, 413 from WAHA's body limit or a proxy in front of it). A timeout or a
 * 5xx may have sent the file: that is an ambiguous send, looked up like any other.
 */
export function mediaFallbackFor(err: WahaError): 'media_unsupported' | 'media_rejected' | null {
  if (err.kind === 'media_unsupported') return 'media_unsupported';
  if (err.kind === 'bad_request') return 'media_rejected';
  return null;
}

async function clearWaitingReason(db: AppContext['db'], notificationId: string): Promise<void> {
  await db.update(notifications).set({ reasonCode: null, reason: null }).where(and(eq(notifications.id, notificationId), inArray(notifications.status, ['sending', 'sent', 'delivered', 'read'])));
}

/** Where WAHA can tell: present (with its id and ack), absent, or null when nothing identifies it. */
async function findAttemptAtWaha(client: WahaClient, a: typeof messageAttempts.$inferSelect): Promise<{ present: true; id: string; ack: number | null } | { present: false } | null> {
  if (!a.chatId) return null;
  if (a.wahaMessageId) {
    const message = await client.getMessage(a.chatId, a.wahaMessageId);
    return message ? { present: true, id: a.wahaMessageId, ack: message.ack } : { present: false };
  }
  if (!a.renderedText) return null;
  const [match] = await client.findOwnMessagesByText({ chatId: a.chatId, text: a.renderedText, since: new Date(a.startedAt.getTime() - 60_000) });
  return match ? { present: true, id: match.id, ack: match.ack } : { present: false };
}

async function markAttemptSent(ctx: AppContext, attemptId: string, notificationId: string, messageId: string, ack: number | null): Promise<void> {
  await ctx.db.update(messageAttempts).set({ outcome: 'sent', wahaMessageId: messageId, wahaKeyId: keyIdOf(messageId), confirmedBy: 'lookup', finishedAt: ctx.now() }).where(eq(messageAttempts.id, attemptId));
  await applyStatus(ctx.db, { notificationId, to: 'sent', source: 'lookup', at: ctx.now() });
  if (ack !== null) await recordAck(ctx, attemptId, notificationId, ack, 'lookup');
  await applyPendingAcks(ctx, keyIdOf(messageId));
}
