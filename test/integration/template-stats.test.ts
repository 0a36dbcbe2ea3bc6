import { and, eq } from 'drizzle-orm';
import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.ts';
import { startWeb, type RunningWeb } from '../../api/server.ts';
import { auditLog, notifications, reviewLinks, senders, storeMembers, stores, templates } from '../../drizzle/schema.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';
import { checkPublicUrlReachable } from '../../lib/review-links/reachability.ts';
import { decide } from '../../lib/stats/proportions.ts';
import { chooseVariant } from '../../lib/templates/render.ts';
import type { RunningWorker } from '../../lib/temporal/worker.ts';
import { startWahaSimulator, type WahaSimulator } from '../../simulators/waha/server.ts';
import type { NotificationInput } from '../../workflows/notification.ts';
import { apiClient, formLogin, newUser } from '../support/api.ts';
import { createTestContext, startTestWorker, type TestContext } from '../support/context.ts';
import { eventually } from '../support/eventually.ts';
import { createTemplate, queueNotification, sampleOrder } from '../support/fixtures.ts';
import { connectWhatsAppStore, runNotification, SIM_SECOND_MS } from '../support/whatsapp-store.ts';

/**
 * Outcomes per template variant, end to end: review requests from two variants go out through the
 * real notification workflow to the WAHA simulator, which fetches each link for its preview (as
 * WAHA does) and withholds READ for buyers with read receipts off; buyers then reply, one says
 * «стоп», and some open the review short link. The JSON API, its CSV and the templates page must
 * show the exact counts and the decision: the variant known to be better is named, the near-tie
 * says how many more sends it needs. Then "keep only this variant", with its CSRF, audit and store
 * checks.
 */
let ctx: TestContext;
let worker: RunningWorker;
let web: RunningWeb;
let waha: WahaSimulator;
let app: Hono;
const API_KEY = 'stats-key';
const SECRET = 'stats-hook-secret';
const FAST: NonNullable<NotificationInput['timing']> = { serverAckWaitMs: 5_000, deviceAckWaitMs: 10_000, ambiguousLookupDelayMs: 300 };
const PER_VARIANT = 24;

// What each variant's buyers do (out of PER_VARIANT), chosen so that B is known to be better on
// review-link opens and replies, while reads are a near-tie.
const PLAN = {
  A: { unread: 2, replied: 4, optedOut: 1, opened: 2 },
  B: { unread: 4, replied: 12, optedOut: 0, opened: 14 },
} as const;

beforeAll(async () => {
  const port = await findFreePort();
  ctx = await createTestContext({ env: { PUBLIC_URL: `http://127.0.0.1:${port}` } });
  worker = await startTestWorker(ctx);
  web = await startWeb(ctx, port, '127.0.0.1');
  waha = await startWahaSimulator({ engine: 'NOWEB', apiKey: API_KEY, ackDelaysMs: [20, 40, 60], secondMs: SIM_SECOND_MS, sessions: [], linkPreviews: true });
  app = createApp(ctx);
});
afterAll(async () => {
  await waha?.close();
  await web?.close();
  await worker?.shutdown();
  await ctx?.close();
});

interface SignedIn {
  csrf: string;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  post(path: string, form: Record<string, string>, opts?: { csrf?: string | null; headers?: Record<string, string> }): Promise<Response>;
}

async function signIn(email: string, password: string, storeId: string): Promise<SignedIn> {
  const res = await formLogin(app, { email, password });
  expect(res.status).toBe(303);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  const get = async (path: string, headers: Record<string, string> = {}) => app.request(path, { headers: { cookie, ...headers } });
  const html = await (await get(`/stores/${storeId}/templates`)).text();
  const csrf = /<meta name="csrf-token" content="([^"]+)"/.exec(html)?.[1] ?? '';
  expect(csrf).not.toBe('');
  return {
    csrf,
    get,
    post: async (path, form, opts = {}) => {
      const body = new URLSearchParams(form);
      const token = opts.csrf === undefined ? csrf : opts.csrf;
      if (token !== null) body.set('_csrf', token);
      return app.request(path, { method: 'POST', body, headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...opts.headers } });
    },
  };
}

const TEXT_A = 'Спасибо за покупку в {shop_name}! Оцените заказ №{order_num}: {review_link}';
const TEXT_B = '{first_name}, как вам {product_name}? Пара слов в отзыве очень поможет: {review_link}';

