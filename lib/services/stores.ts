import { asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { storeMembers, stores, templates } from '../../drizzle/schema.ts';
import { DEFAULT_TEMPLATES, TEMPLATE_LANGUAGES } from '../templates/defaults.ts';
import type { AppContext } from '../context.ts';
import { reconcileSchedules } from '../temporal/schedules.ts';
import { isUuid, requireStore, visibleStoresCondition, type Actor } from './access.ts';
import { recordAudit, SECRET_CHANGED, SECRET_REMOVED } from './audit.ts';
import { ConflictError, parseOrThrow, ValidationError } from './errors.ts';
import { releaseSender } from './senders.ts';
import { loggableError } from '../db/errors.ts';
import { t } from '../i18n/messages.ts';
import { vmsg } from '../i18n/request-locale.ts';

/** What the JSON API and the pages show of a store. The Kaspi token never leaves the database. */
export interface StoreView {
  store_id: string;
  name: string;
  kaspi_merchant_uid: string | null;
  kaspi_token_set: boolean;
  token_rejected: boolean;
  token_rejected_reason: string | null;
  poll_interval_seconds: number;
  timezone: string;
  lookback_minutes: number;
  enabled: boolean;
  sending_paused: boolean;
  test_mode_phone: string | null;
  whatsapp_configured: boolean;
  last_poll_at: string | null;
  last_poll_error: string | null;
  created_at: string;
  updated_at: string;
}

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return /\//.test(tz) || tz === 'UTC';
  } catch {
    return false;
  }
}

const name = z.string().trim().min(1, vmsg('storeNameRequired')).max(200, vmsg('maxChars200'));
const token = z.string().trim().min(1, vmsg('tokenEmpty')).max(500, vmsg('tokenTooLong'));
const merchantUid = z.string().trim().max(100, vmsg('maxChars100'));
const pollInterval = z.number().int(vmsg('intSeconds')).min(10, vmsg('pollRange')).max(3600, vmsg('pollRange'));
const timezone = z.string().trim().refine(isValidTimeZone, vmsg('badTimezone'));
const lookback = z.number().int(vmsg('intMinutes')).min(0, vmsg('lookbackRange')).max(20160, vmsg('lookbackRange'));

const createSchema = z.object({
  store_id: z.string().refine(isUuid, vmsg('uuid')).optional(),
  name,
  kaspi_api_token: token.nullish(),
  kaspi_merchant_uid: merchantUid.nullish(),
  poll_interval_seconds: pollInterval.optional(),
  timezone: timezone.optional(),
  lookback_minutes: lookback.optional(),
  /** Start with one template per event in this language (lib/templates/defaults.ts); absent/null = none. */
  default_templates: z.enum(TEMPLATE_LANGUAGES, vmsg('templateLanguage')).nullish(),
});
export type CreateStoreInput = z.input<typeof createSchema>;

const updateSchema = z.object({
  name: name.optional(),
  // "" = unchanged (a write-only field left blank in a form), null = removed.
  kaspi_api_token: z.union([z.literal(''), token]).nullish(),
  kaspi_merchant_uid: merchantUid.nullish(),
  poll_interval_seconds: pollInterval.optional(),
  timezone: timezone.optional(),
  lookback_minutes: lookback.optional(),
  enabled: z.boolean().optional(),
  sending_paused: z.boolean().optional(),
  test_mode_phone: z.string().trim().max(20, vmsg('maxChars20')).nullish(),
});
export type UpdateStoreInput = z.input<typeof updateSchema>;

function toView(s: typeof stores.$inferSelect): StoreView {
  return {
    store_id: s.id,
    name: s.name,
    kaspi_merchant_uid: s.kaspiMerchantUid,
    kaspi_token_set: s.kaspiTokenEnc !== null,
    token_rejected: s.tokenRejected,
    token_rejected_reason: s.tokenRejectedReason,
    poll_interval_seconds: s.pollIntervalSeconds,
    timezone: s.timezone,
    lookback_minutes: s.lookbackMinutes,
    enabled: s.enabled,
    sending_paused: s.sendingPaused,
    test_mode_phone: s.testModePhone,
    whatsapp_configured: s.senderId !== null,
    last_poll_at: s.lastPollAt?.toISOString() ?? null,
    last_poll_error: s.lastPollError,
    created_at: s.createdAt.toISOString(),
    updated_at: s.updatedAt.toISOString(),
  };
}

/** Reconciles the store's poll Schedule; a Temporal outage must not undo a saved change (the 5-minute reconciler catches up). */
export async function reconcileStoreSchedule(ctx: AppContext, storeId: string): Promise<void> {
  try {
    await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE, { storeId });
  } catch (err) {
    ctx.logger.warn({ err: loggableError(err), storeId }, 'reconcile schedules after a store change failed; the periodic reconciler will retry');
  }
}

