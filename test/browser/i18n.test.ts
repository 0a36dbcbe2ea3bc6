import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { openAdminPage } from '../support/browser.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeb, type RunningWeb } from '../../api/server.ts';
import { messageAttempts, notifications, optOuts, stores, users } from '../../drizzle/schema.ts';
import { createUser } from '../../lib/auth/users.ts';
import { kk, MESSAGES, MESSAGES_KK, ru, type MessageCode } from '../../lib/i18n/messages.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';
import { createStore as createStoreService } from '../../lib/services/stores.ts';
import { startWahaSimulator, type WahaSimulator } from '../../simulators/waha/server.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { createSender, queueNotification, sampleOrder } from '../support/fixtures.ts';

/**
 * The admin in Kazakh, Russian and English in Chromium: a user switches the language in the header,
 * walks the main pages, switches back on the account page, and the sign-in page follows the
 * language links. A page fails on any untranslated key — in tests the catalogue marks one as
 * ⟦kk:path⟧ (lib/i18n/messages.ts) — and a Kazakh page also fails on any Russian catalogue text
 * whose Kazakh differs (a string taken from `ru` directly, or from outside the catalogue, shows up
 * so). The store's own data (name, templates, messages) is Kazakh, as a Kazakh seller's would be.
 * Screenshots go to test-artifacts/screenshots (docs/screenshots/20-dashboard-warmup.png,
 * 21-dashboard-kk.png and 22-templates-kk.png are copies).
 */
const SHOTS = path.resolve('test-artifacts/screenshots');
const PASSWORD = 'correct-horse-battery';
const API_KEY = 'i18n-sim-key';
const SESSION = 'i18n-shop';

let ctx: TestContext;
let web: RunningWeb;
let waha: WahaSimulator;
let browser: Browser;
let page: Page;
let storeId: string;
let email: string;
let notificationId: string;
let orderCode: string;
const problems: string[] = [];

/** Every string leaf as path → text. */
function leaves(value: unknown, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  if (typeof value === 'string') out.set(prefix, value);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) for (const [p, s] of leaves(v, prefix ? `${prefix}.${k}` : k)) out.set(p, s);
  }
  return out;
}

/**
 * Russian catalogue text that must not appear on a Kazakh page: the fixed parts (between
 * placeholders) of every Russian string whose Kazakh differs, long enough to mean something and
 * not also found inside some Kazakh string.
 */
function russianOnlyFragments(): string[] {
  const kkLeaves = leaves(kk);
  const pairs: [string, string][] = [...leaves(ru)].map(([k, v]) => [v, kkLeaves.get(k) ?? '']);
  for (const code of Object.keys(MESSAGES) as MessageCode[]) pairs.push([MESSAGES[code].ru, MESSAGES_KK[code] ?? '']);
  const kkText = [...kkLeaves.values(), ...Object.values(MESSAGES_KK)].join('\n');
  const fragments = new Set<string>();
  for (const [ruText, kkValue] of pairs) {
    if (ruText === kkValue) continue;
    for (const part of ruText.split(/\{\w+\}/)) {
      const f = part.trim();
      if (f.length >= 6 && /[а-яё]/i.test(f) && !kkText.toLowerCase().includes(f.toLowerCase())) fragments.add(f);
    }
  }
  return [...fragments];
}

/** What a reader sees: the title, the text, and the texts in attributes and confirm dialogs. */
async function visibleText(): Promise<string> {
  return page.evaluate(`(() => {
    const attrs = [...document.querySelectorAll('[placeholder],[aria-label],[title],[alt],[data-confirm]')]
      .flatMap((el) => ['placeholder', 'aria-label', 'title', 'alt', 'data-confirm'].map((a) => el.getAttribute(a) || ''));
    const options = [...document.querySelectorAll('option')].map((o) => o.textContent || '');
    return [document.title, document.body.innerText, ...attrs, ...options].join('\\n');
  })()`);
}

