/**
 * `npm run demo` (= `npm start -- --demo`): everything `npm start` does, plus a Kaspi simulator, a
 * WAHA simulator (engine NOWEB, acks after a few seconds) and a demo store "Демо-магазин" that
 * polls the simulator every 10 s and sends through the WAHA simulator, with Russian templates for
 * every event and a steady trickle of orders moving through their states. No Kaspi or WhatsApp
 * account is needed; `<wahaUrl>/_sim/chats` shows the chats as the buyers see them.
 *
 * How it fits into bin/start.ts:
 *  1. `startDemoKaspiSimulator()` BEFORE the AppContext is built: `KASPI_API_URL` is read once into
 *     `ctx.config`, and the poll and pre-send activities build their Kaspi client from it, so the
 *     context is created with `KASPI_API_URL` = the simulator's URL.
 *  2. `assertDemoDataIsolated(ctx)` before the worker starts: with `KASPI_API_URL` pointing at the
 *     simulator, every store of the data directory would poll it; a real store's token would be
 *     refused there and the store marked "token rejected". The demo refuses to run on such data.
 *  3. `startDemo(ctx, { publicUrl, kaspi })` once the worker and the web app run: the WAHA
 *     simulator, the demo store (through the same services the admin uses, so the same validation
 *     runs), the poll Schedule, and the order trickle. `stop()` stops the trickle and the WAHA
 *     simulator; the Kaspi simulator is stopped by whoever started it.
 *
 * Restarts with the same data directory reuse the store (fixed id) and its templates. The
 * simulators start empty each run, so new order codes continue after the highest code the store
 * already holds (the simulator would otherwise hand out 600000001 again, and an order code the store
 * has seen never produces a second `new` message). The poll cursor cannot hide new simulator
 * orders: their creationDate is "now", after any cursor a previous run left.
 */
import { randomUUID } from 'node:crypto';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { notifications, orders, senders, storeMembers, stores, users, type NotifyEvent } from '../drizzle/schema.ts';
import type { AppContext } from '../lib/context.ts';
import { randomToken, SecretDecryptError } from '../lib/crypto.ts';
import type { Actor } from '../lib/services/access.ts';
import { saveWhatsappSettings } from '../lib/services/settings.ts';
import { createStore, updateStore } from '../lib/services/stores.ts';
import { createTemplate, listTemplates } from '../lib/services/templates.ts';
import { reconcileSchedules } from '../lib/temporal/schedules.ts';
import { WahaClient } from '../lib/waha/client.ts';
import { startKaspiSimulator, type RunningKaspiSimulator, type CreateOrderInput } from '../simulators/kaspi/server.ts';
import { startWahaSimulator, type WahaSimulator } from '../simulators/waha/server.ts';
import { pollScheduleId } from '../workflows/config.ts';

export const DEMO_STORE_ID = 'de300000-0000-4000-8000-00000000de30';
export const DEMO_STORE_NAME = 'Демо-магазин';
/** The only token the demo's Kaspi simulator accepts (it runs on 127.0.0.1 and holds fake orders). */
export const DEMO_KASPI_TOKEN = 'demo-kaspi-token-0001';
export const DEMO_POLL_INTERVAL_SECONDS = 10;
export const DEMO_MIN_GAP_SECONDS = 3;
export const DEMO_MAX_GAP_SECONDS = 8;
/** Server, device, read: WhatsApp's own acks take about this long. */
export const DEMO_ACK_DELAYS_MS: [number, number, number] = [1_200, 3_000, 6_500];
const WAHA_SESSION = 'default';

