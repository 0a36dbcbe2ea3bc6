import { inArray, isNotNull, and } from 'drizzle-orm';
import { notifications } from '../../drizzle/schema.ts';
import { reconcileSchedules } from '../../lib/temporal/schedules.ts';
import { pollScheduleId } from '../../workflows/config.ts';
import { createOrder, createStores, pool, statusCounts, type BenchStore } from '../lib/fixtures.ts';
import type { BenchEnv } from '../lib/env.ts';
import { round, sleep, summary, waitFor } from '../lib/stats.ts';
import { chatIdOf, sendTimesByChat } from './throughput.ts';

export interface LatencyOptions {
  stores: number;
  seconds: number;
  rate: number;
  pollIntervalSeconds: number;
  maxRate: number | null;
}

/** Starts the stores' real poll Schedules (reconcileSchedules per store, as the product does). */
export async function startSchedules(env: BenchEnv, stores: BenchStore[], taskQueue: string): Promise<void> {
  await pool(stores, 10, async (s) => {
    await reconcileSchedules(env.ctx.db, env.ctx.temporal, taskQueue, { storeId: s.id });
  });
}

export async function deleteSchedules(env: BenchEnv, stores: BenchStore[]): Promise<void> {
  await pool(stores, 10, async (s) => {
    await env.ctx.temporal.schedule.getHandle(pollScheduleId(s.id)).delete().catch(() => undefined);
  });
}

export type VisibleOrders = Map<string, { at: number; storeId: string; code: string }>;

/** Orders arriving open-loop at `ratePerSecond` for `ms`, each at a random one of `stores`; keyed by the buyer's chat id. */
export async function openLoopOrders(env: BenchEnv, stores: BenchStore[], ratePerSecond: number, ms: number, tickMs: number): Promise<VisibleOrders> {
  const visible: VisibleOrders = new Map();
  const start = Date.now();
  let n = 0;
  while (Date.now() - start < ms) {
    const due = stores.length ? Math.floor(((Date.now() - start) / 1000) * ratePerSecond) : 0;
    while (n < due) {
      const s = stores[Math.floor(Math.random() * stores.length)]!;
      const order = createOrder(env, s);
      const phone = env.kaspi.state(s.token).getOrder(order.code)!.customer.cellPhone!;
      visible.set(chatIdOf(phone), { at: order.visibleAt, storeId: s.id, code: order.code });
      n++;
    }
    await sleep(tickMs);
  }
  return visible;
}

/**
 * Open-loop arrivals at `rate` orders/s (random store each), polled by the stores' Schedules at
 * `pollIntervalSeconds`. visible→sent = the simulator's sendText request time minus the moment
 * the order was created at Kaspi; visible→read = notifications.read_at minus the same moment.
 */
export async function runLatency(env: BenchEnv, o: LatencyOptions, log: (s: string) => void) {
  const stores = await createStores(env, o.stores, { label: 'lat', pollIntervalSeconds: o.pollIntervalSeconds });
  const storeIds = stores.map((s) => s.id);
  await startSchedules(env, stores, 'bench-pipeline');
  // Let every schedule run once on an empty store, so arrivals meet polls in steady state.
  await sleep(o.pollIntervalSeconds * 1000 + 2000);
  env.waha.state.clearLogs();
  const visible = await openLoopOrders(env, stores, o.rate, o.seconds * 1000, 20);
  const n = visible.size;
  log(`  ${n} orders created; waiting for them to be read…`);
  await waitFor(async () => {
    const c = await statusCounts(env, storeIds);
    return (c.read ?? 0) >= n;
  }, o.pollIntervalSeconds * 1000 + 120_000, 1000);
  await deleteSchedules(env, stores);

  const sends = sendTimesByChat(env);
  const toSent: number[] = [];
  for (const [chat, v] of visible) {
    const sent = sends.get(chat);
    if (sent !== undefined) toSent.push(sent - v.at);
  }
  const rows = await env.ctx.db
    .select({ storeId: notifications.storeId, code: notifications.orderCode, readAt: notifications.readAt, createdAt: notifications.createdAt })
    .from(notifications)
    .where(and(inArray(notifications.storeId, storeIds), isNotNull(notifications.readAt)));
  const byKey = new Map([...visible.values()].map((v) => [`${v.storeId}:${v.code}`, v.at]));
  const toRead: number[] = [];
  // Where the time goes: visible → queued is the wait for the next scheduled poll, the Schedule's
  // start lag and the poll itself (notifications.created_at is the poll's transaction).
  const toQueued: number[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    const key = `${r.storeId}:${r.code}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const at = byKey.get(key);
    if (at !== undefined && r.readAt) toRead.push(new Date(r.readAt).getTime() - at);
    if (at !== undefined) toQueued.push(new Date(r.createdAt).getTime() - at);
  }
  const sentSummary = summary(toSent);
  return {
    rate: round(o.rate, 2),
    maxRate: o.maxRate,
    orders: n,
    pollIntervalSeconds: o.pollIntervalSeconds,
    visibleToSentMs: sentSummary,
    visibleToReadMs: summary(toRead),
    visibleToQueuedMs: summary(toQueued),
    targetP99Ms: o.pollIntervalSeconds * 1000 + 2000,
    statuses: await statusCounts(env, storeIds),
  };
}
