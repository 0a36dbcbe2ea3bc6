import { WorkflowNotFoundError } from '@temporalio/client';
import { and, desc, eq, isNull, lt, or } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { recordAck } from '../../lib/notifications/acks.ts';
import { messageAttempts, messageEvents, notifications, optOuts, senders, stores } from '../../drizzle/schema.ts';
import type { AppContext } from '../../lib/context.ts';
import { parseWebhook, verifyWebhookHmac, keyIdOf, normalizeSessionStatus, WebhookPayloadError, WEBHOOK_HEADERS } from '../../lib/waha/webhooks.ts';
import { wakeWaiting } from '../../lib/notifications/wake.ts';
import { ackSignal } from '../../workflows/signals.ts';

/**
 * POST /webhooks/waha/:storeId — WAHA's events for the store's WhatsApp number.
 * Verify the HMAC of the raw body before parsing anything (401 otherwise); deduplicate on the
 * envelope id; apply acks with the one monotonic status update; answer fast. Signals to the
 * workflow are best-effort: PostgreSQL is the truth and the workflow re-reads it.
 */
const uuid = z.uuid();
// WAHA retries for a while; a delivery older than this is a replay, not a retry.
const MAX_WEBHOOK_AGE_MS = 24 * 60 * 60 * 1000;

export const DEFAULT_OPT_OUT_WORDS = ['стоп', 'stop', 'отписаться', 'отписка', 'unsubscribe', 'тоқта', 'тоқтату', 'хабарлама керек емес'];

export function isOptOutMessage(body: string, words: readonly string[] = DEFAULT_OPT_OUT_WORDS): boolean {
  const normalized = body.trim().toLowerCase().replace(/[.!?\s]+$/u, '');
  return words.some((w) => normalized === w);
}

