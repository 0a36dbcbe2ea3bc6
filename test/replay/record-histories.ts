/**
 * Records the JSON histories that test/replay/replay.test.ts replays, one per workflow path, by
 * running each scenario for real: a Temporal dev server, a fresh database on DATABASE_URL's server,
 * our worker (the current workflows/), our web app, and the WAHA and Kaspi simulators.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx test/replay/record-histories.ts [name…]
 *
 * Re-record when a workflow change is DELIBERATELY incompatible (a new workflow type or a patch
 * whose old branch is gone): commit the new files together with the change. Histories hold ids,
 * order codes and events only (no personal data crosses into Temporal).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { eq } from 'drizzle-orm';
import { startWeb } from '../../api/server.ts';
import { messageAttempts, notifications, optOuts, senders, stores, type NotifyEvent } from '../../drizzle/schema.ts';
import { createContext } from '../../lib/bootstrap.ts';
import { loadConfig } from '../../lib/config.ts';
import { runMigrations } from '../../lib/db/migrate.ts';
import { createLogger } from '../../lib/logger.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';
import { ensureTemporalCli } from '../../lib/runtime/temporal-cli.ts';
import { startDevServer } from '../../lib/runtime/temporal-dev-server.ts';
import { startWorker } from '../../lib/temporal/worker.ts';
import { startKaspiSimulator } from '../../simulators/kaspi/server.ts';
import { startWahaSimulator } from '../../simulators/waha/server.ts';
import { notificationStart, pollStart } from '../../workflows/config.ts';
import { kaspiPollWorkflow } from '../../workflows/kaspi-poll.ts';
import { notificationWorkflow, type NotificationInput } from '../../workflows/notification.ts';
import { queueNotification, sampleOrder } from '../support/fixtures.ts';
import { eventually } from '../support/eventually.ts';
import { connectWhatsAppStore } from '../support/whatsapp-store.ts';
import { createEmptyDatabase } from '../../lib/runtime/fresh-database.ts';

const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'histories');
const API_KEY = 'waha-key';
const SECRET = 'hook-secret';
const FAST = { serverAckWaitMs: 2_000, deviceAckWaitMs: 3_000, ambiguousLookupDelayMs: 300 };
const say = (line: string) => process.stderr.write(`${line}\n`);

const serverUrl = process.env.DATABASE_URL;
if (!serverUrl) {
  say('set DATABASE_URL to a PostgreSQL server URL (a fresh database is created on it and dropped afterwards)');
  process.exit(2);
}
const only = new Set(process.argv.slice(2));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'kaspi-notify-record-'));
const dbName = `kaspi_notify_record_${process.pid}_${Date.now()}`;
const databaseUrl = await createEmptyDatabase(serverUrl, dbName);
await runMigrations(databaseUrl);

const cli = await ensureTemporalCli();
const dev = await startDevServer({ cli, port: await findFreePort(), logFile: path.join(tmp, 'temporal.log') });
const kaspiSim = await startKaspiSimulator();
const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'warn', TEMPORAL_TASK_QUEUE: `record-${randomUUID()}`, KASPI_API_URL: kaspiSim.url });
const ctx = await createContext(config, { databaseUrl, temporalAddress: dev.address, appSecret: 'record-secret-0123456789abcdef0123456789' }, { logger: createLogger({ level: 'warn', pretty: false }) });
const worker = await startWorker(ctx);
const web = await startWeb(ctx, await findFreePort(), '127.0.0.1');
const waha = await startWahaSimulator({ engine: 'NOWEB', apiKey: API_KEY, ackDelaysMs: [50, 100, 150] });

function connectedStore(sender: Parameters<typeof connectWhatsAppStore>[1]['sender'] = {}, templates: Partial<Record<NotifyEvent, string>> = { new: 'Здравствуйте, {user_name}! Заказ №{order_num} принят.' }, store: Partial<typeof stores.$inferInsert> = {}) {
  return connectWhatsAppStore(ctx, { waha, webUrl: web.url, apiKey: API_KEY, webhookSecret: SECRET, sender, templates, store });
}

/** Starts the notification workflow as the poll would; returns its id and result promise. */
function startNotification(storeId: string, n: { id: string; orderCode: string; event: string }, timing = FAST) {
  const input: NotificationInput = { notificationId: n.id, storeId, orderCode: n.orderCode, event: n.event as NotifyEvent, timing };
  const start = notificationStart(input, { kind: 'first' });
  const { workflowId } = start;
  const run = ctx.db.update(notifications).set({ workflowId }).where(eq(notifications.id, n.id)).then(() =>
    ctx.temporal.workflow.execute(notificationWorkflow, { taskQueue: config.TEMPORAL_TASK_QUEUE, ...start }),
  );
  return { workflowId, run };
}

