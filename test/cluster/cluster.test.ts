import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageAttempts, notifications } from '../../drizzle/schema.ts';
import { createContext } from '../../lib/bootstrap.ts';
import { loadConfig } from '../../lib/config.ts';
import type { AppContext } from '../../lib/context.ts';
import { createLogger } from '../../lib/logger.ts';
import { APP_ROLE, startCluster, type Cluster } from '../../lib/runtime/cluster.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';
import { ensureProductionBuild } from '../../lib/runtime/production-build.ts';
import { reconcileSchedules } from '../../lib/temporal/schedules.ts';
import { WahaClient } from '../../lib/waha/client.ts';
import { startKaspiSimulator } from '../../simulators/kaspi/server.ts';
import { startWahaSimulator, type WahaSimulator } from '../../simulators/waha/server.ts';
import { pollScheduleId } from '../../workflows/config.ts';
import { eventually } from '../support/eventually.ts';
import { createSender, createStore, createTemplate } from '../support/fixtures.ts';
import { descendants } from '../support/processes.ts';
import pg from 'pg';

/**
 * The production topology (`npm run cluster`): the real Temporal server on PostgreSQL, two
 * workers and two web replicas behind the front door, the app on its own non-superuser role —
 * with the faults production sees while orders flow: a worker SIGKILLed mid-send, the Temporal
 * server restarted, PostgreSQL restarted (the app's and Temporal's databases), a web replica
 * stopped while webhooks arrive. Every order ends `read` with exactly one WhatsApp message,
 * sends keep their pacing, and the poll Schedule keeps firing after the restarts.
 */
const SECRET = 'cluster-secret-0123456789abcdef0123456789abcdef';
const KASPI_TOKEN = 'kaspi-token-cluster';
const WAHA_KEY = 'waha-key-cluster';
const MIN_GAP_SECONDS = 2;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kn-cluster-'));

let cluster: Cluster;
let ctx: AppContext & { close(): Promise<void> };
let kaspi: Awaited<ReturnType<typeof startKaspiSimulator>>;
let waha: WahaSimulator;
let storeId: string;
let senderId: string;
const orderCodes: string[] = [];

beforeAll(async () => {
  kaspi = await startKaspiSimulator({ tokens: [KASPI_TOKEN] });
  waha = await startWahaSimulator({ engine: 'GOWS', apiKey: WAHA_KEY, ackDelaysMs: [100, 300, 600] });
  const port = await findFreePort();
  const build = await ensureProductionBuild({ progress: () => undefined });
  cluster = await startCluster({
    dataDir,
    workers: 2,
    webs: 2,
    port,
    temporalPort: await findFreePort(),
    uiPort: await findFreePort(),
    workerMetricsPort: await findFreePort(),
    namespace: 'default',
    taskQueue: 'kaspi-notify',
    appSecret: SECRET,
    historyShards: 4,
    appEnv: { NODE_ENV: 'production', LOG_LEVEL: 'info', KASPI_API_URL: kaspi.url, WAHA_URL_ALLOWLIST: waha.url, PUBLIC_URL: `http://127.0.0.1:${port}` },
    appCommand: (entry) => ({ command: process.execPath, args: [build.entry(entry)] }),
    progress: () => undefined,
  });
  // The test's own connections (fixtures and checks) go through the app's role too.
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', KASPI_API_URL: kaspi.url });
  ctx = await createContext(config, { databaseUrl: cluster.databaseUrl, temporalAddress: cluster.temporalAddress, appSecret: SECRET }, { logger: createLogger({ level: 'silent', pretty: false }), poolSize: 3 });

  const sender = await createSender(ctx, { wahaServerUrl: waha.url, apiKey: WAHA_KEY, webhookSecret: 'cluster-hmac', wahaSessionName: 'default', minGapSeconds: MIN_GAP_SECONDS, maxGapSeconds: MIN_GAP_SECONDS + 1 });
  const store = await createStore(ctx, { name: 'Cluster Shop', senderId: sender.id, kaspiTokenEnc: ctx.secrets.encrypt(KASPI_TOKEN), connectedAt: new Date(Date.now() - 3600_000), pollIntervalSeconds: 10 });
  storeId = store.id;
  senderId = sender.id;
  // Webhooks reach whichever replica the front door picks.
  await new WahaClient({ baseUrl: waha.url, apiKey: WAHA_KEY, session: 'default' }).upsertSessionConfig({ webhookUrl: `${cluster.webUrl}/webhooks/waha/${store.id}`, hmacKey: 'cluster-hmac' });
  await eventually(async () => waha.state.sessionStatus('default') === 'WORKING');
  await createTemplate(ctx, store.id, 'new', 'Заказ №{order_num} принят, {first_name}!');
  await reconcileSchedules(ctx.db, ctx.temporal, 'kaspi-notify');
}, 900_000);

