import path from 'node:path';
import pg from 'pg';
import { runMigrations } from '../db/migrate.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.ts';

/** Creates database `name` (a plain identifier) on the server and returns its URL; nothing migrated. */
export async function createEmptyDatabase(serverUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * A new, migrated database for one test or benchmark run: on the server DATABASE_URL names when it
 * is set, else on an embedded PostgreSQL in `scratchDir`. `dispose` drops it and stops what it started.
 */
export async function createFreshDatabase(options: { prefix: string; scratchDir: string; serverUrl?: string }): Promise<{
  databaseUrl: string;
  serverUrl: string;
  /** The embedded server's pid (for CPU readings), null on a DATABASE_URL server. */
  postgresPid: number | null;
  dispose(): Promise<void>;
}> {
  let embedded: EmbeddedPostgres | undefined;
  let serverUrl = options.serverUrl;
  if (!serverUrl) {
    embedded = await startEmbeddedPostgres({ dataDir: path.join(options.scratchDir, 'data'), logDir: path.join(options.scratchDir, 'logs'), log: () => undefined });
    serverUrl = embedded.databaseUrl;
  }
  const server = serverUrl;
  const name = `${options.prefix}_${process.pid}_${Date.now()}`;
  const databaseUrl = await createEmptyDatabase(server, name);
  await runMigrations(databaseUrl);
  return {
    databaseUrl,
    serverUrl: server,
    postgresPid: embedded?.pid ?? null,
    dispose: async () => {
      const c = new pg.Client({ connectionString: server });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`).finally(() => c.end());
      await embedded?.stop();
    },
  };
}
