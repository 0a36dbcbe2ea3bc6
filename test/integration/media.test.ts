import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeb, type RunningWeb } from '../../api/server.ts';
import { createNotificationActivities } from '../../activities/notification.ts';
import { messageAttempts, notifications, senders, templateAttachments, type NotifyEvent } from '../../drizzle/schema.ts';
import { WahaClient } from '../../lib/waha/client.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';
import type { RunningWorker } from '../../lib/temporal/worker.ts';
import { getMessageDetail } from '../../lib/services/message-detail.ts';
import { listMessages } from '../../lib/services/messages.ts';
import { startWahaSimulator, type SimBuild, type SimEngine, type WahaSimulator } from '../../simulators/waha/server.ts';
import type { NotificationInput } from '../../workflows/notification.ts';
import { createTestContext, startTestWorker, type TestContext } from '../support/context.ts';
import { eventually } from '../support/eventually.ts';
import { createTemplate, queueNotification, sampleOrder } from '../support/fixtures.ts';
import { attachToTemplate, makePdf, makePng } from '../support/media.ts';
import { connectWhatsAppStore, ENGINE_PROFILES, runNotification, SIM_SECOND_MS, type EngineProfile } from '../support/whatsapp.ts';

/**
 * A template's picture or PDF through the real notification workflow, once per engine profile
 * (docs/contracts/waha.md "Media"): it arrives as an image or a document with the rendered text as
 * its caption, at most once whatever WAHA answers, and a WAHA that cannot send files gets the text
 * with the reason recorded — never silence.
 */
let ctx: TestContext;
let worker: RunningWorker;
let web: RunningWeb;
const API_KEY = 'media-key';
const SECRET = 'media-hook-secret';
const FAST: NonNullable<NotificationInput['timing']> = { serverAckWaitMs: 1_500, deviceAckWaitMs: 3_000, ambiguousLookupDelayMs: 300 };
const TEXT = 'Спасибо за заказ №{order_num}! Гарантийный талон — во вложении.';
const actor = { kind: 'user' as const, userId: '00000000-0000-0000-0000-000000000000', isSuperAdmin: true };

beforeAll(async () => {
  ctx = await createTestContext();
  worker = await startTestWorker(ctx);
  web = await startWeb(ctx, await findFreePort(), '127.0.0.1');
});
afterAll(async () => {
  await web?.close();
  await worker?.shutdown();
  await ctx?.close();
});

let buyerSeq = 0;
function buyer() {
  buyerSeq += 1;
  const local = `702${String(Date.now()).slice(-4)}${String(buyerSeq).padStart(3, '0')}`;
  return { local, digits: `7${local}`, chatId: `7${local}@c.us` };
}

async function attemptsOf(id: string) {
  return ctx.db.select().from(messageAttempts).where(eq(messageAttempts.notificationId, id)).orderBy(messageAttempts.attemptNo);
}

/** A store on this simulator whose `new` template carries `file`. */
async function storeWithFile(waha: WahaSimulator, file: { bytes: Buffer; name: string }, nowebStore = true) {
  const { store, sender } = await connectWhatsAppStore(ctx, { waha, webUrl: web.url, apiKey: API_KEY, webhookSecret: SECRET, nowebStore });
  const template = await createTemplate(ctx, store.id, 'new', TEXT);
  const attachment = await attachToTemplate(ctx.db, template.id, file.bytes, file.name);
  return { store, sender, template, attachment };
}

async function notify(storeId: string, phone: string, event: NotifyEvent = 'new') {
  const order = sampleOrder({ customer: { firstName: 'Айгерим', lastName: 'Серикова', name: null, cellPhone: phone } });
  const n = await queueNotification(ctx, storeId, order, event);
  return { n, order, run: runNotification(ctx, storeId, { id: n.id, orderCode: order.code, event }, FAST) };
}

const caption = (orderCode: string) => `Спасибо за заказ №${orderCode}! Гарантийный талон — во вложении.`;

