import { and, inArray, isNotNull, sql } from 'drizzle-orm';
import { notifications } from '../../drizzle/schema.ts';
import type { KaspiPollWorkflowResult } from '../../workflows/kaspi-poll.ts';
import { createOrder, createStores, pool, statusCounts } from '../lib/fixtures.ts';
import type { BenchEnv, WorkerProcess } from '../lib/env.ts';
import { cpuSeconds, workerCpuSeconds, round, sleep, summary, treeCpuSeconds } from '../lib/stats.ts';
import { startPgWork, type PgWorkResult } from '../lib/pg-work.ts';

export interface ThroughputOptions {
  stores: number;
  ordersPerStore: number;
  timeoutMs: number;
}

export interface ThroughputResult {
  notifications: number;
  read: number;
  seconds: number;
  perSecond: number;
  sentPerSecond: number;
  visibleToSentMs: ReturnType<typeof summary>;
  cpu: { worker: number; temporal: number; postgres: number | null; benchProcess: number };
  statuses: Record<string, number>;
  /** PostgreSQL, statements, worker threads and simulator round trips per delivered notification. */
  work: PgWorkResult;
}

/** Runs poll workflows for the stores until each has handed out all its queued rows. */
export async function pollUntilDrained(env: BenchEnv, taskQueue: string, storeIds: string[], runTag: string): Promise<void> {
  await pool(storeIds, 50, async (storeId, i) => {
    for (let round = 0; round < 50; round++) {
      const r = (await env.ctx.temporal.workflow.execute('kaspiPollWorkflow', {
        taskQueue,
        workflowId: `kaspi-poll-run:${storeId}:${runTag}-${i}-${round}`,
        args: [{ storeId }],
      })) as KaspiPollWorkflowResult;
      if (r.queued < 200) return;
    }
  });
}

/** Sent times per chat id, from the WAHA simulator's request log. */
export function sendTimesByChat(env: BenchEnv): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of env.waha.state.requests) {
    if (r.path !== '/api/sendText' || r.status >= 300) continue;
    const chatId = (r.body as { chatId?: string } | null)?.chatId;
    if (chatId && !out.has(chatId)) out.set(chatId, r.at);
  }
  return out;
}

export const chatIdOf = (phone: string) => `7${phone.replace(/\D/g, '').slice(-10)}@c.us`;

