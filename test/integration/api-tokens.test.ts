import { eq } from 'drizzle-orm';
import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.ts';
import { apiTokens } from '../../drizzle/schema.ts';
import { issueApiToken } from '../../lib/auth/api-tokens.ts';
import { setPassword } from '../../lib/auth/users.ts';
import { apiClient, formLogin, newUser } from '../support/api.ts';
import { createTestContext, type TestContext } from '../support/context.ts';

/** API tokens (docs/security.md): expiry, a new password ending tokens, the account's token page. */
let ctx: TestContext;
let app: Hono;
let call: ReturnType<typeof apiClient>;

beforeAll(async () => {
  ctx = await createTestContext();
  app = createApp(ctx);
  call = apiClient(ctx, app);
});
afterAll(async () => {
  await ctx?.close();
});

describe('API tokens', () => {
  it('an expired token is refused', async () => {
    const u = await newUser(ctx);
    const { id, token } = await issueApiToken(ctx.db, { userId: u.user.id, expiresAt: new Date(Date.now() + 3600_000) });
    expect((await call('GET', '/api/stores', { token })).status).toBe(200);
    await ctx.db.update(apiTokens).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(apiTokens.id, id));
    expect((await call('GET', '/api/stores', { token })).status).toBe(401);
  });

  it('a new password ends the user\'s tokens as it ends sessions', async () => {
    const u = await newUser(ctx);
    expect((await call('GET', '/api/stores', { token: u.token })).status).toBe(200);
    await setPassword(ctx.db, u.email, 'a-brand-new-password');
    expect((await call('GET', '/api/stores', { token: u.token })).status).toBe(401);
  });

  it('the account page lists the signed-in user\'s tokens with last use and expiry, and revokes one (CSRF-protected); another user\'s token is not found', async () => {
    const u = await newUser(ctx);
    const { id, token } = await issueApiToken(ctx.db, { userId: u.user.id, label: 'Интеграция 1С', expiresAt: new Date(Date.now() + 30 * 86400_000) });
    await call('GET', '/api/stores', { token });
    const other = await newUser(ctx);
    const [otherToken] = await ctx.db.select().from(apiTokens).where(eq(apiTokens.userId, other.user.id));

    const res = await formLogin(app, { email: u.email, password: u.password });
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
    const page = await app.request('/account/tokens', { headers: { cookie } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Интеграция 1С');
    expect(html).toContain(id);
    expect(html).not.toContain(token);
    expect(html).not.toContain(otherToken!.id);
    expect(html).toMatch(/Последнее использование/);
    const csrf = /<meta name="csrf-token" content="([^"]+)"/.exec(html)?.[1] ?? '';

    const noCsrf = await app.request(`/account/tokens/${id}/revoke`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(noCsrf.status).toBe(403);
    const foreign = await app.request(`/account/tokens/${otherToken!.id}/revoke`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: `_csrf=${csrf}` });
    expect(foreign.status).toBe(404);
    expect((await call('GET', '/api/stores', { token: other.token })).status).toBe(200);
    const revoke = await app.request(`/account/tokens/${id}/revoke`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: `_csrf=${csrf}` });
    expect(revoke.status).toBe(303);
    expect((await call('GET', '/api/stores', { token })).status).toBe(401);
    expect(await (await app.request('/account/tokens', { headers: { cookie } })).text()).toMatch(/Отозван/);
  });
});
