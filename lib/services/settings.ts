import { and, eq, ne } from 'drizzle-orm';
import { z } from 'zod';
import { senders, stores } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import { constantTimeEqual, randomToken } from '../crypto.ts';
import { requireStore, visibleAmong, type Actor } from './access.ts';
import { recordAudit, SECRET_CHANGED, SECRET_REMOVED } from './audit.ts';
import { ConflictError, parseOrThrow, ValidationError } from './errors.ts';
import { releaseSender } from './senders.ts';
import { reconcileStoreSchedule } from './stores.ts';
import { urlAllowedBy } from '../net/outbound.ts';
import { vmsg, vtext } from '../i18n/request-locale.ts';

/**
 * The WhatsApp settings of a store (README "JSON API for Kaspi Demper": `GET|POST /api/whatsapp/settings/:storeId`).
 *
 * Storage: one WhatsApp number = one `senders` row, unique (WAHA server URL, session name);
 * `stores.sender_id` points at it and `is_enabled` is `stores.enabled`.
 *
 * Shared numbers (decision): everything that belongs to the number — API key, webhook secret,
 * pacing gaps, daily cap, quiet hours — lives on the sender row, so when two stores use one number
 * an edit made from either store applies to both (one phone has one pace and one daily cap; two
 * configurations for it could not both be true). `is_enabled` is per store. Pointing a store at a
 * different URL/session moves the store to that sender row (created if new); the old row stays for
 * the stores still on it, and loses its API key and webhook secret when none is left
 * (senders.ts). Joining an existing row that holds an API key is refused (409 `sender_in_use`)
 * unless the request carries that key, and a store taking over a number no store uses any more gets
 * a new webhook secret: otherwise any tenant could borrow another tenant's key or sign webhooks with
 * a secret a former tenant knows.
 *
 * Semantics: absent = unchanged, `null` = off (quiet hours none, daily cap none, gaps 0,
 * is_enabled false, warm-up days 0, warm-up growth 0, unanswered alert none; warm-up start back to 20). Secrets: absent or "" = unchanged, null = removed, never returned. The first
 * POST requires URL and session and generates a webhook secret when none is sent.
 */

export interface WhatsappSettingsView {
  waha_server_url: string;
  waha_session_name: string;
  is_enabled: boolean;
  waha_api_key_set: boolean;
  webhook_secret_set: boolean;
  min_gap_seconds: number;
  max_gap_seconds: number;
  daily_cap: number | null;
  quiet_hours_start: string | null;
  quiet_hours_end: string | null;
  /** Warm-up of a newly paired number: days (0 = none), day-1 allowance, daily growth in %. */
  warmup_days: number;
  warmup_start: number;
  warmup_growth_percent: number;
  /** Alert at this many messages a month to buyers who never wrote back; null = off. */
  unanswered_alert_threshold: number | null;
  session_status: string;
  /** True when another store sends through the same number (its pacing and caps are shared). */
  shared_with_other_stores: boolean;
  updated_at: string;
}

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;
const hhmm = z.string().trim().regex(HHMM, vmsg('timeHHMM'));
const gap = z.number().int(vmsg('intSeconds')).min(0, vmsg('gapRange')).max(3600, vmsg('gapRange'));
const secret = (min: number) => z.union([z.literal(''), z.string().min(min, vmsg('minChars', { n: min })).max(500, vmsg('tooLong'))]);

const settingsSchema = z.object({
  waha_server_url: z.string().trim().max(500, vmsg('maxChars500')).nullish(),
  waha_session_name: z.string().trim().max(100, vmsg('maxChars100')).nullish(),
  is_enabled: z.boolean().nullish(),
  waha_api_key: secret(1).nullish(),
  webhook_secret: secret(16).nullish(),
  min_gap_seconds: gap.nullish(),
  max_gap_seconds: gap.nullish(),
  daily_cap: z.number().int(vmsg('integer')).min(1, vmsg('dailyCapMin')).max(100000, vmsg('max100000')).nullish(),
  quiet_hours_start: hhmm.nullish(),
  quiet_hours_end: hhmm.nullish(),
  warmup_days: z.number().int(vmsg('intDays')).min(0, vmsg('warmupDaysRange')).max(60, vmsg('warmupDaysRange')).nullish(),
  warmup_start: z.number().int(vmsg('integer')).min(1, vmsg('min1')).max(100000, vmsg('max100000')).nullish(),
  warmup_growth_percent: z.number().int(vmsg('intPercent')).min(0, vmsg('percentRange')).max(400, vmsg('percentRange')).nullish(),
  unanswered_alert_threshold: z.number().int(vmsg('integer')).min(1, vmsg('unansweredMin')).max(1000000, vmsg('max1000000')).nullish(),
});
export type WhatsappSettingsInput = z.input<typeof settingsSchema>;

