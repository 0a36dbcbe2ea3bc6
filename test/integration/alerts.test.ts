import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alerts, notifications, senders, storeAlertChannels, stores } from '../../drizzle/schema.ts';
import { evaluateAlerts, openAlerts } from '../../lib/alerts/alerts.ts';
import { addAlertChannel, listAlertChannels } from '../../lib/alerts/delivery.ts';
import { ensureMaintenanceSchedules } from '../../lib/temporal/maintenance-schedules.ts';
import { ALERTS_SCHEDULE_ID, PURGE_SCHEDULE_ID, RECEIPTS_SCHEDULE_ID } from '../../workflows/config.ts';
import type { RunningWorker } from '../../lib/temporal/worker.ts';
import { createTestContext, startTestWorker, type TestContext } from '../support/context.ts';
import { createSender, createStore } from '../support/fixtures.ts';

/** Alerts: open once, delivered once to a local webhook receiver and a fake Telegram API, resolved once. */
let ctx: TestContext;
let worker: RunningWorker;
let receiver: http.Server;
let receiverUrl: string;
const received: { path: string; body: Record<string, unknown> }[] = [];

beforeAll(async () => {
  ctx = await createTestContext();
  worker = await startTestWorker(ctx);
  receiver = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(raw || '{}') as Record<string, unknown> });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => receiver?.close(() => r()));
  await worker?.shutdown();
  await ctx?.close();
});

