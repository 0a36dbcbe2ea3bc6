import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { messageEvents, notifications, orders, senders, stores, templates, type NotifyEvent } from '../../drizzle/schema.ts';
import type { AppContext } from '../../lib/context.ts';
import type { KaspiOrder } from '../../lib/kaspi/orders.ts';

/** Rows the notification tests start from, written straight to PostgreSQL (no Kaspi poll). */
export async function createSender(ctx: AppContext, values: { wahaServerUrl: string; apiKey?: string | null; webhookSecret?: string } & Partial<typeof senders.$inferInsert>) {
  const { apiKey, webhookSecret, ...rest } = values;
  if (rest.wahaSessionName) {
    // The suite shares one database and the simulators take free ports: a sender left on this
    // simulator's URL belongs to another file's simulator that has closed (we hold its port now).
    await ctx.db.delete(senders).where(and(eq(senders.wahaServerUrl, rest.wahaServerUrl), eq(senders.wahaSessionName, rest.wahaSessionName)));
  }
  const [row] = await ctx.db
    .insert(senders)
    .values({
      wahaSessionName: `s-${randomUUID().slice(0, 8)}`,
      wahaApiKeyEnc: apiKey ? ctx.secrets.encrypt(apiKey) : null,
      webhookSecretEnc: ctx.secrets.encrypt(webhookSecret ?? 'webhook-secret'),
      minGapSeconds: 0,
      maxGapSeconds: 0,
      dailyCap: null,
      perBuyerDailyLimit: null,
      quietHoursStart: null,
      quietHoursEnd: null,
      // These numbers stand for ones long in use; the warm-up tests turn it on themselves.
      warmupDays: 0,
      ...rest,
    })
    .returning();
  return row!;
}

export async function createStore(ctx: AppContext, values: Partial<typeof stores.$inferInsert> = {}) {
  const [row] = await ctx.db.insert(stores).values({ name: 'Тестовый магазин', ...values }).returning();
  return row!;
}

export async function createTemplate(ctx: AppContext, storeId: string, event: NotifyEvent, text: string, values: Partial<typeof templates.$inferInsert> = {}) {
  const [row] = await ctx.db.insert(templates).values({ storeId, name: `${event} шаблон`, event, text, ...values }).returning();
  return row!;
}

let orderSeq = 0;
export function sampleOrder(overrides: Partial<KaspiOrder> = {}): KaspiOrder {
  orderSeq += 1;
  const code = overrides.code ?? `7${String(Date.now()).slice(-7)}${String(orderSeq).padStart(3, '0')}`;
  return {
    kaspiId: `id-${code}`,
    code,
    state: 'NEW',
    status: 'APPROVED_BY_BANK',
    creationDate: Date.now() - 60_000,
    approvedByBankDate: Date.now() - 50_000,
    totalPrice: 12990,
    deliveryMode: 'DELIVERY_PICKUP',
    isKaspiDelivery: false,
    plannedDeliveryDate: null,
    deliveryAddress: null,
    pickupPointId: '30012345_PP1',
    waybillNumber: null,
    courierTransmissionDate: null,
    cancellationReason: null,
    customer: { firstName: 'Айгерим', lastName: 'Серикова', name: null, cellPhone: '7011234567' },
    entries: [{ entryId: `e-${code}`, productName: 'Чайник Tefal', productCode: 'SKU-1', masterProductCode: null, quantity: 1, basePrice: 12990, totalPrice: 12990 }],
    ...overrides,
  };
}

/** An order and its queued notification, as the poll would leave them. */
export async function queueNotification(ctx: AppContext, storeId: string, order: KaspiOrder, event: NotifyEvent, eventAt = ctx.now()) {
  await ctx.db
    .insert(orders)
    .values({ storeId, code: order.code, kaspiId: order.kaspiId, state: order.state, status: order.status, snapshot: order, creationDate: new Date(order.creationDate) })
    .onConflictDoNothing();
  const [row] = await ctx.db.insert(notifications).values({ storeId, orderCode: order.code, event, eventAt }).returning();
  return row!;
}

export { messageEvents };