/** One template per event; `{review_link}` in the review request. Checked by the templates service. */
export const DEMO_TEMPLATES: readonly { event: NotifyEvent; name: string; text: string; delayMinutes: number }[] = [
  {
    event: 'new',
    name: 'Новый заказ',
    text: 'Здравствуйте, {first_name}! Спасибо за заказ №{order_num} в магазине «{shop_name}»: {product_name} × {item_qty} на сумму {total_amount}. Мы уже собираем его и напишем, когда он будет в пути или готов к выдаче.',
    delayMinutes: 0,
  },
  {
    event: 'accepted',
    name: 'Заказ принят',
    text: '{first_name}, ваш заказ №{order_num} принят в работу. Способ получения: {delivery_type}.',
    delayMinutes: 0,
  },
  {
    event: 'ready_for_pickup',
    name: 'Готов к выдаче',
    text: '{first_name}, заказ №{order_num} готов к выдаче в пункте {pickup_point}. Возьмите с собой код получения из приложения Kaspi.kz.',
    delayMinutes: 0,
  },
  {
    event: 'in_delivery',
    name: 'Передан в доставку',
    text: '{first_name}, заказ №{order_num} ({product_name}) передан в доставку ({delivery_type}) и скоро будет у вас.',
    delayMinutes: 0,
  },
  {
    event: 'completed',
    name: 'Просьба об отзыве',
    text: '{first_name}, спасибо за покупку в «{shop_name}»! Если вам понравился товар «{product_name}», оставьте, пожалуйста, отзыв — это займёт минуту: {review_link}',
    // A real store waits a day or more; in the demo a minute shows the "scheduled" state and a
    // Temporal timer without making the newcomer wait.
    delayMinutes: 1,
  },
  {
    event: 'cancelled',
    name: 'Заказ отменён',
    text: '{first_name}, к сожалению, заказ №{order_num} отменён. Если оплата была списана, Kaspi вернёт её автоматически. Будем рады видеть вас снова в «{shop_name}»!',
    delayMinutes: 0,
  },
];

export class DemoRefusedError extends Error {
  override name = 'DemoRefusedError';
}

/** The Kaspi simulator of the demo; start it before the AppContext and use its URL as KASPI_API_URL. */
export function startDemoKaspiSimulator(): Promise<RunningKaspiSimulator> {
  return startKaspiSimulator({ tokens: [DEMO_KASPI_TOKEN] });
}

/**
 * Refuses to run when the data directory holds stores other than the demo store that would poll
 * Kaspi: in demo mode KASPI_API_URL is the simulator, which would reject their tokens.
 */
export async function assertDemoDataIsolated(ctx: AppContext, demoStoreId = DEMO_STORE_ID): Promise<void> {
  const others = await ctx.db
    .select({ name: stores.name })
    .from(stores)
    .where(and(sql`${stores.id} <> ${demoStoreId}`, eq(stores.enabled, true), eq(stores.tokenRejected, false), sql`${stores.kaspiTokenEnc} is not null`));
  if (others.length > 0) {
    throw new DemoRefusedError(
      `npm run demo points Kaspi polling at a simulator, and this data directory has ${others.length} store(s) with a real Kaspi token ` +
        `(e.g. «${others[0]!.name}») whose tokens it would reject. Run the demo with its own data: DATA_DIR=.data-demo npm run demo`,
    );
  }
}

/** The first super-admin (the one `npm start` creates), else the oldest user. */
async function demoUser(ctx: AppContext, userId?: string): Promise<{ id: string; isSuperAdmin: boolean; email: string }> {
  const rows = await ctx.db
    .select({ id: users.id, isSuperAdmin: users.isSuperAdmin, email: users.email })
    .from(users)
    .where(userId ? eq(users.id, userId) : undefined)
    .orderBy(sql`${users.isSuperAdmin} desc`, users.createdAt)
    .limit(1);
  const user = rows[0];
  if (!user) throw new Error(userId ? `demo: no user ${userId}` : 'demo: no user to own the demo store (the first admin is created by npm start)');
  return user;
}

export interface DemoStoreSetup {
  storeId: string;
  /** The URL at which the WAHA simulator reaches our web app (webhooks). */
  publicUrl: string;
  wahaUrl: string;
  wahaApiKey: string;
  webhookSecret: string;
  userId?: string;
}

/**
 * Creates or brings back the demo store, its templates and WhatsApp settings, points the WAHA
 * session's webhook at our web app and reconciles the store's poll Schedule. Idempotent.
 */
