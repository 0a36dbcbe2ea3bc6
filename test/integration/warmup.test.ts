import { randomUUID } from 'node:crypto';
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.ts';
import { startWeb, type RunningWeb } from '../../api/server.ts';
import { auditLog, messageAttempts, notifications, senders, storeMembers } from '../../drizzle/schema.ts';
import { createUser } from '../../lib/auth/users.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';
import type { Actor } from '../../lib/services/access.ts';
import { getNumberHealth } from '../../lib/services/number-health.ts';
import type { RunningWorker } from '../../lib/temporal/worker.ts';
import { startWahaSimulator, type WahaSimulator } from '../../simulators/waha/server.ts';
import { formLogin } from '../support/api.ts';
import { createTestContext, startTestWorker, type TestContext } from '../support/context.ts';
import { eventually } from '../support/eventually.ts';
import { queueNotification, sampleOrder } from '../support/fixtures.ts';
import { connectWhatsAppStore, SIM_SECOND_MS, startNotification } from '../support/whatsapp-store.ts';

/**
 * The warm-up of a newly paired number through the real notification workflow, the real claim and
 * pacing, on the real Temporal server and PostgreSQL, against the WAHA simulator whose signed
 * webhooks reach our web app. The product's clock is injected and set to past days: the workflow's
 * own timers then end at once, so each waiting workflow claims again within a second, and what
 * decides is the claim under the injected clock — the allowance of the day, and the held backlog
 * leaving oldest first. Asia/Almaty is UTC+5 all year.
 */
const API_KEY = 'warmup-key';
const SECRET = 'warmup-hook-secret';
const FAST = { serverAckWaitMs: 2_000, deviceAckWaitMs: 3_000, ambiguousLookupDelayMs: 500 };
const almaty = (local: string) => new Date(`${local}+05:00`).getTime();

let ctx: TestContext;
let worker: RunningWorker;
let web: RunningWeb;
let waha: WahaSimulator;
let app: Hono;
// Every read of the clock moves it on by 1 ms, so claims made one after another get distinct times.
let base = almaty('2026-11-02T10:00:00');
let tick = 0;
const setClock = (ms: number) => {
  base = ms;
  tick = 0;
};

beforeAll(async () => {
  ctx = await createTestContext({ now: () => new Date(base + tick++) });
  worker = await startTestWorker(ctx);
  web = await startWeb(ctx, await findFreePort(), '127.0.0.1');
  waha = await startWahaSimulator({ engine: 'NOWEB', apiKey: API_KEY, ackDelaysMs: [20, 40, 60], secondMs: SIM_SECOND_MS });
  app = createApp(ctx);
});
afterAll(async () => {
  await waha?.close();
  await web?.close();
  await worker?.shutdown();
  await ctx?.close();
});

/** A store on a new number: the session turns WORKING with its phone, which is the pairing. */
async function newNumberStore(warmup: { warmupDays: number; warmupStart: number; warmupGrowthPercent: number }) {
  const connected = await connectWhatsAppStore(ctx, {
    waha, webUrl: web.url, apiKey: API_KEY, webhookSecret: SECRET,
    // next_allowed_at defaults to the database's (real) now, later than the injected past days.
    sender: { ...warmup, minGapSeconds: 0, maxGapSeconds: 0, nextAllowedAt: new Date(0) },
    templates: { completed: 'Спасибо за заказ №{order_num}! Будем рады вашему отзыву.' },
  });
  await eventually(async () => (await senderRow(connected.sender.id)).pairedAt !== null);
  return connected;
}

async function senderRow(id: string) {
  const [row] = await ctx.db.select().from(senders).where(eq(senders.id, id));
  return row!;
}

async function row(id: string) {
  const [n] = await ctx.db.select().from(notifications).where(eq(notifications.id, id));
  return n!;
}

const SENT = ['sent', 'delivered', 'read'];

