import { serve } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { z } from 'zod';

/**
 * Kaspi Shop API v2 simulator (docs/architecture.md "Folders"). It enforces the contract our client relies on
 * (docs/contracts/kaspi.md) — so a client bug fails a test here rather than in production — and
 * answers in the exact shape of test/fixtures/kaspi-orders-page.json. Tests drive it in-process through
 * `KaspiSimState`; a separate demo process drives the same operations over `/_sim/...` (see
 * `KaspiSimulatorControl`).
 *
 * Choices where Kaspi documents nothing:
 * - `filter[orders][code]` must come alone: combined with creationDate/state/status it is a 400,
 *   so a client that mixes them is caught. Page parameters are still required, as everywhere.
 * - Results are sorted by creationDate, then code, ascending; `$le` defaults to the sim's clock.
 * - Faults apply to API routes only, never to `/_sim`, and fire before the token check.
 */

// Kaspi's own vocabulary (Shop API v2), written out here so the simulator imports nothing from the
// product: a test checks these stay equal to the client's.
export const KASPI_STATES = ['NEW', 'SIGN_REQUIRED', 'PICKUP', 'DELIVERY', 'KASPI_DELIVERY', 'ARCHIVE'] as const;
export const KASPI_STATUSES = [
  'APPROVED_BY_BANK', 'ACCEPTED_BY_MERCHANT', 'COMPLETED', 'CANCELLED', 'CANCELLING',
  'KASPI_DELIVERY_RETURN_REQUESTED', 'RETURN_ACCEPTED_BY_MERCHANT', 'RETURNED',
] as const;
export const JSON_API_MEDIA_TYPE = 'application/vnd.api+json';

const DAY = 24 * 60 * 60 * 1000;
export const SIM_MAX_WINDOW_MS = 14 * DAY;
export const SIM_MAX_PAGE_SIZE = 100;

const stateEnum = z.enum(KASPI_STATES);
const statusEnum = z.enum(KASPI_STATUSES);
const epoch = z.number().int().nonnegative();

export const simCustomerSchema = z.object({
  firstName: z.string().nullable().default('Айгерим'),
  lastName: z.string().nullable().default('Серикова'),
  name: z.string().nullable().default(null),
  cellPhone: z.string().nullable().default('7011234567'),
});

export const simEntryInputSchema = z.object({
  name: z.string().min(1),
  code: z.string().min(1),
  quantity: z.number().int().positive().default(1),
  basePrice: z.number().nonnegative(),
  masterProductCode: z.string().min(1).optional(),
  masterProductName: z.string().optional(),
});

export const createOrderInputSchema = z.object({
  code: z.string().regex(/^\d+$/, 'Kaspi order codes are digits').optional(),
  state: stateEnum.default('NEW'),
  // Unsigned credit orders (SIGN_REQUIRED) also carry APPROVED_BY_BANK here; nothing reads it.
  status: statusEnum.default('APPROVED_BY_BANK'),
  creationDate: epoch.optional(),
  approvedByBankDate: epoch.nullable().optional(),
  customer: simCustomerSchema.default({ firstName: 'Айгерим', lastName: 'Серикова', name: null, cellPhone: '7011234567' }),
  entries: z.array(simEntryInputSchema).min(1).default([{ name: 'Крышка Tefal 28 см', code: 'TEF-L28', quantity: 1, basePrice: 12990 }]),
  deliveryMode: z.enum(['DELIVERY_LOCAL', 'DELIVERY_PICKUP', 'DELIVERY_REGIONAL_TODOOR', 'DELIVERY_REGIONAL_PICKUP']).default('DELIVERY_PICKUP'),
  isKaspiDelivery: z.boolean().default(false),
  plannedDeliveryDate: epoch.nullable().default(null),
  deliveryAddress: z.string().nullable().default(null),
  pickupPointId: z.string().nullable().default('30012345_PP1'),
  waybillNumber: z.string().nullable().optional(),
  courierTransmissionDate: epoch.nullable().default(null),
  cancellationReason: z.string().nullable().default(null),
  totalPrice: z.number().nonnegative().optional(),
});
export type CreateOrderInput = z.input<typeof createOrderInputSchema>;