export async function setupDemoStore(ctx: AppContext, input: DemoStoreSetup): Promise<{ storeId: string; created: boolean; userEmail: string }> {
  const user = await demoUser(ctx, input.userId);
  const actor: Actor = { kind: 'user', userId: user.id, isSuperAdmin: user.isSuperAdmin };
  const storeId = input.storeId;

  const [existing] = await ctx.db.select().from(stores).where(eq(stores.id, storeId));
  if (!existing) {
    await createStore(ctx, actor, {
      store_id: storeId,
      name: DEMO_STORE_NAME,
      kaspi_api_token: DEMO_KASPI_TOKEN,
      poll_interval_seconds: DEMO_POLL_INTERVAL_SECONDS,
      timezone: 'Asia/Almaty',
      lookback_minutes: 0,
    });
  } else {
    // The store may have been created by another admin account: make this one see it.
    await ctx.db.insert(storeMembers).values({ storeId, userId: user.id }).onConflictDoNothing();
    let tokenOk = false;
    if (existing.kaspiTokenEnc !== null && !existing.tokenRejected) {
      try {
        tokenOk = ctx.secrets.decrypt(existing.kaspiTokenEnc) === DEMO_KASPI_TOKEN;
      } catch (err) {
        if (!(err instanceof SecretDecryptError)) throw err;
      }
    }
    await updateStore(ctx, actor, storeId, {
      poll_interval_seconds: DEMO_POLL_INTERVAL_SECONDS,
      enabled: true,
      sending_paused: false,
      ...(tokenOk ? {} : { kaspi_api_token: DEMO_KASPI_TOKEN }),
    });
  }

  // Templates: one per event unless the store already has one (active or not: an admin who
  // switched a demo template off keeps it off).
  const present = new Set((await listTemplates(ctx, actor, storeId)).map((t) => t.event));
  for (const t of DEMO_TEMPLATES) {
    if (present.has(t.event)) continue;
    await createTemplate(ctx, actor, storeId, { template_name: t.name, template_text: t.text, event: t.event, delay_minutes: t.delayMinutes, is_active: true });
  }

  // The simulator's URL changes each run, so each run is a new sender row (one per URL+session).
  await saveWhatsappSettings(ctx, actor, storeId, {
    waha_server_url: input.wahaUrl,
    waha_session_name: WAHA_SESSION,
    is_enabled: true,
    waha_api_key: input.wahaApiKey,
    webhook_secret: input.webhookSecret,
    min_gap_seconds: DEMO_MIN_GAP_SECONDS,
    max_gap_seconds: DEMO_MAX_GAP_SECONDS,
    daily_cap: null,
    quiet_hours_start: null,
    quiet_hours_end: null,
    // The simulator's phone is no new number: a warm-up would hold the demo's trickle after 20 messages.
    warmup_days: 0,
  });
  // The per-buyer daily limit (default 3) would hold back the 4th message of one order; the
  // settings service does not carry that field, so the demo lifts it on its own sender row.
  const [{ senderId } = { senderId: null }] = await ctx.db.select({ senderId: stores.senderId }).from(stores).where(eq(stores.id, storeId));
  if (senderId) await ctx.db.update(senders).set({ perBuyerDailyLimit: null, engine: 'NOWEB' }).where(eq(senders.id, senderId));

  await new WahaClient({ baseUrl: input.wahaUrl, apiKey: input.wahaApiKey, session: WAHA_SESSION }).upsertSessionConfig({
    webhookUrl: `${input.publicUrl.replace(/\/+$/, '')}/webhooks/waha/${storeId}`,
    hmacKey: input.webhookSecret,
  });
  await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE, { storeId });
  return { storeId, created: !existing, userEmail: user.email };
}

// --- the order trickle ----------------------------------------------------------------------------

