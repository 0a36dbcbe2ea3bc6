import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { openAdminPage } from '../support/browser.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeb, type RunningWeb } from '../../api/server.ts';
import { auditLog, notifications, reviewLinks, templates, type NotifyEvent } from '../../drizzle/schema.ts';
import { createUser } from '../../lib/auth/users.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';
import { createStore as createStoreService } from '../../lib/services/stores.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { createTemplate } from '../support/fixtures.ts';

/**
 * The templates page's statistics in Debian's Chromium: the section arrives by htmx, names the
 * better variant and says how many more sends a near-tie needs, the period form reloads it, "keep
 * only this one" asks first and then switches the other variant off; the settings page's review
 * short-link card checks PUBLIC_URL. The outcomes are written straight to PostgreSQL here (the real
 * send path is test/integration/template-stats.test.ts). Screenshots go to
 * test-artifacts/screenshots (docs/screenshots/14-template-stats.png is one of them).
 */
const SHOTS = path.resolve('test-artifacts/screenshots');
const PASSWORD = 'correct-horse-battery';

let ctx: TestContext;
let web: RunningWeb;
let browser: Browser;
let page: Page;
let storeId: string;
let email: string;
const problems: string[] = [];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const port = await findFreePort();
  ctx = await createTestContext({ env: { PUBLIC_URL: `http://127.0.0.1:${port}` } });
  web = await startWeb(ctx, port, '127.0.0.1');
  email = `stats-${Date.now()}@example.kz`;
  const user = await createUser(ctx.db, { email, password: PASSWORD });
  storeId = (await createStoreService(ctx, { kind: 'user', userId: user.id, isSuperAdmin: false }, { name: 'Магазин «Уют»' })).store_id;
  ({ browser, page } = await openAdminPage({ problems }));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await web?.close();
  await ctx?.close();
});

/** One section of the page: a full-page shot clipped to it, so the sticky header stays at the top. */
async function sectionShot(selector: string, name: string) {
  await page.evaluate('window.scrollTo(0, 0)');
  const box = await page.locator(selector).boundingBox();
  if (!box) throw new Error(`${selector} is not visible`);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true, clip: { x: Math.max(0, box.x - 12), y: Math.max(0, box.y - 12), width: box.width + 24, height: box.height + 24 } });
}

let seq = 0;
/** `sent` sent messages of a template, the first `read`/`replied`/`opened`/`optedOut` of them with that outcome. */
async function seed(templateId: string, event: NotifyEvent, o: { sent: number; read: number; replied: number; opened?: number; optedOut?: number }) {
  const at = new Date(Date.now() - 3 * 3600_000);
  for (let i = 0; i < o.sent; i++) {
    seq += 1;
    const [n] = await ctx.db.insert(notifications).values({
      storeId, orderCode: `5${String(seq).padStart(8, '0')}`, event, status: i < o.read ? 'read' : 'delivered', templateId, variant: 1,
      eventAt: at, sentAt: at, deliveredAt: at, readAt: i < o.read ? at : null, repliedAt: i < o.replied ? at : null,
      optedOutAt: i >= o.sent - (o.optedOut ?? 0) ? at : null,
    }).returning();
    if (o.opened !== undefined) {
      await ctx.db.insert(reviewLinks).values({ id: `seedlink${String(seq).padStart(8, '0')}`, notificationId: n!.id, storeId, targetUrl: 'https://kaspi.kz/shop/review/productreview', firstOpenedAt: i < o.opened ? at : null, openCount: i < o.opened ? 1 : 0 });
    }
  }
}

describe('template statistics in Chromium', () => {
  it('shows the decision, reloads by period and keeps only the better variant', { timeout: 180_000 }, async () => {
    const a = await createTemplate(ctx, storeId, 'completed', 'Спасибо за покупку! Оцените заказ: {review_link}', { name: 'Короткий' });
    const b = await createTemplate(ctx, storeId, 'completed', '{first_name}, как вам {product_name}? Пара слов в отзыве очень поможет: {review_link}', { name: 'Личный' });
    const c = await createTemplate(ctx, storeId, 'accepted', 'Заказ №{order_num} принят, соберём сегодня.', { name: 'Коротко' });
    const d = await createTemplate(ctx, storeId, 'accepted', 'Здравствуйте, {first_name}! Заказ №{order_num} принят — напишем, когда он будет готов.', { name: 'Подробно' });
    await seed(a.id, 'completed', { sent: 64, read: 52, replied: 9, opened: 11, optedOut: 2 });
    await seed(b.id, 'completed', { sent: 61, read: 50, replied: 21, opened: 29 });
    await seed(c.id, 'accepted', { sent: 40, read: 31, replied: 5 });
    await seed(d.id, 'accepted', { sent: 38, read: 30, replied: 6 });

    await page.goto(`${web.url}/login`);
    await page.fill('#email', email);
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${web.url}/stores/${storeId}`);

    await page.goto(`${web.url}/stores/${storeId}/templates`);
    await page.waitForSelector('#template-stats .stats-event');
    const completed = page.locator('#stats-completed');
    expect(await completed.locator('.stats-decision-winner[data-metric="review_opened"]').textContent()).toContain('«Личный» лучше, чем «Короткий»');
    expect(await page.locator('#stats-accepted .stats-decision[data-metric="replied"]').textContent()).toContain('нужно ещё примерно');
    await sectionShot('#template-stats', '14-template-stats');

    // A period without sends, through the form (htmx swaps the section).
    await page.fill('#stats-from', '2025-01-01');
    await page.fill('#stats-to', '2025-01-31');
    await page.click('#template-stats .stats-period button');
    await expect.poll(() => page.locator('#stats-completed .stats-decision').first().textContent()).toContain('Сравнивать пока нечего');

    // Back to today, then keep only the winner (the confirm dialog is accepted).
    await page.goto(`${web.url}/stores/${storeId}/templates`);
    await page.waitForSelector('#template-stats .stats-event');
    await page.click(`form[action$="/template-stats/${b.id}/make-only"] button`);
    await page.waitForURL(`${web.url}/stores/${storeId}/templates`);
    expect(await page.textContent('.flash')).toContain('активен только шаблон «Личный»');
    const rows = await ctx.db.select().from(templates).where(eq(templates.storeId, storeId));
    expect(rows.find((r) => r.id === a.id)!.isActive).toBe(false);
    // This store's audit only: other test files share the database and audit their own stores.
    expect((await ctx.db.select().from(auditLog).where(and(eq(auditLog.action, 'template.make_only_variant'), eq(auditLog.storeId, storeId)))).length).toBe(1);

    // Settings: the review short-link card checks PUBLIC_URL.
    await page.goto(`${web.url}/stores/${storeId}/settings`);
    await page.waitForSelector('#review-links');
    await page.click('#check-review-links');
    await expect.poll(() => page.textContent('#review-link-check')).toContain('локальный адрес');
    await sectionShot('#review-links', '15-review-link-setting');
    expect(problems).toEqual([]);
  });
});