export const transitionSchema = z.object({
  state: stateEnum.optional(),
  status: statusEnum.optional(),
  approvedByBankDate: epoch.nullable().optional(),
  courierTransmissionDate: epoch.nullable().optional(),
  plannedDeliveryDate: epoch.nullable().optional(),
  waybillNumber: z.string().nullable().optional(),
  cancellationReason: z.string().nullable().optional(),
});
export type OrderTransition = z.input<typeof transitionSchema>;

export interface SimOrderEntry {
  id: string;
  offerCode: string;
  name: string;
  quantity: number;
  basePrice: number;
  totalPrice: number;
  masterProduct: { id: string; code: string; name: string };
}

/** One order as the simulator holds it (plain JSON, so `/_sim/orders` can return it as is). */
export interface SimOrder {
  id: string;
  code: string;
  state: string;
  status: string;
  creationDate: number;
  approvedByBankDate: number | null;
  totalPrice: number;
  deliveryMode: string;
  isKaspiDelivery: boolean;
  plannedDeliveryDate: number | null;
  deliveryAddress: string | null;
  pickupPointId: string | null;
  waybillNumber: string | null;
  courierTransmissionDate: number | null;
  cancellationReason: string | null;
  customer: { id: string; firstName: string | null; lastName: string | null; name: string | null; cellPhone: string | null };
  entries: SimOrderEntry[];
}

export const simFaultSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('status'),
    status: z.number().int().min(400).max(599),
    count: z.number().int().positive().default(1),
    // Delta-seconds or an HTTP date, sent verbatim: tests need both forms.
    retryAfter: z.string().optional(),
  }),
  z.object({ kind: z.literal('delay'), ms: z.number().int().nonnegative(), count: z.number().int().positive().default(1) }),
  z.object({ kind: z.literal('malformed_order'), count: z.number().int().positive().default(1) }),
]);
export type SimFault = z.input<typeof simFaultSchema>;
type ParsedFault = z.output<typeof simFaultSchema>;

export interface SimRequestLogEntry {
  at: number;
  method: string;
  path: string;
  query: Record<string, string>;
  /** Whether X-Auth-Token matched a configured token; the token itself is not kept. */
  authorized: boolean;
  userAgent: string | null;
  accept: string | null;
  contentType: string | null;
  merchantUid: string | null;
  status: number;
  fault: 'status' | 'delay' | 'malformed_order' | null;
}

export class SimulatorError extends Error {
  override name = 'SimulatorError';
}

// Kaspi ids look like base64 of internal numbers (`MjAwNTcxMDAx` = "200571001"); we imitate that
// so nothing downstream is tempted to treat them as anything but opaque strings.
const opaqueId = (raw: string) => Buffer.from(raw, 'utf8').toString('base64').replace(/=+$/, '');

export class KaspiSimState {
  readonly tokens: Set<string>;
  readonly requests: SimRequestLogEntry[] = [];
  #orders = new Map<string, SimOrder>();
  #faults: ParsedFault[] = [];
  #nextCode = 600_000_001;
  #nextId = 300_000_001;
  #fixedNow: number | null = null;
  #clock: () => number;

  constructor(options: { tokens?: Iterable<string>; now?: () => number } = {}) {
    this.tokens = new Set(options.tokens ?? []);
    this.#clock = options.now ?? Date.now;
  }

  now(): number {
    return this.#fixedNow ?? this.#clock();
  }

  /** Freezes the simulator's clock (null = real clock again); used for `$le` defaults and dates. */
  setNow(now: number | null): void {
    this.#fixedNow = now;
  }

  reset(): void {
    this.#orders.clear();
    this.#faults = [];
    this.requests.length = 0;
    this.#fixedNow = null;
  }

  // --- orders -------------------------------------------------------------------------------

