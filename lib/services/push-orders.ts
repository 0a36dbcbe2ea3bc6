import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import { notifications, orders, type NotifyEvent } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import type { KaspiOrder } from '../kaspi/orders.ts';
import { requireStore, type Actor } from './access.ts';
import { ValidationError } from './errors.ts';
import { loggableError } from '../db/errors.ts';
import { startNotificationWorkflow } from '../temporal/start-notification.ts';

/**
 * Push ingestion (`POST /api/kaspi/orders/:storeId`) for a system that already fetches orders, in
 * the order shape of the original request. Its status NEW → `new`, CONFIRMED → `accepted`, anything else is
 * rejected with a reason. The same order by push and by poll is one order: `orders` is unique on
 * (store_id, code) and `notifications` on (store_id, order_code, event), so whichever source comes
 * second finds the row and the answer is `duplicate`. A pushed order never overwrites what a poll
 * stored (the poll's Kaspi data is richer and authoritative).
 */

export const PUSH_STATUS_EVENTS: Readonly<Record<string, NotifyEvent>> = { NEW: 'new', CONFIRMED: 'accepted' };

export type PushOrderResult =
  | { orderId: string | null; index: number; result: 'accepted'; event: NotifyEvent; notification_id: string }
  | { orderId: string | null; index: number; result: 'duplicate'; event: NotifyEvent; notification_id: string | null }
  | { orderId: string | null; index: number; result: 'rejected'; reason_code: string; reason: string };

export interface PushOrdersSummary {
  results: PushOrderResult[];
  accepted: number;
  duplicate: number;
  rejected: number;
}

const text = (max: number) => z.union([z.string(), z.number()]).transform(String).pipe(z.string().trim().max(max, `Не длиннее ${max} символов`));
const pushedOrderSchema = z.object({
  orderId: z.union([z.string(), z.number()]).transform(String).pipe(
    z.string().trim().min(1, 'orderId пуст').max(64, 'orderId длиннее 64 символов').regex(/^[\w-]+$/, 'orderId: только буквы, цифры, «_» и «-»'),
  ),
  customerName: text(300).nullish(),
  customerPhone: text(40).nullish(),
  productName: text(1000).nullish(),
  quantity: z.coerce.number().int('quantity: целое число').min(1, 'quantity: не меньше 1').max(100000).nullish(),
  totalPrice: z.coerce.number().min(0, 'totalPrice: не меньше 0').max(1e12).nullish(),
  deliveryType: text(60).nullish(),
  createDate: z.union([z.number(), z.string()]).nullish(),
  shopName: text(300).nullish(),
  status: z.string().trim(),
});
export type PushedOrder = z.input<typeof pushedOrderSchema>;

function parseCreateDate(v: number | string | null | undefined, now: Date): Date | null {
  if (v === null || v === undefined || v === '') return now;
  const n = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n) || n <= 0) return null;
  return new Date(n);
}

function splitName(name: string | null | undefined): { firstName: string | null; lastName: string | null } {
  const parts = (name ?? '').trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return { firstName: null, lastName: null };
  return { firstName: parts[0] ?? null, lastName: parts.slice(1).join(' ') || null };
}

/** The pushed order as the snapshot the renderer and the notification workflow read. */
export function pushedOrderSnapshot(o: z.output<typeof pushedOrderSchema>, event: NotifyEvent, creationDate: Date): KaspiOrder & { source: 'push'; shopName: string | null } {
  const delivery = (o.deliveryType ?? '').toUpperCase();
  const isDelivery = delivery === 'DELIVERY' || delivery.includes('DELIVERY_LOCAL') || delivery === 'KASPI_DELIVERY';
  const { firstName, lastName } = splitName(o.customerName);
  const quantity = o.quantity ?? 1;
  const total = o.totalPrice ?? 0;
  return {
    source: 'push',
    shopName: o.shopName ?? null,
    kaspiId: `push:${o.orderId}`,
    code: o.orderId,
    state: 'NEW',
    status: event === 'accepted' ? 'ACCEPTED_BY_MERCHANT' : 'APPROVED_BY_BANK',
    creationDate: creationDate.getTime(),
    approvedByBankDate: creationDate.getTime(),
    totalPrice: total,
    deliveryMode: isDelivery ? 'DELIVERY_LOCAL' : 'DELIVERY_PICKUP',
    isKaspiDelivery: delivery === 'KASPI_DELIVERY',
    plannedDeliveryDate: null,
    deliveryAddress: null,
    pickupPointId: null,
    waybillNumber: null,
    courierTransmissionDate: null,
    cancellationReason: null,
    customer: { firstName, lastName, name: o.customerName ?? null, cellPhone: o.customerPhone ?? null },
    entries: o.productName
      ? [{ entryId: `push:${o.orderId}:0`, productName: o.productName, productCode: '', masterProductCode: null, quantity, basePrice: quantity ? total / quantity : total, totalPrice: total }]
      : [],
  };
}

