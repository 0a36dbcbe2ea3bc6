import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeb, type RunningWeb } from '../../api/server.ts';
import { messageAttempts, notifications, optOuts, senders, unmappedOptOuts, type NotifyEvent } from '../../drizzle/schema.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';
import { detectStalledReceipts, sweepMissingAcks } from '../../lib/notifications/receipts.ts';
import { evaluateAlerts, openAlerts } from '../../lib/alerts/alerts.ts';
import type { RunningWorker } from '../../lib/temporal/worker.ts';
import { startWahaSimulator, type WahaSimulator } from '../../simulators/waha/server.ts';
import type { NotificationInput } from '../../workflows/notification.ts';
import { createTestContext, startTestWorker, type TestContext } from '../support/context.ts';
import { eventually } from '../support/eventually.ts';
import { queueNotification, sampleOrder } from '../support/fixtures.ts';
import { connectWhatsAppStore, ENGINE_PROFILES, runNotification, SIM_SECOND_MS, type EngineProfile } from '../support/whatsapp.ts';

/**
 * The send, look-up, opt-out and ack paths once per engine profile, on the real Temporal and
 * PostgreSQL, against a WAHA simulator that behaves like that engine (docs/contracts/waha.md):
 * every buyer gets exactly one message; where the engine cannot tell whether a message went out,
 * the row says `outcome_unknown` and nothing is resent.
 */
let ctx: TestContext;
let worker: RunningWorker;
let web: RunningWeb;
let webPort: number;
const API_KEY = 'engines-key';
const SECRET = 'engines-hook-secret';
const FAST: NonNullable<NotificationInput['timing']> = { serverAckWaitMs: 1_500, deviceAckWaitMs: 3_000, ambiguousLookupDelayMs: 300 };
const TEXT = 'Заказ №{order_num} принят. Спасибо!';
const OPT_OUT_WORDS = ['стоп', 'тоқтату', 'stop', 'СТОП!'];

beforeAll(async () => {
  ctx = await createTestContext();
  worker = await startTestWorker(ctx);
  webPort = await findFreePort();
  web = await startWeb(ctx, webPort, '127.0.0.1');
});
afterAll(async () => {
  await web?.close();
  await worker?.shutdown();
  await ctx?.close();
});

let buyerSeq = 0;
/** A buyer number of their own per test, so chats never mix. */
function buyer() {
  buyerSeq += 1;
  const local = `701${String(Date.now()).slice(-4)}${String(buyerSeq).padStart(3, '0')}`;
  return { local, digits: `7${local}`, chatId: `7${local}@c.us` };
}

async function status(id: string) {
  const [row] = await ctx.db.select().from(notifications).where(eq(notifications.id, id));
  return row!;
}
/** WAHA tried to deliver an ack (of this level) to this store's webhook and could not. */
function failedAckDelivery(waha: WahaSimulator, storeId: string, ack?: number): boolean {
  return waha.state.webhooks.some((d) => d.event === 'message.ack' && d.url.includes(storeId) && d.error !== null
    && (ack === undefined || JSON.stringify(d.envelope.payload ?? {}).includes(`"ack":${ack}`)));
}

async function attemptsOf(id: string) {
  return ctx.db.select().from(messageAttempts).where(eq(messageAttempts.notificationId, id)).orderBy(messageAttempts.attemptNo);
}