/** http(s) only, no credentials/query/fragment; trailing slashes dropped so one server has one spelling. */
export function normalizeWahaUrl(raw: string): { ok: true; url: string } | { ok: false; message: string } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { ok: false, message: vtext('badUrl') };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return { ok: false, message: vtext('urlScheme') };
  if (u.username || u.password) return { ok: false, message: vtext('urlCredentials') };
  if (u.search || u.hash) return { ok: false, message: vtext('urlQuery') };
  return { ok: true, url: `${u.origin}${u.pathname.replace(/\/+$/, '')}` };
}

/**
 * WAHA_URL_ALLOWLIST: each entry is a URL; a WAHA URL is allowed when its origin equals the
 * entry's origin and its path starts with the entry's path. Empty list = everything allowed.
 * Checked here when saved and again on every request (lib/net/outbound.ts).
 */
export function isWahaUrlAllowed(url: string, allowlist: readonly string[]): boolean {
  return urlAllowedBy(url, allowlist);
}

type SenderRow = typeof senders.$inferSelect;

async function sharedWithOthers(ctx: AppContext, senderId: string, storeId: string): Promise<boolean> {
  const rows = await ctx.db.select({ id: stores.id }).from(stores).where(and(eq(stores.senderId, senderId), ne(stores.id, storeId))).limit(1);
  return rows.length > 0;
}

function toView(store: typeof stores.$inferSelect, s: SenderRow, shared: boolean): WhatsappSettingsView {
  return {
    waha_server_url: s.wahaServerUrl,
    waha_session_name: s.wahaSessionName,
    is_enabled: store.enabled,
    waha_api_key_set: s.wahaApiKeyEnc !== null,
    webhook_secret_set: s.webhookSecretEnc !== null,
    min_gap_seconds: s.minGapSeconds,
    max_gap_seconds: s.maxGapSeconds,
    daily_cap: s.dailyCap,
    quiet_hours_start: s.quietHoursStart,
    quiet_hours_end: s.quietHoursEnd,
    warmup_days: s.warmupDays,
    warmup_start: s.warmupStart,
    warmup_growth_percent: s.warmupGrowthPercent,
    unanswered_alert_threshold: s.unansweredAlertThreshold,
    session_status: s.sessionStatus,
    shared_with_other_stores: shared,
    updated_at: (s.updatedAt > store.updatedAt ? s.updatedAt : store.updatedAt).toISOString(),
  };
}

/** null until the first POST. */
export async function getWhatsappSettings(ctx: AppContext, actor: Actor, storeId: unknown): Promise<WhatsappSettingsView | null> {
  const store = await requireStore(ctx, actor, storeId);
  if (!store.senderId) return null;
  const [sender] = await ctx.db.select().from(senders).where(eq(senders.id, store.senderId));
  if (!sender) return null;
  return toView(store, sender, await sharedWithOthers(ctx, sender.id, store.id));
}

