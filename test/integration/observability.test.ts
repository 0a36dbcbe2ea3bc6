import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { eq } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startWeb, type RunningWeb } from '../../api/server.ts';
import { notifications, stores } from '../../drizzle/schema.ts';
import { createContext } from '../../lib/bootstrap.ts';
import { loadConfig } from '../../lib/config.ts';
import type { AppContext } from '../../lib/context.ts';
import { REDACT_PATHS } from '../../lib/logger.ts';
import { serveMetrics } from '../../lib/metrics.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';
import { enableSdkMetrics } from '../../lib/temporal/sdk-metrics.ts';
import type { RunningWorker } from '../../lib/temporal/worker.ts';
import { WahaClient } from '../../lib/waha/client.ts';
import { startKaspiSimulator, type RunningKaspiSimulator } from '../../simulators/kaspi/server.ts';
import { startWahaSimulator, type WahaSimulator } from '../../simulators/waha/server.ts';
import { StoreIdKey } from '../../workflows/config.ts';
import { startTestWorker, TEST_APP_SECRET } from '../support/context.ts';
import { createSender, createStore, createTemplate } from '../support/fixtures.ts';
import { eventually } from '../support/eventually.ts';

/**
 * A full flow — Kaspi poll (simulator) → notification workflow → WAHA (simulator) → signed acks to
 * our web app → read — with every log line of this process captured (the app's logger, and the
 * Temporal SDK's, which the worker routes through it). Then: /metrics of the web app and of the
 * worker's metrics server carry the counters; the logs carry no token, key, phone or text.
 */
const lines: string[] = [];
const capture = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});

const KASPI_TOKEN = `kaspi-token-${randomUUID()}`;
const METRICS_TOKEN = `metrics-${randomUUID()}`;
const WAHA_KEY = `waha-key-${randomUUID()}`;
const HOOK_SECRET = `hook-secret-${randomUUID()}`;
const TEXT = 'Здравствуйте, {user_name}! Ваш заказ №{order_num} принят, спасибо за покупку.';

let ctx: AppContext & { close(): Promise<void> };
let worker: RunningWorker;
let web: RunningWeb;
let waha: WahaSimulator;
let kaspi: RunningKaspiSimulator;
let workerMetrics: { url: string; close(): void };

beforeAll(async () => {
  kaspi = await startKaspiSimulator({ tokens: [KASPI_TOKEN] });
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'info', TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`, KASPI_API_URL: kaspi.url, METRICS_TOKEN });
  // Exactly the production logger's settings (lib/logger.ts), writing into memory.
  const logger = pino({ name: 'kaspi-notify', level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, capture);
  ctx = await createContext(config, { databaseUrl: inject('databaseUrl'), temporalAddress: inject('temporalAddress'), appSecret: TEST_APP_SECRET }, { logger, poolSize: 5 });
  enableSdkMetrics(`127.0.0.1:${await findFreePort()}`);
  worker = await startTestWorker(ctx);
  web = await startWeb(ctx, await findFreePort(), '127.0.0.1');
  const port = await findFreePort();
  const server = await serveMetrics(port);
  workerMetrics = { url: `http://127.0.0.1:${port}/metrics`, close: () => server.close() };
  waha = await startWahaSimulator({ engine: 'NOWEB', apiKey: WAHA_KEY, ackDelaysMs: [50, 100, 150] });
});
afterAll(async () => {
  workerMetrics?.close();
  await waha?.close();
  await web?.close();
  await worker?.shutdown();
  await ctx?.close();
  await kaspi?.close();
});

function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.trim().split(/\s+/).at(-1));
  }
  return total;
}