describe.each(ENGINE_PROFILES.map((p, i) => [p.name, p, i] as const))('%s', (_name, profile: EngineProfile, index) => {
  let waha: WahaSimulator;
  beforeAll(async () => {
    waha = await startWahaSimulator({ engine: profile.engine, apiKey: API_KEY, ackDelaysMs: [30, 60, 90], secondMs: SIM_SECOND_MS, sessions: [] });
  });
  afterAll(async () => waha?.close());

  const connect = (options: { retries?: { policy: 'constant'; delaySeconds: number; attempts: number } } = {}) =>
    connectWhatsAppStore(ctx, { waha, webUrl: web.url, apiKey: API_KEY, webhookSecret: SECRET, templates: { new: TEXT, accepted: TEXT }, nowebStore: profile.nowebStore, ...options });

  async function notify(storeId: string, phone: string, event: NotifyEvent = 'new', timing = FAST) {
    const order = sampleOrder({ customer: { firstName: 'Айгерим', lastName: 'Серикова', name: null, cellPhone: phone } });
    const n = await queueNotification(ctx, storeId, order, event);
    return { n, order, run: runNotification(ctx, storeId, { id: n.id, orderCode: order.code, event }, timing) };
  }

  const blind = profile.engine === 'NOWEB' && !profile.nowebStore;

  it('an ambiguous 500 after WAHA really sent: one message, never resent', async () => {
    const { store, sender } = await connect();
    const b = buyer();
    waha.state.injectFault({ type: 'slow_500_after_send', delayMs: 300 }, { op: 'sendText' });
    const { n, run } = await notify(store.id, b.local);
    const outcome = await run;
    expect(['sent', 'delivered', 'read'], JSON.stringify(outcome)).toContain(outcome.status);
    await eventually(async () => (await status(n.id)).status === 'read');
    expect(waha.state.messages(b.chatId, sender.wahaSessionName)).toHaveLength(1);
    const attempts = await attemptsOf(n.id);
    expect(attempts.map((a) => a.outcome)).toEqual(['sent']);
    // Without a store the only evidence is the message.any echo; the others may also have it.
    if (blind) expect(attempts[0]!.confirmedBy).toBe('echo');
    else expect(['echo', 'lookup']).toContain(attempts[0]!.confirmedBy);
  });

  it(blind ? 'a 500 before sending: outcome unknown, nothing resent' : 'a 500 before sending: proven absent, sent once', async () => {
    const { store, sender } = await connect();
    const b = buyer();
    waha.state.injectFault({ type: 'server_error' }, { op: 'sendText' });
    const { n, run } = await notify(store.id, b.local);
    const outcome = await run;
    const messages = waha.state.messages(b.chatId, sender.wahaSessionName);
    if (blind) {
      expect(outcome).toEqual({ status: 'failed', reasonCode: 'outcome_unknown' });
      expect(messages).toHaveLength(0);
      expect((await attemptsOf(n.id)).map((a) => a.outcome)).toEqual(['unknown']);
    } else {
      expect(['delivered', 'read']).toContain(outcome.status);
      expect(messages).toHaveLength(1);
      expect((await attemptsOf(n.id)).map((a) => a.outcome)).toEqual(['not_sent', 'sent']);
    }
  });

  it('no SERVER ack at all: looked up where the engine can, never resent, undelivered at the deadline', async () => {
    const { store, sender } = await connect();
    const b = buyer();
    waha.state.injectFault({ type: 'missing_acks', upTo: 0 }, { op: 'sendText' });
    const { n, run } = await notify(store.id, b.local);
    expect(await run).toEqual({ status: 'undelivered', reasonCode: 'undelivered' });
    expect(waha.state.messages(b.chatId, sender.wahaSessionName)).toHaveLength(1);
    expect((await attemptsOf(n.id)).map((a) => a.outcome)).toEqual(['sent']);
  });

  it(`a buyer behind a LID who writes «${OPT_OUT_WORDS[index % OPT_OUT_WORDS.length]}» gets no further message, even when lids/{lid} answers pn: null`, async () => {
    const { store, sender } = await connect();
    const b = buyer();
    const lid = waha.state.setLid(b.digits, { pnByLid: false });
    const first = await notify(store.id, b.local);
    const firstOutcome = await first.run;
    expect(['delivered', 'read'], JSON.stringify(firstOutcome)).toContain(firstOutcome.status);

    waha.state.receiveMessage(b.digits, OPT_OUT_WORDS[index % OPT_OUT_WORDS.length]!, { session: sender.wahaSessionName, viaLid: true });
    const optOutOf = () => ctx.db.select().from(optOuts).where(and(eq(optOuts.storeId, store.id), eq(optOuts.phone, b.digits)));
    await eventually(async () => (await optOutOf()).length === 1);
    const [optOut] = await optOutOf();
    expect(optOut!.lid).toBe(lid);
    // NOWEB without a store cannot map LIDs through WAHA; its payload carries the number beside them.
    expect(optOut!.matchedBy).toBe(blind ? 'remote_jid_alt' : 'lid_table');

    const second = await notify(store.id, b.local, 'accepted');
    expect(await second.run).toEqual({ status: 'skipped', reasonCode: 'opted_out' });
    expect(waha.state.messages(b.chatId, sender.wahaSessionName).filter((m) => m.fromMe)).toHaveLength(1);
  });

  it('acks lost while our web server was down for two WAHA minutes still end the message read', async () => {
    const { store, sender } = await connect();
    const b = buyer();
    await web.close();
    // A long SERVER wait: the read must come from WAHA's webhook retries, not from a look-up.
    const { n, run } = await notify(store.id, b.local, 'new', { ...FAST, serverAckWaitMs: 60_000, deviceAckWaitMs: 60_000 });
    await eventually(() => waha.state.messages(b.chatId, sender.wahaSessionName)[0]?.ack === 3);
    await eventually(() => failedAckDelivery(waha, store.id));
    await new Promise((r) => setTimeout(r, 120 * SIM_SECOND_MS));
    web = await startWeb(ctx, webPort, '127.0.0.1');
    expect(['delivered', 'read']).toContain((await run).status);
    await eventually(async () => (await status(n.id)).status === 'read');
    const redelivered = waha.state.webhooks.filter((d) => d.event === 'message.ack' && d.status === 200 && d.attempt > 1);
    expect(redelivered.length).toBeGreaterThan(0);
  });

  it(blind ? 'acks lost past every retry: the sweep cannot ask a store-less session' : 'acks lost past every retry: the sweep asks WAHA and the message ends read', async () => {
    const { store, sender } = await connect({ retries: { policy: 'constant', delaySeconds: 0, attempts: 0 } });
    const b = buyer();
    await web.close();
    const { n, run } = await notify(store.id, b.local, 'new', { ...FAST, serverAckWaitMs: 60_000, deviceAckWaitMs: 60_000 });
    await eventually(() => waha.state.messages(b.chatId, sender.wahaSessionName)[0]?.ack === 3);
    await eventually(async () => (await attemptsOf(n.id))[0]?.outcome === 'sent');
    await eventually(() => failedAckDelivery(waha, store.id, 3));
    web = await startWeb(ctx, webPort, '127.0.0.1');
    expect((await status(n.id)).status).toBe('sent');

    const swept = await sweepMissingAcks(ctx, { silentForMs: 0 });
    if (blind) {
      expect(swept.blind).toBeGreaterThan(0);
      expect((await status(n.id)).status).toBe('sent');
      // The waiting workflow is ended by hand; its result is caught before, so the rejection is handled.
      const ended = run.then(() => null, (err: unknown) => err);
      await ctx.temporal.workflow.getHandle((await status(n.id)).workflowId!).terminate('test over');
      expect(await ended).toBeInstanceOf(Error);
    } else {
      expect(swept.updated).toBeGreaterThan(0);
      expect((await status(n.id)).status).toBe('read');
      // The waiting workflow heard of it and finished.
      expect((await run).status).toBe('read');
    }
    expect(waha.state.messages(b.chatId, sender.wahaSessionName)).toHaveLength(1);
  });
});

