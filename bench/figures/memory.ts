import { randomUUID } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { ulid } from 'ulid';
import { notifications, orders } from '../../drizzle/schema.ts';
import { signWebhook, WEBHOOK_HEADERS } from '../../lib/waha/webhooks.ts';
import { notificationStart, notifyWorkflowId } from '../../workflows/config.ts';
import { notificationWorkflow, type NotificationInput } from '../../workflows/notification.ts';
import { createStores, nextPhone, pool, statusCounts, webhookSecret } from '../lib/fixtures.ts';
import { startWorkerProcess, type BenchEnv } from '../lib/env.ts';
import { round, rssMb, sleep, waitFor } from '../lib/stats.ts';

export interface MemoryOptions {
  waiting: number;
  cache?: number;
  budgetSeconds: number;
  cpuProfDir?: string;
}

const HOLD_MS = 3_600_000;
/** lib/config.ts WORKER_MAX_CACHED_WORKFLOWS default; what the worker uses when no cache is passed. */
const PRODUCT_CACHE_DEFAULT = 300;

function snapshotFor(code: string, phone: string) {
  return {
    kaspiId: `id-${code}`, code, state: 'NEW', status: 'APPROVED_BY_BANK', creationDate: Date.now() - 60_000, approvedByBankDate: Date.now() - 50_000,
    totalPrice: 12990, deliveryMode: 'DELIVERY_PICKUP', isKaspiDelivery: false, plannedDeliveryDate: null, deliveryAddress: null,
    pickupPointId: '30012345_PP1', waybillNumber: null, courierTransmissionDate: null, cancellationReason: null,
    customer: { firstName: 'Айгерим', lastName: 'Серикова', name: null, cellPhone: phone },
    entries: [{ entryId: `e-${code}`, productName: 'Чайник Tefal', productCode: 'SKU-1', masterProductCode: null, quantity: 1, basePrice: 12990, totalPrice: 12990 }],
  };
}

/**
 * Worker RSS with W notification workflows sent and waiting for acks (the WAHA simulator's acks are
 * delayed by an hour), then after release (signed ack webhooks 1→2→3 to our web app for every
 * message). Workflows are started directly with the product's `timing` override so the 2-minute
 * SERVER-ack wait does not end the hold early; stores have no Kaspi token (no pre-send re-read).
 * Starts stop when the time budget is used up; the figure at W is then extrapolated linearly.
 */