export async function runThroughput(env: BenchEnv, worker: WorkerProcess, o: ThroughputOptions, log: (s: string) => void): Promise<ThroughputResult> {
  const stores = await createStores(env, o.stores, { label: 'tp' });
  const storeIds = stores.map((s) => s.id);
  env.waha.state.clearLogs();
  const visible = new Map<string, number>(); // chat id → visible at
  const total = o.stores * o.ordersPerStore;
  for (const s of stores) {
    for (let k = 0; k < o.ordersPerStore; k++) {
      const order = createOrder(env, s);
      const phone = env.kaspi.state(s.token).getOrder(order.code)!.customer.cellPhone!;
      visible.set(chatIdOf(phone), order.visibleAt);
    }
  }
  const t0 = Math.min(...visible.values());
  env.kaspi.clearLogs();
  const kaspiLogs = stores.map((s) => env.kaspi.state(s.token).requests);
  const work = await startPgWork({
    databaseUrl: env.databaseUrl, postgresPid: env.postgresPid, workerPids: worker.pids,
    wahaRequests: () => env.waha.state.requests, webhooks: () => env.waha.state.webhooks, kaspiRequests: () => kaspiLogs.flat(),
  });
  const cpu0 = { worker: workerCpuSeconds(worker), temporal: treeCpuSeconds(env.temporalPid), postgres: env.postgresPid ? treeCpuSeconds(env.postgresPid) : null, bench: cpuSeconds(process.pid) };
  log(`  pipeline: ${total} orders visible at ${o.stores} stores; polling…`);
  const polls = pollUntilDrained(env, 'bench-pipeline', storeIds, 'tp');

  let allSentAt = 0;
  let read = 0;
  const deadline = Date.now() + o.timeoutMs;
  let lastLog = Date.now();
  while (Date.now() < deadline) {
    const [row] = await env.ctx.db
      .select({ read: sql<number>`count(*) filter (where status = 'read')::int`, sent: sql<number>`count(*) filter (where sent_at is not null)::int` })
      .from(notifications)
      .where(inArray(notifications.storeId, storeIds));
    read = row?.read ?? 0;
    if (!allSentAt && (row?.sent ?? 0) >= total) allSentAt = Date.now();
    if (read >= total) break;
    if (Date.now() - lastLog > 15_000) {
      log(`    … ${read}/${total} read after ${Math.round((Date.now() - t0) / 1000)} s`);
      lastLog = Date.now();
    }
    await sleep(250);
  }
  await polls.catch((e: unknown) => log(`  poll error: ${(e as Error).message}`));
  const [last] = await env.ctx.db
    .select({ readAt: sql<Date>`max(read_at)`, sentAt: sql<Date>`max(sent_at)` })
    .from(notifications)
    .where(and(inArray(notifications.storeId, storeIds), isNotNull(notifications.readAt)));
  const end = last?.readAt ? new Date(last.readAt).getTime() : Date.now();
  const lastSent = last?.sentAt ? new Date(last.sentAt).getTime() : allSentAt || Date.now();
  const seconds = (end - t0) / 1000;
  const sends = sendTimesByChat(env);
  const lat: number[] = [];
  for (const [chat, at] of visible) {
    const sent = sends.get(chat);
    if (sent !== undefined) lat.push(sent - at);
  }
  const cpu = {
    worker: round(workerCpuSeconds(worker) - cpu0.worker, 1)!,
    temporal: round(treeCpuSeconds(env.temporalPid) - cpu0.temporal, 1)!,
    postgres: cpu0.postgres === null ? null : round(treeCpuSeconds(env.postgresPid!) - cpu0.postgres, 1),
    benchProcess: round(cpuSeconds(process.pid) - cpu0.bench, 1)!,
  };
  return {
    notifications: total,
    read,
    seconds: round(seconds, 2)!,
    perSecond: round(read / seconds, 2)!,
    sentPerSecond: round(total / ((lastSent - t0) / 1000), 2)!,
    visibleToSentMs: summary(lat),
    cpu,
    statuses: await statusCounts(env, storeIds),
    work: await work.stop(read),
  };
}

export interface FloorResult {
  notifications: number;
  seconds: number;
  perSecond: number;
  cpu: { worker: number; temporal: number };
  /** The floor worker's CPU per thread (it touches no database). */
  work: PgWorkResult;
}

/** The same workflows (poll → children → prepare → claimAndSend → 3 ack signals → deliveryState) with no-op activities. */
export async function runFloor(env: BenchEnv, worker: WorkerProcess, o: ThroughputOptions, log: (s: string) => void): Promise<FloorResult> {
  const total = o.stores * o.ordersPerStore;
  const tag = Date.now().toString(36);
  const storeIds = Array.from({ length: o.stores }, (_, i) => `floor-${tag}-${i}~${o.ordersPerStore}`);
  const before = (await worker.heartbeats()).deliveryState?.executions ?? 0;
  const work = await startPgWork({ databaseUrl: env.databaseUrl, postgresPid: env.postgresPid, workerPids: worker.pids });
  const cpu0 = { worker: workerCpuSeconds(worker), temporal: treeCpuSeconds(env.temporalPid) };
  log(`  floor: ${total} no-op notifications from ${o.stores} polls…`);
  const t0 = Date.now();
  const polls = pollUntilDrained(env, 'bench-floor', storeIds, 'floor');
  let done = 0;
  const deadline = Date.now() + o.timeoutMs;
  while (Date.now() < deadline) {
    done = ((await worker.heartbeats()).deliveryState?.executions ?? 0) - before;
    if (done >= total) break;
    await sleep(100);
  }
  const seconds = (Date.now() - t0) / 1000;
  await polls.catch((e: unknown) => log(`  floor poll error: ${(e as Error).message}`));
  const cpu = { worker: round(workerCpuSeconds(worker) - cpu0.worker, 1)!, temporal: round(treeCpuSeconds(env.temporalPid) - cpu0.temporal, 1)! };
  return {
    notifications: done,
    seconds: round(seconds, 2)!,
    perSecond: round(done / seconds, 2)!,
    cpu,
    work: await work.stop(done),
  };
}
