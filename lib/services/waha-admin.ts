import { eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { senders } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import { KaspiAuthError, KaspiClient, KaspiError } from '../kaspi/client.ts';
import { WahaClient, WahaError, type WahaSessionInfo } from '../waha/client.ts';
import { recordPairing } from '../waha/pairing.ts';
import { assessSession, type SessionIssue } from '../waha/session-health.ts';
import { requireStore, type Actor } from './access.ts';
import { recordAudit } from './audit.ts';
import { ConflictError, parseOrThrow, UpstreamError } from './errors.ts';
import { getWahaConnection } from './settings.ts';
import { wahaOutboundPolicy } from '../net/outbound.ts';
import { vmsg, vtext } from '../i18n/request-locale.ts';

/**
 * The settings page's live calls: WAHA session status and QR (proxied, so the API key never
 * reaches the browser), "Configure WAHA" (webhook URL, HMAC key, events, WEBJS tags), the Kaspi
 * token test, and the per-buyer daily limit (not part of the original settings API).
 */
async function client(ctx: AppContext, actor: Actor, storeId: unknown, timeoutMs = 10_000): Promise<{ client: WahaClient; webhookSecret: string | null; senderId: string }> {
  const conn = await getWahaConnection(ctx, actor, storeId);
  if (!conn) throw new ConflictError('settings_missing', 'WhatsApp settings missing');
  return { client: new WahaClient({ baseUrl: conn.baseUrl, apiKey: conn.apiKey, session: conn.session, timeoutMs, outbound: wahaOutboundPolicy(ctx.config) }), webhookSecret: conn.webhookSecret, senderId: conn.senderId };
}

function upstream(err: unknown): never {
  if (err instanceof WahaError) throw new UpstreamError('waha_error', err.message);
  throw err;
}

/**
 * The live session and what it lacks that we rely on; the verdict is kept on the sender (written
 * only when it changes) so the dashboard can say it without asking WAHA.
 */
export async function getSessionHealth(ctx: AppContext, actor: Actor, storeId: unknown): Promise<{ session: WahaSessionInfo | null; issues: SessionIssue[] }> {
  const store = await requireStore(ctx, actor, storeId);
  const { client: c, senderId } = await client(ctx, actor, store.id, 5_000);
  let session: WahaSessionInfo | null;
  try {
    session = await c.getSession();
  } catch (err) {
    upstream(err);
  }
  const issues = session ? assessSession(session, webhookUrlFor(ctx, store.id)) : [];
  if (session?.status === 'WORKING') await recordPairing(ctx.db, senderId, session.me?.id, ctx.now());
  await recordSessionHealth(ctx, senderId, issues);
  return { session, issues };
}

async function recordSessionHealth(ctx: AppContext, senderId: string, issues: SessionIssue[]): Promise<void> {
  await ctx.db.execute(sql`
    update senders set session_health = ${JSON.stringify(issues)}::jsonb, session_health_at = ${ctx.now()}
    where id = ${senderId} and session_health is distinct from ${JSON.stringify(issues)}::jsonb`);
}

/** The pairing QR as PNG, or null when the session is not waiting for a scan. */
export async function getSessionQr(ctx: AppContext, actor: Actor, storeId: unknown): Promise<Buffer | null> {
  const { client: c } = await client(ctx, actor, storeId, 5_000);
  try {
    return await c.getQr();
  } catch (err) {
    upstream(err);
  }
}

export function webhookUrlFor(ctx: AppContext, storeId: string): string {
  const base = (ctx.config.PUBLIC_URL ?? `http://localhost:${ctx.config.PORT}`).replace(/\/+$/, '');
  return `${base}/webhooks/waha/${storeId}`;
}

/**
 * Points the WAHA session's webhook at this store (creating and starting the session if new), with
 * every event we rely on, HMAC, WEBJS acks and NOWEB's message store. WAHA restarts a running
 * session to apply a new config (and reads the NOWEB store setting only at start), so sending
 * stops for a moment: the admin must confirm that first.
 */
export async function configureWaha(ctx: AppContext, actor: Actor, storeId: unknown, options: { confirmRestart: boolean }): Promise<{ created: boolean; status: string; webhookUrl: string }> {
  const store = await requireStore(ctx, actor, storeId);
  if (!options.confirmRestart) throw new ConflictError('restart_not_confirmed', 'WAHA restarts the session: confirm first', { _: vtext('restartNotConfirmed') });
  const { client: c, webhookSecret, senderId } = await client(ctx, actor, store.id);
  if (!webhookSecret) throw new ConflictError('webhook_secret_missing', 'no webhook secret');
  const webhookUrl = webhookUrlFor(ctx, store.id);
  try {
    const r = await c.upsertSessionConfig({ webhookUrl, hmacKey: webhookSecret, nowebStore: true });
    await recordAudit(ctx.db, { storeId: store.id, actor, action: 'whatsapp.configure_waha', details: { webhook_url: webhookUrl, created: r.created } });
    const after = await c.getSession().catch(() => null);
    if (after) await recordSessionHealth(ctx, senderId, assessSession(after, webhookUrl));
    return { created: r.created, status: r.status, webhookUrl };
  } catch (err) {
    upstream(err);
  }
}

export type KaspiTokenTest = { ok: true } | { ok: false; code: 'kaspi_token_missing' | 'kaspi_token_rejected' | 'kaspi_unavailable'; detail?: string };

/** Asks Kaspi for an order code that cannot exist: 200 = the token works, 401/403 = rejected. */
export async function testKaspiToken(ctx: AppContext, actor: Actor, storeId: unknown, options: { fetch?: typeof globalThis.fetch } = {}): Promise<KaspiTokenTest> {
  const store = await requireStore(ctx, actor, storeId);
  if (!store.kaspiTokenEnc) return { ok: false, code: 'kaspi_token_missing' };
  const token = ctx.secrets.decrypt(store.kaspiTokenEnc);
  const kaspi = new KaspiClient({ baseUrl: ctx.config.KASPI_API_URL, token, merchantUid: store.kaspiMerchantUid, userAgent: 'kaspi-notify/0.1', timeoutMs: 15_000, minRequestIntervalMs: 0, fetch: options.fetch });
  try {
    await kaspi.getOrderByCode('0');
    return { ok: true };
  } catch (err) {
    if (err instanceof KaspiAuthError) return { ok: false, code: 'kaspi_token_rejected' };
    if (err instanceof KaspiError) return { ok: false, code: 'kaspi_unavailable', detail: err.message };
    return { ok: false, code: 'kaspi_unavailable', detail: err instanceof Error ? err.message : String(err) };
  }
}

const perBuyerSchema = z.object({
  per_buyer_daily_limit: z.number().int(vmsg('integer')).min(1, vmsg('perBuyerMin')).max(100, vmsg('max100')).nullable(),
});

/** The per-buyer daily limit lives on the sender (shared by the stores on one number), like the other caps. */
export async function savePerBuyerLimit(ctx: AppContext, actor: Actor, storeId: unknown, input: unknown): Promise<void> {
  const store = await requireStore(ctx, actor, storeId);
  const data = parseOrThrow(perBuyerSchema, input);
  if (!store.senderId) throw new ConflictError('settings_missing', 'WhatsApp settings missing');
  const [current] = await ctx.db.select({ v: senders.perBuyerDailyLimit }).from(senders).where(eq(senders.id, store.senderId));
  if (!current || current.v === data.per_buyer_daily_limit) return;
  await ctx.db.update(senders).set({ perBuyerDailyLimit: data.per_buyer_daily_limit, updatedAt: ctx.now() }).where(eq(senders.id, store.senderId));
  await recordAudit(ctx.db, { storeId: store.id, actor, action: 'whatsapp_settings.update', details: { per_buyer_daily_limit: data.per_buyer_daily_limit } });
}

export async function getPerBuyerLimit(ctx: AppContext, actor: Actor, storeId: unknown): Promise<number | null> {
  const store = await requireStore(ctx, actor, storeId);
  if (!store.senderId) return null;
  const [row] = await ctx.db.select({ v: senders.perBuyerDailyLimit }).from(senders).where(eq(senders.id, store.senderId));
  return row?.v ?? null;
}
