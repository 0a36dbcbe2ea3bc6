import { z } from 'zod';
import {
  MAX_IMAGE_BYTES,
  MAX_JSON_BYTES,
  OutboundBodyTooLargeError,
  outboundConfigFromEnv,
  outboundFetch,
  OutboundRedirectError,
  OutboundRefusedError,
  readCapped,
  wahaOutboundPolicy,
  type OutboundPolicy,
} from '../net/outbound.ts';
import { redactWahaError, type RedactSecrets } from './redact.ts';
import { keyIdOf, phoneOfJid, type WahaSessionStatus } from './webhooks.ts';

/**
 * HTTP client for one WAHA session (docs/contracts/waha.md). Every failure becomes a typed WahaError
 * whose `kind` tells the caller what is safe: above all, whether a failed send may already have
 * reached the buyer. Error messages never carry the message text or a full phone.
 */

export type WahaOperation =
  | 'sendText' | 'sendImage' | 'sendFile' | 'newMessageId' | 'checkExists' | 'getMessage' | 'listChatMessages' | 'getSession'
  | 'listSessions' | 'upsertSessionConfig' | 'getQr' | 'startSession' | 'lidForPhone' | 'phoneForLid';

/** The operations that put a message into a chat: their failures may mean "sent". */
const SEND_OPERATIONS: ReadonlySet<WahaOperation> = new Set(['sendText', 'sendImage', 'sendFile']);

export type WahaErrorKind = 'auth' | 'session_not_ready' | 'refused' | 'ambiguous' | 'network' | 'bad_request' | 'store_disabled' | 'media_unsupported' | 'protocol';

interface WahaErrorInit {
  httpStatus?: number | null;
  detail?: string | null;
}

export abstract class WahaError extends Error {
  abstract readonly kind: WahaErrorKind;
  /**
   * True when repeating the very same request cannot produce a second message: nothing was sent,
   * or the operation does not send. After an `ambiguous` send, look the message up first.
   */
  abstract readonly safeToRetry: boolean;
  readonly operation: WahaOperation;
  readonly httpStatus: number | null;
  /** WAHA's explanation, already redacted; safe to store and show. */
  readonly detail: string | null;

  constructor(operation: WahaOperation, summary: string, init: WahaErrorInit = {}) {
    const status = init.httpStatus ?? null;
    const detail = init.detail ?? null;
    super(`WAHA ${operation}: ${summary}${status === null ? '' : ` (HTTP ${status})`}${detail ? `: ${detail}` : ''}`);
    this.operation = operation;
    this.httpStatus = status;
    this.detail = detail;
  }
}

/** 401/403: the API key is wrong or missing. Retrying will not help; an admin must fix settings. */
export class WahaAuthError extends WahaError {
  override name = 'WahaAuthError';
  readonly kind = 'auth' as const;
  readonly safeToRetry = false;
}

/** 404 unknown or stopped session, 422 session not WORKING: nothing was sent; retry with a long backoff. */
export class WahaSessionNotReadyError extends WahaError {
  override name = 'WahaSessionNotReadyError';
  readonly kind = 'session_not_ready' as const;
  readonly safeToRetry = true;
  /** The status WAHA reported with a 422 (e.g. SCAN_QR_CODE); null for a 404. */
  readonly sessionStatus: string | null;

  constructor(operation: WahaOperation, summary: string, init: WahaErrorInit & { sessionStatus?: string | null } = {}) {
    super(operation, summary, init);
    this.sessionStatus = init.sessionStatus ?? null;
  }
}

/** WhatsApp error 463: a cold outreach was refused ("reach-out timelock"). Not sent; do not retry soon. */
export class WahaRefusedError extends WahaError {
  override name = 'WahaRefusedError';
  readonly kind = 'refused' as const;
  readonly safeToRetry = false;
}

/**
 * 5xx, a timeout or a connection lost after the request may have left: the message may or may not
 * have been sent. Look it up before sending again.
 */
export class WahaAmbiguousError extends WahaError {
  override name = 'WahaAmbiguousError';
  readonly kind = 'ambiguous' as const;
  get safeToRetry(): boolean {
    return !SEND_OPERATIONS.has(this.operation);
  }
}

/** The connection failed before the request could be sent (refused, DNS): safe to retry. */
export class WahaNetworkError extends WahaError {
  override name = 'WahaNetworkError';
  readonly kind = 'network' as const;
  readonly safeToRetry = true;
  readonly code: string | null;

