import dns from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, fetch as undiciFetch } from 'undici';
import { loadOutboundConfig, type OutboundConfig } from '../config.ts';

/**
 * Requests to addresses a store admin chose (the WAHA URL, an alert webhook): the server must not
 * become the admin's proxy into its own network. Every such request goes
 * through `outboundFetch`, which
 *
 * - checks the URL against the operator's allow-list on every request (not only when saved);
 * - in production refuses loopback, private, link-local (cloud metadata), CGNAT, multicast and
 *   other non-public addresses, checked on every address a name resolves to, at connect time
 *   (so a name that re-resolves to 127.0.0.1 after it was saved is still refused), unless the
 *   allow-list names the URL: the operator's own WAHA on localhost or the compose network;
 * - never follows a redirect (a 307 would re-post the body elsewhere): a 3xx is an error;
 * - reads answers as a stream up to a cap (`readCapped`), so a hostile server cannot exhaust memory.
 *
 * docs/security.md describes the setting an operator needs (WAHA_URL_ALLOWLIST).
 */

export interface ResolvedAddress {
  address: string;
  family: number;
}
export type Resolver = (hostname: string, options: { family?: number }, callback: (err: NodeJS.ErrnoException | null, addresses: ResolvedAddress[]) => void) => void;

export interface OutboundPolicy {
  /** Refuse non-public addresses (NODE_ENV=production) for URLs the allow-list does not name. */
  blockPrivate: boolean;
  /**
   * URL prefixes (origin + optional path). Non-empty: only these URLs are reachable, and they may
   * be private addresses. Empty: any URL, public addresses only when `blockPrivate`.
   */
  allowlist: readonly string[];
  /** Name resolution; dns.lookup unless a test replaces it. */
  lookup?: Resolver;
}

export type OutboundRefusal = 'ADDRESS_BLOCKED' | 'URL_NOT_ALLOWED' | 'BAD_URL';

/** The request was refused before any byte left: nothing can have been sent. */
export class OutboundRefusedError extends Error {
  override name = 'OutboundRefusedError';
  readonly code: OutboundRefusal;

  constructor(code: OutboundRefusal, message: string) {
    super(message);
    this.code = code;
  }
}

/** The server answered 3xx; it was not followed. */
export class OutboundRedirectError extends Error {
  override name = 'OutboundRedirectError';
  readonly status: number;

  constructor(status: number) {
    super(`answered with a redirect (HTTP ${status}), which is not followed`);
    this.status = status;
  }
}

/** The answer was larger than the cap; reading stopped there. */
export class OutboundBodyTooLargeError extends Error {
  override name = 'OutboundBodyTooLargeError';
  readonly limit: number;

  constructor(limit: number) {
    super(`response too large (over ${limit} bytes)`);
    this.limit = limit;
  }
}

/** A JSON answer from WAHA or an alert endpoint. WAHA's largest (50 chat messages) is far below. */
export const MAX_JSON_BYTES = 1024 * 1024;
/** A pairing QR as PNG (a few KiB) or as base64 JSON. */
export const MAX_IMAGE_BYTES = 256 * 1024;

/** Whether an address is globally routable unicast (ipaddr.js's ranges; IPv4-mapped IPv6 unwrapped). */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === 'unicast';
}

/**
 * An allow-list entry is a URL: a URL is allowed when its origin equals the entry's origin and its
 * path starts with the entry's path. Empty list = everything allowed.
 */
export function urlAllowedBy(url: string | URL, allowlist: readonly string[]): boolean {
  if (allowlist.length === 0) return true;
  let u: URL;
  try {
    u = typeof url === 'string' ? new URL(url) : url;
  } catch {
    return false;
  }
  return allowlist.some((entry) => {
    try {
      const a = new URL(entry);
      const prefix = a.pathname.replace(/\/+$/, '');
      return a.origin === u.origin && (prefix === '' || u.pathname === prefix || u.pathname.startsWith(`${prefix}/`));
    } catch {
      return false;
    }
  });
}

function blocked(what: string): OutboundRefusedError {
  return new OutboundRefusedError('ADDRESS_BLOCKED', `${what} is not a public address; list the URL in the allow-list to use it`);
}

/**
 * The checks that need no connection. Returns whether the connection itself must be guarded
 * (names resolved and every address checked).
 */
export function checkOutboundUrl(url: URL, policy: OutboundPolicy): { guard: boolean } {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OutboundRefusedError('BAD_URL', 'only http and https URLs are used');
  if (policy.allowlist.length > 0 && !urlAllowedBy(url, policy.allowlist)) {
    throw new OutboundRefusedError('URL_NOT_ALLOWED', 'the URL is not in the allow-list');
  }
  // A URL the operator listed may be private (their own WAHA on localhost or the compose network).
  const guard = policy.blockPrivate && policy.allowlist.length === 0;
  if (guard) {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // net.connect skips the lookup for an IP literal, so literals are checked here.
    if (isIP(host) && !isPublicAddress(host)) throw blocked('the address');
  }
  return { guard };
}

