import { randomUUID } from 'node:crypto';
import { eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buyerLids, messageAttempts, notifications, optOuts, orders, phoneChecks } from '../../drizzle/schema.ts';
import { purgePersonalData } from '../../lib/housekeeping/purge.ts';
import type { RunningWorker } from '../../lib/temporal/worker.ts';
import { createTestContext, startTestWorker, type TestContext } from '../support/context.ts';
import { createSender, createStore, queueNotification, sampleOrder } from '../support/fixtures.ts';

let ctx: TestContext;
let worker: RunningWorker;
const DAY = 24 * 3600_000;

beforeAll(async () => {
  ctx = await createTestContext();
  worker = await startTestWorker(ctx);
});
afterAll(async () => {
  await worker?.shutdown();
  await ctx?.close();
});

async function sentNotification(storeId: string, senderId: string, ageDays: number, phone = '77011234567') {
  const order = sampleOrder();
  const n = await queueNotification(ctx, storeId, order, 'new', new Date(Date.now() - ageDays * DAY));
  await ctx.db.update(notifications).set({ status: 'read', createdAt: new Date(Date.now() - ageDays * DAY) }).where(eq(notifications.id, n.id));
  await ctx.db.update(orders).set({ lastSeenAt: new Date(Date.now() - ageDays * DAY) }).where(eq(orders.code, order.code));
  await ctx.db.insert(messageAttempts).values({
    notificationId: n.id, senderId, attemptNo: 1, renderedText: `Заказ №${order.code} принят`, phone, chatId: `${phone}@c.us`,
    wahaMessageId: `true_${phone}@c.us_BAE5${randomUUID().slice(0, 8)}`, wahaKeyId: 'BAE5X', startedAt: new Date(Date.now() - ageDays * DAY), outcome: 'sent', lastAck: 3,
  });
  return { n, order };
}

describe('personal data purge', () => {
  it('removes phones and texts past the store retention, keeps counts and statuses, runs as a workflow', async () => {
    const sender = await createSender(ctx, { wahaServerUrl: 'http://127.0.0.1:9' });
    const store = await createStore(ctx, { senderId: sender.id }); // retention 180 days
    const short = await createStore(ctx, { senderId: sender.id, retentionDays: 7 });
    const old = await sentNotification(store.id, sender.id, 200);
    const recent = await sentNotification(store.id, sender.id, 10);
    const shortOld = await sentNotification(short.id, sender.id, 10);
    await ctx.db.insert(optOuts).values({ storeId: store.id, phone: '77029998877', source: 'whatsapp' });
    await ctx.db.insert(phoneChecks).values({ senderId: sender.id, phone: '77011112233', numberExists: true, chatId: '77011112233@c.us', checkedAt: new Date(Date.now() - 4000 * DAY) });
    await ctx.db.insert(buyerLids).values([
      { senderId: sender.id, lid: '245896994390182@lid', phone: '77011112233', source: 'send', learnedAt: new Date(Date.now() - 4000 * DAY) },
      { senderId: sender.id, lid: '245896994390183@lid', phone: '77011112244', source: 'send' },
    ]);
    const countsBefore = await ctx.db.execute(sql`select status, count(*)::int as n from notifications where store_id in (${store.id}, ${short.id}) group by status order by status`);

    // Through the Schedule's workflow on the real worker, as production runs it.
    const result = await ctx.temporal.workflow.execute('purgePersonalDataWorkflow', { taskQueue: ctx.config.TEMPORAL_TASK_QUEUE, workflowId: `purge-test-${randomUUID()}`, args: [] });
    expect(result.attempts).toBeGreaterThanOrEqual(2);
    expect(result.orders).toBeGreaterThanOrEqual(2);
    expect(result.phoneChecks).toBeGreaterThanOrEqual(1);
    expect(result.buyerLids).toBeGreaterThanOrEqual(1);
    // A LID learned as long ago as a purged phone goes with it; a recent one stays.
    expect((await ctx.db.select({ lid: buyerLids.lid }).from(buyerLids).where(eq(buyerLids.senderId, sender.id))).map((r) => r.lid)).toEqual(['245896994390183@lid']);

    const attempts = await ctx.db.select().from(messageAttempts).where(inArray(messageAttempts.notificationId, [old.n.id, recent.n.id, shortOld.n.id]));
    const byN = Object.fromEntries(attempts.map((a) => [a.notificationId, a]));
    for (const id of [old.n.id, shortOld.n.id]) {
      expect(byN[id]).toMatchObject({ renderedText: null, phone: null, chatId: null, wahaMessageId: null, outcome: 'sent', lastAck: 3 });
      expect(byN[id]!.purgedAt).not.toBeNull();
    }
    expect(byN[recent.n.id]).toMatchObject({ phone: '77011234567', purgedAt: null });
    expect(byN[recent.n.id]!.renderedText).toContain(recent.order.code);

    const snapshots = await ctx.db.select({ code: orders.code, snapshot: orders.snapshot }).from(orders).where(inArray(orders.code, [old.order.code, recent.order.code, shortOld.order.code]));
    const snap = Object.fromEntries(snapshots.map((o) => [o.code, JSON.stringify(o.snapshot)]));
    expect(snap[old.order.code]).not.toMatch(/7011234567|Айгерим|Серикова/);
    expect(snap[shortOld.order.code]).not.toMatch(/7011234567|Айгерим/);
    expect(snap[old.order.code]).toContain('Чайник Tefal'); // the order itself stays
    expect(snap[recent.order.code]).toContain('7011234567');

    // Counts and statuses are what they were; opt-outs are kept.
    expect((await ctx.db.execute(sql`select status, count(*)::int as n from notifications where store_id in (${store.id}, ${short.id}) group by status order by status`)).rows).toEqual(countsBefore.rows);
    expect(await ctx.db.select().from(optOuts).where(eq(optOuts.storeId, store.id))).toHaveLength(1);
    // The view of the original log table still lists every message, without personal data for old ones.
    const log = await ctx.db.execute<{ id: string; customer_phone: string | null; message_text: string | null; status: string }>(sql`select id, customer_phone, message_text, status from whatsapp_messages_log where store_id = ${store.id}`);
    expect(log.rows).toHaveLength(2);
    expect(log.rows.find((r) => r.id === old.n.id)).toMatchObject({ customer_phone: null, message_text: null, status: 'read' });

    // Idempotent.
    expect(await purgePersonalData(ctx)).toMatchObject({ attempts: 0, orders: 0 });
  });
});
