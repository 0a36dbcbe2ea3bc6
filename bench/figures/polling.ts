import { ScheduleOverlapPolicy } from '@temporalio/client';
import { and, inArray, isNotNull } from 'drizzle-orm';
import { notifications } from '../../drizzle/schema.ts';
import { desiredPollSchedules, pollPhaseSeconds, pollScheduleOptions } from '../../lib/temporal/schedules.ts';
import { createStores, pool, statusCounts, type BenchStore } from '../lib/fixtures.ts';
import type { BenchEnv, WorkerProcess } from '../lib/env.ts';
import { delta, histogramQuantile, scrape, type Sample } from '../lib/prometheus.ts';
import { cpuSeconds, workerCpuSeconds, round, sleep, summary, treeCpuSeconds, waitFor } from '../lib/stats.ts';
import { deleteSchedules, openLoopOrders, startSchedules, type VisibleOrders } from './latency.ts';
import { sendTimesByChat } from './throughput.ts';

export interface PollingOptions {
  stores: number;
  intervalSeconds: number;
  /** The idle stores' interval (default: intervalSeconds) — lever 1 of docs/performance.md, measured. */
  idleIntervalSeconds?: number;
  seconds: number;
  /** Share of the stores that receive orders during the window (the rest are idle, as most are). */
  busyShare: number;
  /** Orders a busy store receives per hour, arriving open-loop at random busy stores. */
  busyOrdersPerHour: number;
  /** Puts every Schedule back at offset 0 (all stores firing in the same second, as before phases). */
  sameSecond: boolean;
  /** 'allow-all': the product's Schedules with overlap ALLOW_ALL (docs/performance.md, lever 2) — to measure what it would save. */
  overlap: 'skip' | 'allow-all';
}

/** Actions of an idle poll: Schedule action, workflow start, pollKaspiStore (figure 4; no heartbeat: activities/kaspi-poll.ts HEARTBEAT_QUIET_MS). */
const IDLE_POLL_ACTIONS = 3;

/**
 * N stores on their real Schedules (reconcileSchedules, with the product's phases), a share of them
 * busy — WhatsApp connected and orders arriving open-loop — the rest with an empty Kaspi. Over the
 * window: CPU of the worker, Temporal and PostgreSQL (from /proc), what the Temporal server itself
 * counted (Schedule starts, missed catch-up windows, rate-limited starts, schedule-to-start
 * latency of our task queue, billable-action counter), poll lag from visibility (run start/close
 * minus the Schedule's nominal time), and for the busy stores' orders visible → queued (the poll
 * that found it committed) → sent (WAHA received sendText).
 */
