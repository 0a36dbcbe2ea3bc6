import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningWeb } from '../../api/server.ts';
import { messageAttempts, messageEvents, notifications } from '../../drizzle/schema.ts';
import { resendNotifications, resendOne } from '../../lib/services/resend.ts';
import type { WahaSimulator } from '../../simulators/waha/server.ts';
import { notificationWorkflow } from '../../workflows/notification.ts';
import { TEST_APP_SECRET, type TestContext } from '../support/context.ts';
import { queueNotification, sampleOrder } from '../support/fixtures.ts';
import { eventually } from '../support/eventually.ts';
import { connectWhatsAppStore, runNotification as runShared, startWhatsAppHarness } from '../support/whatsapp.ts';

/** Resend on the real Temporal server and PostgreSQL, against the WAHA simulator and our web app. */
let ctx: TestContext;
let web: RunningWeb;
let waha: WahaSimulator;
const API_KEY = 'waha-key';
const SECRET = 'hook-secret';
const FAST = { serverAckWaitMs: 1_500, deviceAckWaitMs: 2_500, ambiguousLookupDelayMs: 300 };
const run = promisify(execFile);

let harness: Awaited<ReturnType<typeof startWhatsAppHarness>>;

beforeAll(async () => {
  harness = await startWhatsAppHarness({ apiKey: API_KEY });
  ({ ctx, web, waha } = harness);
});
afterAll(async () => harness?.close());

function connectedStore() {
  return connectWhatsAppStore(ctx, { waha, webUrl: web.url, apiKey: API_KEY, webhookSecret: SECRET, templates: { new: 'Заказ №{order_num} принят.' } });
}

function runNotification(storeId: string, n: { id: string; orderCode: string; event: string }, timing = FAST) {
  return runShared(ctx, storeId, n, timing);
}

const statusOf = async (id: string) => (await ctx.db.select().from(notifications).where(eq(notifications.id, id)))[0]!.status;
const attemptsOf = (id: string) => ctx.db.select().from(messageAttempts).where(eq(messageAttempts.notificationId, id));

describe('resend', () => {
  it('resends each failed/undelivered notification exactly once, skips delivered/read ones; dry-run changes nothing', async () => {
    const { store, sender } = await connectedStore();
    const phones = ['7011000001', '7011000002', '7011000003', '7011000004'];
    const orders = phones.map((p) => sampleOrder({ customer: { firstName: 'Покупатель', lastName: p.slice(-1), name: null, cellPhone: p } }));
    const chat = (i: number) => `7${phones[i]}@c.us`;
    const ns: Awaited<ReturnType<typeof queueNotification>>[] = [];
    for (const o of orders) ns.push(await queueNotification(ctx, store.id, o, 'new'));

    // 0: refused by WhatsApp (463) → failed. 1: no acks at all → undelivered. 2: read. 3: refused → failed.
    waha.state.injectFault({ type: 'refused_463' }, { op: 'sendText' });
    expect((await runNotification(store.id, { id: ns[0]!.id, orderCode: orders[0]!.code, event: 'new' })).status).toBe('failed');
    waha.state.injectFault({ type: 'missing_acks' }, { op: 'sendText' });
    expect((await runNotification(store.id, { id: ns[1]!.id, orderCode: orders[1]!.code, event: 'new' })).status).toBe('undelivered');
    await runNotification(store.id, { id: ns[2]!.id, orderCode: orders[2]!.code, event: 'new' });
    await eventually(async () => (await statusOf(ns[2]!.id)) === 'read');
    waha.state.injectFault({ type: 'refused_463' }, { op: 'sendText' });
    expect((await runNotification(store.id, { id: ns[3]!.id, orderCode: orders[3]!.code, event: 'new' })).status).toBe('failed');
    const before = phones.map((_, i) => waha.state.messages(chat(i), sender.wahaSessionName).length);
    expect(before).toEqual([0, 1, 1, 0]);

    const since = new Date(Date.now() - 3600_000);
    // Dry run through the CLI: reports, changes nothing.
    const env = {
      ...process.env,
      DATABASE_URL: inject('databaseUrl'),
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_TASK_QUEUE: ctx.config.TEMPORAL_TASK_QUEUE,
      APP_SECRET: TEST_APP_SECRET,
      DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'resend-cli-')),
      LOG_LEVEL: 'warn',
    };
    const cli = (args: string[]) => run(process.execPath, ['--import', 'tsx', path.resolve('bin/resend.ts'), ...args], { env, timeout: 60_000 });
    const dry = await cli(['--store', store.id, '--status', 'failed,undelivered', '--since', since.toISOString(), '--dry-run']);
    expect(dry.stdout).toMatch(/matched:\s+3/);
    expect(dry.stdout).toMatch(/would resend: 3/);
    expect(await Promise.all(ns.map((n) => statusOf(n.id)))).toEqual(['failed', 'undelivered', 'read', 'failed']);
    expect(await ctx.db.select().from(messageEvents).where(and(eq(messageEvents.storeId, store.id), eq(messageEvents.kind, 'resend')))).toHaveLength(0);
    expect(phones.map((_, i) => waha.state.messages(chat(i), sender.wahaSessionName).length)).toEqual(before);
    // Usage errors exit 2.
    await expect(cli(['--store', store.id, '--status', 'delivered', '--since', since.toISOString()])).rejects.toMatchObject({ code: 2 });

    // A delivered/read notification is never resent.
    expect(await resendOne(ctx, ns[2]!.id)).toMatchObject({ result: 'skipped', reason: 'not_resendable', status: 'read' });

    const progress: number[] = [];
    const summary = await resendNotifications(ctx, { storeId: store.id, statuses: ['failed', 'undelivered'], since, dryRun: false, timing: FAST, onProgress: (done) => progress.push(done) });
    expect(summary).toMatchObject({ matched: 3, started: 3, errors: [] });
    expect(progress).toEqual([1, 2, 3]);
    for (const i of [0, 1, 3]) {
      const n = ns[i]!;
      // n = attempts before the resend: one each.
      await ctx.temporal.workflow.getHandle(`resend:${n.id}:1`).result();
      await eventually(async () => (await statusOf(n.id)) === 'read');
    }
    // Exactly one more message per resent notification; none for the read one.
    expect(phones.map((_, i) => waha.state.messages(chat(i), sender.wahaSessionName).length)).toEqual([1, 2, 1, 1]);
    // Same notification rows (no second notification), a second attempt under each.
    expect(await ctx.db.select().from(notifications).where(eq(notifications.storeId, store.id))).toHaveLength(4);
    expect((await attemptsOf(ns[1]!.id)).map((a) => [a.attemptNo, a.outcome]).sort()).toEqual([[1, 'superseded_by_resend'], [2, 'sent']]);
    expect((await attemptsOf(ns[0]!.id)).map((a) => [a.attemptNo, a.outcome]).sort()).toEqual([[1, 'failed'], [2, 'sent']]);
    const events = await ctx.db.select().from(messageEvents).where(and(eq(messageEvents.storeId, store.id), eq(messageEvents.kind, 'resend')));
    expect(events.map((e) => e.fromStatus).sort()).toEqual(['failed', 'failed', 'undelivered']);
    expect((await ctx.db.select().from(notifications).where(eq(notifications.id, ns[1]!.id)))[0]!.workflowId).toBe(`resend:${ns[1]!.id}:1`);

    // Nothing left to resend: a second run starts nothing.
    const again = await resendNotifications(ctx, { storeId: store.id, statuses: ['failed', 'undelivered'], since, dryRun: false, timing: FAST });
    expect(again).toMatchObject({ matched: 0, started: 0 });
  });
});