describe('template outcomes and the decision', () => {
  let storeId: string;
  let tplA: typeof templates.$inferSelect;
  let tplB: typeof templates.$inferSelect;
  let tplOther: typeof templates.$inferSelect;
  let owner: Awaited<ReturnType<typeof newUser>>;
  let browser: SignedIn;
  const buyers: { variant: 'A' | 'B'; local: string; digits: string; code: string; notificationId: string }[] = [];
  const today = () => new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Almaty' }).format(new Date());

  beforeAll(async () => {
    const { store } = await connectWhatsAppStore(ctx, { waha, webUrl: web.url, apiKey: API_KEY, webhookSecret: SECRET });
    storeId = store.id;
    tplA = await createTemplate(ctx, storeId, 'completed', TEXT_A, { name: 'Короткий', weight: 50 });
    tplB = await createTemplate(ctx, storeId, 'completed', TEXT_B, { name: 'Личный', weight: 50 });
    tplOther = await createTemplate(ctx, storeId, 'accepted', 'Заказ №{order_num} принят', { name: 'Принят' });
    owner = await newUser(ctx);
    await ctx.db.insert(storeMembers).values({ storeId, userId: owner.user.id });
    browser = await signIn(owner.email, owner.password, storeId);
  });

  it('turns review short links on only after PUBLIC_URL answers as this service', async () => {
    // Something else at the address (the WAHA simulator), and nothing at all: both refused.
    const elsewhere = await checkPublicUrlReachable({ config: { ...ctx.config, PUBLIC_URL: waha.url }, secrets: ctx.secrets });
    expect(elsewhere).toMatchObject({ ok: false, reason: 'not_this_service' });
    const nobody = await checkPublicUrlReachable({ config: { ...ctx.config, PUBLIC_URL: `http://127.0.0.1:${await findFreePort()}` }, secrets: ctx.secrets });
    expect(nobody).toMatchObject({ ok: false, reason: 'unreachable' });

    const card = await browser.get(`/stores/${storeId}/settings/review-links`);
    expect(await card.text()).toContain('id="review_links_enabled"');
    const check = await (await browser.post(`/stores/${storeId}/settings/review-links/check`, {}, { headers: { 'hx-request': 'true' } })).text();
    // 127.0.0.1 answers as this service, with the warning that phones on the internet cannot open it.
    expect(check).toContain('локальный адрес');

    const saved = await browser.post(`/stores/${storeId}/settings/review-links`, { review_links_enabled: 'on' }, { headers: { 'hx-request': 'true' } });
    expect(saved.status).toBe(200);
    expect(await saved.text()).toMatch(/id="review_links_enabled"[^>]*checked/);
    const [row] = await ctx.db.select().from(stores).where(eq(stores.id, storeId));
    expect(row!.reviewLinksEnabled).toBe(true);
    expect(row!.reviewLinksCheckedAt).not.toBeNull();
    const audit = await ctx.db.select().from(auditLog).where(and(eq(auditLog.storeId, storeId), eq(auditLog.action, 'store.review_links')));
    expect(audit).toHaveLength(1);
  });

  it('sends both variants through the workflow; WAHA\'s link-preview fetches are not opens', async () => {
    const active = [tplA, tplB].map((t) => ({ id: t.id, weight: t.weight }));
    const counts = { A: 0, B: 0 };
    for (let i = 0; counts.A < PER_VARIANT || counts.B < PER_VARIANT; i++) {
      const code = `6${String(Date.now()).slice(-5)}${String(i).padStart(4, '0')}`;
      // The same pure choice prepareNotification makes (lib/templates/render.ts chooseVariant).
      const variant = chooseVariant(active, `${storeId}:${code}:completed`) === tplA.id ? 'A' : 'B';
      if (counts[variant] >= PER_VARIANT) continue;
      const local = `7015${String(buyers.length).padStart(6, '0')}`;
      // The first `unread` buyers of each variant have read receipts off: no READ ever.
      if (counts[variant] < PLAN[variant].unread) waha.state.setReadReceipts(`7${local}`, false);
      counts[variant] += 1;
      const order = sampleOrder({ code, state: 'ARCHIVE', status: 'COMPLETED', customer: { firstName: 'Айгерим', lastName: 'Серикова', name: null, cellPhone: local } });
      const n = await queueNotification(ctx, storeId, order, 'completed');
      buyers.push({ variant, local, digits: `7${local}`, code, notificationId: n.id });
    }
    const outcomes = await Promise.all(buyers.map((b) => runNotification(ctx, storeId, { id: b.notificationId, orderCode: b.code, event: 'completed' }, FAST)));
    expect(outcomes.every((o) => o.status === 'delivered' || o.status === 'read'), JSON.stringify(outcomes)).toBe(true);

    // The workflow chose the predicted variant for every order.
    for (const b of buyers) {
      const [n] = await ctx.db.select().from(notifications).where(eq(notifications.id, b.notificationId));
      expect(n!.templateId).toBe(b.variant === 'A' ? tplA.id : tplB.id);
    }
    // Every buyer got our short link, which says nothing about them or the order.
    const links = await ctx.db.select().from(reviewLinks).where(eq(reviewLinks.storeId, storeId));
    expect(links).toHaveLength(2 * PER_VARIANT);
    for (const b of buyers) {
      const [message] = waha.state.messages(`${b.digits}@c.us`, (await senderSession()));
      const url = /http:\/\/127\.0\.0\.1:\d+\/r\/([A-Za-z0-9_-]{16})/.exec(message!.body);
      expect(url, message!.body).not.toBeNull();
      expect(message!.body).not.toContain('kaspi.kz');
      expect(url![1]).not.toContain(b.code);
    }
    // WAHA fetched every link for its preview before sending, and none of that counts as an open.
    expect(waha.state.previewFetches.filter((f) => f.url.includes('/r/'))).toHaveLength(2 * PER_VARIANT);
    expect(waha.state.previewFetches.every((f) => f.status === 302)).toBe(true);
    expect(links.every((l) => l.firstOpenedAt === null && l.openCount === 0)).toBe(true);
  });

  it('counts replies, opt-outs and review-link opens per variant', async () => {
    const session = await senderSession();
    for (const variant of ['A', 'B'] as const) {
      const mine = buyers.filter((b) => b.variant === variant);
      const plan = PLAN[variant];
      // Repliers, then the one who says «стоп», from the end of the list (independent of read receipts).
      mine.slice(-plan.replied).forEach((b) => waha.state.receiveMessage(`${b.digits}@c.us`, 'Спасибо, всё пришло!', { session }));
      mine.slice(-plan.replied - plan.optedOut, -plan.replied).forEach((b) => waha.state.receiveMessage(`${b.digits}@c.us`, 'стоп', { session }));
      for (const b of mine.slice(0, plan.opened)) {
        const [message] = waha.state.messages(`${b.digits}@c.us`, session);
        const url = /http:\/\/\S+\/r\/[A-Za-z0-9_-]{16}/.exec(message!.body)![0];
        const res = await fetch(url, { redirect: 'manual' });
        expect(res.status).toBe(302);
        expect(res.headers.get('location')).toBe(`https://kaspi.kz/shop/review/productreview?orderCode=${b.code}&productCode=SKU-1&rating=5`);
        expect(res.headers.get('cache-control')).toBe('no-store');
      }
    }
    // A second open by the same buyer is still one buyer who opened it.
    const again = buyers.find((b) => b.variant === 'B')!;
    const againUrl = /http:\/\/\S+\/r\/[A-Za-z0-9_-]{16}/.exec(waha.state.messages(`${again.digits}@c.us`, session)[0]!.body)![0];
    expect((await fetch(againUrl, { redirect: 'manual' })).status).toBe(302);
    // A stranger who never got a message writes: nobody's reply.
    waha.state.receiveMessage('77019998877@c.us', 'Здравствуйте, есть в наличии?', { session });
    expect((await fetch(`${web.url}/r/AAAAAAAAAAAAAAAA`, { redirect: 'manual' })).status).toBe(404);

    await eventually(async () => {
      const rows = await ctx.db.select().from(notifications).where(eq(notifications.storeId, storeId));
      return rows.filter((r) => r.repliedAt).length === PLAN.A.replied + PLAN.B.replied && rows.filter((r) => r.optedOutAt).length === PLAN.A.optedOut;
    }, 20_000);
    await waha.state.idle();
    const [opened] = await ctx.db.select().from(reviewLinks).innerJoin(notifications, eq(notifications.id, reviewLinks.notificationId)).where(eq(notifications.id, again.notificationId));
    expect(opened!.review_links.openCount).toBe(2);
  });

  it('the JSON API shows the exact counts, the intervals and the decision', async () => {
    const api = apiClient(ctx, app);
    const res = await api('GET', `/api/whatsapp/templates/${storeId}/stats?from=${today()}&to=${today()}`, { token: owner.token });
    expect(res.status, res.text).toBe(200);
    const body = res.body as unknown as { period: { from: string; to: string }; review_links_enabled: boolean; events: { event: string; primary_metric: string; variants: Record<string, unknown>[]; decisions: Record<string, unknown>[] }[] };
    expect(body.review_links_enabled).toBe(true);
    const completed = body.events.find((e) => e.event === 'completed')!;
    expect(completed.primary_metric).toBe('review_opened');
    const byId = new Map(completed.variants.map((v) => [v.template_id, v]));
    for (const [variant, tpl] of [['A', tplA], ['B', tplB]] as const) {
      const plan = PLAN[variant];
      expect(byId.get(tpl.id)).toMatchObject({
        template_name: tpl.name, variant, sent: PER_VARIANT, delivered: PER_VARIANT, read: PER_VARIANT - plan.unread,
        replied: plan.replied, opted_out: plan.optedOut, review_links: PER_VARIANT, review_opened: plan.opened,
      });
    }
    const rates = byId.get(tplB.id)!.rates as Record<string, { rate: number; low: number; high: number }>;
    expect(rates.review_opened!.rate).toBeCloseTo(14 / 24, 10);
    expect(rates.review_opened!.low).toBeLessThan(14 / 24);
    expect(rates.review_opened!.high).toBeGreaterThan(14 / 24);

    const decision = (metric: string) => completed.decisions.find((d) => d.metric === metric)!;
    // B is known to be better on opens and replies: named, with the margin.
    expect(decision('review_opened')).toMatchObject({ kind: 'winner', best_template_id: tplB.id, runner_up_template_id: tplA.id });
    expect(decision('review_opened').difference).toBeCloseTo(12 / 24, 10);
    expect(decision('review_opened').summary).toContain('«Личный» лучше, чем «Короткий»');
    expect(decision('replied')).toMatchObject({ kind: 'winner', best_template_id: tplB.id });
    // Reads: 22/24 against 20/24 is a near-tie; the sentence says how many more sends would settle it.
    const expected = decide([{ id: tplA.id, successes: 22, trials: 24 }, { id: tplB.id, successes: 20, trials: 24 }]);
    expect(expected.kind).toBe('undecided');
    const read = decision('read');
    expect(read).toMatchObject({ kind: 'undecided', leader_template_id: tplA.id });
    if (expected.kind === 'undecided') {
      expect(read.more_sends).toBe(expected.moreTrials);
      expect(read.summary).toContain(`нужно ещё примерно ${new Intl.NumberFormat('ru-RU').format(expected.moreTrials)}`);
    }
    // The other event has one variant and no sends: nothing to compare.
    const accepted = body.events.find((e) => e.event === 'accepted')!;
    expect(accepted.variants).toHaveLength(1);
    expect(accepted.decisions.every((d) => d.kind === 'no_comparison')).toBe(true);

    // English on request; a period outside today has no sends.
    const en = await api('GET', `/api/whatsapp/templates/${storeId}/stats`, { token: owner.token, headers: { 'accept-language': 'en' } });
    const enCompleted = (en.body as unknown as typeof body).events.find((e) => e.event === 'completed')!;
    expect(String(enCompleted.decisions.find((d) => d.metric === 'review_opened')!.summary)).toContain('“Личный” beats “Короткий”');
    const old = await api('GET', `/api/whatsapp/templates/${storeId}/stats?from=2020-01-01&to=2020-01-31`, { token: owner.token });
    expect((old.body as unknown as typeof body).events.find((e) => e.event === 'completed')!.variants.every((v) => v.sent === 0)).toBe(true);
  });

  it('refuses a bad period with the usual error shape, and another user\'s store with 404', async () => {
    const api = apiClient(ctx, app);
    for (const q of ['from=2026-13-01', 'from=yesterday', 'from=2026-05-02&to=2026-05-01', 'from=2020-01-01&to=2026-01-01']) {
      const res = await api('GET', `/api/whatsapp/templates/${storeId}/stats?${q}`, { token: owner.token });
      expect(res.status, q).toBe(400);
      expect(res.body).toMatchObject({ success: false, code: 'invalid_period' });
      expect(res.body.error).toMatch(/период/i);
      expect(Object.keys(res.body.fields ?? {})).toContain('from');
    }
    const en = await api('GET', `/api/whatsapp/templates/${storeId}/stats?from=x`, { token: owner.token, headers: { 'accept-language': 'en-US' } });
    expect(en.body.error).toMatch(/Invalid period/);
    const stranger = await newUser(ctx);
    expect((await api('GET', `/api/whatsapp/templates/${storeId}/stats`, { token: stranger.token })).status).toBe(404);
    expect((await api('GET', `/api/whatsapp/templates/${storeId}/stats`)).status).toBe(401);
  });

  it('exports the same figures as CSV', async () => {
    const api = apiClient(ctx, app);
    const res = await api('GET', `/api/whatsapp/templates/${storeId}/stats.csv?from=${today()}&to=${today()}`, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/csv');
    const lines = res.text.replace(/^\uFEFF/, '').trim().split('\n');
    expect(lines[0]).toMatch(/^period_from,period_to,event,variant,template_id,template_name,is_active,weight,sent,delivered,/);
    const header = lines[0]!.split(',');
    const rowB = lines.find((l) => l.includes(tplB.id))!.split(',');
    const cell = (name: string) => rowB[header.indexOf(name)];
    expect([cell('event'), cell('variant'), cell('sent'), cell('replied'), cell('review_opened'), cell('review_opened_rate')]).toEqual(['completed', 'B', '24', '12', '14', '0.5833']);
    expect(lines.find((l) => l.includes(tplB.id))).toContain('«Личный» лучше, чем «Короткий»');
    const page = await browser.get(`/stores/${storeId}/template-stats/export.csv?from=${today()}&to=${today()}`);
    expect(await page.text()).toContain(tplA.id);
  });

  it('the templates page shows the rates and the decision, and keeps only the better variant in one click', async () => {
    const list = await (await browser.get(`/stores/${storeId}/templates`)).text();
    expect(list).toContain(`hx-get="/stores/${storeId}/template-stats"`);
    const html = await (await browser.get(`/stores/${storeId}/template-stats?from=${today()}&to=${today()}`, { 'hx-request': 'true' })).text();
    expect(html).toContain('«Личный» лучше, чем «Короткий»');
    expect(html).toContain('нужно ещё примерно');
    expect(html).toContain('58'); // 14/24 opened the review link
    expect(html).toContain(`/template-stats/${tplB.id}/make-only`);
    const bad = await (await browser.get(`/stores/${storeId}/template-stats?from=nope`, { 'hx-request': 'true' })).text();
    expect(bad).toContain('Дата в формате ГГГГ-ММ-ДД');

    // Without the CSRF token: refused. Another store's template, through this store or its own: 404.
    expect((await browser.post(`/stores/${storeId}/template-stats/${tplB.id}/make-only`, {}, { csrf: null })).status).toBe(403);
    const elsewhere = await connectWhatsAppStore(ctx, { waha, webUrl: web.url, apiKey: API_KEY, webhookSecret: SECRET });
    const foreign = await createTemplate(ctx, elsewhere.store.id, 'completed', 'Чужой шаблон {review_link}');
    expect((await browser.post(`/stores/${storeId}/template-stats/${foreign.id}/make-only`, {})).status).toBe(404);
    expect((await browser.post(`/stores/${elsewhere.store.id}/template-stats/${foreign.id}/make-only`, {})).status).toBe(404);

    const done = await browser.post(`/stores/${storeId}/template-stats/${tplB.id}/make-only`, {});
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`/stores/${storeId}/templates`);
    const rows = await ctx.db.select().from(templates).where(eq(templates.storeId, storeId));
    expect(rows.find((r) => r.id === tplA.id)!.isActive).toBe(false);
    expect(rows.find((r) => r.id === tplB.id)!.isActive).toBe(true);
    // The other event's only variant was untouched.
    expect(rows.find((r) => r.id === tplOther.id)!.isActive).toBe(true);
    const audit = await ctx.db.select().from(auditLog).where(and(eq(auditLog.storeId, storeId), eq(auditLog.action, 'template.make_only_variant')));
    expect(audit.map((a) => a.details)).toContainEqual(expect.objectContaining({ template_id: tplB.id, event: 'completed', deactivated: [tplA.id] }));
    expect(audit.every((a) => a.userId === owner.user.id)).toBe(true);
  });

  /** The store's own WAHA session name. */
  async function senderSession(): Promise<string> {
    const [row] = await ctx.db.select({ name: senders.wahaSessionName }).from(senders).innerJoin(stores, eq(stores.senderId, senders.id)).where(eq(stores.id, storeId));
    return row!.name;
  }
});