/** Creates a store (never calls Kaspi); the creator becomes its member. 409 store_id_taken for a used id. */
export async function createStore(ctx: AppContext, actor: Actor, input: unknown): Promise<StoreView> {
  const data = parseOrThrow(createSchema, input);
  if (actor.kind === 'token' && actor.storeId) {
    // A token scoped to one store manages that store only; creating another would escape the scope.
    throw new ValidationError({ _: 'Токен, выданный для одного магазина, не может создавать магазины' }, 'token_scope');
  }
  const row = await ctx.db.transaction(async (tx) => {
    const [created] = await tx
      .insert(stores)
      .values({
        ...(data.store_id ? { id: data.store_id.toLowerCase() } : {}),
        name: data.name,
        kaspiTokenEnc: data.kaspi_api_token ? ctx.secrets.encrypt(data.kaspi_api_token) : null,
        kaspiMerchantUid: data.kaspi_merchant_uid || null,
        pollIntervalSeconds: data.poll_interval_seconds,
        timezone: data.timezone,
        lookbackMinutes: data.lookback_minutes,
        connectedAt: ctx.now(),
      })
      .onConflictDoNothing({ target: stores.id })
      .returning();
    if (!created) throw new ConflictError('store_id_taken', 'store id taken', { store_id: t('store_id_taken') });
    await tx.insert(storeMembers).values({ storeId: created.id, userId: actor.userId }).onConflictDoNothing();
    if (data.default_templates) {
      await tx.insert(templates).values(DEFAULT_TEMPLATES[data.default_templates].map((d) => ({ storeId: created.id, name: d.name, text: d.text, event: d.event, delayMinutes: d.delayMinutes })));
    }
    await recordAudit(tx, {
      storeId: created.id,
      actor,
      action: 'store.create',
      details: {
        name: created.name,
        kaspi_api_token: data.kaspi_api_token ? SECRET_CHANGED : undefined,
        kaspi_merchant_uid: created.kaspiMerchantUid,
        poll_interval_seconds: created.pollIntervalSeconds,
        timezone: created.timezone,
        lookback_minutes: created.lookbackMinutes,
        default_templates: data.default_templates ?? undefined,
      },
    });
    return created;
  });
  await reconcileStoreSchedule(ctx, row.id);
  return toView(row);
}

export async function listStores(ctx: AppContext, actor: Actor): Promise<StoreView[]> {
  const rows = await ctx.db.select().from(stores).where(visibleStoresCondition(actor)).orderBy(asc(stores.name), asc(stores.id));
  return rows.map(toView);
}

export async function getStore(ctx: AppContext, actor: Actor, storeId: unknown): Promise<StoreView> {
  return toView(await requireStore(ctx, actor, storeId));
}

/** Changes only the fields sent. A new Kaspi token clears token_rejected. */
export async function updateStore(ctx: AppContext, actor: Actor, storeId: unknown, input: unknown): Promise<StoreView> {
  const current = await requireStore(ctx, actor, storeId);
  const data = parseOrThrow(updateSchema, input);
  const set: Partial<typeof stores.$inferInsert> = {};
  const details: Record<string, unknown> = {};
  if (data.name !== undefined && data.name !== current.name) set.name = details.name = data.name;
  if (data.kaspi_api_token === null) {
    if (current.kaspiTokenEnc !== null) {
      set.kaspiTokenEnc = null;
      details.kaspi_api_token = SECRET_REMOVED;
    }
  } else if (data.kaspi_api_token) {
    set.kaspiTokenEnc = ctx.secrets.encrypt(data.kaspi_api_token);
    set.tokenRejected = false;
    set.tokenRejectedReason = null;
    details.kaspi_api_token = SECRET_CHANGED;
  }
  if (data.kaspi_merchant_uid !== undefined) {
    const v = data.kaspi_merchant_uid || null;
    if (v !== current.kaspiMerchantUid) set.kaspiMerchantUid = details.kaspi_merchant_uid = v;
  }
  if (data.poll_interval_seconds !== undefined && data.poll_interval_seconds !== current.pollIntervalSeconds) {
    set.pollIntervalSeconds = details.poll_interval_seconds = data.poll_interval_seconds;
  }
  if (data.timezone !== undefined && data.timezone !== current.timezone) set.timezone = details.timezone = data.timezone;
  if (data.lookback_minutes !== undefined && data.lookback_minutes !== current.lookbackMinutes) {
    set.lookbackMinutes = details.lookback_minutes = data.lookback_minutes;
  }
  if (data.enabled !== undefined && data.enabled !== current.enabled) set.enabled = details.enabled = data.enabled;
  if (data.sending_paused !== undefined && data.sending_paused !== current.sendingPaused) {
    set.sendingPaused = details.sending_paused = data.sending_paused;
  }
  if (data.test_mode_phone !== undefined) {
    const v = data.test_mode_phone || null;
    if (v !== current.testModePhone) set.testModePhone = details.test_mode_phone = v;
  }
  if (Object.keys(set).length === 0) return toView(current);
  const row = await ctx.db.transaction(async (tx) => {
    const [updated] = await tx.update(stores).set({ ...set, updatedAt: ctx.now() }).where(eq(stores.id, current.id)).returning();
    await recordAudit(tx, { storeId: current.id, actor, action: 'store.update', details });
    return updated!;
  });
  await reconcileStoreSchedule(ctx, row.id);
  return toView(row);
}

/**
 * Deletes a store and, through the foreign keys, its orders, notifications, templates and audit
 * trail; its poll Schedule goes with the reconcile. The WhatsApp sender row stays for any other
 * store on the same number; when it was the last, the row's WAHA key and webhook secret are wiped. Notification workflows still running for it end at their next step.
 */
export async function deleteStore(ctx: AppContext, actor: Actor, storeId: unknown): Promise<void> {
  const store = await requireStore(ctx, actor, storeId);
  await ctx.db.transaction(async (tx) => {
    await tx.delete(stores).where(eq(stores.id, store.id));
    if (store.senderId) await releaseSender(tx, store.senderId, store.id, ctx.now());
    // The store's own audit rows cascade away; this one outlives it.
    await recordAudit(tx, { storeId: null, actor, action: 'store.delete', details: { store_id: store.id, name: store.name } });
  });
  await reconcileStoreSchedule(ctx, store.id);
}
