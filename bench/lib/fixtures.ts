import { randomUUID } from 'node:crypto';
import { inArray, sql } from 'drizzle-orm';
import { notifications, senders, stores, templates } from '../../drizzle/schema.ts';
import { WahaClient } from '../../lib/waha/client.ts';
import type { BenchEnv } from './env.ts';

export const TEMPLATE_TEXT = 'Здравствуйте, {first_name}! Спасибо за заказ №{order_num} в магазине {shop_name}: {product_name} × {item_qty}, {total_amount}.';
const WEBHOOK_SECRET = 'bench-hook-secret';

export interface BenchStore {
  id: string;
  token: string;
  senderId: string;
  session: string;
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  }));
}
export { pool };

/**
 * Stores with pacing off (gap 0, no caps, no quiet hours), each with its own WhatsApp session on
 * the WAHA simulator wired to our webhook, an active `new` template, and (unless `kaspi: false`)
 * its own Kaspi simulator state. `pollIntervalSeconds` only matters once schedules are reconciled.
 */
export async function createStores(env: BenchEnv, count: number, options: { label: string; kaspi?: boolean; waha?: boolean; pollIntervalSeconds?: number }): Promise<BenchStore[]> {
  const { ctx } = env;
  const out: BenchStore[] = [];
  const wantWaha = options.waha ?? true;
  await pool(Array.from({ length: count }, (_, i) => i), 8, async (i) => {
    const session = `${options.label}-${i}-${randomUUID().slice(0, 6)}`;
    let senderId: string | null = null;
    if (wantWaha) {
      const [sender] = await ctx.db.insert(senders).values({
        wahaServerUrl: env.waha.url,
        wahaSessionName: session,
        wahaApiKeyEnc: ctx.secrets.encrypt('bench-key'),
        webhookSecretEnc: ctx.secrets.encrypt(WEBHOOK_SECRET),
        minGapSeconds: 0,
        maxGapSeconds: 0,
        dailyCap: null,
        perBuyerDailyLimit: null,
        quietHoursStart: null,
        quietHoursEnd: null,
        // The benchmark measures throughput, not the warm-up of a new number.
        warmupDays: 0,
      }).returning();
      senderId = sender!.id;
    }
    const token = `kaspi-${session}`;
    const [store] = await ctx.db.insert(stores).values({
      name: `Bench ${options.label} ${i}`,
      senderId,
      kaspiTokenEnc: options.kaspi === false ? null : ctx.secrets.encrypt(token),
      connectedAt: new Date(Date.now() - 3600_000),
      pollIntervalSeconds: options.pollIntervalSeconds ?? 60,
    }).returning();
    if (options.kaspi !== false) env.kaspi.state(token);
    if (wantWaha) {
      env.waha.state.addSession(session, { status: 'WORKING', paired: true });
      await new WahaClient({ baseUrl: env.waha.url, apiKey: 'bench-key', session }).upsertSessionConfig({ webhookUrl: `${env.web.url}/webhooks/waha/${store!.id}`, hmacKey: WEBHOOK_SECRET });
      await ctx.db.insert(templates).values({ storeId: store!.id, name: 'bench new', event: 'new', text: TEMPLATE_TEXT });
    }
    out.push({ id: store!.id, token, senderId: senderId ?? '', session });
  });
  // Changing a session's config restarts it (STARTING → WORKING) as WAHA does.
  const deadline = Date.now() + 30_000;
  while (wantWaha && out.some((s) => env.waha.state.sessionStatus(s.session) !== 'WORKING') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return out;
}

export function webhookSecret(): string {
  return WEBHOOK_SECRET;
}

let phoneSeq = 0;
/** A buyer phone per order (distinct numbers: no per-buyer caps interfere even if set). */
export function nextPhone(): string {
  phoneSeq++;
  return `70${String(10_000_000 + phoneSeq).slice(-8)}`;
}

/** Makes an order visible at the store's Kaspi; returns its code and the moment it became visible. */
export function createOrder(env: BenchEnv, store: BenchStore): { code: string; visibleAt: number } {
  const now = Date.now();
  const order = env.kaspi.state(store.token).createOrder({
    creationDate: now,
    approvedByBankDate: now,
    customer: { firstName: 'Айгерим', lastName: 'Серикова', name: null, cellPhone: nextPhone() },
  });
  return { code: order.code, visibleAt: now };
}

export async function statusCounts(env: BenchEnv, storeIds: string[]): Promise<Record<string, number>> {
  const rows = await env.ctx.db
    .select({ status: notifications.status, reason: notifications.reasonCode, n: sql<number>`count(*)::int` })
    .from(notifications)
    .where(inArray(notifications.storeId, storeIds))
    .groupBy(notifications.status, notifications.reasonCode);
  const out: Record<string, number> = {};
  for (const r of rows) {
    out[r.status] = (out[r.status] ?? 0) + r.n;
    if (r.reason && r.status !== 'read') out[`${r.status}:${r.reason}`] = r.n;
  }
  return out;
}
