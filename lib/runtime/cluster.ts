import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { z } from 'zod';
import { runMigrations } from '../db/migrate.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.ts';
import { startFrontDoor, type FrontDoor } from './front-door.ts';
import { findFreePort, findFreePortInRange, isPortFree } from './ports.ts';
import { stopChild } from './process.ts';
import { ensureTemporalCli, type Progress } from './temporal-cli.ts';
import {
  createTemporalDatabases, ensureNamespace, migrateTemporalSchemas, startTemporalServer, startTemporalUi, writeClusterConfig,
  type PostgresServer, type RunningProcess, type ServerPorts,
} from './temporal-cluster.ts';
import { ensureTemporalServerBinaries } from './temporal-server-binaries.ts';
import { WORKER_NODE_FLAGS, WORKER_PROCESS_ENV } from '../temporal/worker-node-flags.ts';

/**
 * `npm run cluster`: the production topology on one machine — PostgreSQL, the Temporal server on
 * it (temporal-cluster.ts), the UI, N workers and M web replicas as separate `node` processes
 * behind a small front door on PORT, the app connecting as its own role without superuser rights.
 * Every part can be stopped and started again on its own, which is what the fault tests do.
 */
export interface ClusterOptions {
  dataDir: string;
  workers: number;
  webs: number;
  /** The front door's port; web replicas take the next `webs` ports. */
  port: number;
  temporalPort: number;
  uiPort: number;
  workerMetricsPort: number;
  namespace: string;
  taskQueue: string;
  appSecret: string;
  historyShards: number;
  /** A server to use instead of the embedded one: a role that may create roles and databases. */
  adminDatabaseUrl?: string;
  /** Extra environment for the app processes (e.g. KASPI_API_URL, WAHA_URL_ALLOWLIST). */
  appEnv?: Record<string, string>;
  /**
   * How to run one of our entry points (`bin/worker.ts`, `bin/web.ts`): node + loader or compiled JS.
   * Workers get the heap flags and environment of lib/temporal/worker-node-flags.ts on top.
   */
  appCommand: (entry: 'worker' | 'web') => { command: string; args: string[] };
  progress?: Progress;
}

// The same role name as docker compose's (deploy/postgres-init.sh).
export const APP_ROLE = 'kaspi_notify';
export const APP_DATABASE = 'kaspi_notify';
const TEMPORAL_ROLE = 'temporal';

export interface AppProcess {
  readonly name: string;
  readonly pid: number;
  readonly running: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

export interface Cluster {
  databaseUrl: string;
  adminDatabaseUrl: string;
  temporalAddress: string;
  uiUrl: string;
  webUrl: string;
  webUrls: string[];
  workers: AppProcess[];
  webs: AppProcess[];
  postgres: { readonly pid: number | null; restart(): Promise<void> };
  temporal: { readonly pid: number; restart(): Promise<void> };
  pids(): Record<string, number>;
  stop(): Promise<void>;
}

const secretsSchema = z.object({ temporalPassword: z.string(), appPassword: z.string() });
const portsSchema = z.object({
  frontendHttp: z.number(), history: z.number(), matching: z.number(), worker: z.number(), metrics: z.number(),
  membership: z.object({ frontend: z.number().max(32_767), history: z.number().max(32_767), matching: z.number().max(32_767), worker: z.number().max(32_767) }),
});

function readOrCreate<T>(file: string, schema: z.ZodType<T>, create: () => Promise<T> | T): Promise<T> {
  if (existsSync(file)) {
    const parsed = schema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (parsed.success) return Promise.resolve(parsed.data);
  }
  return Promise.resolve(create()).then((value) => {
    writeFileSync(file, JSON.stringify(value, null, 2), { mode: 0o600 });
    return value;
  });
}

/** The app's role: owns its database, nothing else; no superuser, no CREATEDB, no CREATEROLE. */
async function createAppDatabase(adminUrl: string, password: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl, application_name: 'kaspi-notify-cluster' });
  await admin.connect();
  try {
    const role = pg.escapeIdentifier(APP_ROLE);
    const exists = await admin.query('select 1 from pg_roles where rolname = $1', [APP_ROLE]);
    await admin.query(`${exists.rowCount ? 'alter' : 'create'} role ${role} with login nosuperuser nocreatedb nocreaterole password ${pg.escapeLiteral(password)}`);
    const db = await admin.query<{ owner: string }>('select pg_get_userbyid(datdba) as owner from pg_database where datname = $1', [APP_DATABASE]);
    if (!db.rowCount) await admin.query(`create database ${pg.escapeIdentifier(APP_DATABASE)} owner ${role}`);
    else if (db.rows[0]!.owner !== APP_ROLE) {
      // The embedded server creates the database as postgres on its first start; nothing is in it yet.
      await admin.query(`alter database ${pg.escapeIdentifier(APP_DATABASE)} owner to ${role}`);
    }
  } finally {
    await admin.end();
  }
}

