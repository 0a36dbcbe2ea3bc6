import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.ts';
import { messageAttempts, messageEvents, notifications, optOuts, senders } from '../../drizzle/schema.ts';
import { applyPendingAcks } from '../../lib/notifications/acks.ts';
import { signWebhook } from '../../lib/waha/webhooks.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { createSender, createStore, queueNotification, sampleOrder } from '../support/fixtures.ts';

/** The webhook handler through app.request(): signature, dedupe, monotonic acks, opt-out, sessions. */
let ctx: TestContext;
let app: ReturnType<typeof createApp>;
const SECRET = 'whsec-test';

beforeAll(async () => {
  ctx = await createTestContext();
  app = createApp(ctx);
});
afterAll(async () => ctx?.close());

let seq = 0;
function envelope(event: string, payload: Record<string, unknown>, id = `evt_${Date.now()}_${++seq}`, timestamp = Date.now()) {
  return JSON.stringify({ id, timestamp, event, session: 'default', payload, engine: 'NOWEB', environment: { version: 'sim' } });
}
function post(storeId: string, body: string, headers: Record<string, string> = { 'x-webhook-hmac': signWebhook(body, SECRET), 'x-webhook-hmac-algorithm': 'sha512', 'x-webhook-timestamp': String(Date.now()) }) {
  return app.request(`/webhooks/waha/${storeId}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
}

/** A sent message as the workflow leaves it: status sent, attempt with its WhatsApp key id. */
async function sentMessage() {
  const sender = await createSender(ctx, { wahaServerUrl: 'http://127.0.0.1:9', webhookSecret: SECRET });
  const store = await createStore(ctx, { senderId: sender.id });
  const n = await queueNotification(ctx, store.id, sampleOrder(), 'new');
  const keyId = `KEY${Date.now()}${++seq}`;
  const messageId = `true_77011234567@c.us_${keyId}`;
  await ctx.db.insert(messageAttempts).values({ notificationId: n.id, senderId: sender.id, attemptNo: 1, chatId: '77011234567@c.us', wahaMessageId: messageId, wahaKeyId: keyId, outcome: 'sent' });
  await ctx.db.update(notifications).set({ status: 'sent' }).where(eq(notifications.id, n.id));
  const ack = (value: number, id?: string, timestamp?: number) => envelope('message.ack', { id: messageId, from: '77011234567@c.us', to: '77011234567@c.us', fromMe: true, ack: value, ackName: String(value) }, id, timestamp);
  const status = async () => (await ctx.db.select().from(notifications).where(eq(notifications.id, n.id)))[0]!.status;
  return { store, sender, n, messageId, keyId, ack, status };
}

describe('WAHA webhook', () => {
  it('acks and echoes of one message arriving together never deadlock (every delivery 200)', async () => {
    for (let round = 0; round < 8; round++) {
      const m = await sentMessage();
      const echo = envelope('message.any', { id: m.messageId, from: '77000000001@c.us', to: '77011234567@c.us', fromMe: true, source: 'api', body: 'x', timestamp: Math.floor(Date.now() / 1000) });
      const bodies = [m.ack(1), m.ack(2), m.ack(3), m.ack(3), m.ack(2), echo];
      const statuses = await Promise.all(bodies.map(async (b) => (await post(m.store.id, b)).status));
      expect(statuses).toEqual(bodies.map(() => 200));
      expect(await m.status()).toBe('read');
    }
  });

  it('refuses forged and unsigned deliveries and changes nothing', async () => {
    const m = await sentMessage();
    const body = m.ack(3);
    expect((await post(m.store.id, body, {})).status).toBe(401);
    expect((await post(m.store.id, body, { 'x-webhook-hmac': signWebhook(body, 'wrong-key') })).status).toBe(401);
    const tampered = body.replace('"ack":3', '"ack":2');
    expect((await post(m.store.id, tampered, { 'x-webhook-hmac': signWebhook(body, SECRET) })).status).toBe(401);
    expect(await m.status()).toBe('sent');
  });

  it('answers an unknown store exactly as a bad signature, so store ids cannot be probed', async () => {
    const m = await sentMessage();
    const body = m.ack(3);
    const bad = await post(m.store.id, body, { 'x-webhook-hmac': signWebhook(body, 'wrong-key') });
    const badBody = await bad.json();
    for (const id of ['not-a-uuid', '00000000-0000-4000-8000-000000000000']) {
      const res = await post(id, body);
      expect(res.status).toBe(bad.status);
      expect(await res.json()).toEqual(badBody);
    }
    // A store without WhatsApp (no webhook secret) answers the same way.
    const bare = await createStore(ctx, {});
    const res = await post(bare.id, body);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual(badBody);
  });

  it('a replayed delivery (same envelope id) is applied once; an old one is refused', async () => {
    const m = await sentMessage();
    const body = m.ack(2, 'evt_replay_1');
    expect((await post(m.store.id, body)).status).toBe(200);
    expect(await m.status()).toBe('delivered');
    const again = await post(m.store.id, body);
    expect(await again.json()).toMatchObject({ ok: true, duplicate: true });
    const events = await ctx.db.select().from(messageEvents).where(eq(messageEvents.envelopeId, 'evt_replay_1'));
    expect(events).toHaveLength(1);
    // Freshness is the signed envelope's timestamp: a fresh header on an old envelope does not help…
    const stale = m.ack(3, undefined, Date.now() - 3 * 86_400_000);
    const res = await post(m.store.id, stale, { 'x-webhook-hmac': signWebhook(stale, SECRET), 'x-webhook-timestamp': String(Date.now()) });
    expect(res.status).toBe(400);
    expect(await m.status()).toBe('delivered');
    // …and an old unsigned header on a fresh envelope does not hurt.
    const fresh = m.ack(3);
    const ok = await post(m.store.id, fresh, { 'x-webhook-hmac': signWebhook(fresh, SECRET), 'x-webhook-timestamp': String(Date.now() - 3 * 86_400_000) });
    expect(ok.status).toBe(200);
    expect(await m.status()).toBe('read');
  });

  it('READ before DELIVERED ends read; an ERROR after READ changes nothing', async () => {
    const m = await sentMessage();
    await post(m.store.id, m.ack(3));
    expect(await m.status()).toBe('read');
    await post(m.store.id, m.ack(2));
    expect(await m.status()).toBe('read');
    await post(m.store.id, m.ack(-1));
    expect(await m.status()).toBe('read');
    const [a] = await ctx.db.select().from(messageAttempts).where(eq(messageAttempts.notificationId, m.n.id));
    expect(a!.lastAck).toBe(3);
  });

  it('an ERROR ack fails a sent message', async () => {
    const m = await sentMessage();
    await post(m.store.id, m.ack(-1));
    expect(await m.status()).toBe('failed');
  });

  it('keeps an ack whose message id is not stored yet, and applies it when it is', async () => {
    const m = await sentMessage();
    await ctx.db.update(messageAttempts).set({ wahaKeyId: null }).where(eq(messageAttempts.notificationId, m.n.id));
    const res = await post(m.store.id, m.ack(2));
    expect(await res.json()).toMatchObject({ pending: true });
    expect(await m.status()).toBe('sent');
    await ctx.db.update(messageAttempts).set({ wahaKeyId: m.keyId }).where(eq(messageAttempts.notificationId, m.n.id));
    expect((await applyPendingAcks(ctx, m.keyId)).applied).toBe(1);
    expect(await m.status()).toBe('delivered');
  });

  it('a buyer writing STOP is opted out; other messages are not', async () => {
    const m = await sentMessage();
    const incoming = (body: string, from: string) => envelope('message', { id: `false_${from}_X${++seq}`, from, fromMe: false, body, timestamp: Math.floor(Date.now() / 1000) });
    await post(m.store.id, incoming('Спасибо!', '77015550001@c.us'));
    await post(m.store.id, incoming('  СТОП ', '77015550002@c.us'));
    await post(m.store.id, incoming('stop.', '77015550003@c.us'));
    const rows = await ctx.db.select().from(optOuts).where(eq(optOuts.storeId, m.store.id));
    expect(rows.map((r) => r.phone).sort()).toEqual(['77015550002', '77015550003']);
  });

  it('session.status updates the sender; a malformed payload is a 400', async () => {
    const m = await sentMessage();
    await post(m.store.id, envelope('session.status', { name: 'default', status: 'SCAN_QR_CODE' }));
    const [s] = await ctx.db.select().from(senders).where(eq(senders.id, m.sender.id));
    expect(s!.sessionStatus).toBe('SCAN_QR_CODE');
    expect(s!.sessionStatusAt).not.toBeNull();
    expect((await post(m.store.id, '{"not":"an envelope"}')).status).toBe(400);
    expect((await post(m.store.id, 'not json')).status).toBe(400);
  });
});

describe('request size', () => {
  it('refuses a webhook body over 256 KB before reading it all', async () => {
    const m = await sentMessage();
    const huge = m.ack(3).replace('"ack":3', `"ack":3,"pad":"${'x'.repeat(300 * 1024)}"`);
    const res = await post(m.store.id, huge);
    expect(res.status).toBe(413);
    expect(await m.status()).toBe('sent');
  });
});