  createOrder(input: CreateOrderInput = {}): SimOrder {
    const o = createOrderInputSchema.parse(input);
    const code = o.code ?? String(this.#nextCode++);
    if (this.#orders.has(code)) throw new SimulatorError(`order ${code} already exists`);
    const id = opaqueId(String(this.#nextId++));
    const creationDate = o.creationDate ?? this.now();
    const entries = o.entries.map((e, i): SimOrderEntry => {
      const masterId = opaqueId(`${code}${i}`);
      return {
        id: opaqueId(`${id}##${i}`),
        offerCode: e.code,
        name: e.name,
        quantity: e.quantity,
        basePrice: e.basePrice,
        totalPrice: e.basePrice * e.quantity,
        masterProduct: { id: masterId, code: e.masterProductCode ?? `1${code.slice(-8)}${i}`, name: e.masterProductName ?? e.name },
      };
    });
    const order: SimOrder = {
      id,
      code,
      state: o.state,
      status: o.status,
      creationDate,
      approvedByBankDate: o.approvedByBankDate !== undefined ? o.approvedByBankDate : o.state === 'SIGN_REQUIRED' ? null : creationDate + 20_000,
      totalPrice: o.totalPrice ?? entries.reduce((sum, e) => sum + e.totalPrice, 0),
      deliveryMode: o.deliveryMode,
      isKaspiDelivery: o.isKaspiDelivery,
      plannedDeliveryDate: o.plannedDeliveryDate,
      deliveryAddress: o.deliveryAddress,
      pickupPointId: o.pickupPointId,
      waybillNumber: o.waybillNumber !== undefined ? o.waybillNumber : o.isKaspiDelivery ? `10${code.slice(-7)}` : null,
      courierTransmissionDate: o.courierTransmissionDate,
      cancellationReason: o.cancellationReason,
      customer: { id: opaqueId(o.customer.cellPhone ?? code), ...o.customer },
      entries,
    };
    this.#orders.set(code, order);
    return structuredClone(order);
  }

  getOrder(code: string): SimOrder | undefined {
    const order = this.#orders.get(code);
    return order ? structuredClone(order) : undefined;
  }

  listOrders(): SimOrder[] {
    return [...this.#orders.values()].map((o) => structuredClone(o));
  }

  transition(code: string, patch: OrderTransition): SimOrder {
    const order = this.#require(code);
    const p = transitionSchema.parse(patch);
    for (const key of Object.keys(p) as (keyof typeof p)[]) {
      if (p[key] !== undefined) Object.assign(order, { [key]: p[key] });
    }
    return structuredClone(order);
  }

  /**
   * The seller accepts. Kaspi moves the order out of NEW by its delivery type: Kaspi Delivery →
   * KASPI_DELIVERY (courier not yet), pickup → PICKUP (this is why `accepted` and
   * `ready_for_pickup` arrive together); the seller's own delivery stays NEW until `handToCourier`.
   */
  accept(code: string): SimOrder {
    const order = this.#require(code);
    const state = order.isKaspiDelivery
      ? 'KASPI_DELIVERY'
      : order.deliveryMode === 'DELIVERY_PICKUP' || order.deliveryMode === 'DELIVERY_REGIONAL_PICKUP' ? 'PICKUP' : order.state;
    return this.transition(code, { state: state as z.infer<typeof stateEnum>, status: 'ACCEPTED_BY_MERCHANT' });
  }

  readyForPickup(code: string): SimOrder {
    return this.transition(code, { state: 'PICKUP', status: 'ACCEPTED_BY_MERCHANT' });
  }

  /** Kaspi Delivery: the courier takes it (sets courierTransmissionDate); own delivery: DELIVERY. */
  handToCourier(code: string, at?: number): SimOrder {
    const order = this.#require(code);
    return order.isKaspiDelivery
      ? this.transition(code, { state: 'KASPI_DELIVERY', status: 'ACCEPTED_BY_MERCHANT', courierTransmissionDate: at ?? this.now() })
      : this.transition(code, { state: 'DELIVERY', status: 'ACCEPTED_BY_MERCHANT' });
  }

  complete(code: string): SimOrder {
    return this.transition(code, { state: 'ARCHIVE', status: 'COMPLETED' });
  }

  /** A cancellation under way (not final): state unchanged, status CANCELLING. */
  startCancelling(code: string): SimOrder {
    return this.transition(code, { status: 'CANCELLING' });
  }

  cancel(code: string, reason = 'BUYER_CANCELLATION_BY_MERCHANT'): SimOrder {
    return this.transition(code, { state: 'ARCHIVE', status: 'CANCELLED', cancellationReason: reason });
  }

  /** Credit papers signed: SIGN_REQUIRED → NEW, paid now. */
  sign(code: string, at?: number): SimOrder {
    const order = this.#require(code);
    if (order.state !== 'SIGN_REQUIRED') throw new SimulatorError(`order ${code} is ${order.state}, not SIGN_REQUIRED`);
    return this.transition(code, { state: 'NEW', status: 'APPROVED_BY_BANK', approvedByBankDate: at ?? this.now() });
  }

  deleteOrder(code: string): boolean {
    return this.#orders.delete(code);
  }

  #require(code: string): SimOrder {
    const order = this.#orders.get(code);
    if (!order) throw new SimulatorError(`no order ${code}`);
    return order;
  }

  // --- faults -------------------------------------------------------------------------------

  injectFault(fault: SimFault): void {
    this.#faults.push(simFaultSchema.parse(fault));
  }

  /** The next `count` API responses are 429 with this Retry-After (seconds or an HTTP date). */
  rateLimitNext(count = 1, retryAfter: string | undefined = '1'): void {
    this.injectFault({ kind: 'status', status: 429, count, ...(retryAfter === undefined ? {} : { retryAfter }) });
  }

  failNext(count = 1, status = 500): void {
    this.injectFault({ kind: 'status', status, count });
  }

  delayNext(ms: number, count = 1): void {
    this.injectFault({ kind: 'delay', ms, count });
  }

  /** The next `count` /orders pages each carry one extra order that does not parse. */
  malformedOrderNext(count = 1): void {
    this.injectFault({ kind: 'malformed_order', count });
  }

  clearFaults(): void {
    this.#faults = [];
  }

  get pendingFaults(): readonly SimFault[] {
    return this.#faults.map((f) => ({ ...f }));
  }

  /** Takes one use of the first pending fault of this kind, or returns undefined. */
  takeFault<K extends ParsedFault['kind']>(kind: K): Extract<ParsedFault, { kind: K }> | undefined {
    const index = this.#faults.findIndex((f) => f.kind === kind);
    const fault = this.#faults[index];
    if (!fault) return undefined;
    fault.count -= 1;
    if (fault.count <= 0) this.#faults.splice(index, 1);
    return { ...fault } as Extract<ParsedFault, { kind: K }>;
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  /** Internal, for the HTTP layer: live records, not copies. */
  ordersForQuery(): Iterable<SimOrder> {
    return this.#orders.values();
  }

  orderById(id: string): SimOrder | undefined {
    for (const order of this.#orders.values()) if (order.id === id) return order;
    return undefined;
  }
}

// --- JSON:API rendering -----------------------------------------------------------------------

function renderOrder(o: SimOrder, base: string): Record<string, unknown> {
  const self = `${base}/orders/${o.id}`;
  const attributes: Record<string, unknown> = {
    code: o.code,
    totalPrice: o.totalPrice,
    paymentMode: 'PREPAID',
    creationDate: o.creationDate,
    ...(o.approvedByBankDate === null ? {} : { approvedByBankDate: o.approvedByBankDate }),
    reservationDate: o.creationDate + 3 * DAY,
    deliveryCostForSeller: 0,
    isKaspiDelivery: o.isKaspiDelivery,
    deliveryMode: o.deliveryMode,
    signatureRequired: o.state === 'SIGN_REQUIRED',
    preOrder: false,
    pickupPointId: o.pickupPointId,
    state: o.state,
    assembled: o.state !== 'NEW' && o.state !== 'SIGN_REQUIRED',
    status: o.status,
    customer: { id: o.customer.id, name: o.customer.name, cellPhone: o.customer.cellPhone, firstName: o.customer.firstName, lastName: o.customer.lastName },
    deliveryCost: 0,
  };
  // Kaspi omits these rather than sending null, as in orders-page.json.
  if (o.plannedDeliveryDate !== null) attributes.plannedDeliveryDate = o.plannedDeliveryDate;
  if (o.cancellationReason !== null) attributes.cancellationReason = o.cancellationReason;
  if (o.isKaspiDelivery) {
    attributes.kaspiDelivery = {
      waybill: `${base}/waybill/${o.id}`,
      courierTransmissionDate: o.courierTransmissionDate,
      courierTransmissionPlanningDate: o.creationDate + DAY,
      waybillNumber: o.waybillNumber,
      express: false,
      returnedToWarehouse: false,
      firstMileCourier: null,
    };
  }
  if (o.deliveryAddress !== null) {
    attributes.deliveryAddress = {
      streetName: null, streetNumber: null, town: null, district: null, building: null, apartment: null,
      formattedAddress: o.deliveryAddress, latitude: null, longitude: null,
    };
  }
  return {
    type: 'orders',
    id: o.id,
    attributes,
    relationships: {
      user: {
        links: { self: `${self}/relationships/user`, related: `${self}/user` },
        data: { type: 'customers', id: o.customer.id },
      },
      entries: {
        links: { self: `${self}/relationships/entries`, related: `${self}/entries` },
        data: o.entries.map((e) => ({ type: 'orderentries', id: e.id })),
      },
    },
    links: { self },
  };
}

function renderEntry(e: SimOrderEntry, index: number, base: string): Record<string, unknown> {
  const self = `${base}/orderentries/${e.id}`;
  return {
    type: 'orderentries',
    id: e.id,
    attributes: {
      unitType: 'PIECES',
      offer: { code: e.offerCode, name: e.name },
      quantity: e.quantity,
      totalPrice: e.totalPrice,
      weight: 0,
      entryNumber: index,
      category: { code: 'Master - Smartphones', title: 'Смартфоны' },
      deliveryCost: 0,
      basePrice: e.basePrice,
      isImeiRequired: false,
    },
    relationships: {
      product: {
        links: { self: `${self}/relationships/product`, related: `${self}/product` },
        data: { type: 'masterproducts', id: e.masterProduct.id },
      },
    },
    links: { self },
  };
}

function renderCustomer(o: SimOrder): Record<string, unknown> {
  return {
    type: 'customers',
    id: o.customer.id,
    attributes: { firstName: o.customer.firstName, lastName: o.customer.lastName, cellPhone: o.customer.cellPhone },
  };
}

// Valid id and code, wrong types inside: exercises per-order tolerance with an identifiable reject.
function malformedOrder(now: number): Record<string, unknown> {
  return {
    type: 'orders',
    id: opaqueId('999999999'),
    attributes: { code: '999999999', totalPrice: 'not a number', creationDate: now, state: 'NEW', status: 'APPROVED_BY_BANK' },
    relationships: { entries: { data: [] } },
  };
}

const jsonApiError = (c: Context, status: 400 | 401 | 404 | 429 | 500, title: string, detail?: string) =>
  c.body(JSON.stringify({ errors: [{ status: String(status), title, ...(detail === undefined ? {} : { detail }) }] }), status, {
    'Content-Type': JSON_API_MEDIA_TYPE,
  });

const jsonApi = (c: Context, body: unknown) => c.body(JSON.stringify(body), 200, { 'Content-Type': JSON_API_MEDIA_TYPE });

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function parseIntParam(value: string | null): number | null {
  if (value === null || !/^-?\d+$/.test(value.trim())) return null;
  return Number(value);
}

type OrdersQuery =
  | { ok: true; page: number; size: number; code: string | null; from: number | null; to: number | null; state: string | null; status: string | null; include: Set<string> }
  | { ok: false; detail: string };

function parseOrdersQuery(params: URLSearchParams, now: number): OrdersQuery {
  const page = parseIntParam(params.get('page[number]'));
  const size = parseIntParam(params.get('page[size]'));
  if (page === null || page < 0) return { ok: false, detail: 'page[number] is required (0-based integer)' };
  if (size === null || size < 1) return { ok: false, detail: 'page[size] is required (1–100)' };
  if (size > SIM_MAX_PAGE_SIZE) return { ok: false, detail: `page[size] must not exceed ${SIM_MAX_PAGE_SIZE}` };
  const include = new Set((params.get('include[orders]') ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  const geRaw = params.get('filter[orders][creationDate][$ge]');
  const leRaw = params.get('filter[orders][creationDate][$le]');
  const state = params.get('filter[orders][state]');
  const status = params.get('filter[orders][status]');
  const code = params.get('filter[orders][code]');
  if (code !== null) {
    if (geRaw !== null || leRaw !== null || state !== null || status !== null) {
      return { ok: false, detail: 'filter[orders][code] must be used alone' };
    }
    return { ok: true, page, size, code, from: null, to: null, state: null, status: null, include };
  }
  const from = parseIntParam(geRaw);
  if (from === null) return { ok: false, detail: 'filter[orders][creationDate][$ge] is required (epoch ms)' };
  const to = leRaw === null ? now : parseIntParam(leRaw);
  if (to === null) return { ok: false, detail: 'filter[orders][creationDate][$le] must be epoch ms' };
  if (to < from) return { ok: false, detail: 'creationDate $le is before $ge' };
  if (to - from > SIM_MAX_WINDOW_MS) return { ok: false, detail: 'creationDate window must not exceed 14 days' };
  if (state !== null && !stateEnum.safeParse(state).success) return { ok: false, detail: `unknown state ${state}` };
  if (status !== null && !statusEnum.safeParse(status).success) return { ok: false, detail: `unknown status ${status}` };
  return { ok: true, page, size, code: null, from, to, state, status, include };
}

async function readJsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  return JSON.parse(text) as unknown;
}

/** The Hono app: Kaspi API routes at the root (use the server URL as KASPI_API_URL) + `/_sim`. */
export function createKaspiSimulatorApp(state: KaspiSimState): Hono {
  const app = new Hono();

  // --- control API (never faulted, never logged) ----------------------------------------------
  const control = new Hono();
  control.onError((error, c) => {
    if (error instanceof z.ZodError) return c.json({ error: error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') }, 400);
    if (error instanceof SyntaxError) return c.json({ error: 'body is not JSON' }, 400);
    if (error instanceof SimulatorError) return c.json({ error: error.message }, 404);
    return c.json({ error: error.message }, 500);
  });
  control.get('/orders', (c) => c.json({ orders: state.listOrders() }));
  control.get('/orders/:code', (c) => {
    const order = state.getOrder(c.req.param('code'));
    return order ? c.json({ order }) : c.json({ error: 'not found' }, 404);
  });
  control.post('/orders', async (c) => c.json({ order: state.createOrder(createOrderInputSchema.parse(await readJsonBody(c))) }, 201));
  control.delete('/orders/:code', (c) => (state.deleteOrder(c.req.param('code')) ? c.body(null, 204) : c.json({ error: 'not found' }, 404)));
  control.post('/orders/:code/transition', async (c) => c.json({ order: state.transition(c.req.param('code'), transitionSchema.parse(await readJsonBody(c))) }));
  const actionBody = z.object({ at: epoch.optional(), reason: z.string().optional() });
  control.post('/orders/:code/:action', async (c) => {
    const code = c.req.param('code');
    const body = actionBody.parse(await readJsonBody(c));
    switch (c.req.param('action')) {
      case 'accept': return c.json({ order: state.accept(code) });
      case 'ready-for-pickup': return c.json({ order: state.readyForPickup(code) });
      case 'hand-to-courier': return c.json({ order: state.handToCourier(code, body.at) });
      case 'complete': return c.json({ order: state.complete(code) });
      case 'start-cancelling': return c.json({ order: state.startCancelling(code) });
      case 'cancel': return c.json({ order: state.cancel(code, body.reason) });
      case 'sign': return c.json({ order: state.sign(code, body.at) });
      default: return c.json({ error: 'unknown action' }, 404);
    }
  });
  control.post('/faults', async (c) => {
    state.injectFault(simFaultSchema.parse(await readJsonBody(c)));
    return c.body(null, 204);
  });
  control.get('/faults', (c) => c.json({ faults: state.pendingFaults }));
  control.delete('/faults', (c) => { state.clearFaults(); return c.body(null, 204); });
  control.get('/requests', (c) => c.json({ requests: state.requests }));
  control.delete('/requests', (c) => { state.clearRequests(); return c.body(null, 204); });
  control.put('/tokens', async (c) => {
    const { tokens } = z.object({ tokens: z.array(z.string().min(1)) }).parse(await readJsonBody(c));
    state.tokens.clear();
    for (const token of tokens) state.tokens.add(token);
    return c.body(null, 204);
  });
  control.put('/clock', async (c) => {
    state.setNow(z.object({ now: epoch.nullable() }).parse(await readJsonBody(c)).now);
    return c.body(null, 204);
  });
  control.post('/reset', (c) => { state.reset(); return c.body(null, 204); });
  control.all('*', (c) => c.json({ error: 'unknown simulator control route' }, 404));
  app.route('/_sim', control);

  // --- Kaspi API ------------------------------------------------------------------------------
  const api = new Hono<{ Variables: { malformed: boolean } }>();
  api.use('*', async (c, next) => {
    const url = new URL(c.req.url);
    const entry: SimRequestLogEntry = {
      at: state.now(),
      method: c.req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorized: state.tokens.has(c.req.header('x-auth-token') ?? ''),
      userAgent: c.req.header('user-agent') ?? null,
      accept: c.req.header('accept') ?? null,
      contentType: c.req.header('content-type') ?? null,
      merchantUid: c.req.header('x-merchant-uid') ?? null,
      status: 0,
      fault: null,
    };
    state.requests.push(entry);
    // Every fault this request gets is taken on arrival: a delayed request whose client gave up
    // must not wake later and use up faults a following test injected.
    const delay = state.takeFault('delay');
    const failure = state.takeFault('status');
    const malformed = !failure && c.req.method === 'GET' && url.pathname === '/orders' ? state.takeFault('malformed_order') : undefined;
    c.set('malformed', malformed !== undefined);
    if (delay) { entry.fault = 'delay'; await sleep(delay.ms); }
    if (failure) {
      entry.fault = 'status';
      entry.status = failure.status;
      return c.body(JSON.stringify({ errors: [{ status: String(failure.status), title: 'Simulated failure' }] }), failure.status as 500, {
        'Content-Type': JSON_API_MEDIA_TYPE,
        ...(failure.retryAfter === undefined ? {} : { 'Retry-After': failure.retryAfter }),
      });
    }
    if (!entry.authorized) {
      entry.status = 401;
      return jsonApiError(c, 401, 'Unauthorized');
    }
    await next();
    entry.status = c.res.status;
    if (malformed) entry.fault ??= 'malformed_order';
  });

  api.get('/orders', (c) => {
    const url = new URL(c.req.url);
    const q = parseOrdersQuery(url.searchParams, state.now());
    if (!q.ok) return jsonApiError(c, 400, 'Bad Request', q.detail);
    const base = url.origin;
    const matching = [...state.ordersForQuery()]
      .filter((o) => (q.code !== null ? o.code === q.code : true))
      .filter((o) => (q.from !== null ? o.creationDate >= q.from : true))
      .filter((o) => (q.to !== null ? o.creationDate <= q.to : true))
      .filter((o) => (q.state !== null ? o.state === q.state : true))
      .filter((o) => (q.status !== null ? o.status === q.status : true))
      .sort((a, b) => a.creationDate - b.creationDate || a.code.localeCompare(b.code));
    const slice = matching.slice(q.page * q.size, (q.page + 1) * q.size);
    const data = slice.map((o) => renderOrder(o, base));
    if (c.get('malformed')) data.push(malformedOrder(state.now()));
    const included: Record<string, unknown>[] = [];
    if (q.include.has('entries')) for (const o of slice) o.entries.forEach((e, i) => included.push(renderEntry(e, i, base)));
    if (q.include.has('user')) for (const o of slice) included.push(renderCustomer(o));
    return jsonApi(c, {
      data,
      ...(q.include.size > 0 ? { included } : {}),
      meta: { pageCount: Math.ceil(matching.length / q.size), totalCount: matching.length },
    });
  });

  api.get('/orders/:id/entries', (c) => {
    const order = state.orderById(c.req.param('id'));
    if (!order) return jsonApiError(c, 404, 'Not Found');
    const base = new URL(c.req.url).origin;
    return jsonApi(c, { data: order.entries.map((e, i) => renderEntry(e, i, base)) });
  });

  api.get('/orderentries/:id/product', (c) => {
    const id = c.req.param('id');
    for (const order of state.ordersForQuery()) {
      const entry = order.entries.find((e) => e.id === id);
      if (entry) {
        return jsonApi(c, { data: { type: 'masterproducts', id: entry.masterProduct.id, attributes: { code: entry.masterProduct.code, name: entry.masterProduct.name } } });
      }
    }
    return jsonApiError(c, 404, 'Not Found');
  });

  api.all('*', (c) => jsonApiError(c, 404, 'Not Found'));
  app.route('/', api);
  return app;
}

export interface RunningKaspiSimulator {
  /** Base URL of the API (use as KASPI_API_URL); the control API is at `${url}/_sim`. */
  url: string;
  port: number;
  state: KaspiSimState;
  close: () => Promise<void>;
}

export interface StartKaspiSimulatorOptions {
  /** 0 (default) takes a free port. */
  port?: number;
  tokens?: Iterable<string>;
  state?: KaspiSimState;
}

/** Serves the simulator on 127.0.0.1 (never on all interfaces: it has no auth on `/_sim`). */
export function startKaspiSimulator(options: StartKaspiSimulatorOptions = {}): Promise<RunningKaspiSimulator> {
  const state = options.state ?? new KaspiSimState({ tokens: options.tokens ?? [] });
  const app = createKaspiSimulatorApp(state);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: '127.0.0.1' }, (info) => {
      const close = () =>
        new Promise<void>((done, fail) => {
          server.close((error) => (error ? fail(error) : done()));
          // A delayed (fault-injected) response would otherwise hold close() open until it ends.
          if ('closeAllConnections' in server) server.closeAllConnections();
        });
      resolve({ url: `http://127.0.0.1:${info.port}`, port: info.port, state, close });
    });
    server.once('error', reject);
  });
}

/**
 * Drives a simulator in another process over `/_sim` (the demo). Same operations as
 * `KaspiSimState`; each method throws with the simulator's error text on a non-2xx answer.
 */
export class KaspiSimulatorControl {
  readonly #base: string;

  constructor(url: string) {
    this.#base = `${url.replace(/\/+$/, '')}/_sim`;
  }

  async createOrder(input: CreateOrderInput = {}): Promise<SimOrder> {
    return (await this.#call<{ order: SimOrder }>('POST', '/orders', input)).order;
  }

  async getOrder(code: string): Promise<SimOrder | null> {
    const orders = (await this.#call<{ orders: SimOrder[] }>('GET', '/orders')).orders;
    return orders.find((o) => o.code === code) ?? null;
  }

  async transition(code: string, patch: OrderTransition): Promise<SimOrder> {
    return (await this.#call<{ order: SimOrder }>('POST', `/orders/${encodeURIComponent(code)}/transition`, patch)).order;
  }

  async action(code: string, action: 'accept' | 'ready-for-pickup' | 'hand-to-courier' | 'complete' | 'start-cancelling' | 'cancel' | 'sign', body: { at?: number; reason?: string } = {}): Promise<SimOrder> {
    return (await this.#call<{ order: SimOrder }>('POST', `/orders/${encodeURIComponent(code)}/${action}`, body)).order;
  }

  async injectFault(fault: SimFault): Promise<void> {
    await this.#call('POST', '/faults', fault);
  }

  async setTokens(tokens: string[]): Promise<void> {
    await this.#call('PUT', '/tokens', { tokens });
  }

  async requests(): Promise<SimRequestLogEntry[]> {
    return (await this.#call<{ requests: SimRequestLogEntry[] }>('GET', '/requests')).requests;
  }

  async reset(): Promise<void> {
    await this.#call('POST', '/reset');
  }

  // The simulator is our own code on localhost: its answers are trusted to match the declared
  // type, so only the HTTP status is checked.
  async #call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.#base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (!response.ok) throw new SimulatorError(`simulator ${method} ${path}: HTTP ${response.status} ${text}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }
}
