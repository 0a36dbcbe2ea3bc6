import pg from 'pg';
import { getDashboard } from '../../lib/services/dashboard.ts';
import { listMessages } from '../../lib/services/messages.ts';
import type { Actor } from '../../lib/services/access.ts';
import { createStores } from '../lib/fixtures.ts';
import type { BenchEnv } from '../lib/env.ts';
import { round, summary } from '../lib/stats.ts';

interface Captured {
  text: string;
  values: unknown[];
}

/**
 * The admin pages' queries at `rows` notifications: 30 % in one big store (the page we time),
 * the rest over 99 others, created over the last 30 days, one attempt each for the big store.
 * Seeded with INSERT … SELECT generate_series, then ANALYZE: the insert goes through the triggers
 * that keep notification_daily_counts (migration 0011), as every writer does, so the seeding time
 * includes them and the dashboard reads counts the triggers wrote. Each query runs 20 times (first
 * run discarded as warm-up); the message-log page query is EXPLAIN ANALYZEd and its indexes listed.
 */
export async function runAdmin(env: BenchEnv, o: { rows: number }, log: (s: string) => void) {
  const { ctx } = env;
  const [big] = await createStores(env, 1, { label: 'admin-big', kaspi: false });
  const others = await createStores(env, 99, { label: 'admin', kaspi: false, waha: false });
  const otherIds = others.map((s) => s.id);
  const bigRows = Math.floor(o.rows * 0.3);
  const t0 = Date.now();
  // The app's pool has a statement timeout; seeding a million rows needs its own connection.
  const seed = new pg.Client({ connectionString: env.databaseUrl });
  await seed.connect();
  await seed.query('set statement_timeout = 0');
  await seed.query(`
    insert into notifications (store_id, order_code, event, status, reason_code, event_at, created_at, updated_at, sent_at, delivered_at, read_at, workflow_id)
    select case when g <= $2 then $1::uuid else ($3::uuid[])[1 + (g % 99)] end,
           'o' || g,
           (array['new','accepted','ready_for_pickup','in_delivery','completed','cancelled'])[1 + (g % 6)],
           (array['read','read','read','delivered','delivered','sent','failed','skipped','undelivered','read'])[1 + (g % 10)],
           case when g % 10 in (6, 7) then 'expired' else null end,
           ts, ts, ts, ts, ts, ts, 'notify:' || g
    from (select g, now() - (g * (interval '30 days' / $4::int)) as ts from generate_series(1, $4::int) g) s`, [big!.id, bigRows, otherIds, o.rows]);
  await seed.query(`
    insert into message_attempts (notification_id, sender_id, attempt_no, rendered_text, phone, chat_id, waha_message_id, waha_key_id, started_at, finished_at, outcome, last_ack)
    select id, $2::uuid, 1, 'Здравствуйте! Спасибо за заказ №' || order_code, '77011234567', '77011234567@c.us', 'true_77011234567@c.us_' || md5(id::text), md5(id::text), created_at, created_at, 'sent', 3
    from notifications where store_id = $1::uuid`, [big!.id, big!.senderId]);
  await seed.query('analyze notifications');
  await seed.query('analyze message_attempts');
  await seed.query('analyze notification_daily_counts');
  // The counts the dashboard reads must add up to the rows seeded, or its figure means nothing.
  const counted = await seed.query<{ n: string }>('select coalesce(sum(count), 0)::text as n from notification_daily_counts where store_id = any($1::uuid[])', [[big!.id, ...otherIds]]);
  await seed.end();
  if (Number(counted.rows[0]?.n) !== o.rows) throw new Error(`notification_daily_counts holds ${counted.rows[0]?.n} of ${o.rows} seeded rows`);
  const seedSeconds = (Date.now() - t0) / 1000;
  log(`  seeded ${o.rows} notifications (+${bigRows} attempts) in ${Math.round(seedSeconds)} s`);

  const actor: Actor = { kind: 'user', userId: '00000000-0000-0000-0000-000000000000', isSuperAdmin: true };
  const time = async (fn: () => Promise<unknown>, times = 20) => {
    const ms: number[] = [];
    for (let i = 0; i <= times; i++) {
      const s = performance.now();
      await fn();
      if (i > 0) ms.push(performance.now() - s);
    }
    const r = summary(ms);
    return { p50: round(r.p50, 1), p95: round(r.p95, 1), max: round(r.max, 1) };
  };
  const page1 = await listMessages(ctx, actor, big!.id, {});
  let cursor = page1.next_cursor ?? undefined;
  for (let i = 0; i < 20 && cursor; i++) cursor = (await listMessages(ctx, actor, big!.id, { cursor })).next_cursor ?? undefined;
  const cases: Record<string, () => Promise<unknown>> = {
    'messages: first page': () => listMessages(ctx, actor, big!.id, {}),
    'messages: page 21 (cursor)': () => listMessages(ctx, actor, big!.id, { cursor }),
    'messages: status=failed': () => listMessages(ctx, actor, big!.id, { status: 'failed' }),
    'messages: event=cancelled': () => listMessages(ctx, actor, big!.id, { event: 'cancelled' }),
    'messages: order_code': () => listMessages(ctx, actor, big!.id, { order_code: 'o12345' }),
    'messages: limit=500': () => listMessages(ctx, actor, big!.id, { limit: 500 }),
    dashboard: () => getDashboard(ctx, actor, big!.id),
  };
  const timings: Record<string, { p50: number | null; p95: number | null; max: number | null }> = {};
  for (const [name, fn] of Object.entries(cases)) timings[name] = await time(fn, name === 'dashboard' ? 10 : 20);

  // Capture the SQL of the page query and of the dashboard, then EXPLAIN ANALYZE them.
  const captured: Captured[] = [];
  const pool = ctx.pool as unknown as { query: (...a: unknown[]) => unknown };
  const original = pool.query.bind(pool);
  pool.query = (...a: unknown[]) => {
    const q = a[0] as { text?: string; values?: unknown[] } | string;
    if (typeof q === 'object' && q?.text) captured.push({ text: q.text, values: q.values ?? (a[1] as unknown[] | undefined) ?? [] });
    else if (typeof q === 'string') captured.push({ text: q, values: (a[1] as unknown[]) ?? [] });
    return original(...a);
  };
  try {
    await listMessages(ctx, actor, big!.id, {});
    const pageQueries = captured.splice(0);
    await listMessages(ctx, actor, big!.id, { event: 'cancelled' });
    const eventQueries = captured.splice(0);
    await getDashboard(ctx, actor, big!.id);
    const dashQueries = captured.splice(0);
    pool.query = original;
    const explain = async (q: Captured | undefined) => {
      if (!q) return null;
      const r = await ctx.pool.query(`explain (analyze, buffers) ${q.text}`, q.values);
      const plan = r.rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n');
      const indexes = [...new Set([...plan.matchAll(/(?:Index|Index Only|Bitmap Index) Scan(?: Backward)? (?:using|on) (\w+)/g)].map((m) => m[1]!))];
      const exec = /Execution Time: ([\d.]+) ms/.exec(plan)?.[1];
      return { executionMs: exec ? Number(exec) : null, indexes, plan };
    };
    const pageSql = pageQueries.find((q) => q.text.includes('left join lateral'));
    const eventSql = eventQueries.find((q) => q.text.includes('left join lateral'));
    const dashExplains: Record<string, unknown> = {};
    for (const q of dashQueries.filter((x) => /notification/.test(x.text))) {
      const e = await explain(q);
      dashExplains[q.text.replace(/\s+/g, ' ').slice(0, 80)] = e && { executionMs: e.executionMs, indexes: e.indexes, plan: e.plan };
    }
    return {
      rows: o.rows,
      bigStoreRows: bigRows,
      seedSeconds: round(seedSeconds, 1),
      timingsMs: timings,
      pageExplain: await explain(pageSql),
      eventFilterExplain: await explain(eventSql),
      dashboardExplains: dashExplains,
      targetMs: 100,
    };
  } finally {
    pool.query = original;
  }
}