const systemResolver: Resolver = (hostname, options, callback) => {
  dns.lookup(hostname, { all: true, family: options.family ?? 0, verbatim: true }, (err, addresses) => callback(err, addresses ?? []));
};

type NetLookup = (hostname: string, options: { family?: number; all?: boolean }, callback: (...args: unknown[]) => void) => void;

/** The `lookup` net.connect calls at connect time: every resolved address must be public. */
export function guardedLookup(resolve: Resolver, guard: boolean): NetLookup {
  return (hostname, options, callback) => {
    resolve(hostname, { family: options.family }, (err, addresses) => {
      if (err) return callback(err);
      if (addresses.length === 0) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }));
      if (guard && addresses.some((a) => !isPublicAddress(a.address))) return callback(blocked(`the WAHA or webhook host`));
      if (options.all) return callback(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

const agents = new Map<string, Agent>();
const resolverIds = new WeakMap<Resolver, number>();
let nextResolverId = 1;

function agentFor(guard: boolean, resolve: Resolver): Agent {
  let id = resolverIds.get(resolve);
  if (id === undefined) {
    id = nextResolverId++;
    resolverIds.set(resolve, id);
  }
  const key = `${guard}:${id}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = new Agent({ connect: { lookup: guardedLookup(resolve, guard) as never }, maxHeaderSize: 16 * 1024 });
    agents.set(key, agent);
  }
  return agent;
}

function findRefusal(err: unknown, depth = 0): OutboundRefusedError | null {
  if (depth > 5 || typeof err !== 'object' || err === null) return null;
  if (err instanceof OutboundRefusedError) return err;
  const e = err as { cause?: unknown; errors?: unknown };
  if (Array.isArray(e.errors)) for (const inner of e.errors) {
    const found = findRefusal(inner, depth + 1);
    if (found) return found;
  }
  return findRefusal(e.cause, depth + 1);
}

export interface OutboundRequest {
  method: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/**
 * One request under the policy. Rejects with OutboundRefusedError (nothing sent), with
 * OutboundRedirectError on a 3xx (its body discarded), or with fetch's own errors.
 * `fetchImpl` replaces the transport in tests; the URL checks and the redirect rule still apply.
 */
export async function outboundFetch(url: string, init: OutboundRequest, policy: OutboundPolicy, fetchImpl?: typeof globalThis.fetch): Promise<Response> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new OutboundRefusedError('BAD_URL', 'the URL does not parse');
  }
  const { guard } = checkOutboundUrl(parsed, policy);
  let res: Response;
  try {
    if (fetchImpl) {
      res = await fetchImpl(url, { ...init, redirect: 'manual' });
    } else {
      const dispatcher = agentFor(guard, policy.lookup ?? systemResolver);
      res = (await undiciFetch(url, { ...init, redirect: 'manual', dispatcher })) as unknown as Response;
    }
  } catch (err) {
    throw findRefusal(err) ?? err;
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel().catch(() => undefined);
    throw new OutboundRedirectError(res.status);
  }
  return res;
}

/**
 * The body, read chunk by chunk and abandoned (the connection closed) as soon as it passes
 * `limit`; a Content-Length above the limit is refused before reading anything.
 */
export async function readCapped(res: Response, limit: number): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel().catch(() => undefined);
    throw new OutboundBodyTooLargeError(limit);
  }
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw new OutboundBodyTooLargeError(limit);
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }
  return Buffer.concat(chunks, total);
}

// ---- policies from configuration --------------------------------------------------------------

export function wahaOutboundPolicy(config: Pick<OutboundConfig, 'NODE_ENV' | 'WAHA_URL_ALLOWLIST'>): OutboundPolicy {
  return { blockPrivate: config.NODE_ENV === 'production', allowlist: config.WAHA_URL_ALLOWLIST };
}

export function alertOutboundPolicy(config: Pick<OutboundConfig, 'NODE_ENV' | 'ALERT_WEBHOOK_ALLOWLIST'>): OutboundPolicy {
  return { blockPrivate: config.NODE_ENV === 'production', allowlist: config.ALERT_WEBHOOK_ALLOWLIST };
}

let cached: { key: string; config: OutboundConfig } | null = null;

/**
 * The outbound settings of this process's environment, for callers that have no AppContext (the
 * worker's activities build WAHA clients from a sender row). Re-read when the variables change.
 */
export function outboundConfigFromEnv(env: NodeJS.ProcessEnv = process.env): OutboundConfig {
  const key = JSON.stringify([env.NODE_ENV, env.WAHA_URL_ALLOWLIST, env.ALERT_WEBHOOK_ALLOWLIST]);
  if (cached?.key !== key) cached = { key, config: loadOutboundConfig(env) };
  return cached.config;
}
