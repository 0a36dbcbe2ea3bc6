import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { openAdminPage } from '../support/browser.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeb, type RunningWeb } from '../../api/server.ts';
import { auditLog, stores, templateAttachments, templates } from '../../drizzle/schema.ts';
import { createUser } from '../../lib/auth/users.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';
import { createStore as createStoreService } from '../../lib/services/stores.ts';
import type { RunningWorker } from '../../lib/temporal/worker.ts';
import { WahaClient } from '../../lib/waha/client.ts';
import { startWahaSimulator, type WahaSimulator } from '../../simulators/waha/server.ts';
import { createTestContext, startTestWorker, type TestContext } from '../support/context.ts';
import { eventually } from '../support/eventually.ts';
import { createSender, queueNotification, sampleOrder } from '../support/fixtures.ts';
import { makePdf, makePng } from '../support/media.ts';
import { runNotification } from '../support/whatsapp-store.ts';

/**
 * A template's picture and PDF in Debian's Chromium (launched as test/browser/admin.test.ts does):
 * refused uploads (a text file named .png, an empty file, a picture over 5 MB) say why in Russian
 * and change nothing; a picture shows in the live preview as WhatsApp would, and a real
 * notification through the workflow arrives in the WAHA simulator as that picture with the text as
 * caption; then a PDF likewise; the message log names the file. Screenshots go to
 * test-artifacts/screenshots/media-*.png.
 */
const SHOTS = path.resolve('test-artifacts/screenshots');
const FILES = path.resolve('test-artifacts/media-uploads');
const API_KEY = 'media-sim-key';
const SECRET = 'media-hook-secret';
const PASSWORD = 'correct-horse-battery';
const TEXT = 'Здравствуйте, {user_name}! Заказ №{order_num} принят. Во вложении — памятка магазина.';

let ctx: TestContext;
let worker: RunningWorker;
let web: RunningWeb;
let waha: WahaSimulator;
let browser: Browser;
let page: Page;
let storeId: string;
let sessionName: string;
let email: string;
const problems: string[] = [];

async function shot(name: string, target: Page = page) {
  await target.evaluate('window.scrollTo(0, 0)');
  await target.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** A file on disk for the file input, as a seller would pick it. */
function file(name: string, bytes: Buffer): string {
  const p = path.join(FILES, name);
  writeFileSync(p, bytes);
  return p;
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  mkdirSync(FILES, { recursive: true });
  const port = await findFreePort();
  ctx = await createTestContext({ env: { PUBLIC_URL: `http://127.0.0.1:${port}` } });
  worker = await startTestWorker(ctx);
  web = await startWeb(ctx, port, '127.0.0.1');
  waha = await startWahaSimulator({ engine: 'GOWS', apiKey: API_KEY, sessions: [], ackDelaysMs: [50, 100, 150] });
  email = `media-${Date.now()}@example.kz`;
  const user = await createUser(ctx.db, { email, password: PASSWORD });
  storeId = (await createStoreService(ctx, { kind: 'user', userId: user.id, isSuperAdmin: false }, { name: 'Магазин «Уют»' })).store_id;
  // The store's number on the simulator, wired as "Configure WAHA" does.
  const sender = await createSender(ctx, { wahaServerUrl: waha.url, apiKey: API_KEY, webhookSecret: SECRET });
  sessionName = sender.wahaSessionName;
  waha.state.addSession(sessionName, { status: 'WORKING', paired: true });
  await ctx.db.update(stores).set({ senderId: sender.id }).where(eq(stores.id, storeId));
  await new WahaClient({ baseUrl: waha.url, apiKey: API_KEY, session: sessionName }).upsertSessionConfig({ webhookUrl: `${web.url}/webhooks/waha/${storeId}`, hmacKey: SECRET });
  await eventually(() => waha.state.sessionStatus(sessionName) === 'WORKING');
  // The refused uploads answer 400 on purpose; Chromium logs each as a failed resource.
  ({ browser, page } = await openAdminPage({ problems, ignoreConsole: (text) => /status of 400/.test(text) }));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await waha?.close();
  await web?.close();
  await worker?.shutdown();
  await ctx?.close();
});

