import path from 'node:path';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { Context } from '@temporalio/activity';
import type * as ActivitiesModule from '../activities/index.ts';
import type { QueuedNotificationRef } from '../activities/kaspi-poll.ts';
import type * as BootstrapModule from '../lib/bootstrap.ts';
import type * as ConfigModule from '../lib/config.ts';
import type * as LoggerModule from '../lib/logger.ts';
import type * as MetricsModule from '../lib/metrics.ts';
import type * as PortsModule from '../lib/runtime/ports.ts';
import type * as SdkMetricsModule from '../lib/temporal/sdk-metrics.ts';
import type * as WorkerModule from '../lib/temporal/worker.ts';
import type * as SignalsModule from '../workflows/signals.ts';

/**
 * The benchmark's worker process. `real`: the product's activities, unchanged. `noop`: the same
 * activity names doing nothing (the floor) — the poll hands out synthetic ids, the send returns
 * "sent" and, like the WAHA webhook handler would, signals acks 2 and 3 to the workflow.
 * Every activity is wrapped to count heartbeat calls (billable, but not in the history).
 *
 * The product is loaded from `productRoot`: the checkout (run with the tsx loader) or the
 * production build's dist/ (run with plain node, this file transpiled next to it by
 * bench/lib/env.ts), so the memory figure is taken on the code production runs. Product modules are
 * imported dynamically for that reason; their types still come from the sources.
 */
export interface BenchWorkerConfig {
  databaseUrl: string;
  temporalAddress: string;
  kaspiUrl: string;
  bundlePath: string;
  appSecret: string;
  mode: 'real' | 'noop';
  taskQueue: string;
  /** The checkout or dist/; `productExt` is the extension of its modules. */
  productRoot: string;
  productExt: 'ts' | 'js';
  maxCachedWorkflows?: number;
  tuning?: WorkerModule.WorkerTuning;
  /** As bin/worker.ts: the default pool size, the SDK's metrics exporter and /metrics served (prom-client). */
  asProduction?: boolean;
}

/** RSS and V8 figures at each start-up step, so the idle RSS can be attributed. */
export interface StartupStep {
  step: string;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

const config = JSON.parse(process.env.BENCH_WORKER_CONFIG ?? '{}') as BenchWorkerConfig;
const steps: StartupStep[] = [];
const step = (name: string) => {
  const m = process.memoryUsage();
  steps.push({ step: name, rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers });
};
step('node + bench worker module');

async function load<T>(rel: string): Promise<T> {
  return (await import(pathToFileURL(path.join(config.productRoot, `${rel}.${config.productExt}`)).href)) as T;
}
const { createActivities } = await load<typeof ActivitiesModule>('activities/index');
const { createContext } = await load<typeof BootstrapModule>('lib/bootstrap');
const { loadConfig } = await load<typeof ConfigModule>('lib/config');
const { createLogger } = await load<typeof LoggerModule>('lib/logger');
const { startWorker } = await load<typeof WorkerModule>('lib/temporal/worker');
const { ackSignal } = await load<typeof SignalsModule>('workflows/signals');
step('product modules loaded');

const appConfig = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'warn', KASPI_API_URL: config.kaspiUrl, TEMPORAL_TASK_QUEUE: config.taskQueue });
const ctx = await createContext(appConfig, { databaseUrl: config.databaseUrl, temporalAddress: config.temporalAddress, appSecret: config.appSecret }, {
  logger: createLogger({ level: 'warn', pretty: false }),
  // bin/worker.ts leaves the pool at lib/db/client.ts's default; the throughput figures keep their 20.
  ...(config.asProduction ? {} : { poolSize: 20 }),
});
step('context (pg pool, Temporal client)');

let metricsServer: { close(): void } | undefined;
if (config.asProduction) {
  const { enableSdkMetrics } = await load<typeof SdkMetricsModule>('lib/temporal/sdk-metrics');
  const { findFreePort } = await load<typeof PortsModule>('lib/runtime/ports');
  const { serveMetrics } = await load<typeof MetricsModule>('lib/metrics');
  enableSdkMetrics(`127.0.0.1:${await findFreePort()}`);
  metricsServer = await serveMetrics(await findFreePort());
  step('metrics (prom-client /metrics, SDK exporter configured)');
}

type Activities = ActivitiesModule.Activities;
const stats: Record<string, { executions: number; withHeartbeat: number; heartbeatCalls: number; maxDurationMs: number }> = {};
type AnyFn = (...args: unknown[]) => Promise<unknown>;
function counted(name: string, fn: AnyFn): AnyFn {
  return async (...args: unknown[]) => {
    const s = (stats[name] ??= { executions: 0, withHeartbeat: 0, heartbeatCalls: 0, maxDurationMs: 0 });
    const c = Context.current() as unknown as { heartbeat(d?: unknown): void };
    const original = c.heartbeat.bind(c);
    let calls = 0;
    c.heartbeat = (d?: unknown) => {
      calls++;
      original(d);
    };
    const started = Date.now();
    try {
      return await fn(...args);
    } finally {
      s.executions++;
      s.heartbeatCalls += calls;
      if (calls > 0) s.withHeartbeat++;
      s.maxDurationMs = Math.max(s.maxDurationMs, Date.now() - started);
    }
  };
}