describe('unmapped LID opt-out (WEBJS)', () => {
  it('a «стоп» from a LID nobody can map is kept, then opts the buyer out at the first send', async () => {
    const waha = await startWahaSimulator({ engine: 'WEBJS', apiKey: API_KEY, ackDelaysMs: [30, 60, 90], secondMs: SIM_SECOND_MS, sessions: [] });
    try {
      const { store, sender } = await connectWhatsAppStore(ctx, { waha, webUrl: web.url, apiKey: API_KEY, webhookSecret: SECRET, templates: { new: TEXT } });
      const b = buyer();
      const lid = waha.state.setLid(b.digits, { pnByLid: false });
      waha.state.receiveMessage(b.digits, 'Стоп', { session: sender.wahaSessionName, viaLid: true });
      await eventually(async () => (await ctx.db.select().from(unmappedOptOuts).where(eq(unmappedOptOuts.storeId, store.id))).length === 1);

      const order = sampleOrder({ customer: { firstName: 'Айгерим', lastName: 'Серикова', name: null, cellPhone: b.local } });
      const n = await queueNotification(ctx, store.id, order, 'new');
      expect(await runNotification(ctx, store.id, { id: n.id, orderCode: order.code, event: 'new' }, FAST)).toEqual({ status: 'skipped', reasonCode: 'opted_out' });
      expect(waha.state.messages(b.chatId, sender.wahaSessionName).filter((m) => m.fromMe)).toHaveLength(0);
      const [optOut] = await ctx.db.select().from(optOuts).where(and(eq(optOuts.storeId, store.id), eq(optOuts.phone, b.digits)));
      expect(optOut).toMatchObject({ matchedBy: 'lid_later', lid });
      const [unmapped] = await ctx.db.select().from(unmappedOptOuts).where(eq(unmappedOptOuts.storeId, store.id));
      expect(unmapped).toMatchObject({ matchedPhone: b.digits });
    } finally {
      await waha.close();
    }
  });
});

