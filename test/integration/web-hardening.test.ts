import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.ts';
import { errorResponse } from '../../api/json/respond.ts';
import { pageErrorHandler } from '../../api/pages/common.tsx';
import type { AppContext } from '../../lib/context.ts';
import { REDACT_PATHS } from '../../lib/logger.ts';
import { newUser } from '../support/api.ts';
import { createTestContext, type TestContext } from '../support/context.ts';

/**
 * Hardening (docs/security.md): security headers on every route, login CSRF, /metrics behind a token,
 * /readyz without error text, database errors logged without their query parameters.
 */
let ctx: TestContext;
let app: Hono;

beforeAll(async () => {
  ctx = await createTestContext();
  app = createApp(ctx);
});
afterAll(async () => {
  await ctx?.close();
});

const form = (fields: Record<string, string>, cookie?: string) => ({
  method: 'POST',
  body: new URLSearchParams(fields),
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
});

describe('security headers (item 7)', () => {
  it('every route answers with CSP frame-ancestors, nosniff, a Referrer-Policy and no framing — not only /stores/*', async () => {
    const responses = {
      login: await app.request('/login'),
      loginPost: await app.request('/login', form({ email: 'x@example.kz', password: 'nope' })),
      healthz: await app.request('/healthz'),
      api: await app.request('/api/stores'),
      static: await app.request('/static/app.js'),
      missing: await app.request('/no-such-page'),
    };
    for (const [name, res] of Object.entries(responses)) {
      expect(res.headers.get('content-security-policy'), name).toMatch(/frame-ancestors 'none'/);
      expect(res.headers.get('content-security-policy'), name).toMatch(/default-src 'self'/);
      expect(res.headers.get('x-content-type-options'), name).toBe('nosniff');
      expect(res.headers.get('referrer-policy'), name).toBeTruthy();
      expect(res.headers.get('x-frame-options'), name).toBe('DENY');
      // Plain http: HSTS would be ignored by browsers and stick a wrong promise on the host.
      expect(res.headers.get('strict-transport-security'), name).toBeNull();
    }
  });

  it('HSTS when PUBLIC_URL is https', async () => {
    const httpsApp = createApp({ ...ctx, config: { ...ctx.config, PUBLIC_URL: 'https://notify.example.kz' } });
    for (const path of ['/login', '/healthz', '/api/stores']) {
      expect((await httpsApp.request(path)).headers.get('strict-transport-security'), path).toMatch(/max-age=\d{7,}/);
    }
  });
});

describe('login CSRF (item 7)', () => {
  it('a login form posted without the token of GET /login signs nobody in', async () => {
    const u = await newUser(ctx);
    const res = await app.request('/login', form({ email: u.email, password: u.password }));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/login\?error=csrf_failed/);
    expect(res.headers.get('set-cookie') ?? '').not.toMatch(/kn_session=/);
  });

  it('a token from another visitor (or a forged one) is refused too; the page\'s own token works', async () => {
    const u = await newUser(ctx);
    const page = await app.request('/login');
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0]!;
    expect(cookie).toMatch(/^kn_login_csrf=/);
    const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1];
    expect(token).toBeTruthy();
    const forged = await app.request('/login', form({ email: u.email, password: u.password, _csrf: 'x'.repeat(token!.length) }, cookie));
    expect(forged.headers.get('set-cookie') ?? '').not.toMatch(/kn_session=/);
    const ok = await app.request('/login', form({ email: u.email, password: u.password, _csrf: token! }, cookie));
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/');
    expect(ok.headers.get('set-cookie')).toMatch(/kn_session=/);
  });

  it('only a real application/json body counts as the JSON login (a cross-site text/plain post does not)', async () => {
    const u = await newUser(ctx);
    const res = await app.request('/login', { method: 'POST', headers: { 'content-type': 'text/plain; x=application/json' }, body: JSON.stringify({ email: u.email, password: u.password }) });
    expect(res.headers.get('set-cookie') ?? '').not.toMatch(/kn_session=/);
  });
});

describe('what leaks (item 8)', () => {
  it('/metrics is not served on the web port without METRICS_TOKEN, and needs it as a bearer token when set', async () => {
    expect((await app.request('/metrics')).status).toBe(404);
    const withToken = createApp({ ...ctx, config: { ...ctx.config, METRICS_TOKEN: 'metrics-token-0123456789abcdef' } });
    expect((await withToken.request('/metrics')).status).toBe(401);
    expect((await withToken.request('/metrics', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await withToken.request('/metrics', { headers: { authorization: 'Bearer metrics-token-0123456789abcdef' } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('kaspi_notify_polls_total');
  });

  it('/readyz names the failing part without the error text', async () => {
    const broken = {
      ...ctx,
      db: { execute: () => Promise.reject(new Error('password authentication failed for user "kn" at 10.0.0.4:5432')) },
      temporal: { connection: { operatorService: { listSearchAttributes: () => Promise.reject(new Error('14 UNAVAILABLE: connect ECONNREFUSED 10.0.0.5:7233')) } } },
    } as unknown as AppContext;
    const res = await createApp(broken).request('/readyz');
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ ok: false, failing: { postgres: 'unavailable', temporal: 'unavailable' } });
    for (const leak of ['10.0.0', 'password', 'ECONNREFUSED', 'kn']) expect(text).not.toContain(leak);
  });

  it('web error logs keep the database error code, never the query parameters (phones, texts)', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, new Writable({ write(chunk: Buffer, _e, done) { lines.push(chunk.toString('utf8')); done(); } }));
    const logged = { ...ctx, logger } as AppContext;
    const dbError = await ctx.db.execute(sql`select ${'77011234567 Здравствуйте, Айгерим'}::int`).then(() => null, (err: unknown) => err);
    expect(String((dbError as Error).message)).toContain('77011234567');
    const probe = new Hono();
    probe.get('/json', () => { throw dbError; });
    probe.onError((err, c) => errorResponse(logged, c, err));
    const pages = new Hono();
    pages.get('/page', () => { throw dbError; });
    pages.onError(pageErrorHandler(logged));
    expect((await probe.request('/json')).status).toBe(500);
    expect((await pages.request('/page')).status).toBe(500);
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).toMatch(/database error 22[0-9A-Z]{3}/);
      for (const leak of ['77011234567', 'Здравствуйте', 'Айгерим']) expect(line).not.toContain(leak);
    }
  });
});
