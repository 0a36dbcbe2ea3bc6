import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hono } from 'hono';
import { createApp } from '../../api/app.ts';
import { createUser } from '../../lib/auth/users.ts';
import { saveWhatsappSettings } from '../../lib/services/settings.ts';
import { createStore as createStoreService, updateStore } from '../../lib/services/stores.ts';
import { createTemplate as createTemplateService } from '../../lib/services/templates.ts';
import type { Actor } from '../../lib/services/access.ts';
import { formLogin } from '../support/api.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { queueNotification, sampleOrder } from '../support/fixtures.ts';
import { randomUUID } from 'node:crypto';

/**
 * The admin pages' safety through app.request(): sign-in required, one store's pages invisible to
 * another store's user (404, ids guessed or not), CSRF on every state change, everything escaped,
 * no secret in any page.
 */
let ctx: TestContext;
let app: Hono;

interface Browser {
  cookie: string;
  csrf: string;
  get(path: string, headers?: Record<string, string>): Response | Promise<Response>;
  post(path: string, form: Record<string, string>, opts?: { csrf?: string | null; headers?: Record<string, string> }): Response | Promise<Response>;
}

async function signIn(email: string, password: string): Promise<Browser> {
  const res = await formLogin(app, { email, password });
  expect(res.status).toBe(303);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  expect(cookie).toMatch(/^kn_session=/);
  const get = (path: string, headers: Record<string, string> = {}) => app.request(path, { headers: { cookie, ...headers } });
  const home = await get('/', {});
  const location = home.headers.get('location');
  const page = await get(location ?? '/');
  const html = await page.text();
  const csrf = /<meta name="csrf-token" content="([^"]+)"/.exec(html)?.[1] ?? '';
  expect(csrf).not.toBe('');
  return {
    cookie,
    csrf,
    get,
    post: (path, form, opts = {}) => {
      const body = new URLSearchParams(form);
      const token = opts.csrf === undefined ? csrf : opts.csrf;
      if (token !== null) body.set('_csrf', token);
      return app.request(path, { method: 'POST', body, headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...opts.headers } });
    },
  };
}

async function newUserWithStore(storeName: string) {
  const email = `pages-${randomUUID()}@example.kz`;
  const password = 'correct-horse-battery';
  const user = await createUser(ctx.db, { email, password });
  const actor: Actor = { kind: 'user', userId: user.id, isSuperAdmin: false };
  const store = await createStoreService(ctx, actor, { name: storeName, kaspi_api_token: `kaspi-token-${randomUUID()}` });
  return { email, password, actor, store };
}

const XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>';

beforeAll(async () => {
  ctx = await createTestContext();
  app = createApp(ctx);
});
afterAll(async () => {
  await ctx?.close();
});

describe('admin pages: authentication', () => {
  it('sends anonymous visitors to the login page', async () => {
    for (const path of ['/', `/stores/${randomUUID()}`, `/stores/${randomUUID()}/settings`, `/stores/${randomUUID()}/messages.csv`]) {
      const res = await app.request(path);
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toMatch(/^\/login\?next=/);
    }
    const post = await app.request(`/stores/${randomUUID()}/pause`, { method: 'POST' });
    expect(post.status).toBe(303);
    const htmx = await app.request(`/stores/${randomUUID()}/settings/session`, { headers: { 'hx-request': 'true' } });
    expect(htmx.status).toBe(401);
    expect(htmx.headers.get('hx-redirect')).toMatch(/^\/login/);
    const login = await app.request('/login');
    expect(login.status).toBe(200);
    expect(await login.text()).toContain('name="password"');
  });

  it('shows a wrong password next to the field', async () => {
    const res = await app.request('/login?error=invalid_credentials');
    const html = await res.text();
    expect(html).toContain('Неверный email или пароль');
    expect((await (await app.request('/login?error=rate_limited')).text())).toContain('Слишком много');
  });
});