describe('receipts that stop (NOWEB with store)', () => {
  it('a number whose sends get no SERVER ack is held and alerted once; nothing is lost when acks return', async () => {
    const waha = await startWahaSimulator({ engine: 'NOWEB', apiKey: API_KEY, ackDelaysMs: [30, 60, 90], secondMs: SIM_SECOND_MS, sessions: [] });
    try {
      const { store, sender } = await connectWhatsAppStore(ctx, { waha, webUrl: web.url, apiKey: API_KEY, webhookSecret: SECRET, templates: { new: TEXT } });
      await ctx.db.update(senders).set({ sessionStatus: 'WORKING', sessionStatusAt: new Date() }).where(eq(senders.id, sender.id));
      waha.state.stallAcks(sender.wahaSessionName, true);
      const slow = { ...FAST, serverAckWaitMs: 60_000, deviceAckWaitMs: 120_000 };
      const sent = [];
      for (let i = 0; i < 3; i++) {
        const b = buyer();
        const order = sampleOrder({ customer: { firstName: 'Айгерим', lastName: 'Серикова', name: null, cellPhone: b.local } });
        const n = await queueNotification(ctx, store.id, order, 'new');
        const run = runNotification(ctx, store.id, { id: n.id, orderCode: order.code, event: 'new' }, slow);
        await eventually(async () => (await attemptsOf(n.id))[0]?.outcome === 'sent');
        sent.push({ b, n, run });
      }
      expect(await detectStalledReceipts(ctx, { sends: 3, graceMs: 0, senderIds: [sender.id] })).toEqual([sender.id]);

      // The next message waits in the queue instead of going out into the void.
      const next = buyer();
      const order = sampleOrder({ customer: { firstName: 'Айгерим', lastName: 'Серикова', name: null, cellPhone: next.local } });
      const held = await queueNotification(ctx, store.id, order, 'new');
      const heldRun = runNotification(ctx, store.id, { id: held.id, orderCode: order.code, event: 'new' }, slow);
      await eventually(async () => (await status(held.id)).reasonCode === 'acks_stalled');
      expect(waha.state.messages(next.chatId, sender.wahaSessionName)).toHaveLength(0);

      // One alert per incident, however often it is evaluated.
      await evaluateAlerts(ctx, { storeId: store.id, deps: { fetch: async () => new Response('{}') } });
      await evaluateAlerts(ctx, { storeId: store.id, deps: { fetch: async () => new Response('{}') } });
      const open = await openAlerts(ctx, store.id);
      expect(open.filter((a) => a.kind === 'whatsapp_acks_stalled')).toHaveLength(1);

      // WhatsApp recovers: the held acks arrive, the number is released, the queue drains.
      waha.state.stallAcks(sender.wahaSessionName, false);
      await eventually(async () => (await ctx.db.select().from(senders).where(eq(senders.id, sender.id)))[0]?.acksStalledSince === null);
      expect(['delivered', 'read']).toContain((await heldRun).status);
      for (const { n, run } of sent) {
        expect(['delivered', 'read']).toContain((await run).status);
        await eventually(async () => (await status(n.id)).status === 'read');
      }
      for (const b of [...sent.map((x) => x.b), next]) expect(waha.state.messages(b.chatId, sender.wahaSessionName).filter((m) => m.fromMe)).toHaveLength(1);
      await evaluateAlerts(ctx, { storeId: store.id, deps: { fetch: async () => new Response('{}') } });
      expect((await openAlerts(ctx, store.id)).filter((a) => a.kind === 'whatsapp_acks_stalled')).toHaveLength(0);

      // A restart released it, but nothing was sent since: the old unacknowledged sends do not hold it again.
      await ctx.db.update(messageAttempts).set({ lastAck: null }).where(eq(messageAttempts.senderId, sender.id));
      expect(await detectStalledReceipts(ctx, { sends: 3, graceMs: 0, senderIds: [sender.id] })).toEqual([]);
    } finally {
      await waha.close();
    }
  });
});
