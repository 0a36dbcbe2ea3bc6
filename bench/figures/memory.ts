import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { ulid } from 'ulid';
import { notifications, orders } from '../../drizzle/schema.ts';
import { loadConfig } from '../../lib/config.ts';
import type { WorkerTuning } from '../../lib/temporal/worker.ts';
import { WORKER_NODE_FLAGS } from '../../lib/temporal/worker-node-flags.ts';
import { signWebhook, WEBHOOK_HEADERS } from '../../lib/waha/webhooks.ts';
import { notificationStart, notifyWorkflowId } from '../../workflows/config.ts';
import { notificationWorkflow, type NotificationInput } from '../../workflows/notification.ts';
import { createStores, nextPhone, pool, statusCounts, webhookSecret } from '../lib/fixtures.ts';
import { BENCH_DIR, startWorkerProcess, type BenchEnv, type WorkerMemory, type WorkerProcess, type WorkerProcessOptions } from '../lib/env.ts';
import { isolateHeaps, smapsBreakdown, summarizeHeapSnapshot, type HeapSummary, type IsolateHeap, type SmapsBreakdown } from '../lib/memory.ts';
import { cpuSeconds, round, rssMb, sleep, treeCpuSeconds, waitFor } from '../lib/stats.ts';

export interface MemoryOptions {
  waiting: number;
  /** The worker's maxCachedWorkflows; undefined: the product's WORKER_MAX_CACHED_WORKFLOWS default. */
  cache?: number;
  /** Time for starting and sending all W; the figure is taken at the count reached when it runs out. */
  budgetSeconds: number;
  /** Workflows started but not yet sent, at most (a poll hands out up to 200 rows at once). */
  inFlight: number;
  tuning?: WorkerTuning;
  /** Unset: the product's (lib/temporal/worker-node-flags.ts); [] runs the worker without any. */
  nodeFlags?: string[];
  workerEnv?: Record<string, string>;
  /** Heap snapshots: of an idle worker of its own, and of the measured one once W wait (after its figure). */
  heapSnapshots: boolean;
  /** --trace-gc on the worker: heap size of every isolate (workflow threads included) at each point. */
  traceGc: boolean;
  cpuProfDir?: string;
}

const HOLD_MS = 3_600_000;
const MB = 1024 * 1024;

function snapshotFor(code: string, phone: string) {
  return {
    kaspiId: `id-${code}`, code, state: 'NEW', status: 'APPROVED_BY_BANK', creationDate: Date.now() - 60_000, approvedByBankDate: Date.now() - 50_000,
    totalPrice: 12990, deliveryMode: 'DELIVERY_PICKUP', isKaspiDelivery: false, plannedDeliveryDate: null, deliveryAddress: null,
    pickupPointId: '30012345_PP1', waybillNumber: null, courierTransmissionDate: null, cancellationReason: null,
    customer: { firstName: 'Айгерим', lastName: 'Серикова', name: null, cellPhone: phone },
    entries: [{ entryId: `e-${code}`, productName: 'Чайник Tefal', productCode: 'SKU-1', masterProductCode: null, quantity: 1, basePrice: 12990, totalPrice: 12990 }],
  };
}

/** RSS with where it is: files/anonymous from smaps, and the main thread's V8 heap and external memory. */
export interface MemoryPoint {
  rssMb: number;
  smaps: SmapsBreakdown | null;
  mainHeapTotalMb: number;
  mainHeapUsedMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  mallocedByV8Mb: number;
  /** Committed size of the main thread's V8 spaces (new_space is the two semi-spaces). */
  spacesMb: Record<string, number>;
  /** With --memory-trace-gc: every isolate's heap at its latest GC (main thread first). */
  isolates?: IsolateHeap[];
}

