import http from 'node:http';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';

/**
 * One registry per process: every process (web, each worker) serves its own /metrics, so nothing
 * assumes a single process. Domain counters are defined here so names stay consistent.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const kaspiPolls = new Counter({ name: 'kaspi_notify_polls_total', help: 'Kaspi polls by outcome', labelNames: ['outcome'], registers: [registry] });
export const notificationsByStatus = new Counter({
  name: 'kaspi_notify_notifications_total',
  help: 'Notification status changes by status and event',
  labelNames: ['status', 'event'],
  registers: [registry],
});

export async function metricsText(): Promise<{ body: string; contentType: string }> {
  return { body: await registry.metrics(), contentType: registry.contentType };
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
