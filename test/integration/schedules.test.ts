import { ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stores } from '../../drizzle/schema.ts';
import { pollPhaseSeconds, reconcileSchedules } from '../../lib/temporal/schedules.ts';
import { pollScheduleId } from '../../workflows/config.ts';
import { createTestContext, startTestWorker, type TestContext } from '../support/context.ts';
import type { RunningWorker } from '../../lib/temporal/worker.ts';

let ctx: TestContext;
let worker: RunningWorker;

beforeAll(async () => {
  ctx = await createTestContext();
  worker = await startTestWorker(ctx);
});
afterAll(async () => {
  await worker.shutdown();
  await ctx.close();
});

async function newStore(values: Partial<typeof stores.$inferInsert> = {}): Promise<string> {
  const [row] = await ctx.db.insert(stores).values({ name: 'Магазин', kaspiTokenEnc: ctx.secrets.encrypt('token'), ...values }).returning({ id: stores.id });
  return row!.id;
}

async function describeSchedule(storeId: string) {
  return ctx.temporal.schedule.getHandle(pollScheduleId(storeId)).describe();
}

describe('poll schedules on the real Temporal server', () => {
  it('the reconcile workflow runs on the worker and creates a schedule per store', async () => {
    const storeId = await newStore({ pollIntervalSeconds: 90 });
    const result = await ctx.temporal.workflow.execute('reconcileSchedulesWorkflow', {
      taskQueue: ctx.config.TEMPORAL_TASK_QUEUE,
      workflowId: `test-reconcile-${storeId}`,
      args: [],
    });
    expect(result).toMatchObject({ created: expect.any(Number) });
    const schedule = await describeSchedule(storeId);
    expect(Number(schedule.spec.intervals?.[0]?.every)).toBe(90_000);
    expect(Number(schedule.spec.intervals?.[0]?.offset)).toBe(pollPhaseSeconds(storeId, 90) * 1000);
    expect(schedule.state.paused).toBe(false);
    expect(schedule.action.type).toBe('startWorkflow');
  });

  it('puts right a changed interval, a disabled store, a deleted and a wrong schedule, and removes orphans', async () => {
    const storeId = await newStore();
    await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE);
    expect(Number((await describeSchedule(storeId)).spec.intervals?.[0]?.every)).toBe(60_000);

    await ctx.db.update(stores).set({ pollIntervalSeconds: 120 }).where(eq(stores.id, storeId));
    let r = await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE, { storeId });
    expect(r.updated).toBe(1);
    expect(Number((await describeSchedule(storeId)).spec.intervals?.[0]?.every)).toBe(120_000);

    await ctx.db.update(stores).set({ enabled: false }).where(eq(stores.id, storeId));
    await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE, { storeId });
    expect((await describeSchedule(storeId)).state.paused).toBe(true);

    await ctx.db.update(stores).set({ enabled: true }).where(eq(stores.id, storeId));
    await ctx.temporal.schedule.getHandle(pollScheduleId(storeId)).delete();
    r = await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE, { storeId });
    expect(r.created).toBe(1);
    expect((await describeSchedule(storeId)).state.paused).toBe(false);

    await ctx.temporal.schedule.getHandle(pollScheduleId(storeId)).update((prev) => ({ ...prev, spec: { intervals: [{ every: '7s' }] } }));
    r = await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE, { storeId });
    expect(r.updated).toBe(1);
    expect(Number((await describeSchedule(storeId)).spec.intervals?.[0]?.every)).toBe(120_000);

    // A Schedule at another phase (before phases, every store fired at offset 0) is moved to its own.
    const wrongPhase = (pollPhaseSeconds(storeId, 120) + 1) % 120;
    await ctx.temporal.schedule.getHandle(pollScheduleId(storeId)).update((prev) => ({ ...prev, spec: { intervals: [{ every: '120s', offset: `${wrongPhase}s` }] } }));
    r = await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE, { storeId });
    expect(r.updated).toBe(1);
    expect(Number((await describeSchedule(storeId)).spec.intervals?.[0]?.offset)).toBe(pollPhaseSeconds(storeId, 120) * 1000);

    r = await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE, { storeId });
    expect(r).toEqual({ created: 0, updated: 0, unchanged: 1, deleted: 0 });

    await ctx.db.delete(stores).where(eq(stores.id, storeId));
    r = await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE);
    expect(r.deleted).toBeGreaterThanOrEqual(1);
    await expect(describeSchedule(storeId)).rejects.toBeInstanceOf(ScheduleNotFoundError);
  });

  it('the full pass describes only Schedules the listing shows missing or different', async () => {
    const ids = [await newStore(), await newStore(), await newStore()];
    await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE);
    // Visibility follows a create a moment later; wait until the listing carries all three.
    const allListed = async () => {
      const listed = new Set<string>();
      for await (const s of ctx.temporal.schedule.list()) if (s.spec?.intervals?.length) listed.add(s.scheduleId);
      return ids.every((id) => listed.has(pollScheduleId(id)));
    };
    let listed = await allListed();
    for (let i = 0; i < 50 && !listed; i++) {
      await new Promise((r) => setTimeout(r, 200));
      listed = await allListed();
    }
    expect(listed).toBe(true);

    await ctx.db.update(stores).set({ pollIntervalSeconds: 300 }).where(eq(stores.id, ids[0]!));
    const handled: string[] = [];
    const counting = {
      schedule: {
        list: () => ctx.temporal.schedule.list(),
        create: (o: Parameters<typeof ctx.temporal.schedule.create>[0]) => ctx.temporal.schedule.create(o),
        getHandle: (id: string) => {
          handled.push(id);
          return ctx.temporal.schedule.getHandle(id);
        },
      },
    } as unknown as typeof ctx.temporal;
    await reconcileSchedules(ctx.db, counting, ctx.config.TEMPORAL_TASK_QUEUE);
    expect(handled.filter((id) => ids.some((s) => id === pollScheduleId(s)))).toEqual([pollScheduleId(ids[0]!)]);
    expect(Number((await describeSchedule(ids[0]!)).spec.intervals?.[0]?.every)).toBe(300_000);
  });

  it('pauses a store whose token was rejected or that has no token', async () => {
    const rejected = await newStore({ tokenRejected: true });
    const pushOnly = await newStore({ kaspiTokenEnc: null });
    await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE);
    expect((await describeSchedule(rejected)).state).toMatchObject({ paused: true, note: 'Kaspi token rejected' });
    expect((await describeSchedule(pushOnly)).state.paused).toBe(true);
  });

  it('puts right a stale pause reason and a policy changed by hand', async () => {
    const storeId = await newStore({ enabled: false });
    await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE, { storeId });
    expect((await describeSchedule(storeId)).state).toMatchObject({ paused: true, note: 'store disabled' });

    // Still paused, for another reason: the operator reads the note in the Temporal UI.
    await ctx.db.update(stores).set({ enabled: true, tokenRejected: true }).where(eq(stores.id, storeId));
    let r = await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE, { storeId });
    expect(r.updated).toBe(1);
    expect((await describeSchedule(storeId)).state).toMatchObject({ paused: true, note: 'Kaspi token rejected' });

    await ctx.db.update(stores).set({ tokenRejected: false }).where(eq(stores.id, storeId));
    await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE, { storeId });
    await ctx.temporal.schedule.getHandle(pollScheduleId(storeId)).update((prev) => ({
      ...prev,
      policies: { ...prev.policies, overlap: ScheduleOverlapPolicy.ALLOW_ALL, catchupWindow: '1h' },
    }));
    r = await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE, { storeId });
    expect(r.updated).toBe(1);
    const policies = (await describeSchedule(storeId)).policies;
    expect(policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(policies.catchupWindow).toBe(60_000);
  });
});

describe('stranded notifications', () => {
  it('the reconcile activity starts workflows for queued rows nobody started (e.g. a push-only store)', async () => {
    const { notifications, orders } = await import('../../drizzle/schema.ts');
    const storeId = await newStore({ kaspiTokenEnc: null });
    await ctx.db.insert(orders).values({ storeId, code: '990001', state: 'NEW', status: 'APPROVED_BY_BANK', snapshot: {}, creationDate: new Date(), source: 'push' });
    const [n] = await ctx.db.insert(notifications).values({ storeId, orderCode: '990001', event: 'new', createdAt: new Date(Date.now() - 10 * 60_000) }).returning();
    // Scoped to this store: the test database holds other files' rows.
    const { createScheduleActivities } = await import('../../activities/schedules.ts');
    await createScheduleActivities(ctx).reconcileSchedules({ storeId });
    const [row] = await ctx.db.select().from(notifications).where(eq(notifications.id, n!.id));
    expect(row!.workflowId).toBe(`notify:${storeId}:990001:new`);
    const described = await ctx.temporal.workflow.getHandle(row!.workflowId!).describe();
    expect(described.type).toBe('notificationWorkflow');
  });
});