afterAll(async () => {
  await ctx?.close();
  const pids = cluster ? Object.values(cluster.pids()) : [];
  await cluster?.stop();
  // Whatever a failed stop left behind must not outlive the file.
  for (const pid of pids.flatMap((p) => [...descendants(p), p])) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  await waha?.close();
  await kaspi?.close();
  rmSync(dataDir, { recursive: true, force: true });
}, 120_000);

const phoneOf = (i: number) => `70170${String(10000 + i).slice(-5)}`;
let buyer = 0;
/** A new Kaspi order from a buyer of its own, so each chat must end with exactly one message. */
function newOrder(): string {
  buyer += 1;
  const order = kaspi.state.createOrder({ creationDate: Date.now() - 30_000, approvedByBankDate: Date.now() - 20_000, customer: { firstName: 'Покупатель', lastName: String(buyer), name: null, cellPhone: phoneOf(buyer) } });
  orderCodes.push(order.code);
  return order.code;
}

async function statusOf(code: string): Promise<string | undefined> {
  const [n] = await ctx.db.select({ status: notifications.status }).from(notifications).where(and(eq(notifications.storeId, storeId), eq(notifications.orderCode, code), eq(notifications.event, 'new')));
  return n?.status;
}

const readWithin = (code: string, ms: number) => eventually(async () => (await statusOf(code)) === 'read', ms, 500);

async function scheduleActions(): Promise<number> {
  const described = await ctx.temporal.schedule.getHandle(pollScheduleId(storeId)).describe();
  return described.info.numActionsTaken;
}

