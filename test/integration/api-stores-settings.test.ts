import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, senders, stores } from '../../drizzle/schema.ts';
import { createApp } from '../../api/app.ts';
import { pollScheduleId } from '../../workflows/config.ts';
import { issueApiToken } from '../../lib/auth/api-tokens.ts';
import { getWahaConnection } from '../../lib/services/settings.ts';
import { apiClient, newUser } from '../support/api.ts';
import { createTestContext, type TestContext } from '../support/context.ts';

let ctx: TestContext;
let call: ReturnType<typeof apiClient>;
let owner: Awaited<ReturnType<typeof newUser>>;

beforeAll(async () => {
  ctx = await createTestContext();
  call = apiClient(ctx);
  owner = await newUser(ctx);
});
afterAll(async () => {
  await ctx.close();
});

async function newStore(token = owner.token, body: Record<string, unknown> = {}): Promise<string> {
  const r = await call('POST', '/api/stores', { token, body: { name: 'Магазин', ...body } });
  expect(r.status).toBe(201);
  return r.body.store_id as string;
}

describe('POST/GET /api/stores', () => {
  it('creates a store with a caller-chosen id, encrypts the token, makes the creator a member and reconciles its schedule', async () => {
    const id = randomUUID();
    const r = await call('POST', '/api/stores', {
      token: owner.token,
      body: { store_id: id, name: 'Техно', kaspi_api_token: 'kaspi-secret-token-1', kaspi_merchant_uid: '30012345', poll_interval_seconds: 120, timezone: 'Asia/Aqtobe', lookback_minutes: 30 },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ success: true, store_id: id });
    expect(r.text).not.toContain('kaspi-secret-token-1');
    const [row] = await ctx.db.select().from(stores).where(eq(stores.id, id));
    expect(row!.kaspiTokenEnc).not.toContain('kaspi-secret-token-1');
    expect(ctx.secrets.decrypt(row!.kaspiTokenEnc!)).toBe('kaspi-secret-token-1');
    const schedule = await ctx.temporal.schedule.getHandle(pollScheduleId(id)).describe();
    expect(Number(schedule.spec.intervals?.[0]?.every)).toBe(120_000);

    const list = await call('GET', '/api/stores', { token: owner.token });
    expect(list.status).toBe(200);
    const stored = (list.body.stores as { store_id: string }[]).find((s) => s.store_id === id);
    expect(stored).toMatchObject({ name: 'Техно', kaspi_token_set: true, poll_interval_seconds: 120, timezone: 'Asia/Aqtobe', lookback_minutes: 30 });
    expect(list.text).not.toContain('kaspi-secret-token-1');
  });

  it('409 for a taken id, 400 with Russian field messages for bad input and invalid JSON, 401 without a token', async () => {
    const id = await newStore();
    const again = await call('POST', '/api/stores', { token: owner.token, body: { store_id: id, name: 'x' } });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ success: false, code: 'store_id_taken' });

    const bad = await call('POST', '/api/stores', { token: owner.token, body: { name: '', poll_interval_seconds: 5, timezone: 'Mars/Olympus' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ success: false, code: 'validation_failed' });
    expect(bad.body.fields).toMatchObject({ name: expect.stringMatching(/название/), poll_interval_seconds: expect.stringMatching(/10 до 3600/), timezone: expect.stringMatching(/часовой пояс/) });
    expect(bad.body.error).toMatch(/[а-я]/);

    const en = await call('POST', '/api/stores', { token: owner.token, body: { name: '' }, headers: { 'accept-language': 'en-US,en;q=0.9,ru;q=0.5' } });
    expect(en.body.error).toBe('Please check the submitted data');

    const invalidJson = await call('POST', '/api/stores', { token: owner.token, rawBody: '{"name":' });
    expect(invalidJson.status).toBe(400);
    expect(invalidJson.body).toMatchObject({ success: false, code: 'invalid_json' });

    const noToken = await call('GET', '/api/stores');
    expect(noToken.status).toBe(401);
    expect(noToken.body).toEqual({ success: false, error: expect.any(String), code: 'unauthorized' });
    const badToken = await call('GET', '/api/stores', { token: 'kn_nonsense' });
    expect(badToken.status).toBe(401);
  });
});