/** Sends one real notification for a fresh order and waits for the buyer's chat to hold it. */
async function notifyBuyer(local: string) {
  const order = sampleOrder({ customer: { firstName: 'Айгерим', lastName: 'Серикова', name: null, cellPhone: local } });
  const n = await queueNotification(ctx, storeId, order, 'new');
  const outcome = await runNotification(ctx, storeId, { id: n.id, orderCode: order.code, event: 'new' }, { serverAckWaitMs: 2_000, deviceAckWaitMs: 4_000, ambiguousLookupDelayMs: 300 });
  return { n, order, outcome, chatId: `7${local}@c.us` };
}

async function imageLoaded(selector: string, target: Page = page): Promise<boolean> {
  // Runs in the page: an <img> that finished loading has a natural width.
  return target.$eval(selector, (img) => { const i = img as unknown as { complete: boolean; naturalWidth: number }; return i.complete && i.naturalWidth > 0; });
}

describe('a template\'s picture and PDF in Chromium', () => {
  it('refuses bad files in Russian, shows the picture in the preview, and the buyer gets it with the caption; then a PDF', { timeout: 240_000 }, async () => {
    const base = `${web.url}/stores/${storeId}`;
    await page.goto(`${web.url}/login`);
    await page.fill('#email', email);
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(base);

    // ---- a template first: the file can be attached once it is saved ----
    await page.goto(`${base}/templates/new`);
    expect(await page.textContent('#attachment-after-save')).toContain('после сохранения шаблона');
    await page.fill('#template_name', 'Новый заказ с памяткой');
    await page.selectOption('#event', 'new');
    await page.fill('#template_text', TEXT);
    await page.click('#save-template');
    await page.waitForSelector('.flash');
    const [template] = await ctx.db.select().from(templates).where(eq(templates.storeId, storeId));
    await page.goto(`${base}/templates/${template!.id}`);
    await page.waitForSelector('#attachment-none');
    expect(await page.$('#preview-image')).toBeNull();

    // ---- refused uploads: each says why, none changes anything ----
    const audits = async () => (await ctx.db.select().from(auditLog).where(eq(auditLog.storeId, storeId))).length;
    const auditsBefore = await audits();
    const refusals: [string, Buffer, RegExp][] = [
      ['card.png', Buffer.from('<html>это не картинка, а страница</html>'), /Внутри файла «card\.png» неизвестный формат.*Тип проверяется по содержимому/],
      ['empty.png', Buffer.alloc(0), /Файл «empty\.png» пустой/],
      ['big.png', Buffer.concat([makePng(8, 8), Buffer.alloc(6 * 1024 * 1024)]), /Файл «big\.png» весит 6,0 МБ, а картинка может быть не больше 5,0 МБ/],
      ['warranty.png', makePdf(), /назван как PNG, но внутри PDF/],
    ];
    for (const [name, bytes, message] of refusals) {
      await page.setInputFiles('#attachment', file(name, bytes));
      await page.click('#attachment-upload');
      await expect.poll(async () => (await page.$('#attachment-error')) ? await page.textContent('#attachment-error') : '').toMatch(message);
      if (name === 'card.png') await shot('media-01-refused-upload');
      expect(await page.$('#attachment-none')).not.toBeNull();
    }
    expect(await ctx.db.select().from(templateAttachments).where(eq(templateAttachments.templateId, template!.id))).toHaveLength(0);
    expect(await audits()).toBe(auditsBefore);

    // ---- a picture: the preview shows it above the caption, as WhatsApp does ----
    const png = makePng(480, 270);
    await page.setInputFiles('#attachment', file('Памятка.png', png));
    await page.click('#attachment-upload');
    await page.waitForSelector('#attachment-current');
    expect(await page.textContent('#attachment-current')).toContain('Памятка.png');
    expect(await page.$('#attachment-error')).toBeNull();
    await page.waitForSelector('#preview-image');
    await expect.poll(() => imageLoaded('#preview-image')).toBe(true);
    // The text typed meanwhile is still there and still previews under the picture.
    await page.click('#template_text');
    await page.keyboard.press('End');
    await page.keyboard.type(' До встречи!');
    await expect.poll(() => page.textContent('#preview-text')).toContain('До встречи!');
    expect(await page.textContent('#preview-text')).toContain('Заказ №');
    await page.click('#save-template');
    await page.waitForSelector('.flash');
    await page.goto(`${base}/templates/${template!.id}`);
    await expect.poll(() => imageLoaded('#preview-image')).toBe(true);
    await shot('media-02-template-image-preview');
    const [stored] = await ctx.db.select().from(templateAttachments).where(eq(templateAttachments.templateId, template!.id));
    expect(stored).toMatchObject({ kind: 'image', mimetype: 'image/png', filename: 'Памятка.png', sizeBytes: png.length });
    expect(stored!.content.equals(png)).toBe(true);
    const listed = await page.goto(`${base}/templates`).then(() => page.textContent('#templates-table'));
    expect(listed).toContain('Картинка Памятка.png');

    // ---- a real notification through the workflow: the buyer gets the picture with the caption ----
    const first = await notifyBuyer('7015550101');
    expect(['delivered', 'read']).toContain(first.outcome.status);
    const [got] = waha.state.messages(first.chatId, sessionName);
    expect(got).toMatchObject({ media: { kind: 'image', mimetype: 'image/png', filename: 'Памятка.png' } });
    expect(got!.body).toBe(`Здравствуйте, Айгерим Серикова! Заказ №${first.order.code} принят. Во вложении — памятка магазина. До встречи!`);
    expect(waha.state.mediaBytes(sessionName, got!.id)?.equals(png)).toBe(true);
    const chats = await browser.newPage({ viewport: { width: 900, height: 700 } });
    await chats.goto(`${waha.url}/_sim/chats`);
    const bubble = `.msg[data-id="${got!.id}"]`;
    await chats.waitForSelector(`${bubble} img.media`);
    await expect.poll(() => imageLoaded(`${bubble} img.media`, chats)).toBe(true);
    expect(await chats.textContent(`${bubble} .text`)).toContain(`Заказ №${first.order.code}`);
    await shot('media-03-buyer-chat-image', chats);

    // ---- the message log names the file that went out ----
    await page.goto(`${base}/messages`);
    await page.click(`tr:has-text("${first.order.code}") button:has-text("Подробнее")`);
    await page.waitForSelector('.attempt-attachment');
    expect(await page.textContent('.attempt-attachment')).toMatch(/Картинка «Памятка\.png», \d+ КБ/);
    await shot('media-04-log-attachment');

    // ---- replaced by a PDF: a document card in the preview, a document in the chat ----
    const pdf = makePdf('Warranty card');
    await page.goto(`${base}/templates/${template!.id}`);
    await page.setInputFiles('#attachment', file('Гарантийный талон.pdf', pdf));
    await page.click('#attachment-upload');
    await page.waitForSelector('#preview-document');
    expect(await page.textContent('#preview-document')).toContain('Гарантийный талон.pdf');
    expect(await page.$('#preview-image')).toBeNull();
    await shot('media-05-template-pdf-preview');
    const second = await notifyBuyer('7015550102');
    expect(['delivered', 'read']).toContain(second.outcome.status);
    const [doc] = waha.state.messages(second.chatId, sessionName);
    expect(doc).toMatchObject({ media: { kind: 'document', mimetype: 'application/pdf', filename: 'Гарантийный талон.pdf' } });
    expect(waha.state.mediaBytes(sessionName, doc!.id)?.equals(pdf)).toBe(true);
    // The chat page reloads itself every 2 s (meta refresh): the PDF arrives with the next reload.
    // A goto of our own could cross that reload, which aborts one of the two (net::ERR_ABORTED).
    await chats.waitForSelector(`.msg[data-id="${doc!.id}"] .doc`);
    expect(await chats.textContent(`.msg[data-id="${doc!.id}"] .doc`)).toContain('Гарантийный талон.pdf');
    await shot('media-06-buyer-chat-pdf', chats);

    // ---- removed: the preview is text only again, and so is the next message ----
    await page.click('#attachment-remove');
    await page.waitForSelector('#attachment-none');
    expect(await page.$('#preview-document')).toBeNull();
    expect(await ctx.db.select().from(templateAttachments).where(eq(templateAttachments.templateId, template!.id))).toHaveLength(0);
    const actions = (await ctx.db.select({ action: auditLog.action }).from(auditLog).where(eq(auditLog.storeId, storeId))).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['template.attachment.set', 'template.attachment.replace', 'template.attachment.remove']));
    await chats.close();
    expect(problems).toEqual([]);
  });
});