describe('resend of a row whose workflow still runs', () => {
  it('ends the previous run so it cannot finish the row on its own clock', async () => {
    const { store } = await connectedStore();
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    // A run that is still waiting (on a queue no worker serves), as after an ERROR ack mid-wait.
    const previousId = `stale-${n.id}`;
    await ctx.temporal.workflow.start(notificationWorkflow, {
      taskQueue: `nobody-${n.id}`,
      workflowId: previousId,
      args: [{ notificationId: n.id, storeId: store.id, orderCode: order.code, event: 'new' }],
    });
    await ctx.db.update(notifications).set({ status: 'failed', reasonCode: 'ack_error', workflowId: previousId }).where(eq(notifications.id, n.id));

    const r = await resendOne(ctx, n.id, { timing: FAST });
    expect(r.result).toBe('started');
    expect((await ctx.temporal.workflow.getHandle(previousId).describe()).status.name).toBe('TERMINATED');
    await eventually(async () => (await ctx.db.select().from(notifications).where(eq(notifications.id, n.id)))[0]!.status === 'read');
  });
});

describe('resend whose workflow cannot start', () => {
  it('puts the row back as it was (failed, its old workflow id), so it can be resent later', async () => {
    const { store } = await connectedStore();
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    await ctx.db.update(notifications).set({ status: 'failed', reasonCode: 'waha_rejected', workflowId: `old-${n.id}` }).where(eq(notifications.id, n.id));
    // Temporal refuses the start (down, or a namespace problem): everything else works.
    const workflow = new Proxy(ctx.temporal.workflow, {
      get: (target, key, receiver) => (key === 'start' ? async () => { throw new Error('temporal unavailable'); } : Reflect.get(target, key, receiver)),
    });
    const broken = { ...ctx, temporal: new Proxy(ctx.temporal, { get: (target, key, receiver) => (key === 'workflow' ? workflow : Reflect.get(target, key, receiver)) }) };
    await expect(resendOne(broken, n.id, { timing: FAST })).rejects.toThrow('temporal unavailable');
    const [row] = await ctx.db.select().from(notifications).where(eq(notifications.id, n.id));
    expect(row).toMatchObject({ status: 'failed', workflowId: `old-${n.id}` });
    // And a later resend goes through.
    expect((await resendOne(ctx, n.id, { timing: FAST })).result).toBe('started');
    await eventually(async () => (await ctx.db.select().from(notifications).where(eq(notifications.id, n.id)))[0]!.status === 'read');
  });
});