describe('DELETE /api/stores/:storeId', () => {
  it('deletes a visible store with its schedule and data; others get 404 and nothing changes', async () => {
    const id = await newStore(owner.token, { kaspi_api_token: 'kaspi-token-del' });
    await ctx.temporal.schedule.getHandle(pollScheduleId(id)).describe();
    const stranger = await newUser(ctx);
    expect((await call('DELETE', `/api/stores/${id}`, { token: stranger.token })).status).toBe(404);
    expect((await call('DELETE', '/api/stores/not-a-uuid', { token: owner.token })).status).toBe(404);
    expect(await ctx.db.select().from(stores).where(eq(stores.id, id))).toHaveLength(1);

    const r = await call('DELETE', `/api/stores/${id}`, { token: owner.token });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ success: true });
    expect(await ctx.db.select().from(stores).where(eq(stores.id, id))).toHaveLength(0);
    await expect(ctx.temporal.schedule.getHandle(pollScheduleId(id)).describe()).rejects.toThrow();
    const audit = await ctx.db.select().from(auditLog).where(eq(auditLog.action, 'store.delete'));
    expect(audit.some((a) => (a.details as { store_id?: string }).store_id === id)).toBe(true);
    expect((await call('DELETE', `/api/stores/${id}`, { token: owner.token })).status).toBe(404);
  });
});

