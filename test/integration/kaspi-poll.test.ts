import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createKaspiPollActivities, TOKEN_REJECTED_REASON, type KaspiPollActivities, type QueuedNotificationRef } from '../../activities/kaspi-poll.ts';
import { notifications, orders, stores, templates, type NotifyEvent } from '../../drizzle/schema.ts';
import { KaspiClient, KaspiUnavailableError, type FetchLike } from '../../lib/kaspi/client.ts';
import { reconcileSchedules } from '../../lib/temporal/schedules.ts';
import { startKaspiSimulator, type RunningKaspiSimulator } from '../../simulators/kaspi/server.ts';
import { NotifyEventKey, OrderCodeKey, StoreIdKey, notifyWorkflowId, pollScheduleId } from '../../workflows/config.ts';
import { createTestContext, startTestWorker, type TestContext } from '../support/context.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T = Date.UTC(2025, 0, 15, 6, 0, 0);

let sim: RunningKaspiSimulator;
let ctx: TestContext;
let nowMs = T;
/** When set, every Kaspi client the poll builds goes through this fetch (fault injection mid-read). */
let fetchHook: FetchLike | undefined;
let acts: KaspiPollActivities;
// Expected activity failures are asserted on; the SDK's per-failure WARN lines are only noise.
const quiet = () => new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') });

const simClient = (store: { token: string; merchantUid: string | null }) => new KaspiClient({
  baseUrl: sim.url,
  token: store.token,
  merchantUid: store.merchantUid,
  userAgent: 'kaspi-notify/0.1',
  minRequestIntervalMs: 0,
  timeoutMs: 500,
  now: () => nowMs,
  ...(fetchHook ? { fetch: fetchHook } : {}),
});

beforeAll(async () => {
  sim = await startKaspiSimulator();
  ctx = await createTestContext({ now: () => new Date(nowMs), env: { KASPI_API_URL: sim.url } });
  // Every page heartbeats here, so the tests can see it; the product waits HEARTBEAT_QUIET_MS first.
  acts = createKaspiPollActivities(ctx, { kaspiClientFor: simClient, heartbeatQuietMs: 0 });
});
afterAll(async () => {
  await ctx?.close();
  await sim?.close();
});
beforeEach(() => {
  sim.state.reset();
  fetchHook = undefined;
  nowMs = T;
  sim.state.setNow(T);
});

async function newStore(values: Partial<typeof stores.$inferInsert> = {}, events: NotifyEvent[] = ['new']): Promise<string> {
  const token = `tok-${randomUUID()}`;
  sim.state.tokens.add(token);
  const [row] = await ctx.db.insert(stores).values({ name: 'Магазин', kaspiTokenEnc: ctx.secrets.encrypt(token), connectedAt: new Date(nowMs), ...values }).returning({ id: stores.id });
  const storeId = row!.id;
  for (const event of events) await ctx.db.insert(templates).values({ storeId, name: event, text: `Заказ {order_num}: ${event}`, event });
  return storeId;
}

function poll(storeId: string, env = quiet()): Promise<QueuedNotificationRef[]> {
  return env.run(acts.pollKaspiStore, { storeId });
}

async function rowsOf(storeId: string) {
  return ctx.db.select().from(notifications).where(eq(notifications.storeId, storeId));
}

async function storeRow(storeId: string) {
  const [row] = await ctx.db.select().from(stores).where(eq(stores.id, storeId));
  return row!;
}

function byCodeEvent(rows: { orderCode: string; event: string; status: string; reasonCode: string | null }[]) {
  return Object.fromEntries(rows.map((r) => [`${r.orderCode}:${r.event}`, r.reasonCode ?? r.status]));
}

/** The failure a rejected promise carries, for assertions on type and retry hints. */
async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the poll to fail');
}