  constructor(operation: WahaOperation, summary: string, init: WahaErrorInit & { code?: string | null } = {}) {
    super(operation, summary, init);
    this.code = init.code ?? null;
  }
}

/** 400 (and other 4xx we do not expect): the request itself is wrong; repeating it gives the same answer. */
export class WahaBadRequestError extends WahaError {
  override name = 'WahaBadRequestError';
  readonly kind = 'bad_request' as const;
  readonly safeToRetry = false;
}

/**
 * 400 from a NOWEB session started without its message store: it cannot answer any chat or
 * message read, so a look-up proves nothing either way (docs/contracts/waha.md).
 */
export class WahaStoreDisabledError extends WahaError {
  override name = 'WahaStoreDisabledError';
  readonly kind = 'store_disabled' as const;
  readonly safeToRetry = false;
}

/**
 * This WAHA cannot send files at all: a Core build before 2026.6.1 answers 422 "… is available only
 * in Plus version for '<ENGINE>' engine" (AvailableInPlusVersion in WAHA's src/core/exceptions.ts),
 * an engine without the method 501 "The method is not implemented by …". Thrown before anything
 * reaches WhatsApp: nothing was sent, and the same request gets the same answer.
 */
export class WahaMediaUnsupportedError extends WahaError {
  override name = 'WahaMediaUnsupportedError';
  readonly kind = 'media_unsupported' as const;
  readonly safeToRetry = false;
}

/** A success status with a body we cannot read (a WAHA upgrade changed a shape). */
export class WahaProtocolError extends WahaError {
  override name = 'WahaProtocolError';
  readonly kind = 'protocol' as const;
  readonly safeToRetry = false;
}

/** The answer passed the size cap; reading stopped there (lib/net/outbound.ts). */
export class WahaResponseTooLargeError extends WahaProtocolError {
  override name = 'WahaResponseTooLargeError';
}

export type EngineShape = 'WEBJS' | 'NOWEB' | 'GOWS' | 'EMPTY';

export interface SendTextResult {
  /** Serialized id `{fromMe}_{chatId}_{keyId}`; null when WAHA answered 201 without one and no id was reserved. */
  messageId: string | null;
  keyId: string | null;
  /** Which engine's 201 shape the id came from; EMPTY = sent, but the body held no id. */
  engineShape: EngineShape;
}

/** A file for sendMedia: its bytes, the type we detected from them, and the name the buyer sees. */
export interface WahaMediaFile {
  mimetype: string;
  filename: string;
  data: Uint8Array;
}

export interface WahaMessageStatus {
  id: string;
  ack: number | null;
  ackName: string | null;
}

export interface WahaChatMessage {
  id: string;
  keyId: string;
  fromMe: boolean;
  body: string;
  /** Unix seconds. */
  timestamp: number;
  ack: number | null;
  ackName: string | null;
}

export interface WahaSessionInfo {
  name: string;
  status: WahaSessionStatus;
  engine: string | null;
  me: { id: string; pushName: string | null } | null;
  config: Record<string, unknown> | null;
}

export interface WahaClientOptions {
  baseUrl: string;
  apiKey?: string | null;
  session: string;
  timeoutMs?: number;
  /** Replaces the transport in tests; the URL checks, the redirect rule and the size caps still apply. */
  fetch?: typeof globalThis.fetch;
  /**
   * Where requests may go (allow-list, private addresses). Default: this process's
   * NODE_ENV and WAHA_URL_ALLOWLIST, read on every request.
   */
  outbound?: OutboundPolicy;
}

export const DEFAULT_WEBHOOK_EVENTS = ['message.ack', 'message.any', 'session.status', 'message'] as const;

// ---- response shapes -------------------------------------------------------------------------

const webjsSent = z.object({ id: z.object({ _serialized: z.string().min(1) }) });
const nowebSent = z.object({ key: z.object({ remoteJid: z.string().min(1), fromMe: z.boolean(), id: z.string().min(1) }) });
const gowsSent = z.object({ id: z.string().min(1) });

const messageIdField = z.union([z.string().min(1), z.object({ _serialized: z.string().min(1) }).transform((o) => o._serialized)]);
const wahaMessage = z.object({
  id: messageIdField,
  fromMe: z.boolean().nullish(),
  body: z.string().nullish(),
  timestamp: z.number().nullish(),
  ack: z.number().int().nullish(),
  ackName: z.string().nullish(),
});