/** Queues a review request whose event happened `i` seconds after the day's start of the test. */
async function queueCompleted(storeId: string, i: number) {
  const order = sampleOrder({ state: 'ARCHIVE', status: 'COMPLETED', customer: { firstName: 'Дана', lastName: `№${i}`, name: null, cellPhone: `70155500${String(i).padStart(2, '0')}` } });
  const n = await queueNotification(ctx, storeId, order, 'completed', new Date(base + i * 1000));
  return { id: n.id, orderCode: order.code, event: 'completed' };
}

describe('warm-up of a newly paired number', () => {
  it('holds a number paired today to its allowance, and the backlog drains in order on the next days', async () => {
    setClock(almaty('2026-11-02T10:00:00'));
    const { store, sender } = await newNumberStore({ warmupDays: 3, warmupStart: 2, warmupGrowthPercent: 100 });
    const paired = await senderRow(sender.id);
    // Paired "today" by the injected clock, from the session.status webhook that carried `me`.
    expect(paired.pairedAt!.getTime()).toBeGreaterThanOrEqual(almaty('2026-11-02T10:00:00'));
    expect(paired.pairedAt!.getTime()).toBeLessThan(almaty('2026-11-02T10:01:00'));
    expect(paired.pairedMeId).toBe('77000000001');

    // Day 1 allows 2. Started one by one, so the day's first two are the first two in the queue.
    const queued: Awaited<ReturnType<typeof queueCompleted>>[] = [];
    for (let i = 1; i <= 7; i++) queued.push(await queueCompleted(store.id, i));
    const runs: Awaited<ReturnType<typeof startNotification>>[] = [];
    for (const [i, n] of queued.entries()) {
      runs.push(await startNotification(ctx, store.id, n, FAST));
      await eventually(async () => {
        const r = await row(n.id);
        return i < 2 ? SENT.includes(r.status) : r.status === 'scheduled' && r.reasonCode === 'warmup';
      });
    }
    const held = await ctx.db.select().from(notifications).where(inArray(notifications.id, queued.slice(2).map((n) => n.id)));
    expect(held.every((h) => h.heldSince !== null && h.scheduledFor?.getTime() === almaty('2026-11-03T00:00:00'))).toBe(true);

    const actor: Actor = { kind: 'user', userId: randomUUID(), isSuperAdmin: true };
    const day1 = await getNumberHealth(ctx, actor, store.id);
    expect(day1?.warmup).toEqual({ active: true, day: 1, days: 3, allowance: 2, sent_today: 2, ends_at: new Date(almaty('2026-11-05T00:00:00')).toISOString() });

    // Day 2 allows 4: the four oldest held messages go, in queue order; the last one waits again.
    setClock(almaty('2026-11-03T00:00:30'));
    await eventually(async () => (await Promise.all(queued.slice(2, 6).map((n) => row(n.id)))).every((r) => SENT.includes(r.status)), 60_000);
    await eventually(async () => (await row(queued[6]!.id)).scheduledFor?.getTime() === almaty('2026-11-04T00:00:00'));
    expect(await row(queued[6]!.id)).toMatchObject({ status: 'scheduled', reasonCode: 'warmup' });

    // Day 3 allows 8: the rest goes.
    setClock(almaty('2026-11-04T00:00:30'));
    for (const r of runs) expect(SENT).toContain((await r.result()).status);

    const attempts = await ctx.db
      .select({ notificationId: messageAttempts.notificationId, startedAt: messageAttempts.startedAt })
      .from(messageAttempts)
      .where(and(inArray(messageAttempts.notificationId, queued.map((n) => n.id)), eq(messageAttempts.outcome, 'sent')))
      .orderBy(asc(messageAttempts.startedAt));
    expect(attempts.map((a) => queued.findIndex((n) => n.id === a.notificationId) + 1)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const day = (t: Date) => new Date(t.getTime() + 5 * 3_600_000).toISOString().slice(0, 10);
    expect(attempts.map((a) => day(a.startedAt))).toEqual(['2026-11-02', '2026-11-02', '2026-11-03', '2026-11-03', '2026-11-03', '2026-11-03', '2026-11-04']);
    for (const n of queued) expect((await row(n.id)).heldSince).toBeNull();
    // One message per buyer: nothing was sent twice while the workflows kept asking.
    for (let i = 1; i <= 7; i++) expect(waha.state.messages(`770155500${String(i).padStart(2, '0')}@c.us`, sender.wahaSessionName)).toHaveLength(1);

    // Day 4: the warm-up is over; the dashboard says so.
    setClock(almaty('2026-11-05T00:00:30'));
    expect((await getNumberHealth(ctx, actor, store.id))?.warmup).toEqual({ active: false, ended_early_at: null });
  }, 180_000);

  it('an admin ends the warm-up from the dashboard: CSRF, store access and audit, and the held messages go at once', async () => {
    setClock(almaty('2026-11-12T12:00:00'));
    const { store, sender } = await newNumberStore({ warmupDays: 14, warmupStart: 1, warmupGrowthPercent: 100 });
    const first = await queueCompleted(store.id, 1);
    const second = await queueCompleted(store.id, 2);
    const a = await startNotification(ctx, store.id, first, FAST);
    await eventually(async () => SENT.includes((await row(first.id)).status));
    const b = await startNotification(ctx, store.id, second, FAST);
    await eventually(async () => (await row(second.id)).reasonCode === 'warmup');

    const owner = await signedIn(store.id);
    const stranger = await signedIn(null);
    const page = await (await owner.get(`/stores/${store.id}`)).text();
    expect(page).toContain('id="end-warmup"');
    expect(page).toContain('id="warmup-allowance"');

    expect((await owner.post(`/stores/${store.id}/end-warmup`, {}, { csrf: null })).status).toBe(403);
    expect((await stranger.post(`/stores/${store.id}/end-warmup`, {})).status).toBe(404);
    expect((await senderRow(sender.id)).warmupEndedAt).toBeNull();

    const ended = await owner.post(`/stores/${store.id}/end-warmup`, {});
    expect(ended.status).toBe(303);
    expect((await senderRow(sender.id)).warmupEndedAt).not.toBeNull();
    const audit = await ctx.db.select().from(auditLog).where(and(eq(auditLog.storeId, store.id), eq(auditLog.action, 'whatsapp.warmup_ended')));
    expect(audit).toHaveLength(1);
    expect(audit[0]!.details).toEqual({ day: 1, days: 14, allowance: 1 });
    expect(SENT).toContain((await b.result()).status);
    expect(SENT).toContain((await a.result()).status);
    const after = await (await owner.get(`/stores/${store.id}`)).text();
    expect(after).not.toContain('id="end-warmup"');
  }, 120_000);
});

async function signedIn(storeId: string | null) {
  const email = `warmup-${randomUUID()}@example.kz`;
  const password = 'correct-horse-battery';
  const user = await createUser(ctx.db, { email, password });
  if (storeId) await ctx.db.insert(storeMembers).values({ storeId, userId: user.id });
  const res = await formLogin(app, { email, password });
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  const get = (path: string) => app.request(path, { headers: { cookie } });
  const home = await get('/');
  const html = home.status === 303 ? await (await get(home.headers.get('location')!)).text() : await home.text();
  const csrf = /<meta name="csrf-token" content="([^"]+)"/.exec(html)?.[1] ?? '';
  return {
    get,
    post: (path: string, form: Record<string, string>, opts: { csrf?: string | null } = {}) => {
      const body = new URLSearchParams(form);
      const token = opts.csrf === undefined ? csrf : opts.csrf;
      if (token !== null) body.set('_csrf', token);
      return app.request(path, { method: 'POST', body, headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' } });
    },
  };
}
