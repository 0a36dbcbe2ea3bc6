import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { openAdminPage } from '../support/browser.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeb, type RunningWeb } from '../../api/server.ts';
import { notifications, optOuts, senders, stores, unmappedOptOuts } from '../../drizzle/schema.ts';
import { createUser } from '../../lib/auth/users.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';
import { createStore as createStoreService } from '../../lib/services/stores.ts';
import type { RunningWorker } from '../../lib/temporal/worker.ts';
import { SAMPLE_ORDER, tryRenderTemplate } from '../../lib/templates/render.ts';
import { startWahaSimulator, type WahaSimulator } from '../../simulators/waha/server.ts';
import { notifyWorkflowId } from '../../workflows/config.ts';
import { createTestContext, startTestWorker, type TestContext } from '../support/context.ts';
import { queueNotification, sampleOrder } from '../support/fixtures.ts';
import { runNotification } from '../support/whatsapp-store.ts';

/**
 * The admin console in Debian's Chromium against the real web app, worker, PostgreSQL, Temporal and
 * the WAHA simulator: sign in, write a template with the live preview, save settings, pair WhatsApp
 * by QR, configure WAHA, send a test message, follow a real notification to `read` in the log, open
 * its order, export CSV, pause and resume. Every page is saved to test-artifacts/screenshots.
 */
const SHOTS = path.resolve('test-artifacts/screenshots');
const API_KEY = 'sim-api-key-0123';
const SESSION = 'shop-main';
const PASSWORD = 'correct-horse-battery';
const STORE_NAME = 'Магазин «Уют»';
const TEMPLATE_TEXT = 'Здравствуйте, {user_name}! Ваш заказ №{order_num} на сумму {total_amount} принят. Спасибо, что выбрали ';

let ctx: TestContext;
let worker: RunningWorker;
let web: RunningWeb;
let waha: WahaSimulator;
let browser: Browser;
let page: Page;
let storeId: string;
let email: string;
const problems: string[] = [];

async function shot(name: string) {
  // Full-page shots of a scrolled page would paint the sticky header mid-page.
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function eventually(check: () => Promise<boolean>, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition not met in time');
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const port = await findFreePort();
  ctx = await createTestContext({ env: { PUBLIC_URL: `http://127.0.0.1:${port}` } });
  worker = await startTestWorker(ctx);
  web = await startWeb(ctx, port, '127.0.0.1');
  waha = await startWahaSimulator({ engine: 'NOWEB', apiKey: API_KEY, sessions: [], ackDelaysMs: [50, 100, 150] });
  email = `admin-${Date.now()}@example.kz`;
  const user = await createUser(ctx.db, { email, password: PASSWORD });
  const store = await createStoreService(ctx, { kind: 'user', userId: user.id, isSuperAdmin: false }, { name: STORE_NAME });
  storeId = store.store_id;
  ({ browser, page } = await openAdminPage({ problems, acceptDownloads: true }));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await waha?.close();
  await web?.close();
  await worker?.shutdown();
  await ctx?.close();
});

