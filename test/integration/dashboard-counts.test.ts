import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq, inArray, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NOTIFICATION_STATUSES, NOTIFY_EVENTS, notifications, stores, type NotificationStatus } from '../../drizzle/schema.ts';
import type { Db } from '../../lib/db/client.ts';
import { MIGRATIONS_FOLDER, runMigrations } from '../../lib/db/migrate.ts';
import { applyStatus, reopenNotification } from '../../lib/notifications/status.ts';
import type { Actor } from '../../lib/services/access.ts';
import { getDashboard } from '../../lib/services/dashboard.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { createStore } from '../support/fixtures.ts';
import { createEmptyDatabase } from '../../lib/runtime/fresh-database.ts';

/**
 * notification_daily_counts (migration 0011) must equal a fresh `count(*) group by` over
 * `notifications` after any mix of writes, whoever writes them: the dashboard reads nothing else.
 * The expected day of each row is kept here, independently of the trigger: the store's local date
 * of created_at in the timezone the store had when the row was inserted (or created_at rewritten).
 */

const SUPER: Actor = { kind: 'user', userId: '00000000-0000-0000-0000-000000000000', isSuperAdmin: true };
const DAY = 86_400_000;
// Kazakhstan, a zone with summer time, a half-hour offset, and the far side of the date line. (A
// zone PostgreSQL does not know is tried in the migration test's own database: a store with it in
// the shared one would break other files' pages.)
const ZONES = ['Asia/Almaty', 'America/New_York', 'Asia/Kolkata', 'Pacific/Kiritimati'];

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx?.close();
});

/** A small seeded generator, so a failing sequence can be replayed from its seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const sample = <T>(xs: readonly T[], n: number): T[] => [...xs].sort(() => next() - 0.5).slice(0, n);
  return { next, int, pick, sample };
}

function localDate(at: Date, zone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

type Counts = Record<string, number>;
const key = (storeId: string, day: string, status: string) => `${storeId} ${day} ${status}`;

async function rollupOf(db: Pick<Db, 'execute'>, storeIds: string[]): Promise<Counts> {
  if (storeIds.length === 0) return {};
  const rows = await db.execute<{ store_id: string; day: string; status: string; count: number }>(sql`
    select store_id, to_char(day, 'YYYY-MM-DD') as day, status, count from notification_daily_counts
    where store_id in (${sql.join(storeIds.map((id) => sql`${id}`), sql`, `)})`);
  return Object.fromEntries(rows.rows.map((r) => [key(r.store_id, r.day, r.status), r.count]));
}

/** The rows as they are now, with the day the trigger stored (null for rows older than 0011). */
async function rowsOf(db: Pick<Db, 'execute'>, storeIds: string[]) {
  if (storeIds.length === 0) return [];
  const rows = await db.execute<{ id: string; store_id: string; status: string; local_day: string | null }>(sql`
    select id, store_id, status, to_char(local_day, 'YYYY-MM-DD') as local_day from notifications
    where store_id in (${sql.join(storeIds.map((id) => sql`${id}`), sql`, `)})`);
  return rows.rows;
}

function tally(rows: { storeId: string; day: string; status: string }[]): Counts {
  const out: Counts = {};
  for (const r of rows) out[key(r.storeId, r.day, r.status)] = (out[key(r.storeId, r.day, r.status)] ?? 0) + 1;
  return out;
}

class Rollback extends Error {}