async function save(name: string, workflowId: string): Promise<void> {
  const history = await ctx.temporal.workflow.getHandle(workflowId).fetchHistory();
  const file = path.join(OUT, `${name}.json`);
  mkdirSync(path.dirname(file), { recursive: true });
  // The protobuf object's own JSON (int64 as strings): what historyFromJSON and the replayer read.
  writeFileSync(file, `${JSON.stringify((history as unknown as { toJSON(): unknown }).toJSON(), null, 2)}\n`);
  say(`saved ${path.relative(process.cwd(), file)} (${history.events?.length ?? 0} events)`);
}

/**
 * A poll: one order first seen at PICKUP/ACCEPTED_BY_MERCHANT (`new` superseded, `accepted`
 * queued) and one NEW order; the workflow starts a child for each queued row.
 */
async function recordPoll(name: string): Promise<void> {
  const token = `tok-${randomUUID()}`;
  kaspiSim.state.tokens.add(token);
  const { store } = await connectedStore({}, { new: 'Заказ {order_num} принят', accepted: 'Заказ {order_num} подтверждён' }, {
    kaspiTokenEnc: ctx.secrets.encrypt(token),
    kaspiMerchantUid: '30012345',
    connectedAt: new Date(Date.now() - 3600_000),
  });
  kaspiSim.state.createOrder({ creationDate: Date.now() - 10 * 60_000 });
  kaspiSim.state.createOrder({ state: 'PICKUP', status: 'ACCEPTED_BY_MERCHANT', creationDate: Date.now() - 5 * 60_000 });
  const start = pollStart(store.id);
  const { workflowId } = start;
  const result = await ctx.temporal.workflow.execute(kaspiPollWorkflow, { taskQueue: config.TEMPORAL_TASK_QUEUE, ...start });
  say(`  poll result ${JSON.stringify(result)}`);
  await save(name, workflowId);
  const rows = await ctx.db.select().from(notifications).where(eq(notifications.storeId, store.id));
  for (const r of rows) if (r.workflowId) await ctx.temporal.workflow.getHandle(r.workflowId).result().catch(() => undefined);
}

