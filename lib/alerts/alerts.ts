import { and, asc, desc, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import { alerts, senders, storeAlertChannels, stores, type AlertKind } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import { countUnanswered } from '../services/number-health.ts';
import { deliverAlert, type AlertDeliveryDeps, type AlertNotice } from './delivery.ts';

/**
 * Alerts that reach someone. Evaluated every minute by `alertsWorkflow` (its own
 * Schedule, see lib/temporal/maintenance-schedules.ts) for every enabled store:
 * - `kaspi_token_rejected`: Kaspi refused the store's token (the poll has paused itself);
 * - `whatsapp_session_down`: the sender's session has not been WORKING for > N minutes
 *   (UNKNOWN — never asked yet — is not an incident);
 * - `failure_rate`: more than 20 % of the last 50 finished notifications failed or were
 *   undelivered (at least 10 finished, so one failure of one is not an incident);
 * - `whatsapp_unanswered`: this calendar month the number sent at least the sender's threshold of
 *   messages to buyers who never wrote to it (lib/services/number-health.ts countUnanswered).
 * An incident is one open `alerts` row per (store, kind); it is announced once (banner + the
 * store's Telegram chat / webhook) and announced again once when it clears ("resolved").
 */

export interface AlertThresholds {
  sessionDownMinutes: number;
  failureRate: number;
  failureWindow: number;
  failureMinSample: number;
}
export const DEFAULT_THRESHOLDS: AlertThresholds = { sessionDownMinutes: 10, failureRate: 0.2, failureWindow: 50, failureMinSample: 10 };

interface Condition {
  kind: AlertKind;
  message: string;
  detail: Record<string, unknown>;
}

export interface AlertView {
  id: string;
  storeId: string;
  kind: AlertKind;
  message: string;
  openedAt: Date;
}

/** The admin banner: the store's open incidents, oldest first. */
export async function openAlerts(ctx: Pick<AppContext, 'db'>, storeId: string): Promise<AlertView[]> {
  const rows = await ctx.db
    .select({ id: alerts.id, storeId: alerts.storeId, kind: alerts.kind, message: alerts.message, openedAt: alerts.openedAt })
    .from(alerts)
    .where(and(eq(alerts.storeId, storeId), isNull(alerts.resolvedAt)))
    .orderBy(asc(alerts.openedAt));
  return rows.map((r) => ({ ...r, kind: r.kind as AlertKind }));
}

/** Which conditions hold for one store right now. Cheap: a few indexed reads per store. */
async function conditionsOf(ctx: AppContext, store: typeof stores.$inferSelect, sender: typeof senders.$inferSelect | null, t: AlertThresholds): Promise<Condition[]> {
  const found: Condition[] = [];
  const now = ctx.now();
  if (store.tokenRejected) {
    found.push({ kind: 'kaspi_token_rejected', message: 'Kaspi отклонил API-токен магазина: опрос заказов остановлен. Сохраните новый токен в настройках магазина.', detail: {} });
  }
  if (sender && sender.sessionStatus !== 'WORKING' && sender.sessionStatus !== 'UNKNOWN' && sender.sessionStatusAt) {
    const minutes = Math.floor((now.getTime() - sender.sessionStatusAt.getTime()) / 60_000);
    if (minutes >= t.sessionDownMinutes) {
      found.push({
        kind: 'whatsapp_session_down',
        message: `WhatsApp не подключён уже ${minutes} мин. (статус ${sender.sessionStatus}): сообщения не отправляются. Проверьте сессию и при необходимости отсканируйте QR-код.`,
        detail: { sessionStatus: sender.sessionStatus, minutes },
      });
    }
  }
  if (sender?.acksStalledSince) {
    const minutes = Math.floor((now.getTime() - sender.acksStalledSince.getTime()) / 60_000);
    found.push({
      kind: 'whatsapp_acks_stalled',
      message: `WhatsApp не подтверждает отправку последних сообщений (${minutes} мин.), хотя сессия в статусе WORKING. Очередь удержана, чтобы сообщения не потерялись. Перезапустите сессию WAHA или проверьте телефон; отправка продолжится сама, когда подтверждения вернутся.`,
      detail: { since: sender.acksStalledSince.toISOString() },
    });
  }
  if (sender && sender.unansweredAlertThreshold !== null) {
    const { count, monthStart } = await countUnanswered(ctx.db, sender.id, now);
    if (count >= sender.unansweredAlertThreshold) {
      found.push({
        kind: 'whatsapp_unanswered',
        message: `В этом месяце уже ${count} сообщений с этого номера ушли покупателям, которые ни разу на него не писали (порог ${sender.unansweredAlertThreshold}). WhatsApp испытывает месячный лимит на такие сообщения: проверьте, все ли уведомления нужны.`,
        detail: { count, threshold: sender.unansweredAlertThreshold, monthStart: monthStart.toISOString() },
      });
    }
  }
  // The last N finished notifications of the store (skipped ones are not sends).
  const [rate] = (await ctx.db.execute<{ finished: number; failed: number }>(sql`
    select count(*)::int as finished, count(*) filter (where status in ('failed', 'undelivered'))::int as failed
    from (
      select status from notifications
      where store_id = ${store.id} and status in ('sent', 'delivered', 'read', 'failed', 'undelivered')
      order by created_at desc limit ${t.failureWindow}
    ) last`)).rows;
  if (rate && rate.finished >= t.failureMinSample && rate.failed / rate.finished > t.failureRate) {
    const percent = Math.round((100 * rate.failed) / rate.finished);
    found.push({
      kind: 'failure_rate',
      message: `Не доставлено ${rate.failed} из последних ${rate.finished} сообщений (${percent} %). Проверьте журнал сообщений.`,
      detail: { failed: rate.failed, finished: rate.finished, percent },
    });
  }
  return found;
}

export interface EvaluateResult {
  stores: number;
  opened: number;
  resolved: number;
  delivered: number;
  deliveryErrors: number;
}

/** Opens and resolves incidents for every store, then delivers what has not been delivered. */
export async function evaluateAlerts(ctx: AppContext, options: { thresholds?: Partial<AlertThresholds>; storeId?: string; deps?: AlertDeliveryDeps } = {}): Promise<EvaluateResult> {
  const t = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
  const rows = await ctx.db
    .select({ store: stores, sender: senders })
    .from(stores)
    .leftJoin(senders, eq(senders.id, stores.senderId))
    .where(options.storeId ? eq(stores.id, options.storeId) : eq(stores.enabled, true));
  const result: EvaluateResult = { stores: rows.length, opened: 0, resolved: 0, delivered: 0, deliveryErrors: 0 };
  for (const { store, sender } of rows) {
    const active = store.enabled ? await conditionsOf(ctx, store, sender, t) : [];
    const open = await ctx.db.select().from(alerts).where(and(eq(alerts.storeId, store.id), isNull(alerts.resolvedAt)));
    for (const c of active) {
      if (open.some((a) => a.kind === c.kind)) continue;
      const inserted = await ctx.db.insert(alerts).values({ storeId: store.id, kind: c.kind, message: c.message, detail: c.detail, openedAt: ctx.now() }).onConflictDoNothing().returning({ id: alerts.id });
      if (inserted.length) {
        result.opened++;
        ctx.logger.warn({ storeId: store.id, kind: c.kind, alertId: inserted[0]!.id }, 'alert opened');
      }
    }
    for (const a of open) {
      if (active.some((c) => c.kind === a.kind)) continue;
      const closed = await ctx.db.update(alerts).set({ resolvedAt: ctx.now() }).where(and(eq(alerts.id, a.id), isNull(alerts.resolvedAt))).returning({ id: alerts.id });
      if (closed.length) {
        result.resolved++;
        ctx.logger.info({ storeId: store.id, kind: a.kind, alertId: a.id }, 'alert resolved');
      }
    }
    const d = await deliverPending(ctx, store, options.deps);
    result.delivered += d.delivered;
    result.deliveryErrors += d.errors;
  }
  return result;
}

/**
 * Announces new incidents and resolutions. Each announcement is CLAIMED first (one UPDATE …
 * WHERE notified_at IS NULL), so two evaluators never send the same one; a failed delivery
 * releases the claim and is retried on the next evaluation.
 */
async function deliverPending(ctx: AppContext, store: typeof stores.$inferSelect, deps?: AlertDeliveryDeps): Promise<{ delivered: number; errors: number }> {
  const out = { delivered: 0, errors: 0 };
  const channels = await ctx.db.select().from(storeAlertChannels).where(and(eq(storeAlertChannels.storeId, store.id), eq(storeAlertChannels.enabled, true)));
  const pendingFire = await ctx.db.select().from(alerts).where(and(eq(alerts.storeId, store.id), isNull(alerts.notifiedAt))).orderBy(asc(alerts.openedAt));
  const pendingResolve = await ctx.db
    .select()
    .from(alerts)
    .where(and(eq(alerts.storeId, store.id), isNotNull(alerts.resolvedAt), isNotNull(alerts.notifiedAt), isNull(alerts.resolvedNotifiedAt)))
    .orderBy(asc(alerts.resolvedAt));

  const send = async (a: typeof alerts.$inferSelect, state: 'firing' | 'resolved'): Promise<boolean> => {
    const notice: AlertNotice = { alertId: a.id, state, storeId: store.id, storeName: store.name, kind: a.kind as AlertKind, message: a.message, openedAt: a.openedAt, resolvedAt: a.resolvedAt };
    const errors: string[] = [];
    for (const ch of channels) {
      try {
        await deliverAlert(ctx, ch, notice, deps);
      } catch (err) {
        errors.push(`${ch.kind}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (errors.length && errors.length === channels.length) {
      ctx.logger.warn({ storeId: store.id, alertId: a.id, state, errors: errors.length }, 'alert delivery failed; retried on the next evaluation');
      await ctx.db.update(alerts).set({ lastDeliveryError: errors.join('; ').slice(0, 2000) }).where(eq(alerts.id, a.id));
      return false;
    }
    return true;
  };

  for (const a of pendingFire) {
    // Resolved before anyone was told: nothing to announce either way.
    const claimed = await ctx.db
      .update(alerts)
      .set({ notifiedAt: ctx.now(), ...(a.resolvedAt ? { resolvedNotifiedAt: ctx.now() } : {}) })
      .where(and(eq(alerts.id, a.id), isNull(alerts.notifiedAt)))
      .returning({ id: alerts.id });
    if (!claimed.length || a.resolvedAt) continue;
    if (await send(a, 'firing')) out.delivered++;
    else {
      out.errors++;
      await ctx.db.update(alerts).set({ notifiedAt: null }).where(eq(alerts.id, a.id));
    }
  }
  for (const a of pendingResolve) {
    const claimed = await ctx.db.update(alerts).set({ resolvedNotifiedAt: ctx.now() }).where(and(eq(alerts.id, a.id), isNull(alerts.resolvedNotifiedAt))).returning({ id: alerts.id });
    if (!claimed.length) continue;
    if (await send(a, 'resolved')) out.delivered++;
    else {
      out.errors++;
      await ctx.db.update(alerts).set({ resolvedNotifiedAt: null }).where(eq(alerts.id, a.id));
    }
  }
  return out;
}

/** The latest incidents of a store, open or not (admin history). */
export async function recentAlerts(ctx: Pick<AppContext, 'db'>, storeId: string, limit = 50) {
  return ctx.db.select().from(alerts).where(eq(alerts.storeId, storeId)).orderBy(desc(alerts.openedAt)).limit(limit);
}