describe('alerts', () => {
  it('a rejected Kaspi token fires once (webhook + Telegram), shows in the banner, and resolves once', async () => {
    const store = await createStore(ctx, { name: `Алерт ${randomUUID().slice(0, 6)}` });
    const secretPath = `/hooks/${randomUUID()}`;
    await addAlertChannel(ctx, store.id, { kind: 'webhook', url: `${receiverUrl}${secretPath}` });
    await addAlertChannel(ctx, store.id, { kind: 'telegram', botToken: '123456:SECRET-BOT-TOKEN', chatId: '-100777' });
    // Secrets are stored encrypted and never listed.
    const [raw] = await ctx.db.select().from(storeAlertChannels).where(eq(storeAlertChannels.storeId, store.id)).limit(1);
    expect(JSON.stringify(raw)).not.toContain(secretPath);
    expect(JSON.stringify(await listAlertChannels(ctx, store.id))).not.toMatch(/SECRET-BOT-TOKEN|hooks/);

    const deps = { telegramApiUrl: receiverUrl };
    const evaluate = () => evaluateAlerts(ctx, { storeId: store.id, deps });
    expect(await evaluate()).toMatchObject({ opened: 0, delivered: 0 });
    expect(await openAlerts(ctx, store.id)).toEqual([]);

    await ctx.db.update(stores).set({ tokenRejected: true }).where(eq(stores.id, store.id));
    expect(await evaluate()).toMatchObject({ opened: 1, delivered: 1 });
    expect(await evaluate()).toMatchObject({ opened: 0, delivered: 0 });
    expect(await evaluate()).toMatchObject({ opened: 0, delivered: 0 });
    const banner = await openAlerts(ctx, store.id);
    expect(banner).toHaveLength(1);
    expect(banner[0]).toMatchObject({ kind: 'kaspi_token_rejected' });
    expect(banner[0]!.message).toMatch(/токен/);

    const hook = received.filter((r) => r.path === secretPath);
    const tg = received.filter((r) => r.path === '/bot123456:SECRET-BOT-TOKEN/sendMessage' && String(r.body.text).includes(store.name));
    expect(hook).toHaveLength(1);
    expect(hook[0]!.body).toMatchObject({ type: 'alert.firing', storeId: store.id, kind: 'kaspi_token_rejected' });
    expect(tg).toHaveLength(1);
    expect(tg[0]!.body).toMatchObject({ chat_id: '-100777' });

    // A new token: the incident clears, "resolved" is sent once.
    await ctx.db.update(stores).set({ tokenRejected: false }).where(eq(stores.id, store.id));
    expect(await evaluate()).toMatchObject({ resolved: 1, delivered: 1 });
    expect(await evaluate()).toMatchObject({ resolved: 0, delivered: 0 });
    expect(await openAlerts(ctx, store.id)).toEqual([]);
    const hookAfter = received.filter((r) => r.path === secretPath);
    expect(hookAfter.map((r) => r.body.type)).toEqual(['alert.firing', 'alert.resolved']);
    // Telegram got the same two, as text.
    expect(received.filter((r) => r.path.startsWith('/bot') && String(r.body.text).includes(store.name)).map((r) => String(r.body.text).split('\n')[0])).toEqual(['🔴 Kaspi отклонил токен', '✅ Решено: Kaspi отклонил токен']);

    // It happening again is a new incident, announced again.
    await ctx.db.update(stores).set({ tokenRejected: true }).where(eq(stores.id, store.id));
    expect(await evaluate()).toMatchObject({ opened: 1, delivered: 1 });
    expect(await ctx.db.select().from(alerts).where(eq(alerts.storeId, store.id))).toHaveLength(2);
  });

  it('a failed delivery is retried on the next evaluation, still once', async () => {
    const store = await createStore(ctx, { tokenRejected: true });
    let fail = true;
    const flaky = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (fail) res.writeHead(503).end();
        else {
          received.push({ path: `flaky:${store.id}`, body: {} });
          res.writeHead(204).end();
        }
      });
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', () => r()));
    try {
      await addAlertChannel(ctx, store.id, { kind: 'webhook', url: `http://127.0.0.1:${(flaky.address() as AddressInfo).port}/x` });
      expect(await evaluateAlerts(ctx, { storeId: store.id })).toMatchObject({ opened: 1, delivered: 0, deliveryErrors: 1 });
      const [row] = await ctx.db.select().from(alerts).where(eq(alerts.storeId, store.id));
      expect(row!.notifiedAt).toBeNull();
      expect(row!.lastDeliveryError).toMatch(/HTTP 503/);
      fail = false;
      expect(await evaluateAlerts(ctx, { storeId: store.id })).toMatchObject({ opened: 0, delivered: 1 });
      expect(await evaluateAlerts(ctx, { storeId: store.id })).toMatchObject({ delivered: 0 });
      expect(received.filter((r) => r.path === `flaky:${store.id}`)).toHaveLength(1);
    } finally {
      await new Promise<void>((r) => flaky.close(() => r()));
    }
  });

  it('WhatsApp not WORKING for longer than N minutes, and a failure rate over 20 %, open incidents', async () => {
    const sender = await createSender(ctx, { wahaServerUrl: 'http://127.0.0.1:9', sessionStatus: 'SCAN_QR_CODE', sessionStatusAt: new Date(Date.now() - 3 * 60_000) });
    const store = await createStore(ctx, { senderId: sender.id });
    expect(await evaluateAlerts(ctx, { storeId: store.id })).toMatchObject({ opened: 0 });
    await ctx.db.update(senders).set({ sessionStatusAt: new Date(Date.now() - 11 * 60_000) }).where(eq(senders.id, sender.id));
    expect(await evaluateAlerts(ctx, { storeId: store.id })).toMatchObject({ opened: 1 });
    expect((await openAlerts(ctx, store.id)).map((a) => a.kind)).toEqual(['whatsapp_session_down']);

    const statuses = [...Array(7).fill('read'), ...Array(3).fill('failed')] as string[];
    for (const [i, status] of statuses.entries()) {
      await ctx.db.insert(notifications).values({ storeId: store.id, orderCode: `9000${i}`, event: 'new', status, createdAt: new Date(Date.now() - (20 - i) * 1000) });
    }
    expect(await evaluateAlerts(ctx, { storeId: store.id })).toMatchObject({ opened: 1 });
    const kinds = (await openAlerts(ctx, store.id)).map((a) => a.kind).sort();
    expect(kinds).toEqual(['failure_rate', 'whatsapp_session_down']);

    await ctx.db.update(senders).set({ sessionStatus: 'WORKING', sessionStatusAt: new Date() }).where(eq(senders.id, sender.id));
    for (let i = 0; i < 10; i++) await ctx.db.insert(notifications).values({ storeId: store.id, orderCode: `9100${i}`, event: 'new', status: 'delivered' });
    expect(await evaluateAlerts(ctx, { storeId: store.id })).toMatchObject({ resolved: 2 });
    expect(await openAlerts(ctx, store.id)).toEqual([]);
  });

  it('the alerts and purge Schedules exist and alertsWorkflow runs on the worker', async () => {
    await ensureMaintenanceSchedules(ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE);
    await ensureMaintenanceSchedules(ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE); // idempotent
    const a = await ctx.temporal.schedule.getHandle(ALERTS_SCHEDULE_ID).describe();
    expect(a.action).toMatchObject({ workflowType: 'alertsWorkflow' });
    const p = await ctx.temporal.schedule.getHandle(PURGE_SCHEDULE_ID).describe();
    expect(p.action).toMatchObject({ workflowType: 'purgePersonalDataWorkflow' });
    const r = await ctx.temporal.schedule.getHandle(RECEIPTS_SCHEDULE_ID).describe();
    expect(r.action).toMatchObject({ workflowType: 'deliveryReceiptsWorkflow' });
    // Paused here: other test files' workers share this Temporal, not this task queue.
    for (const id of [ALERTS_SCHEDULE_ID, PURGE_SCHEDULE_ID, RECEIPTS_SCHEDULE_ID]) await ctx.temporal.schedule.getHandle(id).delete();
    const result = await ctx.temporal.workflow.execute('alertsWorkflow', { taskQueue: ctx.config.TEMPORAL_TASK_QUEUE, workflowId: `alerts-test-${randomUUID()}`, args: [] });
    expect(result).toMatchObject({ stores: expect.any(Number) as number });
    const receipts = await ctx.temporal.workflow.execute('deliveryReceiptsWorkflow', { taskQueue: ctx.config.TEMPORAL_TASK_QUEUE, workflowId: `receipts-test-${randomUUID()}`, args: [] });
    expect(receipts).toMatchObject({ checked: expect.any(Number) as number, held: expect.any(Number) as number });
  });
});
