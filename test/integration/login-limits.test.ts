import { randomBytes, randomInt, scryptSync } from 'node:crypto';
import { eq, lt } from 'drizzle-orm';
import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.ts';
import { loginFailures, users } from '../../drizzle/schema.ts';
import { newUser } from '../support/api.ts';
import { createTestContext, type TestContext } from '../support/context.ts';

/**
 * Login limits (docs/security.md): per account and per client address (an IPv6 /64) besides
 * (email, address), kept in PostgreSQL so replicas share them; X-Forwarded-For believed only from
 * TRUSTED_PROXIES; a cap on concurrent password hashing; scrypt at OWASP's parameters with
 * re-hashing on login.
 */
let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx?.close();
});

const randomIp = () => `198.18.${randomInt(256)}.${randomInt(1, 255)}`;
const randomEmail = () => `nobody-${randomBytes(6).toString('hex')}@example.kz`;

/** A JSON login as if from `ip` (the socket address @hono/node-server reports). */
function attempt(app: Hono, email: string, password: string, ip: string, headers: Record<string, string> = {}) {
  return app.request('/login', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ email, password }) }, { incoming: { socket: { remoteAddress: ip } } });
}

describe('login limits', () => {
  it('one address trying many accounts is throttled (per-IP limit)', async () => {
    const app = createApp(ctx);
    const ip = randomIp();
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await attempt(app, randomEmail(), 'wrong-password', ip)).status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    // Another address is not affected.
    const u = await newUser(ctx);
    expect((await attempt(app, u.email, u.password, randomIp())).status).toBe(200);
  });

  it('one account tried from many addresses is throttled (per-account limit)', async () => {
    const app = createApp(ctx);
    const victim = await newUser(ctx);
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await attempt(app, victim.email, 'wrong-password', randomIp())).status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
  });

  it('IPv6 addresses of one /64 share one limit', async () => {
    const app = createApp(ctx);
    const prefix = `2001:db8:${randomInt(0xffff).toString(16)}:${randomInt(0xffff).toString(16)}`;
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await attempt(app, randomEmail(), 'wrong-password', `${prefix}::${(i + 1).toString(16)}`)).status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
  });

  it('two web replicas (two apps) count the same failures', async () => {
    const [a, b] = [createApp(ctx), createApp(ctx)];
    const victim = await newUser(ctx);
    const ip = randomIp();
    for (let i = 0; i < 5; i++) expect((await attempt(i % 2 ? a : b, victim.email, 'wrong-password', ip)).status).toBe(401);
    expect((await attempt(a, victim.email, victim.password, ip)).status).toBe(429);
    expect((await attempt(b, victim.email, victim.password, ip)).status).toBe(429);
  });

  it('X-Forwarded-For is ignored unless the socket is a trusted proxy; behind one, clients are limited apart', async () => {
    const app = createApp(ctx);
    const victim = await newUser(ctx);
    const ip = randomIp();
    // A forged header does not give a direct client a fresh address per attempt.
    for (let i = 0; i < 5; i++) await attempt(app, victim.email, 'wrong-password', ip, { 'x-forwarded-for': randomIp() });
    expect((await attempt(app, victim.email, victim.password, ip, { 'x-forwarded-for': randomIp() })).status).toBe(429);

    const proxied = createApp({ ...ctx, config: { ...ctx.config, TRUSTED_PROXIES: ['10.9.0.0/16'] } });
    const other = await newUser(ctx);
    const [client1, client2] = [randomIp(), randomIp()];
    for (let i = 0; i < 5; i++) await attempt(proxied, other.email, 'wrong-password', '10.9.0.7', { 'x-forwarded-for': `203.0.113.9, ${client1}` });
    expect((await attempt(proxied, other.email, other.password, '10.9.0.7', { 'x-forwarded-for': client1 })).status).toBe(429);
    // The same proxy in its IPv4-mapped spelling, as Node reports it on a dual-stack socket.
    expect((await attempt(proxied, other.email, other.password, '::ffff:10.9.0.7', { 'x-forwarded-for': client1 })).status).toBe(429);
    // The proxy's own address is not the key: another client behind it still gets in.
    expect((await attempt(proxied, other.email, other.password, '10.9.0.7', { 'x-forwarded-for': client2 })).status).toBe(200);
  });

  it('old failures are pruned', async () => {
    const app = createApp(ctx);
    const old = new Date(Date.now() - 2 * 3600_000);
    await ctx.db.insert(loginFailures).values({ email: randomEmail(), ip: randomIp(), at: old });
    await attempt(app, randomEmail(), 'wrong-password', randomIp());
    expect(await ctx.db.select().from(loginFailures).where(lt(loginFailures.at, new Date(Date.now() - 3600_000)))).toEqual([]);
  });
});

describe('password hashing', () => {
  it('caps concurrent password checks: a flood gets 503 busy instead of queueing without bound', async () => {
    const app = createApp(ctx);
    const results = await Promise.all(Array.from({ length: 60 }, () => attempt(app, randomEmail(), 'wrong-password', randomIp())));
    const busy = results.filter((r) => r.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    expect(busy[0]!.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await busy[0]!.json()).toMatchObject({ success: false, code: 'busy' });
    expect(results.every((r) => r.status === 503 || r.status === 401)).toBe(true);
  });

  it('hashes with scrypt N=2^15, r=8, p=3 and re-hashes an older hash on the next login', async () => {
    const u = await newUser(ctx);
    const [row] = await ctx.db.select().from(users).where(eq(users.id, u.user.id));
    expect(row!.passwordHash).toMatch(/^scrypt\$32768\$8\$3\$/);
    const salt = randomBytes(16);
    const legacy = `scrypt$16384$8$1$${salt.toString('base64url')}$${scryptSync(u.password, salt, 32, { N: 16384, r: 8, p: 1 }).toString('base64url')}`;
    await ctx.db.update(users).set({ passwordHash: legacy }).where(eq(users.id, u.user.id));
    expect((await attempt(createApp(ctx), u.email, u.password, randomIp())).status).toBe(200);
    const [after] = await ctx.db.select().from(users).where(eq(users.id, u.user.id));
    expect(after!.passwordHash).toMatch(/^scrypt\$32768\$8\$3\$/);
    expect((await attempt(createApp(ctx), u.email, u.password, randomIp())).status).toBe(200);
  });
});