export async function saveWhatsappSettings(ctx: AppContext, actor: Actor, storeId: unknown, input: unknown): Promise<WhatsappSettingsView> {
  const store = await requireStore(ctx, actor, storeId);
  const data = parseOrThrow(settingsSchema, input);
  const [current] = store.senderId ? await ctx.db.select().from(senders).where(eq(senders.id, store.senderId)) : [];
  const address = validateAddress(ctx, data, current);

  const result = await ctx.db.transaction(async (tx) => {
    const details: Record<string, unknown> = {};
    const sender = await senderFor(ctx, tx, { actor, store, current, address, data, details });
    const moved = sender.id !== current?.id;
    const set: Partial<typeof senders.$inferInsert> = {
      ...(await secretChanges(ctx, tx, { data, sender, storeId: store.id, moved, details })),
      ...pacingChanges(data, sender, details),
    };
    let saved = sender;
    if (Object.keys(set).length) [saved] = (await tx.update(senders).set({ ...set, updatedAt: ctx.now() }).where(eq(senders.id, sender.id)).returning()) as [SenderRow];
    const storeSet: Partial<typeof stores.$inferInsert> = {};
    if (store.senderId !== saved.id) storeSet.senderId = saved.id;
    if (data.is_enabled !== undefined && (data.is_enabled ?? false) !== store.enabled) storeSet.enabled = details.is_enabled = data.is_enabled ?? false;
    let updatedStore = store;
    if (Object.keys(storeSet).length) {
      [updatedStore] = await tx.update(stores).set({ ...storeSet, updatedAt: ctx.now() }).where(eq(stores.id, store.id)).returning() as [typeof store];
    }
    if (moved && current) await releaseSender(tx, current.id, store.id, ctx.now());
    if (Object.keys(details).length) {
      await recordAudit(tx, { storeId: store.id, actor, action: current ? 'whatsapp_settings.update' : 'whatsapp_settings.create', details });
    }
    return { store: updatedStore, sender: saved, enabledChanged: 'enabled' in storeSet };
  });
  if (result.enabledChanged) {
    await reconcileStoreSchedule(ctx, store.id);
  }
  return toView(result.store, result.sender, await sharedWithOthers(ctx, result.sender.id, store.id));
}

type SettingsInput = z.infer<typeof settingsSchema>;
type Tx = Parameters<Parameters<AppContext['db']['transaction']>[0]>[0];

/** The WAHA URL and session after this request, or the field errors (Russian) that refuse it. */
function validateAddress(ctx: AppContext, data: SettingsInput, current: SenderRow | undefined): { url: string; session: string } {
  const fields: Record<string, string> = {};
  if (data.waha_server_url === null || (data.waha_server_url === undefined && !current)) fields.waha_server_url = vtext('wahaUrlRequired');
  if (data.waha_session_name === null || (data.waha_session_name === undefined && !current)) fields.waha_session_name = vtext('wahaSessionRequired');
  let url = current?.wahaServerUrl;
  if (typeof data.waha_server_url === 'string') {
    const n = normalizeWahaUrl(data.waha_server_url);
    if (!n.ok) fields.waha_server_url = n.message;
    else if (!isWahaUrlAllowed(n.url, ctx.config.WAHA_URL_ALLOWLIST)) fields.waha_server_url = vtext('wahaUrlNotAllowed');
    else url = n.url;
  }
  let session = current?.wahaSessionName;
  if (typeof data.waha_session_name === 'string') {
    if (!/^[\w-]{1,100}$/.test(data.waha_session_name)) fields.waha_session_name = vtext('sessionNameChars');
    else session = data.waha_session_name;
  }
  if (Object.keys(fields).length || url === undefined || session === undefined) {
    throw new ValidationError(fields, fields.waha_server_url?.includes('WAHA_URL_ALLOWLIST') ? 'waha_url_not_allowed' : 'validation_failed');
  }
  return { url, session };
}

/**
 * The sender row the store will use, locked: its own when the address is unchanged, else the row
 * of that number (joined only with proof) or a new one.
 */