describe('GET|POST /api/whatsapp/settings/:storeId', () => {
  it('settings null until the first POST, which requires URL and session and generates a webhook secret', async () => {
    const id = await newStore();
    const before = await call('GET', `/api/whatsapp/settings/${id}`, { token: owner.token });
    expect(before.status).toBe(200);
    expect(before.body).toEqual({ success: true, settings: null });

    const missing = await call('POST', `/api/whatsapp/settings/${id}`, { token: owner.token, body: { is_enabled: true } });
    expect(missing.status).toBe(400);
    expect(Object.keys(missing.body.fields ?? {}).sort()).toEqual(['waha_server_url', 'waha_session_name']);

    const first = await call('POST', `/api/whatsapp/settings/${id}`, {
      token: owner.token,
      body: { waha_server_url: 'http://localhost:3001/', waha_session_name: `s-${id.slice(0, 8)}`, waha_api_key: 'waha-key-plaintext-1' },
    });
    expect(first.status).toBe(200);
    expect(first.body.settings).toMatchObject({
      waha_server_url: 'http://localhost:3001', is_enabled: true, waha_api_key_set: true, webhook_secret_set: true,
      min_gap_seconds: 20, max_gap_seconds: 60, daily_cap: 500, quiet_hours_start: '22:00', quiet_hours_end: '09:00',
    });
    expect(first.text).not.toContain('waha-key-plaintext-1');
    const [store] = await ctx.db.select().from(stores).where(eq(stores.id, id));
    const [sender] = await ctx.db.select().from(senders).where(eq(senders.id, store!.senderId!));
    const secret = ctx.secrets.decrypt(sender!.webhookSecretEnc!);
    expect(secret.length).toBeGreaterThanOrEqual(32);
    const got = await call('GET', `/api/whatsapp/settings/${id}`, { token: owner.token });
    for (const plain of ['waha-key-plaintext-1', secret]) expect(got.text).not.toContain(plain);
    expect(got.text).not.toMatch(/"waha_api_key"|"webhook_secret"/);
  });

  it('absent = unchanged, null = off, "" keeps a secret, null removes it; audit records secrets only as "changed"', async () => {
    const id = await newStore();
    const url = `/api/whatsapp/settings/${id}`;
    await call('POST', url, { token: owner.token, body: { waha_server_url: 'http://127.0.0.1:3002', waha_session_name: `s-${id.slice(0, 8)}`, waha_api_key: 'key-A-plain', daily_cap: 100, min_gap_seconds: 5, max_gap_seconds: 10 } });

    let r = await call('POST', url, { token: owner.token, body: { daily_cap: 200 } });
    expect(r.body.settings).toMatchObject({ daily_cap: 200, min_gap_seconds: 5, max_gap_seconds: 10, quiet_hours_start: '22:00', waha_api_key_set: true, is_enabled: true });

    r = await call('POST', url, { token: owner.token, body: { daily_cap: null, quiet_hours_start: null, quiet_hours_end: null, waha_api_key: '' } });
    expect(r.body.settings).toMatchObject({ daily_cap: null, quiet_hours_start: null, quiet_hours_end: null, waha_api_key_set: true });

    r = await call('POST', url, { token: owner.token, body: { waha_api_key: 'key-B-plain', quiet_hours_start: '23:30', quiet_hours_end: '08:00' } });
    expect(r.body.settings).toMatchObject({ waha_api_key_set: true, quiet_hours_start: '23:30', quiet_hours_end: '08:00' });
    const [store] = await ctx.db.select().from(stores).where(eq(stores.id, id));
    const [sender] = await ctx.db.select().from(senders).where(eq(senders.id, store!.senderId!));
    expect(ctx.secrets.decrypt(sender!.wahaApiKeyEnc!)).toBe('key-B-plain');

    r = await call('POST', url, { token: owner.token, body: { waha_api_key: null, is_enabled: null } });
    expect(r.body.settings).toMatchObject({ waha_api_key_set: false, is_enabled: false });
    const schedule = await ctx.temporal.schedule.getHandle(pollScheduleId(id)).describe();
    expect(schedule.state.paused).toBe(true);

    const bad = await call('POST', url, { token: owner.token, body: { quiet_hours_start: '25:00', min_gap_seconds: 50, max_gap_seconds: 10, daily_cap: 0 } });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body.fields ?? {})).toEqual(expect.arrayContaining(['quiet_hours_start', 'daily_cap']));
    const gaps = await call('POST', url, { token: owner.token, body: { min_gap_seconds: 50, max_gap_seconds: 10 } });
    expect(gaps.status).toBe(400);
    expect(gaps.body.fields).toHaveProperty('max_gap_seconds');
    const half = await call('POST', url, { token: owner.token, body: { quiet_hours_start: null } });
    expect(half.status).toBe(400);

    const audit = await ctx.db.select().from(auditLog).where(eq(auditLog.storeId, id));
    const text = JSON.stringify(audit);
    expect(text).not.toMatch(/key-A-plain|key-B-plain/);
    expect(audit.some((a) => (a.details as Record<string, unknown>).waha_api_key === 'changed')).toBe(true);
    expect(audit.some((a) => (a.details as Record<string, unknown>).waha_api_key === 'removed')).toBe(true);
    expect(audit.some((a) => (a.details as Record<string, unknown>).daily_cap === 200)).toBe(true);
  });

  it('two stores on one number share one sender row; joining another tenant\'s number needs its API key', async () => {
    const session = `shared-${randomUUID().slice(0, 8)}`;
    const a = await newStore();
    const b = await newStore();
    await call('POST', `/api/whatsapp/settings/${a}`, { token: owner.token, body: { waha_server_url: 'http://waha:3000', waha_session_name: session, waha_api_key: 'shared-key' } });
    const secretOf = async () => ctx.secrets.decrypt((await ctx.db.select().from(senders).where(and(eq(senders.wahaServerUrl, 'http://waha:3000'), eq(senders.wahaSessionName, session))))[0]!.webhookSecretEnc!);
    const secretBefore = await secretOf();
    // The key is asked for even when the caller sees every store on the number.
    const keyless = await call('POST', `/api/whatsapp/settings/${b}`, { token: owner.token, body: { waha_server_url: 'http://waha:3000', waha_session_name: session } });
    expect(keyless.status).toBe(409);
    const joined = await call('POST', `/api/whatsapp/settings/${b}`, { token: owner.token, body: { waha_server_url: 'http://waha:3000', waha_session_name: session, waha_api_key: 'shared-key' } });
    expect(joined.status).toBe(200);
    expect(joined.body.settings).toMatchObject({ shared_with_other_stores: true, waha_api_key_set: true });
    const rows = await ctx.db.select().from(senders).where(and(eq(senders.wahaServerUrl, 'http://waha:3000'), eq(senders.wahaSessionName, session)));
    expect(rows).toHaveLength(1);
    // A's webhooks stay signed with the secret its WAHA session knows: joining does not rotate it.
    expect(await secretOf()).toBe(secretBefore);
    // Pacing belongs to the number: an edit from B shows in A.
    await call('POST', `/api/whatsapp/settings/${b}`, { token: owner.token, body: { daily_cap: 42 } });
    const fromA = await call('GET', `/api/whatsapp/settings/${a}`, { token: owner.token });
    expect(fromA.body.settings).toMatchObject({ daily_cap: 42 });

    const stranger = await newUser(ctx);
    const c = await newStore(stranger.token);
    const refused = await call('POST', `/api/whatsapp/settings/${c}`, { token: stranger.token, body: { waha_server_url: 'http://waha:3000', waha_session_name: session } });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('sender_in_use');
    const withKey = await call('POST', `/api/whatsapp/settings/${c}`, { token: stranger.token, body: { waha_server_url: 'http://waha:3000', waha_session_name: session, waha_api_key: 'shared-key' } });
    expect(withKey.status).toBe(200);
  });

  it('a number whose stores are gone hands its API key and webhook secret to nobody (issue 12, item 1)', async () => {
    const session = `gone-${randomUUID().slice(0, 8)}`;
    const victim = await newUser(ctx);
    const v = await newStore(victim.token);
    const hook = `victim-hook-${randomUUID()}`;
    await call('POST', `/api/whatsapp/settings/${v}`, { token: victim.token, body: { waha_server_url: 'http://waha:3000', waha_session_name: session, waha_api_key: 'victim-key', webhook_secret: hook } });
    expect((await call('DELETE', `/api/stores/${v}`, { token: victim.token })).status).toBe(200);
    const [left] = await ctx.db.select().from(senders).where(and(eq(senders.wahaServerUrl, 'http://waha:3000'), eq(senders.wahaSessionName, session)));
    expect(left).toMatchObject({ wahaApiKeyEnc: null, webhookSecretEnc: null });

    const attacker = await newUser(ctx);
    const a = await newStore(attacker.token);
    const { token: scoped } = await issueApiToken(ctx.db, { userId: attacker.user.id, storeId: a });
    const joined = await call('POST', `/api/whatsapp/settings/${a}`, { token: scoped, body: { waha_server_url: 'http://waha:3000', waha_session_name: session } });
    expect(joined.status).toBe(200);
    expect(joined.body.settings).toMatchObject({ waha_api_key_set: false, webhook_secret_set: true });
    const conn = await getWahaConnection(ctx, { kind: 'user', userId: attacker.user.id, isSuperAdmin: false }, a);
    expect(conn).toMatchObject({ apiKey: null });
    expect(conn!.webhookSecret).not.toBe(hook);
  });

  it('a row that outlived its stores with its key still in it (older versions) is joined only with that key, and gets a new webhook secret', async () => {
    const session = `orphan-${randomUUID().slice(0, 8)}`;
    const [orphan] = await ctx.db.insert(senders).values({
      wahaServerUrl: 'http://waha:3000', wahaSessionName: session, wahaApiKeyEnc: ctx.secrets.encrypt('orphan-key'), webhookSecretEnc: ctx.secrets.encrypt('orphan-hook-0123456789'),
    }).returning();
    const attacker = await newUser(ctx);
    const a = await newStore(attacker.token);
    const refused = await call('POST', `/api/whatsapp/settings/${a}`, { token: attacker.token, body: { waha_server_url: 'http://waha:3000', waha_session_name: session } });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('sender_in_use');
    const wrong = await call('POST', `/api/whatsapp/settings/${a}`, { token: attacker.token, body: { waha_server_url: 'http://waha:3000', waha_session_name: session, waha_api_key: 'guess' } });
    expect(wrong.status).toBe(409);
    const withKey = await call('POST', `/api/whatsapp/settings/${a}`, { token: attacker.token, body: { waha_server_url: 'http://waha:3000', waha_session_name: session, waha_api_key: 'orphan-key' } });
    expect(withKey.status).toBe(200);
    const [row] = await ctx.db.select().from(senders).where(eq(senders.id, orphan!.id));
    expect(ctx.secrets.decrypt(row!.webhookSecretEnc!)).not.toBe('orphan-hook-0123456789');
    const audit = await ctx.db.select().from(auditLog).where(eq(auditLog.storeId, a));
    expect(audit.some((x) => (x.details as Record<string, unknown>).webhook_secret === 'rotated')).toBe(true);
  });

  it('the last store moving to another number wipes the old row\'s secrets; a store staying behind keeps them', async () => {
    const session = `move-${randomUUID().slice(0, 8)}`;
    const a = await newStore();
    const b = await newStore();
    await call('POST', `/api/whatsapp/settings/${a}`, { token: owner.token, body: { waha_server_url: 'http://waha:3000', waha_session_name: session, waha_api_key: 'move-key' } });
    await call('POST', `/api/whatsapp/settings/${b}`, { token: owner.token, body: { waha_server_url: 'http://waha:3000', waha_session_name: session, waha_api_key: 'move-key' } });
    const where = and(eq(senders.wahaServerUrl, 'http://waha:3000'), eq(senders.wahaSessionName, session));
    expect((await call('POST', `/api/whatsapp/settings/${a}`, { token: owner.token, body: { waha_session_name: `${session}-2` } })).status).toBe(200);
    const [kept] = await ctx.db.select().from(senders).where(where);
    expect(kept!.wahaApiKeyEnc).not.toBeNull();
    expect((await call('POST', `/api/whatsapp/settings/${b}`, { token: owner.token, body: { waha_session_name: `${session}-3` } })).status).toBe(200);
    const [wiped] = await ctx.db.select().from(senders).where(where);
    expect(wiped).toMatchObject({ wahaApiKeyEnc: null, webhookSecretEnc: null });
  });

  it('WAHA_URL_ALLOWLIST refuses URLs outside it when set', async () => {
    const strict = await createTestContext({ env: { WAHA_URL_ALLOWLIST: 'http://waha:3000, https://waha.example.kz/tenant1' } });
    try {
      const strictCall = apiClient(strict, createApp(strict));
      const u = await newUser(strict);
      const r = await strictCall('POST', '/api/stores', { token: u.token, body: { name: 'x' } });
      const id = r.body.store_id as string;
      const url = `/api/whatsapp/settings/${id}`;
      for (const bad of ['http://169.254.169.254', 'http://waha:3001', 'http://waha.evil:3000', 'https://waha.example.kz/tenant10', 'https://waha.example.kz/']) {
        const res = await strictCall('POST', url, { token: u.token, body: { waha_server_url: bad, waha_session_name: 'default' } });
        expect(res.status, bad).toBe(400);
        expect(res.body.code).toBe('waha_url_not_allowed');
      }
      for (const good of ['http://waha:3000', 'https://waha.example.kz/tenant1/api']) {
        const res = await strictCall('POST', url, { token: u.token, body: { waha_server_url: good, waha_session_name: `d${randomUUID().slice(0, 6)}` } });
        expect(res.status, good).toBe(200);
      }
      const notUrl = await strictCall('POST', url, { token: u.token, body: { waha_server_url: 'ftp://x' } });
      expect(notUrl.status).toBe(400);
    } finally {
      await strict.close();
    }
  });
});
