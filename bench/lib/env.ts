import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import ts from 'typescript';
import { ensureProductionBuild, WORKFLOW_BUNDLE_FILE } from '../../lib/runtime/production-build.ts';
import { WORKFLOWS_PATH, type WorkerTuning } from '../../lib/temporal/worker.ts';
import { WORKER_NODE_FLAGS, WORKER_PROCESS_ENV } from '../../lib/temporal/worker-node-flags.ts';
import type { BenchWorkerConfig, StartupStep } from '../worker-main.ts';
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
  temporalMetricsUrl: string;
  /** Embedded PostgreSQL's postmaster, or the DATABASE_URL server's when it runs on this machine. */
  postgresPid: number | null;
  bundlePath: string;
  /** Where the worker processes run from: the production build (default) or the sources with tsx. */
  workerFrom: WorkerFrom;
  productionBuildDir?: string;
  compiledWorkerMain?: string;
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

/** `dist`: `npm run build`'s output with plain node, as production runs it. `source`: the checkout with tsx. */
export type WorkerFrom = 'dist' | 'source';

/** `dev`: `temporal server start-dev` in memory. `cluster`: the production server on PostgreSQL, as `npm run cluster` runs it. */
export type BenchTemporal = 'dev' | 'cluster';

interface BenchTemporalServer {
  address: string;
  pid: number;
  /** The server's own Prometheus endpoint (Schedule and task-queue metrics). */
  metricsUrl: string;
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
    metricsUrl: `http://127.0.0.1:${ports.metrics}/metrics`,
    stop: async () => {
      await temporalServer.stop();
      await dropAll();
    },
  };
}