describe('admin pages: tenancy', () => {
  it("a user of store A gets 404 for every page and action of store B", async () => {
    const a = await newUserWithStore('Магазин А');
    const b = await newUserWithStore('Магазин Б');
    const bTemplate = await createTemplateService(ctx, b.actor, b.store.store_id, { template_name: 'Б', template_text: 'Заказ {order_num}' });
    const bOrder = sampleOrder();
    const bNotification = await queueNotification(ctx, b.store.store_id, bOrder, 'new');
    const browser = await signIn(a.email, a.password);
    const B = `/stores/${b.store.store_id}`;
    const A = `/stores/${a.store.store_id}`;
    expect((await browser.get(A)).status).toBe(200);
    for (const path of [
      B, `${B}/templates`, `${B}/templates/new`, `${B}/templates/${bTemplate.id}`, `${B}/settings`, `${B}/messages`, `${B}/messages.csv`,
      `${B}/messages/${bNotification.id}`, `${B}/orders/${bOrder.code}`, `${B}/opt-outs`, `${B}/audit`, `${B}/settings/session`, `${B}/settings/qr.png`,
      // ids of B through A's own store
      `${A}/templates/${bTemplate.id}`, `${A}/messages/${bNotification.id}`, `${A}/orders/${bOrder.code}`,
      // malformed and unknown ids
      '/stores/not-a-uuid', `/stores/${randomUUID()}`, `${A}/templates/not-a-uuid`, `${A}/messages/${randomUUID()}`,
    ]) {
      const res = await browser.get(path);
      expect(res.status, path).toBe(404);
    }
    for (const path of [`${B}/pause`, `${B}/resume`, `${B}/cancel-queued`, `${B}/templates`, `${B}/templates/${bTemplate.id}`, `${B}/templates/${bTemplate.id}/delete`,
      `${A}/templates/${bTemplate.id}`, `${A}/templates/${bTemplate.id}/delete`, `${B}/settings/store`, `${B}/settings/whatsapp`, `${B}/settings/pacing`,
      `${B}/settings/reveal-secret`, `${B}/settings/configure-waha`, `${B}/settings/test-send`, `${B}/settings/test-kaspi`, `${B}/opt-outs`, `${B}/opt-outs/remove`,
      `${B}/templates/preview`]) {
      const res = await browser.post(path, { name: 'x', template_name: 'x', template_text: 'x', phone: '+77011234567', phone_number: '+77011234567' });
      expect(res.status, path).toBe(404);
    }
    // Nothing of B changed.
    const bBrowser = await signIn(b.email, b.password);
    const bTemplates = await (await bBrowser.get(`${B}/templates`)).text();
    expect(bTemplates).toContain(bTemplate.id);
    const bDash = await (await bBrowser.get(B)).text();
    expect(bDash).toContain('Отправка идёт');
    // The switcher lists only A's store.
    const aDash = await (await browser.get(A)).text();
    expect(aDash).not.toContain('Магазин Б');
  });
});

describe('admin pages: CSRF', () => {
  it('refuses state changes without the token or with a wrong one (403)', async () => {
    const a = await newUserWithStore('CSRF магазин');
    const browser = await signIn(a.email, a.password);
    const A = `/stores/${a.store.store_id}`;
    for (const path of [`${A}/pause`, `${A}/cancel-queued`, `${A}/templates`, `${A}/settings/store`, `${A}/settings/reveal-secret`, `${A}/opt-outs`, `${A}/templates/preview`, '/logout']) {
      expect((await browser.post(path, { name: 'x' }, { csrf: null })).status, path).toBe(403);
      expect((await browser.post(path, { name: 'x' }, { csrf: 'wrong-token' })).status, path).toBe(403);
    }
    const dash = await (await browser.get(A)).text();
    expect(dash).toContain('Отправка идёт');
    // With the token (form field or htmx header) it works.
    expect((await browser.post(`${A}/pause`, {})).status).toBe(303);
    const viaHeader = await app.request(`${A}/resume`, { method: 'POST', headers: { cookie: browser.cookie, 'x-csrf-token': browser.csrf, 'hx-request': 'true' } });
    expect(viaHeader.status).toBe(303);
  });
});