const numberExists = z.object({ numberExists: z.boolean(), chatId: z.string().min(1).nullish() });
const newMessageIdBody = z.object({ id: z.string().min(1) });
// Any string: newer WAHA builds add states; callers read it through normalizeSessionStatus.
const sessionStatus = z.string().min(1);
const sessionInfo = z.object({
  name: z.string().min(1),
  status: sessionStatus,
  // Newer WAHA reports `engine: {engine: "NOWEB", ...}`; older builds a plain string or nothing.
  engine: z.union([z.string(), z.object({ engine: z.string() }).transform((e) => e.engine)]).nullish(),
  me: z.object({ id: z.string(), pushName: z.string().nullish() }).nullish(),
  config: z.record(z.string(), z.unknown()).nullish(),
});
const sessionDto = z.object({ name: z.string().min(1), status: sessionStatus });
const notReadyBody = z.object({ status: z.string().optional() });
const nestMessage = z.object({ message: z.union([z.string(), z.array(z.string())]).optional() });
const base64File = z.object({ mimetype: z.string(), data: z.string().min(1) });
const webhookEntry = z.looseObject({ url: z.string() });
const lidToPhone = z.object({ lid: z.string().nullish(), pn: z.string().nullish() });

/** `77011234567@s.whatsapp.net` → `77011234567@c.us`, the form WAHA's message ids use. */
function toCus(jid: string): string {
  const at = jid.indexOf('@');
  if (at < 0) return `${jid}@c.us`;
  const user = jid.slice(0, at).replace(/:\d+$/, '');
  const server = jid.slice(at + 1);
  return `${user}@${server === 's.whatsapp.net' ? 'c.us' : server}`;
}

/**
 * Reads the sent message's id from any engine's 201 body. WAHA's OpenAPI shows one WAMessage shape,
 * but each engine answers differently; a body without a recognisable id still means "sent".
 */
export function extractSentMessage(body: unknown, fallback: { chatId: string; reservedId?: string | null }): SendTextResult {
  const webjs = webjsSent.safeParse(body);
  if (webjs.success) {
    const messageId = webjs.data.id._serialized;
    return { messageId, keyId: keyIdOf(messageId), engineShape: 'WEBJS' };
  }
  const noweb = nowebSent.safeParse(body);
  if (noweb.success) {
    const { remoteJid, fromMe, id } = noweb.data.key;
    return { messageId: `${fromMe}_${toCus(remoteJid)}_${id}`, keyId: id, engineShape: 'NOWEB' };
  }
  const gows = gowsSent.safeParse(body);
  if (gows.success) {
    const messageId = gows.data.id;
    return { messageId, keyId: keyIdOf(messageId), engineShape: 'GOWS' };
  }
  // The known empty-201 regression: the send happened. With a reserved id we still know which message it is.
  const reserved = fallback.reservedId ?? null;
  if (reserved !== null && reserved !== '') {
    return { messageId: `true_${fallback.chatId}_${reserved}`, keyId: reserved, engineShape: 'EMPTY' };
  }
  return { messageId: null, keyId: null, engineShape: 'EMPTY' };
}

// ---- transport -------------------------------------------------------------------------------

interface RawResponse {
  status: number;
  contentType: string;
  body: Buffer;
  /** The status line arrived but the body did not (timeout or reset while reading). */
  bodyLost: boolean;
}

interface CallOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  accept?: string;
  timeoutMs?: number;
  secrets?: RedactSecrets;
}

// Errors raised while connecting: the request never left, so nothing can have been sent.
const BEFORE_SEND_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT',
  'ERR_INVALID_URL', 'ERR_TLS_CERT_ALTNAME_INVALID', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN',
]);

function errorCode(err: unknown): string | null {
  if (typeof err !== 'object' || err === null) return null;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Happy-eyeballs failures arrive as an AggregateError of per-address errors.
  const errors = (err as { errors?: unknown }).errors;
  if (Array.isArray(errors)) {
    for (const e of errors) {
      const c = errorCode(e);
      if (c !== null) return c;
    }
  }
  return null;
}