function withDatabase(url: string, database: string, credentials?: { user: string; password: string }): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  if (credentials) {
    u.username = encodeURIComponent(credentials.user);
    u.password = encodeURIComponent(credentials.password);
  }
  return u.toString();
}

const belowSmallint = () => findFreePortInRange(20_000, 32_767);

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const say = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dir = path.resolve(options.dataDir);
  const logDir = path.join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const stack: Array<{ name: string; stop: () => Promise<void> }> = [];
  const stopAll = async () => {
    for (const part of stack.splice(0).reverse()) {
      await part.stop().catch((err: unknown) => say(`  ${part.name}: ${(err as Error).message}`));
    }
  };

  try {
    const cli = await ensureTemporalCli({ progress: say });
    const binaries = await ensureTemporalServerBinaries({ progress: say });
    const secrets = await readOrCreate(path.join(dir, 'cluster-secrets.json'), secretsSchema, () => ({
      temporalPassword: randomBytes(18).toString('base64url'),
      appPassword: randomBytes(18).toString('base64url'),
    }));

    // PostgreSQL: embedded under dataDir, or the server adminDatabaseUrl names.
    let embedded: EmbeddedPostgres | undefined;
    let adminUrl = options.adminDatabaseUrl;
    if (!adminUrl) {
      say('Starting embedded PostgreSQL…');
      embedded = await startEmbeddedPostgres({ dataDir: dir, logDir, log: say });
      adminUrl = withDatabase(embedded.databaseUrl, 'postgres');
    }
    stack.push({ name: 'PostgreSQL', stop: async () => embedded?.stop() });
    const pgUrl = new URL(adminUrl);
    const pgServer: PostgresServer = { host: pgUrl.hostname, port: Number(pgUrl.port || 5432), adminUrl };
    const temporalRole = { user: TEMPORAL_ROLE, password: secrets.temporalPassword };

    say('Preparing the Temporal databases (temporal-sql-tool)…');
    await createTemporalDatabases(pgServer, temporalRole);
    migrateTemporalSchemas(binaries, pgServer, temporalRole);
    await createAppDatabase(adminUrl, secrets.appPassword);
    const databaseUrl = withDatabase(adminUrl, APP_DATABASE, { user: APP_ROLE, password: secrets.appPassword });
    await runMigrations(databaseUrl);

    const portsFile = path.join(dir, 'cluster-ports.json');
    // Saved ports keep the config stable across restarts, but one taken meanwhile means new ones.
    if (existsSync(portsFile)) {
      const saved = portsSchema.safeParse(JSON.parse(readFileSync(portsFile, 'utf8')));
      const all = saved.success ? [saved.data.frontendHttp, saved.data.history, saved.data.matching, saved.data.worker, saved.data.metrics, ...Object.values(saved.data.membership)] : [];
      for (const p of all) {
        if (!(await isPortFree(p))) {
          rmSync(portsFile, { force: true });
          break;
        }
      }
    }
    const internal = await readOrCreate(portsFile, portsSchema, async () => ({
      frontendHttp: await findFreePort(), history: await findFreePort(), matching: await findFreePort(), worker: await findFreePort(), metrics: await findFreePort(),
      // Temporal keeps membership ports in a smallint column (cluster_membership.rpc_port): below 32768.
      membership: { frontend: await belowSmallint(), history: await belowSmallint(), matching: await belowSmallint(), worker: await belowSmallint() },
    }));
    const ports: ServerPorts = { ...internal, frontend: options.temporalPort, ui: options.uiPort };
    const configDir = path.join(dir, 'temporal-config');
    const { uiConfigDir } = writeClusterConfig({ configDir, server: pgServer, role: temporalRole, ports, historyShards: options.historyShards, namespace: options.namespace });
    const temporalAddress = `127.0.0.1:${options.temporalPort}`;

    say('Starting the Temporal server (PostgreSQL persistence)…');
    const serverLog = path.join(logDir, 'temporal-server.log');
    let server: RunningProcess = await startTemporalServer({ binaries, configDir, cli, address: temporalAddress, logFile: serverLog });
    stack.push({ name: 'Temporal server', stop: () => server.stop() });
    await ensureNamespace(cli, temporalAddress, options.namespace, 30);
    const ui = await startTemporalUi({ binaries, uiConfigDir, port: options.uiPort, logFile: path.join(logDir, 'temporal-ui.log') });
    stack.push({ name: 'Temporal UI', stop: () => ui.stop() });

    const baseEnv: Record<string, string> = {
      NODE_ENV: 'production',
      ...options.appEnv,
      // Our own server listens on loopback without TLS: Cloud credentials in the shell do not apply.
      TEMPORAL_API_KEY: '',
      TEMPORAL_TLS: 'false',
      TEMPORAL_TLS_CLIENT_CERT_PATH: '',
      TEMPORAL_TLS_CLIENT_KEY_PATH: '',
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: options.namespace,
      TEMPORAL_TASK_QUEUE: options.taskQueue,
      TEMPORAL_UI_URL: `http://127.0.0.1:${options.uiPort}`,
      APP_SECRET: options.appSecret,
      DATA_DIR: dir,
      // The front door on this machine forwards for every client.
      TRUSTED_PROXIES: '127.0.0.1',
    };
    say(`Starting ${options.workers} worker(s) and ${options.webs} web replica(s)…`);
    const workerCommand = options.appCommand('worker');
    // Node options go before the script (and before a loader's --import, which is one of them too).
    const worker = { command: workerCommand.command, args: [...WORKER_NODE_FLAGS, ...workerCommand.args] };
    const workers = Array.from({ length: options.workers }, (_, i) =>
      // The worker opens its metrics port once it polls Temporal (bin/worker.ts): any answer will do.
      appProcess(`worker-${i + 1}`, worker, { ...baseEnv, ...WORKER_PROCESS_ENV, WORKER_METRICS_PORT: String(options.workerMetricsPort + i) }, path.join(logDir, `worker-${i + 1}.log`),
        () => fetch(`http://127.0.0.1:${options.workerMetricsPort + i}/metrics`).then(() => true)),
    );
    const webPorts = Array.from({ length: options.webs }, (_, i) => options.port + 1 + i);
    const webs = webPorts.map((port, i) =>
      appProcess(`web-${i + 1}`, options.appCommand('web'), { ...baseEnv, PORT: String(port) }, path.join(logDir, `web-${i + 1}.log`),
        () => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200)),
    );
    stack.push({ name: 'workers', stop: async () => void (await Promise.all(workers.map((w) => w.stop()))) });
    stack.push({ name: 'web replicas', stop: async () => void (await Promise.all(webs.map((w) => w.stop()))) });
    await Promise.all([...workers, ...webs].map((p) => p.start()));

    const frontDoor: FrontDoor = await startFrontDoor({ port: options.port, upstreams: webPorts });
    stack.push({ name: 'front door', stop: () => frontDoor.close() });

    return {
      databaseUrl,
      adminDatabaseUrl: adminUrl,
      temporalAddress,
      uiUrl: `http://127.0.0.1:${options.uiPort}`,
      webUrl: `http://127.0.0.1:${options.port}`,
      webUrls: webPorts.map((p) => `http://127.0.0.1:${p}`),
      workers,
      webs,
      postgres: {
        get pid() {
          return embedded?.pid ?? null;
        },
        async restart() {
          if (!embedded) throw new Error('only the embedded PostgreSQL can be restarted from here');
          await embedded.stop();
          embedded = await startEmbeddedPostgres({ dataDir: dir, logDir, log: say });
        },
      },
      temporal: {
        get pid() {
          return server.pid;
        },
        async restart() {
          await server.stop();
          server = await startTemporalServer({ binaries, configDir, cli, address: temporalAddress, logFile: serverLog });
        },
      },
      pids: () => ({
        ...(embedded ? { postgres: embedded.pid } : {}),
        temporal: server.pid,
        ui: ui.pid,
        ...Object.fromEntries([...workers, ...webs].filter((p) => p.running).map((p) => [p.name, p.pid])),
      }),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** One of our node processes: output to its log file, ready when `ready()` says so (polled). */
function appProcess(name: string, cmd: { command: string; args: string[] }, env: Record<string, string>, logFile: string, ready: () => Promise<boolean>): AppProcess {
  let child: ChildProcess | undefined;
  const log = createWriteStream(logFile, { flags: 'a' });
  const running = () => !!child && child.exitCode === null && child.signalCode === null;
  return {
    name,
    get pid() {
      return child?.pid ?? 0;
    },
    get running() {
      return running();
    },
    async start() {
      if (running()) return;
      const started = spawn(cmd.command, cmd.args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      child = started;
      started.stdout?.on('data', (chunk: Buffer) => log.write(chunk));
      started.stderr?.on('data', (chunk: Buffer) => log.write(chunk));
      const deadline = Date.now() + 90_000;
      while (!(await ready().catch(() => false))) {
        if (started.exitCode !== null || started.signalCode !== null) throw new Error(`${name} exited (${started.signalCode ?? started.exitCode}) before it was ready; see ${logFile}`);
        if (Date.now() > deadline) throw new Error(`${name} was not ready within 90 s; see ${logFile}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async stop() {
      if (child && running()) await stopChild(child, 'SIGTERM', 8_000);
    },
    async kill(signal) {
      if (!child || !running()) return;
      const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
      child.kill(signal);
      await exited;
    },
  };
}
