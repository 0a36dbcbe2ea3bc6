import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageAttempts, notifications, optOuts, senders, type NotifyEvent } from '../../drizzle/schema.ts';
import type { RunningWeb } from '../../api/server.ts';
import { WahaClient } from '../../lib/waha/client.ts';
import { notifyWorkflowId } from '../../workflows/config.ts';
import type { WahaSimulator } from '../../simulators/waha/server.ts';
import type { TestContext } from '../support/context.ts';
import { queueNotification, sampleOrder } from '../support/fixtures.ts';
import { connectWhatsAppStore, runNotification as runShared, startWhatsAppHarness } from '../support/whatsapp.ts';
import { eventually } from '../support/eventually.ts';

/**
 * The notification workflow end to end on the real Temporal server and PostgreSQL, against the
 * WAHA simulator, whose signed webhooks reach our real web app.
 */
let ctx: TestContext;
let web: RunningWeb;
let waha: WahaSimulator;
const API_KEY = 'waha-key';
const SECRET = 'hook-secret';
const FAST = { serverAckWaitMs: 3_000, deviceAckWaitMs: 5_000, ambiguousLookupDelayMs: 500 };

let harness: Awaited<ReturnType<typeof startWhatsAppHarness>>;

beforeAll(async () => {
  harness = await startWhatsAppHarness({ apiKey: API_KEY });
  ({ ctx, web, waha } = harness);
});
afterAll(async () => harness?.close());

/** A store with its own WhatsApp session on the simulator, wired to our webhook. */
function connectedStore(sender: Parameters<typeof connectWhatsAppStore>[1]['sender'] = {}, templates: Partial<Record<NotifyEvent, string>> = { new: 'Здравствуйте, {user_name}! Заказ №{order_num} на {total_amount} принят.' }) {
  return connectWhatsAppStore(ctx, { waha, webUrl: web.url, apiKey: API_KEY, webhookSecret: SECRET, sender, templates });
}

function runNotification(storeId: string, n: { id: string; orderCode: string; event: string }, timing = FAST) {
  return runShared(ctx, storeId, n, timing);
}

async function notification(id: string) {
  const [row] = await ctx.db.select().from(notifications).where(eq(notifications.id, id));
  return row!;
}

/** The workflow ends at DELIVERED; READ arrives later by webhook, straight into PostgreSQL. */
async function expectRead(id: string) {
  await eventually(async () => (await notification(id)).status === 'read');
  return notification(id);
}