/** Whether a fetch rejection happened before any byte of the request could reach WAHA. */
export function classifyFetchFailure(err: unknown): { beforeSend: boolean; code: string } {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return { beforeSend: false, code: 'TIMEOUT' };
  const cause = err instanceof Error ? err.cause : undefined;
  // undici refuses "bad ports" (fetch spec) before opening any connection.
  if (cause instanceof Error && cause.message === 'bad port') return { beforeSend: true, code: 'BAD_PORT' };
  const code = errorCode(cause) ?? errorCode(err);
  if (code !== null) return { beforeSend: BEFORE_SEND_CODES.has(code), code };
  return { beforeSend: false, code: 'UNKNOWN' };
}

function seg(value: string): string {
  return encodeURIComponent(value);
}

function parseJson(buf: Buffer): unknown {
  const text = buf.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * 422 AvailableInPlusVersion (any operation: its text says so), or a 501 NotImplementedByEngineError
 * answering a file send. A 422 about the session's status has no such text and stays "not ready".
 */
function mediaUnsupported(op: WahaOperation, status: number, body: Buffer): boolean {
  const parsed = nestMessage.safeParse(parseJson(body));
  const message = parsed.success ? [parsed.data.message ?? ''].flat().join(' ') : '';
  if (status === 422) return /available only in plus/i.test(message);
  return (op === 'sendImage' || op === 'sendFile') && /not implemented/i.test(message);
}

function isMissingSession(body: Buffer): boolean {
  const parsed = nestMessage.safeParse(parseJson(body));
  const message = parsed.success ? [parsed.data.message ?? ''].flat().join(' ') : '';
  return /find a session/i.test(message);
}

export class WahaClient {
  readonly baseUrl: string;
  readonly session: string;
  readonly #apiKey: string | null;
  readonly #timeoutMs: number;
  readonly #fetch: typeof globalThis.fetch | undefined;
  readonly #outbound: OutboundPolicy | undefined;

  constructor(options: WahaClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.session = options.session;
    this.#apiKey = options.apiKey === undefined || options.apiKey === '' ? null : options.apiKey;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#fetch = options.fetch;
    this.#outbound = options.outbound;
  }

  async #call(op: WahaOperation, method: string, path: string, opts: CallOptions = {}): Promise<RawResponse> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    const url = `${this.baseUrl}${path}${qs ? `?${qs}` : ''}`;
    const headers: Record<string, string> = { accept: opts.accept ?? 'application/json' };
    if (this.#apiKey !== null) headers['x-api-key'] = this.#apiKey;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const signal = AbortSignal.timeout(opts.timeoutMs ?? this.#timeoutMs);
    const policy = this.#outbound ?? wahaOutboundPolicy(outboundConfigFromEnv());
    let res: Response;
    try {
      res = await outboundFetch(url, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal,
      }, policy, this.#fetch);
    } catch (err) {
      // Refused before connecting (allow-list, a private address in production): nothing was sent.
      if (err instanceof OutboundRefusedError) {
        const why = err.code === 'URL_NOT_ALLOWED' ? 'the WAHA URL is not in WAHA_URL_ALLOWLIST'
          : err.code === 'ADDRESS_BLOCKED' ? 'the WAHA address is private or local; the operator must list it in WAHA_URL_ALLOWLIST'
          : 'the WAHA URL is not usable';
        throw new WahaNetworkError(op, `refused to connect: ${why}`, { code: err.code });
      }
      // A redirect is never followed (a 307 would re-post the message elsewhere); nothing was sent here.
      if (err instanceof OutboundRedirectError) {
        throw new WahaBadRequestError(op, 'WAHA answered with a redirect, which is not followed; use the final WAHA URL', { httpStatus: err.status });
      }
      // The URL (phone in a query, chat id in a path) and the raw cause stay out of the error.
      const { beforeSend, code } = classifyFetchFailure(err);
      if (beforeSend) throw new WahaNetworkError(op, `cannot connect to WAHA (${code})`, { code });
      throw new WahaAmbiguousError(op, code === 'TIMEOUT' ? 'no answer in time' : `connection lost (${code})`);
    }
    const contentType = res.headers.get('content-type') ?? '';
    const limit = op === 'getQr' ? MAX_IMAGE_BYTES : MAX_JSON_BYTES;
    try {
      return { status: res.status, contentType, body: await readCapped(res, limit), bodyLost: false };
    } catch (err) {
      // A send's status line is its outcome: an oversized body there counts as a lost body.
      if (err instanceof OutboundBodyTooLargeError && !SEND_OPERATIONS.has(op)) {
        throw new WahaResponseTooLargeError(op, `response too large (over ${limit} bytes), not read`, { httpStatus: res.status });
      }
      return { status: res.status, contentType, body: Buffer.alloc(0), bodyLost: true };
    }
  }

  /** Maps a non-success response to its typed error. */
  #fail(op: WahaOperation, res: RawResponse, secrets: RedactSecrets = {}): WahaError {
    const status = res.status;
    const detail = res.bodyLost ? 'body lost' : redactWahaError(res.body, secrets);
    const init = { httpStatus: status, detail };
    if (status === 401 || status === 403) return new WahaAuthError(op, 'API key rejected; check the WAHA API key', init);
    if ((status === 422 || status === 501) && mediaUnsupported(op, status, res.body)) {
      return new WahaMediaUnsupportedError(op, 'this WAHA cannot send files (Core before 2026.6.1, or the engine lacks the method)', init);
    }
    if (status === 400 && /enable noweb store/i.test(res.body.toString('utf8'))) {
      return new WahaStoreDisabledError(op, 'the NOWEB session has no message store', { httpStatus: status, detail: 'NOWEB store disabled' });
    }
    if (status === 400) return new WahaBadRequestError(op, 'request rejected', init);
    if (status === 404) return new WahaSessionNotReadyError(op, `session '${this.session}' not found or stopped`, init);
    // A file the engine cannot read (NOWEB: "Either file.url or file.data must be specified.") is a
    // Nest 422 with a message; the session pipe's 422 names the status it expected instead.
    if (status === 422 && (op === 'sendImage' || op === 'sendFile') && !/"expected"\s*:/.test(res.body.toString('utf8'))) {
      return new WahaBadRequestError(op, 'WAHA could not read the file', init);
    }
    if (status === 422) {
      const body = notReadyBody.safeParse(parseJson(res.body));
      const sessionStatus = body.success ? body.data.status ?? null : null;
      return new WahaSessionNotReadyError(op, `session '${this.session}' is not ready${sessionStatus ? ` (${sessionStatus})` : ''}`, { ...init, sessionStatus });
    }
    if (status >= 500) {
      // Looked for in the redacted exception only: the echoed request body (e.g. "order 463") must not count.
      if (/\b463\b/.test(detail)) return new WahaRefusedError(op, 'WhatsApp refused the message (463: reach-out timelock)', init);
      return new WahaAmbiguousError(op, 'WAHA failed; the outcome is unknown', init);
    }
    if (status >= 400) return new WahaBadRequestError(op, 'request rejected', init);
    return new WahaProtocolError(op, 'unexpected response status', init);
  }

  #json<T extends z.ZodType>(op: WahaOperation, res: RawResponse, schema: T): z.infer<T> {
    if (res.bodyLost) throw new WahaAmbiguousError(op, 'response body lost', { httpStatus: res.status });
    const parsed = schema.safeParse(parseJson(res.body));
    if (!parsed.success) {
      const where = parsed.error.issues.slice(0, 3).map((i) => i.path.join('.') || '(root)').join(', ');
      throw new WahaProtocolError(op, `unexpected response shape at ${where}`, { httpStatus: res.status });
    }
    return parsed.data;
  }

  static #ok(res: RawResponse): boolean {
    return res.status >= 200 && res.status < 300;
  }

  /**
   * POST /api/sendText. Any 2xx means WhatsApp accepted the message, even when the body holds no
   * id. Pass `id` from newMessageId() on NOWEB/GOWS so an ambiguous failure can be looked up.
   */
  async sendText(input: { chatId: string; text: string; id?: string | null; linkPreview?: boolean; timeoutMs?: number }): Promise<SendTextResult> {
    const secrets: RedactSecrets = { text: input.text, phones: [input.chatId] };
    const body: Record<string, unknown> = { session: this.session, chatId: input.chatId, text: input.text };
    if (input.id) body.id = input.id;
    if (input.linkPreview !== undefined) body.linkPreview = input.linkPreview;
    const res = await this.#call('sendText', 'POST', '/api/sendText', { body, timeoutMs: input.timeoutMs, secrets });
    if (!WahaClient.#ok(res)) throw this.#fail('sendText', res, secrets);
    return extractSentMessage(parseJson(res.body), { chatId: input.chatId, reservedId: input.id ?? null });
  }

  /**
   * POST /api/sendImage (an image) or /api/sendFile (a document), the caption being the message
   * text. The file travels inline as `file.data` (base64, WAHA's BinaryFile): with `file.url` WAHA
   * would download it from its own network, and a seller's WAHA cannot be assumed to reach us.
   * No `id` is sent: WAHA's OpenAPI documents a pre-generated id for sendText but not for these,
   * and NOWEB generates its own (docs/contracts/waha.md "Media") — a send that is looked up later is
   * found by its caption, as on WEBJS. Any 2xx means sent; failures are typed as for sendText.
   */
  async sendMedia(input: { kind: 'image' | 'document'; chatId: string; caption: string; file: WahaMediaFile; timeoutMs?: number }): Promise<SendTextResult> {
    const op: WahaOperation = input.kind === 'image' ? 'sendImage' : 'sendFile';
    const secrets: RedactSecrets = { text: input.caption, phones: [input.chatId] };
    const body = {
      session: this.session,
      chatId: input.chatId,
      file: { mimetype: input.file.mimetype, filename: input.file.filename, data: Buffer.from(input.file.data).toString('base64') },
      caption: input.caption,
    };
    const res = await this.#call(op, 'POST', `/api/${op}`, { body, timeoutMs: input.timeoutMs, secrets });
    if (!WahaClient.#ok(res)) throw this.#fail(op, res, secrets);
    return extractSentMessage(parseJson(res.body), { chatId: input.chatId, reservedId: null });
  }

  /** A fresh WhatsApp key id to send with; null when the engine (WEBJS) cannot reserve ids. */
  async newMessageId(): Promise<string | null> {
    const res = await this.#call('newMessageId', 'GET', `/api/${seg(this.session)}/new-message-id`);
    if (res.status === 501 || (res.status === 404 && !isMissingSession(res.body))) return null;
    if (!WahaClient.#ok(res)) throw this.#fail('newMessageId', res);
    return this.#json('newMessageId', res, newMessageIdBody).id;
  }

  /** Whether the number has WhatsApp; send to the returned chatId, which may differ from the phone. */
  async checkExists(phone: string): Promise<{ numberExists: boolean; chatId: string | null }> {
    const digits = phone.replace(/\D/g, '');
    const secrets: RedactSecrets = { phones: [digits] };
    const res = await this.#call('checkExists', 'GET', '/api/contacts/check-exists', { query: { phone: digits, session: this.session }, secrets });
    if (!WahaClient.#ok(res)) throw this.#fail('checkExists', res, secrets);
    const body = this.#json('checkExists', res, numberExists);
    return { numberExists: body.numberExists, chatId: body.numberExists ? body.chatId ?? null : null };
  }

  /**
   * Looks a message up by its serialized id (a bare key id is expanded to our own message in that
   * chat). Null = WAHA does not have it.
   */
  async getMessage(chatId: string, messageId: string): Promise<WahaMessageStatus | null> {
    const id = messageId.includes('_') ? messageId : `true_${chatId}_${messageId}`;
    const secrets: RedactSecrets = { phones: [chatId] };
    const res = await this.#call('getMessage', 'GET', `/api/${seg(this.session)}/chats/${seg(chatId)}/messages/${seg(id)}`, {
      query: { downloadMedia: false },
      secrets,
    });
    if (res.status === 404 && !isMissingSession(res.body)) return null;
    if (!WahaClient.#ok(res)) throw this.#fail('getMessage', res, secrets);
    // Some engines answer 200 with no message instead of 404.
    const text = res.body.toString('utf8').trim();
    if (!res.bodyLost && (text === '' || text === 'null')) return null;
    const m = this.#json('getMessage', res, wahaMessage);
    return { id: m.id, ack: m.ack ?? null, ackName: m.ackName ?? null };
  }

  /** The chat's messages, newest first. `since` is applied here too, since not every engine filters. */
  async listChatMessages(chatId: string, options: { limit: number; fromMe?: boolean; since?: Date }): Promise<WahaChatMessage[]> {
    const secrets: RedactSecrets = { phones: [chatId] };
    const sinceSec = options.since ? Math.floor(options.since.getTime() / 1000) : undefined;
    const res = await this.#call('listChatMessages', 'GET', `/api/${seg(this.session)}/chats/${seg(chatId)}/messages`, {
      query: {
        limit: options.limit,
        downloadMedia: false,
        sortBy: 'timestamp',
        sortOrder: 'desc',
        'filter.fromMe': options.fromMe,
        'filter.timestamp.gte': sinceSec,
      },
      secrets,
    });
    // A chat WAHA has never seen: no messages, not an error.
    if (res.status === 404 && !isMissingSession(res.body)) return [];
    if (!WahaClient.#ok(res)) throw this.#fail('listChatMessages', res, secrets);
    const list = this.#json('listChatMessages', res, z.array(wahaMessage));
    return list
      .map((m) => ({
        id: m.id,
        keyId: keyIdOf(m.id),
        fromMe: m.fromMe ?? m.id.startsWith('true_'),
        body: m.body ?? '',
        timestamp: m.timestamp ?? 0,
        ack: m.ack ?? null,
        ackName: m.ackName ?? null,
      }))
      .filter((m) => (options.fromMe === undefined || m.fromMe === options.fromMe) && (sinceSec === undefined || m.timestamp >= sinceSec))
      .sort((a, b) => b.timestamp - a.timestamp);
  }

  /**
   * WEBJS cannot reserve ids, so after an ambiguous send the only evidence is our own message in
   * the chat with exactly this text since the attempt started. More than one match is the
   * caller's ambiguity to resolve.
   */
  async findOwnMessagesByText(input: { chatId: string; text: string; since: Date; limit?: number }): Promise<WahaChatMessage[]> {
    // One second of slack: WhatsApp timestamps are whole seconds, the attempt start is not.
    const since = new Date(input.since.getTime() - 1000);
    const list = await this.listChatMessages(input.chatId, { limit: input.limit ?? 50, fromMe: true, since });
    return list.filter((m) => m.body === input.text);
  }

  /**
   * The buyer's linked id (`…@lid`) behind a phone, as this session knows it; null when it does
   * not. Learned when we send, so that a reply from the LID finds its buyer.
   */
  async lidForPhone(phone: string): Promise<string | null> {
    const digits = phone.replace(/\D/g, '');
    const secrets: RedactSecrets = { phones: [digits] };
    const res = await this.#call('lidForPhone', 'GET', `/api/${seg(this.session)}/lids/pn/${seg(digits)}`, { secrets });
    if (res.status === 404 && !isMissingSession(res.body)) return null;
    if (!WahaClient.#ok(res)) throw this.#fail('lidForPhone', res, secrets);
    const text = res.body.toString('utf8').trim();
    if (text === '' || text === 'null') return null;
    const lid = this.#json('lidForPhone', res, lidToPhone).lid;
    return lid && /@lid$/.test(lid) ? lid : null;
  }

  /** The phone digits behind a linked id; null when WAHA does not know them (`pn: null` happens). */
  async phoneForLid(lid: string): Promise<string | null> {
    const res = await this.#call('phoneForLid', 'GET', `/api/${seg(this.session)}/lids/${seg(lid)}`);
    if (res.status === 404 && !isMissingSession(res.body)) return null;
    if (!WahaClient.#ok(res)) throw this.#fail('phoneForLid', res);
    const text = res.body.toString('utf8').trim();
    if (text === '' || text === 'null') return null;
    return phoneOfJid(this.#json('phoneForLid', res, lidToPhone).pn);
  }

  /** GET /api/sessions/{name}; null when WAHA does not know the session. */
  async getSession(): Promise<WahaSessionInfo | null> {
    const res = await this.#call('getSession', 'GET', `/api/sessions/${seg(this.session)}`);
    if (res.status === 404) return null;
    if (!WahaClient.#ok(res)) throw this.#fail('getSession', res);
    return toSessionInfo(this.#json('getSession', res, sessionInfo));
  }

  async listSessions(options: { all?: boolean } = {}): Promise<WahaSessionInfo[]> {
    const res = await this.#call('listSessions', 'GET', '/api/sessions', { query: { all: options.all ?? true } });
    if (!WahaClient.#ok(res)) throw this.#fail('listSessions', res);
    return this.#json('listSessions', res, z.array(sessionInfo)).map(toSessionInfo);
  }

  /**
   * Points the session's webhooks at us (HMAC, retries, the four events) and turns on WEBJS acks,
   * keeping the rest of its config and any webhook that is not ours. A webhook is "ours" when it
   * has the same URL path (the path names the store), so a changed public host replaces the old one
   * instead of leaving a second subscriber. WAHA restarts a running session on update.
   */
  async upsertSessionConfig(input: {
    webhookUrl: string;
    hmacKey: string;
    events?: readonly string[];
    retries?: { policy: 'linear' | 'exponential' | 'constant'; delaySeconds: number; attempts: number };
    /**
     * Turn on NOWEB's message store (and full sync). Without it a NOWEB session answers 400 to every
     * message look-up; it is read when the session starts, so WAHA restarts the session for it.
     */
    nowebStore?: boolean;
  }): Promise<{ created: boolean; name: string; status: WahaSessionStatus }> {
    const current = await this.getSession();
    const config: Record<string, unknown> = { ...(current?.config ?? {}) };
    const ourPath = new URL(input.webhookUrl).pathname;
    const others = z.array(webhookEntry).safeParse(config.webhooks);
    const kept = (others.success ? others.data : []).filter((h) => {
      try {
        return h.url !== input.webhookUrl && new URL(h.url).pathname !== ourPath;
      } catch {
        return true;
      }
    });
    config.webhooks = [
      ...kept,
      {
        url: input.webhookUrl,
        events: [...(input.events ?? DEFAULT_WEBHOOK_EVENTS)],
        hmac: { key: input.hmacKey },
        retries: input.retries ?? { policy: 'exponential', delaySeconds: 2, attempts: 15 },
      },
    ];
    const webjs = z.record(z.string(), z.unknown()).safeParse(config.webjs);
    config.webjs = { ...(webjs.success ? webjs.data : {}), tagsEventsOn: true };
    if (input.nowebStore ?? true) {
      const noweb = z.record(z.string(), z.unknown()).safeParse(config.noweb);
      const base = noweb.success ? noweb.data : {};
      const store = z.record(z.string(), z.unknown()).safeParse(base.store);
      config.noweb = { markOnline: true, ...base, store: { fullSync: true, ...(store.success ? store.data : {}), enabled: true } };
    }

    if (current === null) {
      const res = await this.#call('upsertSessionConfig', 'POST', '/api/sessions', { body: { name: this.session, start: true, config } });
      if (WahaClient.#ok(res)) return { created: true, ...this.#json('upsertSessionConfig', res, sessionDto) };
      // Created meanwhile by someone else: fall through to an update.
      if (res.status !== 422 && res.status !== 409) throw this.#fail('upsertSessionConfig', res);
    }
    const res = await this.#call('upsertSessionConfig', 'PUT', `/api/sessions/${seg(this.session)}`, { body: { name: this.session, config } });
    if (!WahaClient.#ok(res)) throw this.#fail('upsertSessionConfig', res);
    return { created: false, ...this.#json('upsertSessionConfig', res, sessionDto) };
  }

  /** The pairing QR as PNG; null when the session is not waiting for a scan. Fetch again on refresh: it changes. */
  async getQr(): Promise<Buffer | null> {
    const res = await this.#call('getQr', 'GET', `/api/${seg(this.session)}/auth/qr`, { query: { format: 'image' }, accept: 'image/png' });
    if (res.status === 422) return null;
    if (!WahaClient.#ok(res)) throw this.#fail('getQr', res);
    if (res.bodyLost) throw new WahaAmbiguousError('getQr', 'response body lost', { httpStatus: res.status });
    if (res.contentType.startsWith('image/')) return res.body;
    // Some builds answer JSON {mimetype, data} regardless of Accept.
    const file = this.#json('getQr', res, base64File);
    return Buffer.from(file.data, 'base64');
  }

  /** POST /api/sessions/{name}/start; a session already running is not an error. */
  async startSession(): Promise<{ name: string; status: WahaSessionStatus }> {
    const res = await this.#call('startSession', 'POST', `/api/sessions/${seg(this.session)}/start`);
    if (res.status === 422) {
      const info = await this.getSession();
      if (info !== null) return { name: info.name, status: info.status };
    }
    if (!WahaClient.#ok(res)) throw this.#fail('startSession', res);
    return this.#json('startSession', res, sessionDto);
  }
}

function toSessionInfo(s: z.infer<typeof sessionInfo>): WahaSessionInfo {
  return {
    name: s.name,
    status: s.status,
    engine: s.engine ?? null,
    me: s.me ? { id: s.me.id, pushName: s.me.pushName ?? null } : null,
    config: s.config ?? null,
  };
}