describe.each(ENGINE_PROFILES.map((p) => [p.name, p] as const))('%s', (_name, profile: EngineProfile) => {
  let waha: WahaSimulator;
  beforeAll(async () => {
    waha = await startWahaSimulator({ engine: profile.engine, apiKey: API_KEY, ackDelaysMs: [30, 60, 90], secondMs: SIM_SECOND_MS, sessions: [] });
  });
  afterAll(async () => waha?.close());
  const blind = profile.engine === 'NOWEB' && !profile.nowebStore;

  it('a picture arrives as an image with the rendered text as its caption; the log names the file', async () => {
    const png = makePng(120, 80);
    const { store, sender, attachment } = await storeWithFile(waha, { bytes: png, name: 'card.png' }, profile.nowebStore);
    const b = buyer();
    const { n, order, run } = await notify(store.id, b.local);
    const outcome = await run;
    expect(['delivered', 'read'], JSON.stringify(outcome)).toContain(outcome.status);
    const messages = waha.state.messages(b.chatId, sender.wahaSessionName);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ body: caption(order.code), media: { kind: 'image', mimetype: 'image/png', filename: 'card.png', size: png.length } });
    expect(waha.state.mediaBytes(sender.wahaSessionName, messages[0]!.id)?.equals(png)).toBe(true);
    // sendImage, never sendText, and never with an id the spec does not document.
    const sends = waha.state.requests.filter((r) => r.path.startsWith('/api/send') && JSON.stringify(r.body).includes(b.digits));
    expect(sends.map((r) => r.path)).toEqual(['/api/sendImage']);
    expect(sends[0]!.body).not.toHaveProperty('id');
    const [attempt] = await attemptsOf(n.id);
    expect(attempt).toMatchObject({ outcome: 'sent', attachmentId: attachment.id, attachmentKind: 'image', attachmentFilename: 'card.png', attachmentSize: png.length, attachmentSha256: attachment.sha256, attachmentFallback: null, reservedId: null, wahaMessageId: messages[0]!.id });
    const detail = await getMessageDetail(ctx, actor, store.id, n.id);
    expect(detail.attempts[0]).toMatchObject({ attachment: { kind: 'image', filename: 'card.png', size_bytes: png.length, fallback: null } });
    const { messages: log } = await listMessages(ctx, actor, store.id, {});
    expect(log.find((m) => m.id === n.id)).toMatchObject({ attachment_kind: 'image', attachment_filename: 'card.png', attachment_fallback: null });
  });

  it('a PDF arrives as a document with its name and the caption', async () => {
    const pdf = makePdf('Pickup instructions');
    const { store, sender } = await storeWithFile(waha, { bytes: pdf, name: 'Инструкция.pdf' }, profile.nowebStore);
    const b = buyer();
    const { n, order, run } = await notify(store.id, b.local);
    expect(['delivered', 'read']).toContain((await run).status);
    const [m] = waha.state.messages(b.chatId, sender.wahaSessionName);
    expect(m).toMatchObject({ body: caption(order.code), media: { kind: 'document', mimetype: 'application/pdf', filename: 'Инструкция.pdf' } });
    expect(waha.state.mediaBytes(sender.wahaSessionName, m!.id)?.equals(pdf)).toBe(true);
    expect((await attemptsOf(n.id))[0]).toMatchObject({ attachmentKind: 'document', attachmentFilename: 'Инструкция.pdf' });
  });

  it('an ambiguous 500 after WAHA sent the file: one message, never resent', async () => {
    const { store, sender } = await storeWithFile(waha, { bytes: makePng(40, 40), name: 'card.png' }, profile.nowebStore);
    const b = buyer();
    waha.state.injectFault({ type: 'slow_500_after_send', delayMs: 300 }, { op: 'sendImage' });
    const { n, run } = await notify(store.id, b.local);
    const outcome = await run;
    expect(['sent', 'delivered', 'read'], JSON.stringify(outcome)).toContain(outcome.status);
    await eventually(async () => ['delivered', 'read'].includes((await ctx.db.select({ s: notifications.status }).from(notifications).where(eq(notifications.id, n.id)))[0]!.s));
    expect(waha.state.messages(b.chatId, sender.wahaSessionName)).toHaveLength(1);
    const attempts = await attemptsOf(n.id);
    expect(attempts.map((a) => a.outcome)).toEqual(['sent']);
    // Matched by the caption: the echo, or (with a store) the chat's own messages.
    if (blind) expect(attempts[0]!.confirmedBy).toBe('echo');
    else expect(['echo', 'lookup']).toContain(attempts[0]!.confirmedBy);
  });

  it(blind ? 'a 500 before the file went out: outcome unknown, nothing resent' : 'a 500 before the file went out: proven absent by its caption, sent once', async () => {
    const { store, sender } = await storeWithFile(waha, { bytes: makePng(40, 40), name: 'card.png' }, profile.nowebStore);
    const b = buyer();
    waha.state.injectFault({ type: 'server_error' }, { op: 'sendImage' });
    const { n, run } = await notify(store.id, b.local);
    const outcome = await run;
    const messages = waha.state.messages(b.chatId, sender.wahaSessionName);
    if (blind) {
      expect(outcome).toEqual({ status: 'failed', reasonCode: 'outcome_unknown' });
      expect(messages).toHaveLength(0);
    } else {
      expect(['delivered', 'read']).toContain(outcome.status);
      expect(messages).toHaveLength(1);
      expect(messages[0]!.media?.kind).toBe('image');
      expect((await attemptsOf(n.id)).map((a) => a.outcome)).toEqual(['not_sent', 'sent']);
    }
  });
});