describe('notification workflow', () => {
  it('renders the Russian text, sends once to the chat id and follows acks to read', async () => {
    const { store, sender } = await connectedStore();
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    const outcome = await runNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' });
    expect(['delivered', 'read']).toContain(outcome.status);
    await expectRead(n.id);

    const messages = waha.state.messages('77011234567@c.us', sender.wahaSessionName);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.body).toBe(`Здравствуйте, Айгерим Серикова! Заказ №${order.code} на 12\u00a0990\u00a0₸ принят.`);
    const row = await notification(n.id);
    expect(row.status).toBe('read');
    expect(row.sentAt).not.toBeNull();
    expect(row.deliveredAt).not.toBeNull();
    expect(row.readAt).not.toBeNull();
    const attempts = await ctx.db.select().from(messageAttempts).where(eq(messageAttempts.notificationId, n.id));
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ outcome: 'sent', chatId: '77011234567@c.us', lastAck: 3 });
    expect(attempts[0]!.wahaMessageId).toMatch(/^true_77011234567@c\.us_/);
  });

  it('200 orders over 3 stores at gap 0: one message per order event, all read', async () => {
    const stores = await Promise.all([connectedStore(), connectedStore(), connectedStore()]);
    const jobs: Promise<unknown>[] = [];
    const expected: { sessionName: string; chatId: string; code: string }[] = [];
    for (let i = 0; i < 200; i++) {
      const { store, sender } = stores[i % 3]!;
      const phone = `70${String(10000000 + i).slice(-8)}`;
      const order = sampleOrder({ customer: { firstName: 'Ерлан', lastName: `№${i}`, name: null, cellPhone: phone } });
      const n = await queueNotification(ctx, store.id, order, 'new');
      expected.push({ sessionName: sender.wahaSessionName, chatId: `7${phone}@c.us`, code: order.code });
      jobs.push(runNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' }));
    }
    const outcomes = (await Promise.all(jobs)) as { status: string }[];
    expect(outcomes.filter((o) => o.status !== 'delivered' && o.status !== 'read')).toEqual([]);
    for (const { store } of stores) {
      await eventually(async () => (await ctx.db.select({ s: notifications.status }).from(notifications).where(eq(notifications.storeId, store.id))).every((r) => r.s === 'read'));
    }
    for (const e of expected) {
      const msgs = waha.state.messages(e.chatId, e.sessionName);
      expect(msgs).toHaveLength(1);
      expect(msgs[0]!.body).toContain(e.code);
    }
  }, 240_000);

  it('waits while the session needs a QR scan and sends once it is WORKING', async () => {
    const { store, sender } = await connectedStore();
    waha.state.setSessionStatus(sender.wahaSessionName, 'SCAN_QR_CODE');
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    const run = runNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' });
    await eventually(async () => (await notification(n.id)).reasonCode === 'session_not_working');
    expect((await notification(n.id)).status).toBe('scheduled');
    expect(waha.state.messages('77011234567@c.us', sender.wahaSessionName)).toHaveLength(0);
    waha.state.setSessionStatus(sender.wahaSessionName, 'WORKING'); // session.status webhook wakes the workflow
    expect(['delivered', 'read']).toContain((await run).status);
    await expectRead(n.id);
    expect(waha.state.messages('77011234567@c.us', sender.wahaSessionName)).toHaveLength(1);
    const [row] = await ctx.db.select().from(senders).where(eq(senders.id, sender.id));
    expect(row!.sessionStatus).toBe('WORKING');
  });

  it('a 463 refusal fails with its reason and is not retried', async () => {
    const { store, sender } = await connectedStore();
    waha.state.injectFault({ type: 'refused_463' }, { op: 'sendText' });
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    const outcome = await runNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' });
    expect(outcome).toMatchObject({ status: 'failed', reasonCode: 'cold_outreach_refused' });
    expect((await notification(n.id)).reason).toMatch(/463/);
    expect(waha.state.messages('77011234567@c.us', sender.wahaSessionName)).toHaveLength(0);
  });

  it('a slow 500 after the message was in fact sent ends in exactly one message', async () => {
    const { store, sender } = await connectedStore();
    waha.state.injectFault({ type: 'slow_500_after_send', delayMs: 300 }, { op: 'sendText' });
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    await runNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' });
    await expectRead(n.id);
    expect(waha.state.messages('77011234567@c.us', sender.wahaSessionName)).toHaveLength(1);
    const attempts = await ctx.db.select().from(messageAttempts).where(eq(messageAttempts.notificationId, n.id));
    expect(attempts.map((a) => a.outcome)).toEqual(['sent']);
    // WAHA's 500 echoes the message and the number; the error we keep must carry neither.
    expect(attempts[0]!.error).toMatch(/HTTP 500/);
    expect(attempts[0]!.error).not.toContain('Заказ');
    expect(attempts[0]!.error).not.toContain('77011234567');
  });

  it('a crash after the send (attempt left "sending") looks the message up instead of sending again', async () => {
    const { store, sender } = await connectedStore();
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    // What a worker killed mid-send leaves: the message reached WhatsApp, our row says "sending".
    const client = new WahaClient({ baseUrl: waha.url, apiKey: API_KEY, session: sender.wahaSessionName });
    const reserved = await client.newMessageId();
    await client.sendText({ chatId: '77011234567@c.us', text: 'уже отправлено', id: reserved });
    await ctx.db.insert(messageAttempts).values({ notificationId: n.id, senderId: sender.id, attemptNo: 1, renderedText: 'уже отправлено', phone: '77011234567', chatId: '77011234567@c.us', wahaMessageId: reserved, outcome: 'sending' });
    await ctx.db.update(notifications).set({ status: 'sending' }).where(eq(notifications.id, n.id));
    const outcome = await runNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' });
    expect(['sent', 'delivered', 'read']).toContain(outcome.status);
    expect(waha.state.messages('77011234567@c.us', sender.wahaSessionName)).toHaveLength(1);
  });

  it('an empty 201 body counts as sent with its reserved id', async () => {
    const { store, sender } = await connectedStore();
    waha.state.injectFault({ type: 'empty_201' }, { op: 'sendText' });
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    await runNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' });
    await expectRead(n.id);
    expect(waha.state.messages('77011234567@c.us', sender.wahaSessionName)).toHaveLength(1);
  });

  it('missing acks: the message is looked up, and it ends undelivered when DEVICE never comes', async () => {
    const { store, sender } = await connectedStore();
    waha.state.injectFault({ type: 'missing_acks' }, { op: 'sendText' });
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    const outcome = await runNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' }, { serverAckWaitMs: 500, deviceAckWaitMs: 1_500, ambiguousLookupDelayMs: 200 });
    expect(outcome).toMatchObject({ status: 'undelivered', reasonCode: 'undelivered' });
    expect(waha.state.messages('77011234567@c.us', sender.wahaSessionName)).toHaveLength(1);
  });

  it('ack −1 fails the message', async () => {
    const { store } = await connectedStore();
    waha.state.injectFault({ type: 'ack_error' }, { op: 'sendText' });
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    const outcome = await runNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' });
    expect(outcome.status).toBe('failed');
    expect((await notification(n.id)).reasonCode).toBe('ack_error');
  });

  it('acks arriving before the 201 are kept and applied', async () => {
    const { store } = await connectedStore();
    waha.state.injectFault({ type: 'ack_before_response' }, { op: 'sendText' });
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    await runNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' });
    await expectRead(n.id);
  });

  it('duplicate webhooks change nothing twice', async () => {
    const { store, sender } = await connectedStore();
    waha.state.injectFault({ type: 'duplicate_webhooks' }, { op: 'sendText' });
    const order = sampleOrder();
    const n = await queueNotification(ctx, store.id, order, 'new');
    await runNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' });
    await expectRead(n.id);
    expect(waha.state.messages('77011234567@c.us', sender.wahaSessionName)).toHaveLength(1);
  });

  it('skips an opted-out buyer, a stale event and an expired one, with reasons', async () => {
    const { store, sender } = await connectedStore({}, { new: 'Заказ {order_num}', accepted: 'Принят {order_num}' });
    const optedOut = sampleOrder({ customer: { firstName: 'А', lastName: 'Б', name: null, cellPhone: '7029998877' } });
    await ctx.db.insert(optOuts).values({ storeId: store.id, phone: '77029998877', source: 'whatsapp' });
    const n1 = await queueNotification(ctx, store.id, optedOut, 'new');
    expect(await runNotification(store.id, { id: n1.id, orderCode: optedOut.code, event: 'new' })).toMatchObject({ status: 'skipped', reasonCode: 'opted_out' });

    const cancelled = sampleOrder({ state: 'CANCELLED', status: 'CANCELLED' });
    const n2 = await queueNotification(ctx, store.id, cancelled, 'accepted');
    expect(await runNotification(store.id, { id: n2.id, orderCode: cancelled.code, event: 'accepted' })).toMatchObject({ status: 'skipped', reasonCode: 'stale' });

    const old = sampleOrder();
    const n3 = await queueNotification(ctx, store.id, old, 'new', new Date(Date.now() - 7 * 3600_000));
    expect(await runNotification(store.id, { id: n3.id, orderCode: old.code, event: 'new' })).toMatchObject({ status: 'skipped', reasonCode: 'expired' });
    expect((await notification(n3.id)).reason).toMatch(/устарело/);
    expect(waha.state.allChats().filter((c) => c.session === sender.wahaSessionName)).toHaveLength(0);
  });

  it('paces real sends: messages of one sender are at least the minimum gap apart', async () => {
    const { store, sender } = await connectedStore({ minGapSeconds: 1, maxGapSeconds: 2 });
    const runs = [];
    for (let i = 0; i < 3; i++) {
      const order = sampleOrder({ customer: { firstName: 'Гүлнар', lastName: String(i), name: null, cellPhone: `70555000${i}0` } });
      const n = await queueNotification(ctx, store.id, order, 'new');
      runs.push(runNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' }));
    }
    await Promise.all(runs);
    const sent = waha.state.allChats().filter((c) => c.session === sender.wahaSessionName).flatMap((c) => c.messages);
    const attempts = (await ctx.db.select().from(messageAttempts).where(eq(messageAttempts.senderId, sender.id))).map((a) => a.startedAt.getTime()).sort((a, b) => a - b);
    expect(sent).toHaveLength(3);
    for (let i = 1; i < attempts.length; i++) expect(attempts[i]! - attempts[i - 1]!).toBeGreaterThanOrEqual(1000);
  });

  it('after a WhatsApp outage the backlog drains paced, each message once', async () => {
    const { store, sender } = await connectedStore({ minGapSeconds: 1, maxGapSeconds: 1 });
    waha.state.setSessionStatus(sender.wahaSessionName, 'STOPPED');
    const runs = [];
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const order = sampleOrder({ customer: { firstName: 'Бахыт', lastName: String(i), name: null, cellPhone: `70777000${i}0` } });
      const n = await queueNotification(ctx, store.id, order, 'new');
      ids.push(n.id);
      runs.push(runNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' }));
    }
    await eventually(async () => (await Promise.all(ids.map(notification))).every((r) => r.reasonCode === 'session_not_working'));
    waha.state.setSessionStatus(sender.wahaSessionName, 'WORKING');
    await Promise.all(runs);
    const sent = waha.state.allChats().filter((c) => c.session === sender.wahaSessionName).flatMap((c) => c.messages);
    expect(sent).toHaveLength(4);
    const starts = (await ctx.db.select().from(messageAttempts).where(eq(messageAttempts.senderId, sender.id)))
      .filter((a) => a.outcome === 'sent')
      .map((a) => a.startedAt.getTime())
      .sort((a, b) => a - b);
    expect(starts).toHaveLength(4);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(1000);
  });

  it('keeps personal data out of Temporal: inputs, results and search attributes hold ids only', async () => {
    const { store } = await connectedStore();
    const order = sampleOrder({ customer: { firstName: 'Жансая', lastName: 'Уникальная', name: null, cellPhone: '7071112233' } });
    const n = await queueNotification(ctx, store.id, order, 'new');
    await runNotification(store.id, { id: n.id, orderCode: order.code, event: 'new' });
    const history = await ctx.temporal.workflow.getHandle(notifyWorkflowId(store.id, order.code, 'new')).fetchHistory();
    const text = JSON.stringify(history, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : typeof v === 'bigint' ? String(v) : v));
    expect(text).toContain(order.code);
    for (const personal of ['7071112233', '77071112233', 'Жансая', 'Уникальная', 'Здравствуйте']) expect(text).not.toContain(personal);
  });
});