/** Throws ValidationError (400) only when the body is not an array; every element gets its own result. */
export async function ingestPushedOrders(ctx: AppContext, actor: Actor, storeId: unknown, body: unknown): Promise<PushOrdersSummary> {
  const store = await requireStore(ctx, actor, storeId);
  if (!Array.isArray(body)) throw new ValidationError({ _: 'Ожидается JSON-массив заказов' }, 'body_not_array');
  if (body.length > 1000) throw new ValidationError({ _: 'Не больше 1000 заказов за один запрос' }, 'too_many_orders');
  const results: PushOrderResult[] = [];
  const now = ctx.now();
  for (const [index, raw] of body.entries()) {
    const rawId = raw && typeof raw === 'object' && 'orderId' in raw ? (raw as { orderId: unknown }).orderId : null;
    const orderId = typeof rawId === 'string' || typeof rawId === 'number' ? String(rawId) : null;
    const parsed = pushedOrderSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      results.push({ orderId, index, result: 'rejected', reason_code: 'invalid_order', reason: `${issue?.path.join('.') || 'order'}: ${issue?.message ?? 'некорректный заказ'}` });
      continue;
    }
    const o = parsed.data;
    const event = PUSH_STATUS_EVENTS[o.status.toUpperCase()];
    if (!event) {
      results.push({ orderId: o.orderId, index, result: 'rejected', reason_code: 'unsupported_status', reason: `Статус «${o.status}» не поддерживается: принимаются только NEW и CONFIRMED` });
      continue;
    }
    const creationDate = parseCreateDate(o.createDate, now);
    if (!creationDate) {
      results.push({ orderId: o.orderId, index, result: 'rejected', reason_code: 'invalid_order', reason: 'createDate: ожидается время в миллисекундах или ISO-8601' });
      continue;
    }
    const snapshot = pushedOrderSnapshot(o, event, creationDate);
    const outcome = await ctx.db.transaction(async (tx) => {
      // A polled order keeps its data; a pushed one is refreshed by later pushes.
      await tx.insert(orders).values({
        storeId: store.id, code: o.orderId, kaspiId: null, state: snapshot.state, status: snapshot.status, snapshot,
        source: 'push', creationDate, firstSeenAt: now, lastSeenAt: now,
      }).onConflictDoUpdate({
        target: [orders.storeId, orders.code],
        set: {
          lastSeenAt: now,
          status: sql`case when ${orders.source} = 'push' then excluded.status else ${orders.status} end`,
          snapshot: sql`case when ${orders.source} = 'push' then excluded.snapshot else ${orders.snapshot} end`,
        },
      });
      const inserted = await tx.insert(notifications).values({
        storeId: store.id, orderCode: o.orderId, event, status: 'queued', eventAt: now, createdAt: now, updatedAt: now,
      }).onConflictDoNothing().returning({ id: notifications.id });
      if (inserted[0]) return { result: 'accepted' as const, id: inserted[0].id };
      const [existing] = await tx.select({ id: notifications.id }).from(notifications)
        .where(and(eq(notifications.storeId, store.id), eq(notifications.orderCode, o.orderId), eq(notifications.event, event)));
      return { result: 'duplicate' as const, id: existing?.id ?? null };
    });
    if (outcome.result === 'accepted') results.push({ orderId: o.orderId, index, result: 'accepted', event, notification_id: outcome.id });
    else results.push({ orderId: o.orderId, index, result: 'duplicate', event, notification_id: outcome.id });
  }
  return {
    results,
    accepted: results.filter((r) => r.result === 'accepted').length,
    duplicate: results.filter((r) => r.result === 'duplicate').length,
    rejected: results.filter((r) => r.result === 'rejected').length,
  };
}

export interface StartQueuedResult {
  started: number;
  alreadyStarted: number;
  failed: number;
}

/**
 * Starts `notificationWorkflow` for the store's `queued` rows without a workflow, the same way the
 * poll workflow starts its children (REJECT_DUPLICATE, AlreadyStarted = success), and records the
 * workflow id. At most `limit` rows per call; rows left over are picked up by the next call/poll.
 */
export async function startQueuedNotifications(ctx: AppContext, storeId: string, options: { limit?: number } = {}): Promise<StartQueuedResult> {
  const rows = await ctx.db.select({ id: notifications.id, orderCode: notifications.orderCode, event: notifications.event })
    .from(notifications)
    .where(and(eq(notifications.storeId, storeId), eq(notifications.status, 'queued'), isNull(notifications.workflowId)))
    .orderBy(asc(notifications.createdAt))
    .limit(options.limit ?? 200);
  const result: StartQueuedResult = { started: 0, alreadyStarted: 0, failed: 0 };
  for (const row of rows) {
    let workflowId: string;
    try {
      const start = await startNotificationWorkflow(ctx, { notificationId: row.id, storeId, orderCode: row.orderCode, event: row.event as NotifyEvent }, { kind: 'first' });
      workflowId = start.workflowId;
      if (start.alreadyStarted) result.alreadyStarted++;
      else result.started++;
    } catch (err) {
      result.failed++;
      ctx.logger.warn({ err: loggableError(err), storeId, notificationId: row.id }, 'starting a notification workflow failed; the next poll retries');
      continue;
    }
    await ctx.db.update(notifications).set({ workflowId, updatedAt: ctx.now() })
      .where(and(eq(notifications.id, row.id), isNull(notifications.workflowId)));
  }
  return result;
}