describe('metrics and log hygiene after a full flow', () => {
  let storeId: string;

  beforeAll(async () => {
    const sender = await createSender(ctx, { wahaServerUrl: waha.url, apiKey: WAHA_KEY, webhookSecret: HOOK_SECRET });
    waha.state.addSession(sender.wahaSessionName, { status: 'WORKING', paired: true });
    const store = await createStore(ctx, { senderId: sender.id, kaspiTokenEnc: ctx.secrets.encrypt(KASPI_TOKEN), kaspiMerchantUid: '30012345', connectedAt: new Date(Date.now() - 3600_000) });
    storeId = store.id;
    await new WahaClient({ baseUrl: waha.url, apiKey: WAHA_KEY, session: sender.wahaSessionName }).upsertSessionConfig({ webhookUrl: `${web.url}/webhooks/waha/${store.id}`, hmacKey: HOOK_SECRET });
    await eventually(async () => waha.state.sessionStatus(sender.wahaSessionName) === 'WORKING');
    await createTemplate(ctx, store.id, 'new', TEXT);
    kaspi.state.createOrder({ creationDate: Date.now() - 5 * 60_000 });

    const result = await ctx.temporal.workflow.execute('kaspiPollWorkflow', {
      taskQueue: ctx.config.TEMPORAL_TASK_QUEUE,
      workflowId: `kaspi-poll-run:${store.id}`,
      args: [{ storeId: store.id }],
      typedSearchAttributes: [{ key: StoreIdKey, value: store.id }],
    });
    expect(result).toMatchObject({ queued: 1, started: 1 });
    await eventually(async () => (await ctx.db.select().from(notifications).where(eq(notifications.storeId, store.id)))[0]?.status === 'read');
    const [row] = await ctx.db.select().from(notifications).where(eq(notifications.storeId, store.id));
    await ctx.temporal.workflow.getHandle(row!.workflowId!).result();
    // A rejected token: one Kaspi error of its class.
    kaspi.state.tokens.delete(KASPI_TOKEN);
    await ctx.temporal.workflow.execute('kaspiPollWorkflow', { taskQueue: ctx.config.TEMPORAL_TASK_QUEUE, workflowId: `kaspi-poll-run-2:${store.id}`, args: [{ storeId: store.id }] }).catch(() => undefined);
    expect((await ctx.db.select().from(stores).where(eq(stores.id, store.id)))[0]!.tokenRejected).toBe(true);
  });

  it('/metrics of the web app needs METRICS_TOKEN and exposes the domain counters with non-zero values', async () => {
    expect((await fetch(`${web.url}/metrics`)).status).toBe(401);
    const text = await (await fetch(`${web.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    expect(metricValue(text, 'kaspi_notify_polls_total', { outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'kaspi_notify_polls_total', { outcome: 'token_rejected' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'kaspi_notify_kaspi_errors_total', { class: 'token_rejected' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'kaspi_notify_orders_seen_total', { store: storeId })).toBeGreaterThanOrEqual(1);
    for (const status of ['scheduled', 'sending', 'sent', 'delivered', 'read']) {
      expect(metricValue(text, 'kaspi_notify_notifications_total', { status, event: 'new', store: storeId }), status).toBe(1);
    }
    expect(metricValue(text, 'kaspi_notify_send_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'kaspi_notify_event_to_sent_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'kaspi_notify_waha_webhooks_total', { code: '200' })).toBeGreaterThanOrEqual(3);
    expect(text).toMatch(/^kaspi_notify_queue_depth\{status="scheduled"\} \d+$/m);
    expect(text).toContain('kaspi_notify_waha_errors_total');
  });

  it("the worker's metrics server exposes the same counters plus the Temporal SDK's worker metrics", async () => {
    const text = await (await fetch(workerMetrics.url)).text();
    expect(metricValue(text, 'kaspi_notify_polls_total', { outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'kaspi_notify_notifications_total', { status: 'sent', store: storeId })).toBe(1);
    const sdk = text.split('\n').filter((l) => l.startsWith('temporal_'));
    expect(sdk.length).toBeGreaterThan(0);
    expect(metricValue(text, 'temporal_workflow_completed_total')).toBeGreaterThanOrEqual(2);
    expect(metricValue(text, 'temporal_activity_execution_latency_count')).toBeGreaterThanOrEqual(3);
    expect(metricValue(text, 'temporal_worker_start_total')).toBeGreaterThanOrEqual(1);
  });

  it('logs at info level and above carry no Kaspi token, WAHA key, webhook secret, full phone or message text', async () => {
    const entries = lines.map((l) => JSON.parse(l) as { level: number; msg?: string });
    const info = lines.filter((_, i) => entries[i]!.level >= 30);
    expect(info.length).toBeGreaterThan(5);
    // The flow did log what it did, with ids.
    expect(info.some((l) => l.includes('message sent') && l.includes(storeId))).toBe(true);
    const [n] = await ctx.db.select().from(notifications).where(eq(notifications.storeId, storeId));
    const forbidden = [KASPI_TOKEN, WAHA_KEY, HOOK_SECRET, '77011234567', '7011234567', 'Айгерим', 'Серикова', 'Здравствуйте', 'спасибо за покупку', `${n!.orderCode} принят`];
    for (const word of forbidden) {
      const leaks = info.filter((l) => l.includes(word));
      expect(leaks, `"${word}" appears in logs`).toEqual([]);
    }
  });
});