export async function startBenchEnv(log: (line: string) => void, options: { temporal?: BenchTemporal; workerFrom?: WorkerFrom; temporalDynamicConfig?: Record<string, unknown> } = {}): Promise<BenchEnv> {
  const workerFrom = options.workerFrom ?? 'dist';
  // Built first: it refuses code that does not type-check, before anything is started.
  const build = workerFrom === 'dist' ? await ensureProductionBuild({ progress: log }) : undefined;
  const compiledWorkerMain = build ? compileWorkerMain() : undefined;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'kaspi-notify-bench-'));
  const cli = await ensureTemporalCli({ progress: log });
  let temporal: BenchTemporalServer | undefined;
  const database = await createFreshDatabase({ prefix: 'kaspi_notify_bench', scratchDir: tmp, serverUrl: process.env.DATABASE_URL });
  const databaseUrl = database.databaseUrl;
  if (options.temporal === 'cluster') {
    temporal = await startClusterTemporal(database.serverUrl, tmp, cli, log);
  } else {
    const metricsPort = await findFreePort();
    const devServer: DevServer = await startDevServer({ cli, port: await findFreePort(), metricsPort, logFile: path.join(tmp, 'temporal.log'), dynamicConfig: options.temporalDynamicConfig });
    temporal = { address: devServer.address, pid: devServer.pid, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`, stop: () => devServer.stop() };
  }
  log(`${options.temporal === 'cluster' ? 'Temporal server 1.29.1 on PostgreSQL' : 'Temporal dev server (in memory)'} at ${temporal.address}; database ${database?.postgresPid ? 'embedded PostgreSQL' : 'on DATABASE_URL server'}`);

  // From dist/ the worker loads the bundle `npm run build` made, as the production worker (dist/bin/worker.js) does.
  let bundlePath = build ? path.join(build.dir, WORKFLOW_BUNDLE_FILE) : path.join(tmp, 'workflow-bundle.js');
  if (!build) {
    const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
    writeFileSync(bundlePath, code);
  } else {
    // A copy: another engineer's rebuild swaps dist/ while a long run is still starting workers.
    const copy = path.join(tmp, WORKFLOW_BUNDLE_FILE);
    writeFileSync(copy, readFileSync(bundlePath));
    bundlePath = copy;
  }

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
    temporalMetricsUrl: temporal!.metricsUrl,
    postgresPid: database?.postgresPid ?? (await localPostmasterPid(databaseUrl)),
    bundlePath,
    workerFrom,
    productionBuildDir: build?.dir,
    compiledWorkerMain,
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
      if (compiledWorkerMain) rmSync(compiledWorkerMain, { force: true });
    },
  };
}

export interface WorkerProcessOptions {
  mode: 'real' | 'noop';
  taskQueue: string;
  maxCachedWorkflows?: number;
  tuning?: WorkerTuning;
  /** As bin/worker.ts: default pool size, SDK metrics exporter and /metrics (the memory figure). */
  asProduction?: boolean;
  /** Node/V8 flags of the worker process; unset: the product's (lib/temporal/worker-node-flags.ts). */
  nodeFlags?: string[];
  /** Environment of the worker process over the product's (WORKER_PROCESS_ENV, e.g. MALLOC_ARENA_MAX). */
  env?: Record<string, string>;
  /** The worker's stdout goes here instead of the bench's (its --trace-gc lines, bench/lib/memory.ts). */
  stdoutFile?: string;
  cpuProfDir?: string;
}

export interface HeartbeatStats {
  [activity: string]: { executions: number; withHeartbeat: number; heartbeatCalls: number; maxDurationMs: number };
}

/** process.memoryUsage() of the worker's main thread plus its V8 heap spaces. */
export interface WorkerMemory extends NodeJS.MemoryUsage {
  mallocedMemory: number;
  heapSizeLimit: number;
  spaces: { space: string; size: number; used: number }[];
}

export interface WorkerProcess {
  pid: number;
  /** Every process of the group (one for a single worker). */
  pids: number[];
  child: ChildProcess;
  /** RSS and V8 figures at each start-up step (first process of a group). */
  startup: StartupStep[];
  heartbeats(): Promise<HeartbeatStats>;
  memory(): Promise<WorkerMemory>;
  /** Heap snapshots of the main thread and of each workflow thread; returns the files written. */
  snapshot(prefix: string): Promise<string[]>;
  stop(): Promise<void>;
}

type WorkerReply =
  | { type: 'ready'; steps: StartupStep[] }
  | { type: 'heartbeats'; id: number; stats: HeartbeatStats }
  | { type: 'memory'; id: number; memory: WorkerMemory }
  | { type: 'snapshot'; id: number; files: string[]; error?: string };

/**
 * bench/worker-main.ts as plain JavaScript for `node` without a loader: the file alone is
 * transpiled (its product imports are dynamic, from dist/), and written under bench/results/ so
 * that its own package imports resolve to this checkout's node_modules.
 */
function compileWorkerMain(): string {
  const source = readFileSync(path.join(BENCH_DIR, 'worker-main.ts'), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
    fileName: 'worker-main.ts',
  });
  const dir = path.join(BENCH_DIR, 'results', 'compiled');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `worker-main-${process.pid}.mjs`);
  writeFileSync(file, outputText);
  return file;
}

/** Starts bench/worker-main.ts in its own Node process and waits until it polls. */
export async function startWorkerProcess(env: BenchEnv, options: WorkerProcessOptions): Promise<WorkerProcess> {
  const { nodeFlags, env: extraEnv, cpuProfDir, stdoutFile, ...workerOptions } = options;
  const config: BenchWorkerConfig = {
    databaseUrl: env.databaseUrl,
    temporalAddress: env.temporalAddress,
    kaspiUrl: env.kaspiUrl,
    bundlePath: env.bundlePath,
    appSecret: APP_SECRET,
    productRoot: env.workerFrom === 'dist' ? env.productionBuildDir! : path.dirname(BENCH_DIR),
    productExt: env.workerFrom === 'dist' ? 'js' : 'ts',
    ...workerOptions,
  };
  // From dist/: plain node, as lib/runtime/cluster.ts and the image start the worker.
  const flags = nodeFlags ?? WORKER_NODE_FLAGS;
  const args = env.workerFrom === 'dist' ? [...flags] : ['--import', 'tsx', ...flags];
  if (cpuProfDir) {
    mkdirSync(cpuProfDir, { recursive: true });
    args.push('--cpu-prof', '--cpu-prof-dir', cpuProfDir);
  }
  args.push(env.workerFrom === 'dist' ? env.compiledWorkerMain! : path.join(BENCH_DIR, 'worker-main.ts'));
  const stdout = stdoutFile ? openSync(stdoutFile, 'a') : 'inherit';
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...WORKER_PROCESS_ENV, ...extraEnv, BENCH_WORKER_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', stdout, 'inherit', 'ipc'],
  });
  if (typeof stdout === 'number') closeSync(stdout);
  const pending = new Map<number, (m: WorkerReply) => void>();
  let seq = 0;
  const startup = await new Promise<StartupStep[]>((resolve, reject) => {
    const onMessage = (m: WorkerReply) => {
      if (m.type === 'ready') {
        child.off('exit', onExit);
        resolve(m.steps);
      }
    };
    const onExit = (code: number | null) => reject(new Error(`bench worker exited with code ${code} before it was ready`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
  child.on('message', (m: WorkerReply) => {
    if ('id' in m) {
      pending.get(m.id)?.(m);
      pending.delete(m.id);
    }
  });
  const ask = <T extends WorkerReply['type']>(type: T, extra: Record<string, unknown> = {}) => new Promise<Extract<WorkerReply, { type: T }>>((resolve) => {
    const id = ++seq;
    pending.set(id, (m) => resolve(m as Extract<WorkerReply, { type: T }>));
    child.send({ type, id, ...extra });
  });
  return {
    pid: child.pid ?? 0,
    pids: [child.pid ?? 0],
    child,
    startup,
    heartbeats: async () => (await ask('heartbeats')).stats,
    memory: async () => (await ask('memory')).memory,
    snapshot: async (prefix) => {
      const reply = await ask('snapshot', { prefix });
      if (reply.error) throw new Error(`heap snapshot failed: ${reply.error}`);
      return reply.files;
    },
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
    startup: workers[0]!.startup,
    memory: () => workers[0]!.memory(),
    snapshot: (prefix) => workers[0]!.snapshot(prefix),
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

/**
 * The postmaster of a PostgreSQL server on this machine (the DATABASE_URL server): the parent of
 * our own backend. Its process tree's CPU is then PostgreSQL's CPU for the figures — every
 * database on that server, so figures taken while other work uses it say so in their notes.
 */
async function localPostmasterPid(databaseUrl: string): Promise<number | null> {
  const client = new pg.Client({ connectionString: databaseUrl });
  try {
    await client.connect();
    const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
    const stat = readFileSync(`/proc/${rows[0]!.pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return readFileSync(`/proc/${ppid}/comm`, 'utf8').trim().startsWith('postgres') ? ppid : null;
  } catch {
    return null; // Not on this machine, or not ours to read.
  } finally {
    await client.end().catch(() => undefined);
  }
}
