import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { runMigrations } from '../../lib/db/migrate.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../lib/runtime/embedded-postgres.ts';
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
let embedded: EmbeddedPostgres | undefined;
let tmp: string | undefined;
let dropDatabase: (() => Promise<void>) | undefined;

export async function setup(project: TestProject): Promise<void> {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'kaspi-notify-test-'));
  const cli = await ensureTemporalCli();

  const [server] = await Promise.all([
    (async () => {
      devServer = await startDevServer({ cli, port: await findFreePort(), logFile: path.join(tmp!, 'temporal.log') });
      return devServer;
    })(),
    (async () => {
      let serverUrl = process.env.DATABASE_URL;
      if (!serverUrl) {
        embedded = await startEmbeddedPostgres({ dataDir: path.join(tmp!, 'data'), logDir: path.join(tmp!, 'logs'), log: () => undefined });
        serverUrl = embedded.databaseUrl;
      }
      const name = `kaspi_notify_test_${process.pid}_${Date.now()}`;
      const admin = new pg.Client({ connectionString: serverUrl });
      await admin.connect();
      await admin.query(`create database ${name}`);
      await admin.end();
      const url = new URL(serverUrl);
      url.pathname = `/${name}`;
      project.provide('databaseUrl', url.toString());
      project.provide('serverUrl', serverUrl);
      dropDatabase = async () => {
        const c = new pg.Client({ connectionString: serverUrl });
        await c.connect();
        await c.query(`drop database if exists ${name} with (force)`);
        await c.end();
      };
      await runMigrations(url.toString());
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
  await dropDatabase?.().catch(() => undefined);
  await devServer?.stop();
  await embedded?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
