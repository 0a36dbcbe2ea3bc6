import { randomUUID } from 'node:crypto';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifications, storeMembers, stores, templates, users } from '../../drizzle/schema.ts';
import { startWeb, type RunningWeb } from '../../api/server.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';
import type { RunningWorker } from '../../lib/temporal/worker.ts';
import { assertDemoDataIsolated, DemoRefusedError, DEMO_STORE_NAME, DEMO_TEMPLATES, setupDemoStore, startDemo, startDemoKaspiSimulator, type RunningDemo } from '../../bin/demo.ts';
import type { RunningKaspiSimulator } from '../../simulators/kaspi/server.ts';
import { reconcileSchedules } from '../../lib/temporal/schedules.ts';
import { pollScheduleId } from '../../workflows/config.ts';
import { createTestContext, startTestWorker, type TestContext } from '../support/context.ts';
import { eventually } from '../support/eventually.ts';

/** `npm run demo` minus the process around it: simulators, demo store, trickle, real worker and web app. */
let ctx: TestContext;
let worker: RunningWorker;
let web: RunningWeb;
let kaspi: RunningKaspiSimulator;
let demo: RunningDemo | undefined;
let userId: string;
const storeId = randomUUID();

beforeAll(async () => {
  kaspi = await startDemoKaspiSimulator();
  ctx = await createTestContext({ env: { KASPI_API_URL: kaspi.url } });
  worker = await startTestWorker(ctx);
  web = await startWeb(ctx, await findFreePort(), '127.0.0.1');
  const [user] = await ctx.db.insert(users).values({ email: `demo-${storeId}@localhost`, passwordHash: 'x', isSuperAdmin: false }).returning({ id: users.id });
  userId = user!.id;
});
afterAll(async () => {
  await demo?.stop();
  // Leave nothing polling: other test files reconcile every store's schedule.
  await ctx?.db.update(stores).set({ enabled: false }).where(eq(stores.id, storeId));
  await ctx?.temporal.schedule.getHandle(pollScheduleId(storeId)).delete().catch(() => undefined);
  await kaspi?.close();
  await web?.close();
  await worker?.shutdown();
  await ctx?.close();
});

async function keepOwnPollSchedule(): Promise<void> {
  const described = await ctx.temporal.schedule.getHandle(pollScheduleId(storeId)).describe().catch(() => null);
  const action = described?.action;
  if (action && action.type === 'startWorkflow' && action.taskQueue !== ctx.config.TEMPORAL_TASK_QUEUE) {
    await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE, { storeId });
  }
}

describe('demo', () => {
  it('orders trickle in and buyers get Russian messages that reach read', async () => {
    demo = await startDemo(ctx, { publicUrl: web.url, kaspi, storeId, userId, ackDelaysMs: [300, 700, 1_200] });
    expect(demo.storeCreated).toBe(true);
    expect(demo.chatsUrl).toBe(`${demo.wahaUrl}/_sim/chats`);
    expect(demo.banner().join('\n')).toMatch(/DEMO/);
    expect(demo.banner().join('\n')).toContain(demo.chatsUrl);

    const [store] = await ctx.db.select().from(stores).where(eq(stores.id, storeId));
    expect(store).toMatchObject({ name: DEMO_STORE_NAME, pollIntervalSeconds: 10, enabled: true });
    const members = await ctx.db.select().from(storeMembers).where(and(eq(storeMembers.storeId, storeId), eq(storeMembers.userId, userId)));
    expect(members).toHaveLength(1);

    await eventually(async () => {
      // Another test file's reconcile of every store (test/integration/schedules.test.ts) may point
      // this store's Schedule at its own task queue, where no worker knows the demo's Kaspi: put it back.
      await keepOwnPollSchedule();
      const [row] = await ctx.db
        .select({ n: sql<number>`count(*)::int` })
        .from(notifications)
        .where(and(eq(notifications.storeId, storeId), eq(notifications.status, 'read')));
      return (row?.n ?? 0) > 0;
    }, 40_000);

    const sent = demo.waha.state.allChats().flatMap((c) => c.messages).filter((m) => m.fromMe);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.some((m) => /заказ №\d+/.test(m.body) && /[А-Яа-яЁё]{5,}/.test(m.body))).toBe(true);
    expect(sent.some((m) => m.ack === 3)).toBe(true);
    expect(await (await fetch(demo.chatsUrl)).text()).toContain('Демо-магазин');
  }, 60_000);

  it('setting the store up again reuses it and its templates', async () => {
    demo!.waha.state.apiKey = 'another-key'; // as a restarted demo's new simulator would have
    const again = await setupDemoStore(ctx, {
      storeId,
      userId,
      publicUrl: web.url,
      wahaUrl: demo!.wahaUrl,
      wahaApiKey: 'another-key',
      webhookSecret: 'another-webhook-secret-0123',
    });
    expect(again.created).toBe(false);
    const rows = await ctx.db.select({ event: templates.event }).from(templates).where(and(eq(templates.storeId, storeId), isNull(templates.deletedAt)));
    expect(rows.map((r) => r.event).sort()).toEqual(DEMO_TEMPLATES.map((t) => t.event).sort());
    expect(await ctx.db.select().from(stores).where(eq(stores.id, storeId))).toHaveLength(1);
  });

  it('refuses data that holds a store with a real Kaspi token (the simulator would reject it)', async () => {
    const [real] = await ctx.db.insert(stores).values({ name: 'Настоящий магазин', kaspiTokenEnc: ctx.secrets.encrypt('real-token') }).returning({ id: stores.id });
    try {
      await expect(assertDemoDataIsolated(ctx, storeId)).rejects.toBeInstanceOf(DemoRefusedError);
      await expect(assertDemoDataIsolated(ctx, storeId)).rejects.toThrow(/DATA_DIR=\.data-demo npm run demo/);
    } finally {
      await ctx.db.delete(stores).where(eq(stores.id, real!.id));
    }
  });
});
