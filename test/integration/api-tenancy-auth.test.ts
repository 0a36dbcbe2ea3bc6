import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.ts';
import { issueApiToken, revokeApiToken } from '../../lib/auth/api-tokens.ts';
import { addMember } from '../../lib/auth/users.ts';
import { notifications, templates } from '../../drizzle/schema.ts';
import { apiClient, formLogin, newUser } from '../support/api.ts';
import { createTestContext, type TestContext } from '../support/context.ts';

let ctx: TestContext;
let call: ReturnType<typeof apiClient>;
let alice: Awaited<ReturnType<typeof newUser>>;
let bob: Awaited<ReturnType<typeof newUser>>;
let storeA: string;
let storeB: string;
let templateB: string;
const SECRETS = ['kaspi-token-B-plain', 'waha-key-B-plain', 'webhook-secret-B-plain-0123456789'];

beforeAll(async () => {
  ctx = await createTestContext();
  call = apiClient(ctx);
  alice = await newUser(ctx);
  bob = await newUser(ctx);
  storeA = (await call('POST', '/api/stores', { token: alice.token, body: { name: 'A' } })).body.store_id as string;
  storeB = (await call('POST', '/api/stores', { token: bob.token, body: { name: 'B', kaspi_api_token: SECRETS[0] } })).body.store_id as string;
  await call('POST', `/api/whatsapp/settings/${storeB}`, { token: bob.token, body: { waha_server_url: 'http://127.0.0.1:1', waha_session_name: `b${storeB.slice(0, 6)}`, waha_api_key: SECRETS[1], webhook_secret: SECRETS[2] } });
  templateB = (await call('POST', `/api/whatsapp/templates/${storeB}`, { token: bob.token, body: { template_name: 'B', template_text: 'B {order_num}' } })).body.template_id as string;
  await ctx.db.insert(notifications).values({ storeId: storeB, orderCode: 'B1', event: 'new' });
});
afterAll(async () => {
  await ctx.close();
});

function requestsAgainst(store: string, template: string): [string, string, unknown?][] {
  return [
    ['GET', `/api/whatsapp/settings/${store}`],
    ['POST', `/api/whatsapp/settings/${store}`, { daily_cap: 1 }],
    ['GET', `/api/whatsapp/templates/${store}`],
    ['POST', `/api/whatsapp/templates/${store}`, { template_name: 'x', template_text: 'x' }],
    ['PUT', `/api/whatsapp/templates/${template}`, { template_name: 'hacked' }],
    ['DELETE', `/api/whatsapp/templates/${template}`],
    ['POST', `/api/whatsapp/send-test/${store}`, { phone_number: '87011234567', template_text: 'hi' }],
    ['GET', `/api/whatsapp/messages/${store}`],
    ['GET', `/api/whatsapp/messages/${store}/export.csv`],
    ['POST', `/api/kaspi/orders/${store}`, [{ orderId: 'Z1', status: 'NEW' }]],
  ];
}

describe('tenancy', () => {
  it("a user of store A cannot read or change store B: 404 everywhere, like an id that does not exist or is malformed", async () => {
    const cases = [
      ...requestsAgainst(storeB, templateB),
      ...requestsAgainst(randomUUID(), randomUUID()),
      ...requestsAgainst('not-a-uuid', '123'),
      ...requestsAgainst("1' or '1'='1", '%00'),
    ];
    for (const [method, path, body] of cases) {
      const r = await call(method, path, { token: alice.token, body });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body, `${method} ${path}`).toEqual({ success: false, error: 'Не найдено', code: 'not_found' });
    }
    const stores = await call('GET', '/api/stores', { token: alice.token });
    expect((stores.body.stores as { store_id: string }[]).map((s) => s.store_id)).toEqual([storeA]);
    const [t] = await ctx.db.select().from(templates).where(eq(templates.id, templateB));
    expect(t).toMatchObject({ name: 'B', deletedAt: null });
    const n = await ctx.db.select().from(notifications).where(eq(notifications.storeId, storeB));
    expect(n).toHaveLength(1);
  });

  it('a store-scoped token sees only its store; a revoked token is 401; a super-admin sees all; membership grants access', async () => {
    const { token: scoped } = await issueApiToken(ctx.db, { userId: bob.user.id, storeId: storeB });
    const other = (await call('POST', '/api/stores', { token: bob.token, body: { name: 'B2' } })).body.store_id as string;
    expect((await call('GET', `/api/whatsapp/templates/${storeB}`, { token: scoped })).status).toBe(200);
    expect((await call('GET', `/api/whatsapp/templates/${other}`, { token: scoped })).status).toBe(404);
    const list = await call('GET', '/api/stores', { token: scoped });
    expect((list.body.stores as { store_id: string }[]).map((s) => s.store_id)).toEqual([storeB]);
    expect((await call('POST', '/api/stores', { token: scoped, body: { name: 'escape' } })).status).toBe(400);

    const { id, token: revocable } = await issueApiToken(ctx.db, { userId: bob.user.id });
    expect((await call('GET', '/api/stores', { token: revocable })).status).toBe(200);
    expect(await revokeApiToken(ctx.db, bob.user.id, id)).toBe(true);
    expect((await call('GET', '/api/stores', { token: revocable })).status).toBe(401);

    const root = await newUser(ctx, { superAdmin: true });
    expect((await call('GET', `/api/whatsapp/settings/${storeB}`, { token: root.token })).status).toBe(200);

    const carol = await newUser(ctx);
    expect((await call('GET', `/api/whatsapp/settings/${storeB}`, { token: carol.token })).status).toBe(404);
    await addMember(ctx.db, carol.email, storeB);
    expect((await call('GET', `/api/whatsapp/settings/${storeB}`, { token: carol.token })).status).toBe(200);
  });

  it('no secret ever appears in any response', async () => {
    const responses = [
      await call('GET', '/api/stores', { token: bob.token }),
      await call('GET', `/api/whatsapp/settings/${storeB}`, { token: bob.token }),
      await call('POST', `/api/whatsapp/settings/${storeB}`, { token: bob.token, body: { daily_cap: 10 } }),
      await call('POST', `/api/whatsapp/settings/${storeB}`, { token: bob.token, body: { min_gap_seconds: 99, max_gap_seconds: 1 } }),
      await call('GET', `/api/whatsapp/templates/${storeB}`, { token: bob.token }),
      await call('GET', `/api/whatsapp/messages/${storeB}`, { token: bob.token }),
      await call('POST', `/api/whatsapp/send-test/${storeB}`, { token: bob.token, body: { phone_number: '87011234567', template_text: 'Тест {order_num}' } }),
    ];
    for (const r of responses) for (const s of SECRETS) expect(r.text).not.toContain(s);
    const settings = responses[1]!.body.settings as Record<string, unknown>;
    expect(settings).toMatchObject({ waha_api_key_set: true, webhook_secret_set: true });
  });
});

