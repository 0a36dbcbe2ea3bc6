import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { createFreshDatabase } from '../../lib/runtime/fresh-database.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';
import { ensureTemporalCli } from '../../lib/runtime/temporal-cli.ts';
import { startDevServer, type DevServer } from '../../lib/runtime/temporal-dev-server.ts';
import { WORKFLOWS_PATH } from '../../lib/temporal/worker.ts';

/**
 * One real Temporal dev server (in memory) and one fresh database per test run, shared by every
 * test file. The database is a new one on the machine's PostgreSQL when DATABASE_URL is set, else
 * an embedded PostgreSQL in a temporary folder. Workflow code is bundled once here.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    /** A server URL without a database name, for tests that create their own databases. */
    serverUrl: string;
    temporalAddress: string;
    temporalCli: string;
    workflowBundlePath: string;
  }
}

let devServer: DevServer | undefined;
let database: Awaited<ReturnType<typeof createFreshDatabase>> | undefined;
let tmp: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'kaspi-notify-test-'));
  const cli = await ensureTemporalCli();

  const [server] = await Promise.all([
    (async () => {
      devServer = await startDevServer({ cli, port: await findFreePort(), logFile: path.join(tmp!, 'temporal.log') });
      return devServer;
    })(),
    (async () => {
      database = await createFreshDatabase({ prefix: 'kaspi_notify_test', scratchDir: tmp!, serverUrl: process.env.DATABASE_URL });
      project.provide('databaseUrl', database.databaseUrl);
      project.provide('serverUrl', database.serverUrl);
    })(),
  ]);

  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
  const bundlePath = path.join(tmp, 'workflow-bundle.js');
  writeFileSync(bundlePath, code);

  project.provide('temporalAddress', server.address);
  project.provide('temporalCli', cli);
  project.provide('workflowBundlePath', bundlePath);
}

export async function teardown(): Promise<void> {
  await devServer?.stop();
  await database?.dispose().catch(() => undefined);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