describe('admin console in Chromium', () => {
  it('runs the whole admin flow', { timeout: 240_000 }, async () => {
    const base = `${web.url}/stores/${storeId}`;

    // ---- login ----
    await page.goto(`${web.url}/`);
    await expect.poll(() => page.url()).toContain('/login');
    await shot('01-login');
    await page.fill('#email', email);
    await page.fill('#password', 'wrong-password');
    await page.click('button[type=submit]');
    await page.waitForSelector('#password-error');
    expect(await page.textContent('#password-error')).toContain('Неверный email или пароль');
    await shot('02-login-error');
    await page.fill('#email', email);
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}`);
    expect(await page.textContent('h1')).toBe(STORE_NAME);
    await shot('03-dashboard-empty');

    // ---- template with live preview ----
    await page.click('nav a:has-text("Шаблоны")');
    await page.waitForSelector('.empty');
    await shot('04-templates-empty');
    await page.click('#new-template');
    await page.fill('#template_name', 'Новый заказ — приветствие');
    await page.selectOption('#event', 'new');
    await page.click('#template_text');
    await page.keyboard.type(TEMPLATE_TEXT);
    await page.click('button.chip[data-insert="{shop_name}"]');
    await page.keyboard.type('!');
    const fullText = `${TEMPLATE_TEXT}{shop_name}!`;
    expect(await page.inputValue('#template_text')).toBe(fullText);
    const expected = tryRenderTemplate(fullText, SAMPLE_ORDER, { shopName: STORE_NAME, timezone: 'Asia/Almaty' });
    if (!expected.ok) throw new Error('sample render failed');
    await expect.poll(() => page.textContent('#preview-text'), { timeout: 10_000 }).toBe(expected.text);
    expect(expected.text).toContain('Айгерим');
    await shot('05-template-preview');
    // An unknown placeholder is named next to the field as you type.
    await page.click('#template_text');
    await page.keyboard.type(' {promo}');
    await expect.poll(() => page.textContent('#template_text-live'), { timeout: 10_000 }).toContain('{promo}');
    await shot('06-template-unknown-variable');
    for (let i = 0; i < ' {promo}'.length; i++) await page.keyboard.press('Backspace');
    await expect.poll(() => page.textContent('#preview-text'), { timeout: 10_000 }).toBe(expected.text);
    await page.click('#save-template');
    await page.waitForURL(`${base}/templates`);
    expect(await page.textContent('.flash')).toContain('Шаблон создан');
    await shot('07-templates-list');

    // ---- settings: store, WhatsApp, pacing ----
    await page.click('nav a:has-text("Настройки")');
    await page.fill('#poll_interval_seconds', '120');
    await page.click('#save-store');
    await page.waitForSelector('.flash');
    expect(await page.textContent('.flash')).toContain('Настройки магазина сохранены');
    await page.fill('#waha_server_url', waha.url);
    await page.fill('#waha_session_name', SESSION);
    await page.fill('#waha_api_key', API_KEY);
    await page.click('#save-whatsapp');
    await page.waitForSelector('.flash');
    expect(await page.textContent('.flash')).toContain('Настройки WhatsApp сохранены');
    await page.fill('#min_gap_seconds', '0');
    await page.fill('#max_gap_seconds', '0');
    await page.fill('#daily_cap', '300');
    await page.fill('#per_buyer_daily_limit', '5');
    await page.fill('#quiet_hours_start', '');
    await page.fill('#quiet_hours_end', '');
    await page.click('#save-pacing');
    await page.waitForSelector('.flash');
    expect(await page.textContent('.flash')).toContain('темпа отправки сохранены');
    const [sender] = await ctx.db.select().from(senders).innerJoin(stores, eq(stores.senderId, senders.id)).where(eq(stores.id, storeId));
    expect(sender!.senders).toMatchObject({ minGapSeconds: 0, maxGapSeconds: 0, dailyCap: 300, perBuyerDailyLimit: 5, quietHoursStart: null, quietHoursEnd: null });
    expect(await page.content()).not.toContain(API_KEY);

    // ---- Configure WAHA → the session starts unpaired → QR while WAHA waits for a scan ----
    // WAHA restarts the session to apply the config: the admin confirms first.
    let confirmText = '';
    // (The page-wide handler accepts it; this one only reads what the admin was asked.)
    page.once('dialog', (d) => {
      confirmText = d.message();
    });
    await page.click('#configure-waha');
    await page.waitForSelector('#configure-result');
    expect(confirmText).toContain('перезапустит сессию');
    expect(await page.textContent('#configure-result')).toContain(`/webhooks/waha/${storeId}`);
    expect(waha.state.sessionConfig(SESSION)).toMatchObject({ webjs: { tagsEventsOn: true }, noweb: { store: { enabled: true, fullSync: true } } });
    await eventually(async () => waha.state.sessionStatus(SESSION) === 'SCAN_QR_CODE');
    waha.state.setSessionStatus(SESSION, 'SCAN_QR_CODE');
    await page.waitForSelector('#qr-image', { timeout: 15_000 });
    // The PNG really arrived through our proxy (the test tsconfig has no DOM types: a string expression).
    // (Polled through evaluate: the page's CSP forbids the string eval waitForFunction would use.)
    await eventually(async () => page.locator('#qr-image').evaluate((img) => {
      const el = img as unknown as { complete: boolean; naturalWidth: number };
      return el.complete && el.naturalWidth > 100;
    }));
    const qrSrc = await page.getAttribute('#qr-image', 'src');
    expect(qrSrc).toMatch(new RegExp(`^/stores/${storeId}/settings/qr\\.png`));
    await page.click('#reveal-secret');
    await page.waitForSelector('#revealed-secret');
    expect((await page.textContent('#revealed-secret'))!.length).toBeGreaterThan(20);
    await page.locator('#whatsapp-settings').scrollIntoViewIfNeeded();
    await shot('08-settings-qr');
    // The seller scans: WORKING arrives by signed webhook, the panel follows.
    waha.state.scanQr(SESSION);
    await page.waitForSelector('#session-panel .badge-ok', { timeout: 15_000 });
    await eventually(async () => (await ctx.db.select({ s: senders.sessionStatus }).from(senders).where(eq(senders.wahaSessionName, SESSION)))[0]?.s === 'WORKING');

    // ---- test send ----
    await page.fill('#phone_number', '+7 701 555 44 33');
    await page.click('#send-test');
    await page.waitForSelector('#test-send-ok', { timeout: 15_000 });
    const testMessages = waha.state.messages('77015554433@c.us', SESSION);
    expect(testMessages).toHaveLength(1);
    expect(testMessages[0]!.body).toContain(STORE_NAME);
    await shot('09-settings-test-sent');

    // ---- a real notification through the workflow, then the log ----
    const order = sampleOrder();
    const n = await queueNotification(ctx, storeId, order, 'new');
    const workflowId = notifyWorkflowId(storeId, order.code, 'new');
    await runNotification(ctx, storeId, { id: n.id, orderCode: order.code, event: 'new' }, { serverAckWaitMs: 3_000, deviceAckWaitMs: 5_000, ambiguousLookupDelayMs: 500 });
    await eventually(async () => (await ctx.db.select({ s: notifications.status }).from(notifications).where(eq(notifications.id, n.id)))[0]?.s === 'read');

    await page.click('nav a:has-text("Сообщения")');
    const row = page.locator(`#msg-${n.id}`);
    await expect.poll(() => row.locator('.badge').textContent()).toBe('Прочитано');
    expect(await row.textContent()).toContain(`Ваш заказ №${order.code}`);
    await row.locator('button:has-text("Подробнее")').click();
    await page.waitForSelector(`#detail-body-${n.id}`);
    const detail = page.locator(`#detail-body-${n.id}`);
    expect(await detail.textContent()).toContain('Workflow в Temporal UI');
    expect(await detail.locator('a.workflow-link').getAttribute('href')).toContain(`/workflows/${encodeURIComponent(workflowId)}`);
    expect(await detail.locator('.history .badge-read').count()).toBeGreaterThan(0);
    expect(await detail.locator('[id^="resend-button"]').count()).toBe(0); // only failed / undelivered can be resent
    await shot('10-messages-detail');

    // Filters keep working.
    await page.selectOption('#f-status', 'read');
    await page.click('#filters button[type=submit]');
    await page.waitForURL(/status=read/);
    expect(await page.locator('.msg-row').count()).toBe(1);

    // ---- CSV export (a real download) ----
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    const file = path.join(SHOTS, '..', 'messages.csv');
    await download.saveAs(file);
    const csv = readFileSync(file, 'utf8');
    expect(csv.split('\n')[0]).toContain('order_code');
    expect(csv).toContain(order.code);
    expect(csv).toContain('read');

    // ---- order page ----
    await page.click(`#msg-${n.id} a.order-link`);
    await page.waitForURL(`${base}/orders/${order.code}`);
    expect(await page.textContent('h1')).toContain(order.code);
    expect(await page.textContent('#order-messages')).toContain('Прочитано');
    await shot('11-order');

    // ---- dashboard: counts, chart, pause and resume ----
    await page.click('nav a:has-text("Панель")');
    await page.waitForSelector('#daily-chart[data-drawn]');
    expect(await page.textContent('#today-read .stat-value')).toBe('1');
    await shot('12-dashboard');
    await page.click('#pause-sending');
    await page.waitForSelector('#resume-sending');
    expect(await page.textContent('.flash')).toContain('приостановлена');
    expect(await page.textContent('#sending-state')).toContain('приостановлена');
    expect((await ctx.db.select({ p: stores.sendingPaused }).from(stores).where(eq(stores.id, storeId)))[0]?.p).toBe(true);
    await shot('13-dashboard-paused');
    await page.click('#resume-sending');
    await page.waitForSelector('#pause-sending');
    expect(await page.textContent('.flash')).toContain('возобновлена');
    expect((await ctx.db.select({ p: stores.sendingPaused }).from(stores).where(eq(stores.id, storeId)))[0]?.p).toBe(false);
    await page.click('#cancel-queued');
    await page.waitForSelector('.flash');
    expect(await page.textContent('.flash')).toContain('Отменено уведомлений в очереди: 0');

    // ---- opt-outs and audit ----
    // Two replies from buyers behind WhatsApp LIDs: one matched through the LID learned at send, one
    // nobody could map yet (as the WAHA webhook leaves them).
    await ctx.db.insert(optOuts).values({ storeId, phone: '77015554433', source: 'whatsapp', matchedBy: 'lid_table', lid: '245896994390182@lid' });
    await ctx.db.insert(unmappedOptOuts).values({ storeId, lid: '245896994399876@lid' });
    await page.click('nav a:has-text("Отказы")');
    expect(await page.textContent('#opt-outs-table')).toContain('по скрытому ID (LID), известному с отправки');
    expect(await page.textContent('#unmapped-opt-outs')).toContain('…9876');
    await page.fill('#phone', '87019998877');
    await page.fill('#note', 'Попросил не писать');
    await page.click('#add-opt-out');
    await page.waitForSelector('#opt-outs-table');
    expect(await page.textContent('#opt-outs-table')).toContain('Попросил не писать');
    await page.fill('#phone', '12345');
    await page.click('#add-opt-out');
    await page.waitForSelector('#phone-error');
    await shot('14-opt-outs');
    await page.click('nav a:has-text("Журнал")');
    const audit = await page.textContent('#audit-table');
    for (const action of ['template.create', 'store.update', 'whatsapp_settings.create', 'whatsapp.configure_waha', 'whatsapp.send_test', 'sending.cancel_queued', 'opt_out.add']) {
      expect(audit).toContain(action);
    }
    await shot('15-audit');

    // ---- small screen ----
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/templates/new`);
    await shot('16-mobile-template');
    await page.setViewportSize({ width: 1280, height: 900 });

    expect(problems).toEqual([]);
  });

  it('a seller without a store creates one through the form', { timeout: 60_000 }, async () => {
    const sellerEmail = `seller-${Date.now()}@example.kz`;
    await createUser(ctx.db, { email: sellerEmail, password: PASSWORD });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ru-RU' });
    const own = await context.newPage();
    const errors: string[] = [];
    own.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
    own.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
    });
    await own.goto(`${web.url}/login`);
    await own.fill('#email', sellerEmail);
    await own.fill('#password', PASSWORD);
    await own.click('button[type=submit]');
    // The first page after login: the empty state with the create button.
    await own.waitForSelector('#create-first-store');
    expect(await own.textContent('#create-first-store')).toBe('Создать магазин');
    await own.click('#create-first-store');
    await own.waitForURL(`${web.url}/stores/new`);
    await own.fill('#name', 'Магазин «Новый»');
    await own.fill('#poll_interval_seconds', '5');
    await own.click('#create-store');
    await own.waitForSelector('#poll_interval_seconds-error');
    expect(await own.textContent('#poll_interval_seconds-error')).toBe('От 10 до 3600 секунд');
    await own.evaluate('window.scrollTo(0, 0)');
    await own.screenshot({ path: path.join(SHOTS, '00-new-store.png'), fullPage: true });
    await own.fill('#poll_interval_seconds', '90');
    await own.fill('#kaspi_merchant_uid', '30012345');
    await own.click('#create-store');
    await own.waitForURL(/\/stores\/[0-9a-f-]{36}\/settings$/);
    expect(await own.textContent('.flash')).toContain('Магазин создан');
    expect(await own.inputValue('#name')).toBe('Магазин «Новый»');
    expect(await own.inputValue('#poll_interval_seconds')).toBe('90');
    expect(await own.textContent('#store-switch')).toContain('Магазин «Новый»');
    await context.close();
    expect(errors).toEqual([]);
  });
});