describe('notification_daily_counts', () => {
  it.each([1, 2, 3])('equals count(*) group by after a random sequence of inserts, status changes, rollbacks, deletes and timezone changes (seed %i)', async (seed) => {
    const r = prng(seed);
    const zoneOf = new Map<string, string>();
    for (let i = 0; i < 3; i++) {
      const zone = ZONES[(seed + i) % ZONES.length]!;
      const s = await createStore(ctx, { timezone: zone, name: `rollup ${seed}.${i}` });
      zoneOf.set(s.id, zone);
    }
    // What the test expects of each row: its store and its day. Its status is read back from the
    // table: the status writer's rules decide it, the counts must follow whatever it became.
    const expectedDay = new Map<string, { storeId: string; day: string }>();
    const live = () => [...zoneOf.keys()];
    const ids = () => [...expectedDay.keys()];
    const deletedStores: string[] = [];
    const log: string[] = [];

    const check = async (when: string) => {
      const rows = await rowsOf(ctx.db, live());
      const got = await rollupOf(ctx.db, [...live(), ...deletedStores]);
      const wrongDays = rows.filter((row) => row.local_day !== expectedDay.get(row.id)?.day).map((row) => `${row.id}: ${row.local_day} ≠ ${expectedDay.get(row.id)?.day}`);
      expect(wrongDays, `seed ${seed} ${when}; ops: ${log.join(', ')}`).toEqual([]);
      const want = tally(rows.map((row) => ({ storeId: row.store_id, day: expectedDay.get(row.id)!.day, status: row.status })));
      expect(got, `seed ${seed} ${when}; ops: ${log.join(', ')}`).toEqual(want);
      // The same, straight from the table: what the old dashboard query would have counted.
      const direct = await ctx.db.execute<{ store_id: string; day: string; status: string; n: number }>(sql`
        select store_id, to_char(local_day, 'YYYY-MM-DD') as day, status, count(*)::int as n from notifications
        where store_id in (${sql.join(live().map((id) => sql`${id}`), sql`, `)}) group by 1, 2, 3`);
      expect(got).toEqual(Object.fromEntries(direct.rows.map((d) => [key(d.store_id, d.day, d.status), d.n])));
    };

    for (let op = 0; op < 120; op++) {
      const roll = r.next();
      const all = ids();
      if (roll < 0.25 || all.length < 5) {
        // Inserts, some colliding with an existing (store, order, event): ON CONFLICT DO NOTHING,
        // as the poll and the push API write them; any status, any recent created_at, as seeds do.
        const storeId = r.pick(live());
        const values = Array.from({ length: 1 + r.int(5) }, () => ({
          storeId,
          orderCode: `o${r.int(40)}`,
          event: r.pick(NOTIFY_EVENTS),
          status: r.pick(NOTIFICATION_STATUSES),
          ...(r.next() < 0.6 ? { createdAt: new Date(Date.now() - r.int(40 * 24) * 3600_000) } : {}),
        }));
        const unique = [...new Map(values.map((v) => [`${v.orderCode}/${v.event}`, v])).values()];
        const inserted = await ctx.db.insert(notifications).values(unique).onConflictDoNothing().returning({ id: notifications.id, createdAt: notifications.createdAt });
        for (const row of inserted) expectedDay.set(row.id, { storeId, day: localDate(row.createdAt, zoneOf.get(storeId)!) });
        log.push(`insert ${inserted.length}/${unique.length}`);
      } else if (roll < 0.45) {
        const id = r.pick(all);
        const to = r.pick(NOTIFICATION_STATUSES);
        const moved = await applyStatus(ctx.db, { notificationId: id, to, source: 'test', at: new Date() });
        log.push(`applyStatus ${to}${moved ? '' : ' refused'}`);
      } else if (roll < 0.55) {
        const id = r.pick(all);
        const to = r.pick(NOTIFICATION_STATUSES);
        await reopenNotification(ctx.db, { notificationId: id, from: NOTIFICATION_STATUSES, to, source: 'test', at: new Date() });
        log.push(`reopen ${to}`);
      } else if (roll < 0.7) {
        // One transaction changing several rows (a webhook batch, a cancel), sometimes rolled back
        // whole, sometimes with a savepoint rolled back inside it.
        const picks = r.sample(all, 2 + r.int(4));
        const mode = r.pick(['commit', 'rollback', 'savepoint'] as const);
        try {
          await ctx.db.transaction(async (tx) => {
            for (const id of picks) await tx.update(notifications).set({ status: r.pick(NOTIFICATION_STATUSES) }).where(eq(notifications.id, id));
            if (mode === 'savepoint') {
              await tx.transaction(async (sp) => {
                await sp.update(notifications).set({ status: r.pick(NOTIFICATION_STATUSES) }).where(eq(notifications.id, picks[0]!));
                throw new Rollback();
              }).catch((err: unknown) => {
                if (!(err instanceof Rollback)) throw err;
              });
            }
            if (mode === 'rollback') throw new Rollback();
          });
        } catch (err) {
          if (!(err instanceof Rollback)) throw err;
        }
        log.push(`tx ${picks.length} ${mode}`);
      } else if (roll < 0.8) {
        const picks = r.sample(all, 1 + r.int(3));
        await ctx.db.delete(notifications).where(inArray(notifications.id, picks));
        for (const id of picks) expectedDay.delete(id);
        log.push(`delete ${picks.length}`);
      } else if (roll < 0.9) {
        // created_at rewritten (tests and seeds do it): the row moves to that day, in the zone the
        // store has now.
        const id = r.pick(all);
        const createdAt = new Date(Date.now() - r.int(40 * 24) * 3600_000);
        const [row] = await ctx.db.update(notifications).set({ createdAt }).where(eq(notifications.id, id)).returning({ storeId: notifications.storeId });
        expectedDay.set(id, { storeId: row!.storeId, day: localDate(createdAt, zoneOf.get(row!.storeId)!) });
        log.push('created_at');
      } else if (roll < 0.97) {
        // Rows already counted keep their day; rows inserted from now on use the new zone.
        const storeId = r.pick(live());
        const zone = r.pick(ZONES);
        await ctx.db.update(stores).set({ timezone: zone }).where(eq(stores.id, storeId));
        zoneOf.set(storeId, zone);
        log.push(`timezone ${zone}`);
      } else if (live().length > 1) {
        const storeId = r.pick(live());
        await ctx.db.delete(stores).where(eq(stores.id, storeId));
        zoneOf.delete(storeId);
        deletedStores.push(storeId);
        for (const [id, e] of expectedDay) if (e.storeId === storeId) expectedDay.delete(id);
        log.push('store deleted');
      }
      if (op % 20 === 19) await check(`after op ${op + 1}`);
    }
    await check('at the end');
    // Nothing left of a deleted store, and no zero counts kept.
    expect(await rollupOf(ctx.db, deletedStores)).toEqual({});
    const zeros = await ctx.db.execute<{ n: number }>(sql`select count(*)::int as n from notification_daily_counts where count <= 0`);
    expect(zeros.rows[0]!.n).toBe(0);
    const staged = await ctx.db.execute<{ n: number }>(sql`select count(*)::int as n from notification_daily_count_deltas`);
    expect(staged.rows[0]!.n).toBe(0);
  });

  it('a transaction that changes many rows flushes its counts once, at commit', async () => {
    const store = await createStore(ctx, { name: 'rollup bulk' });
    await ctx.db.execute(sql`
      insert into notifications (store_id, order_code, event, status)
      select ${store.id}, 'b' || g, 'new', 'queued' from generate_series(1, 300) g`);
    const client = new pg.Client({ connectionString: inject('databaseUrl') });
    await client.connect();
    try {
      await client.query('begin');
      // Counts this transaction's calls of the flush (the test connects as a superuser).
      await client.query("set local track_functions = 'pl'");
      await client.query("update notifications set status = 'skipped' where store_id = $1", [store.id]);
      await client.query("delete from notifications where store_id = $1 and order_code in ('b1', 'b2')", [store.id]);
      await client.query('set constraints all immediate');
      const calls = await client.query<{ n: string }>("select pg_stat_get_xact_function_calls('notification_daily_counts_flush'::regproc)::text as n");
      // Per staged delta it ran 601 times (300 updates × 2 deltas + the delete's one).
      expect(Number(calls.rows[0]!.n)).toBe(1);
      await client.query('commit');
    } finally {
      await client.end();
    }
    const rows = await rowsOf(ctx.db, [store.id]);
    expect(rows).toHaveLength(298);
    expect(await rollupOf(ctx.db, [store.id])).toEqual(tally(rows.map((row) => ({ storeId: row.store_id, day: row.local_day!, status: row.status }))));
    const pending = await ctx.db.execute<{ n: number }>(sql`select count(*)::int as n from notification_daily_count_pending`);
    expect(pending.rows[0]!.n).toBe(0);
  });

  it('concurrent status changes of one store from eight connections end with exact counts and no deadlock', async () => {
    const store = await createStore(ctx, { name: 'rollup concurrency' });
    // Two days, so transactions also cross days; every row starts `sent`, the status an ack moves.
    await ctx.db.execute(sql`
      insert into notifications (store_id, order_code, event, status, created_at)
      select ${store.id}, 'c' || g, 'new', 'sent', now() - (g % 2) * interval '1 day' from generate_series(1, 40) g`);
    const ids = (await ctx.db.select({ id: notifications.id }).from(notifications).where(eq(notifications.storeId, store.id))).map((row) => row.id);
    const pool = new pg.Pool({ connectionString: inject('databaseUrl'), max: 8 });
    const db = drizzle(pool);
    const failures: string[] = [];
    let committed = 0;
    try {
      await Promise.all(Array.from({ length: 8 }, async (_, w) => {
        const r = prng(100 + w);
        for (let i = 0; i < 25; i++) {
          // Rows in one order in every transaction: a deadlock on the notifications themselves
          // would be the workload's, not the counts'. The statuses (and so the counts each
          // transaction touches, in the order it touches them) are random.
          const picks = r.sample(ids, 2 + r.int(3)).sort();
          try {
            await db.transaction(async (tx) => {
              for (const id of picks) {
                const to: NotificationStatus = r.pick(['scheduled', 'sending', 'sent', 'delivered', 'read', 'failed', 'undelivered'] as const);
                if (r.next() < 0.5) await applyStatus(tx, { notificationId: id, to, source: 'test', at: new Date() });
                else await tx.execute(sql`update notifications set status = ${to} where id = ${id}`);
              }
            });
            committed++;
          } catch (err) {
            const code = (err as { code?: unknown; cause?: { code?: unknown } }).cause?.code ?? (err as { code?: unknown }).code;
            failures.push(`${String(code)} ${(err as Error).message.slice(0, 120)}`);
          }
        }
      }));
    } finally {
      await pool.end();
    }
    expect(failures).toEqual([]);
    expect(committed).toBe(200);
    const rows = await rowsOf(ctx.db, [store.id]);
    expect(await rollupOf(ctx.db, [store.id])).toEqual(tally(rows.map((row) => ({ storeId: row.store_id, day: row.local_day!, status: row.status }))));
  });

  it('the dashboard shows what the old query over notifications counted', async () => {
    const store = await createStore(ctx, { name: 'rollup dashboard', timezone: 'Asia/Almaty' });
    const r = prng(7);
    const values = Array.from({ length: 300 }, (_, i) => ({
      storeId: store.id,
      orderCode: `d${i}`,
      event: 'new' as const,
      status: r.pick(NOTIFICATION_STATUSES),
      // 35 days back, so some rows fall outside the 30-day chart, and some queued ones still count
      // for the queue.
      createdAt: new Date(Date.now() - r.int(35 * 24 * 60) * 60_000),
    }));
    await ctx.db.insert(notifications).values(values);
    const dash = await getDashboard(ctx, SUPER, store.id);

    // The dashboard's queries before the rollup (lib/services/dashboard.ts at migration 0010).
    const now = ctx.now();
    const since = new Date(now.getTime() - 40 * DAY);
    const old = await ctx.db.execute<{ d: string; sent: number; failed: number; skipped: number; pending: number }>(sql`
      select to_char(created_at at time zone ${store.timezone}, 'YYYY-MM-DD') as d,
             count(*) filter (where status in ('sent', 'delivered', 'read'))::int as sent,
             count(*) filter (where status in ('failed', 'undelivered'))::int as failed,
             count(*) filter (where status = 'skipped')::int as skipped,
             count(*) filter (where status in ('queued', 'scheduled', 'sending'))::int as pending
      from notifications where store_id = ${store.id} and created_at >= ${since} group by 1`);
    const oldByDate = new Map(old.rows.map((row) => [row.d, row]));
    for (const day of dash.daily) {
      const o = oldByDate.get(day.date);
      expect(day, day.date).toEqual({ date: day.date, sent: o?.sent ?? 0, failed: o?.failed ?? 0, skipped: o?.skipped ?? 0, pending: o?.pending ?? 0 });
    }
    expect(dash.daily).toHaveLength(30);
    expect(dash.daily.at(-1)!.date).toBe(localDate(now, store.timezone));
    const todayRows = await ctx.db.execute<{ status: string; n: number }>(sql`
      select status, count(*)::int as n from notifications
      where store_id = ${store.id} and to_char(created_at at time zone ${store.timezone}, 'YYYY-MM-DD') = ${localDate(now, store.timezone)} group by status`);
    expect(dash.today).toEqual(Object.fromEntries(todayRows.rows.map((row) => [row.status, row.n])));
    const queue = await ctx.db.execute<{ n: number }>(sql`select count(*)::int as n from notifications where store_id = ${store.id} and status in ('queued', 'scheduled')`);
    expect(dash.queueDepth).toBe(queue.rows[0]!.n);
    expect(dash.queueDepth).toBeGreaterThan(0);
  });
});