describe('a WAHA that cannot send files: the text goes alone, with the reason on the attempt', () => {
  const engines: SimEngine[] = ['WEBJS', 'NOWEB', 'GOWS'];
  for (const engine of engines) {
    it(`${engine}, WAHA Core before 2026.6 (422 "available only in Plus")`, async () => {
      const build: SimBuild = 'core-before-2026.6';
      const waha = await startWahaSimulator({ engine, apiKey: API_KEY, ackDelaysMs: [30, 60, 90], secondMs: SIM_SECOND_MS, sessions: [], build });
      try {
        const { store, sender } = await storeWithFile(waha, { bytes: makePdf(), name: 'warranty.pdf' });
        const b = buyer();
        const { n, order, run } = await notify(store.id, b.local);
        expect(['delivered', 'read']).toContain((await run).status);
        const messages = waha.state.messages(b.chatId, sender.wahaSessionName);
        expect(messages).toHaveLength(1);
        expect(messages[0]).toMatchObject({ body: caption(order.code), media: null });
        const sends = waha.state.requests.filter((r) => r.path.startsWith('/api/send') && JSON.stringify(r.body).includes(b.digits));
        expect(sends.map((r) => [r.path, r.status])).toEqual([['/api/sendFile', 422], ['/api/sendText', 201]]);
        const [attempt] = await attemptsOf(n.id);
        expect(attempt).toMatchObject({ outcome: 'sent', attachmentKind: 'document', attachmentFilename: 'warranty.pdf', attachmentFallback: 'media_unsupported' });
        expect(attempt!.error).toContain('available only in Plus');
        // The text got the reserved id a text send has, where the engine has one.
        expect(attempt!.reservedId === null).toBe(engine === 'WEBJS');
        const detail = await getMessageDetail(ctx, actor, store.id, n.id);
        expect(detail.attempts[0]?.attachment?.fallback).toBe('media_unsupported');
      } finally {
        await waha.close();
      }
    });
  }

  it('a file the seller removed while the message was being prepared: the text goes, the attempt says why', async () => {
    const waha = await startWahaSimulator({ engine: 'GOWS', apiKey: API_KEY, ackDelaysMs: [30, 60, 90], secondMs: SIM_SECOND_MS, sessions: [] });
    try {
      const { store, sender, template } = await storeWithFile(waha, { bytes: makePng(10, 10), name: 'old.png' });
      const b = buyer();
      const order = sampleOrder({ customer: { firstName: 'Айгерим', lastName: 'Серикова', name: null, cellPhone: b.local } });
      const n = await queueNotification(ctx, store.id, order, 'new');
      // The number check runs after the template's file was read and before the claim: the
      // seller removes the file right then.
      class RemovingClient extends WahaClient {
        override async checkExists(phone: string) {
          await ctx.db.delete(templateAttachments).where(eq(templateAttachments.templateId, template.id));
          return super.checkExists(phone);
        }
      }
      const activities = createNotificationActivities(ctx, {
        wahaClientFor: (s, apiKey) => new RemovingClient({ baseUrl: s.wahaServerUrl, apiKey, session: s.wahaSessionName }),
      });
      expect((await activities.prepareNotification({ notificationId: n.id })).action).toBe('send');
      await ctx.db.update(senders).set({ nextAllowedAt: new Date(0) }).where(eq(senders.id, sender.id));
      expect(await activities.claimAndSend({ notificationId: n.id })).toMatchObject({ result: 'sent' });
      const messages = waha.state.messages(b.chatId, sender.wahaSessionName);
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatchObject({ body: caption(order.code), media: null });
      expect((await attemptsOf(n.id))[0]).toMatchObject({ outcome: 'sent', attachmentFilename: 'old.png', attachmentFallback: 'attachment_gone' });
    } finally {
      await waha.close();
    }
  });
});
