import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { senders } from '../../drizzle/schema.ts';
import { createUser } from '../../lib/auth/users.ts';
import type { Actor } from '../../lib/services/access.ts';
import { getDashboard } from '../../lib/services/dashboard.ts';
import { ConflictError } from '../../lib/services/errors.ts';
import { configureWaha, getSessionHealth, webhookUrlFor } from '../../lib/services/waha-admin.ts';
import { WahaClient } from '../../lib/waha/client.ts';
import { startWahaSimulator, type SimEngine, type WahaSimulator } from '../../simulators/waha/server.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { createSender, createStore } from '../support/fixtures.ts';
import { SIM_SECOND_MS } from '../support/whatsapp-store.ts';

/**
 * "Configure WAHA" sets up what we rely on (events, HMAC, WEBJS acks, NOWEB's store) only after the
 * admin confirms the restart, and the settings page and dashboard say, in the seller's words, what a
 * live session lacks (lib/waha/session-health.ts, docs/contracts/waha.md).
 */
let ctx: TestContext;
const sims: WahaSimulator[] = [];
let SUPER: Actor;

beforeAll(async () => {
  ctx = await createTestContext();
  const admin = await createUser(ctx.db, { email: `health-${randomUUID()}@example.kz`, password: 'a long enough password', isSuperAdmin: true });
  SUPER = { kind: 'user', userId: admin.id, isSuperAdmin: true };
});
afterAll(async () => {
  for (const s of sims) await s.close();
  await ctx?.close();
});

async function storeOn(engine: SimEngine, config?: Record<string, unknown>) {
  const waha = await startWahaSimulator({ engine, apiKey: 'k', secondMs: SIM_SECOND_MS, sessions: [{ name: 'default', status: 'WORKING', paired: true, ...(config ? { config } : {}) }] });
  sims.push(waha);
  const sender = await createSender(ctx, { wahaServerUrl: waha.url, wahaSessionName: 'default', apiKey: 'k', sessionStatus: 'WORKING', sessionStatusAt: new Date() });
  const store = await createStore(ctx, { senderId: sender.id });
  return { waha, sender, store };
}

const codes = (issues: { code: string }[]) => issues.map((i) => i.code).sort();

describe('WAHA session health', () => {
  it('a NOWEB session set up by hand: store off, events and HMAC missing — said on the dashboard; Configure fixes all after confirmation', async () => {
    const { waha, sender, store } = await storeOn('NOWEB');
    // Someone pointed the session at us by hand, with only acks and no signature.
    const url = webhookUrlFor(ctx, store.id);
    await new WahaClient({ baseUrl: waha.url, apiKey: 'k', session: 'default' }).upsertSessionConfig({ webhookUrl: url, hmacKey: 'x', events: ['message.ack'], nowebStore: false });
    const cfg = waha.state.sessionConfig('default') as { webhooks: { hmac?: unknown }[] };
    delete cfg.webhooks[0]!.hmac;

    const before = await getSessionHealth(ctx, SUPER, store.id);
    expect(codes(before.issues)).toEqual(['events_missing', 'hmac_missing', 'store_off']);
    expect(before.issues.find((i) => i.code === 'events_missing')).toMatchObject({ events: ['message.any', 'session.status', 'message'] });
    const dash = await getDashboard(ctx, SUPER, store.id);
    expect(dash.alerts.map((a) => a.code)).toEqual(expect.arrayContaining(['session_events_missing', 'session_hmac_missing', 'session_store_off']));

    // WAHA restarts the session to apply a config: nothing happens without the admin's yes.
    await expect(configureWaha(ctx, SUPER, store.id, { confirmRestart: false })).rejects.toBeInstanceOf(ConflictError);
    expect(waha.state.sessionConfig('default')).not.toMatchObject({ noweb: { store: { enabled: true } } });

    await configureWaha(ctx, SUPER, store.id, { confirmRestart: true });
    expect(waha.state.sessionConfig('default')).toMatchObject({ noweb: { store: { enabled: true, fullSync: true } } });
    const after = await getSessionHealth(ctx, SUPER, store.id);
    expect(after.issues).toEqual([]);
    const [row] = await ctx.db.select().from(senders).where(eq(senders.id, sender.id));
    expect(row!.sessionHealth).toEqual([]);
    expect((await getDashboard(ctx, SUPER, store.id)).alerts.map((a) => a.code).filter((c) => c.startsWith('session_'))).toEqual([]);
  });

  it('a WEBJS session without tagsEventsOn and a session with no webhook to us are named', async () => {
    const webjs = await storeOn('WEBJS', { webhooks: [{ url: 'https://crm.example/hook', events: ['message'] }] });
    expect(codes((await getSessionHealth(ctx, SUPER, webjs.store.id)).issues)).toEqual(['webhook_missing', 'webjs_tags_off']);
    await configureWaha(ctx, SUPER, webjs.store.id, { confirmRestart: true });
    expect((await getSessionHealth(ctx, SUPER, webjs.store.id)).issues).toEqual([]);
    // A GOWS session has neither a store nor WEBJS tags to miss.
    const gows = await storeOn('GOWS');
    await configureWaha(ctx, SUPER, gows.store.id, { confirmRestart: true });
    expect((await getSessionHealth(ctx, SUPER, gows.store.id)).issues).toEqual([]);
  });
});