async function shot(name: string) {
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ctx = await createTestContext();
  web = await startWeb(ctx, await findFreePort(), '127.0.0.1');
  waha = await startWahaSimulator({ engine: 'NOWEB', apiKey: API_KEY, sessions: [{ name: SESSION, status: 'WORKING', paired: true, me: { id: '77000000001@c.us', pushName: 'Айгүл' } }] });
  email = `kk-${Date.now()}@example.kz`;
  const user = await createUser(ctx.db, { email, password: PASSWORD });
  const store = await createStoreService(ctx, { kind: 'user', userId: user.id, isSuperAdmin: false }, { name: 'Айгүл дүкені', default_templates: 'kk' });
  storeId = store.store_id;
  // A number paired two days ago: day 3 of its warm-up.
  const now = ctx.now();
  const sender = await createSender(ctx, {
    wahaServerUrl: waha.url, wahaSessionName: SESSION, apiKey: API_KEY, sessionStatus: 'WORKING', sessionStatusAt: now,
    pairedAt: new Date(now.getTime() - 2 * 86_400_000), pairedMeId: '77000000001', warmupDays: 14, warmupStart: 20, warmupGrowthPercent: 100, dailyCap: 500,
  });
  await ctx.db.update(stores).set({ senderId: sender.id }).where(eq(stores.id, storeId));
  for (let i = 0; i < 6; i++) {
    const order = sampleOrder({ customer: { firstName: 'Ержан', lastName: `Омаров${i}`, name: null, cellPhone: `701777000${i}` } });
    const n = await queueNotification(ctx, storeId, order, 'new');
    if (i === 0) {
      notificationId = n.id;
      orderCode = order.code;
    }
    if (i === 5) {
      await ctx.db.update(notifications).set({ status: 'scheduled', reasonCode: 'warmup', reason: ru.waitReasons.warmup, scheduledFor: new Date(now.getTime() + 3_600_000) }).where(eq(notifications.id, n.id));
      continue;
    }
    await ctx.db.update(notifications).set({ status: 'read', sentAt: now, deliveredAt: now, readAt: now }).where(eq(notifications.id, n.id));
    await ctx.db.insert(messageAttempts).values({
      notificationId: n.id, senderId: sender.id, attemptNo: 1, phone: `7701777000${i}`, chatId: `7701777000${i}@c.us`, outcome: 'sent', lastAck: 3, startedAt: now,
      renderedText: `Сәлеметсіз бе, Ержан! «Айгүл дүкені» дүкеніндегі №${order.code} тапсырысыңызға рақмет.`,
    });
  }
  await ctx.db.insert(optOuts).values({ storeId, phone: '77017770099', source: 'whatsapp', matchedBy: 'phone' });
  // A failed load is reported with its address by the response handler below.
  ({ browser, page } = await openAdminPage({ problems, acceptDialogs: false, ignoreConsole: (text) => text.startsWith('Failed to load resource') }));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} ${new URL(r.url()).pathname}`);
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await waha?.close();
  await web?.close();
  await ctx?.close();
});

const PAGES = (base: string) => [
  `${base}`,
  `${base}/templates`,
  `${base}/templates/new`,
  `${base}/messages`,
  `${base}/messages/${notificationId}`,
  `${base}/orders/${orderCode}`,
  `${base}/settings`,
  `${base}/opt-outs`,
  `${base}/audit`,
  '/account/tokens',
  '/stores/new',
];

/** Opens each page (htmx fragments loaded) and returns what failed the language checks. */
async function walk(lang: 'kk' | 'ru' | 'en', forbidden: string[]): Promise<string[]> {
  const failures: string[] = [];
  for (const url of PAGES(`/stores/${storeId}`)) {
    await page.goto(`${web.url}${url}`);
    await page.waitForLoadState('networkidle');
    // The message detail is an htmx fragment (no <html> of its own); every other page names its language.
    if (!url.includes('/messages/')) expect(await page.getAttribute('html', 'lang'), url).toBe(lang);
    const text = await visibleText();
    for (const m of text.match(/⟦[^⟧]*⟧/g) ?? []) failures.push(`${url}: untranslated ${m}`);
    // Also upper-cased: table headers are upper-cased by CSS, and innerText reads them so.
    for (const f of forbidden) if (text.includes(f) || text.includes(f.toUpperCase())) failures.push(`${url}: Russian text on a ${lang} page: «${f}»`);
  }
  return failures;
}

describe('the admin in Kazakh, Russian and English', () => {
  it('switches language per user and shows every main page without untranslated or Russian text', { timeout: 240_000 }, async () => {
    const forbidden = russianOnlyFragments();
    expect(forbidden.length).toBeGreaterThan(300);

    await page.goto(`${web.url}/login`);
    await page.fill('#email', email);
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${web.url}/stores/${storeId}`);
    expect(await page.getAttribute('html', 'lang')).toBe('ru');
    await page.waitForSelector('#number-health');
    await shot('20-dashboard-warmup');

    // The header selector: stored on the user, back on the same page in Kazakh.
    await page.selectOption('#header-locale', 'kk');
    await page.waitForSelector('html[lang=kk]', { state: 'attached' });
    expect(page.url()).toBe(`${web.url}/stores/${storeId}`);
    expect(await page.textContent('nav.nav')).toContain('Үлгілер');
    const [row] = await ctx.db.select({ locale: users.locale }).from(users).where(eq(users.email, email));
    expect(row?.locale).toBe('kk');
    expect(await page.textContent('#number-health')).toContain('Бүгінгі лимит');
    expect(await page.textContent('#warmup-ends')).toContain('Қыздыру');

    expect(await walk('kk', forbidden)).toEqual([]);
    await page.goto(`${web.url}/stores/${storeId}`);
    await page.waitForLoadState('networkidle');
    await shot('21-dashboard-kk');
    await page.goto(`${web.url}/stores/${storeId}/templates`);
    await page.waitForLoadState('networkidle');
    expect(await page.textContent('main')).toContain('Жаңа тапсырыс');
    await shot('22-templates-kk');

    // A refused form answers in Kazakh too: the service's field message comes from the catalogue.
    await page.goto(`${web.url}/stores/${storeId}/settings`);
    await page.fill('#min_gap_seconds', '50');
    await page.fill('#max_gap_seconds', '10');
    await page.click('#save-pacing');
    await page.waitForSelector('#max_gap_seconds-error');
    expect(await page.textContent('#max_gap_seconds-error')).toBe(kk.validation?.maxGapBelowMin);
    const refused = await visibleText();
    expect(forbidden.filter((f) => refused.includes(f) || refused.includes(f.toUpperCase()))).toEqual([]);

    // A message waiting for the warm-up says so in Kazakh, from its code.
    await page.goto(`${web.url}/stores/${storeId}/messages`);
    expect(await page.textContent('main')).toContain('Жаңа нөмірді қыздыру');

    // English for engineers.
    await page.goto(`${web.url}/account/tokens`);
    await page.selectOption('#account-locale', 'en');
    await page.waitForSelector('html[lang=en]', { state: 'attached' });
    expect(await page.textContent('#language-card')).toContain('Interface language');
    expect(await walk('en', [])).toEqual([]);

    // Back to Russian on the account page; the pages follow.
    await page.goto(`${web.url}/account/tokens`);
    await page.selectOption('#account-locale', 'ru');
    await page.waitForSelector('html[lang=ru]', { state: 'attached' });
    expect(await walk('ru', [])).toEqual([]);
    await page.goto(`${web.url}/stores/${storeId}`);
    expect(await page.textContent('nav.nav')).toContain('Шаблоны');

    // Signed out, the sign-in page follows its language links (a cookie: there is no user yet).
    await page.click('form[action="/logout"] button');
    await page.waitForURL(/\/login/);
    await page.click('.locale-links a[lang=kk]');
    await page.waitForSelector('html[lang=kk]', { state: 'attached' });
    const loginText = await visibleText();
    expect(loginText).toContain('Құпиясөз');
    expect(forbidden.filter((f) => loginText.includes(f) || loginText.includes(f.toUpperCase()))).toEqual([]);
    expect(problems).toEqual([]);
  });
});
