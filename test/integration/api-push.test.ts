import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifications, orders } from '../../drizzle/schema.ts';
import { startQueuedNotifications } from '../../lib/services/push-orders.ts';
import { notifyWorkflowId } from '../../workflows/config.ts';
import { apiClient, newUser } from '../support/api.ts';
import { createTestContext, type TestContext } from '../support/context.ts';

let ctx: TestContext;
let call: ReturnType<typeof apiClient>;
let owner: Awaited<ReturnType<typeof newUser>>;
let storeId: string;

beforeAll(async () => {
  ctx = await createTestContext();
  call = apiClient(ctx);
  owner = await newUser(ctx);
  const r = await call('POST', '/api/stores', { token: owner.token, body: { name: 'Push' } });
  storeId = r.body.store_id as string;
});
afterAll(async () => {
  await ctx.close();
});

const seedOrder = (orderId: string, status: string) => ({
  orderId, customerName: 'Айгерим Серикова', customerPhone: '7011234567', productName: 'Смартфон', quantity: 1,
  totalPrice: 129990, deliveryType: 'DELIVERY', createDate: Date.UTC(2025, 5, 1, 9), shopName: 'Техно', status,
});

describe('POST /api/kaspi/orders/:storeId', () => {
  it('accepted, duplicate and rejected per order; NEW → new, CONFIRMED → accepted; workflows started', async () => {
    const url = `/api/kaspi/orders/${storeId}`;
    const r = await call('POST', url, { token: owner.token, body: [seedOrder('P100', 'NEW'), seedOrder('P101', 'CONFIRMED'), seedOrder('P102', 'CANCELLED'), { customerName: 'no id', status: 'NEW' }, 'junk'] });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ success: true, accepted: 2, duplicate: 0, rejected: 3 });
    const results = r.body.results as { orderId: string | null; result: string; event?: string; reason?: string; reason_code?: string }[];
    expect(results[0]).toMatchObject({ orderId: 'P100', result: 'accepted', event: 'new' });
    expect(results[1]).toMatchObject({ orderId: 'P101', result: 'accepted', event: 'accepted' });
    expect(results[2]).toMatchObject({ orderId: 'P102', result: 'rejected', reason_code: 'unsupported_status', reason: expect.stringContaining('CANCELLED') });
    expect(results[3]).toMatchObject({ result: 'rejected', reason_code: 'invalid_order' });
    expect(results[4]).toMatchObject({ result: 'rejected', reason_code: 'invalid_order' });

    const [order] = await ctx.db.select().from(orders).where(and(eq(orders.storeId, storeId), eq(orders.code, 'P100')));
    expect(order).toMatchObject({ source: 'push', state: 'NEW' });
    expect((order!.snapshot as { customer: { firstName: string } }).customer.firstName).toBe('Айгерим');
    const rows = await ctx.db.select().from(notifications).where(eq(notifications.storeId, storeId));
    expect(rows.map((n) => `${n.orderCode}:${n.event}:${n.status}`).sort()).toEqual(['P100:new:queued', 'P101:accepted:queued']);
    // The route starts the notification workflows (no worker runs them here) and records their ids.
    const p100 = rows.find((n) => n.orderCode === 'P100')!;
    expect(p100.workflowId).toBe(notifyWorkflowId(storeId, 'P100', 'new'));
    const desc = await ctx.temporal.workflow.getHandle(p100.workflowId!).describe();
    expect(desc.type).toBe('notificationWorkflow');
    expect(desc.taskQueue).toBe(ctx.config.TEMPORAL_TASK_QUEUE);

    const again = await call('POST', url, { token: owner.token, body: [seedOrder('P100', 'NEW'), seedOrder('P100', 'CONFIRMED')] });
    expect(again.body).toMatchObject({ accepted: 1, duplicate: 1, rejected: 0 });
    expect((again.body.results as { result: string }[]).map((x) => x.result)).toEqual(['duplicate', 'accepted']);
  });

  it('dedupes against an order the poll already stored: one order, one notification, polled data kept', async () => {
    const polledSnapshot = { code: 'K555', state: 'NEW', status: 'APPROVED_BY_BANK', customer: { firstName: 'Из', lastName: 'Kaspi' } };
    await ctx.db.insert(orders).values({ storeId, code: 'K555', kaspiId: 'kaspi-id-555', state: 'NEW', status: 'APPROVED_BY_BANK', snapshot: polledSnapshot, source: 'poll', creationDate: new Date() });
    await ctx.db.insert(notifications).values({ storeId, orderCode: 'K555', event: 'new', status: 'sent', workflowId: notifyWorkflowId(storeId, 'K555', 'new') });
    const r = await call('POST', `/api/kaspi/orders/${storeId}`, { token: owner.token, body: [seedOrder('K555', 'NEW')] });
    expect(r.body).toMatchObject({ accepted: 0, duplicate: 1 });
    const found = await ctx.db.select().from(orders).where(and(eq(orders.storeId, storeId), eq(orders.code, 'K555')));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ source: 'poll', kaspiId: 'kaspi-id-555', snapshot: polledSnapshot });
    const n = await ctx.db.select().from(notifications).where(and(eq(notifications.storeId, storeId), eq(notifications.orderCode, 'K555')));
    expect(n).toHaveLength(1);
    expect(n[0]!.status).toBe('sent');
  });

  it('400 only when the body is not an array (or not JSON); an empty array is fine', async () => {
    const url = `/api/kaspi/orders/${storeId}`;
    const obj = await call('POST', url, { token: owner.token, body: seedOrder('X1', 'NEW') });
    expect(obj.status).toBe(400);
    expect(obj.body).toMatchObject({ success: false, code: 'body_not_array' });
    const notJson = await call('POST', url, { token: owner.token, rawBody: '[{' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.code).toBe('invalid_json');
    const empty = await call('POST', url, { token: owner.token, body: [] });
    expect(empty.status).toBe(200);
    expect(empty.body).toMatchObject({ success: true, accepted: 0, duplicate: 0, rejected: 0, results: [] });
  });

  it('startQueuedNotifications treats an already started workflow as success and fills workflow_id', async () => {
    const [row] = await ctx.db.insert(notifications).values({ storeId, orderCode: 'Q1', event: 'new', status: 'queued' }).returning();
    const first = await startQueuedNotifications(ctx, storeId);
    expect(first.started).toBe(1);
    await ctx.db.update(notifications).set({ workflowId: null }).where(eq(notifications.id, row!.id));
    const second = await startQueuedNotifications(ctx, storeId);
    expect(second).toMatchObject({ started: 0, alreadyStarted: 1, failed: 0 });
    const [after] = await ctx.db.select().from(notifications).where(eq(notifications.id, row!.id));
    expect(after!.workflowId).toBe(notifyWorkflowId(storeId, 'Q1', 'new'));
  });
});