describe('admin pages: escaping and secrets', () => {
  it('renders XSS strings in every text field escaped and never shows a secret', async () => {
    const a = await newUserWithStore(XSS);
    const browser = await signIn(a.email, a.password);
    const A = `/stores/${a.store.store_id}`;
    const kaspiToken = `kaspi-secret-${randomUUID()}`;
    const apiKey = `waha-key-${randomUUID()}`;
    const webhookSecret = `hook-secret-${randomUUID()}`;
    await updateStore(ctx, a.actor, a.store.store_id, { kaspi_api_token: kaspiToken, test_mode_phone: '<b>77011234567</b>' });
    await saveWhatsappSettings(ctx, a.actor, a.store.store_id, { waha_server_url: 'http://127.0.0.1:9', waha_session_name: 'xss', waha_api_key: apiKey, webhook_secret: webhookSecret });

    const created = await browser.post(`${A}/templates`, { template_name: XSS, template_text: `Привет ${XSS} {user_name}`, event: 'new', is_active: 'on', weight: '100', delay_minutes: '0' });
    expect(created.status).toBe(303);
    const optOut = await browser.post(`${A}/opt-outs`, { phone: '+7 701 123 45 67', note: XSS });
    expect(optOut.status).toBe(303);
    // A notification whose reason and text carry markup.
    const order = sampleOrder({ code: `X${Date.now()}` });
    await queueNotification(ctx, a.store.store_id, order, 'new');

    const preview = await browser.post(`${A}/templates/preview`, { template_text: `${XSS} {user_name}` });
    const previewHtml = await preview.text();
    expect(previewHtml).not.toContain('<script>alert');
    expect(previewHtml).toContain('&lt;script&gt;');

    const templates = await (await browser.get(`${A}/templates`)).text();
    const templateId = /\/templates\/([0-9a-f-]{36})/.exec(templates)?.[1];
    const pages = [A, `${A}/templates`, `${A}/templates/new`, `${A}/templates/${templateId}`, `${A}/settings`, `${A}/messages`, `${A}/orders/${order.code}`, `${A}/opt-outs`, `${A}/audit`];
    for (const path of pages) {
      const res = await browser.get(path);
      expect(res.status, path).toBe(200);
      const html = await res.text();
      expect(html, path).not.toContain('<script>alert');
      expect(html, path).not.toContain('<img src=x');
      expect(html, path).not.toContain('<b>77011234567');
      for (const secret of [kaspiToken, apiKey, webhookSecret]) expect(html, `${path} leaks a secret`).not.toContain(secret);
      // Every script is ours, from our own origin.
      for (const m of html.matchAll(/<script([^>]*)>/g)) expect(m[1], path).toMatch(/src="\/static\//);
    }
    const settings = await (await browser.get(`${A}/settings`)).text();
    expect(settings).toContain('&lt;script&gt;');
    // The only way to see the webhook secret is the CSRF-protected Reveal (audited).
    const reveal = await browser.post(`${A}/settings/reveal-secret`, {});
    expect(await reveal.text()).toContain(webhookSecret);
    const audit = await (await browser.get(`${A}/audit`)).text();
    expect(audit).toContain('whatsapp_settings.reveal_webhook_secret');
    expect(audit).not.toContain(webhookSecret);
  });

  it('shows validation errors next to the fields', async () => {
    const a = await newUserWithStore('Валидация');
    const browser = await signIn(a.email, a.password);
    const A = `/stores/${a.store.store_id}`;
    const res = await browser.post(`${A}/templates`, { template_name: '', template_text: 'Здравствуйте, {nonexistent}!', event: 'new', weight: '100', delay_minutes: '0' });
    // Form errors re-render the form (200, so the browser console stays clean) with messages at the fields.
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('id="template_name-error"');
    expect(html).toMatch(/id="template_text-error"[^>]*>[^<]*\{nonexistent\}/);
    const s = await browser.post(`${A}/settings/store`, { name: 'ok', poll_interval_seconds: '5', timezone: 'Mars/Base', enabled: 'on' });
    expect(s.status).toBe(200);
    const sh = await s.text();
    expect(sh).toContain('id="poll_interval_seconds-error"');
    expect(sh).toContain('id="timezone-error"');
  });
});
