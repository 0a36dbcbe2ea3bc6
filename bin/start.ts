/**
 * `npm start`: the whole product on one machine with nothing configured — a real PostgreSQL
 * (embedded unless DATABASE_URL), a real Temporal dev server with its UI (unless TEMPORAL_ADDRESS),
 * migrations, the worker and the web server. Ctrl-C / SIGTERM stops everything in reverse order.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startWeb, type RunningWeb } from '../api/server.ts';
import { createContext } from '../lib/bootstrap.ts';
import { ConfigError, loadConfig } from '../lib/config.ts';
import { runMigrations } from '../lib/db/migrate.ts';
import { createLogger } from '../lib/logger.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../lib/runtime/embedded-postgres.ts';
import { assertPortsFree, PortInUseError } from '../lib/runtime/ports.ts';
import { loadOrCreateAppSecret, readRuntimeState, runtimeFile, writeRuntimeState } from '../lib/runtime/state.ts';
import { isAlive } from '../lib/runtime/go-install.ts';
import { ensureTemporalCli } from '../lib/runtime/temporal-cli.ts';
import { startDevServer, type DevServer } from '../lib/runtime/temporal-dev-server.ts';
import { installShutdown } from '../lib/runtime/shutdown.ts';
import { enableSdkMetrics } from '../lib/temporal/sdk-metrics.ts';
import { findFreePort } from '../lib/runtime/ports.ts';
import { ensureMaintenanceSchedules } from '../lib/temporal/maintenance-schedules.ts';
import { ensureReconcileSchedule, reconcileSchedules } from '../lib/temporal/schedules.ts';
import { startWorker, type RunningWorker } from '../lib/temporal/worker.ts';
import { ensureFirstAdmin } from '../lib/first-admin.ts';
import { rmSync } from 'node:fs';
// demo: `npm run demo` = `npm start -- --demo` (bin/demo.ts)
import { assertDemoDataIsolated, DemoRefusedError, startDemo, startDemoKaspiSimulator, type RunningDemo } from './demo.ts';

const say = (line: string) => process.stderr.write(`${line}\n`);
const fail = (line: string): never => {
  say(line);
  process.exit(1);
};

// demo: the only flag; `npm run demo` passes it through bin/launch.mjs.
const { values: args } = parseArgs({ options: { demo: { type: 'boolean', default: false } }, allowPositionals: false });
const demoMode = args.demo === true;

let config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) fail(err.message);
  throw err;
}
// demo: fake stores and orders have no place next to production data.
if (demoMode && config.NODE_ENV === 'production') fail('npm run demo is for trying kaspi-notify out; it does not run with NODE_ENV=production.');
const dataDir = path.resolve(config.DATA_DIR);
const logDir = path.join(dataDir, 'logs');
const logger = createLogger({ level: config.LOG_LEVEL, name: 'start' });

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

// A run that was killed (not stopped) leaves its children behind; find them by runtime.json.
const previous = readRuntimeState(dataDir);
if (previous && previous.pid !== process.pid && isAlive(previous.pid) && cmdline(previous.pid).includes('bin/start.ts')) {
  fail(`kaspi-notify is already running from ${dataDir} (pid ${previous.pid}); stop it first.`);
}
const leftoverTemporal = previous?.children.temporal;
if (leftoverTemporal && isAlive(leftoverTemporal) && cmdline(leftoverTemporal).includes('start-dev')) {
  say(`Stopping a Temporal dev server left running by an earlier run (pid ${leftoverTemporal})`);
  process.kill(leftoverTemporal, 'SIGTERM');
  for (let i = 0; i < 100 && isAlive(leftoverTemporal); i++) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(leftoverTemporal)) process.kill(leftoverTemporal, 'SIGKILL');
}

try {
  await assertPortsFree({
    PORT: config.PORT,
    ...(config.TEMPORAL_ADDRESS ? {} : { TEMPORAL_PORT: config.TEMPORAL_PORT, TEMPORAL_UI_PORT: config.TEMPORAL_UI_PORT }),
  });
} catch (err) {
  if (err instanceof PortInUseError) fail(err.message);
  throw err;
}

const stack = installShutdown({ say, onStopped: () => rmSync(runtimeFile(dataDir), { force: true }) });
const shutdown = (code: number) => stack.stop(code);

try {
  const appSecret = config.APP_SECRET ?? loadOrCreateAppSecret(dataDir);

  let databaseUrl = config.DATABASE_URL;
  let postgres: EmbeddedPostgres | undefined;
  if (!databaseUrl) {
    say('Starting embedded PostgreSQL…');
    postgres = await startEmbeddedPostgres({ dataDir, logDir, log: say });
    const pgHandle = postgres;
    stack.push({ name: 'PostgreSQL', stop: () => pgHandle.stop(), pids: () => [pgHandle.pid] });
    databaseUrl = postgres.databaseUrl;
  }

  let temporalAddress = config.TEMPORAL_ADDRESS;
  let devServer: DevServer | undefined;
  if (!temporalAddress) {
    const cli = await ensureTemporalCli({ progress: say });
    say('Starting the Temporal dev server…');
    devServer = await startDevServer({
      cli,
      port: config.TEMPORAL_PORT,
      uiPort: config.TEMPORAL_UI_PORT,
      dbFile: path.join(dataDir, 'temporal.db'),
      namespace: config.TEMPORAL_NAMESPACE,
      logFile: path.join(logDir, 'temporal.log'),
      retentionDays: 30,
    });
    const server = devServer;
    stack.push({ name: 'Temporal dev server', stop: () => server.stop(), pids: () => [server.pid] });
    temporalAddress = devServer.address;
  }

  writeRuntimeState(dataDir, {
    databaseUrl,
    temporalAddress,
    uiUrl: devServer?.uiUrl ?? config.TEMPORAL_UI_URL ?? null,
    pid: process.pid,
    children: { postgres: postgres?.pid, temporal: devServer?.pid },
  });

  say('Applying database migrations…');
  await runMigrations(databaseUrl);

  // demo: the Kaspi simulator starts before the context, whose config.KASPI_API_URL the poll reads.
  let contextConfig = config;
  let demoKaspi: Awaited<ReturnType<typeof startDemoKaspiSimulator>> | undefined;
  if (demoMode) {
    demoKaspi = await startDemoKaspiSimulator();
    const sim = demoKaspi;
    stack.push({ name: 'Kaspi simulator', stop: () => sim.close() });
    contextConfig = { ...config, KASPI_API_URL: demoKaspi.url };
  }

  const ctx = await createContext(contextConfig, { databaseUrl, temporalAddress, appSecret }, { logger });
  stack.push({ name: 'connections', stop: () => ctx.close() });
  if (demoMode) await assertDemoDataIsolated(ctx); // demo: before the worker polls anything

  enableSdkMetrics(`127.0.0.1:${await findFreePort()}`); // Temporal SDK worker metrics, appended to /metrics
  const worker: RunningWorker = await startWorker(ctx);
  stack.push({ name: 'worker', stop: () => worker.shutdown() });
  worker.done.catch((err: unknown) => {
    logger.error({ err }, 'worker stopped unexpectedly');
    void shutdown(1);
  });

  await ensureReconcileSchedule(ctx.temporal, config.TEMPORAL_TASK_QUEUE);
  await ensureMaintenanceSchedules(ctx.temporal, config.TEMPORAL_TASK_QUEUE);
  await reconcileSchedules(ctx.db, ctx.temporal, config.TEMPORAL_TASK_QUEUE);

  const web: RunningWeb = await startWeb(ctx, config.PORT);
  stack.push({ name: 'web server', stop: () => web.close() });

  const admin = await ensureFirstAdmin(ctx.db);
  const publicUrl = config.PUBLIC_URL ?? web.url;
  // demo: simulators, the demo store and the order trickle. Webhooks go to the local URL: the
  // WAHA simulator runs on this machine even when PUBLIC_URL names a proxy.
  let demo: RunningDemo | undefined;
  if (demoKaspi) {
    say('Starting the demo (Kaspi and WAHA simulators, demo store, order trickle)…');
    demo = await startDemo(ctx, { publicUrl: web.url, kaspi: demoKaspi });
    const running = demo;
    stack.push({ name: 'demo', stop: () => running.stop() });
  }
  writeRuntimeState(dataDir, {
    databaseUrl,
    temporalAddress,
    uiUrl: devServer?.uiUrl ?? config.TEMPORAL_UI_URL ?? null,
    webUrl: publicUrl,
    pid: process.pid,
    children: { postgres: postgres?.pid, temporal: devServer?.pid },
  });


  say('');
  say(demo ? `kaspi-notify is running — DEMO (no real Kaspi or WhatsApp).` : `kaspi-notify is running.`);
  say(`  Admin:        ${publicUrl}/`);
  say(`  Temporal UI:  ${devServer?.uiUrl ?? config.TEMPORAL_UI_URL ?? '(external cluster: see its UI)'}`);
  if (admin.created) {
    say(`  Log in as ${admin.email} with password ${admin.password}  (shown once; change it with npm run admin -- set-password)`);
  } else {
    say(`  Log in with your admin account (new one: npm run admin -- create-user --email E --super)`);
  }
  say(`  Logs:         ${logDir}/`);
  for (const line of demo?.banner() ?? []) say(line); // demo
  say('Press Ctrl-C to stop.');
} catch (err) {
  if (err instanceof PortInUseError || err instanceof ConfigError || err instanceof DemoRefusedError) say(err.message);
  else say(`Start-up failed: ${err instanceof Error ? err.message : String(err)}`);
  await shutdown(1);
}