export function wahaWebhookRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  app.post('/webhooks/waha/:storeId', async (c) => {
    const storeId = c.req.param('storeId');
    const raw = await c.req.text();
    if (!uuid.safeParse(storeId).success) return c.json({ ok: false, error: 'unknown store' }, 404);
    const [row] = await ctx.db
      .select({ store: stores, sender: senders })
      .from(stores)
      .innerJoin(senders, eq(senders.id, stores.senderId))
      .where(eq(stores.id, storeId));
    if (!row?.sender.webhookSecretEnc) return c.json({ ok: false, error: 'unknown store' }, 404);
    const secret = ctx.secrets.decrypt(row.sender.webhookSecretEnc);
    if (!verifyWebhookHmac(raw, c.req.header(WEBHOOK_HEADERS.hmac), secret)) {
      ctx.logger.warn({ storeId }, 'WAHA webhook with a missing or wrong signature rejected');
      return c.json({ ok: false, error: 'bad signature' }, 401);
    }
    const sentAt = Number(c.req.header(WEBHOOK_HEADERS.timestamp));
    if (Number.isFinite(sentAt) && sentAt > 0 && ctx.now().getTime() - sentAt > MAX_WEBHOOK_AGE_MS) {
      return c.json({ ok: false, error: 'stale delivery' }, 400);
    }

    let parsed;
    try {
      parsed = parseWebhook(raw);
    } catch (err) {
      if (err instanceof WebhookPayloadError) return c.json({ ok: false, error: err.message }, 400);
      throw err;
    }
    const { envelope } = parsed;

    // The dedupe row and what the event does commit together: a delivery that fails half-way
    // leaves nothing behind, so WAHA's retry is processed instead of being taken for a duplicate.
    const outcome = await ctx.db.transaction(async (tx) => {
      const inserted = await tx
        .insert(messageEvents)
        .values({
          envelopeId: envelope.id,
          storeId,
          kind: parsed.event,
          // An ack is parked as pending until it is matched, in this same statement: a send that
          // stores its message id concurrently then finds it (applyPendingAcks) in every order.
          ...(parsed.event === 'message.ack' ? { wahaKeyId: keyIdOf(parsed.payload.id), ack: parsed.payload.ack, pending: true } : {}),
        })
        .onConflictDoNothing()
        .returning({ id: messageEvents.id });
      if (inserted.length === 0) return { duplicate: true as const };
      const eventRowId = inserted[0]!.id;

      switch (parsed.event) {
        case 'message.ack': {
          const keyId = keyIdOf(parsed.payload.id);
          const [attempt] = await tx
            .select({ id: messageAttempts.id, notificationId: messageAttempts.notificationId, workflowId: notifications.workflowId })
            .from(messageAttempts)
            .innerJoin(notifications, eq(notifications.id, messageAttempts.notificationId))
            .where(and(eq(messageAttempts.wahaKeyId, keyId), eq(notifications.storeId, storeId)))
            .orderBy(desc(messageAttempts.startedAt))
            .limit(1);
          // The ack outran our own record of the send: it stays pending until the id is stored.
          if (!attempt) return { pending: true as const };
          await tx.update(messageEvents).set({ notificationId: attempt.notificationId, pending: false }).where(eq(messageEvents.id, eventRowId));
          await recordAck({ db: tx, now: ctx.now }, attempt.id, attempt.notificationId, parsed.payload.ack, 'webhook');
          return { signal: attempt.workflowId, ack: parsed.payload.ack };
        }
        case 'session.status': {
          const status = normalizeSessionStatus(parsed.payload.status);
          // Deliveries arrive out of order (retries): a late STARTING must not overwrite WORKING.
          const at = new Date(envelope.timestamp > 0 ? envelope.timestamp : ctx.now().getTime());
          await tx
            .update(senders)
            .set({ sessionStatus: status, sessionStatusAt: at, updatedAt: ctx.now() })
            .where(and(eq(senders.id, row.sender.id), or(isNull(senders.sessionStatusAt), lt(senders.sessionStatusAt, at))));
          return { session: status };
        }
        case 'message': {
          const p = parsed.payload;
          if (!p.fromMe && isOptOutMessage(p.body, ctx.config.OPT_OUT_WORDS.length ? ctx.config.OPT_OUT_WORDS : DEFAULT_OPT_OUT_WORDS)) {
            const phone = p.from.split('@')[0]?.replace(/\D/g, '') ?? '';
            if (phone) {
              await tx.insert(optOuts).values({ storeId, phone, source: 'whatsapp' }).onConflictDoNothing();
              return { optedOut: true as const };
            }
          }
          return {};
        }
        default:
          return {};
      }
    });

    if ('duplicate' in outcome) return c.json({ ok: true, duplicate: true });
    if ('pending' in outcome) return c.json({ ok: true, pending: true });
    // Every signal is a billable action: the workflow waits for DEVICE (or an ERROR); SERVER
    // alone it learns from PostgreSQL when its wait ends.
    if ('signal' in outcome && outcome.signal && (outcome.ack >= 2 || outcome.ack === -1)) await signalBestEffort(ctx, outcome.signal, outcome.ack);
    if ('session' in outcome) {
      ctx.logger.info({ storeId, status: outcome.session }, 'WhatsApp session status changed');
      if (outcome.session === 'WORKING') await wakeWaiting(ctx, row.sender.id);
    }
    if ('optedOut' in outcome) ctx.logger.info({ storeId }, 'buyer opted out by WhatsApp message');
    return c.json({ ok: true });
  });
  return app;
}

async function signalBestEffort(ctx: AppContext, workflowId: string, ack: number): Promise<void> {
  try {
    await ctx.temporal.workflow.getHandle(workflowId).signal(ackSignal, { ack });
  } catch (err) {
    // A finished workflow no longer listens; the status is already in PostgreSQL.
    if (!(err instanceof WorkflowNotFoundError)) ctx.logger.warn({ workflowId, err: (err as Error).message }, 'ack signal failed');
  }
}
