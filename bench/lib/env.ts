import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { startWeb, type RunningWeb } from '../../api/server.ts';
import { createContext } from '../../lib/bootstrap.ts';
import { loadConfig } from '../../lib/config.ts';
import type { AppContext } from '../../lib/context.ts';
import { createLogger } from '../../lib/logger.ts';
import { createFreshDatabase } from '../../lib/runtime/fresh-database.ts';
import { findFreePort, findFreePortInRange } from '../../lib/runtime/ports.ts';
import { ensureTemporalCli } from '../../lib/runtime/temporal-cli.ts';
import { startDevServer, type DevServer } from '../../lib/runtime/temporal-dev-server.ts';
import { createTemporalDatabases, ensureNamespace, migrateTemporalSchemas, startTemporalServer, writeClusterConfig, type PostgresServer, type ServerPorts } from '../../lib/runtime/temporal-cluster.ts';
import { ensureTemporalServerBinaries } from '../../lib/runtime/temporal-server-binaries.ts';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { WORKFLOWS_PATH } from '../../lib/temporal/worker.ts';
import { createKaspiSimulatorApp, KaspiSimState } from '../../simulators/kaspi/server.ts';
import { startWahaSimulator, type WahaSimulator } from '../../simulators/waha/server.ts';

/**
 * Everything one benchmark run needs, started the way test/setup/global-setup.ts starts it:
 * a Temporal dev server IN MEMORY (no --db-filename), a fresh database (on DATABASE_URL's server
 * when set, else an embedded PostgreSQL in a temp folder), migrations, the workflow bundle, the
 * WAHA simulator, one Kaspi simulator per store behind one port (routed by X-Auth-Token, so every
 * store sees only its own orders) and our real web app (the WAHA webhooks reach it). The worker
 * runs in its own process (bench/worker-main.ts) so its RSS and CPU are its own.
 */
export const APP_SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';
export const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

export interface BenchEnv {
  tmp: string;
  databaseUrl: string;
  temporalAddress: string;
  temporalCli: string;
  temporalPid: number;
  postgresPid: number | null;
  bundlePath: string;
  kaspiUrl: string;
  kaspi: KaspiRouter;
  waha: WahaSimulator;
  web: RunningWeb;
  ctx: AppContext & { close(): Promise<void> };
  close(): Promise<void>;
}