function noopActivities(): Partial<Activities> {
  const handedOut = new Map<string, number>();
  const perStore = Number(process.env.BENCH_NOOP_ORDERS ?? 0) || 0;
  const acks = async (workflowId: string) => {
    const handle = ctx.temporal.workflow.getHandle(workflowId);
    // As api/webhooks/waha.ts does now: only DEVICE (2), READ (3) and ERROR acks are signalled;
    // SERVER (1) alone is not (DEVICE satisfies the workflow's SERVER wait as well).
    for (const ack of [2, 3]) {
      try {
        await handle.signal(ackSignal, { ack });
      } catch {
        // ack 3 usually finds the workflow closed (it ends at DELIVERED), as with the real webhook.
      }
    }
  };
  return {
    async pollKaspiStore({ storeId }: { storeId: string }): Promise<QueuedNotificationRef[]> {
      const [total, start] = storeId.includes('~') ? [Number(storeId.split('~')[1]), handedOut.get(storeId) ?? 0] : [perStore, handedOut.get(storeId) ?? 0];
      const n = Math.max(0, Math.min(200, total - start));
      handedOut.set(storeId, start + n);
      return Array.from({ length: n }, (_, i) => ({ notificationId: `${storeId}-${start + i}`, orderCode: String(700000000 + start + i), event: 'new' as const }));
    },
    // The real one would fail on the synthetic ids above: they are no uuids.
    async markNotificationsStarted({ items }: { items: unknown[] }) {
      return items.length;
    },
    async prepareNotification() {
      return { action: 'send' as const, notBefore: 0, freshUntil: Number.MAX_SAFE_INTEGER };
    },
    async claimAndSend() {
      const workflowId = Context.current().info.workflowExecution?.workflowId ?? "";
      setImmediate(() => void acks(workflowId));
      return { result: 'sent' as const, attemptId: 'noop', hasMessageId: true };
    },
    async deliveryState() {
      return { status: 'delivered' as const, lastAck: 2 };
    },
    async finishNotification() {
      return { status: 'failed' as const };
    },
    async lookUpAttempt() {
      return { found: 'sent' as const };
    },
    async checkSentMessage() {
      return { found: 'sent' as const };
    },
  } as unknown as Partial<Activities>;
}

const base = { ...createActivities(ctx), ...(config.mode === 'noop' ? noopActivities() : {}) } as Record<string, AnyFn>;
const activities = Object.fromEntries(Object.entries(base).map(([k, fn]) => [k, counted(k, fn)])) as unknown as Partial<Activities>;

const running = await startWorker(ctx, {
  taskQueue: config.taskQueue,
  workflowBundle: { codePath: config.bundlePath },
  activities,
  // 0 is a bound too (the cache off); only an absent value means the product's default.
  ...(config.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: config.maxCachedWorkflows } : {}),
  ...(config.tuning ? { tuning: config.tuning } : {}),
});
step('worker created (Rust core, workflow thread with the bundle)');

/** The SDK's workflow threads (node:worker_threads), reached through its internals for heap snapshots. */
function workflowThreads(): { getHeapSnapshot(): Promise<Readable> }[] {
  const creator = (running.worker as unknown as { workflowCreator?: { workerThreadClients?: { workerThread: { getHeapSnapshot(): Promise<Readable> } }[] } }).workflowCreator;
  return (creator?.workerThreadClients ?? []).map((c) => c.workerThread);
}

async function writeSnapshots(prefix: string): Promise<string[]> {
  const files = [v8.writeHeapSnapshot(`${prefix}-main.heapsnapshot`)];
  let i = 0;
  for (const thread of workflowThreads()) {
    const file = `${prefix}-workflow-thread-${i++}.heapsnapshot`;
    await pipeline(await thread.getHeapSnapshot(), createWriteStream(file));
    files.push(file);
  }
  return files;
}

type Message = { type: 'heartbeats'; id: number } | { type: 'memory'; id: number } | { type: 'snapshot'; id: number; prefix: string } | { type: 'stop' };
process.on('message', (m: Message) => {
  if (m.type === 'heartbeats') process.send?.({ type: 'heartbeats', id: m.id, stats });
  if (m.type === 'memory') {
    const u = process.memoryUsage();
    const h = v8.getHeapStatistics();
    process.send?.({
      type: 'memory', id: m.id,
      memory: { ...u, mallocedMemory: h.malloced_memory, heapSizeLimit: h.heap_size_limit, spaces: v8.getHeapSpaceStatistics().map((s) => ({ space: s.space_name, size: s.space_size, used: s.space_used_size })) },
    });
  }
  if (m.type === 'snapshot') {
    writeSnapshots(m.prefix).then(
      (files) => process.send?.({ type: 'snapshot', id: m.id, files }),
      (err: unknown) => process.send?.({ type: 'snapshot', id: m.id, files: [], error: String(err) }),
    );
  }
  if (m.type === 'stop') {
    void (async () => {
      await running.shutdown();
      metricsServer?.close();
      await ctx.close();
      // exit (not kill) so --cpu-prof writes its profile.
      process.exit(0);
    })();
  }
});
process.send?.({ type: 'ready', steps });
await running.done;