const FIRST_NAMES_F = ['Айгерим', 'Дана', 'Асель', 'Жанар', 'Алия', 'Мадина', 'Гульнара', 'Камила', 'Салтанат', 'Динара', 'Айжан', 'Томирис'];
const LAST_NAMES_F = ['Серикова', 'Жумабаева', 'Нургалиева', 'Ахметова', 'Бекова', 'Тулегенова', 'Есенова', 'Абдрахманова', 'Касымова', 'Омарова', 'Садыкова', 'Ермекова'];
const FIRST_NAMES_M = ['Нурлан', 'Ерлан', 'Бауыржан', 'Тимур', 'Данияр', 'Арман', 'Санжар', 'Айдос', 'Асхат', 'Ержан', 'Мирас', 'Алихан'];
const LAST_NAMES_M = ['Абенов', 'Касымов', 'Омаров', 'Исмаилов', 'Сапаров', 'Жаксылыков', 'Мухамеджанов', 'Кенжебаев', 'Ермеков', 'Садыков', 'Нуржанов', 'Бекетов'];
const PHONE_PREFIXES = ['701', '702', '705', '707', '708', '747', '771', '775', '776', '777', '778'];
const PRODUCTS: readonly { name: string; code: string; price: number }[] = [
  { name: 'Смартфон Samsung Galaxy A55 8/256 ГБ', code: 'SAM-A55-256', price: 189_990 },
  { name: 'Наушники Apple AirPods Pro 2', code: 'APL-APP2', price: 119_990 },
  { name: 'Электрочайник Tefal KI 2008', code: 'TEF-KI2008', price: 18_990 },
  { name: 'Робот-пылесос Xiaomi Robot Vacuum S10', code: 'XIA-S10', price: 89_990 },
  { name: 'Казан чугунный 12 л с крышкой', code: 'KAZ-12L', price: 24_990 },
  { name: 'Кроссовки Nike Air Max 90', code: 'NIK-AM90', price: 64_990 },
  { name: 'Увлажнитель воздуха Polaris PUH 5304', code: 'POL-5304', price: 15_990 },
  { name: 'Мультиварка Redmond RMC-M90', code: 'RED-M90', price: 32_990 },
  { name: 'Книга «Путь Абая» М. Ауэзова', code: 'BK-ABAI', price: 6_990 },
  { name: 'Кофемашина De’Longhi Magnifica S', code: 'DEL-MAGS', price: 229_990 },
  { name: 'Детское автокресло Joie Trillo', code: 'JOI-TRL', price: 79_990 },
  { name: 'Пиала керамическая, набор 6 шт.', code: 'PIA-6', price: 7_490 },
];
const ADDRESSES = [
  'Алматы, пр. Абая, 150, кв. 12',
  'Астана, ул. Кенесары, 40, кв. 7',
  'Шымкент, пр. Тауке хана, 23',
  'Караганда, ул. Ерубаева, 15, кв. 31',
  'Алматы, мкр. Самал-2, 58',
  'Актобе, пр. Абилкайыр хана, 44',
];
const PICKUP_POINTS = ['30012345_PP1', '30012345_PP2', '30012345_PP3'];

type Step = 'accept' | 'hand-to-courier' | 'complete' | 'cancel';
type Kind = 'pickup' | 'kaspi_delivery' | 'own_delivery' | 'cancel_early' | 'cancel_after_accept';
const KINDS: readonly { kind: Kind; weight: number; steps: Step[] }[] = [
  { kind: 'pickup', weight: 35, steps: ['accept', 'complete'] },
  { kind: 'kaspi_delivery', weight: 20, steps: ['accept', 'hand-to-courier', 'complete'] },
  { kind: 'own_delivery', weight: 20, steps: ['accept', 'hand-to-courier', 'complete'] },
  { kind: 'cancel_early', weight: 13, steps: ['cancel'] },
  { kind: 'cancel_after_accept', weight: 12, steps: ['accept', 'cancel'] },
];

interface TrackedOrder {
  code: string;
  kind: Kind;
  steps: Step[];
  dueAt: number;
}

export interface DemoTrickleOptions {
  /** Mean time between new orders (default 15 s; each gap is ±20 %). */
  orderIntervalMs?: number;
  /** Time an order stays in a state before its next step (default 18–35 s). */
  stepDelayMs?: [number, number];
  /** New orders wait while this many notifications are queued or sending (default 4). */
  maxBacklog?: number;
  random?: () => number;
}

export class DemoTrickle {
  readonly #ctx: AppContext;
  readonly #kaspi: RunningKaspiSimulator;
  readonly #storeId: string;
  readonly #interval: number;
  readonly #step: [number, number];
  readonly #maxBacklog: number;
  readonly #random: () => number;
  readonly #tracked: TrackedOrder[] = [];
  #nextCode = 0;
  #nextOrderAt = 0;
  #created = 0;
  #stopped = false;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;

  constructor(ctx: AppContext, kaspi: RunningKaspiSimulator, storeId: string, options: DemoTrickleOptions = {}) {
    this.#ctx = ctx;
    this.#kaspi = kaspi;
    this.#storeId = storeId;
    this.#interval = options.orderIntervalMs ?? 15_000;
    this.#step = options.stepDelayMs ?? [18_000, 35_000];
    this.#maxBacklog = options.maxBacklog ?? 4;
    this.#random = options.random ?? Math.random;
  }

  get ordersCreated(): number {
    return this.#created;
  }