/** One Kaspi simulator state per store token, served on one port. */
export class KaspiRouter {
  readonly #apps = new Map<string, { state: KaspiSimState; fetch: (req: Request) => Response | Promise<Response> }>();
  state(token: string): KaspiSimState {
    let entry = this.#apps.get(token);
    if (!entry) {
      const state = new KaspiSimState({ tokens: [token] });
      const app = createKaspiSimulatorApp(state);
      entry = { state, fetch: (req) => app.fetch(req) };
      this.#apps.set(token, entry);
    }
    return entry.state;
  }
  fetch = (req: Request): Response | Promise<Response> => {
    const token = req.headers.get('x-auth-token') ?? '';
    const entry = this.#apps.get(token);
    if (!entry) return new Response(JSON.stringify({ message: 'unknown token' }), { status: 401, headers: { 'content-type': 'application/json' } });
    return entry.fetch(req);
  };
  /** Drops request logs so a long run does not grow the bench process. */
  clearLogs(): void {
    for (const { state } of this.#apps.values()) state.requests.length = 0;
  }
}

/** `dev`: `temporal server start-dev` in memory. `cluster`: the production server on PostgreSQL, as `npm run cluster` runs it. */
export type BenchTemporal = 'dev' | 'cluster';

interface BenchTemporalServer {
  address: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * The production Temporal server for a bench run: its two databases (named for this run) on the
 * same PostgreSQL server as the app's database, created and migrated by temporal-sql-tool, dropped
 * again at the end.
 */
async function startClusterTemporal(serverUrl: string, tmp: string, cli: string, log: (line: string) => void): Promise<BenchTemporalServer> {
  const binaries = await ensureTemporalServerBinaries({ progress: log });
  const url = new URL(serverUrl);
  url.pathname = '/postgres';
  const server: PostgresServer = { host: url.hostname, port: Number(url.port || 5432), adminUrl: url.toString() };
  // Role and databases of this run only: concurrent runs never share or reset each other's.
  const role = { user: `temporal_bench_${process.pid}`, password: randomBytes(12).toString('hex') };
  const databases = { default: `temporal_bench_${process.pid}`, visibility: `temporal_visibility_bench_${process.pid}` };
  const dropAll = async () => {
    const admin = new pg.Client({ connectionString: server.adminUrl });
    await admin.connect();
    try {
      for (const db of [databases.default, databases.visibility]) await admin.query(`drop database if exists ${pg.escapeIdentifier(db)} with (force)`);
      await admin.query(`drop role if exists ${pg.escapeIdentifier(role.user)}`);
    } finally {
      await admin.end();
    }
  };
  await createTemporalDatabases(server, role, databases);
  const ports: ServerPorts = {
    frontend: await findFreePort(), frontendHttp: await findFreePort(), history: await findFreePort(), matching: await findFreePort(), worker: await findFreePort(),
    metrics: await findFreePort(), ui: await findFreePort(),
    membership: { frontend: await findFreePortInRange(20_000, 32_767), history: await findFreePortInRange(20_000, 32_767), matching: await findFreePortInRange(20_000, 32_767), worker: await findFreePortInRange(20_000, 32_767) },
  };
  const configDir = path.join(tmp, 'temporal-config');
  writeClusterConfig({ configDir, server, role, ports, historyShards: 16, namespace: 'default', databases });
  const address = `127.0.0.1:${ports.frontend}`;
  let running: Awaited<ReturnType<typeof startTemporalServer>> | undefined;
  try {
    migrateTemporalSchemas(binaries, server, role, databases);
    running = await startTemporalServer({ binaries, configDir, cli, address, logFile: path.join(tmp, 'temporal-server.log') });
    await ensureNamespace(cli, address, 'default', 1);
  } catch (err) {
    await running?.stop();
    await dropAll();
    throw err;
  }
  const temporalServer = running;
  return {
    address,
    pid: temporalServer.pid,
    stop: async () => {
      await temporalServer.stop();
      await dropAll();
    },
  };
}

export async function startBenchEnv(log: (line: string) => void, options: { temporal?: BenchTemporal } = {}): Promise<BenchEnv> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'kaspi-notify-bench-'));
  const cli = await ensureTemporalCli({ progress: log });
  let temporal: BenchTemporalServer | undefined;
  const database = await createFreshDatabase({ prefix: 'kaspi_notify_bench', scratchDir: tmp, serverUrl: process.env.DATABASE_URL });
  const databaseUrl = database.databaseUrl;
  if (options.temporal === 'cluster') {
    temporal = await startClusterTemporal(database.serverUrl, tmp, cli, log);
  } else {
    const devServer: DevServer = await startDevServer({ cli, port: await findFreePort(), logFile: path.join(tmp, 'temporal.log') });
    temporal = devServer;
  }
  log(`${options.temporal === 'cluster' ? 'Temporal server 1.29.1 on PostgreSQL' : 'Temporal dev server (in memory)'} at ${temporal.address}; database ${database?.postgresPid ? 'embedded PostgreSQL' : 'on DATABASE_URL server'}`);

  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
  const bundlePath = path.join(tmp, 'workflow-bundle.js');
  writeFileSync(bundlePath, code);

  const kaspi = new KaspiRouter();
  const kaspiServer = await new Promise<ReturnType<typeof serve> & { address(): unknown }>((resolve, reject) => {
    const s = serve({ fetch: kaspi.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as never));
    s.once('error', reject);
  });
  const kaspiPort = (kaspiServer.address() as { port: number }).port;
  const kaspiUrl = `http://127.0.0.1:${kaspiPort}`;

  const waha = await startWahaSimulator({ engine: 'GOWS', apiKey: 'bench-key', ackDelaysMs: [10, 20, 30], startDelayMs: 300 });
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'warn', KASPI_API_URL: kaspiUrl, TEMPORAL_TASK_QUEUE: 'bench-pipeline' });
  const ctx = await createContext(config, { databaseUrl, temporalAddress: temporal!.address, appSecret: APP_SECRET }, { logger: createLogger({ level: 'warn', pretty: false }), poolSize: 20 });
  const web = await startWeb(ctx, await findFreePort(), '127.0.0.1');

  return {
    tmp,
    databaseUrl,
    temporalAddress: temporal!.address,
    temporalCli: cli,
    temporalPid: temporal!.pid,
    postgresPid: database?.postgresPid ?? null,
    bundlePath,
    kaspiUrl,
    kaspi,
    waha,
    web,
    ctx,
    close: async () => {
      await waha.close().catch(() => undefined);
      await new Promise<void>((r) => {
        if ('closeAllConnections' in kaspiServer && typeof kaspiServer.closeAllConnections === 'function') kaspiServer.closeAllConnections();
        kaspiServer.close(() => r());
      });
      await web.close().catch(() => undefined);
      await ctx.close().catch(() => undefined);
      await temporal?.stop();
      await database?.dispose().catch(() => undefined);
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

export interface WorkerProcessOptions {
  mode: 'real' | 'noop';
  taskQueue: string;
  maxCachedWorkflows?: number;
  cpuProfDir?: string;
}

export interface HeartbeatStats {
  [activity: string]: { executions: number; withHeartbeat: number; heartbeatCalls: number; maxDurationMs: number };
}

export interface WorkerProcess {
  pid: number;
  /** Every process of the group (one for a single worker). */
  pids: number[];
  child: ChildProcess;
  heartbeats(): Promise<HeartbeatStats>;
  stop(): Promise<void>;
}

/** Starts bench/worker-main.ts in its own Node process and waits until it polls. */
export async function startWorkerProcess(env: BenchEnv, options: WorkerProcessOptions): Promise<WorkerProcess> {
  const config = {
    databaseUrl: env.databaseUrl,
    temporalAddress: env.temporalAddress,
    kaspiUrl: env.kaspiUrl,
    bundlePath: env.bundlePath,
    appSecret: APP_SECRET,
    ...options,
  };
  const args = ['--import', 'tsx'];
  if (options.cpuProfDir) {
    mkdirSync(options.cpuProfDir, { recursive: true });
    args.push('--cpu-prof', '--cpu-prof-dir', options.cpuProfDir);
  }
  args.push(path.join(BENCH_DIR, 'worker-main.ts'));
  const child = spawn(process.execPath, args, {
    env: { ...process.env, BENCH_WORKER_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, (v: HeartbeatStats) => void>();
  let seq = 0;
  await new Promise<void>((resolve, reject) => {
    const onMessage = (m: { type: string }) => {
      if (m.type === 'ready') {
        child.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number | null) => reject(new Error(`bench worker exited with code ${code} before it was ready`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
  child.on('message', (m: { type: string; id?: number; stats?: HeartbeatStats }) => {
    if (m.type === 'heartbeats' && m.id !== undefined) pending.get(m.id)?.(m.stats ?? {});
  });
  return {
    pid: child.pid ?? 0,
    pids: [child.pid ?? 0],
    child,
    heartbeats: () => new Promise((resolve) => {
      const id = ++seq;
      pending.set(id, resolve);
      child.send({ type: 'heartbeats', id });
    }),
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.send({ type: 'stop' });
    }),
  };
}

/**
 * N worker processes on one task queue, seen by the figures as one worker: CPU summed over the
 * processes, heartbeat statistics added up.
 */
export async function startWorkerGroup(env: BenchEnv, options: WorkerProcessOptions, count: number): Promise<WorkerProcess> {
  const workers: WorkerProcess[] = [];
  for (let i = 0; i < count; i++) workers.push(await startWorkerProcess(env, options));
  if (count === 1) return workers[0]!;
  return {
    pid: workers[0]!.pid,
    pids: workers.map((w) => w.pid),
    child: workers[0]!.child,
    heartbeats: async () => {
      const merged: HeartbeatStats = {};
      for (const stats of await Promise.all(workers.map((w) => w.heartbeats()))) {
        for (const [activity, s] of Object.entries(stats)) {
          const m = (merged[activity] ??= { executions: 0, withHeartbeat: 0, heartbeatCalls: 0, maxDurationMs: 0 });
          m.executions += s.executions;
          m.withHeartbeat += s.withHeartbeat;
          m.heartbeatCalls += s.heartbeatCalls;
          m.maxDurationMs = Math.max(m.maxDurationMs, s.maxDurationMs);
        }
      }
      return merged;
    },
    stop: async () => void (await Promise.all(workers.map((w) => w.stop()))),
  };
}
