import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import {
  KaspiAuthError,
  KaspiBadRequestError,
  KaspiClient,
  KaspiError,
  KaspiProtocolError,
  KaspiRateLimitError,
  KaspiUnavailableError,
  KASPI_MAX_WINDOW_MS,
  chunkCreationWindows,
  parseRetryAfter,
  type FetchLike,
} from '../../lib/kaspi/client.ts';
import { parseOrderSnapshot, parseOrdersPage, type KaspiOrder } from '../../lib/kaspi/orders.ts';

// The realistic page kept in test/fixtures/kaspi-orders-page.json (docs/contracts/kaspi.md).
const fixturePath = new URL('../fixtures/kaspi-orders-page.json', import.meta.url);
const loadFixture = (): Record<string, unknown> => JSON.parse(readFileSync(fixturePath, 'utf8')) as Record<string, unknown>;

type Json = Record<string, unknown>;
const dataOf = (page: Json) => page.data as Json[];
const attrs = (resource: Json) => resource.attributes as Json;

const TOKEN = 'tok-SECRET-4f9c2a7e';
const DAY = 24 * 60 * 60 * 1000;

function emptyPage(pageCount = 1): Response {
  return new Response(JSON.stringify({ data: [], included: [], meta: { pageCount, totalCount: 0 } }), {
    status: 200,
    headers: { 'Content-Type': 'application/vnd.api+json' },
  });
}

interface Recorded { url: URL; headers: Headers }

function recordingFetch(respond: (url: URL, call: number) => Response | Promise<Response>): { fetch: FetchLike; calls: Recorded[] } {
  const calls: Recorded[] = [];
  const fetch: FetchLike = async (input, init) => {
    const url = new URL(input);
    calls.push({ url, headers: new Headers(init.headers) });
    return respond(url, calls.length - 1);
  };
  return { fetch, calls };
}

const client = (fetch: FetchLike, extra: Partial<ConstructorParameters<typeof KaspiClient>[0]> = {}) =>
  new KaspiClient({ baseUrl: 'https://kaspi.test/shop/api/v2/', token: TOKEN, userAgent: 'kaspi-notify-test/1.0', fetch, minRequestIntervalMs: 0, ...extra });