export async function runPolling(env: BenchEnv, worker: WorkerProcess, o: PollingOptions, log: (s: string) => void) {
  const busyCount = Math.min(o.stores, Math.round(o.stores * o.busyShare));
  const idleInterval = o.idleIntervalSeconds ?? o.intervalSeconds;
  const idle = await createStores(env, o.stores - busyCount, { label: 'poll', waha: false, pollIntervalSeconds: idleInterval });
  const busy = busyCount ? await createStores(env, busyCount, { label: 'busy', pollIntervalSeconds: o.intervalSeconds }) : [];
  const stores = [...idle, ...busy];
  const s0 = Date.now();
  if (o.sameSecond || o.overlap === 'allow-all') {
    // The product's Schedules changed as asked, created directly: describing 1,000 just-created
    // Schedules to change them times out while the server's internal worker is busy.
    const desired = await desiredPollSchedules(env.ctx.db);
    const ids = new Set(stores.map((st) => st.id));
    await pool(desired.filter((d) => ids.has(d.storeId)), 10, async (d) => {
      const options = pollScheduleOptions(d, 'bench-pipeline');
      await env.ctx.temporal.schedule.create({
        ...options,
        ...(o.sameSecond ? { spec: { intervals: [{ every: `${d.intervalSeconds}s` }] } } : {}),
        ...(o.overlap === 'allow-all' ? { policies: { ...options.policies, overlap: ScheduleOverlapPolicy.ALLOW_ALL } } : {}),
      });
    });
  } else {
    await startSchedules(env, stores, 'bench-pipeline');
  }
  log(`  ${stores.length} schedules (${busy.length} busy) created in ${Math.round((Date.now() - s0) / 1000)} s; warming up one interval…`);
  await sleep(o.intervalSeconds * 1000 + 2000);
  env.waha.state.clearLogs();

  const metrics0 = await scrape(env.temporalMetricsUrl);
  const t0 = Date.now();
  const cpu0 = { worker: workerCpuSeconds(worker), temporal: treeCpuSeconds(env.temporalPid), postgres: env.postgresPid ? treeCpuSeconds(env.postgresPid) : null, bench: cpuSeconds(process.pid) };
  const visible = await openLoopOrders(env, busy, (busyCount * o.busyOrdersPerHour) / 3600, o.seconds * 1000, 100);
  // The window ends here: the scrape below can take seconds on a loaded machine.
  const t1 = Date.now();
  const wall = (t1 - t0) / 1000;
  const cpu = {
    worker: (workerCpuSeconds(worker) - cpu0.worker) / wall,
    temporal: (treeCpuSeconds(env.temporalPid) - cpu0.temporal) / wall,
    postgres: cpu0.postgres === null ? null : (treeCpuSeconds(env.postgresPid!) - cpu0.postgres) / wall,
    benchProcess: (cpuSeconds(process.pid) - cpu0.bench) / wall,
  };
  const metrics1 = await scrape(env.temporalMetricsUrl);

  log(`  ${visible.size} orders arrived at busy stores; waiting for their sends…`);
  await waitFor(async () => sendTimesByChat(env).size >= visible.size, o.intervalSeconds * 1000 + 60_000, 1000);
  await deleteSchedules(env, stores);
  env.kaspi.clearLogs();
  await sleep(3000);

  const lag = await pollLag(env, t0, t1);
  // Each Schedule fires at epoch + n·interval + its phase: count those instants inside the window.
  const firesIn = (storeId: string, interval: number) => {
    const phase = o.sameSecond ? 0 : pollPhaseSeconds(storeId, interval);
    return Math.ceil((t1 / 1000 - phase) / interval) - Math.ceil((t0 / 1000 - phase) / interval);
  };
  const expected = idle.reduce((n, st) => n + firesIn(st.id, idleInterval), 0) + busy.reduce((n, st) => n + firesIn(st.id, o.intervalSeconds), 0);
  const server = serverCounts(metrics0, metrics1);
  const orders = await orderLatency(env, busy, visible);
  const notificationActions = 7; // figure 4: ~6.85 per delivered notification
  return {
    stores: o.stores,
    phases: o.sameSecond ? 'all at offset 0' : 'per store',
    overlap: o.overlap,
    busyStores: busyCount,
    intervalSeconds: o.intervalSeconds,
    windowSeconds: round(wall, 1),
    idleIntervalSeconds: idleInterval,
    pollsPerSecondNominal: round((o.stores - busyCount) / idleInterval + busyCount / o.intervalSeconds, 1),
    runs: lag.runs,
    expectedRuns: expected,
    runsStillOpen: lag.open,
    cpuCores: {
      worker: round(cpu.worker, 2),
      temporal: round(cpu.temporal, 2),
      postgres: round(cpu.postgres, 2),
      total: round(cpu.worker + cpu.temporal + (cpu.postgres ?? 0), 2),
      benchProcessKaspiSim: round(cpu.benchProcess, 2),
    },
    startLagMs: summary(lag.start),
    pollDoneLagMs: summary(lag.done),
    server,
    actionsPerHour: {
      // Our counting rules (bench/README.md): 4 per idle poll, ~7 per delivered notification.
      model: Math.round(((lag.runs * IDLE_POLL_ACTIONS + visible.size * notificationActions) * 3600) / wall),
      serverActionCounter: Math.round((server.actionCounter * 3600) / wall),
    },
    busyOrders: orders,
    targetVisibleToSentP99Ms: o.intervalSeconds * 1000 + 2000,
  };
}

async function pollLag(env: BenchEnv, t0: number, t1: number) {
  const start: number[] = [];
  const done: number[] = [];
  let runs = 0;
  let open = 0;
  const query = `WorkflowType = "kaspiPollWorkflow" AND StartTime >= "${new Date(t0).toISOString()}" AND StartTime < "${new Date(t1).toISOString()}"`;
  for await (const wf of env.ctx.temporal.workflow.list({ query })) {
    const nominal = (wf.searchAttributes as Record<string, unknown[] | undefined>).TemporalScheduledStartTime?.[0];
    if (!nominal) continue;
    runs++;
    const at = new Date(nominal as string | Date).getTime();
    start.push(wf.startTime.getTime() - at);
    if (wf.closeTime) done.push(wf.closeTime.getTime() - at);
    else open++;
  }
  return { runs, open, start, done };
}

