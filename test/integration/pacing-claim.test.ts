import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNotificationActivities } from '../../activities/notification.ts';
import { messageAttempts, notifications, stores } from '../../drizzle/schema.ts';
import { startWahaSimulator, type WahaSimulator } from '../../simulators/waha/server.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { createSender, createStore, createTemplate, queueNotification, sampleOrder } from '../support/fixtures.ts';

/**
 * The send-time claim with an injected clock: pacing holds at the moment of sending whatever the
 * plan said. Asia/Almaty is UTC+5 all year.
 */
let ctx: TestContext;
let waha: WahaSimulator;
let clock = new Date('2026-11-26T10:00:00Z');
let sessions = 0;

beforeAll(async () => {
  ctx = await createTestContext({ now: () => clock });
  waha = await startWahaSimulator({ engine: 'NOWEB', apiKey: null, ackDelaysMs: [10, 20, 30] });
});
afterAll(async () => {
  await waha?.close();
  await ctx?.close();
});

async function setup(sender: Parameters<typeof createSender>[1] extends infer T ? Partial<T> : never) {
  const session = `claim-${++sessions}`;
  waha.state.addSession(session, { status: 'WORKING', paired: true });
  const s = await createSender(ctx, { wahaServerUrl: waha.url, wahaSessionName: session, sessionStatus: 'WORKING', sessionStatusAt: clock, nextAllowedAt: new Date(0), ...sender });
  const store = await createStore(ctx, { senderId: s.id });
  await createTemplate(ctx, store.id, 'new', 'Заказ {order_num}');
  return { sender: s, store };
}

async function queued(storeId: string, phone = '7011234567') {
  const order = sampleOrder({ creationDate: clock.getTime() - 60_000, approvedByBankDate: clock.getTime() - 60_000, customer: { firstName: 'А', lastName: 'Б', name: null, cellPhone: phone } });
  const n = await queueNotification(ctx, storeId, order, 'new', clock);
  return n.id;
}

