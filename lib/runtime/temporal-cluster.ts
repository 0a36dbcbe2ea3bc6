import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../../workflows/config.ts';
import { stopChild } from './process.ts';
import type { TemporalServerBinaries } from './temporal-server-binaries.ts';

/**
 * The production Temporal server on PostgreSQL, as `npm run cluster` runs it: the `temporal` and
 * `temporal_visibility` databases owned by their own role and migrated by `temporal-sql-tool`, one
 * server process running all four services (frontend, history, matching, worker), and the UI
 * server bound to 127.0.0.1. One process because on one box the services share the same cores and
 * fail together anyway; split them (`--service frontend` …) only when they get hosts of their own
 * (docs/operations.md).
 */
export interface PostgresServer {
  host: string;
  port: number;
  /** A role that may create roles and databases (the embedded server's `postgres`). */
  adminUrl: string;
}

export interface TemporalDatabaseRole {
  user: string;
  password: string;
}

export interface TemporalDatabaseNames {
  default: string;
  visibility: string;
}
export const TEMPORAL_DATABASES: TemporalDatabaseNames = { default: 'temporal', visibility: 'temporal_visibility' };

/** Creates the role and both databases when missing; idempotent, so every start may run it. */
export async function createTemporalDatabases(server: PostgresServer, role: TemporalDatabaseRole, names: TemporalDatabaseNames = TEMPORAL_DATABASES): Promise<void> {
  const admin = new pg.Client({ connectionString: server.adminUrl, application_name: 'kaspi-notify-cluster' });
  await admin.connect();
  try {
    const exists = await admin.query('select 1 from pg_roles where rolname = $1', [role.user]);
    const ident = pg.escapeIdentifier(role.user);
    const secret = pg.escapeLiteral(role.password);
    await admin.query(exists.rowCount ? `alter role ${ident} with login password ${secret}` : `create role ${ident} with login password ${secret}`);
    for (const name of [names.default, names.visibility]) {
      const db = await admin.query('select 1 from pg_database where datname = $1', [name]);
      if (!db.rowCount) await admin.query(`create database ${pg.escapeIdentifier(name)} owner ${ident}`);
    }
  } finally {
    await admin.end();
  }
}

/**
 * `setup-schema -v 0.0` then `update-schema` to the newest version in the release's `versioned`
 * folder: the same two steps upgrade an existing database after a server upgrade.
 */
export function migrateTemporalSchemas(binaries: TemporalServerBinaries, server: PostgresServer, role: TemporalDatabaseRole, names: TemporalDatabaseNames = TEMPORAL_DATABASES): void {
  const base = ['--plugin', 'postgres12', '--ep', server.host, '--port', String(server.port), '--user', role.user];
  // The password through SQL_PASSWORD (temporal-sql-tool's own variable), not argv, which `ps` shows.
  const env = { ...process.env, SQL_PASSWORD: role.password };
  const run = (db: string, args: string[]) => {
    const r = spawnSync(binaries.sqlTool, [...base, '--db', db, ...args], { encoding: 'utf8', env });
    if (r.status !== 0) throw new Error(`temporal-sql-tool ${args[0]} on ${db} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  };
  for (const [db, folder] of [[names.default, 'temporal'], [names.visibility, 'visibility']] as const) {
    // Both are no-ops on a current database: setup-schema creates its tables only when missing.
    run(db, ['setup-schema', '-v', '0.0']);
    run(db, ['update-schema', '-d', path.join(binaries.postgresSchemaDir, folder, 'versioned')]);
  }
}

export interface ServerPorts {
  frontend: number;
  frontendHttp: number;
  history: number;
  matching: number;
  worker: number;
  membership: { frontend: number; history: number; matching: number; worker: number };
  metrics: number;
  ui: number;
}

export interface ServerConfigOptions {
  configDir: string;
  server: PostgresServer;
  role: TemporalDatabaseRole;
  ports: ServerPorts;
  /** Fixed when the databases are created: changing it later needs a new cluster. */
  historyShards: number;
  namespace: string;
  databases?: TemporalDatabaseNames;
}

/** Writes `<configDir>/cluster.yaml` (server), `dynamicconfig.yaml` and `ui/cluster.yaml`. */
export function writeClusterConfig(options: ServerConfigOptions): { serverEnv: string; uiConfigDir: string } {
  const { ports, server, role } = options;
  const names = options.databases ?? TEMPORAL_DATABASES;
  mkdirSync(options.configDir, { recursive: true });
  const sql = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12', databaseName, connectAddr: `${server.host}:${server.port}`, connectProtocol: 'tcp',
      user: role.user, password: role.password, maxConns, maxIdleConns: maxConns, maxConnLifetime: '1h',
    },
  });
  const rpc = (grpcPort: number, membershipPort: number, extra: Record<string, unknown> = {}) => ({ rpc: { grpcPort, membershipPort, bindOnLocalHost: true, ...extra } });
  const dynamicConfigFile = path.join(options.configDir, 'dynamicconfig.yaml');
  const config = {
    log: { stdout: true, level: 'warn', format: 'json' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: options.historyShards,
      datastores: { 'postgres-default': sql(names.default, 20), 'postgres-visibility': sql(names.visibility, 10) },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      metrics: { prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: `127.0.0.1:${ports.metrics}` } },
    },
    services: {
      frontend: rpc(ports.frontend, ports.membership.frontend, { httpPort: ports.frontendHttp }),
      history: rpc(ports.history, ports.membership.history),
      matching: rpc(ports.matching, ports.membership.matching),
      worker: rpc(ports.worker, ports.membership.worker),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${ports.frontend}` } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: '10s' },
  };
  writeFileSync(path.join(options.configDir, 'cluster.yaml'), stringify(config), { mode: 0o600 });
  writeFileSync(dynamicConfigFile, stringify({ 'limit.maxIDLength': [{ value: 255, constraints: {} }] }));

  const uiConfigDir = path.join(options.configDir, 'ui');
  mkdirSync(uiConfigDir, { recursive: true });
  // As in docker compose (docs/operations.md): no login, so bound to 127.0.0.1 (reach it through an
  // SSH tunnel) and read-only — failed notifications are resent with `npm run resend`, anything
  // else with the temporal CLI. The CSRF cookie may be plain-http: the UI is only ever on loopback.
  writeFileSync(path.join(uiConfigDir, 'cluster.yaml'), stringify({
    temporalGrpcAddress: `127.0.0.1:${ports.frontend}`, host: '127.0.0.1', port: ports.ui, enableUi: true,
    defaultNamespace: options.namespace, notifyOnNewVersion: false, disableWriteActions: true,
    cors: { cookieInsecure: true, allowOrigins: [`http://127.0.0.1:${ports.ui}`] },
    auth: { enabled: false },
  }));
  return { serverEnv: 'cluster', uiConfigDir };
}

