import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { temporal } from '@temporalio/proto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findFreePort } from '../../lib/runtime/ports.ts';
import { ensureProductionBuild, type ProductionBuild } from '../../lib/runtime/production-build.ts';
import { SEARCH_ATTRIBUTES } from '../../workflows/config.ts';
import { eventually } from '../support/eventually.ts';

/**
 * The production build run as production runs it: `node dist/bin/migrate.js`, `node dist/bin/web.js`
 * and `node dist/bin/worker.js` with plain node (no tsx), on a database of their own and a Temporal
 * namespace of their own (the worker creates the maintenance Schedules at start; in the shared
 * namespace they would land on this test's task queue and starve the other files).
 */
const suffix = `${process.pid}_${Date.now()}`;
const namespace = `kn-production-build-${suffix}`;
const taskQueue = `production-build-${suffix}`;
const dbName = `kaspi_notify_dist_${suffix}`;
const temporalAddress = inject('temporalAddress');
const children: { name: string; child: ChildProcess; output: () => string }[] = [];

let build: ProductionBuild;
let databaseUrl: string;
let connection: Connection | undefined;

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: inject('serverUrl') });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    APP_SECRET: randomBytes(32).toString('hex'),
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    KASPI_API_URL: 'http://127.0.0.1:9/shop/api/v2',
    LOG_LEVEL: 'warn',
    ...extra,
  };
  // Plain node: nothing may slip a TypeScript loader in.
  delete e.NODE_OPTIONS;
  return e;
}

function run(name: string, extra: Record<string, string> = {}) {
  const child = spawn(process.execPath, [build.entry(name)], { env: env(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  children.push({ name, child, output: () => output });
  return { child, exited, output: () => output };
}

beforeAll(async () => {
  build = await ensureProductionBuild({ progress: () => undefined });

  await admin((c) => c.query(`create database ${dbName}`));
  const url = new URL(inject('serverUrl'));
  url.pathname = `/${dbName}`;
  databaseUrl = url.toString();

  connection = await Connection.connect({ address: temporalAddress });
  await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
  const keyword = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  // A namespace just registered may take a moment to be known to every service.
  await eventually(
    () => connection!.operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTES.map((a) => [a.name, keyword])) }).then(() => true, () => false),
    30_000,
    500,
  );
}, 300_000);

afterAll(async () => {
  for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await connection?.close();
  await admin((c) => c.query(`drop database if exists ${dbName} with (force)`)).catch(() => undefined);
});

describe('production build (dist/, plain node)', () => {
  it('migrates, serves the admin with its assets, runs workflows, and stops on SIGTERM', async () => {
    const migrate = run('migrate');
    expect(await migrate.exited, migrate.output()).toBe(0);
    expect(migrate.output()).toContain('Migrations applied.');

    const port = await findFreePort();
    const web = run('web', { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });
    const worker = run('worker', { WORKER_METRICS_PORT: String(await findFreePort()) });
    const base = `http://127.0.0.1:${port}`;
    await eventually(() => fetch(`${base}/readyz`).then((r) => r.status === 200, () => false), 60_000, 300).catch((err: unknown) => {
      throw new Error(`web not ready: ${String(err)}\nweb:\n${web.output()}\nworker:\n${worker.output()}`);
    });
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ ok: true });
    const login = await fetch(`${base}/login`);
    expect(login.status).toBe(200);
    expect(await login.text()).toContain('Войти');
    const htmx = await fetch(`${base}/static/htmx.min.js`);
    expect(htmx.status).toBe(200);
    expect(await htmx.text()).toContain('htmx');
    expect((await fetch(`${base}/static/app.css`)).status).toBe(200);

    // The worker runs the prebuilt bundle: a workflow started on its queue completes.
    const client = new Client({ connection: connection!, namespace });
    const handle = await client.workflow.start('reconcileSchedulesWorkflow', { taskQueue, workflowId: `dist-reconcile-${suffix}`, args: [] });
    await handle.result();
    expect((await handle.describe()).status.name).toBe('COMPLETED');

    web.child.kill('SIGTERM');
    worker.child.kill('SIGTERM');
    expect(await web.exited, web.output()).toBe(0);
    expect(await worker.exited, worker.output()).toBe(0);
  }, 180_000);
});