describe('pollKaspiStore against the Kaspi simulator and PostgreSQL', () => {
  it('250 orders over 3 pages and 2 windows: one row per event, racing polls, overlapping windows', async () => {
    const storeId = await newStore({ connectedAt: new Date(T - 2 * HOUR) }, ['new', 'ready_for_pickup', 'completed']);
    await ctx.db.insert(templates).values({ storeId, name: 'off', text: 'принят', event: 'accepted', isActive: false });
    const old = [0, 1, 2].map(() => sim.state.createOrder({ creationDate: T - 3 * HOUR }).code);
    const unsigned = [0, 1].map(() => sim.state.createOrder({ state: 'SIGN_REQUIRED', creationDate: T - 30 * MIN }).code);
    const codes = Array.from({ length: 250 }, (_, i) => sim.state.createOrder({ creationDate: T - 100 * MIN + i * 24_000 }).code);

    const env = quiet();
    let heartbeats = 0;
    env.on('heartbeat', () => heartbeats++);
    const [first, second] = await Promise.all([poll(storeId, env), poll(storeId)]);
    expect(heartbeats).toBeGreaterThanOrEqual(3);
    let rows = await rowsOf(storeId);
    expect(rows).toHaveLength(250);
    expect(new Set(rows.map((r) => r.orderCode))).toEqual(new Set(codes));
    expect(rows.every((r) => r.event === 'new' && r.status === 'queued')).toBe(true);
    for (const code of [...old, ...unsigned]) expect(rows.some((r) => r.orderCode === code)).toBe(false);
    expect(first).toHaveLength(200);
    expect(second).toHaveLength(200);
    expect(JSON.stringify(first)).not.toMatch(/7011234567|Айгерим|Серикова/);
    // (a) read 3 pages of 100 in each racing poll.
    const newReads = sim.state.requests.filter((r) => r.query['filter[orders][creationDate][$ge]'] === String(T - 2 * HOUR) && !r.query['filter[orders][state]']);
    expect(newReads.map((r) => r.query['page[number]']).sort()).toEqual(['0', '0', '1', '1', '2', '2']);
    const old0 = await ctx.db.select().from(orders).where(and(eq(orders.storeId, storeId), eq(orders.code, old[0]!)));
    expect(old0).toHaveLength(0);

    // Five minutes later: the window re-reads ten minutes before the cursor (about 25 orders seen again).
    nowMs = T + 5 * MIN;
    const later = Array.from({ length: 10 }, (_, i) => sim.state.createOrder({ creationDate: T + MIN + i * 1000 }).code);
    sim.state.clearRequests();
    await Promise.all([poll(storeId), poll(storeId)]);
    rows = await rowsOf(storeId);
    expect(rows).toHaveLength(260);
    expect(new Set(rows.map((r) => r.orderCode)).size).toBe(260);
    const overlapRead = sim.state.requests.find((r) => !r.query['filter[orders][state]'] && r.query['filter[orders][creationDate][$ge]'] === String(T - 10 * MIN));
    expect(overlapRead).toBeDefined();

    // 16 days on every order is accepted for pickup: the re-read by state spans two 14-day windows.
    nowMs = T + 16 * DAY;
    for (const code of [...codes, ...later]) sim.state.accept(code);
    sim.state.clearRequests();
    const third = await poll(storeId);
    rows = await rowsOf(storeId);
    expect(rows).toHaveLength(520);
    const ready = rows.filter((r) => r.event === 'ready_for_pickup');
    expect(ready).toHaveLength(260);
    expect(ready.every((r) => r.status === 'queued')).toBe(true);
    expect(rows.some((r) => r.event === 'accepted')).toBe(false);
    expect(third).toHaveLength(200);
    const pickupReads = sim.state.requests.filter((r) => r.query['filter[orders][state]'] === 'PICKUP');
    const windows = new Set(pickupReads.map((r) => r.query['filter[orders][creationDate][$ge]']));
    expect(windows.size).toBe(2);
    expect(pickupReads.filter((r) => r.query['filter[orders][creationDate][$ge]'] === String(T - 100 * MIN)).map((r) => r.query['page[number]'])).toEqual(['0', '1', '2']);
    const store = await storeRow(storeId);
    expect(store.pollCursor?.getTime()).toBe(T + 16 * DAY);
    expect(store.lastPollError).toBeNull();
    expect(store.lastPollOrders).toBe(262);
  });

  it('an idle poll sends no heartbeat; a poll still running after the quiet period heartbeats per page', async () => {
    const countHeartbeats = async (activities: KaspiPollActivities, storeId: string) => {
      const env = quiet();
      let heartbeats = 0;
      env.on('heartbeat', () => heartbeats++);
      await env.run(activities.pollKaspiStore, { storeId });
      return heartbeats;
    };
    const idle = await newStore();
    expect(await countHeartbeats(createKaspiPollActivities(ctx, { kaspiClientFor: simClient }), idle)).toBe(0);

    // A slow Kaspi (every request 60 ms) and a quiet period of 100 ms: the pages after it heartbeat.
    const slow = await newStore({ connectedAt: new Date(T - 2 * HOUR) });
    for (let i = 0; i < 250; i++) sim.state.createOrder({ creationDate: T - 100 * MIN + i * 24_000 });
    fetchHook = async (input, init) => {
      await new Promise((r) => setTimeout(r, 60));
      return fetch(input, init);
    };
    const heartbeats = await countHeartbeats(createKaspiPollActivities(ctx, { kaspiClientFor: simClient, heartbeatQuietMs: 100 }), slow);
    expect(heartbeats).toBeGreaterThanOrEqual(1);
  });

  it('an order created 10 days ago that completes today yields `completed`; vanished orders are looked up by code', async () => {
    nowMs = T - 10 * DAY;
    const storeId = await newStore({ connectedAt: new Date(T - 11 * DAY) }, ['new', 'in_delivery', 'completed']);
    const own = { deliveryMode: 'DELIVERY_LOCAL' as const, pickupPointId: null };
    const x = sim.state.createOrder({ ...own, creationDate: T - 10 * DAY - MIN }).code;
    const y = sim.state.createOrder({ ...own, creationDate: T - 10 * DAY - MIN }).code;
    const z = sim.state.createOrder({ ...own, creationDate: T - 10 * DAY - MIN }).code;
    await poll(storeId);
    nowMs = T - DAY;
    await poll(storeId);
    expect(Object.keys(byCodeEvent(await rowsOf(storeId))).sort()).toEqual([`${x}:new`, `${y}:new`, `${z}:new`].sort());

    nowMs = T;
    sim.state.complete(x);
    sim.state.handToCourier(y);
    sim.state.deleteOrder(z);
    sim.state.clearRequests();
    await poll(storeId);
    const rows = byCodeEvent(await rowsOf(storeId));
    expect(rows[`${x}:completed`]).toBe('queued');
    expect(rows[`${y}:in_delivery`]).toBe('queued');
    const lookups = sim.state.requests.map((r) => r.query['filter[orders][code]']).filter(Boolean);
    expect(lookups.sort()).toEqual([x, z].sort());
    const stored = await ctx.db.select().from(orders).where(eq(orders.storeId, storeId));
    const byCode = Object.fromEntries(stored.map((o) => [o.code, o]));
    expect(byCode[x]).toMatchObject({ state: 'ARCHIVE', status: 'COMPLETED', isOpen: false });
    expect(byCode[x]!.closedAt?.getTime()).toBe(T);
    expect(byCode[y]).toMatchObject({ state: 'DELIVERY', isOpen: true });
    expect(byCode[z]).toMatchObject({ isOpen: false });
  });

  it('accepted + ready for pickup in one poll: one queued, the other superseded; a stale event is expired', async () => {
    const storeId = await newStore({ connectedAt: new Date(T - 2 * DAY) }, ['new', 'accepted', 'ready_for_pickup', 'in_delivery']);
    const a = sim.state.createOrder({ creationDate: T - HOUR }).code;
    const b = sim.state.createOrder({ creationDate: T - 7 * HOUR }).code;
    const c = sim.state.createOrder({ creationDate: T - 30 * MIN }).code;
    sim.state.accept(c);
    const d = sim.state.createOrder({ creationDate: T - 2 * DAY + HOUR, isKaspiDelivery: true, deliveryMode: 'DELIVERY_LOCAL', pickupPointId: null }).code;
    const e = sim.state.createOrder({ creationDate: T - 2 * HOUR, isKaspiDelivery: true, deliveryMode: 'DELIVERY_LOCAL', pickupPointId: null }).code;
    sim.state.handToCourier(d, T - 25 * HOUR);
    sim.state.handToCourier(e, T - HOUR);
    await poll(storeId);
    let rows = byCodeEvent(await rowsOf(storeId));
    expect(rows[`${a}:new`]).toBe('queued');
    expect(rows[`${b}:new`]).toBe('expired');
    expect(rows[`${c}:accepted`]).toBe('superseded');
    expect(rows[`${c}:ready_for_pickup`]).toBe('queued');
    expect(rows[`${c}:new`]).toBeUndefined();
    expect(rows[`${d}:in_delivery`]).toBe('expired');
    expect(rows[`${e}:in_delivery`]).toBe('queued');

    nowMs = T + MIN;
    sim.state.accept(a);
    await poll(storeId);
    const all = await rowsOf(storeId);
    rows = byCodeEvent(all);
    expect(rows[`${a}:accepted`]).toBe('superseded');
    expect(rows[`${a}:ready_for_pickup`]).toBe('queued');
    const superseded = all.find((r) => r.orderCode === a && r.event === 'accepted')!;
    expect(superseded).toMatchObject({ status: 'skipped', reasonCode: 'superseded' });
    expect(superseded.reason).toMatch(/последнее/);
  });

  it('401 marks the token rejected with a readable reason and pauses the schedule; a new token resumes it', async () => {
    const storeId = await newStore({ connectedAt: new Date(T - HOUR) });
    await ctx.db.update(stores).set({ kaspiTokenEnc: ctx.secrets.encrypt('revoked-token') }).where(eq(stores.id, storeId));
    sim.state.createOrder({ creationDate: T - MIN });
    // A task queue no worker listens on: the schedule must not start polls during the test.
    const nowhere = `nowhere-${randomUUID()}`;
    await reconcileSchedules(ctx.db, ctx.temporal, nowhere, { storeId });
    const schedule = ctx.temporal.schedule.getHandle(pollScheduleId(storeId));
    try {
      expect((await schedule.describe()).state.paused).toBe(false);
      const failure = await failureOf(poll(storeId));
      expect(failure).toBeInstanceOf(ApplicationFailure);
      expect(failure).toMatchObject({ type: 'KaspiTokenRejected', nonRetryable: true });
      expect(JSON.stringify(failure)).not.toContain('revoked-token');
      const store = await storeRow(storeId);
      expect(store).toMatchObject({ tokenRejected: true, tokenRejectedReason: TOKEN_REJECTED_REASON, lastPollError: TOKEN_REJECTED_REASON });
      expect(store.tokenRejectedReason).toMatch(/Kaspi отклонил API-токен/);
      expect((await schedule.describe()).state).toMatchObject({ paused: true, note: 'Kaspi token rejected' });
      expect(await poll(storeId)).toEqual([]);

      const token = `tok-${randomUUID()}`;
      sim.state.tokens.add(token);
      await ctx.db.update(stores).set({ kaspiTokenEnc: ctx.secrets.encrypt(token), tokenRejected: false, tokenRejectedReason: null }).where(eq(stores.id, storeId));
      await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE, { storeId });
      expect((await schedule.describe()).state.paused).toBe(false);
      expect(await poll(storeId)).toHaveLength(1);
      expect((await storeRow(storeId)).lastPollError).toBeNull();
    } finally {
      await schedule.delete();
    }
  });

  it('429 (Retry-After), a 500 mid-paging and a timeout fail retryably, and the retry loses nothing', async () => {
    const storeId = await newStore({ connectedAt: new Date(T - HOUR) });
    const codes = Array.from({ length: 150 }, (_, i) => sim.state.createOrder({ creationDate: T - 50 * MIN + i * 1000 }).code);

    sim.state.rateLimitNext(1, '7');
    const limited = await failureOf(poll(storeId));
    expect(limited).toBeInstanceOf(ApplicationFailure);
    expect(limited).toMatchObject({ type: 'KaspiRateLimited', nonRetryable: false, nextRetryDelay: 7000 });
    expect((await storeRow(storeId)).lastPollError).toMatch(/частоту запросов/);

    let calls = 0;
    fetchHook = (input, init) => {
      if (++calls === 2) sim.state.failNext(1, 503);
      return fetch(input, init);
    };
    const unavailable = await failureOf(poll(storeId));
    expect(unavailable).toBeInstanceOf(KaspiUnavailableError);
    expect(calls).toBe(2);
    fetchHook = undefined;

    sim.state.delayNext(1500);
    const timedOut = await failureOf(poll(storeId));
    expect(timedOut).toBeInstanceOf(KaspiUnavailableError);
    expect((timedOut as Error).message).toMatch(/no answer within 500 ms/);
    expect((await storeRow(storeId)).lastPollError).toMatch(/Kaspi недоступен/);
    expect(await rowsOf(storeId)).toHaveLength(0);
    expect((await storeRow(storeId)).pollCursor).toBeNull();

    const refs = await poll(storeId);
    expect(refs).toHaveLength(150);
    expect(new Set((await rowsOf(storeId)).map((r) => r.orderCode))).toEqual(new Set(codes));
    expect((await storeRow(storeId)).lastPollError).toBeNull();
  });

  it('a malformed order is skipped with a reason while its page-mates count', async () => {
    const storeId = await newStore({ connectedAt: new Date(T - HOUR) });
    const codes = Array.from({ length: 120 }, (_, i) => sim.state.createOrder({ creationDate: T - 50 * MIN + i * 1000 }).code);
    sim.state.malformedOrderNext(1);
    await poll(storeId);
    const rows = await rowsOf(storeId);
    expect(new Set(rows.map((r) => r.orderCode))).toEqual(new Set(codes));
    const store = await storeRow(storeId);
    expect(store.lastPollError).toMatch(/Пропущено заказов Kaspi с некорректными данными: 1 \(999999999: attributes\.totalPrice/);
    expect(store.lastPollOrders).toBe(120);
    expect(await ctx.db.select().from(orders).where(and(eq(orders.storeId, storeId), eq(orders.code, '999999999')))).toHaveLength(0);
  });

  it('does nothing for a disabled store and for a store without a token', async () => {
    const disabled = await newStore({ enabled: false, connectedAt: new Date(T - HOUR) });
    const pushOnly = await newStore({ kaspiTokenEnc: null, connectedAt: new Date(T - HOUR) });
    sim.state.createOrder({ creationDate: T - MIN });
    expect(await poll(disabled)).toEqual([]);
    expect(await poll(pushOnly)).toEqual([]);
    expect(sim.state.requests).toHaveLength(0);
  });
});