/** What the Temporal server counted in the window (its own /metrics, scraped before and after). */
function serverCounts(before: Sample[], after: Sample[]) {
  const ns = { namespace: 'default' };
  const seconds = (v: number | null) => (v === null ? null : Number.isFinite(v) ? Math.round(v * 1000) : v);
  return {
    scheduleActionSuccess: delta(before, after, 'schedule_action_success', ns),
    scheduleMissedCatchupWindow: delta(before, after, 'schedule_missed_catchup_window', ns),
    scheduleRateLimited: delta(before, after, 'schedule_rate_limited', ns),
    scheduleBufferOverruns: delta(before, after, 'schedule_buffer_overruns', ns),
    // Bucket upper bounds ("≤"), in ms: when the Schedule's start happened after its nominal time.
    scheduleActionDelayP50Ms: seconds(histogramQuantile(before, after, 'schedule_action_delay', 0.5, ns)),
    scheduleActionDelayP99Ms: seconds(histogramQuantile(before, after, 'schedule_action_delay', 0.99, ns)),
    // How long tasks waited in each task queue before a worker took them (ours, their sticky
    // queues, and the server's own per-namespace queue that runs the Schedules): p99 per queue.
    taskScheduleToStartP99Ms: perQueueP99(before, after, 'task_schedule_to_start_latency', ns).map((q) => ({ ...q, p99Ms: seconds(q.p99) })),
    actionCounter: delta(before, after, 'action', ns),
    scraped: before.length > 0 && after.length > 0,
  };
}

function perQueueP99(before: Sample[], after: Sample[], name: string, filter: Record<string, string>) {
  const keys = new Map<string, { taskqueue: string; task_type: string }>();
  for (const s of after) {
    if (s.name !== `${name}_bucket` || s.labels.namespace !== filter.namespace) continue;
    const key = { taskqueue: s.labels.taskqueue ?? '', task_type: s.labels.task_type ?? '' };
    keys.set(`${key.taskqueue}|${key.task_type}`, key);
  }
  return [...keys.values()]
    .map((k) => ({ taskQueue: k.taskqueue.startsWith('/_sys/') || k.taskqueue.length > 60 ? `${k.taskqueue.slice(0, 60)}…` : k.taskqueue, type: k.task_type, p99: histogramQuantile(before, after, name, 0.99, { ...filter, ...k }) }))
    .filter((q) => q.p99 !== null);
}

/** visible → queued (the poll's transaction) → sent (WAHA's sendText) for the busy stores' orders. */
async function orderLatency(env: BenchEnv, busy: BenchStore[], visible: VisibleOrders) {
  const storeIds = busy.map((s) => s.id);
  if (!storeIds.length) return null;
  const rows = await env.ctx.db
    .select({ storeId: notifications.storeId, code: notifications.orderCode, createdAt: notifications.createdAt })
    .from(notifications)
    .where(and(inArray(notifications.storeId, storeIds), isNotNull(notifications.createdAt)));
  const queuedAt = new Map(rows.map((r) => [`${r.storeId}:${r.code}`, new Date(r.createdAt).getTime()]));
  const sends = sendTimesByChat(env);
  const toQueued: number[] = [];
  const queuedToSent: number[] = [];
  const toSent: number[] = [];
  for (const [chat, v] of visible) {
    const q = queuedAt.get(`${v.storeId}:${v.code}`);
    const sent = sends.get(chat);
    if (q !== undefined) toQueued.push(q - v.at);
    if (sent !== undefined) toSent.push(sent - v.at);
    if (q !== undefined && sent !== undefined) queuedToSent.push(sent - q);
  }
  return {
    orders: visible.size,
    visibleToQueuedMs: summary(toQueued),
    queuedToSentMs: summary(queuedToSent),
    visibleToSentMs: summary(toSent),
    statuses: await statusCounts(env, storeIds),
  };
}