describe('migration 0011 on a database that already has notifications', () => {
  const serverUrl = inject('serverUrl');
  let dbName: string | undefined;
  let scratch: string | undefined;
  afterAll(async () => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    if (!dbName) return;
    const c = new pg.Client({ connectionString: serverUrl });
    await c.connect();
    await c.query(`drop database if exists ${dbName} with (force)`).finally(() => c.end());
  });

  it('backfills counts equal to the raw counts, while writers keep writing, and keeps old rows on their day after a timezone change', async () => {
    dbName = `kn_rollup_${process.pid}_${Date.now()}`;
    const databaseUrl = await createEmptyDatabase(serverUrl, dbName);

    // The database as migration 0010 left it.
    scratch = mkdtempSync(path.join(os.tmpdir(), 'kn-migrations-'));
    cpSync(MIGRATIONS_FOLDER, scratch, { recursive: true });
    const journalPath = path.join(scratch, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { idx: number; tag: string }[] };
    expect(journal.entries.some((e) => e.tag === '0011_dashboard_daily_counts')).toBe(true);
    journal.entries = journal.entries.filter((e) => e.idx <= 10);
    writeFileSync(journalPath, JSON.stringify(journal));
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await migrate(drizzle(client), { migrationsFolder: scratch });
      const zones = ['Asia/Almaty', 'America/New_York', 'Asia/Kolkata', 'Mars/Olympus_Mons'];
      const storeIds: string[] = [];
      for (const zone of zones) storeIds.push((await client.query<{ id: string }>(`insert into stores (name, timezone) values ($1, $1) returning id`, [zone])).rows[0]!.id);
      await client.query(`
        insert into notifications (store_id, order_code, event, status, created_at)
        select ($1::uuid[])[1 + g % 4], 'm' || g, 'new', ($2::text[])[1 + (g * 7) % 9], now() - g * interval '37 minutes'
        from generate_series(1, 4000) g`, [storeIds, NOTIFICATION_STATUSES]);

      // A writer on its own connection, inserting and changing statuses before, during and after
      // the migration: it waits for the migration's lock, then goes through the triggers.
      const writer = new pg.Client({ connectionString: databaseUrl });
      await writer.connect();
      let writing = true;
      let written = 0;
      const writes = (async () => {
        for (let i = 0; writing || i < 20; i++) {
          await writer.query(`insert into notifications (store_id, order_code, event, status) values ($1, $2, 'new', 'queued')`, [storeIds[i % 4], `w${i}`]);
          await writer.query(`update notifications set status = $2 where store_id = $1 and order_code = $3`, [storeIds[(i + 1) % 4], NOTIFICATION_STATUSES[i % 9], `m${1 + ((i * 13) % 4000)}`]);
          written++;
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await runMigrations(databaseUrl);
      writing = false;
      await writes;
      await writer.end();
      expect(written).toBeGreaterThan(20);

      // Raw counts in each store's zone (UTC for the zone PostgreSQL does not know), as the old
      // dashboard query grouped them.
      const truth = async () => {
        const rows = await client.query<{ store_id: string; day: string; status: string; n: number }>(`
          select n.store_id, to_char(n.created_at at time zone (case when s.timezone = 'Mars/Olympus_Mons' then 'UTC' else s.timezone end), 'YYYY-MM-DD') as day, n.status, count(*)::int as n
          from notifications n join stores s on s.id = n.store_id group by 1, 2, 3`);
        return Object.fromEntries(rows.rows.map((row) => [key(row.store_id, row.day, row.status), row.n]));
      };
      const rollup = async () => {
        const rows = await client.query<{ store_id: string; day: string; status: string; count: number }>(`select store_id, to_char(day, 'YYYY-MM-DD') as day, status, count from notification_daily_counts`);
        return Object.fromEntries(rows.rows.map((row) => [key(row.store_id, row.day, row.status), row.count]));
      };
      const before = await truth();
      expect(Object.keys(before).length).toBeGreaterThan(100);
      expect(await rollup()).toEqual(before);

      // A timezone change afterwards: the rows already counted (pre-0011 ones without local_day
      // included) stay on their day while their status changes; the truth is the day they had.
      await client.query(`update stores set timezone = 'Pacific/Kiritimati' where id = $1`, [storeIds[0]]);
      await client.query(`update notifications set status = 'read' where store_id = $1 and order_code in ('m4', 'm8', 'm12', 'w0')`, [storeIds[0]]);
      await client.query(`delete from notifications where store_id = $1 and order_code in ('m16', 'm20')`, [storeIds[0]]);
      const frozen = await client.query<{ store_id: string; day: string; status: string; n: number }>(`
        select n.store_id, to_char(coalesce(n.local_day, (n.created_at at time zone l.timezone)::date), 'YYYY-MM-DD') as day, n.status, count(*)::int as n
        from notifications n left join notification_legacy_day_timezones l on l.store_id = n.store_id group by 1, 2, 3`);
      expect(await rollup()).toEqual(Object.fromEntries(frozen.rows.map((row) => [key(row.store_id, row.day, row.status), row.n])));
      // …which differs from regrouping in the new zone, so the check above is not vacuous.
      expect(await rollup()).not.toEqual(await truth());

      // A zone PostgreSQL does not know counts in UTC instead of failing the store's inserts.
      const late = await client.query<{ local_day: string; utc_day: string }>(`
        insert into notifications (store_id, order_code, event, created_at) values ($1, 'late', 'new', now() - interval '5 days')
        returning to_char(local_day, 'YYYY-MM-DD') as local_day, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as utc_day`, [storeIds[3]]);
      expect(late.rows[0]!.local_day).toBe(late.rows[0]!.utc_day);
    } finally {
      await client.end();
    }
  });
});