export interface RunningProcess {
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

function spawnLogged(command: string, args: string[], logFile: string): ChildProcess {
  mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  // Own process group: a signal to ours reaches us first and we stop children in order.
  return spawn(command, args, { stdio: ['ignore', fd, fd], detached: true });
}

/** Starts the server and waits until its frontend answers through the CLI. */
export async function startTemporalServer(options: { binaries: TemporalServerBinaries; configDir: string; cli: string; address: string; logFile: string }): Promise<RunningProcess> {
  const child = spawnLogged(options.binaries.server, ['--root', '/', '--config', options.configDir, '--env', 'cluster', '--allow-no-auth', 'start'], options.logFile);
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`temporal-server exited with code ${child.exitCode}; see ${options.logFile}`);
      if (cliOk(options.cli, ['operator', 'cluster', 'health', '--address', options.address])) break;
      if (Date.now() > deadline) throw new Error(`temporal-server did not answer within 120 s; see ${options.logFile}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { pid: child.pid ?? 0, child, stop: () => stopChild(child, 'SIGTERM', 8_000) };
}

/** The namespace (with its retention) and our search attributes, created when missing. */
export async function ensureNamespace(cli: string, address: string, namespace: string, retentionDays: number): Promise<void> {
  if (!cliOk(cli, ['operator', 'namespace', 'describe', '--address', address, '--namespace', namespace])) {
    const created = spawnSync(cli, ['operator', 'namespace', 'create', '--address', address, '--retention', `${retentionDays * 24}h`, '--namespace', namespace], { encoding: 'utf8' });
    if (created.status !== 0 && !/already/i.test(created.stderr)) throw new Error(`cannot create namespace ${namespace}: ${created.stderr.trim()}`);
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    const listed = spawnSync(cli, ['operator', 'search-attribute', 'list', '--address', address, '--namespace', namespace, '--output', 'json'], { encoding: 'utf8' });
    const missing = SEARCH_ATTRIBUTES.filter((a) => listed.status !== 0 || !listed.stdout.includes(`"${a.name}"`));
    if (missing.length === 0) return;
    if (listed.status === 0) {
      const create = spawnSync(cli, ['operator', 'search-attribute', 'create', '--address', address, '--namespace', namespace,
        ...missing.flatMap((a) => ['--name', a.name, '--type', a.type])], { encoding: 'utf8' });
      if (create.status !== 0 && !/already exists/i.test(create.stderr)) throw new Error(`cannot create search attributes: ${create.stderr.trim()}`);
    }
    // A new namespace reaches every frontend through its cache (about 10 s): retry until then.
    if (Date.now() > deadline) throw new Error(`search attributes not visible in ${namespace} within 60 s: ${listed.stderr.trim()}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function startTemporalUi(options: { binaries: TemporalServerBinaries; uiConfigDir: string; port: number; logFile: string }): Promise<RunningProcess> {
  const child = spawnLogged(options.binaries.uiServer, ['--root', '/', '--config', options.uiConfigDir, '--env', 'cluster', 'start'], options.logFile);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`temporal-ui-server exited with code ${child.exitCode}; see ${options.logFile}`);
    const ok = await fetch(`http://127.0.0.1:${options.port}/`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`Temporal UI did not answer within 30 s; see ${options.logFile}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { pid: child.pid ?? 0, child, stop: () => stopChild(child, 'SIGTERM', 5_000) };
}

function cliOk(cli: string, args: string[]): boolean {
  return spawnSync(cli, args, { stdio: 'ignore', timeout: 10_000 }).status === 0;
}
