import {
  JSON_API_MEDIA_TYPE,
  kaspiMasterProductResponseSchema,
  describeZodError,
  parseOrdersPage,
  type KaspiOrder,
  type ParsedOrdersPage,
  type RejectedOrder,
} from './orders.ts';

/**
 * Kaspi Shop API v2 client (docs/contracts/kaspi.md). It does not retry: callers run inside
 * Temporal activities whose retry policy owns back-off, and the typed errors below tell that
 * policy what to do (auth = non-retryable, 429 = wait `retryAfterMs`, unavailable = back off).
 *
 * The store token travels only in the X-Auth-Token header. Error messages are built from the
 * method, path and status alone and then scrubbed of the token, because third-party error text
 * (undici causes, proxies echoing headers) ends up in logs and in `stores.last_poll_error`.
 */

export const KASPI_MAX_WINDOW_MS = 14 * 24 * 60 * 60 * 1000;
export const KASPI_MAX_PAGE_SIZE = 100;

export type KaspiErrorKind = 'auth' | 'rate_limit' | 'unavailable' | 'bad_request' | 'protocol';

export abstract class KaspiError extends Error {
  abstract readonly kind: KaspiErrorKind;
  /** Whether trying the same call again later can succeed. */
  abstract readonly retryable: boolean;
  readonly status: number | null;

  constructor(message: string, status: number | null) {
    super(message);
    this.status = status;
  }
}

/** 401/403: the token is wrong or revoked. Retrying cannot help; the store must be paused. */
export class KaspiAuthError extends KaspiError {
  override name = 'KaspiAuthError';
  readonly kind = 'auth';
  readonly retryable = false;
}

/** 429. `retryAfterMs` is null when Kaspi gave no usable Retry-After. */
export class KaspiRateLimitError extends KaspiError {
  override name = 'KaspiRateLimitError';
  readonly kind = 'rate_limit';
  readonly retryable = true;
  readonly retryAfterMs: number | null;

  constructor(message: string, retryAfterMs: number | null) {
    super(message, 429);
    this.retryAfterMs = retryAfterMs;
  }
}

/** 5xx, connection failures and timeouts (`status` null for the last two). */
export class KaspiUnavailableError extends KaspiError {
  override name = 'KaspiUnavailableError';
  readonly kind = 'unavailable';
  readonly retryable = true;
}

/** 400 (or another 4xx) on a call we believed valid: a bug on our side, so not retried. */
export class KaspiBadRequestError extends KaspiError {
  override name = 'KaspiBadRequestError';
  readonly kind = 'bad_request';
  readonly retryable = false;
}

/**
 * A 2xx whose body is not the JSON:API shape we rely on. Retryable: in practice this is an HTML
 * page from a proxy or a truncated body, which passes.
 */
export class KaspiProtocolError extends KaspiError {
  override name = 'KaspiProtocolError';
  readonly kind = 'protocol';
  readonly retryable = true;
}

