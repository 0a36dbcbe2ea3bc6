/**
 * `npm run cluster`: the production topology on this machine — PostgreSQL (embedded, or the
 * server CLUSTER_ADMIN_DATABASE_URL names), the real Temporal server on it with its UI, WORKERS
 * worker processes and WEBS web replicas behind a front door on PORT. Same banner, runtime.json,
 * readiness and ordered stop as `npm start`; its data lives in DATA_DIR/cluster.
 */
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../lib/config.ts';
import { openDatabase } from '../lib/db/client.ts';
import { ensureFirstAdmin } from '../lib/first-admin.ts';
import { startCluster } from '../lib/runtime/cluster.ts';
import { assertPortsFree, PortInUseError } from '../lib/runtime/ports.ts';
import { ensureProductionBuild } from '../lib/runtime/production-build.ts';
import { installShutdown } from '../lib/runtime/shutdown.ts';
import { isAlive } from '../lib/runtime/go-install.ts';
import { loadOrCreateAppSecret, readRuntimeState, runtimeFile, writeRuntimeState } from '../lib/runtime/state.ts';
import { connectTemporal } from '../lib/temporal/client.ts';
import { reconcileSchedules } from '../lib/temporal/schedules.ts';
import { readFileSync, rmSync } from 'node:fs';

const say = (line: string) => process.stderr.write(`${line}\n`);
const cmdline = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
};

const clusterEnv = z.object({
  WORKERS: z.coerce.number().int().min(1, 'must be at least 1').max(16, 'at most 16').default(2),
  WEBS: z.coerce.number().int().min(1, 'must be at least 1').max(16, 'at most 16').default(2),
  // Fixed when the Temporal databases are created (docs/operations.md).
  CLUSTER_HISTORY_SHARDS: z.coerce.number().int().min(1).max(16_384).default(16),
  CLUSTER_ADMIN_DATABASE_URL: z.url({ message: 'must be a postgres:// URL of a role that may create roles and databases' }).optional(),
});

let config;
let env;
try {
  config = loadConfig();
  const parsed = clusterEnv.safeParse(process.env);
  if (!parsed.success) throw new ConfigError(`Invalid ${parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`).join('; ')}`);
  env = parsed.data;
} catch (err) {
  if (err instanceof ConfigError) {
    say(err.message);
    process.exit(1);
  }
  throw err;
}
if (config.TEMPORAL_ADDRESS) {
  say('npm run cluster runs its own Temporal server; unset TEMPORAL_ADDRESS (to use an existing cluster, run npm run worker / npm run web against it).');
  process.exit(1);
}

const dataDir = path.resolve(config.DATA_DIR, 'cluster');
// A second cluster on the same data would stop the first one's PostgreSQL (embedded-postgres.ts
// stops a server left on its data dir): refuse, as npm start does.
const previous = readRuntimeState(dataDir);
if (previous && previous.pid !== process.pid && isAlive(previous.pid) && cmdline(previous.pid).includes('bin/cluster')) {
  say(`kaspi-notify cluster is already running from ${dataDir} (pid ${previous.pid}); stop it first.`);
  process.exit(1);
}
const stack = installShutdown({ say, onStopped: () => rmSync(runtimeFile(dataDir), { force: true }) });

try {
  const webPorts = Array.from({ length: env.WEBS }, (_, i) => config.PORT + 1 + i);
  await assertPortsFree({
    PORT: config.PORT,
    ...Object.fromEntries(webPorts.map((p, i) => [`PORT+${i + 1} (web replica ${i + 1})`, p])),
    TEMPORAL_PORT: config.TEMPORAL_PORT,
    TEMPORAL_UI_PORT: config.TEMPORAL_UI_PORT,
    ...Object.fromEntries(Array.from({ length: env.WORKERS }, (_, i) => [`WORKER_METRICS_PORT+${i}`, config.WORKER_METRICS_PORT + i])),
  });
  const appSecret = config.APP_SECRET ?? loadOrCreateAppSecret(dataDir);
  // Workers and web run what production runs: the compiled dist/ with plain node.
  const build = await ensureProductionBuild({ progress: say });
  const cluster = await startCluster({
    dataDir,
    workers: env.WORKERS,
    webs: env.WEBS,
    port: config.PORT,
    temporalPort: config.TEMPORAL_PORT,
    uiPort: config.TEMPORAL_UI_PORT,
    workerMetricsPort: config.WORKER_METRICS_PORT,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    appSecret,
    historyShards: env.CLUSTER_HISTORY_SHARDS,
    ...(env.CLUSTER_ADMIN_DATABASE_URL ? { adminDatabaseUrl: env.CLUSTER_ADMIN_DATABASE_URL } : {}),
    appEnv: { ...(config.PUBLIC_URL ? {} : { PUBLIC_URL: `http://127.0.0.1:${config.PORT}` }) },
    appCommand: (entry) => ({ command: process.execPath, args: [build.entry(entry)] }),
    progress: say,
  });
  stack.push({ name: 'cluster', stop: () => cluster.stop(), pids: () => Object.values(cluster.pids()) });

  const db = openDatabase(cluster.databaseUrl, { max: 2, applicationName: 'kaspi-notify-cluster' });
  const temporal = await connectTemporal(cluster.temporalAddress, config.TEMPORAL_NAMESPACE);
  await reconcileSchedules(db.db, temporal.client, config.TEMPORAL_TASK_QUEUE);
  const admin = await ensureFirstAdmin(db.db);
  await temporal.connection.close();
  await db.close();

  const publicUrl = config.PUBLIC_URL ?? cluster.webUrl;
  writeRuntimeState(dataDir, {
    databaseUrl: cluster.databaseUrl,
    temporalAddress: cluster.temporalAddress,
    uiUrl: cluster.uiUrl,
    webUrl: publicUrl,
    pid: process.pid,
    children: { ...(cluster.postgres.pid ? { postgres: cluster.postgres.pid } : {}), temporal: cluster.temporal.pid },
  });
  say('');
  say(`kaspi-notify is running — cluster: Temporal server on PostgreSQL, ${env.WORKERS} worker(s), ${env.WEBS} web replica(s).`);
  say(`  Admin:        ${publicUrl}/  (replicas: ${cluster.webUrls.join(', ')})`);
  say(`  Temporal UI:  ${cluster.uiUrl}  (this machine only)`);
  if (admin.created) say(`  Log in as ${admin.email} with password ${admin.password}  (shown once; change it with npm run admin -- set-password)`);
  else say('  Log in with your admin account (new one: npm run admin -- create-user --email E --super)');
  say(`  Logs:         ${path.join(dataDir, 'logs')}/`);
  say('Press Ctrl-C to stop.');
} catch (err) {
  if (err instanceof PortInUseError) say(err.message);
  else say(`Start-up failed: ${err instanceof Error ? err.message : String(err)}`);
  await stack.stop(1);
}
