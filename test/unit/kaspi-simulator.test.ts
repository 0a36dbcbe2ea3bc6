import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, it, expect } from 'vitest';
import {
  KaspiAuthError,
  KaspiClient,
  KaspiRateLimitError,
  KaspiUnavailableError,
} from '../../lib/kaspi/client.ts';
import { eventsForOrder } from '../../lib/kaspi/events.ts';
import { KaspiSimulatorControl, startKaspiSimulator, type RunningKaspiSimulator } from '../../simulators/kaspi/server.ts';

const TOKEN = 'sim-token-7c1d0b';
const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.UTC(2026, 5, 1, 6, 0, 0);

let sim: RunningKaspiSimulator;

beforeAll(async () => {
  sim = await startKaspiSimulator({ tokens: [TOKEN] });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  sim.state.reset();
  sim.state.setNow(T0);
});

const kaspi = (extra: Partial<ConstructorParameters<typeof KaspiClient>[0]> = {}) =>
  new KaspiClient({ baseUrl: sim.url, token: TOKEN, userAgent: 'kaspi-notify-test/1.0', minRequestIntervalMs: 0, now: () => T0, ...extra });

async function raw(query: string, token: string | null = TOKEN): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${sim.url}/orders${query}`, {
    headers: { Accept: 'application/vnd.api+json', ...(token === null ? {} : { 'X-Auth-Token': token }) },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const window = (from: number, to: number) =>
  `filter[orders][creationDate][$ge]=${from}&filter[orders][creationDate][$le]=${to}`;

/** Every key path of a JSON value, arrays collapsed to `[]`: compares shapes, not values. */
function shape(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return [`${prefix}[]`, ...value.flatMap((v) => shape(v, `${prefix}[]`))];
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => [`${prefix}.${k}`, ...shape(v, `${prefix}.${k}`)]);
  }
  return [];
}
const shapeSet = (value: unknown) => [...new Set(shape(value))].sort();

describe('Kaspi simulator contract', () => {
  it('answers 401 with a JSON:API error to a missing or wrong token', async () => {
    for (const token of [null, 'wrong']) {
      const { status, body } = await raw(`?page[number]=0&page[size]=10&${window(T0 - DAY, T0)}`, token);
      expect(status).toBe(401);
      expect(body).toEqual({ errors: [expect.objectContaining({ status: '401' })] });
    }
  });

  it('answers 400 to a bare GET /orders with a valid token', async () => {
    expect((await raw('')).status).toBe(400);
  });

  it.each([
    ['no page[number]', `?page[size]=10&${window(T0 - DAY, T0)}`],
    ['no page[size]', `?page[number]=0&${window(T0 - DAY, T0)}`],
    ['page[size] over 100', `?page[number]=0&page[size]=101&${window(T0 - DAY, T0)}`],
    ['no creationDate $ge', `?page[number]=0&page[size]=10&filter[orders][creationDate][$le]=${T0}`],
    ['a window over 14 days', `?page[number]=0&page[size]=10&${window(T0 - 14 * DAY - 1, T0)}`],
    ['$ge defaulting $le to now more than 14 days later', `?page[number]=0&page[size]=10&filter[orders][creationDate][$ge]=${T0 - 15 * DAY}`],
    ['an unknown state', `?page[number]=0&page[size]=10&${window(T0 - DAY, T0)}&filter[orders][state]=LOST`],
    ['code combined with creationDate', `?page[number]=0&page[size]=10&${window(T0 - DAY, T0)}&filter[orders][code]=1`],
  ])('answers 400 for %s', async (_name, query) => {
    const { status, body } = await raw(query);
    expect(status).toBe(400);
    expect(Array.isArray(body.errors)).toBe(true);
  });

  it('accepts exactly 14 days and page[size] 100', async () => {
    expect((await raw(`?page[number]=0&page[size]=100&${window(T0 - 14 * DAY, T0)}`)).status).toBe(200);
  });

  it('shapes responses exactly like contracts/kaspi/orders-page.json', async () => {
    const fixture = JSON.parse(readFileSync(new URL('../fixtures/kaspi-orders-page.json', import.meta.url), 'utf8')) as {
      data: unknown[]; included: unknown[];
    };
    sim.state.createOrder({ creationDate: T0 - 3000, deliveryMode: 'DELIVERY_PICKUP' });
    sim.state.createOrder({
      creationDate: T0 - 2000, state: 'KASPI_DELIVERY', status: 'ACCEPTED_BY_MERCHANT', isKaspiDelivery: true, deliveryMode: 'DELIVERY_REGIONAL_TODOOR',
      entries: [{ name: 'Apple iPhone 15', code: 'APL-IP15-128', basePrice: 379990 }, { name: 'Чехол', code: 'CASE-IP15', quantity: 2, basePrice: 4995 }],
    });
    sim.state.createOrder({ creationDate: T0 - 1000, state: 'ARCHIVE', status: 'COMPLETED', deliveryMode: 'DELIVERY_LOCAL', deliveryAddress: 'Алматы, улица Абая, 10' });
    const { status, body } = await raw(`?page[number]=0&page[size]=100&${window(T0 - DAY, T0)}&include[orders]=entries`);
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(['data', 'included', 'meta']);
    expect(body.meta).toEqual({ pageCount: 1, totalCount: 3 });
    const data = body.data as unknown[];
    for (let i = 0; i < 3; i++) expect(shapeSet(data[i])).toEqual(shapeSet(fixture.data[i]));
    expect(shapeSet(body.included)).toEqual(shapeSet(fixture.included));
  });

  it('filters by creationDate, state, status and code', async () => {
    const a = sim.state.createOrder({ creationDate: T0 - 2 * DAY });
    const b = sim.state.createOrder({ creationDate: T0 - DAY / 2, state: 'PICKUP', status: 'ACCEPTED_BY_MERCHANT' });
    const c = sim.state.createOrder({ creationDate: T0 - DAY / 4 });
    const codes = (body: Record<string, unknown>) =>
      (body.data as { attributes: { code: string } }[]).map((o) => o.attributes.code);
    expect(codes((await raw(`?page[number]=0&page[size]=10&${window(T0 - DAY, T0)}`)).body)).toEqual([b.code, c.code]);
    expect(codes((await raw(`?page[number]=0&page[size]=10&${window(T0 - 3 * DAY, T0)}&filter[orders][state]=NEW`)).body)).toEqual([a.code, c.code]);
    expect(codes((await raw(`?page[number]=0&page[size]=10&${window(T0 - 3 * DAY, T0)}&filter[orders][status]=ACCEPTED_BY_MERCHANT`)).body)).toEqual([b.code]);
    expect(codes((await raw(`?page[number]=0&page[size]=1&filter[orders][code]=${a.code}`)).body)).toEqual([a.code]);
    // Without include there is no included[].
    expect('included' in (await raw(`?page[number]=0&page[size]=10&${window(T0 - DAY, T0)}`)).body).toBe(false);
  });
});

describe('KaspiClient against the simulator', () => {
  it('reads 250 orders over 3 pages of 100', async () => {
    for (let i = 0; i < 250; i++) sim.state.createOrder({ creationDate: T0 - DAY + i * 1000 });
    const pages: { page: number; pageCount: number; totalCount: number; n: number }[] = [];
    const result = await kaspi().listOrders({
      createdFrom: T0 - 2 * DAY,
      onPage: (p) => { pages.push({ page: p.page, pageCount: p.pageCount, totalCount: p.totalCount, n: p.orders.length }); },
    });
    expect(result.orders).toHaveLength(250);
    expect(new Set(result.orders.map((o) => o.code)).size).toBe(250);
    expect(result.rejected).toEqual([]);
    expect(pages).toEqual([
      { page: 0, pageCount: 3, totalCount: 250, n: 100 },
      { page: 1, pageCount: 3, totalCount: 250, n: 100 },
      { page: 2, pageCount: 3, totalCount: 250, n: 50 },
    ]);
    expect(sim.state.requests.map((r) => r.query['page[number]'])).toEqual(['0', '1', '2']);
    expect(sim.state.requests.every((r) => r.query['page[size]'] === '100' && r.query['include[orders]'] === 'entries')).toBe(true);
    expect(result.orders[0]!.entries).toHaveLength(1);
  });

  it('chunks a 30-day range into 3 windows the simulator accepts', async () => {
    const created = [T0 - 29 * DAY, T0 - 15 * DAY, T0 - 14 * DAY, T0 - DAY].map((creationDate) => sim.state.createOrder({ creationDate }).code);
    const result = await kaspi().listOrders({ createdFrom: T0 - 30 * DAY, createdTo: T0 });
    expect(result.orders.map((o) => o.code).sort()).toEqual([...created].sort());
    expect(sim.state.requests).toHaveLength(3);
    expect(sim.state.requests.every((r) => r.status === 200)).toBe(true);
  });

  it('sends its headers; the request log keeps no token', async () => {
    await kaspi({ merchantUid: 'M-77' }).listOrders({ createdFrom: T0 - DAY });
    const [entry] = sim.state.requests;
    expect(entry).toMatchObject({ authorized: true, userAgent: 'kaspi-notify-test/1.0', accept: 'application/vnd.api+json', contentType: 'application/vnd.api+json', merchantUid: 'M-77' });
    expect(JSON.stringify(sim.state.requests)).not.toContain(TOKEN);
  });

  it('gets an order by code, null for an unknown one, and a master product code', async () => {
    const created = sim.state.createOrder({ entries: [{ name: 'Кабель', code: 'USB-C-1M', basePrice: 5990, masterProductCode: '117000001' }] });
    const order = await kaspi().getOrderByCode(created.code);
    expect(order?.code).toBe(created.code);
    expect(order?.entries[0]?.productCode).toBe('USB-C-1M');
    expect(sim.state.requests[0]!.status).toBe(200);
    expect(await kaspi().getOrderByCode('1')).toBeNull();
    const enriched = await kaspi().withMasterProductCodes(order!);
    expect(enriched.entries[0]?.masterProductCode).toBe('117000001');
    expect(await kaspi().getMasterProduct('nope')).toBeNull();
  });

  it('checks tokens: valid, then revoked', async () => {
    expect(await kaspi().checkToken()).toBe(true);
    sim.state.tokens.delete(TOKEN);
    expect(await kaspi().checkToken()).toBe(false);
    const error = await kaspi().listOrders({ createdFrom: T0 - DAY }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KaspiAuthError);
    expect(String((error as Error).message)).not.toContain(TOKEN);
    sim.state.tokens.add(TOKEN);
  });

  it('maps injected 429 (Retry-After seconds and HTTP date), 500 and slowness to error classes', async () => {
    sim.state.rateLimitNext(1, '2');
    const limited = await kaspi().listOrders({ createdFrom: T0 - DAY }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(KaspiRateLimitError);
    expect((limited as KaspiRateLimitError).retryAfterMs).toBe(2000);

    sim.state.rateLimitNext(1, new Date(T0 + 30_000).toUTCString());
    const dated = await kaspi().listOrders({ createdFrom: T0 - DAY }).catch((e: unknown) => e);
    expect((dated as KaspiRateLimitError).retryAfterMs).toBe(30_000);

    sim.state.failNext(2, 500);
    for (let i = 0; i < 2; i++) {
      const down = await kaspi().listOrders({ createdFrom: T0 - DAY }).catch((e: unknown) => e);
      expect(down).toBeInstanceOf(KaspiUnavailableError);
      expect((down as KaspiUnavailableError).status).toBe(500);
    }
    // Faults are used up: the next call works.
    await expect(kaspi().listOrders({ createdFrom: T0 - DAY })).resolves.toMatchObject({ orders: [] });

    sim.state.delayNext(1000);
    const started = Date.now();
    const slow = await kaspi({ timeoutMs: 100 }).listOrders({ createdFrom: T0 - DAY }).catch((e: unknown) => e);
    expect(slow).toBeInstanceOf(KaspiUnavailableError);
    expect((slow as KaspiUnavailableError).status).toBeNull();
    expect(Date.now() - started).toBeLessThan(900);
    expect(sim.state.requests.map((r) => r.fault)).toEqual(['status', 'status', 'status', 'status', null, 'delay']);
  });

  it('keeps page-mates of an injected malformed order and reports the reject', async () => {
    const a = sim.state.createOrder({ creationDate: T0 - 1000 });
    const b = sim.state.createOrder({ creationDate: T0 - 500 });
    sim.state.malformedOrderNext();
    const result = await kaspi().listOrders({ createdFrom: T0 - DAY });
    expect(result.orders.map((o) => o.code)).toEqual([a.code, b.code]);
    expect(result.rejected).toHaveLength(1);
    expect(result.rejected[0]).toMatchObject({ code: '999999999' });
    expect(result.rejected[0]!.reason).toContain('totalPrice');
  });
});

describe('simulated lifecycles', () => {
  const eventsOf = (code: string) => eventsForOrder(sim.state.getOrder(code)!);

  it('pickup: NEW → accepted (PICKUP) → completed', () => {
    const { code } = sim.state.createOrder({ deliveryMode: 'DELIVERY_PICKUP' });
    expect(eventsOf(code)).toEqual(['new']);
    sim.state.accept(code);
    expect(sim.state.getOrder(code)).toMatchObject({ state: 'PICKUP', status: 'ACCEPTED_BY_MERCHANT' });
    expect(eventsOf(code)).toEqual(['accepted', 'ready_for_pickup']);
    sim.state.complete(code);
    expect(eventsOf(code)).toEqual(['completed']);
  });

  it('Kaspi delivery: accepted, then in_delivery once the courier has it', () => {
    const { code } = sim.state.createOrder({ isKaspiDelivery: true, deliveryMode: 'DELIVERY_REGIONAL_TODOOR' });
    sim.state.accept(code);
    expect(eventsOf(code)).toEqual(['accepted']);
    sim.state.handToCourier(code, T0 + 1000);
    expect(sim.state.getOrder(code)?.courierTransmissionDate).toBe(T0 + 1000);
    expect(eventsOf(code)).toEqual(['accepted', 'in_delivery']);
  });

  it('own delivery: accept keeps NEW, hand-over moves to DELIVERY; cancelling then cancel', () => {
    const { code } = sim.state.createOrder({ deliveryMode: 'DELIVERY_LOCAL' });
    sim.state.accept(code);
    sim.state.handToCourier(code);
    expect(sim.state.getOrder(code)?.state).toBe('DELIVERY');
    sim.state.startCancelling(code);
    expect(eventsOf(code)).toEqual([]);
    sim.state.cancel(code, 'BUYER_CANCELLATION');
    expect(sim.state.getOrder(code)).toMatchObject({ state: 'ARCHIVE', status: 'CANCELLED', cancellationReason: 'BUYER_CANCELLATION' });
    expect(eventsOf(code)).toEqual(['cancelled']);
  });

  it('credit: SIGN_REQUIRED is silent until signed', () => {
    const { code } = sim.state.createOrder({ state: 'SIGN_REQUIRED', creationDate: T0 - DAY });
    expect(sim.state.getOrder(code)?.approvedByBankDate).toBeNull();
    expect(eventsOf(code)).toEqual([]);
    sim.state.sign(code, T0);
    expect(sim.state.getOrder(code)).toMatchObject({ state: 'NEW', status: 'APPROVED_BY_BANK', approvedByBankDate: T0 });
    expect(eventsOf(code)).toEqual(['new']);
    expect(() => sim.state.sign(code)).toThrow(/not SIGN_REQUIRED/);
  });

  it('refuses duplicate codes and unknown orders', () => {
    sim.state.createOrder({ code: '123' });
    expect(() => sim.state.createOrder({ code: '123' })).toThrow(/already exists/);
    expect(() => sim.state.complete('404')).toThrow(/no order/);
  });
});

describe('HTTP control API (/_sim)', () => {
  it('creates and moves orders, injects faults and reads the request log', async () => {
    const control = new KaspiSimulatorControl(sim.url);
    const created = await control.createOrder({ creationDate: T0 - 1000, deliveryMode: 'DELIVERY_PICKUP' });
    expect(created.state).toBe('NEW');
    expect((await control.action(created.code, 'accept')).state).toBe('PICKUP');
    expect((await control.transition(created.code, { state: 'ARCHIVE', status: 'COMPLETED' })).status).toBe('COMPLETED');
    expect((await control.getOrder(created.code))?.state).toBe('ARCHIVE');
    expect(await control.getOrder('nope')).toBeNull();
    await expect(control.createOrder({ code: 'not-digits' })).rejects.toThrow(/HTTP 400/);
    await expect(control.action('404', 'complete')).rejects.toThrow(/HTTP 404/);

    await control.injectFault({ kind: 'status', status: 503 });
    const down = await kaspi().listOrders({ createdFrom: T0 - DAY }).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(KaspiUnavailableError);
    const log = await control.requests();
    expect(log.map((r) => [r.path, r.status, r.fault])).toEqual([['/orders', 503, 'status']]);

    await control.setTokens(['other']);
    expect(await kaspi().checkToken()).toBe(false);
    await control.setTokens([TOKEN]);
    await control.reset();
    expect(sim.state.listOrders()).toEqual([]);
  });

  it('closes promptly even while a slow response is pending', async () => {
    const own = await startKaspiSimulator({ tokens: [TOKEN] });
    own.state.delayNext(5000);
    const pending = fetch(`${own.url}/orders`, { headers: { 'X-Auth-Token': TOKEN } }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(2000);
    await pending;
  });
});