describe('send-test error paths (success through the simulator: api-send-test.test.ts)', () => {
  it('400 for a bad phone or template, 409 without settings, 502 when WAHA is unreachable', async () => {
    const bad = await call('POST', `/api/whatsapp/send-test/${storeA}`, { token: alice.token, body: { phone_number: '123', template_text: 'Hi {nope}' } });
    expect(bad.status).toBe(400);
    expect(bad.body.fields).toMatchObject({ phone_number: expect.any(String), template_text: expect.stringContaining('{nope}') });
    const missing = await call('POST', `/api/whatsapp/send-test/${storeA}`, { token: alice.token, body: {} });
    expect(missing.status).toBe(400);
    const noSettings = await call('POST', `/api/whatsapp/send-test/${storeA}`, { token: alice.token, body: { phone_number: '+7 701 123 45 67', template_text: 'Заказ {order_num}', sample_data: { order_id: '777' } } });
    expect(noSettings.status).toBe(409);
    expect(noSettings.body.code).toBe('settings_missing');
    // Store B's WAHA is http://127.0.0.1:1 — nothing listens there.
    const down = await call('POST', `/api/whatsapp/send-test/${storeB}`, { token: bob.token, body: { phone_number: '87011234567', template_text: 'Заказ {order_num}' } });
    expect(down.status).toBe(502);
    expect(down.body).toMatchObject({ success: false, code: 'waha_error' });
  });
});

describe('sessions, CSRF, login rate limit', () => {
  it('login sets an HttpOnly SameSite=Lax cookie; cookie-authenticated POST needs the CSRF token (header or _csrf), else 403', async () => {
    const app = createApp(ctx);
    const login = await app.request('/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: alice.email, password: alice.password }) });
    expect(login.status).toBe(200);
    const cookieHeader = login.headers.get('set-cookie')!;
    expect(cookieHeader).toMatch(/^kn_session=/);
    expect(cookieHeader).toMatch(/HttpOnly/i);
    expect(cookieHeader).toMatch(/SameSite=Lax/i);
    expect(cookieHeader).not.toMatch(/Secure/i);
    const { csrf_token: csrf } = (await login.json()) as { csrf_token: string };
    const cookie = cookieHeader.split(';')[0]!;

    const get = await app.request(`/api/whatsapp/templates/${storeA}`, { headers: { cookie } });
    expect(get.status).toBe(200);
    const body = JSON.stringify({ template_name: 'c', template_text: 'c {order_num}' });
    const noCsrf = await app.request(`/api/whatsapp/templates/${storeA}`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body });
    expect(noCsrf.status).toBe(403);
    expect(await noCsrf.json()).toMatchObject({ success: false, code: 'csrf_failed' });
    const wrong = await app.request(`/api/whatsapp/templates/${storeA}`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': 'x'.repeat(32) }, body });
    expect(wrong.status).toBe(403);
    const ok = await app.request(`/api/whatsapp/templates/${storeA}`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': csrf }, body });
    expect(ok.status).toBe(201);

    const formLogoutNoCsrf = await app.request('/logout', { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(formLogoutNoCsrf.status).toBe(403);
    const formLogout = await app.request('/logout', { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: `_csrf=${encodeURIComponent(csrf)}` });
    expect(formLogout.status).toBe(303);
    expect((await app.request(`/api/whatsapp/templates/${storeA}`, { headers: { cookie } })).status).toBe(401);
    // Store B stays invisible to Alice's session too.
    const again = await formLogin(app, { email: alice.email, password: alice.password, next: '//evil.example' });
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe('/');
    const cookie2 = again.headers.get('set-cookie')!.split(';')[0]!;
    expect((await app.request(`/api/whatsapp/settings/${storeB}`, { headers: { cookie: cookie2 } })).status).toBe(404);
  });

  it('5 failed logins per email+IP within 15 minutes block the 6th attempt, even with the right password', async () => {
    const app = createApp(ctx);
    const victim = await newUser(ctx);
    const attempt = (password: string) => app.request('/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: victim.email, password }) });
    for (let i = 0; i < 5; i++) {
      const r = await attempt('wrong-password');
      expect(r.status).toBe(401);
      expect(await r.json()).toMatchObject({ success: false, code: 'invalid_credentials' });
    }
    const blocked = await attempt(victim.password);
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await blocked.json()).toMatchObject({ success: false, code: 'rate_limited' });
    // Another account from the same IP is not affected.
    const other = await newUser(ctx);
    const ok = await app.request('/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: other.email, password: other.password }) });
    expect(ok.status).toBe(200);
  });
});