export async function runMemory(env: BenchEnv, o: MemoryOptions, log: (s: string) => void) {
  // No --memory-cache: the worker keeps the product's own bound (config WORKER_MAX_CACHED_WORKFLOWS, default 300).
  const cache = o.cache ?? PRODUCT_CACHE_DEFAULT;
  const worker = await startWorkerProcess(env, { mode: 'real', taskQueue: 'bench-memory', maxCachedWorkflows: o.cache, cpuProfDir: o.cpuProfDir });
  try {
    await sleep(2000);
    const baselineMb = rssMb(worker.pid);
    const stores = await createStores(env, 20, { label: 'mem', kaspi: false });
    const storeIds = stores.map((s) => s.id);
    env.waha.state.ackDelaysMs = [HOLD_MS, HOLD_MS, HOLD_MS];

    // Rows as a poll would leave them, in bulk.
    const items: { storeId: string; code: string; id: string }[] = [];
    for (let i = 0; i < o.waiting; i++) {
      const store = stores[i % stores.length]!;
      items.push({ storeId: store.id, code: String(800_000_000 + i), id: randomUUID() });
    }
    for (let i = 0; i < items.length; i += 1000) {
      const chunk = items.slice(i, i + 1000);
      await env.ctx.db.insert(orders).values(chunk.map((c) => ({ storeId: c.storeId, code: c.code, kaspiId: `id-${c.code}`, state: 'NEW', status: 'APPROVED_BY_BANK', snapshot: snapshotFor(c.code, nextPhone()), creationDate: new Date() })));
      await env.ctx.db.insert(notifications).values(chunk.map((c) => ({ id: c.id, storeId: c.storeId, orderCode: c.code, event: 'new', workflowId: notifyWorkflowId(c.storeId, c.code, 'new') })));
    }

    const samples: { t: number; rssMb: number; started: number }[] = [];
    const t0 = Date.now();
    let started = 0;
    const sampler = setInterval(() => samples.push({ t: Math.round((Date.now() - t0) / 1000), rssMb: round(rssMb(worker.pid), 1)!, started }), 2000);
    const budgetEnd = t0 + o.budgetSeconds * 1000;
    await pool(items, 40, async (c) => {
      if (Date.now() > budgetEnd) return;
      const input: NotificationInput = { notificationId: c.id, storeId: c.storeId, orderCode: c.code, event: 'new', timing: { serverAckWaitMs: HOLD_MS, deviceAckWaitMs: HOLD_MS } };
      await env.ctx.temporal.workflow.start(notificationWorkflow, { taskQueue: 'bench-memory', ...notificationStart(input, { kind: 'first' }) });
      started++;
    });
    const startSeconds = (Date.now() - t0) / 1000;
    log(`  started ${started}/${o.waiting} in ${Math.round(startSeconds)} s; waiting until all are sent…`);
    await waitFor(async () => ((await statusCounts(env, storeIds)).sent ?? 0) >= started, 240_000, 1000);
    const stuck = await statusCounts(env, storeIds);
    await sleep(5000);
    const waitingCount = (await statusCounts(env, storeIds)).sent ?? 0;
    const waitingMb = rssMb(worker.pid);
    const sentSeconds = (Date.now() - t0) / 1000;

    // Release: what WAHA would send once WhatsApp delivers and the buyer reads.
    log(`  ${waitingCount} waiting at ${Math.round(waitingMb)} MB; releasing acks…`);
    const byStoreSession = new Map(stores.map((s) => [s.session, s.id]));
    const msgs = env.waha.state.allChats().filter((c) => byStoreSession.has(c.session)).flatMap((c) => c.messages.filter((m) => m.fromMe).map((m) => ({ m, storeId: byStoreSession.get(c.session)! })));
    const secret = webhookSecret();
    const r0 = Date.now();
    await pool(msgs, 20, async ({ m, storeId }) => {
      for (const ack of [1, 2, 3]) {
        const body = JSON.stringify({
          id: `evt_${ulid().toLowerCase()}`, timestamp: Date.now(), event: 'message.ack', session: m.session, me: { id: '77000000001@c.us', pushName: 'bench' },
          payload: { id: m.id, from: '77000000001@c.us', to: m.chatId, fromMe: true, ack, ackName: ['', 'SERVER', 'DEVICE', 'READ'][ack] },
          engine: 'GOWS', environment: {}, metadata: {},
        });
        await fetch(`${env.web.url}/webhooks/waha/${storeId}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [WEBHOOK_HEADERS.hmac]: signWebhook(body, secret), [WEBHOOK_HEADERS.timestamp]: String(Date.now()), 'x-webhook-hmac-algorithm': 'sha512' },
          body,
        }).then((r) => r.arrayBuffer());
      }
    });
    await waitFor(async () => ((await statusCounts(env, storeIds)).read ?? 0) >= waitingCount, 180_000, 1000);
    const releaseSeconds = (Date.now() - r0) / 1000;
    const afterReleaseMb = rssMb(worker.pid);
    await sleep(15_000);
    const settledMb = rssMb(worker.pid);
    clearInterval(sampler);
    const peakMb = Math.max(...samples.map((s) => s.rssMb), waitingMb);
    const slope = waitingCount > 0 ? (waitingMb - baselineMb) / waitingCount : 0;
    const at10k = baselineMb + slope * 10_000;
    const open = await env.ctx.db.select({ n: sql<number>`count(*)::int` }).from(notifications).where(and(inArray(notifications.storeId, storeIds), eq(notifications.status, 'sent')));
    return {
      requested: o.waiting,
      waiting: waitingCount,
      maxCachedWorkflows: cache,
      startSeconds: round(startSeconds, 1),
      allSentSeconds: round(sentSeconds, 1),
      releaseSeconds: round(releaseSeconds, 1),
      baselineMb: round(baselineMb, 1),
      waitingMb: round(waitingMb, 1),
      peakMb: round(peakMb, 1),
      afterReleaseMb: round(afterReleaseMb, 1),
      settled15sMb: round(settledMb, 1),
      kbPerWaitingWorkflow: round(slope * 1024, 1),
      extrapolatedAt10kMb: waitingCount >= 10_000 ? round(waitingMb, 1) : round(at10k, 1),
      extrapolated: waitingCount < 10_000,
      stillSentAfterRelease: open[0]?.n ?? 0,
      statusesWhenMeasured: stuck,
      samples: samples.filter((_, i) => i % 5 === 0),
      target: 350,
    };
  } finally {
    env.waha.state.ackDelaysMs = [10, 20, 30];
    await worker.stop();
  }
}
