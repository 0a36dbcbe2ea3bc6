import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runMigrations } from '../../lib/db/migrate.ts';

const serverUrl = inject('serverUrl');
const created: string[] = [];

async function freshDatabase(label: string): Promise<string> {
  const name = `kn_mig_${label}_${process.pid}_${Date.now()}`;
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  await c.query(`create database ${name}`);
  await c.end();
  created.push(name);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function tables(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const r = await c.query<{ table_name: string }>(`select table_name from information_schema.tables where table_schema = 'public' order by 1`);
  await c.end();
  return r.rows.map((row) => row.table_name);
}

afterAll(async () => {
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  for (const name of created) await c.query(`drop database if exists ${name} with (force)`);
  await c.end();
});

const EXPECTED = ['api_tokens', 'audit_log', 'message_attempts', 'message_events', 'notifications', 'opt_outs', 'orders', 'senders', 'sessions', 'store_members', 'stores', 'templates', 'users', 'whatsapp_messages_log'];

describe('migrations', () => {
  it('apply to an empty database and again without change', async () => {
    const url = await freshDatabase('twice');
    expect(await tables(url)).toEqual([]);
    await runMigrations(url);
    const first = await tables(url);
    for (const t of EXPECTED) expect(first).toContain(t);
    await runMigrations(url);
    expect(await tables(url)).toEqual(first);
  });

  it('apply once when several processes migrate at the same time', async () => {
    const url = await freshDatabase('race');
    await Promise.all([runMigrations(url), runMigrations(url), runMigrations(url), runMigrations(url)]);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const applied = await c.query('select count(*)::int as n from drizzle.__drizzle_migrations');
    await c.end();
    const { readdirSync } = await import('node:fs');
    const files = readdirSync('drizzle/migrations').filter((f) => f.endsWith('.sql'));
    expect(applied.rows[0].n).toBe(files.length);
    for (const t of EXPECTED) expect(await tables(url)).toContain(t);
  });
});