describe('kaspiPollWorkflow on the real Temporal server', () => {
  it('starts one notification child per queued row with ids and search attributes; AlreadyStarted counts as started', async () => {
    let worker = await startTestWorker(ctx);
    const children: string[] = [];
    try {
      const storeId = await newStore({ connectedAt: new Date(T - HOUR), kaspiMerchantUid: '30012345' });
      const codes = [0, 1, 2].map((i) => sim.state.createOrder({ creationDate: T - 30 * MIN + i * 1000 }).code);
      sim.state.failNext(1, 500);
      const run = (id: string) => ctx.temporal.workflow.execute('kaspiPollWorkflow', {
        taskQueue: ctx.config.TEMPORAL_TASK_QUEUE,
        workflowId: id,
        args: [{ storeId }],
      });
      expect(await run(`test-poll-${randomUUID()}`)).toEqual({ queued: 3, started: 3, alreadyStarted: 0 });
      // The default client (KASPI_API_URL) sent the merchant header and our User-Agent.
      expect(sim.state.requests.at(-1)).toMatchObject({ userAgent: 'kaspi-notify/0.1', merchantUid: '30012345', authorized: true });

      const rows = await rowsOf(storeId);
      expect(rows).toHaveLength(3);
      for (const row of rows) {
        const id = notifyWorkflowId(storeId, row.orderCode, row.event);
        children.push(id);
        expect(row.workflowId).toBe(id);
        const description = await ctx.temporal.workflow.getHandle(id).describe();
        expect(description.type).toBe('notificationWorkflow');
        expect(description.typedSearchAttributes.get(StoreIdKey)).toBe(storeId);
        expect(description.typedSearchAttributes.get(OrderCodeKey)).toBe(row.orderCode);
        expect(description.typedSearchAttributes.get(NotifyEventKey)).toBe('new');
      }
      expect(new Set(rows.map((r) => r.orderCode))).toEqual(new Set(codes));

      // A run that died between starting a child and recording it leaves the row queued without
      // a workflow id: the next run finds the child already started (terminated here, so whatever
      // notificationWorkflow is registered cannot touch the rows) and records it. The worker stops
      // first: an activity of a child that is already running would still write its row after the
      // termination (a full run once saw a row leave 'queued' after the reset below).
      await worker.shutdown();
      for (const id of children) await ctx.temporal.workflow.getHandle(id).terminate('test: simulate a lost record').catch(() => undefined);
      await ctx.db.update(notifications).set({ workflowId: null, status: 'queued' }).where(eq(notifications.storeId, storeId));
      worker = await startTestWorker(ctx);
      expect(await run(`test-poll-${randomUUID()}`)).toEqual({ queued: 3, started: 0, alreadyStarted: 3 });
      expect((await rowsOf(storeId)).every((r) => r.workflowId === notifyWorkflowId(storeId, r.orderCode, r.event))).toBe(true);
    } finally {
      for (const id of children) await ctx.temporal.workflow.getHandle(id).terminate('test done').catch(() => undefined);
      await worker.shutdown();
    }
  });
});
