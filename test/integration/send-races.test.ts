import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNotificationActivities } from '../../activities/notification.ts';
import { messageAttempts, notifications, optOuts, orders, stores } from '../../drizzle/schema.ts';
import { KaspiClient } from '../../lib/kaspi/client.ts';
import { WahaClient } from '../../lib/waha/client.ts';
import { recordAck } from '../../lib/notifications/acks.ts';
import { startKaspiSimulator } from '../../simulators/kaspi/server.ts';
import { startWahaSimulator, type WahaSimulator } from '../../simulators/waha/server.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { createSender, createStore, createTemplate, queueNotification, sampleOrder } from '../support/fixtures.ts';

/**
 * Races around one send, driven through the activities with the real database and both
 * simulators: whatever moves a notification while a claim is under way wins over the claim.
 */
let ctx: TestContext;
let waha: WahaSimulator;
let kaspi: Awaited<ReturnType<typeof startKaspiSimulator>>;
let sessions = 0;
const TOKEN = 'kaspi-race-token';

beforeAll(async () => {
  kaspi = await startKaspiSimulator({ tokens: [TOKEN] });
  ctx = await createTestContext({ env: { KASPI_API_URL: kaspi.url } });
  waha = await startWahaSimulator({ engine: 'NOWEB', apiKey: null, ackDelaysMs: [10, 20, 30] });
});
afterAll(async () => {
  await waha?.close();
  await kaspi?.close();
  await ctx?.close();
});

async function setup() {
  const session = `race-${++sessions}`;
  waha.state.addSession(session, { status: 'WORKING', paired: true });
  const sender = await createSender(ctx, { wahaServerUrl: waha.url, wahaSessionName: session, sessionStatus: 'WORKING', sessionStatusAt: new Date() });
  const store = await createStore(ctx, { senderId: sender.id, kaspiTokenEnc: ctx.secrets.encrypt(TOKEN) });
  await createTemplate(ctx, store.id, 'new', 'Заказ {order_num}');
  const simOrder = kaspi.state.createOrder({ creationDate: Date.now() - 60_000, approvedByBankDate: Date.now() - 50_000 });
  const order = sampleOrder({ code: simOrder.code });
  const n = await queueNotification(ctx, store.id, order, 'new');
  return { sender, store, n, order };
}

/** A Kaspi client for the pre-send re-read that lets a test act while the claim is under way. */
function kaspiDuring(action: () => Promise<void>) {
  return (_store: unknown, token: string) =>
    new KaspiClient({
      baseUrl: kaspi.url,
      token,
      userAgent: 'race-test',
      minRequestIntervalMs: 0,
      fetch: async (input, init) => {
        await action();
        return fetch(input, init);
      },
    });
}

describe('races around a send', () => {
  it('an admin cancelling while a claim is under way wins: nothing is sent', async () => {
    const { sender, n } = await setup();
    const activities = createNotificationActivities(ctx, {
      kaspiClientFor: kaspiDuring(async () => {
        await ctx.db.update(notifications).set({ status: 'skipped', reasonCode: 'cancelled_by_admin' }).where(eq(notifications.id, n.id));
      }),
    });
    await activities.prepareNotification({ notificationId: n.id });
    const result = await activities.claimAndSend({ notificationId: n.id });
    expect(result).toEqual({ result: 'done', status: 'skipped', reasonCode: 'cancelled_by_admin' });
    expect(waha.state.messages('77011234567@c.us', sender.wahaSessionName)).toHaveLength(0);
    expect(await ctx.db.select().from(messageAttempts).where(eq(messageAttempts.notificationId, n.id))).toHaveLength(0);
  });

  it('the pre-send re-read does not write the order, so the poll still sees the change', async () => {
    const { store, n, order } = await setup();
    kaspi.state.accept(order.code);
    const activities = createNotificationActivities(ctx);
    await activities.prepareNotification({ notificationId: n.id });
    expect(await activities.claimAndSend({ notificationId: n.id })).toMatchObject({ result: 'done', status: 'skipped', reasonCode: 'stale' });
    const [row] = await ctx.db.select().from(orders).where(eq(orders.code, order.code));
    expect(row).toMatchObject({ storeId: store.id, state: 'NEW', status: 'APPROVED_BY_BANK' });
  });

  it('pausing while a claim is under way holds the message', async () => {
    const { sender, store, n } = await setup();
    const activities = createNotificationActivities(ctx, {
      kaspiClientFor: kaspiDuring(async () => {
        await ctx.db.update(stores).set({ sendingPaused: true }).where(eq(stores.id, store.id));
      }),
    });
    await activities.prepareNotification({ notificationId: n.id });
    expect(await activities.claimAndSend({ notificationId: n.id })).toEqual({ result: 'wait', reason: 'paused', retryAt: null });
    expect(waha.state.messages('77011234567@c.us', sender.wahaSessionName)).toHaveLength(0);
  });

  it('a «стоп» that arrives while the claim asks WAHA wins: nothing is sent', async () => {
    const { sender, store, n } = await setup();
    const activities = createNotificationActivities(ctx, {
      wahaClientFor: (s, apiKey) => new WahaClient({
        baseUrl: s.wahaServerUrl,
        apiKey,
        session: s.wahaSessionName,
        fetch: async (input, init) => {
          // The buyer's reply lands while we reserve the message id, after the early opt-out check.
          if (String(input).includes('/new-message-id')) await ctx.db.insert(optOuts).values({ storeId: store.id, phone: '77011234567', source: 'whatsapp', matchedBy: 'phone' });
          return fetch(input, init);
        },
      }),
    });
    await activities.prepareNotification({ notificationId: n.id });
    expect(await activities.claimAndSend({ notificationId: n.id })).toEqual({ result: 'done', status: 'skipped', reasonCode: 'opted_out' });
    expect(waha.state.messages('77011234567@c.us', sender.wahaSessionName)).toHaveLength(0);
    expect(await ctx.db.select().from(messageAttempts).where(eq(messageAttempts.notificationId, n.id))).toHaveLength(0);
  });

  it('a second "absent" lookup does not reopen the notification, and an ERROR ack cannot fail a waiting row', async () => {
    const { sender, n } = await setup();
    const activities = createNotificationActivities(ctx);
    await activities.prepareNotification({ notificationId: n.id });
    const sent = await activities.claimAndSend({ notificationId: n.id });
    expect(sent).toMatchObject({ result: 'sent' });
    // WAHA "forgets" the message (NOWEB answers 404 for messages that exist).
    await ctx.db.update(messageAttempts).set({ wahaMessageId: 'true_77011234567@c.us_GONE1', lastAck: null }).where(eq(messageAttempts.notificationId, n.id));
    expect(await activities.checkSentMessage({ notificationId: n.id, allowResend: false })).toEqual({ found: 'unknown' });
    expect((await ctx.db.select().from(notifications).where(eq(notifications.id, n.id)))[0]!.status).toBe('sent');
    expect(waha.state.messages('77011234567@c.us', sender.wahaSessionName)).toHaveLength(1);

    const waiting = await setup();
    await activities.prepareNotification({ notificationId: waiting.n.id });
    const [attempt] = await ctx.db.select().from(messageAttempts).where(eq(messageAttempts.notificationId, n.id));
    await recordAck(ctx, attempt!.id, waiting.n.id, -1, 'test');
    expect((await ctx.db.select().from(notifications).where(eq(notifications.id, waiting.n.id)))[0]!.status).toBe('scheduled');
  });
});