/** Runs `fn`, returns what it threw (fails the test if it did not throw). */
async function caught(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('parseOrdersPage on the contract page', () => {
  it('parses all three orders of orders-page.json into KaspiOrder', () => {
    const result = parseOrdersPage(loadFixture());
    expect(result.success).toBe(true);
    if (!result.success) return;
    const { orders, rejected, pageCount, totalCount } = result.page;
    expect(rejected).toEqual([]);
    expect(pageCount).toBe(1);
    expect(totalCount).toBe(3);
    expect(orders.map((o) => o.code)).toEqual(['512345678', '512345679', '512345680']);

    const [pickup, kaspiDelivery, archived] = orders as [KaspiOrder, KaspiOrder, KaspiOrder];
    expect(pickup).toEqual({
      kaspiId: 'MjAwNTcxMDAx',
      code: '512345678',
      state: 'NEW',
      status: 'APPROVED_BY_BANK',
      creationDate: 1795000000000,
      approvedByBankDate: 1795000020000,
      totalPrice: 12990,
      deliveryMode: 'DELIVERY_PICKUP',
      isKaspiDelivery: false,
      plannedDeliveryDate: null,
      deliveryAddress: null,
      pickupPointId: '30012345_PP1',
      waybillNumber: null,
      courierTransmissionDate: null,
      cancellationReason: null,
      customer: { firstName: 'Айгерим', lastName: 'Серикова', name: null, cellPhone: '7011234567' },
      entries: [{
        entryId: 'MjAwNTcxMDAxIyMw', productName: 'Крышка Tefal 28 см', productCode: 'TEF-L28',
        masterProductCode: null, quantity: 1, basePrice: 12990, totalPrice: 12990,
      }],
    });
    expect(kaspiDelivery.isKaspiDelivery).toBe(true);
    expect(kaspiDelivery.state).toBe('KASPI_DELIVERY');
    expect(kaspiDelivery.waybillNumber).toBe('101110589');
    expect(kaspiDelivery.courierTransmissionDate).toBeNull();
    expect(kaspiDelivery.entries.map((e) => [e.productCode, e.quantity, e.basePrice, e.totalPrice])).toEqual([
      ['APL-IP15-128', 1, 379990, 379990],
      ['CASE-IP15', 2, 4995, 9990],
    ]);
    expect(archived.deliveryAddress).toBe('Алматы, улица Абая, 10');
    expect(archived.status).toBe('COMPLETED');
  });

  it('produces JSON-serialisable orders that read back unchanged as a snapshot', () => {
    const result = parseOrdersPage(loadFixture());
    if (!result.success) throw new Error(result.reason);
    for (const order of result.page.orders) {
      const roundTripped: unknown = JSON.parse(JSON.stringify(order));
      expect(roundTripped).toEqual(order);
      expect(parseOrderSnapshot(roundTripped)).toEqual(order);
    }
    expect(() => parseOrderSnapshot({ code: '1' })).toThrow();
  });

  it('leaves entries empty when the page has no included[] (entries not requested)', () => {
    const page = loadFixture();
    delete page.included;
    const result = parseOrdersPage(page);
    if (!result.success) throw new Error(result.reason);
    expect(result.page.orders).toHaveLength(3);
    expect(result.page.orders.every((o) => o.entries.length === 0)).toBe(true);
  });
});

describe('parseOrdersPage tolerates one malformed order', () => {
  it('rejects the malformed order with its id, code and reason; its page-mates still parse', () => {
    const page = loadFixture();
    attrs(dataOf(page)[1]!).totalPrice = 'many tenge';
    const result = parseOrdersPage(page);
    if (!result.success) throw new Error(result.reason);
    expect(result.page.orders.map((o) => o.code)).toEqual(['512345678', '512345680']);
    expect(result.page.rejected).toHaveLength(1);
    expect(result.page.rejected[0]).toMatchObject({ kaspiId: 'MjAwNTcxMDAy', code: '512345679' });
    expect(result.page.rejected[0]!.reason).toContain('totalPrice');
  });

  it('rejects an order whose included entry is missing or malformed', () => {
    const page = loadFixture();
    const included = page.included as Json[];
    page.included = included.filter((e) => e.id !== 'MjAwNTcxMDAxIyMw');
    attrs(included[3]!).quantity = -1;
    const result = parseOrdersPage(page);
    if (!result.success) throw new Error(result.reason);
    expect(result.page.orders.map((o) => o.code)).toEqual(['512345679']);
    expect(result.page.rejected.map((r) => r.code)).toEqual(['512345678', '512345680']);
    expect(result.page.rejected[0]!.reason).toContain('MjAwNTcxMDAxIyMw');
    expect(result.page.rejected[1]!.reason).toContain('quantity');
  });

  it('records what it can of an order that is not even an object', () => {
    const page = loadFixture();
    dataOf(page).push('garbage' as unknown as Json, { type: 'orders', id: 'X1', attributes: { code: 42 } });
    const result = parseOrdersPage(page);
    if (!result.success) throw new Error(result.reason);
    expect(result.page.orders).toHaveLength(3);
    expect(result.page.rejected.map((r) => [r.kaspiId, r.code])).toEqual([[null, null], ['X1', '42']]);
  });

  it('fails the whole page only when the envelope is broken', () => {
    expect(parseOrdersPage({ data: [] }).success).toBe(false);
    expect(parseOrdersPage('<html>').success).toBe(false);
    expect(parseOrdersPage({ data: {}, meta: { pageCount: 1, totalCount: 1 } }).success).toBe(false);
  });
});

describe('chunkCreationWindows', () => {
  it('splits 30 days into 3 contiguous windows of at most 14 days', () => {
    const from = Date.UTC(2026, 0, 1);
    const windows = chunkCreationWindows(from, from + 30 * DAY);
    expect(windows).toHaveLength(3);
    expect(windows[0]!.from).toBe(from);
    expect(windows.at(-1)!.to).toBe(from + 30 * DAY);
    for (const [i, w] of windows.entries()) {
      expect(w.to - w.from).toBeLessThanOrEqual(KASPI_MAX_WINDOW_MS);
      if (i > 0) expect(w.from).toBe(windows[i - 1]!.to + 1);
    }
  });

  it('keeps a short range in one window', () => {
    expect(chunkCreationWindows(1000, 1000 + DAY)).toEqual([{ from: 1000, to: 1000 + DAY }]);
    expect(chunkCreationWindows(5, 5)).toEqual([{ from: 5, to: 5 }]);
    expect(chunkCreationWindows(10, 5)).toEqual([]);
  });
});

describe('KaspiClient requests', () => {
  it('sends the contract headers and 14-day windowed, paged queries', async () => {
    const { fetch, calls } = recordingFetch(() => emptyPage());
    const from = Date.UTC(2026, 0, 1);
    const result = await client(fetch, { merchantUid: 'M-1' }).listOrders({ createdFrom: from, createdTo: from + 30 * DAY, state: 'PICKUP' });
    expect(result).toEqual({ orders: [], rejected: [], requests: 3 });
    expect(calls).toHaveLength(3);
    const first = calls[0]!;
    expect(first.url.origin + first.url.pathname).toBe('https://kaspi.test/shop/api/v2/orders');
    expect(first.headers.get('x-auth-token')).toBe(TOKEN);
    expect(first.headers.get('accept')).toBe('application/vnd.api+json');
    expect(first.headers.get('content-type')).toBe('application/vnd.api+json');
    expect(first.headers.get('user-agent')).toBe('kaspi-notify-test/1.0');
    expect(first.headers.get('x-merchant-uid')).toBe('M-1');
    const q = first.url.searchParams;
    expect(q.get('page[number]')).toBe('0');
    expect(q.get('page[size]')).toBe('100');
    expect(q.get('filter[orders][state]')).toBe('PICKUP');
    expect(q.get('include[orders]')).toBe('entries');
    const bounds = calls.map((c) => [Number(c.url.searchParams.get('filter[orders][creationDate][$ge]')), Number(c.url.searchParams.get('filter[orders][creationDate][$le]'))]);
    expect(bounds[0]![0]).toBe(from);
    expect(bounds[2]![1]).toBe(from + 30 * DAY);
    for (const [ge, le] of bounds) expect(le! - ge!).toBeLessThanOrEqual(KASPI_MAX_WINDOW_MS);
  });

  it('omits X-Merchant-Uid without one and defaults createdTo to the injected clock', async () => {
    const { fetch, calls } = recordingFetch(() => emptyPage(0));
    await client(fetch, { now: () => 1_800_000_000_000 }).listOrders({ createdFrom: 1_800_000_000_000 - DAY });
    expect(calls[0]!.headers.has('x-merchant-uid')).toBe(false);
    expect(calls[0]!.url.searchParams.get('filter[orders][creationDate][$le]')).toBe('1800000000000');
  });

  it('pages until page + 1 >= meta.pageCount and passes each page to onPage', async () => {
    const fixture = loadFixture();
    const { fetch, calls } = recordingFetch((_url, call) => {
      const page = structuredClone(fixture);
      page.meta = { pageCount: 3, totalCount: 9 };
      // Distinct codes per page so de-duplication does not hide pages.
      for (const order of dataOf(page)) attrs(order).code = `${String(attrs(order).code)}${call}`;
      return new Response(JSON.stringify(page), { status: 200 });
    });
    const seen: number[] = [];
    const result = await client(fetch).listOrders({ createdFrom: 0, createdTo: DAY, onPage: (p) => { seen.push(p.page); } });
    expect(calls.map((c) => c.url.searchParams.get('page[number]'))).toEqual(['0', '1', '2']);
    expect(seen).toEqual([0, 1, 2]);
    expect(result.orders).toHaveLength(9);
  });

  it('looks an order up by code alone, with the required page parameters', async () => {
    const { fetch, calls } = recordingFetch(() => new Response(JSON.stringify(loadFixture()), { status: 200 }));
    const order = await client(fetch).getOrderByCode('512345679');
    expect(order?.code).toBe('512345679');
    const q = calls[0]!.url.searchParams;
    expect(q.get('filter[orders][code]')).toBe('512345679');
    expect(q.get('page[number]')).toBe('0');
    expect(q.has('page[size]')).toBe(true);
    expect([...q.keys()].some((k) => k.includes('creationDate') || k.includes('[state]'))).toBe(false);
    const { fetch: none } = recordingFetch(() => emptyPage(0));
    expect(await client(none).getOrderByCode('1')).toBeNull();
  });

  it('checks the token with a bare GET /orders: 400 means valid, 401/403 invalid', async () => {
    const answer = (status: number) => recordingFetch(() => new Response('{"errors":[]}', { status })).fetch;
    const { fetch, calls } = recordingFetch(() => new Response('{}', { status: 400 }));
    expect(await client(fetch).checkToken()).toBe(true);
    expect(calls[0]!.url.search).toBe('');
    expect(await client(answer(401)).checkToken()).toBe(false);
    expect(await client(answer(403)).checkToken()).toBe(false);
    await expect(client(answer(503)).checkToken()).rejects.toBeInstanceOf(KaspiUnavailableError);
    await expect(client(answer(429)).checkToken()).rejects.toBeInstanceOf(KaspiRateLimitError);
  });
});

describe('KaspiClient errors', () => {
  const failing = (response: () => Response) => client(recordingFetch(response).fetch);
  const list = (c: KaspiClient) => () => c.listOrders({ createdFrom: 0, createdTo: DAY });

  it('401 and 403 are non-retryable KaspiAuthError', async () => {
    for (const status of [401, 403]) {
      const error = await caught(list(failing(() => new Response('{"errors":[{"title":"Unauthorized"}]}', { status }))));
      expect(error).toBeInstanceOf(KaspiAuthError);
      expect((error as KaspiAuthError).retryable).toBe(false);
      expect((error as KaspiAuthError).status).toBe(status);
    }
  });

  it('429 is KaspiRateLimitError with Retry-After in seconds or as an HTTP date', async () => {
    const seconds = await caught(list(failing(() => new Response('', { status: 429, headers: { 'Retry-After': '7' } }))));
    expect(seconds).toBeInstanceOf(KaspiRateLimitError);
    expect((seconds as KaspiRateLimitError).retryAfterMs).toBe(7000);
    expect((seconds as KaspiRateLimitError).retryable).toBe(true);

    const now = Date.UTC(2026, 4, 1, 12, 0, 0);
    const dated = client(recordingFetch(() => new Response('', { status: 429, headers: { 'Retry-After': new Date(now + 90_000).toUTCString() } })).fetch, { now: () => now });
    const error = await caught(list(dated));
    expect((error as KaspiRateLimitError).retryAfterMs).toBe(90_000);

    const bare = await caught(list(failing(() => new Response('', { status: 429 }))));
    expect((bare as KaspiRateLimitError).retryAfterMs).toBeNull();
  });

  it('5xx and network failures are KaspiUnavailableError', async () => {
    const error = await caught(list(failing(() => new Response('oops', { status: 502 }))));
    expect(error).toBeInstanceOf(KaspiUnavailableError);
    expect((error as KaspiUnavailableError).status).toBe(502);

    const refused = client(async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    });
    const network = await caught(list(refused));
    expect(network).toBeInstanceOf(KaspiUnavailableError);
    expect((network as Error).message).toContain('ECONNREFUSED');
  });

  it('a request that outlives timeoutMs is KaspiUnavailableError', async () => {
    const hanging: FetchLike = (_input, init) => new Promise((_resolve, reject) => {
      init.signal?.addEventListener('abort', () => reject(init.signal?.reason));
    });
    const error = await caught(list(client(hanging, { timeoutMs: 50 })));
    expect(error).toBeInstanceOf(KaspiUnavailableError);
    expect((error as Error).message).toContain('50 ms');
  });

  it('400 in a normal call is KaspiBadRequestError; a non-JSON 200 is KaspiProtocolError', async () => {
    const bad = await caught(list(failing(() => new Response('{"errors":[]}', { status: 400 }))));
    expect(bad).toBeInstanceOf(KaspiBadRequestError);
    expect((bad as KaspiBadRequestError).retryable).toBe(false);
    const html = await caught(list(failing(() => new Response('<html>proxy</html>', { status: 200 }))));
    expect(html).toBeInstanceOf(KaspiProtocolError);
    const shape = await caught(list(failing(() => new Response('{"data":"x"}', { status: 200 }))));
    expect(shape).toBeInstanceOf(KaspiProtocolError);
  });

  it('never puts the token into an error message, even when a failure echoes it', async () => {
    const echoes: (() => Promise<Response>)[] = [
      async () => new Response(`bad token ${TOKEN}`, { status: 401 }),
      async () => new Response(`slow down ${TOKEN}`, { status: 429, headers: { 'Retry-After': '1' } }),
      async () => new Response(`down ${TOKEN}`, { status: 500 }),
      async () => new Response(`bad ${TOKEN}`, { status: 400 }),
      async () => new Response(`<html>${TOKEN}</html>`, { status: 200 }),
      async () => { throw new TypeError('fetch failed', { cause: new Error(`proxy said X-Auth-Token: ${TOKEN}`) }); },
      async () => { throw new Error(`header ${TOKEN}`); },
    ];
    for (const respond of echoes) {
      const error = await caught(list(client(() => respond())));
      expect(error).toBeInstanceOf(KaspiError);
      const text = `${String(error)} ${(error as Error).stack ?? ''} ${JSON.stringify(error)}`;
      expect(text).not.toContain(TOKEN);
    }
  });

  it('refuses to build a client without a token or a User-Agent', () => {
    expect(() => new KaspiClient({ baseUrl: 'http://x', token: '', userAgent: 'ua' })).toThrow();
    expect(() => new KaspiClient({ baseUrl: 'http://x', token: 't', userAgent: ' ' })).toThrow();
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates, ignores garbage', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter(new Date(now + 5000).toUTCString(), now)).toBe(5000);
    expect(parseRetryAfter(new Date(now - 5000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter('', now)).toBeNull();
  });
});
