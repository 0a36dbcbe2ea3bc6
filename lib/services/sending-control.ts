import { sql } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import { ru } from '../i18n/messages.ts';
import { applyStatus } from '../notifications/status.ts';
import { wakeWaiting } from '../notifications/wake.ts';
import { requireStore, type Actor } from './access.ts';
import { recordAudit } from './audit.ts';
import { updateStore, type StoreView } from './stores.ts';
import { loggableError } from '../db/errors.ts';

/**
 * The emergency controls of a store (the dashboard): pause sending (the claim refuses while
 * `stores.sending_paused`), resume (and wake the notifications waiting on the store's number so
 * they claim again at once), cancel queued (every queued/scheduled notification of the store
 * becomes `skipped` / `cancelled_by_admin` through the one status writer).
 */
export async function pauseSending(ctx: AppContext, actor: Actor, storeId: unknown): Promise<StoreView> {
  return updateStore(ctx, actor, storeId, { sending_paused: true });
}

export async function resumeSending(ctx: AppContext, actor: Actor, storeId: unknown): Promise<StoreView> {
  const view = await updateStore(ctx, actor, storeId, { sending_paused: false });
  const store = await requireStore(ctx, actor, storeId);
  if (store.senderId) {
    try {
      await wakeWaiting(ctx, store.senderId);
    } catch (err) {
      ctx.logger.warn({ err: loggableError(err), storeId: store.id }, 'waking waiting notifications after resume failed; they retry on their own backoff');
    }
  }
  return view;
}

export const CANCELLED_BY_ADMIN = 'cancelled_by_admin';

/** Returns how many notifications were cancelled. */
export async function cancelQueued(ctx: AppContext, actor: Actor, storeId: unknown): Promise<number> {
  const store = await requireStore(ctx, actor, storeId);
  const rows = await ctx.db.execute<{ id: string }>(sql`
    select id from notifications where store_id = ${store.id} and status in ('queued', 'scheduled') order by created_at limit 10000`);
  let cancelled = 0;
  for (const { id } of rows.rows) {
    const previous = await applyStatus(ctx.db, {
      notificationId: id,
      to: 'skipped',
      reasonCode: CANCELLED_BY_ADMIN,
      reason: ru.reasons[CANCELLED_BY_ADMIN] ?? null,
      source: 'admin',
      at: ctx.now(),
    });
    if (previous !== undefined) cancelled++;
  }
  await recordAudit(ctx.db, { storeId: store.id, actor, action: 'sending.cancel_queued', details: { cancelled } });
  return cancelled;
}
