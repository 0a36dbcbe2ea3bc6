import { spawn, type ChildProcess } from 'node:child_process';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { startWeb, type RunningWeb } from '../../api/server.ts';
import { messageAttempts } from '../../drizzle/schema.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';
import type { RunningWorker } from '../../lib/temporal/worker.ts';
import { WahaClient } from '../../lib/waha/client.ts';
import { startWahaSimulator, type WahaSimulator } from '../../simulators/waha/server.ts';
import { createTestContext, startTestWorker, TEST_APP_SECRET, type TestContext } from '../support/context.ts';
import { createSender, createStore, createTemplate, queueNotification, sampleOrder } from '../support/fixtures.ts';
import { eventually } from '../support/eventually.ts';
import { ENGINE_PROFILES, SIM_SECOND_MS, startNotification } from '../support/whatsapp-store.ts';

/**
 * A worker killed (SIGKILL) while WAHA is sending: the message did leave, our row says "sending".
 * A new worker picks the activity up after its heartbeat timeout, looks the message up and does
 * not send it again.
 */
let ctx: TestContext;
let web: RunningWeb;
let waha: WahaSimulator | undefined;
let child: ChildProcess | undefined;
let replacement: RunningWorker | undefined;

beforeAll(async () => {
  ctx = await createTestContext();
  web = await startWeb(ctx, await findFreePort(), '127.0.0.1');
});
afterEach(async () => {
  child?.kill('SIGKILL');
  child = undefined;
  await replacement?.shutdown();
  replacement = undefined;
  await waha?.close();
  waha = undefined;
});
afterAll(async () => {
  await web?.close();
  await ctx?.close();
});

describe.each(ENGINE_PROFILES.map((p) => [p.name, p] as const))('worker killed mid-send (%s)', (_name, profile) => {
  it('the restarted worker finds the message sent and never sends it twice', async () => {
    waha = await startWahaSimulator({ engine: profile.engine, apiKey: null, ackDelaysMs: [50, 100, 150], secondMs: SIM_SECOND_MS });
    const sender = await createSender(ctx, { wahaServerUrl: waha.url, wahaSessionName: 'default' });
    const store = await createStore(ctx, { senderId: sender.id });
    await new WahaClient({ baseUrl: waha.url, session: 'default' }).upsertSessionConfig({ webhookUrl: `${web.url}/webhooks/waha/${store.id}`, hmacKey: 'webhook-secret', nowebStore: profile.nowebStore });
    await eventually(async () => waha!.state.sessionStatus('default') === 'WORKING', 10_000);
    await createTemplate(ctx, store.id, 'new', 'Заказ {order_num} принят');
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');

    child = spawn(process.execPath, ['--import', 'tsx', 'test/support/worker-process.ts'], {
      env: {
        ...process.env,
        DATABASE_URL: inject('databaseUrl'),
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_TASK_QUEUE: ctx.config.TEMPORAL_TASK_QUEUE,
        APP_SECRET: TEST_APP_SECRET,
        WORKFLOW_BUNDLE_PATH: inject('workflowBundlePath'),
        LOG_LEVEL: 'silent',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => child!.stdout!.on('data', (c: Buffer) => c.toString().includes('worker ready') && resolve()));

    // WAHA stores the message, then takes 60 s to answer: the worker dies while it waits.
    waha.state.injectFault({ type: 'slow_500_after_send', delayMs: 60_000 }, { op: 'sendText' });
    const handle = await startNotification(ctx, store.id, { id: n.id, orderCode: order.code, event: 'new' }, { serverAckWaitMs: 3_000, deviceAckWaitMs: 5_000, ambiguousLookupDelayMs: 200 });
    await eventually(async () => waha!.state.messages('77011234567@c.us').length === 1, 20_000);
    child.kill('SIGKILL');
    // The HTTP answer never came; the message.any echo may already have proven the send.
    const [attempt] = await ctx.db.select().from(messageAttempts).where(eq(messageAttempts.notificationId, n.id));
    expect(['sending', 'sent']).toContain(attempt!.outcome);

    replacement = await startTestWorker(ctx);
    const outcome = await handle.result();
    expect(['sent', 'delivered', 'read']).toContain(outcome.status);
    expect(waha!.state.messages('77011234567@c.us')).toHaveLength(1);
    const attempts = await ctx.db.select().from(messageAttempts).where(eq(messageAttempts.notificationId, n.id));
    expect(attempts.map((a) => a.outcome)).toEqual(['sent']);
  }, 90_000);
});