describe('claim at send time', () => {
  it('defers to the end of quiet hours in store time, then sends', async () => {
    const activities = createNotificationActivities(ctx, { random: () => 0 });
    const { store } = await setup({ quietHoursStart: '22:00', quietHoursEnd: '09:00' });
    clock = new Date('2026-11-26T18:30:00Z'); // 23:30 in Almaty
    const id = await queued(store.id);
    expect(await activities.prepareNotification({ notificationId: id })).toMatchObject({ action: 'send' });
    const refused = await activities.claimAndSend({ notificationId: id });
    // 09:00 Almaty, spread by up to one mean gap so a night's backlog does not wake at one instant.
    expect(refused).toMatchObject({ result: 'wait', reason: 'quiet_hours' });
    const retryAt = (refused as { retryAt: number }).retryAt;
    expect(retryAt).toBeGreaterThanOrEqual(Date.parse('2026-11-27T04:00:00Z'));
    expect(retryAt).toBeLessThan(Date.parse('2026-11-27T04:00:00Z') + 40_000);
    const [row] = await ctx.db.select().from(notifications).where(eq(notifications.id, id));
    expect(row).toMatchObject({ status: 'scheduled', reasonCode: 'quiet_hours' });
    expect(row!.scheduledFor?.getTime()).toBe(retryAt);

    clock = new Date('2026-11-27T04:00:00Z'); // 09:00 in Almaty
    await ctx.db.update(notifications).set({ eventAt: clock }).where(eq(notifications.id, id)); // still fresh for this test
    await ctx.db.execute(`update senders set session_status_at = now() where id = (select sender_id from stores where id = '${store.id}')`);
    expect(await activities.claimAndSend({ notificationId: id })).toMatchObject({ result: 'sent' });
  });

  it('keeps the gap between two sends of one sender, and claims for the next slot', async () => {
    const activities = createNotificationActivities(ctx, { random: () => 0.5 });
    clock = new Date('2026-11-26T06:00:00Z');
    const { store } = await setup({ minGapSeconds: 20, maxGapSeconds: 60 });
    const a = await queued(store.id, '7011110001');
    const b = await queued(store.id, '7011110002');
    await activities.prepareNotification({ notificationId: a });
    await activities.prepareNotification({ notificationId: b });
    expect(await activities.claimAndSend({ notificationId: a })).toMatchObject({ result: 'sent' });
    const second = await activities.claimAndSend({ notificationId: b });
    // next_allowed_at = first send + 40 s (random 0.5 of 20–60 s), spread by half a mean gap.
    expect(second).toEqual({ result: 'wait', reason: 'gap', retryAt: clock.getTime() + 40_000 + 20_000 });
    clock = new Date(clock.getTime() + 40_000);
    expect(await activities.claimAndSend({ notificationId: b })).toMatchObject({ result: 'sent' });
    const starts = (await ctx.db.select().from(messageAttempts).where(eq(messageAttempts.outcome, 'sent'))).filter((x) => [a, b].includes(x.notificationId)).map((x) => x.startedAt.getTime()).sort();
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(20_000);
  });

  it('plans each waiting message its own slot, never closer than the gap and outside quiet hours', async () => {
    const activities = createNotificationActivities(ctx, { random: () => 0 });
    clock = new Date('2026-11-26T16:58:00Z'); // 21:58 in Almaty, two minutes before quiet hours
    const { store } = await setup({ minGapSeconds: 60, maxGapSeconds: 60, quietHoursStart: '22:00', quietHoursEnd: '09:00', nextAllowedAt: clock });
    const planned: number[] = [];
    for (let i = 0; i < 4; i++) {
      const id = await queued(store.id, `701444000${i}`);
      const p = await activities.prepareNotification({ notificationId: id });
      expect(p.action).toBe('send');
      planned.push((p as { notBefore: number }).notBefore);
    }
    // 21:58 and 21:59 fit before the quiet hours; the rest wait for 09:00, a gap apart.
    expect(planned.map((t) => new Date(t).toISOString())).toEqual([
      '2026-11-26T16:58:00.000Z',
      '2026-11-26T16:59:00.000Z',
      '2026-11-27T04:00:00.000Z',
      '2026-11-27T04:01:00.000Z',
    ]);
  });

  it('stops at the daily cap and resumes the next local day', async () => {
    const activities = createNotificationActivities(ctx, { random: () => 0 });
    clock = new Date('2026-11-26T12:00:00Z'); // 17:00 Almaty
    const { store } = await setup({ dailyCap: 2 });
    const ids = [await queued(store.id, '7012220001'), await queued(store.id, '7012220002'), await queued(store.id, '7012220003')];
    for (const id of ids) await activities.prepareNotification({ notificationId: id });
    expect(await activities.claimAndSend({ notificationId: ids[0]! })).toMatchObject({ result: 'sent' });
    expect(await activities.claimAndSend({ notificationId: ids[1]! })).toMatchObject({ result: 'sent' });
    const capped = await activities.claimAndSend({ notificationId: ids[2]! });
    expect(capped).toEqual({ result: 'wait', reason: 'daily_cap', retryAt: Date.parse('2026-11-26T19:00:00Z') }); // local midnight
    clock = new Date('2026-11-26T19:00:01Z');
    await ctx.db.update(notifications).set({ eventAt: clock }).where(eq(notifications.id, ids[2]!));
    await ctx.db.execute(`update senders set session_status_at = now() where id = (select sender_id from stores where id = '${store.id}')`);
    expect(await activities.claimAndSend({ notificationId: ids[2]! })).toMatchObject({ result: 'sent' });
  });

  it('holds everything while sending is paused', async () => {
    const activities = createNotificationActivities(ctx, { random: () => 0 });
    clock = new Date('2026-11-26T07:00:00Z');
    const { store, sender } = await setup({});
    await ctx.db.update(stores).set({ sendingPaused: true }).where(eq(stores.id, store.id));
    const id = await queued(store.id, '7013330001');
    await activities.prepareNotification({ notificationId: id });
    expect(await activities.claimAndSend({ notificationId: id })).toEqual({ result: 'wait', reason: 'paused', retryAt: null });
    expect(waha.state.messages('77013330001@c.us', sender.wahaSessionName)).toHaveLength(0);
  });
});
