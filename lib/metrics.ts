import http from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { sdkMetricsText } from './temporal/sdk-metrics.ts';

/**
 * One registry per process: every process (web, each worker) serves its own /metrics, so nothing
 * assumes a single process. Domain counters are defined here so names stay consistent.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const kaspiPolls = new Counter({ name: 'kaspi_notify_polls_total', help: 'Kaspi polls by outcome', labelNames: ['outcome'], registers: [registry] });
export const notificationsByStatus = new Counter({
  name: 'kaspi_notify_notifications_total',
  help: 'Notification status changes by new status, event and store (every change goes through applyStatus)',
  labelNames: ['status', 'event', 'store'],
  registers: [registry],
});

export const ordersSeen = new Counter({ name: 'kaspi_notify_orders_seen_total', help: 'Orders read from Kaspi by polls, per store', labelNames: ['store'], registers: [registry] });
export const sendLatency = new Histogram({
  name: 'kaspi_notify_send_duration_seconds',
  help: 'Claim-and-send of one message that ended sent (order re-read, number check, WAHA sendText)',
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180],
  registers: [registry],
});
export const eventToSent = new Histogram({
  name: 'kaspi_notify_event_to_sent_seconds',
  help: 'From the order event to the message being sent (pacing, quiet hours and template delays included)',
  buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 12 * 3600],
  registers: [registry],
});
export const wahaErrors = new Counter({ name: 'kaspi_notify_waha_errors_total', help: 'WAHA errors by class (auth, network, session_not_ready, refused, rejected, ambiguous)', labelNames: ['class'], registers: [registry] });
export const kaspiErrors = new Counter({ name: 'kaspi_notify_kaspi_errors_total', help: 'Kaspi errors of polls by class (token_rejected, rate_limited, bad_request, unavailable, …)', labelNames: ['class'], registers: [registry] });
export const wahaWebhooks = new Counter({ name: 'kaspi_notify_waha_webhooks_total', help: 'WAHA webhook deliveries by HTTP answer', labelNames: ['code'], registers: [registry] });

/**
 * Notifications waiting to be sent, by status, read from PostgreSQL when /metrics is scraped.
 * Cheap on purpose: one index-only count per store on notifications_store_status_created_idx
 * (store_id, status, …) — never a scan of the whole table — and at most one query per 15 s
 * however often it is scraped. Exposed by the processes that call collectQueueDepthFrom (web).
 */
type QueryPool = { query: (text: string) => Promise<{ rows: Array<{ status: string; n: number }> }> };
let depthPool: QueryPool | undefined;
let depthCache: { at: number; rows: Array<{ status: string; n: number }> } | undefined;
export function collectQueueDepthFrom(pool: QueryPool): void {
  depthPool = pool;
}
export const QUEUE_DEPTH_SQL = `
  select q.status, coalesce(sum(c.n), 0)::int as n
  from (values ('queued'), ('scheduled'), ('sending')) as q(status)
  cross join stores s
  cross join lateral (select count(*) as n from notifications n where n.store_id = s.id and n.status = q.status) c
  group by q.status`;
export const scheduledQueueDepth = new Gauge({
  name: 'kaspi_notify_queue_depth',
  help: 'Notifications not yet sent, by status (queued, scheduled, sending), from PostgreSQL',
  labelNames: ['status'],
  registers: [registry],
  async collect() {
    if (!depthPool) return;
    if (!depthCache || Date.now() - depthCache.at > 15_000) {
      try {
        depthCache = { at: Date.now(), rows: (await depthPool.query(QUEUE_DEPTH_SQL)).rows };
      } catch {
        return; // A scrape must not fail because the database is slow; the gauge keeps its value.
      }
    }
    for (const r of depthCache.rows) this.set({ status: r.status }, Number(r.n));
  },
});

/** Ours, then the Temporal SDK's own worker metrics when this process runs a worker (lib/temporal/sdk-metrics.ts). */
export async function metricsText(): Promise<{ body: string; contentType: string }> {
  const ours = await registry.metrics();
  const sdk = await sdkMetricsText();
  return { body: sdk ? `${ours}\n${sdk}` : ours, contentType: registry.contentType };
}

/** The worker has no web server of its own: a tiny one on WORKER_METRICS_PORT. */
export function serveMetrics(port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metricsText().then(
      ({ body, contentType }) => res.writeHead(200, { 'content-type': contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}