async function senderFor(ctx: AppContext, tx: Tx, r: { actor: Actor; store: typeof stores.$inferSelect; current: SenderRow | undefined; address: { url: string; session: string }; data: SettingsInput; details: Record<string, unknown> }): Promise<SenderRow> {
  const { url, session } = r.address;
  if (r.current && r.current.wahaServerUrl === url && r.current.wahaSessionName === session) {
    const [own] = await tx.select().from(senders).where(eq(senders.id, r.current.id)).for('update');
    if (!own) throw new Error('sender row vanished');
    return own;
  }
  const byAddress = () => tx.select().from(senders).where(and(eq(senders.wahaServerUrl, url), eq(senders.wahaSessionName, session))).for('update');
  let [sender] = await byAddress();
  if (sender) await proveOwnership(ctx, tx, { actor: r.actor, storeId: r.store.id, sender, apiKey: r.data.waha_api_key });
  else {
    await tx.insert(senders).values({ wahaServerUrl: url, wahaSessionName: session, timezone: r.store.timezone }).onConflictDoNothing();
    [sender] = await byAddress();
  }
  if (r.current?.wahaServerUrl !== url) r.details.waha_server_url = url;
  if (r.current?.wahaSessionName !== session) r.details.waha_session_name = session;
  if (!sender) throw new Error('sender row vanished');
  return sender;
}

/**
 * The key is asked for whenever the row holds one, whoever uses the number now: a row can outlive
 * its stores (older versions kept its secrets), and "no other store" must not mean "no proof
 * needed". A row without a key used by a store the caller cannot see has nothing to prove
 * ownership with, so it stays refused.
 */
async function proveOwnership(ctx: AppContext, tx: Tx, r: { actor: Actor; storeId: string; sender: SenderRow; apiKey: string | null | undefined }): Promise<void> {
  const key = r.sender.wahaApiKeyEnc ? ctx.secrets.decrypt(r.sender.wahaApiKeyEnc) : null;
  if (key) {
    if (!r.apiKey || !constantTimeEqual(key, r.apiKey)) {
      throw new ConflictError('sender_in_use', 'sender in use', { waha_api_key: vtext('numberTakenKey') });
    }
    return;
  }
  const users = await tx.select({ id: stores.id }).from(stores).where(and(eq(stores.senderId, r.sender.id), ne(stores.id, r.storeId)));
  const visible = await visibleAmong(ctx, r.actor, users.map((u) => u.id));
  if (users.some((u) => !visible.has(u.id))) {
    throw new ConflictError('sender_in_use', 'sender in use', { waha_session_name: vtext('numberTakenStore') });
  }
}

/** Secrets: absent or "" keep, null removes, a value replaces; audited only as changed/removed. */
async function secretChanges(ctx: AppContext, tx: Tx, r: { data: SettingsInput; sender: SenderRow; storeId: string; moved: boolean; details: Record<string, unknown> }): Promise<Partial<typeof senders.$inferInsert>> {
  const { data, sender, details } = r;
  const set: Partial<typeof senders.$inferInsert> = {};
  if (data.waha_api_key === null) {
    if (sender.wahaApiKeyEnc !== null) {
      set.wahaApiKeyEnc = null;
      details.waha_api_key = SECRET_REMOVED;
    }
  } else if (data.waha_api_key) {
    set.wahaApiKeyEnc = ctx.secrets.encrypt(data.waha_api_key);
    details.waha_api_key = SECRET_CHANGED;
  }
  if (data.webhook_secret === null) {
    if (sender.webhookSecretEnc !== null) {
      set.webhookSecretEnc = null;
      details.webhook_secret = SECRET_REMOVED;
    }
  } else if (data.webhook_secret) {
    set.webhookSecretEnc = ctx.secrets.encrypt(data.webhook_secret);
    details.webhook_secret = SECRET_CHANGED;
  } else if (r.moved && data.webhook_secret !== null && !(await usedByOthers(tx, sender.id, r.storeId))) {
    // A store taking over a number nobody uses any more gets a secret no former tenant knows.
    // A number still in use keeps its secret: rotating it would make WAHA's deliveries for the
    // stores already on it fail their signature until each one re-ran "Configure WAHA", and the
    // joiner proved the API key, with which WAHA shows it the secret anyway.
    set.webhookSecretEnc = ctx.secrets.encrypt(randomToken(32));
    details.webhook_secret = sender.webhookSecretEnc === null ? 'generated' : 'rotated';
  }
  return set;
}

