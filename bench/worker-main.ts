import { readFileSync } from 'node:fs';
import { Context } from '@temporalio/activity';
import { createActivities, type Activities } from '../activities/index.ts';
import type { QueuedNotificationRef } from '../activities/kaspi-poll.ts';
import { createContext } from '../lib/bootstrap.ts';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import { startWorker } from '../lib/temporal/worker.ts';
import { ackSignal } from '../workflows/signals.ts';

/**
 * The benchmark's worker process. `real`: the product's activities, unchanged. `noop`: the same
 * activity names doing nothing (the floor) — the poll hands out synthetic ids, the send returns
 * "sent" and, like the WAHA webhook handler would, signals acks 2 and 3 to the workflow.
 * Every activity is wrapped to count heartbeat calls (billable, but not in the history).
 */
interface Config {
  databaseUrl: string;
  temporalAddress: string;
  kaspiUrl: string;
  bundlePath: string;
  appSecret: string;
  mode: 'real' | 'noop';
  taskQueue: string;
  maxCachedWorkflows?: number;
  noopOrdersPerStore?: number;
}

const config = JSON.parse(process.env.BENCH_WORKER_CONFIG ?? '{}') as Config;
const appConfig = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'warn', KASPI_API_URL: config.kaspiUrl, TEMPORAL_TASK_QUEUE: config.taskQueue });
const ctx = await createContext(appConfig, { databaseUrl: config.databaseUrl, temporalAddress: config.temporalAddress, appSecret: config.appSecret }, { logger: createLogger({ level: 'warn', pretty: false }), poolSize: 20 });

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
  workflowBundle: { code: readFileSync(config.bundlePath, 'utf8') },
  activities,
  ...(config.maxCachedWorkflows ? { maxCachedWorkflows: config.maxCachedWorkflows } : {}),
});

process.on('message', (m: { type: string; id?: number }) => {
  if (m.type === 'heartbeats') process.send?.({ type: 'heartbeats', id: m.id, stats });
  if (m.type === 'stop') {
    void (async () => {
      await running.shutdown();
      await ctx.close();
      // exit (not kill) so --cpu-prof writes its profile.
      process.exit(0);
    })();
  }
});
process.send?.({ type: 'ready' });
await running.done;
