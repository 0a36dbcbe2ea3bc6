import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { temporalConnectionOptions } from './connection-options.ts';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type Activities } from '../../activities/index.ts';
import type { AppContext } from '../context.ts';
import { sdkTelemetryOptions } from './sdk-metrics.ts';

const here = fileURLToPath(import.meta.url);
// `.ts` when run from source (tsx, vitest), `.js` when run from the production build in dist/.
const compiled = path.extname(here) === '.js';

export const WORKFLOWS_PATH = path.resolve(path.dirname(here), `../../workflows/index${compiled ? '.js' : '.ts'}`);
/** Written by `npm run build` (lib/runtime/production-build.ts) next to the compiled code. */
export const PREBUILT_WORKFLOW_BUNDLE = path.resolve(path.dirname(here), '../../workflow-bundle.js');

/**
 * Where the worker's workflow code comes from. From source it is bundled at start-up (webpack, at
 * every start); the production build ships the bundle `npm run build` made (as Temporal's
 * production sample does), so a worker started with plain `node` skips webpack and runs exactly
 * the workflow code that was built.
 */
export function defaultWorkflowSource(): { workflowBundle: { codePath: string } } | { workflowsPath: string } {
  return compiled ? { workflowBundle: { codePath: PREBUILT_WORKFLOW_BUNDLE } } : { workflowsPath: WORKFLOWS_PATH };
}

export interface RunningWorker {
  worker: Worker;
  /** Resolves when the worker has stopped (after shutdown() or a fatal error). */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

let runtimeInstalled = false;
/** The SDK logs to the console by default; route it through pino at our level (warn unless debugging). */
function installRuntime(ctx: AppContext): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const level: LogLevel = ctx.config.LOG_LEVEL === 'debug' || ctx.config.LOG_LEVEL === 'trace' ? 'DEBUG' : 'WARN';
  const log = ctx.logger.child({ component: 'temporal-sdk' });
  Runtime.install({
    ...sdkTelemetryOptions(),
    logger: new DefaultLogger(level, (entry) => {
      const fields = { ...entry.meta };
      if (entry.level === 'ERROR') log.error(fields, entry.message);
      else if (entry.level === 'WARN') log.warn(fields, entry.message);
      else log.debug(fields, entry.message);
    }),
  });
}

/** Worker options the benchmark varies (bench/figures/memory.ts); the product sets only the cache bound. */
export type WorkerTuning = Pick<WorkerOptions, 'workflowThreadPoolSize' | 'maxConcurrentWorkflowTaskExecutions' | 'maxConcurrentActivityTaskExecutions' | 'stickyQueueScheduleToStartTimeout' | 'reuseV8Context'>;

export async function startWorker(
  ctx: AppContext,
  options: { taskQueue?: string; workflowBundle?: WorkerOptions['workflowBundle']; activities?: Partial<Activities>; maxCachedWorkflows?: number; tuning?: WorkerTuning } = {},
): Promise<RunningWorker> {
  installRuntime(ctx);
  const connection = await NativeConnection.connect({ address: ctx.config.TEMPORAL_ADDRESS ?? '127.0.0.1:7233', ...temporalConnectionOptions(ctx.config) });
  const worker = await Worker.create({
    connection,
    namespace: ctx.config.TEMPORAL_NAMESPACE,
    taskQueue: options.taskQueue ?? ctx.config.TEMPORAL_TASK_QUEUE,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : defaultWorkflowSource()),
    activities: { ...createActivities(ctx), ...options.activities },
    maxCachedWorkflows: options.maxCachedWorkflows ?? ctx.config.WORKER_MAX_CACHED_WORKFLOWS,
    ...options.tuning,
  });
  const done = worker.run().finally(() => connection.close());
  return {
    worker,
    done,
    shutdown: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}