/** Pacing belongs to the number: gaps, daily cap, quiet hours, warm-up and the unanswered threshold, checked together. */
function pacingChanges(data: SettingsInput, sender: SenderRow, details: Record<string, unknown>): Partial<typeof senders.$inferInsert> {
  const set: Partial<typeof senders.$inferInsert> = {};
  const scalar = <K extends 'minGapSeconds' | 'maxGapSeconds' | 'dailyCap' | 'quietHoursStart' | 'quietHoursEnd' | 'warmupDays' | 'warmupStart' | 'warmupGrowthPercent' | 'unansweredAlertThreshold'>(
    key: K, field: string, value: SenderRow[K] | null | undefined, off: SenderRow[K],
  ) => {
    if (value === undefined) return;
    const v = (value === null ? off : value) as SenderRow[K];
    if (v !== sender[key]) {
      (set as Record<string, unknown>)[key] = v;
      details[field] = v;
    }
  };
  scalar('minGapSeconds', 'min_gap_seconds', data.min_gap_seconds, 0);
  scalar('maxGapSeconds', 'max_gap_seconds', data.max_gap_seconds, 0);
  scalar('dailyCap', 'daily_cap', data.daily_cap, null);
  scalar('quietHoursStart', 'quiet_hours_start', data.quiet_hours_start, null);
  scalar('quietHoursEnd', 'quiet_hours_end', data.quiet_hours_end, null);
  scalar('warmupDays', 'warmup_days', data.warmup_days, 0);
  scalar('warmupStart', 'warmup_start', data.warmup_start, 20);
  scalar('warmupGrowthPercent', 'warmup_growth_percent', data.warmup_growth_percent, 0);
  scalar('unansweredAlertThreshold', 'unanswered_alert_threshold', data.unanswered_alert_threshold, null);

  const errs: Record<string, string> = {};
  if ((set.minGapSeconds ?? sender.minGapSeconds) > (set.maxGapSeconds ?? sender.maxGapSeconds)) errs.max_gap_seconds = vtext('maxGapBelowMin');
  const qs = 'quietHoursStart' in set ? set.quietHoursStart : sender.quietHoursStart;
  const qe = 'quietHoursEnd' in set ? set.quietHoursEnd : sender.quietHoursEnd;
  if ((qs === null) !== (qe === null)) errs[qs === null ? 'quiet_hours_start' : 'quiet_hours_end'] = vtext('quietBoth');
  else if (qs !== null && qs === qe) errs.quiet_hours_end = vtext('quietSame');
  if (Object.keys(errs).length) throw new ValidationError(errs);
  return set;
}

/** Connection details for talking to the store's WAHA (send-test, "Configure WAHA", QR). Server-side only. */
export interface WahaConnection {
  senderId: string;
  baseUrl: string;
  session: string;
  apiKey: string | null;
  webhookSecret: string | null;
}

export async function getWahaConnection(ctx: AppContext, actor: Actor, storeId: unknown): Promise<WahaConnection | null> {
  const store = await requireStore(ctx, actor, storeId);
  if (!store.senderId) return null;
  const [s] = await ctx.db.select().from(senders).where(eq(senders.id, store.senderId));
  if (!s) return null;
  return {
    senderId: s.id,
    baseUrl: s.wahaServerUrl,
    session: s.wahaSessionName,
    apiKey: s.wahaApiKeyEnc ? ctx.secrets.decrypt(s.wahaApiKeyEnc) : null,
    webhookSecret: s.webhookSecretEnc ? ctx.secrets.decrypt(s.webhookSecretEnc) : null,
  };
}

/** The page's "Reveal" button (cookie + CSRF protected). Audited; never used by the JSON API. */
export async function revealWebhookSecret(ctx: AppContext, actor: Actor, storeId: unknown): Promise<string | null> {
  const conn = await getWahaConnection(ctx, actor, storeId);
  if (!conn?.webhookSecret) return null;
  await recordAudit(ctx.db, { storeId: String(storeId), actor, action: 'whatsapp_settings.reveal_webhook_secret', details: {} });
  return conn.webhookSecret;
}


async function usedByOthers(tx: Pick<AppContext['db'], 'select'>, senderId: string, storeId: string): Promise<boolean> {
  const [other] = await tx.select({ id: stores.id }).from(stores).where(and(eq(stores.senderId, senderId), ne(stores.id, storeId))).limit(1);
  return other !== undefined;
}