describe('npm run cluster', () => {
  it('runs the app on its own role without superuser rights, the UI read-only, and the login limit holds across replicas', async () => {
    const admin = new pg.Client({ connectionString: cluster.adminDatabaseUrl });
    await admin.connect();
    const role = await admin.query<{ rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean }>('select rolsuper, rolcreatedb, rolcreaterole from pg_roles where rolname = $1', [APP_ROLE]);
    const dbs = await admin.query<{ datname: string; owner: string }>("select datname, pg_get_userbyid(datdba) as owner from pg_database where datname in ('temporal', 'temporal_visibility', 'kaspi_notify') order by datname");
    await admin.end();
    expect(role.rows).toEqual([{ rolsuper: false, rolcreatedb: false, rolcreaterole: false }]);
    expect(dbs.rows).toEqual([
      { datname: 'kaspi_notify', owner: APP_ROLE },
      { datname: 'temporal', owner: 'temporal' },
      { datname: 'temporal_visibility', owner: 'temporal' },
    ]);
    expect(new URL(cluster.databaseUrl).username).toBe(APP_ROLE);

    // The UI has no login: loopback only and read-only, as in docker compose.
    expect(new URL(cluster.uiUrl).hostname).toBe('127.0.0.1');
    const settings = (await (await fetch(`${cluster.uiUrl}/api/v1/settings`)).json()) as { DisableWriteActions?: boolean };
    expect(settings.DisableWriteActions).toBe(true);

    // Five failures spread over both replicas block the sixth on either: the count is shared.
    const attempt = async (url: string) => {
      const r = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'admin@localhost', password: 'wrong-password' }) });
      return { status: r.status, text: await r.text() };
    };
    for (let i = 0; i < 5; i++) {
      const r = await attempt(cluster.webUrls[i % 2]!);
      expect(r.status).toBe(401);
      expect(r.text).toContain('Неверный email или пароль');
    }
    for (const url of cluster.webUrls) {
      const r = await attempt(url);
      expect(r.status).toBe(429);
      expect(r.text).toContain('Слишком много неудачных попыток входа');
    }
  });

  it('delivers through polls, workers and replicas', async () => {
    const code = newOrder();
    await readWithin(code, 60_000);
  });

  it('a worker SIGKILLed mid-send: the message goes out once', async () => {
    // One worker left running, so the kill surely hits the one that is sending.
    const [first, second] = cluster.workers;
    await second!.stop();
    waha.state.injectFault({ type: 'slow_500_after_send', delayMs: 60_000 }, { op: 'sendText' });
    const code = newOrder();
    const chat = `7${phoneOf(buyer)}@c.us`;
    await eventually(async () => waha.state.messages(chat).length === 1, 60_000, 250);
    await first!.kill('SIGKILL');
    await second!.start();
    await first!.start();
    await readWithin(code, 90_000);
    expect(waha.state.messages(chat)).toHaveLength(1);
  });

  it.each([
    ['the Temporal server', () => cluster.temporal.restart()],
    ['PostgreSQL (the app and Temporal databases)', () => cluster.postgres.restart()],
  ])('%s restarted while orders flow: nothing lost, and the Schedule keeps firing', async (_part, restart) => {
    const codes = [newOrder(), newOrder()];
    await restart();
    for (const code of codes) await readWithin(code, 120_000);
    const before = await scheduleActions();
    await eventually(async () => (await scheduleActions()) >= before + 2, 60_000, 1_000);
  });

  it('a web replica stopped while webhooks arrive: receipts still land', async () => {
    const codes = [newOrder(), newOrder()];
    await eventually(async () => (await statusOf(codes[0]!)) !== undefined, 30_000, 250);
    const from = waha.state.webhooks.length;
    await cluster.webs[0]!.stop();
    for (const code of codes) await readWithin(code, 90_000);
    // Every webhook WAHA sent meanwhile is accepted by the replica still up: at once, or on WAHA's
    // retry when the front door could not know whether the stopping replica had read it (502).
    const unaccepted = () => {
      const sent = waha.state.webhooks.slice(from);
      const accepted = new Set(sent.filter((d) => d.status !== null && d.status < 300).map((d) => d.envelopeId));
      return { sent: sent.length, lost: sent.filter((d) => !accepted.has(d.envelopeId)).map((d) => `${d.event} ${d.status ?? d.error}`) };
    };
    await eventually(() => unaccepted().lost.length === 0, 60_000, 500).catch(() => undefined);
    expect(unaccepted().sent).toBeGreaterThan(0);
    expect(unaccepted().lost).toEqual([]);
    await cluster.webs[0]!.start();
  });

  it('every order was sent exactly once, with the pacing gap between sends', async () => {
    for (let i = 1; i <= buyer; i++) expect(waha.state.messages(`7${phoneOf(i)}@c.us`), phoneOf(i)).toHaveLength(1);
    const sent = await ctx.db.select({ id: notifications.id }).from(notifications).where(and(eq(notifications.storeId, storeId), inArray(notifications.orderCode, orderCodes)));
    expect(sent).toHaveLength(orderCodes.length);
    const attempts = await ctx.db.select({ notificationId: messageAttempts.notificationId, startedAt: messageAttempts.startedAt })
      .from(messageAttempts).where(eq(messageAttempts.senderId, senderId)).orderBy(asc(messageAttempts.startedAt));
    const firstPerNotification = attempts.filter((a, i) => attempts.findIndex((b) => b.notificationId === a.notificationId) === i);
    expect(firstPerNotification).toHaveLength(orderCodes.length);
    for (let i = 1; i < firstPerNotification.length; i++) {
      const gap = firstPerNotification[i]!.startedAt.getTime() - firstPerNotification[i - 1]!.startedAt.getTime();
      expect(gap).toBeGreaterThanOrEqual(MIN_GAP_SECONDS * 1000 - 50);
    }
  });
});
