import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.ts';
import { auditLog, messageEvents, notifications, storeMembers, stores } from '../../drizzle/schema.ts';
import { createUser } from '../../lib/auth/users.ts';
import type { Actor } from '../../lib/services/access.ts';
import { createStore as createStoreService } from '../../lib/services/stores.ts';
import { formLogin } from '../support/api.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { queueNotification, sampleOrder } from '../support/fixtures.ts';

/**
 * The "Новый магазин" form (GET/POST /stores/new) and the message detail's resend button, through
 * app.request() like pages-security.test.ts: session + CSRF, Russian errors at the fields, escaping,
 * the Kaspi token never rendered back, and resend limited to the user's own failed/undelivered rows.
 */
let ctx: TestContext;
let app: Hono;
const startedWorkflows: string[] = [];

interface Browser {
  cookie: string;
  csrf: string;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  post(path: string, form: Record<string, string>, opts?: { csrf?: string | null; headers?: Record<string, string> }): Promise<Response>;
}

async function newUser() {
  const email = `stores-${randomUUID()}@example.kz`;
  const password = 'correct-horse-battery';
  const user = await createUser(ctx.db, { email, password });
  const actor: Actor = { kind: 'user', userId: user.id, isSuperAdmin: false };
  return { email, password, actor, userId: user.id };
}