const scenarios: Record<string, () => Promise<void>> = {
  /** prepare → claim → sent → SERVER, DEVICE acks by signal → delivered (READ arrives later). */
  'notification/normal': async () => {
    const { store } = await connectedStore();
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    const { workflowId, run } = startNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' });
    await run;
    await save('notification/normal', workflowId);
  },
  /** No SERVER ack; WAHA does not know the message (lookup absent) → one resend with the same id. */
  'notification/resent': async () => {
    const { store } = await connectedStore();
    waha.state.injectFault({ type: 'missing_acks', upTo: 0 }, { op: 'sendText' });
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    const { workflowId, run } = startNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' }, { ...FAST, serverAckWaitMs: 2_500 });
    // Make the first message unknown to WAHA: point our record at an id WAHA never saw.
    await eventually(async () => (await ctx.db.select().from(messageAttempts).where(eq(messageAttempts.notificationId, n.id))).some((a) => a.outcome === 'sent'));
    const keyId = `BAE5${randomUUID().replaceAll('-', '').slice(0, 12).toUpperCase()}`;
    await ctx.db.update(messageAttempts).set({ wahaMessageId: `true_77011234567@c.us_${keyId}`, wahaKeyId: keyId }).where(eq(messageAttempts.notificationId, n.id));
    await run;
    await save('notification/resent', workflowId);
  },
  /** The sender's next slot is later: the claim is refused (gap), a durable wait, then the send. */
  'notification/paced-wait': async () => {
    const { store, sender } = await connectedStore();
    await ctx.db.update(senders).set({ nextAllowedAt: new Date(Date.now() + 2_500) }).where(eq(senders.id, sender.id));
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    const { workflowId, run } = startNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' });
    await run;
    await save('notification/paced-wait', workflowId);
  },
  /** The session needs a QR scan: wait (woken by the session.status webhook), then send. */
  'notification/session-not-ready': async () => {
    const { store, sender } = await connectedStore();
    waha.state.setSessionStatus(sender.wahaSessionName, 'SCAN_QR_CODE');
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    const { workflowId, run } = startNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' });
    await eventually(async () => (await ctx.db.select().from(notifications).where(eq(notifications.id, n.id)))[0]?.reasonCode === 'session_not_working');
    waha.state.setSessionStatus(sender.wahaSessionName, 'WORKING');
    await run;
    await save('notification/session-not-ready', workflowId);
  },
  /** No acks at all: the SERVER wait times out, the lookup finds the message, DEVICE never comes → undelivered. */
  'notification/ack-timeout-lookup': async () => {
    const { store } = await connectedStore();
    waha.state.injectFault({ type: 'missing_acks' }, { op: 'sendText' });
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    const { workflowId, run } = startNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' }, { serverAckWaitMs: 500, deviceAckWaitMs: 1_500, ambiguousLookupDelayMs: 200 });
    await run;
    await save('notification/ack-timeout-lookup', workflowId);
  },
  /** A slow 500 after the message was sent: ambiguous → lookup by reserved id → sent. */
  'notification/ambiguous-send': async () => {
    const { store } = await connectedStore();
    waha.state.injectFault({ type: 'slow_500_after_send', delayMs: 200 }, { op: 'sendText' });
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    const { workflowId, run } = startNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' });
    await run;
    await save('notification/ambiguous-send', workflowId);
  },
  'notification/opt-out-skip': async () => {
    const { store } = await connectedStore();
    const order = sampleOrder({ customer: { firstName: 'А', lastName: 'Б', name: null, cellPhone: '7029998877' } });
    await ctx.db.insert(optOuts).values({ storeId: store.id, phone: '77029998877', source: 'whatsapp' });
    const n = await queueNotification(ctx, store.id, order, 'new');
    const { workflowId, run } = startNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' });
    await run;
    await save('notification/opt-out-skip', workflowId);
  },
  'notification/expired-skip': async () => {
    const { store } = await connectedStore();
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new', new Date(Date.now() - 7 * 3600_000));
    const { workflowId, run } = startNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' });
    await run;
    await save('notification/expired-skip', workflowId);
  },
  /** WhatsApp refuses the first message (463): failed, no retry. */
  'notification/failed-463': async () => {
    const { store } = await connectedStore();
    waha.state.injectFault({ type: 'refused_463' }, { op: 'sendText' });
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    const { workflowId, run } = startNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' });
    await run;
    await save('notification/failed-463', workflowId);
  },
  'kaspi-poll/children-superseded': () => recordPoll('kaspi-poll/children-superseded'),
  'reconcile/reconcile-schedules': async () => {
    const workflowId = `reconcile-schedules-run-${randomUUID()}`;
    await ctx.temporal.workflow.execute('reconcileSchedulesWorkflow', { taskQueue: config.TEMPORAL_TASK_QUEUE, workflowId, args: [] });
    await save('reconcile/reconcile-schedules', workflowId);
  },
};

let failed = 0;
try {
  for (const [name, run] of Object.entries(scenarios)) {
    if (only.size && !only.has(name)) continue;
    say(`recording ${name} …`);
    try {
      await run();
    } catch (err) {
      failed++;
      say(`  FAILED: ${err instanceof Error ? err.stack : String(err)}`);
    }
  }
} finally {
  await waha.close();
  await web.close();
  await worker.shutdown();
  await ctx.close();
  await kaspiSim.close();
  await dev.stop();
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  await c.query(`drop database if exists ${dbName} with (force)`);
  await c.end();
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
