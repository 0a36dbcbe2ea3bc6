import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifications, orders } from '../../drizzle/schema.ts';
import { startWeb, type RunningWeb } from '../../api/server.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';
import type { RunningWorker } from '../../lib/temporal/worker.ts';
import { WahaClient } from '../../lib/waha/client.ts';
import { startKaspiSimulator } from '../../simulators/kaspi/server.ts';
import { startWahaSimulator, type WahaSimulator } from '../../simulators/waha/server.ts';
import { pollWorkflowId } from '../../workflows/config.ts';
import { createTestContext, startTestWorker, type TestContext } from '../support/context.ts';
import { createSender, createStore, createTemplate } from '../support/fixtures.ts';
import { eventually } from '../support/eventually.ts';

/** A Kaspi order → poll → notification workflow → WAHA → acks → `read`, with nothing stubbed inside. */
let ctx: TestContext;
let worker: RunningWorker;
let web: RunningWeb;
let waha: WahaSimulator;
let kaspi: Awaited<ReturnType<typeof startKaspiSimulator>>;
const KASPI_TOKEN = 'kaspi-token-e2e';

beforeAll(async () => {
  kaspi = await startKaspiSimulator({ tokens: [KASPI_TOKEN] });
  ctx = await createTestContext({ env: { KASPI_API_URL: kaspi.url } });
  worker = await startTestWorker(ctx);
  web = await startWeb(ctx, await findFreePort(), '127.0.0.1');
  waha = await startWahaSimulator({ engine: 'GOWS', apiKey: 'k', ackDelaysMs: [50, 100, 150] });
});
afterAll(async () => {
  await waha?.close();
  await kaspi?.close();
  await web?.close();
  await worker?.shutdown();
  await ctx?.close();
});

describe('end to end', () => {
  it('a Kaspi order becomes a read WhatsApp message, and its lifecycle becomes the next messages', async () => {
    const sender = await createSender(ctx, { wahaServerUrl: waha.url, apiKey: 'k', webhookSecret: 'e2e-secret', wahaSessionName: 'default' });
    const store = await createStore(ctx, { name: 'Tefal Shop', senderId: sender.id, kaspiTokenEnc: ctx.secrets.encrypt(KASPI_TOKEN), connectedAt: new Date(Date.now() - 3600_000) });
    await new WahaClient({ baseUrl: waha.url, apiKey: 'k', session: 'default' }).upsertSessionConfig({ webhookUrl: `${web.url}/webhooks/waha/${store.id}`, hmacKey: 'e2e-secret' });
    await eventually(async () => waha.state.sessionStatus('default') === 'WORKING');
    await createTemplate(ctx, store.id, 'new', 'Здравствуйте, {first_name}! Спасибо за заказ №{order_num} в магазине {shop_name}: {product_name} × {item_qty}, {total_amount}.');
    await createTemplate(ctx, store.id, 'ready_for_pickup', '{first_name}, заказ №{order_num} готов к выдаче.');

    const order = kaspi.state.createOrder({ creationDate: Date.now() - 60_000, approvedByBankDate: Date.now() - 50_000 });
    const poll = () =>
      ctx.temporal.workflow.execute('kaspiPollWorkflow', {
        taskQueue: ctx.config.TEMPORAL_TASK_QUEUE,
        workflowId: `${pollWorkflowId(store.id)}-${Date.now()}`,
        args: [{ storeId: store.id }],
      });
    await poll();

    const readStatus = async (event: string) => {
      const [n] = await ctx.db.select().from(notifications).where(and(eq(notifications.storeId, store.id), eq(notifications.orderCode, order.code), eq(notifications.event, event)));
      return n?.status;
    };
    await eventually(async () => (await readStatus('new')) === 'read');
    const chat = waha.state.messages('77011234567@c.us', 'default');
    expect(chat).toHaveLength(1);
    expect(chat[0]!.body).toBe(`Здравствуйте, Айгерим! Спасибо за заказ №${order.code} в магазине Tefal Shop: Крышка Tefal 28 см × 1, 12\u00a0990\u00a0₸.`);

    // The seller accepts; the order is ready for pickup: one message (accepted has no template).
    kaspi.state.accept(order.code);
    await poll();
    await eventually(async () => (await readStatus('ready_for_pickup')) === 'read');
    expect(waha.state.messages('77011234567@c.us', 'default').map((m) => m.body)).toEqual([chat[0]!.body, `Айгерим, заказ №${order.code} готов к выдаче.`]);
    expect(await readStatus('accepted')).toBeUndefined();

    // Polling again changes nothing: never twice.
    await poll();
    await new Promise((r) => setTimeout(r, 500));
    expect(waha.state.messages('77011234567@c.us', 'default')).toHaveLength(2);
    const [stored] = await ctx.db.select().from(orders).where(and(eq(orders.storeId, store.id), eq(orders.code, order.code)));
    expect(stored?.state).toBe('PICKUP');
  });
});