async function signIn(email: string, password: string): Promise<Browser> {
  const res = await formLogin(app, { email, password });
  expect(res.status).toBe(303);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  const get = async (path: string, headers: Record<string, string> = {}) => app.request(path, { headers: { cookie, ...headers } });
  const home = await get('/');
  const html = home.status === 303 ? await (await get(home.headers.get('location')!)).text() : await home.text();
  const csrf = /<meta name="csrf-token" content="([^"]+)"/.exec(html)?.[1] ?? '';
  expect(csrf).not.toBe('');
  return {
    cookie,
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

const XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>';

beforeAll(async () => {
  ctx = await createTestContext();
  app = createApp(ctx);
});
afterAll(async () => {
  // Nothing runs the resend workflows started here (no worker): stop them.
  for (const id of startedWorkflows) await ctx.temporal.workflow.getHandle(id).terminate('test over').catch(() => undefined);
  await ctx?.close();
});

describe('admin pages: new store', () => {
  it('the empty state offers the form; the header links to it', async () => {
    const u = await newUser();
    const browser = await signIn(u.email, u.password);
    const home = await browser.get('/');
    expect(home.status).toBe(200);
    const html = await home.text();
    expect(html).toMatch(/<a class="btn btn-primary" href="\/stores\/new" id="create-first-store">Создать магазин<\/a>/);
    expect(html).toContain('id="add-store"');
    expect(html).toContain('JSON API'); // the short note stays
    const form = await browser.get('/stores/new');
    expect(form.status).toBe(200);
    const fh = await form.text();
    expect(fh).toContain('Новый магазин');
    expect(fh).toMatch(/id="timezone"[^>]*value="Asia\/Almaty"/);
    expect(fh).toMatch(/id="poll_interval_seconds"[^>]*value="60"/);
    expect(fh).toMatch(/type="password" id="kaspi_api_token"/);
  });

  it('requires a session and the CSRF token', async () => {
    const anon = await app.request('/stores/new');
    expect(anon.status).toBe(303);
    expect(anon.headers.get('location')).toMatch(/^\/login\?next=/);
    const anonPost = await app.request('/stores/new', { method: 'POST', body: new URLSearchParams({ name: 'x' }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(anonPost.status).toBe(303);

    const u = await newUser();
    const browser = await signIn(u.email, u.password);
    const name = `Без CSRF ${randomUUID()}`;
    expect((await browser.post('/stores/new', { name }, { csrf: null })).status).toBe(403);
    expect((await browser.post('/stores/new', { name }, { csrf: 'wrong-token' })).status).toBe(403);
    expect(await ctx.db.select().from(stores).where(eq(stores.name, name))).toHaveLength(0);
  });

  it('creates the store with the user as its member and opens its settings', async () => {
    const u = await newUser();
    const browser = await signIn(u.email, u.password);
    const token = `kaspi-secret-${randomUUID()}`;
    const res = await browser.post('/stores/new', { name: '  Магазин «Новый»  ', kaspi_api_token: token, kaspi_merchant_uid: '30012345', timezone: 'Asia/Aqtobe', poll_interval_seconds: '120' });
    expect(res.status).toBe(303);
    const location = res.headers.get('location')!;
    const storeId = /^\/stores\/([0-9a-f-]{36})\/settings$/.exec(location)?.[1];
    expect(storeId).toBeDefined();
    const [row] = await ctx.db.select().from(stores).where(eq(stores.id, storeId!));
    expect(row).toMatchObject({ name: 'Магазин «Новый»', kaspiMerchantUid: '30012345', timezone: 'Asia/Aqtobe', pollIntervalSeconds: 120 });
    expect(row!.kaspiTokenEnc).not.toBeNull();
    expect(row!.kaspiTokenEnc).not.toContain(token);
    expect(await ctx.db.select().from(storeMembers).where(and(eq(storeMembers.storeId, storeId!), eq(storeMembers.userId, u.userId)))).toHaveLength(1);
    // Post/Redirect/Get: the flash cookie comes with the redirect.
    const flash = res.headers.getSetCookie().find((x) => x.startsWith('kn_flash='))!.split(';')[0]!;
    const settings = await browser.get(location, { cookie: `${browser.cookie}; ${flash}` });
    expect(settings.status).toBe(200);
    const sh = await settings.text();
    expect(sh).toContain('Магазин создан');
    expect(sh).not.toContain(token);
    // The home page now goes to the new store.
    expect((await browser.get('/')).headers.get('location')).toBe(`/stores/${storeId}`);
    const audit = await ctx.db.select().from(auditLog).where(and(eq(auditLog.storeId, storeId!), eq(auditLog.action, 'store.create')));
    expect(JSON.stringify(audit)).not.toContain(token);

    // A push-only store: no token, defaults for the rest.
    const push = await browser.post('/stores/new', { name: 'Только push', kaspi_api_token: '', kaspi_merchant_uid: '', timezone: 'Asia/Almaty', poll_interval_seconds: '60' });
    expect(push.status).toBe(303);
    const pushId = /\/stores\/([0-9a-f-]{36})\//.exec(push.headers.get('location')!)![1]!;
    const [pushRow] = await ctx.db.select().from(stores).where(eq(stores.id, pushId));
    expect(pushRow).toMatchObject({ kaspiTokenEnc: null, kaspiMerchantUid: null, timezone: 'Asia/Almaty', pollIntervalSeconds: 60 });
  });

  it('shows Russian errors next to the fields, keeps the input, never renders the token back', async () => {
    const u = await newUser();
    const browser = await signIn(u.email, u.password);
    const token = `kaspi-secret-${randomUUID()}`;
    const res = await browser.post('/stores/new', { name: '   ', kaspi_api_token: token, kaspi_merchant_uid: 'm'.repeat(101), timezone: 'Mars/Base', poll_interval_seconds: '5' });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(/id="name-error"[^>]*>Укажите название магазина</);
    expect(html).toMatch(/id="timezone-error"[^>]*>Неизвестный часовой пояс/);
    expect(html).toMatch(/id="poll_interval_seconds-error"[^>]*>От 10 до 3600 секунд</);
    expect(html).toMatch(/id="kaspi_merchant_uid-error"[^>]*>Не длиннее 100 символов</);
    expect(html).toMatch(/id="timezone"[^>]*value="Mars\/Base"/);
    expect(html).not.toContain(token);
    expect(html).toMatch(/name="kaspi_api_token" value=""/);
    const garbage = await (await browser.post('/stores/new', { name: 'ok', poll_interval_seconds: 'abc' })).text();
    expect(garbage).toContain('id="poll_interval_seconds-error"');
    expect(await ctx.db.select().from(storeMembers).where(eq(storeMembers.userId, u.userId))).toHaveLength(0);
  });

  it('escapes markup in the name everywhere it is shown', async () => {
    const u = await newUser();
    const browser = await signIn(u.email, u.password);
    const res = await browser.post('/stores/new', { name: XSS, timezone: 'Mars/Base' });
    const invalid = await res.text();
    expect(invalid).not.toContain('<script>alert');
    expect(invalid).toContain('&lt;script&gt;');
    const ok = await browser.post('/stores/new', { name: XSS });
    expect(ok.status).toBe(303);
    const storeId = /\/stores\/([0-9a-f-]{36})\//.exec(ok.headers.get('location')!)![1]!;
    for (const path of ['/stores/new', `/stores/${storeId}`, `/stores/${storeId}/settings`]) {
      const html = await (await browser.get(path)).text();
      expect(html, path).not.toContain('<script>alert');
      expect(html, path).not.toContain('<img src=x');
      expect(html, path).toContain('&lt;script&gt;');
    }
  });
});

describe('admin pages: resend from the message detail', () => {
  it('resends a failed notification, refuses a read or expired one, and 404s for another store', async () => {
    const a = await newUser();
    const b = await newUser();
    const storeA = await createStoreService(ctx, a.actor, { name: 'Повтор А' });
    const storeB = await createStoreService(ctx, b.actor, { name: 'Повтор Б' });
    const A = `/stores/${storeA.store_id}`;
    const failed = await queueNotification(ctx, storeA.store_id, sampleOrder(), 'new');
    const read = await queueNotification(ctx, storeA.store_id, sampleOrder(), 'new');
    const stale = await queueNotification(ctx, storeA.store_id, sampleOrder(), 'new', new Date(Date.now() - 30 * 24 * 3600_000));
    const foreign = await queueNotification(ctx, storeB.store_id, sampleOrder(), 'new');
    await ctx.db.update(notifications).set({ status: 'failed', reasonCode: 'send_failed' }).where(eq(notifications.id, failed.id));
    await ctx.db.update(notifications).set({ status: 'read' }).where(eq(notifications.id, read.id));
    await ctx.db.update(notifications).set({ status: 'undelivered' }).where(eq(notifications.id, stale.id));
    await ctx.db.update(notifications).set({ status: 'failed' }).where(eq(notifications.id, foreign.id));
    const browser = await signIn(a.email, a.password);

    // The button is in the detail of failed/undelivered rows only.
    expect(await (await browser.get(`${A}/messages/${failed.id}`)).text()).toContain(`id="resend-button-${failed.id}"`);
    expect(await (await browser.get(`${A}/messages/${stale.id}`)).text()).toContain(`id="resend-button-${stale.id}"`);
    expect(await (await browser.get(`${A}/messages/${read.id}`)).text()).not.toContain('resend-button');

    // CSRF required.
    expect((await browser.post(`${A}/messages/${failed.id}/resend`, {}, { csrf: null })).status).toBe(403);
    expect((await ctx.db.select().from(notifications).where(eq(notifications.id, failed.id)))[0]!.status).toBe('failed');

    const res = await app.request(`${A}/messages/${failed.id}/resend`, { method: 'POST', headers: { cookie: browser.cookie, 'x-csrf-token': browser.csrf, 'hx-request': 'true' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Повторная отправка запущена (попытка №1)');
    const [after] = await ctx.db.select().from(notifications).where(eq(notifications.id, failed.id));
    expect(after!.status).toBe('scheduled');
    expect(after!.workflowId).toBe(`resend:${failed.id}:0`);
    startedWorkflows.push(after!.workflowId!);
    const events = await ctx.db.select().from(messageEvents).where(and(eq(messageEvents.notificationId, failed.id), eq(messageEvents.kind, 'resend')));
    expect(events).toHaveLength(1);
    expect(events[0]!.detail).toMatchObject({ requestedBy: `admin:${a.userId}` });
    // Now scheduled: a second click is refused and changes nothing.
    const twice = await (await browser.post(`${A}/messages/${failed.id}/resend`, {})).text();
    expect(twice).toContain('только для статусов');
    expect(twice).toContain('«Запланировано»');

    const refused = await browser.post(`${A}/messages/${read.id}/resend`, {});
    expect(refused.status).toBe(200);
    expect(await refused.text()).toContain('сейчас: «Прочитано»');
    const [readAfter] = await ctx.db.select().from(notifications).where(eq(notifications.id, read.id));
    expect(readAfter).toMatchObject({ status: 'read', workflowId: null });

    const expired = await (await browser.post(`${A}/messages/${stale.id}/resend`, {})).text();
    expect(expired).toContain('событие устарело');
    expect((await ctx.db.select().from(notifications).where(eq(notifications.id, stale.id)))[0]!.status).toBe('undelivered');

    // Another store's notification: through A's store or B's, the same 404; nothing changes.
    for (const path of [`${A}/messages/${foreign.id}/resend`, `/stores/${storeB.store_id}/messages/${foreign.id}/resend`, `${A}/messages/${randomUUID()}/resend`, `${A}/messages/not-a-uuid/resend`]) {
      expect((await browser.post(path, {})).status, path).toBe(404);
    }
    expect((await ctx.db.select().from(notifications).where(eq(notifications.id, foreign.id)))[0]).toMatchObject({ status: 'failed', workflowId: null });
  });
});