/** Retry-After is either delta-seconds or an HTTP date; anything else is ignored (null). */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | null {
  if (value === null || value === undefined) return null;
  const trimmed = value.trim();
  if (trimmed === '') return null;
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

export interface CreationWindow {
  from: number;
  to: number;
}

/**
 * Splits [from, to] into consecutive inclusive windows no longer than `maxMs` (Kaspi's 14 days),
 * e.g. 30 days → 14 + 14 + 2. Both filter bounds are inclusive, so windows do not overlap.
 */
export function chunkCreationWindows(from: number, to: number, maxMs: number = KASPI_MAX_WINDOW_MS): CreationWindow[] {
  if (!Number.isFinite(from) || !Number.isFinite(to)) throw new RangeError('window bounds must be finite');
  if (maxMs < 1) throw new RangeError('maxMs must be positive');
  const windows: CreationWindow[] = [];
  for (let start = from; start <= to; start += maxMs) {
    windows.push({ from: start, to: Math.min(to, start + maxMs - 1) });
  }
  return windows;
}

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface KaspiClientOptions {
  /** e.g. `https://kaspi.kz/shop/api/v2` (KASPI_API_URL), without a trailing `/orders`. */
  baseUrl: string;
  token: string;
  merchantUid?: string | null;
  /** Per request. The README advises 20–30 s. */
  timeoutMs?: number;
  userAgent: string;
  fetch?: FetchLike;
  /**
   * Spacing between this client's requests. Kaspi documents no rate limit; well-behaved clients stay
   * near 4–6 requests/s per token, so the default is 200 ms. Tests pass 0.
   */
  minRequestIntervalMs?: number;
  /** Clock for `createdTo` defaults and Retry-After dates. */
  now?: () => number;
}

export interface OrdersPageInfo {
  window: CreationWindow | null;
  page: number;
  pageCount: number;
  totalCount: number;
  orders: KaspiOrder[];
  rejected: RejectedOrder[];
}

export interface ListOrdersOptions {
  createdFrom: number;
  /** Defaults to now (Kaspi's own default for `$le`, made explicit so windows are known). */
  createdTo?: number;
  state?: string;
  status?: string;
  pageSize?: number;
  onPage?: (info: OrdersPageInfo) => void | Promise<void>;
}

export interface ListOrdersResult {
  orders: KaspiOrder[];
  rejected: RejectedOrder[];
  /** Pages fetched, for metrics and tests. */
  requests: number;
}

export interface MasterProduct {
  code: string;
  name: string | null;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class KaspiClient {
  readonly #baseUrl: string;
  readonly #token: string;
  readonly #merchantUid: string | null;
  readonly #timeoutMs: number;
  readonly #userAgent: string;
  readonly #fetch: FetchLike;
  readonly #minIntervalMs: number;
  readonly #now: () => number;
  #lastRequestAt = 0;

  constructor(options: KaspiClientOptions) {
    if (options.token.trim() === '') throw new TypeError('Kaspi token is empty');
    if (options.userAgent.trim() === '') throw new TypeError('a User-Agent is required: Kaspi stalls requests without one');
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token;
    this.#merchantUid = options.merchantUid ?? null;
    this.#timeoutMs = options.timeoutMs ?? 25_000;
    this.#userAgent = options.userAgent;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#minIntervalMs = options.minRequestIntervalMs ?? 200;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Every order created in [createdFrom, createdTo], in ≤14-day windows, page by page. Orders seen
   * twice (Kaspi pages shift when orders arrive mid-read) are kept once, last read wins.
   */
  async listOrders(options: ListOrdersOptions): Promise<ListOrdersResult> {
    const pageSize = options.pageSize ?? KASPI_MAX_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > KASPI_MAX_PAGE_SIZE) {
      throw new RangeError(`pageSize must be 1–${KASPI_MAX_PAGE_SIZE}`);
    }
    const createdTo = options.createdTo ?? this.#now();
    const byCode = new Map<string, KaspiOrder>();
    const rejected: RejectedOrder[] = [];
    let requests = 0;
    for (const window of chunkCreationWindows(options.createdFrom, createdTo)) {
      for (let page = 0; ; page++) {
        const params = new URLSearchParams();
        params.set('page[number]', String(page));
        params.set('page[size]', String(pageSize));
        params.set('filter[orders][creationDate][$ge]', String(window.from));
        params.set('filter[orders][creationDate][$le]', String(window.to));
        if (options.state !== undefined) params.set('filter[orders][state]', options.state);
        if (options.status !== undefined) params.set('filter[orders][status]', options.status);
        params.set('include[orders]', 'entries');
        const parsed = await this.#getOrdersPage(params);
        requests++;
        for (const order of parsed.orders) byCode.set(order.code, order);
        rejected.push(...parsed.rejected);
        await options.onPage?.({ window, page, pageCount: parsed.pageCount, totalCount: parsed.totalCount, orders: parsed.orders, rejected: parsed.rejected });
        if (page + 1 >= parsed.pageCount) break;
      }
    }
    return { orders: [...byCode.values()], rejected, requests };
  }

  /**
   * One order by its code, or null when Kaspi does not know it. The code filter goes alone (no
   * creationDate or state filter); the page parameters are required on every /orders call.
   * A malformed order is reported as a KaspiProtocolError naming the reason.
   */
  async getOrderByCode(code: string): Promise<KaspiOrder | null> {
    const params = new URLSearchParams();
    params.set('page[number]', '0');
    params.set('page[size]', '1');
    params.set('filter[orders][code]', code);
    params.set('include[orders]', 'entries');
    const parsed = await this.#getOrdersPage(params);
    const order = parsed.orders.find((o) => o.code === code);
    if (order) return order;
    const bad = parsed.rejected[0];
    if (bad) throw new KaspiProtocolError(`Kaspi order ${code} is malformed: ${bad.reason}`, null);
    return null;
  }

  /**
   * Cheap token check: a bare `GET /orders` answers 400 (missing parameters) to a good token and
   * 401/403 to a bad one. Rate limits and outages throw, since they say nothing about the token.
   */
  async checkToken(): Promise<boolean> {
    const response = await this.#send('/orders');
    if (response.status === 401 || response.status === 403) return false;
    if (response.status === 400 || response.ok) return true;
    throw this.#errorFor(response, '/orders');
  }

  /** The master product of an order entry (its `code` builds the review link), or null on 404. */
  async getMasterProduct(entryId: string): Promise<MasterProduct | null> {
    const path = `/orderentries/${encodeURIComponent(entryId)}/product`;
    const response = await this.#send(path);
    if (response.status === 404) return null;
    const json = await this.#readJson(response, path);
    const parsed = kaspiMasterProductResponseSchema.safeParse(json);
    if (!parsed.success) throw new KaspiProtocolError(this.#scrub(`GET ${path}: unexpected body: ${describeZodError(parsed.error)}`), response.status);
    if (parsed.data.data === null) return null;
    return { code: parsed.data.data.attributes.code, name: parsed.data.data.attributes.name ?? null };
  }

  /**
   * The order with `masterProductCode` filled in where Kaspi knows it. Best effort: the review link
   * is optional, so a failed lookup leaves that entry's code null instead of failing the message.
   * Auth errors still throw, because every later call would fail the same way.
   */
  async withMasterProductCodes(order: KaspiOrder): Promise<KaspiOrder> {
    const entries = [];
    for (const entry of order.entries) {
      if (entry.masterProductCode !== null) { entries.push(entry); continue; }
      try {
        const product = await this.getMasterProduct(entry.entryId);
        entries.push({ ...entry, masterProductCode: product?.code ?? null });
      } catch (error) {
        if (error instanceof KaspiAuthError) throw error;
        entries.push(entry);
      }
    }
    return { ...order, entries };
  }

  async #getOrdersPage(params: URLSearchParams): Promise<ParsedOrdersPage> {
    const path = `/orders?${params.toString()}`;
    const response = await this.#send(path);
    const json = await this.#readJson(response, path);
    const result = parseOrdersPage(json);
    if (!result.success) throw new KaspiProtocolError(this.#scrub(`GET /orders: ${result.reason}`), response.status);
    return result.page;
  }

  /** 2xx → parsed JSON; anything else → the matching typed error. */
  async #readJson(response: Response, path: string): Promise<unknown> {
    if (!response.ok) throw this.#errorFor(response, path);
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw this.#transportError(error, path);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new KaspiProtocolError(`GET ${this.#shortPath(path)}: response is not JSON (${text.length} bytes)`, response.status);
    }
  }

  async #send(path: string): Promise<Response> {
    if (this.#minIntervalMs > 0) {
      const wait = this.#lastRequestAt + this.#minIntervalMs - Date.now();
      if (wait > 0) await sleep(wait);
    }
    this.#lastRequestAt = Date.now();
    const headers: Record<string, string> = {
      'X-Auth-Token': this.#token,
      'Content-Type': JSON_API_MEDIA_TYPE,
      Accept: JSON_API_MEDIA_TYPE,
      'User-Agent': this.#userAgent,
    };
    if (this.#merchantUid) headers['X-Merchant-Uid'] = this.#merchantUid;
    try {
      return await this.#fetch(`${this.#baseUrl}${path}`, {
        method: 'GET',
        headers,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw this.#transportError(error, path);
    }
  }

  #errorFor(response: Response, path: string): KaspiError {
    // Drain the body so the connection can be reused; its text is never used (README: do not
    // depend on it) and could echo request data.
    void response.body?.cancel().catch(() => undefined);
    const where = `GET ${this.#shortPath(path)}`;
    const status = response.status;
    if (status === 401 || status === 403) {
      return new KaspiAuthError(`${where}: Kaspi rejected the store token (HTTP ${status})`, status);
    }
    if (status === 429) {
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.#now());
      const hint = retryAfterMs === null ? '' : `, retry after ${Math.ceil(retryAfterMs / 1000)} s`;
      return new KaspiRateLimitError(this.#scrub(`${where}: rate limited (HTTP 429${hint})`), retryAfterMs);
    }
    if (status >= 500 || status === 408) {
      return new KaspiUnavailableError(`${where}: Kaspi unavailable (HTTP ${status})`, status);
    }
    return new KaspiBadRequestError(`${where}: Kaspi refused the request (HTTP ${status})`, status);
  }

  #transportError(error: unknown, path: string): KaspiUnavailableError {
    const where = `GET ${this.#shortPath(path)}`;
    if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
      return new KaspiUnavailableError(`${where}: no answer within ${this.#timeoutMs} ms`, null);
    }
    // undici hides the reason in `cause` (ECONNREFUSED, ENOTFOUND…): keep only its code/message.
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const code = typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string' ? cause.code : null;
    const detail = code ?? (cause instanceof Error ? cause.message : 'network error');
    return new KaspiUnavailableError(this.#scrub(`${where}: network error (${detail})`), null);
  }

  /** Paths without the query: filters are noise in an error line and paths stay greppable. */
  #shortPath(path: string): string {
    return path.split('?')[0] ?? path;
  }

  #scrub(message: string): string {
    return message.split(this.#token).join('[redacted]');
  }
}