  async start(): Promise<void> {
    // Continue after every code the store has seen (earlier runs' simulators used the same range).
    const [row] = await this.#ctx.db
      .select({ max: sql<string | null>`max(${orders.code}::bigint)::text` })
      .from(orders)
      .where(and(eq(orders.storeId, this.#storeId), sql`${orders.code} ~ '^[0-9]{1,15}$'`));
    this.#nextCode = Math.max(600_000_001, Number(row?.max ?? 0) + 1);
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let first = true;
    while (!this.#stopped) {
      try {
        await this.tick();
        if (first && this.#created > 0) {
          first = false;
          // The first order should not wait for the next 10-second slot of the Schedule.
          await this.#ctx.temporal.schedule.getHandle(pollScheduleId(this.#storeId)).trigger(ScheduleOverlapPolicy.SKIP).catch(() => undefined);
        }
      } catch (err) {
        this.#ctx.logger.warn({ err: err instanceof Error ? err.message : String(err), storeId: this.#storeId }, 'demo: trickle step failed');
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2_000);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
  }

  /** One pass: advance the orders that are due, then maybe create a new one. */
  async tick(now = Date.now()): Promise<void> {
    for (const order of [...this.#tracked]) {
      if (order.dueAt > now) continue;
      const step = order.steps.shift();
      if (!step) continue;
      this.#apply(order.code, step);
      this.#ctx.logger.info({ storeId: this.#storeId, orderCode: order.code, step }, 'demo: order advanced');
      if (order.steps.length === 0) this.#tracked.splice(this.#tracked.indexOf(order), 1);
      else order.dueAt = now + this.#between(this.#step[0], this.#step[1]);
    }
    if (now < this.#nextOrderAt) return;
    if ((await this.#backlog()) >= this.#maxBacklog) {
      this.#nextOrderAt = now + 5_000;
      return;
    }
    this.createOrder(now);
    this.#nextOrderAt = now + this.#between(this.#interval * 0.8, this.#interval * 1.2);
  }

  /** A new order with a random buyer, product and delivery mode; returns its code. */
  createOrder(now = Date.now()): string {
    const pick = <T>(list: readonly T[]): T => list[Math.floor(this.#random() * list.length)]!;
    const female = this.#random() < 0.5;
    const firstName = pick(female ? FIRST_NAMES_F : FIRST_NAMES_M);
    const lastName = pick(female ? LAST_NAMES_F : LAST_NAMES_M);
    const cellPhone = `${pick(PHONE_PREFIXES)}${String(Math.floor(this.#random() * 10_000_000)).padStart(7, '0')}`;
    const product = pick(PRODUCTS);
    const quantity = this.#random() < 0.8 ? 1 : 2;
    let roll = this.#random() * KINDS.reduce((s, k) => s + k.weight, 0);
    const kind = KINDS.find((k) => (roll -= k.weight) < 0) ?? KINDS[0]!;
    // Cancelled orders are both pickup and delivery; the others follow their kind.
    const delivery = kind.kind === 'kaspi_delivery' || kind.kind === 'own_delivery' || (kind.kind.startsWith('cancel') && this.#random() < 0.4);
    const isKaspiDelivery = kind.kind === 'kaspi_delivery';
    const code = String(this.#nextCode++);
    const input: CreateOrderInput = {
      code,
      state: 'NEW',
      status: 'APPROVED_BY_BANK',
      creationDate: now,
      approvedByBankDate: now,
      customer: { firstName, lastName, name: null, cellPhone },
      entries: [{ name: product.name, code: product.code, quantity, basePrice: product.price }],
      deliveryMode: delivery ? (this.#random() < 0.75 ? 'DELIVERY_LOCAL' : 'DELIVERY_REGIONAL_TODOOR') : 'DELIVERY_PICKUP',
      isKaspiDelivery,
      deliveryAddress: delivery ? pick(ADDRESSES) : null,
      pickupPointId: delivery ? null : pick(PICKUP_POINTS),
      plannedDeliveryDate: delivery ? now + (1 + Math.floor(this.#random() * 3)) * 86_400_000 : null,
    };
    this.#kaspi.state.createOrder(input);
    this.#created += 1;
    this.#tracked.push({ code, kind: kind.kind, steps: [...kind.steps], dueAt: now + this.#between(this.#step[0], this.#step[1]) });
    this.#ctx.logger.info({ storeId: this.#storeId, orderCode: code, kind: kind.kind }, 'demo: new Kaspi order');
    return code;
  }

  #apply(code: string, step: Step): void {
    const sim = this.#kaspi.state;
    switch (step) {
      case 'accept': sim.accept(code); break;
      case 'hand-to-courier': sim.handToCourier(code); break;
      case 'complete': sim.complete(code); break;
      case 'cancel': sim.cancel(code, this.#random() < 0.5 ? 'BUYER_CANCELLATION_BY_MERCHANT' : 'BUYER_NOT_REACHABLE'); break;
    }
  }

  async #backlog(): Promise<number> {
    const [row] = await this.#ctx.db
      .select({ n: sql<number>`count(*)::int` })
      .from(notifications)
      .where(and(eq(notifications.storeId, this.#storeId), inArray(notifications.status, ['queued', 'sending'])));
    return row?.n ?? 0;
  }

  #between(min: number, max: number): number {
    return Math.round(min + this.#random() * (max - min));
  }
}

// --- all together -----------------------------------------------------------------------------------

export interface StartDemoOptions {
  /** Where the WAHA simulator reaches our web app (webhooks); a local URL is best. */
  publicUrl: string;
  /** The simulator `ctx.config.KASPI_API_URL` points at (see `startDemoKaspiSimulator`). */
  kaspi: RunningKaspiSimulator;
  /** Default: the fixed demo store id, so a restart reuses the store. */
  storeId?: string;
  /** Default: the first super-admin (else the oldest user). */
  userId?: string;
  ackDelaysMs?: [number, number, number];
  trickle?: DemoTrickleOptions;
}

export interface RunningDemo {
  storeId: string;
  storeCreated: boolean;
  userEmail: string;
  waha: WahaSimulator;
  wahaUrl: string;
  chatsUrl: string;
  kaspiUrl: string;
  trickle: DemoTrickle;
  /** Lines for the start-up banner. */
  banner(): string[];
  /** Stops the trickle and the WAHA simulator (not the Kaspi simulator: its starter stops it). */
  stop(): Promise<void>;
}

export async function startDemo(ctx: AppContext, options: StartDemoOptions): Promise<RunningDemo> {
  if (ctx.config.KASPI_API_URL.replace(/\/+$/, '') !== options.kaspi.url) {
    throw new Error(`demo: KASPI_API_URL (${ctx.config.KASPI_API_URL}) must be the Kaspi simulator's URL (${options.kaspi.url}); start it before the context`);
  }
  const storeId = options.storeId ?? DEMO_STORE_ID;
  const wahaApiKey = `demo-${randomUUID()}`;
  const webhookSecret = randomToken(24);
  const waha = await startWahaSimulator({
    engine: 'NOWEB',
    apiKey: wahaApiKey,
    ackDelaysMs: options.ackDelaysMs ?? DEMO_ACK_DELAYS_MS,
    startDelayMs: 500,
    webhookRetryDelayMs: 500,
    sessions: [{ name: WAHA_SESSION, status: 'WORKING', paired: true, me: { id: '77000000001@c.us', pushName: DEMO_STORE_NAME } }],
  });
  let trickle: DemoTrickle | null = null;
  try {
    const setup = await setupDemoStore(ctx, { storeId, publicUrl: options.publicUrl, wahaUrl: waha.url, wahaApiKey, webhookSecret, userId: options.userId });
    // The session restarts to apply the webhook; the first sends wait for WORKING anyway.
    for (let i = 0; i < 50 && waha.state.sessionStatus(WAHA_SESSION) !== 'WORKING'; i++) await new Promise((r) => setTimeout(r, 100));
    trickle = new DemoTrickle(ctx, options.kaspi, storeId, options.trickle);
    await trickle.start();
    const running = trickle;
    const chatsUrl = `${waha.url}/_sim/chats`;
    ctx.logger.info({ storeId, created: setup.created }, 'demo started');
    return {
      storeId,
      storeCreated: setup.created,
      userEmail: setup.userEmail,
      waha,
      wahaUrl: waha.url,
      chatsUrl,
      kaspiUrl: options.kaspi.url,
      trickle: running,
      banner: () => [
        `  DEMO MODE: simulated Kaspi and WhatsApp; nothing reaches real buyers.`,
        `  Demo store:   ${DEMO_STORE_NAME} (${storeId}), visible to ${setup.userEmail}; a new order every ~15 s`,
        `  Buyer chats:  ${chatsUrl}  (the WAHA simulator, engine NOWEB)`,
        `  Kaspi sim:    ${options.kaspi.url}/_sim/orders`,
        `  Sending:      poll every ${DEMO_POLL_INTERVAL_SECONDS} s, gap ${DEMO_MIN_GAP_SECONDS}–${DEMO_MAX_GAP_SECONDS} s, quiet hours OFF for the demo (real stores default to 22:00–09:00)`,
      ],
      stop: async () => {
        await running.stop();
        await waha.close();
      },
    };
  } catch (err) {
    await trickle?.stop();
    await waha.close();
    throw err;
  }
}

