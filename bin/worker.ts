/** `npm run worker`: one Temporal worker; run as many as the load needs against one cluster. */
import { enableSdkMetrics } from '../lib/temporal/sdk-metrics.ts';
import { findFreePort } from '../lib/runtime/ports.ts';
import { ensureMaintenanceSchedules } from '../lib/temporal/maintenance-schedules.ts';
import { ensureReconcileSchedule } from '../lib/temporal/schedules.ts';
import { startWorker } from '../lib/temporal/worker.ts';
import { serveMetrics } from '../lib/metrics.ts';
import { onShutdown, productionContext } from './process-main.ts';

const { config, ctx } = await productionContext();
await ensureReconcileSchedule(ctx.temporal, config.TEMPORAL_TASK_QUEUE);
await ensureMaintenanceSchedules(ctx.temporal, config.TEMPORAL_TASK_QUEUE);
enableSdkMetrics(`127.0.0.1:${await findFreePort()}`); // Temporal SDK worker metrics, appended to /metrics
const worker = await startWorker(ctx);
const metrics = await serveMetrics(config.WORKER_METRICS_PORT);
ctx.logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE }, 'worker running');
onShutdown(async () => {
  metrics.close();
  await worker.shutdown();
  await ctx.close();
});
worker.done.catch((err: unknown) => {
  ctx.logger.error({ err }, 'worker stopped');
  process.exit(1);
});
