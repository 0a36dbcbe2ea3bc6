import { randomUUID } from 'node:crypto';
import { issueApiToken } from '../../lib/auth/api-tokens.ts';
import { createUser } from '../../lib/auth/users.ts';
import { createStores, nextPhone, statusCounts } from '../lib/fixtures.ts';
import type { BenchEnv } from '../lib/env.ts';
import { round, sleep, summary, waitFor } from '../lib/stats.ts';
import { chatIdOf, sendTimesByChat } from './throughput.ts';

export interface PushOptions {
  stores: number;
  seconds: number;
  rate: number;
}

/**
 * Push ingestion (`POST /api/kaspi/orders/:storeId`, the route Kaspi Demper calls): orders posted
 * open-loop at `rate` a second, one order per request, to random stores (pacing off). Per order:
 * the request's own time (ingest + workflow start), and posted → WAHA received sendText.
 */
export async function runPush(env: BenchEnv, o: PushOptions, log: (s: string) => void) {
  const stores = await createStores(env, o.stores, { label: 'push', kaspi: false });
  const user = await createUser(env.ctx.db, { email: `bench-${randomUUID()}@example.kz`, password: randomUUID(), isSuperAdmin: true });
  const { token } = await issueApiToken(env.ctx.db, { userId: user.id });
  env.waha.state.clearLogs();

  const posted = new Map<string, number>();
  const requestMs: number[] = [];
  const failures: string[] = [];
  const inFlight = new Set<Promise<void>>();
  const start = Date.now();
  let n = 0;
  while (Date.now() - start < o.seconds * 1000) {
    const due = Math.floor(((Date.now() - start) / 1000) * o.rate);
    while (n < due) {
      n++;
      const store = stores[Math.floor(Math.random() * stores.length)]!;
      const phone = nextPhone();
      const order = {
        orderId: `PUSH${n}${randomUUID().slice(0, 4)}`, customerName: 'Айгерим Серикова', customerPhone: phone, productName: 'Смартфон',
        quantity: 1, totalPrice: 129990, deliveryType: 'DELIVERY', createDate: Date.now(), shopName: 'Техно', status: 'NEW',
      };
      const t = Date.now();
      posted.set(chatIdOf(phone), t);
      const p = fetch(`${env.web.url}/api/kaspi/orders/${store.id}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify([order]),
      })
        .then(async (res) => {
          requestMs.push(Date.now() - t);
          const body = (await res.json()) as { accepted?: number };
          if (res.status !== 200 || body.accepted !== 1) failures.push(`${res.status} ${JSON.stringify(body).slice(0, 200)}`);
        })
        .catch((err: unknown) => void failures.push(String(err)))
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await sleep(10);
  }
  await Promise.all(inFlight);
  log(`  ${n} orders pushed (${failures.length} failed); waiting for their sends…`);
  await waitFor(async () => sendTimesByChat(env).size >= n - failures.length, 120_000, 500);

  const sends = sendTimesByChat(env);
  const toSent: number[] = [];
  for (const [chat, at] of posted) {
    const sent = sends.get(chat);
    if (sent !== undefined) toSent.push(sent - at);
  }
  return {
    rate: round(o.rate, 2),
    orders: n,
    failed: failures.length,
    firstFailures: failures.slice(0, 3),
    requestMs: summary(requestMs),
    postedToSentMs: summary(toSent),
    targetP99Ms: 1500,
    statuses: await statusCounts(env, stores.map((s) => s.id)),
  };
}
