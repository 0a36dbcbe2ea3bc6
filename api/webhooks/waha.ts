import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { senders, stores } from '../../drizzle/schema.ts';
import type { AppContext } from '../../lib/context.ts';
import { applyInboundEvent, DEFAULT_OPT_OUT_WORDS, resolveOptOutSender, type InboundOutcome } from '../../lib/notifications/inbound-events.ts';
import { signalAck, wakeWaiting } from '../../lib/notifications/wake.ts';
import { parseWebhook, verifyWebhookHmac, WebhookPayloadError, WEBHOOK_HEADERS } from '../../lib/waha/webhooks.ts';

/**
 * POST /webhooks/waha/:storeId — WAHA's events for the store's WhatsApp number.
 * Verify the HMAC of the raw body before parsing anything; a store that does not exist or has no
 * WhatsApp answers exactly like a wrong signature, so a stranger learns nothing about store ids.
 * Freshness is judged on the signed envelope's timestamp, never on a header anyone can set.
 * What the event does lives in lib/notifications/inbound-events.ts; signals to workflows are
 * best-effort after the commit — PostgreSQL is the truth and the workflow re-reads it.
 */
const uuid = z.uuid();
// WAHA retries for a while; a delivery older than this is a replay, not a retry.
const MAX_WEBHOOK_AGE_MS = 24 * 60 * 60 * 1000;
const REJECTED = { ok: false, error: 'bad signature' } as const;

export function wahaWebhookRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  const optOutWords = ctx.config.OPT_OUT_WORDS.length ? ctx.config.OPT_OUT_WORDS : DEFAULT_OPT_OUT_WORDS;
  app.post('/webhooks/waha/:storeId', async (c) => {
    const storeId = c.req.param('storeId');
    const raw = await c.req.text();
    const [row] = uuid.safeParse(storeId).success
      ? await ctx.db.select({ sender: senders }).from(stores).innerJoin(senders, eq(senders.id, stores.senderId)).where(eq(stores.id, storeId))
      : [];
    const secret = row?.sender.webhookSecretEnc ? ctx.secrets.decrypt(row.sender.webhookSecretEnc) : null;
    if (!row || secret === null || !verifyWebhookHmac(raw, c.req.header(WEBHOOK_HEADERS.hmac), secret)) {
      if (row) ctx.logger.warn({ storeId }, 'WAHA webhook with a missing or wrong signature rejected');
      return c.json(REJECTED, 401);
    }

    let parsed;
    try {
      parsed = parseWebhook(raw);
    } catch (err) {
      if (err instanceof WebhookPayloadError) return c.json({ ok: false, error: err.message }, 400);
      throw err;
    }
    if (ctx.now().getTime() - parsed.envelope.timestamp > MAX_WEBHOOK_AGE_MS) return c.json({ ok: false, error: 'stale delivery' }, 400);

    const target = { storeId, sender: row.sender };
    const optOut = await resolveOptOutSender(ctx, target, parsed, optOutWords);
    const outcome = await applyInboundEvent(ctx, target, parsed, optOut);
    await afterCommit(ctx, storeId, outcome);
    if ('duplicate' in outcome) return c.json({ ok: true, duplicate: true });
    if ('pending' in outcome) return c.json({ ok: true, pending: true });
    return c.json({ ok: true });
  });
  return app;
}

async function afterCommit(ctx: AppContext, storeId: string, outcome: InboundOutcome): Promise<void> {
  if ('ack' in outcome) await signalAck(ctx, outcome.workflowId, outcome.ack);
  if ('session' in outcome) ctx.logger.info({ storeId, status: outcome.session }, 'WhatsApp session status changed');
  if ('optedOut' in outcome && outcome.optedOut) {
    const how = 'unmappedLid' in outcome.optedOut ? 'unmapped_lid' : outcome.optedOut.matchedBy;
    ctx.logger.info({ storeId, matchedBy: how }, 'buyer opted out by WhatsApp message');
  }
  const resumed = 'resumedSenderId' in outcome ? outcome.resumedSenderId : null;
  if (resumed) ctx.logger.info({ storeId }, 'WhatsApp receipts flow again: held queue released');
  const senderId = resumed ?? ('session' in outcome && outcome.session === 'WORKING' ? (await ctx.db.select({ id: stores.senderId }).from(stores).where(eq(stores.id, storeId)))[0]?.id : null);
  if (senderId) await wakeWaiting(ctx, senderId);
}
