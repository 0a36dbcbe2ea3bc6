import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { createContext } from '../../lib/bootstrap.ts';
import { loadConfig } from '../../lib/config.ts';
import type { AppContext } from '../../lib/context.ts';
import { createLogger } from '../../lib/logger.ts';
import { startWorker, type RunningWorker } from '../../lib/temporal/worker.ts';
import type { Activities } from '../../activities/index.ts';

export const TEST_APP_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

export type TestContext = AppContext & { close(): Promise<void> };

/**
 * An AppContext on the run's real PostgreSQL and Temporal. Each test file gets its own task queue,
 * so workers of parallel files never steal each other's tasks.
 */
export async function createTestContext(overrides: { now?: () => Date; env?: Record<string, string> } = {}): Promise<TestContext> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
    // Tests never reach the real Kaspi: without a simulator's URL, calls fail fast on loopback.
    KASPI_API_URL: 'http://127.0.0.1:9/shop/api/v2',
    ...overrides.env,
  });
  const ctx = await createContext(
    config,
    { databaseUrl: inject('databaseUrl'), temporalAddress: inject('temporalAddress'), appSecret: TEST_APP_SECRET },
    { logger: createLogger({ level: config.LOG_LEVEL, pretty: false }), poolSize: 5 },
  );
  if (overrides.now) ctx.now = overrides.now;
  return ctx;
}

export async function startTestWorker(ctx: AppContext, activities?: Partial<Activities>): Promise<RunningWorker> {
  return startWorker(ctx, { workflowBundle: { code: readFileSync(inject('workflowBundlePath'), 'utf8') }, activities });
}