async function memoryPoint(worker: WorkerProcess, gcTrace?: string): Promise<MemoryPoint> {
  const m: WorkerMemory = await worker.memory();
  const smaps = smapsBreakdown(worker.pid);
  return {
    rssMb: round(rssMb(worker.pid), 1)!,
    smaps,
    mainHeapTotalMb: round(m.heapTotal / MB, 1)!,
    mainHeapUsedMb: round(m.heapUsed / MB, 1)!,
    externalMb: round(m.external / MB, 1)!,
    arrayBuffersMb: round(m.arrayBuffers / MB, 1)!,
    mallocedByV8Mb: round(m.mallocedMemory / MB, 1)!,
    spacesMb: Object.fromEntries(m.spaces.map((s) => [s.space, round(s.size / MB, 1)!])),
    ...(gcTrace ? { isolates: isolateHeaps(gcTrace, m.heapTotal / MB) } : {}),
  };
}

function snapshotDir(): string {
  const dir = path.join(BENCH_DIR, 'results', 'heap');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Snapshots of a worker, summarized; the files are removed (hundreds of MB at 1000 cached). */
async function snapshots(worker: WorkerProcess, label: string, log: (s: string) => void): Promise<HeapSummary[]> {
  const files = await worker.snapshot(path.join(snapshotDir(), `${label}-${process.pid}`));
  const out: HeapSummary[] = [];
  for (const file of files) {
    out.push(summarizeHeapSnapshot(file));
    rmSync(file, { force: true });
  }
  log(`  heap ${label}: ${out.map((s) => `${path.basename(s.file)} ${s.totalMb} MB live`).join(', ')}`);
  return out;
}

/**
 * Worker RSS with W notification workflows sent and waiting for acks (the WAHA simulator's acks are
 * delayed by an hour), then after release (signed ack webhooks 1→2→3 to our web app for every
 * message). Workflows are started directly with the product's `timing` override so the 2-minute
 * SERVER-ack wait does not end the hold; stores have no Kaspi token (no pre-send re-read). At most
 * `inFlight` are started ahead of the sends, as polls hand them out, so the cache sees the
 * production order of events: a workflow runs its sends and then waits, and the bound decides how
 * many of the waiting stay cached. The worker runs as bin/worker.ts does (production build, pool,
 * metrics). If the budget runs out first, the figure is taken at the count reached and says so.
 */
export async function runMemory(env: BenchEnv, o: MemoryOptions, log: (s: string) => void) {
  const cache = o.cache ?? loadConfig({}).WORKER_MAX_CACHED_WORKFLOWS;
  const workerOptions: WorkerProcessOptions = {
    mode: 'real', taskQueue: 'bench-memory', maxCachedWorkflows: o.cache, tuning: o.tuning, asProduction: true,
    nodeFlags: o.nodeFlags, env: o.workerEnv, cpuProfDir: o.cpuProfDir,
  };

  // The idle heap is inspected in a worker of its own: a snapshot grows the heap it writes, and
  // the measured worker's RSS must not carry that.
  let idleHeap: HeapSummary[] | undefined;
  if (o.heapSnapshots) {
    const probe = await startWorkerProcess(env, { ...workerOptions, taskQueue: 'bench-memory-probe', cpuProfDir: undefined });
    try {
      await sleep(5000);
      idleHeap = await snapshots(probe, 'idle', log);
    } finally {
      await probe.stop();
    }
  }

  const gcTrace = o.traceGc ? path.join(snapshotDir(), `gc-${process.pid}-${Date.now()}.log`) : undefined;
  const worker = await startWorkerProcess(env, gcTrace ? { ...workerOptions, nodeFlags: [...(o.nodeFlags ?? WORKER_NODE_FLAGS), '--trace-gc'], stdoutFile: gcTrace } : workerOptions);
  const point = () => memoryPoint(worker, gcTrace);
  let stopSampling = () => undefined as void;
  try {
    await sleep(5000);
    const idle = await point();
    log(`  idle worker: ${idle.rssMb} MB RSS (main heap ${idle.mainHeapTotalMb} MB, external ${idle.externalMb} MB)`);
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
    const counts = async () => {
      const [row] = await env.ctx.db
        .select({ sent: sql<number>`count(*) filter (where sent_at is not null)::int`, read: sql<number>`count(*) filter (where status = 'read')::int` })
        .from(notifications)
        .where(inArray(notifications.storeId, storeIds));
      return { sent: row?.sent ?? 0, read: row?.read ?? 0 };
    };

    const samples: { t: number; rssMb: number; started: number; sent: number; read: number }[] = [];
    const t0 = Date.now();
    const cpu0 = { worker: cpuSeconds(worker.pid), temporal: treeCpuSeconds(env.temporalPid) };
    let started = 0;
    let sent = 0;
    let read = 0;
    let sampling = true;
    stopSampling = () => {
      sampling = false;
    };
    const sampler = (async () => {
      while (sampling) {
        ({ sent, read } = await counts().catch(() => ({ sent, read })));
        samples.push({ t: Math.round((Date.now() - t0) / 1000), rssMb: round(rssMb(worker.pid), 1)!, started, sent, read });
        if (samples.length % 15 === 0) log(`  t=${samples.at(-1)!.t}s started ${started} sent ${sent} read ${read} rss ${samples.at(-1)!.rssMb} MB`);
        await sleep(2000);
      }
    })();
    const budgetEnd = t0 + o.budgetSeconds * 1000;
    let next = 0;
    await pool(Array.from({ length: 20 }, (_, i) => i), 20, async () => {
      while (next < items.length && Date.now() < budgetEnd) {
        if (started - sent >= o.inFlight) {
          await sleep(200);
          continue;
        }
        const c = items[next++]!;
        const input: NotificationInput = { notificationId: c.id, storeId: c.storeId, orderCode: c.code, event: 'new', timing: { serverAckWaitMs: HOLD_MS, deviceAckWaitMs: HOLD_MS } };
        await env.ctx.temporal.workflow.start(notificationWorkflow, { taskQueue: 'bench-memory', ...notificationStart(input, { kind: 'first' }) });
        started++;
      }
    });
    const startSeconds = (Date.now() - t0) / 1000;
    log(`  started ${started}/${o.waiting} in ${Math.round(startSeconds)} s; waiting until all are sent…`);
    await waitFor(async () => (await counts()).sent >= started, Math.max(180_000, budgetEnd - Date.now()), 1000);
    const sentSeconds = (Date.now() - t0) / 1000;
    const cpuSend = { worker: cpuSeconds(worker.pid) - cpu0.worker, temporal: treeCpuSeconds(env.temporalPid) - cpu0.temporal };
    const statusesWhenMeasured = await statusCounts(env, storeIds);
    await sleep(10_000);
    const waitingCount = (await statusCounts(env, storeIds)).sent ?? 0;
    const atWaiting = await point();
    log(`  ${waitingCount} waiting at ${atWaiting.rssMb} MB`);
    const waitingHeap = o.heapSnapshots ? await snapshots(worker, `waiting-c${cache}`, log) : undefined;

    // Release: what WAHA would send once WhatsApp delivers and the buyer reads.
    log('  releasing acks…');
    const byStoreSession = new Map(stores.map((s) => [s.session, s.id]));
    const msgs = env.waha.state.allChats().filter((c) => byStoreSession.has(c.session)).flatMap((c) => c.messages.filter((m) => m.fromMe).map((m) => ({ m, storeId: byStoreSession.get(c.session)! })));
    const secret = webhookSecret();
    let webhookRetries = 0;
    const r0 = Date.now();
    const cpuR0 = { worker: cpuSeconds(worker.pid), temporal: treeCpuSeconds(env.temporalPid) };
    await pool(msgs, 20, async ({ m, storeId }) => {
      for (const ack of [1, 2, 3]) {
        const body = JSON.stringify({
          id: `evt_${ulid().toLowerCase()}`, timestamp: Date.now(), event: 'message.ack', session: m.session, me: { id: '77000000001@c.us', pushName: 'bench' },
          payload: { id: m.id, from: '77000000001@c.us', to: m.chatId, fromMe: true, ack, ackName: ['', 'SERVER', 'DEVICE', 'READ'][ack] },
          engine: 'GOWS', environment: {}, metadata: {},
        });
        // WAHA retries a webhook that did not get through; so do we, a bounded number of times (a
        // kept-alive socket the server closed at the same moment fails the request without an answer).
        for (let attempt = 1; ; attempt++) {
          try {
            const res = await fetch(`${env.web.url}/webhooks/waha/${storeId}`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', [WEBHOOK_HEADERS.hmac]: signWebhook(body, secret), [WEBHOOK_HEADERS.timestamp]: String(Date.now()), 'x-webhook-hmac-algorithm': 'sha512' },
              body,
            });
            await res.arrayBuffer();
            if (res.ok) break;
            if (res.status < 500) throw new Error(`webhook refused: ${res.status}`);
            throw new Error(`webhook answered ${res.status}`);
          } catch (err) {
            if (attempt >= 5 || (err as Error).message.startsWith('webhook refused')) throw err;
            webhookRetries++;
            await sleep(500 * attempt);
          }
        }
      }
    });
    const webhooksSeconds = (Date.now() - r0) / 1000;
    // Read in PostgreSQL comes from the webhook; the workflows are done when none is open any more.
    const openWorkflows = async () => (await env.ctx.temporal.workflow.count(`TaskQueue = 'bench-memory' AND ExecutionStatus = 'Running'`)).count;
    await waitFor(async () => (await openWorkflows()) === 0, Math.max(120_000, o.budgetSeconds * 1000), 2000);
    const releaseSeconds = (Date.now() - r0) / 1000;
    const cpuRelease = { worker: cpuSeconds(worker.pid) - cpuR0.worker, temporal: treeCpuSeconds(env.temporalPid) - cpuR0.temporal };
    const afterRelease = await point();
    await sleep(15_000);
    const settled = await point();
    sampling = false;
    await sampler;
    const peakMb = Math.max(...samples.map((s) => s.rssMb), atWaiting.rssMb);
    const open = await env.ctx.db.select({ n: sql<number>`count(*)::int` }).from(notifications).where(and(inArray(notifications.storeId, storeIds), eq(notifications.status, 'sent')));
    const stillRunning = await openWorkflows();
    return {
      requested: o.waiting,
      waiting: waitingCount,
      reached: waitingCount >= o.waiting,
      maxCachedWorkflows: cache,
      inFlight: o.inFlight,
      tuning: o.tuning ?? {},
      nodeFlags: o.nodeFlags ?? [...WORKER_NODE_FLAGS],
      traceGc: o.traceGc,
      workerEnv: o.workerEnv ?? {},
      workerFrom: env.workerFrom,
      startup: worker.startup.map((s) => ({ step: s.step, rssMb: round(s.rss / MB, 1), heapTotalMb: round(s.heapTotal / MB, 1), externalMb: round(s.external / MB, 1) })),
      idle,
      atWaiting,
      afterRelease,
      settled15s: settled,
      // A snapshot at W grows the heap it writes: after-release figures of such a run are not clean.
      snapshotBeforeRelease: o.heapSnapshots,
      idleHeap,
      waitingHeap,
      startSeconds: round(startSeconds, 1),
      allSentSeconds: round(sentSeconds, 1),
      sentPerSecond: round(waitingCount / sentSeconds, 2),
      webhooksSeconds: round(webhooksSeconds, 1),
      webhookRetries,
      releaseSeconds: round(releaseSeconds, 1),
      releasedPerSecond: round(waitingCount / releaseSeconds, 2),
      cpuSeconds: { send: { worker: round(cpuSend.worker, 1), temporal: round(cpuSend.temporal, 1) }, release: { worker: round(cpuRelease.worker, 1), temporal: round(cpuRelease.temporal, 1) } },
      baselineMb: idle.rssMb,
      waitingMb: atWaiting.rssMb,
      peakMb: round(peakMb, 1),
      afterReleaseMb: afterRelease.rssMb,
      settled15sMb: settled.rssMb,
      stillSentAfterRelease: open[0]?.n ?? 0,
      stillRunningAfterRelease: stillRunning,
      statusesWhenMeasured,
      samples: samples.filter((_, i) => i % 5 === 0),
      target: 300,
    };
  } finally {
    stopSampling();
    env.waha.state.ackDelaysMs = [10, 20, 30];
    await worker.stop();
    if (gcTrace) rmSync(gcTrace, { force: true });
  }
}
