import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { serve, type HttpBindings } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import QRCode from 'qrcode';
import { ulid } from 'ulid';
import { z } from 'zod';
import { ACK_NAMES, signWebhook } from '../../lib/waha/webhooks.ts';

/**
 * A WAHA stand-in for tests, the demo and the benchmark. It enforces the parts of the contract the
 * product relies on (contracts/waha.md): API key, session existence and status, the three engines'
 * 201 shapes, signed webhooks with acks 1→2→3, and it injects the faults real WAHA produces.
 * Webhook retry delays are compressed to milliseconds so tests stay fast.
 */

export type SimEngine = 'WEBJS' | 'NOWEB' | 'GOWS';
export const SIM_SESSION_STATUSES = ['STOPPED', 'STARTING', 'SCAN_QR_CODE', 'WORKING', 'FAILED'] as const;
export type SimSessionStatus = (typeof SIM_SESSION_STATUSES)[number];

export const SIM_OPS = [
  'sendText', 'checkExists', 'newMessageId', 'getMessage', 'listMessages', 'getSession', 'listSessions',
  'createSession', 'updateSession', 'startSession', 'stopSession', 'getQr', 'any',
] as const;
export type SimOp = (typeof SIM_OPS)[number];

const faultSchema = z.discriminatedUnion('type', [
  /** 422: the session is reported as not WORKING (optionally with this status). */
  z.object({ type: z.literal('not_working'), status: z.enum(SIM_SESSION_STATUSES).optional() }),
  /** 404: WAHA does not know the session. */
  z.object({ type: z.literal('session_not_found') }),
  /** 401: as if the API key were wrong. */
  z.object({ type: z.literal('unauthorized') }),
  /** 500 with WhatsApp error 463 (cold outreach refused); nothing is sent. */
  z.object({ type: z.literal('refused_463') }),
  /** 500 before sending: nothing is sent (the answer is still ambiguous to the client). */
  z.object({ type: z.literal('server_error') }),
  /** The message is stored and acked, but the answer is a 500 after `delayMs`. */
  z.object({ type: z.literal('slow_500_after_send'), delayMs: z.number().int().min(0).max(600_000).optional() }),
  /** The message is stored and acked, then the connection is dropped without an answer. */
  z.object({ type: z.literal('reset_after_send') }),
  /** The known regression: sent, 201 with an empty body. */
  z.object({ type: z.literal('empty_201') }),
  /** Every webhook about this message is delivered twice with the same envelope id. */
  z.object({ type: z.literal('duplicate_webhooks') }),
  /** Acks stop after level `upTo` (0 = none at all: the message stays PENDING). */
  z.object({ type: z.literal('missing_acks'), upTo: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional() }),
  /** SERVER, then ERROR. */
  z.object({ type: z.literal('ack_error') }),
  /** The SERVER ack webhook is delivered before the 201 answer leaves. */
  z.object({ type: z.literal('ack_before_response') }),
]);
export type SimFault = z.infer<typeof faultSchema>;
type FaultType = SimFault['type'];

// Faults that shape the answer of any operation; the rest only make sense for a send.
const RESPONSE_FAULTS: ReadonlySet<FaultType> = new Set(['not_working', 'session_not_found', 'unauthorized', 'server_error']);

export interface InjectOptions {
  /** How many matching requests the fault applies to (default 1). */
  times?: number;
  /** Which operation consumes it (default sendText). Only response faults may target other operations. */
  op?: SimOp;
}

interface ArmedFault {
  fault: SimFault;
  op: SimOp;
  remaining: number;
}

export interface SimMessage {
  id: string;
  keyId: string;
  session: string;
  chatId: string;
  fromMe: boolean;
  body: string;
  /** Unix seconds, as WhatsApp reports it. */
  timestamp: number;
  ack: number;
  source: 'api' | 'app';
}

export interface SimRequest {
  at: number;
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  apiKey: string | null;
  body: unknown;
}

export interface SimWebhookDelivery {
  at: number;
  url: string;
  event: string;
  envelopeId: string;
  requestId: string;
  attempt: number;
  status: number | null;
  error: string | null;
  envelope: Record<string, unknown>;
}

interface WebhookConfig {
  url: string;
  events: string[];
  hmac?: { key?: string | null } | null;
  retries?: { delaySeconds?: number; attempts?: number; policy?: string } | null;
  customHeaders?: { name: string; value: string }[] | null;
}

interface SimSession {
  name: string;
  status: SimSessionStatus;
  /** Whether a phone is linked: a start ends in WORKING when paired, SCAN_QR_CODE otherwise. */
  paired: boolean;
  config: Record<string, unknown>;
  webhooks: WebhookConfig[];
  me: { id: string; pushName: string };
  statuses: { status: SimSessionStatus; timestamp: number }[];
}

export interface WahaSimulatorOptions {
  port?: number;
  apiKey?: string | null;
  engine: SimEngine;
  /** Sessions at start; default one paired WORKING session named "default". */
  sessions?: { name: string; status?: SimSessionStatus; paired?: boolean; me?: { id: string; pushName: string } }[];
  /** Offsets from the send at which acks 1, 2, 3 fire. */
  ackDelaysMs?: [number, number, number];
  /** STARTING lasts this long before WORKING / SCAN_QR_CODE. */
  startDelayMs?: number;
  /** Base delay of webhook retries (WAHA's seconds become these milliseconds). */
  webhookRetryDelayMs?: number;
  /** WAHA waits up to 5 s for a STARTING session before answering 422; 0 answers at once. */
  notWorkingWaitMs?: number;
}

const webhookConfigSchema = z.object({
  url: z.url(),
  events: z.array(z.string().min(1)).min(1),
  hmac: z.object({ key: z.string().nullish() }).nullish(),
  retries: z.object({ delaySeconds: z.number().optional(), attempts: z.number().int().min(0).optional(), policy: z.enum(['linear', 'exponential', 'constant']).optional() }).nullish(),
  customHeaders: z.array(z.object({ name: z.string().min(1), value: z.string() })).nullish(),
});
const sessionConfigSchema = z.looseObject({
  webhooks: z.array(webhookConfigSchema).optional(),
  webjs: z.looseObject({ tagsEventsOn: z.boolean().optional() }).nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
});
const sessionCreateSchema = z.object({
  name: z.string().min(1).regex(/^[\w-]+$/).default('default'),
  start: z.boolean().default(true),
  config: sessionConfigSchema.optional(),
  apps: z.array(z.unknown()).nullish(),
});
const sessionUpdateSchema = z.object({
  name: z.string().optional(),
  config: sessionConfigSchema.optional(),
  apps: z.array(z.unknown()).nullish(),
});
const sendTextSchema = z.object({
  session: z.string().min(1),
  chatId: z.string().regex(/^[^@\s]+@(c\.us|s\.whatsapp\.net|g\.us|lid)$/, 'chatId must look like 77011234567@c.us'),
  text: z.string().min(1).max(65_536),
  // The bare id from new-message-id; a serialized `true_<chat>_<key>` is not a reservable id.
  id: z.string().regex(/^[A-Za-z0-9]+$/, 'id must be the bare id returned by new-message-id').nullish(),
  reply_to: z.string().nullish(),
  linkPreview: z.boolean().optional(),
  linkPreviewHighQuality: z.boolean().optional(),
});

const WAHA_VERSION = '2026.7.1';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function hexId(bytes: number): string {
  return randomBytes(bytes).toString('hex').toUpperCase();
}

/** WhatsApp key ids look different per engine; tests that eyeball them should see the real forms. */
function newKeyId(engine: SimEngine): string {
  switch (engine) {
    case 'WEBJS': return `3EB0${hexId(8)}`;
    case 'NOWEB': return `BAE5${hexId(6)}`;
    case 'GOWS': return `3EB0${hexId(9)}`;
  }
}

function digitsOf(s: string): string {
  return s.replace(/\D/g, '');
}

/** `77011234567@s.whatsapp.net` and `+7 701 …` → `77011234567@c.us`. */
function toChatId(s: string): string {
  if (s.includes('@')) {
    const [user = '', server = ''] = s.split('@');
    return `${user}@${server === 's.whatsapp.net' ? 'c.us' : server}`;
  }
  return `${digitsOf(s)}@c.us`;
}

function toJid(chatId: string): string {
  return chatId.endsWith('@c.us') ? chatId.replace(/@c\.us$/, '@s.whatsapp.net') : chatId;
}

function badRequest(messages: string[]) {
  return { statusCode: 400, message: messages, error: 'Bad Request' };
}

function zodMessages(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
}

export class WahaSimState {
  readonly engine: SimEngine;
  apiKey: string | null;
  ackDelaysMs: [number, number, number];
  startDelayMs: number;
  webhookRetryDelayMs: number;
  notWorkingWaitMs: number;
  readonly requests: SimRequest[] = [];
  readonly webhooks: SimWebhookDelivery[] = [];
  readonly #sessions = new Map<string, SimSession>();
  readonly #chats = new Map<string, Map<string, SimMessage[]>>();
  readonly #unregistered = new Set<string>();
  #faults: ArmedFault[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inflight = new Set<Promise<unknown>>();
  #closed = false;

  constructor(options: WahaSimulatorOptions) {
    this.engine = options.engine;
    this.apiKey = options.apiKey ?? null;
    this.ackDelaysMs = options.ackDelaysMs ?? [50, 100, 150];
    this.startDelayMs = options.startDelayMs ?? 20;
    this.webhookRetryDelayMs = options.webhookRetryDelayMs ?? 50;
    this.notWorkingWaitMs = options.notWorkingWaitMs ?? 0;
    for (const s of options.sessions ?? [{ name: 'default', status: 'WORKING' as const, paired: true }]) {
      this.addSession(s.name, { status: s.status ?? 'WORKING', paired: s.paired ?? s.status === 'WORKING', me: s.me });
    }
  }

  // ---- control -------------------------------------------------------------------------------

  addSession(name: string, opts: { status?: SimSessionStatus; paired?: boolean; me?: { id: string; pushName: string }; config?: Record<string, unknown> } = {}): void {
    const status = opts.status ?? 'STOPPED';
    this.#sessions.set(name, {
      name,
      status,
      paired: opts.paired ?? status === 'WORKING',
      config: {},
      webhooks: [],
      me: opts.me ?? { id: '77000000001@c.us', pushName: 'Магазин (симулятор)' },
      statuses: [{ status, timestamp: Date.now() }],
    });
    if (opts.config) this.#applyConfig(name, opts.config);
  }

  sessionStatus(name = 'default'): SimSessionStatus | null {
    return this.#sessions.get(name)?.status ?? null;
  }

  sessionConfig(name = 'default'): Record<string, unknown> | null {
    return this.#sessions.get(name)?.config ?? null;
  }

  /** Changes the status at once and tells the webhooks, as WAHA does. */
  setSessionStatus(name: string, status: SimSessionStatus): void {
    const s = this.#sessions.get(name);
    if (!s) throw new Error(`no simulated session '${name}'`);
    if (status === 'WORKING') s.paired = true;
    if (s.status === status) return;
    s.status = status;
    s.statuses = [...s.statuses, { status, timestamp: Date.now() }].slice(-5);
    void this.#emit(s, 'session.status', { name: s.name, status, statuses: s.statuses });
  }

  /** The seller scanned the QR: the session becomes paired and WORKING. */
  scanQr(name = 'default'): void {
    const s = this.#sessions.get(name);
    if (!s) throw new Error(`no simulated session '${name}'`);
    s.paired = true;
    this.setSessionStatus(name, 'WORKING');
  }

  markUnregistered(phone: string): void {
    this.#unregistered.add(digitsOf(phone));
  }

  injectFault(fault: SimFault, options: InjectOptions = {}): void {
    const parsed = faultSchema.parse(fault);
    const op = options.op ?? 'sendText';
    if (op !== 'sendText' && !RESPONSE_FAULTS.has(parsed.type)) {
      throw new Error(`fault '${parsed.type}' only applies to sendText`);
    }
    this.#faults.push({ fault: parsed, op, remaining: Math.max(1, options.times ?? 1) });
  }

  clearFaults(): void {
    this.#faults = [];
  }

  pendingFaults(): { fault: SimFault; op: SimOp; remaining: number }[] {
    return this.#faults.map((f) => ({ ...f }));
  }

  /** A buyer writes to the seller: stored and delivered as `message` (and `message.any`). */
  receiveMessage(from: string, body: string, options: { session?: string } = {}): SimMessage {
    const session = this.#sessions.get(options.session ?? 'default');
    if (!session) throw new Error(`no simulated session '${options.session ?? 'default'}'`);
    const chatId = toChatId(from);
    const keyId = newKeyId(this.engine);
    const msg: SimMessage = {
      id: `false_${chatId}_${keyId}`, keyId, session: session.name, chatId, fromMe: false, body,
      timestamp: Math.floor(Date.now() / 1000), ack: 1, source: 'app',
    };
    this.#store(msg);
    const payload = this.waMessage(session, msg);
    void this.#emit(session, 'message', payload);
    void this.#emit(session, 'message.any', payload);
    return msg;
  }

  messages(chatId: string, session = 'default'): SimMessage[] {
    return [...(this.#chats.get(session)?.get(toChatId(chatId)) ?? [])];
  }

  /** Every message, per session and chat, oldest first. */
  allChats(): { session: string; chatId: string; messages: SimMessage[] }[] {
    const out: { session: string; chatId: string; messages: SimMessage[] }[] = [];
    for (const [session, chats] of this.#chats) for (const [chatId, messages] of chats) out.push({ session, chatId, messages: [...messages] });
    return out;
  }

  sessionsList(): { name: string; status: SimSessionStatus; paired: boolean }[] {
    return [...this.#sessions.values()].map((s) => ({ name: s.name, status: s.status, paired: s.paired }));
  }

  clearLogs(): void {
    this.requests.length = 0;
    this.webhooks.length = 0;
  }

  /** Resolves once no ack timer, status change or webhook delivery is pending. */
  async idle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#timers.size > 0 || this.#inflight.size > 0) {
      if (Date.now() > deadline) throw new Error('WAHA simulator did not become idle in time');
      if (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
      else await sleep(5);
    }
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  // ---- internals used by the routes ------------------------------------------------------------

  session(name: string): SimSession | undefined {
    return this.#sessions.get(name);
  }

  sessionNames(): string[] {
    return [...this.#sessions.keys()];
  }

  takeFault(op: SimOp): SimFault | null {
    const i = this.#faults.findIndex((f) => f.op === op || (f.op === 'any' && RESPONSE_FAULTS.has(f.fault.type)));
    if (i < 0) return null;
    const armed = this.#faults[i];
    if (!armed) return null;
    armed.remaining -= 1;
    if (armed.remaining <= 0) this.#faults.splice(i, 1);
    return armed.fault;
  }

  isUnregistered(chatIdOrPhone: string): boolean {
    return this.#unregistered.has(digitsOf(chatIdOrPhone.split('@')[0] ?? ''));
  }

  createSession(name: string, config: Record<string, unknown> | undefined): SimSession {
    this.addSession(name, { status: 'STOPPED', paired: false, config });
    const s = this.#sessions.get(name);
    if (!s) throw new Error('unreachable');
    return s;
  }

  updateConfig(name: string, config: Record<string, unknown>): void {
    this.#applyConfig(name, config);
  }

  #applyConfig(name: string, config: Record<string, unknown>): void {
    const s = this.#sessions.get(name);
    if (!s) return;
    const parsed = sessionConfigSchema.parse(config);
    s.config = config;
    s.webhooks = (parsed.webhooks ?? []).map((w) => ({ ...w }));
  }

  /** STARTING, then WORKING or SCAN_QR_CODE after startDelayMs. */
  start(name: string): void {
    const s = this.#sessions.get(name);
    if (!s) return;
    this.setSessionStatus(name, 'STARTING');
    this.#later(this.startDelayMs, () => {
      if (s.status === 'STARTING') this.setSessionStatus(name, s.paired ? 'WORKING' : 'SCAN_QR_CODE');
    });
  }

  /** Mirrors WAHA's wait for a session that is still starting before it answers 422. */
  async waitForWorking(s: SimSession): Promise<void> {
    const deadline = Date.now() + this.notWorkingWaitMs;
    while (s.status === 'STARTING' && Date.now() < deadline) await sleep(10);
  }

  /** Stores a sent message unless this chat already holds the same key id (a resend with a reserved id). */
  storeSent(session: SimSession, chatId: string, text: string, requestedId: string | null): { msg: SimMessage; duplicate: boolean } {
    const keyId = this.engine !== 'WEBJS' && requestedId ? requestedId : newKeyId(this.engine);
    const existing = this.#chats.get(session.name)?.get(chatId)?.find((m) => m.keyId === keyId && m.fromMe);
    if (existing) return { msg: existing, duplicate: true };
    const msg: SimMessage = {
      id: `true_${chatId}_${keyId}`, keyId, session: session.name, chatId, fromMe: true, body: text,
      timestamp: Math.floor(Date.now() / 1000), ack: 0, source: 'api',
    };
    this.#store(msg);
    return { msg, duplicate: false };
  }

  #store(msg: SimMessage): void {
    let chats = this.#chats.get(msg.session);
    if (!chats) this.#chats.set(msg.session, (chats = new Map()));
    const list = chats.get(msg.chatId) ?? [];
    list.push(msg);
    chats.set(msg.chatId, list);
  }

  /**
   * After a send: the `message.any` echo at once, then the acks. An unregistered number never gets
   * past SERVER, which is how WhatsApp behaves for numbers without an account.
   */
  async afterSend(session: SimSession, msg: SimMessage, fault: SimFault | null): Promise<void> {
    const duplicate = fault?.type === 'duplicate_webhooks';
    void this.#emit(session, 'message.any', this.waMessage(session, msg), duplicate);
    let levels: number[] = [1, 2, 3];
    if (this.isUnregistered(msg.chatId)) levels = [1];
    if (fault?.type === 'missing_acks') levels = levels.slice(0, fault.upTo ?? 0);
    if (fault?.type === 'ack_error') levels = [1, -1];
    let chain: Promise<void> = Promise.resolve();
    const fire = (ack: number) => {
      chain = chain.then(() => this.#ack(session, msg, ack, duplicate));
      void this.#track(chain);
      return chain;
    };
    if (fault?.type === 'ack_before_response' && levels[0] === 1) {
      levels = levels.slice(1);
      await fire(1);
    }
    const [d1, d2, d3] = this.ackDelaysMs;
    const offsets: Record<string, number> = { '1': d1, '2': d2, '3': d3, '-1': d2 };
    for (const ack of levels) this.#later(offsets[String(ack)] ?? d3, () => void fire(ack));
  }

  async #ack(session: SimSession, msg: SimMessage, ack: number, duplicate: boolean): Promise<void> {
    // Never lower a status, except that ERROR may follow SERVER.
    if (ack !== -1 && ack <= msg.ack) return;
    msg.ack = ack;
    // WEBJS only reports acks with tagsEventsOn; a product that forgets to turn it on sees none.
    if (this.engine === 'WEBJS' && !this.#tagsEventsOn(session)) return;
    await this.#emit(session, 'message.ack', {
      id: msg.id, from: session.me.id, to: msg.chatId, fromMe: true, ack, ackName: ACK_NAMES[ack] ?? 'UNKNOWN', _data: {},
    }, duplicate);
  }

  #tagsEventsOn(session: SimSession): boolean {
    const webjs = session.config.webjs;
    return typeof webjs === 'object' && webjs !== null && (webjs as { tagsEventsOn?: unknown }).tagsEventsOn === true;
  }

  /** A message as WAHA's WAMessage (lookups, listings, message events). */
  waMessage(session: SimSession, msg: SimMessage): Record<string, unknown> {
    return {
      id: msg.id,
      timestamp: msg.timestamp,
      from: msg.fromMe ? session.me.id : msg.chatId,
      fromMe: msg.fromMe,
      ...(msg.fromMe ? { source: msg.source } : {}),
      to: msg.fromMe ? msg.chatId : session.me.id,
      body: msg.body,
      hasMedia: false,
      ack: msg.ack,
      ackName: ACK_NAMES[msg.ack] ?? 'UNKNOWN',
      _data: {},
    };
  }

  /** The engine's own 201 body for a sent message. */
  sendResponse(session: SimSession, msg: SimMessage): Record<string, unknown> {
    switch (this.engine) {
      case 'WEBJS': {
        const id = { fromMe: true, remote: msg.chatId, id: msg.keyId, _serialized: msg.id };
        return {
          _data: { id, body: msg.body, type: 'chat', t: msg.timestamp, from: session.me.id, to: msg.chatId, ack: 0 },
          id, ack: 0, hasMedia: false, body: msg.body, type: 'chat', timestamp: msg.timestamp, from: session.me.id,
          to: msg.chatId, deviceType: 'web', isForwarded: false, forwardingScore: 0, isStatus: false, isStarred: false,
          fromMe: true, hasQuotedMsg: false, hasReaction: false, vCards: [], mentionedIds: [], links: [],
        };
      }
      case 'NOWEB':
        return {
          key: { remoteJid: toJid(msg.chatId), fromMe: true, id: msg.keyId },
          message: { extendedTextMessage: { text: msg.body } },
          messageTimestamp: String(msg.timestamp),
          status: 'PENDING',
        };
      case 'GOWS':
        return {
          id: msg.id,
          _data: {
            Info: { ID: msg.keyId, Chat: toJid(msg.chatId), IsFromMe: true, Timestamp: new Date(msg.timestamp * 1000).toISOString() },
            Message: { conversation: msg.body },
          },
        };
    }
  }

  environment(): Record<string, unknown> {
    return {
      version: `${WAHA_VERSION}-sim`, engine: this.engine, tier: 'CORE',
      browser: this.engine === 'WEBJS' ? '/usr/bin/chromium' : '', platform: `${process.platform}/${process.arch}`,
      worker: { id: null },
    };
  }

  #later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#closed) fn();
    }, ms);
    this.#timers.add(t);
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p)).catch(() => undefined);
    return p;
  }

  /** Delivers one event to every subscribed webhook; `duplicate` sends the same envelope twice. */
  #emit(session: SimSession, event: string, payload: Record<string, unknown>, duplicate = false): Promise<void> {
    const hooks = session.webhooks.filter((h) => h.events.includes(event) || h.events.includes('*'));
    const deliveries = hooks.map(async (hook) => {
      const envelope = {
        id: `evt_${ulid().toLowerCase()}`,
        timestamp: Date.now(),
        event,
        session: session.name,
        metadata: (session.config.metadata as Record<string, unknown> | undefined) ?? {},
        me: session.me,
        payload,
        engine: this.engine,
        environment: this.environment(),
      };
      const body = JSON.stringify(envelope);
      for (let copy = 0; copy < (duplicate ? 2 : 1); copy++) await this.#post(hook, event, envelope, body);
    });
    return this.#track(Promise.all(deliveries).then(() => undefined));
  }

  async #post(hook: WebhookConfig, event: string, envelope: Record<string, unknown> & { id: string }, body: string): Promise<void> {
    const attempts = 1 + Math.max(0, Math.min(hook.retries?.attempts ?? 0, 20));
    for (let attempt = 1; attempt <= attempts && !this.#closed; attempt++) {
      const requestId = `req_${ulid().toLowerCase()}`;
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'x-webhook-request-id': requestId,
        'x-webhook-timestamp': String(Date.now()),
      };
      const key = hook.hmac?.key;
      if (key) {
        headers['x-webhook-hmac'] = signWebhook(body, key);
        headers['x-webhook-hmac-algorithm'] = 'sha512';
      }
      for (const h of hook.customHeaders ?? []) headers[h.name] = h.value;
      const record: SimWebhookDelivery = { at: Date.now(), url: hook.url, event, envelopeId: envelope.id, requestId, attempt, status: null, error: null, envelope };
      this.webhooks.push(record);
      try {
        const res = await fetch(hook.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(5_000) });
        record.status = res.status;
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
      } catch (err) {
        record.error = err instanceof Error ? err.message : String(err);
      }
      if (attempt < attempts) {
        const base = this.webhookRetryDelayMs;
        const policy = hook.retries?.policy ?? 'linear';
        const delay = policy === 'exponential' ? base * 2 ** (attempt - 1) : policy === 'linear' ? base * attempt : base;
        await sleep(Math.min(delay, 1_000));
      }
    }
  }
}

// ---- HTTP ------------------------------------------------------------------------------------

type Env = { Bindings: HttpBindings };
type Ctx = Context<Env>;

function notFoundSession(name: string) {
  return {
    statusCode: 404,
    message: `We didn't find a session with name '${name}'. Please start it first by using POST /api/sessions/${name}/start request`,
    error: 'Not Found',
  };
}

function notExpected(name: string, status: string, expected: string[]) {
  return { error: 'Session status is not as expected. Try again later or restart the session', session: name, status, expected };
}

function serverError(c: Ctx, message: string, body: unknown, engine: SimEngine) {
  // Shaped like WAHA's: the request body (the buyer's message) is echoed back, which is why the
  // client must redact it.
  return c.json({
    statusCode: 500,
    timestamp: new Date().toISOString(),
    exception: { message, name: 'Error', stack: `Error: ${message}\n    at WhatsappSession${engine}.sendText (/app/dist/core/engines/session.js:1:1)` },
    request: { path: c.req.path, method: c.req.method, body, query: c.req.query() },
    version: { version: WAHA_VERSION, engine, tier: 'CORE', browser: null },
  }, 500);
}

/** Answers 401/404/422/500 for a response fault; null when the fault is not one of those. */
function responseFault(c: Ctx, state: WahaSimState, fault: SimFault | null, sessionName: string, body: unknown): Response | null {
  if (!fault) return null;
  switch (fault.type) {
    case 'unauthorized': return c.json({ message: 'Unauthorized', statusCode: 401 }, 401);
    case 'session_not_found': return c.json(notFoundSession(sessionName), 404);
    case 'not_working': return c.json(notExpected(sessionName, fault.status ?? 'STARTING', ['WORKING']), 422);
    case 'server_error': return serverError(c, 'Protocol error (Runtime.callFunctionOn): Target closed.', body, state.engine);
    default: return null;
  }
}

/** 404 for an unknown or stopped session, 422 unless WORKING; null when the session can serve. */
async function sessionGate(c: Ctx, state: WahaSimState, name: string, expected: SimSessionStatus = 'WORKING'): Promise<{ error: Response } | { session: SimSession }> {
  const s = state.session(name);
  if (!s || s.status === 'STOPPED') return { error: c.json(notFoundSession(name), 404) };
  if (s.status !== expected) await state.waitForWorking(s);
  if (s.status !== expected) return { error: c.json(notExpected(name, s.status, [expected]), 422) };
  return { session: s };
}

async function jsonBody(c: Ctx): Promise<{ ok: true; value: unknown } | { ok: false; res: Response }> {
  try {
    return { ok: true, value: (await c.req.json()) as unknown };
  } catch {
    return { ok: false, res: c.json(badRequest(['body must be JSON']), 400) };
  }
}

function sessionInfo(state: WahaSimState, s: SimSession) {
  return {
    name: s.name,
    status: s.status,
    config: s.config,
    // WAHA knows the account only once paired and running.
    ...(s.status === 'WORKING' ? { me: s.me } : {}),
    assignedWorker: '',
    presence: {},
    timestamps: { activity: Date.now() },
    engine: { engine: state.engine },
  };
}

function sessionDto(s: SimSession) {
  return { name: s.name, status: s.status, config: s.config };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] ?? ch);
}

const TICKS: Record<string, { mark: string; label: string; cls: string }> = {
  '-1': { mark: '⚠', label: 'Ошибка', cls: 'err' },
  '0': { mark: '🕓', label: 'Ожидает отправки', cls: 'pending' },
  '1': { mark: '✓', label: 'Отправлено', cls: 'sent' },
  '2': { mark: '✓✓', label: 'Доставлено', cls: 'delivered' },
  '3': { mark: '✓✓', label: 'Прочитано', cls: 'read' },
  '4': { mark: '✓✓', label: 'Прослушано', cls: 'read' },
};

function chatsPage(state: WahaSimState): string {
  const time = (sec: number) => new Date(sec * 1000).toLocaleString('ru-RU', { timeZone: 'Asia/Almaty', hour: '2-digit', minute: '2-digit', day: '2-digit', month: '2-digit' });
  const sessions = state.sessionsList().map((s) => `<li>Сессия <b>${escapeHtml(s.name)}</b>: ${escapeHtml(s.status)}${
    s.status === 'SCAN_QR_CODE'
      ? ` <form method="post" action="/_sim/sessions/${encodeURIComponent(s.name)}/scan?redirect=1"><button>Отсканировать QR (симуляция)</button></form>`
      : ''}</li>`).join('');
  const chats = state.allChats().map(({ session, chatId, messages }) => {
    const bubbles = messages.map((m) => {
      const tick = m.fromMe ? TICKS[String(m.ack)] : undefined;
      return `<div class="msg ${m.fromMe ? 'out' : 'in'}" data-id="${escapeHtml(m.id)}"><div class="text">${escapeHtml(m.body)}</div><div class="meta">${time(m.timestamp)}${
        tick ? ` <span class="tick ${tick.cls}" title="${tick.label}">${tick.mark}</span>` : ''}</div></div>`;
    }).join('');
    return `<section class="chat"><h2>Чат с +${escapeHtml(chatId.split('@')[0] ?? chatId)} <small>(сессия ${escapeHtml(session)})</small></h2>${bubbles}</section>`;
  }).join('');
  return `<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>WAHA-симулятор — чаты</title>
<style>
body{font-family:system-ui,sans-serif;background:#efeae2;margin:0;padding:1rem}
h1{font-size:1.2rem} h2{font-size:1rem;margin:.5rem 0} form{display:inline}
.chat{background:#fff8;border-radius:8px;padding:.5rem 1rem;margin-bottom:1rem;max-width:40rem;display:flex;flex-direction:column}
.msg{max-width:80%;padding:.4rem .6rem;border-radius:8px;margin:.2rem 0;box-shadow:0 1px 1px #0002}
.out{align-self:flex-end;background:#d9fdd3}.in{align-self:flex-start;background:#fff}
.text{white-space:pre-wrap}.meta{font-size:.75rem;color:#667;text-align:right}
.tick.read{color:#53bdeb}.tick.err{color:#d33}
</style></head><body>
<h1>WAHA-симулятор (${escapeHtml(state.engine)}) — чаты глазами покупателя</h1>
<ul>${sessions}</ul>
${chats || '<p>Сообщений пока нет.</p>'}
</body></html>`;
}

const controlFaultSchema = z.object({ times: z.number().int().min(1).optional(), op: z.enum(SIM_OPS).optional() }).loose();

export function createWahaSimulatorApp(state: WahaSimState): Hono<Env> {
  const app = new Hono<Env>();

  // Request log (API calls only) for assertions.
  app.use('/api/*', async (c, next) => {
    let body: unknown = null;
    if (c.req.method !== 'GET') {
      const raw = await c.req.raw.clone().text();
      try {
        body = raw === '' ? null : (JSON.parse(raw) as unknown);
      } catch {
        body = raw;
      }
    }
    const entry: SimRequest = { at: Date.now(), method: c.req.method, path: c.req.path, query: c.req.query(), status: 0, apiKey: c.req.header('x-api-key') ?? null, body };
    state.requests.push(entry);
    await next();
    entry.status = c.res.status;
  });

  app.use('/api/*', async (c, next) => {
    if (state.apiKey !== null && c.req.header('x-api-key') !== state.apiKey) {
      return c.json({ message: 'Unauthorized', statusCode: 401 }, 401);
    }
    await next();
  });

  app.post('/api/sendText', async (c) => {
    const raw = await jsonBody(c);
    if (!raw.ok) return raw.res;
    const parsed = sendTextSchema.safeParse(raw.value);
    if (!parsed.success) return c.json(badRequest(zodMessages(parsed.error)), 400);
    const req = parsed.data;
    const fault = state.takeFault('sendText');
    const early = responseFault(c, state, fault, req.session, raw.value);
    if (early) return early;
    const gate = await sessionGate(c, state, req.session);
    if ('error' in gate) return gate.error;
    const session = gate.session;
    if (fault?.type === 'refused_463') {
      return serverError(c, `Failed to send message to ${req.chatId}: server returned error 463`, raw.value, state.engine);
    }
    const { msg, duplicate } = state.storeSent(session, req.chatId, req.text, req.id ?? null);
    if (!duplicate) await state.afterSend(session, msg, fault);
    if (fault?.type === 'slow_500_after_send') {
      await sleep(fault.delayMs ?? 2_000);
      return serverError(c, `Evaluation failed: timeout while sending to ${req.chatId}`, raw.value, state.engine);
    }
    if (fault?.type === 'reset_after_send') {
      c.env?.incoming?.socket.destroy();
      return c.body(null, 500);
    }
    if (fault?.type === 'empty_201') return c.body(null, 201);
    return c.json(state.sendResponse(session, msg), 201);
  });

  app.get('/api/contacts/check-exists', async (c) => {
    const phone = c.req.query('phone');
    const sessionName = c.req.query('session') ?? 'default';
    if (!phone) return c.json(badRequest(['phone should not be empty']), 400);
    const early = responseFault(c, state, state.takeFault('checkExists'), sessionName, null);
    if (early) return early;
    const gate = await sessionGate(c, state, sessionName);
    if ('error' in gate) return gate.error;
    const digits = digitsOf(phone);
    if (digits.length < 7 || state.isUnregistered(digits)) return c.json({ numberExists: false });
    return c.json({ numberExists: true, chatId: `${digits}@c.us` });
  });

  app.get('/api/:session/new-message-id', async (c) => {
    const name = c.req.param('session');
    const early = responseFault(c, state, state.takeFault('newMessageId'), name, null);
    if (early) return early;
    const gate = await sessionGate(c, state, name);
    if ('error' in gate) return gate.error;
    if (state.engine === 'WEBJS') {
      return c.json({ statusCode: 404, message: `The method is not available for the ${state.engine} engine`, error: 'Not Found' }, 404);
    }
    return c.json({ id: newKeyId(state.engine) });
  });

  app.get('/api/:session/chats/:chatId/messages/:messageId', async (c) => {
    const name = c.req.param('session');
    const early = responseFault(c, state, state.takeFault('getMessage'), name, null);
    if (early) return early;
    const gate = await sessionGate(c, state, name);
    if ('error' in gate) return gate.error;
    const chatId = toChatId(c.req.param('chatId'));
    const messageId = c.req.param('messageId');
    const msg = state.messages(chatId, name).find((m) => m.id === messageId || `${m.fromMe}_${chatId}_${m.keyId}` === messageId);
    if (!msg) return c.json({ statusCode: 404, message: 'Message not found', error: 'Not Found' }, 404);
    return c.json(state.waMessage(gate.session, msg));
  });

  app.get('/api/:session/chats/:chatId/messages', async (c) => {
    const name = c.req.param('session');
    const early = responseFault(c, state, state.takeFault('listMessages'), name, null);
    if (early) return early;
    const gate = await sessionGate(c, state, name);
    if ('error' in gate) return gate.error;
    const q = z.object({
      limit: z.coerce.number().int().min(1).max(1000).default(10),
      offset: z.coerce.number().int().min(0).default(0),
      'filter.fromMe': z.enum(['true', 'false']).optional(),
      'filter.timestamp.gte': z.coerce.number().optional(),
      'filter.timestamp.lte': z.coerce.number().optional(),
      sortOrder: z.enum(['asc', 'desc']).default('desc'),
    }).safeParse(c.req.query());
    if (!q.success) return c.json(badRequest(zodMessages(q.error)), 400);
    const f = q.data;
    let list = state.messages(toChatId(c.req.param('chatId')), name)
      .filter((m) => f['filter.fromMe'] === undefined || String(m.fromMe) === f['filter.fromMe'])
      .filter((m) => f['filter.timestamp.gte'] === undefined || m.timestamp >= f['filter.timestamp.gte'])
      .filter((m) => f['filter.timestamp.lte'] === undefined || m.timestamp <= f['filter.timestamp.lte']);
    list = f.sortOrder === 'asc' ? list : list.reverse();
    return c.json(list.slice(f.offset, f.offset + f.limit).map((m) => state.waMessage(gate.session, m)));
  });

  app.get('/api/sessions', (c) => {
    const early = responseFault(c, state, state.takeFault('listSessions'), 'default', null);
    if (early) return early;
    const all = c.req.query('all') === 'true';
    return c.json(state.sessionNames().map((n) => state.session(n)).filter((s): s is SimSession => !!s && (all || s.status !== 'STOPPED')).map((s) => sessionInfo(state, s)));
  });

  app.post('/api/sessions', async (c) => {
    const raw = await jsonBody(c);
    if (!raw.ok) return raw.res;
    const parsed = sessionCreateSchema.safeParse(raw.value);
    if (!parsed.success) return c.json(badRequest(zodMessages(parsed.error)), 400);
    const early = responseFault(c, state, state.takeFault('createSession'), parsed.data.name, null);
    if (early) return early;
    if (state.session(parsed.data.name)) {
      return c.json({ statusCode: 422, message: `Session '${parsed.data.name}' already exists. Use PUT to update it.`, error: 'Unprocessable Entity' }, 422);
    }
    const s = state.createSession(parsed.data.name, parsed.data.config);
    if (parsed.data.start) state.start(s.name);
    return c.json(sessionDto(s), 201);
  });

  app.get('/api/sessions/:session', (c) => {
    const name = c.req.param('session');
    const early = responseFault(c, state, state.takeFault('getSession'), name, null);
    if (early) return early;
    const s = state.session(name);
    if (!s) return c.json(notFoundSession(name), 404);
    return c.json(sessionInfo(state, s));
  });

  app.put('/api/sessions/:session', async (c) => {
    const name = c.req.param('session');
    const raw = await jsonBody(c);
    if (!raw.ok) return raw.res;
    const parsed = sessionUpdateSchema.safeParse(raw.value);
    if (!parsed.success) return c.json(badRequest(zodMessages(parsed.error)), 400);
    const early = responseFault(c, state, state.takeFault('updateSession'), name, null);
    if (early) return early;
    const s = state.session(name);
    if (!s) return c.json(notFoundSession(name), 404);
    state.updateConfig(name, parsed.data.config ?? {});
    // WAHA restarts a running session to apply a new config.
    if (s.status !== 'STOPPED') state.start(name);
    return c.json(sessionDto(s));
  });

  app.post('/api/sessions/:session/start', (c) => {
    const name = c.req.param('session');
    const early = responseFault(c, state, state.takeFault('startSession'), name, null);
    if (early) return early;
    const s = state.session(name);
    if (!s) return c.json(notFoundSession(name), 404);
    if (s.status === 'STOPPED' || s.status === 'FAILED') state.start(name);
    return c.json(sessionDto(s), 201);
  });

  app.post('/api/sessions/:session/stop', (c) => {
    const name = c.req.param('session');
    const early = responseFault(c, state, state.takeFault('stopSession'), name, null);
    if (early) return early;
    const s = state.session(name);
    if (!s) return c.json(notFoundSession(name), 404);
    state.setSessionStatus(name, 'STOPPED');
    return c.json(sessionDto(s), 201);
  });

  app.get('/api/:session/auth/qr', async (c) => {
    const name = c.req.param('session');
    const early = responseFault(c, state, state.takeFault('getQr'), name, null);
    if (early) return early;
    const format = c.req.query('format') ?? 'image';
    if (format !== 'image' && format !== 'raw') return c.json(badRequest(['format must be one of the following values: image, raw']), 400);
    const gate = await sessionGate(c, state, name, 'SCAN_QR_CODE');
    if ('error' in gate) return gate.error;
    // A fresh value each time, like WhatsApp's rotating pairing codes.
    const value = `2@${randomBytes(24).toString('base64')},${randomBytes(16).toString('base64')},${Date.now()}`;
    if (format === 'raw') return c.json({ value });
    const png = await QRCode.toBuffer(value, { type: 'png', margin: 2, width: 264 });
    if ((c.req.header('accept') ?? '').includes('application/json')) return c.json({ mimetype: 'image/png', data: png.toString('base64') });
    return c.body(new Uint8Array(png), 200, { 'content-type': 'image/png' });
  });

  // ---- simulator control (no API key: these do not exist on a real WAHA) ---------------------

  app.get('/_sim/chats', (c) => c.html(chatsPage(state)));
  app.get('/_sim/chats.json', (c) => c.json(state.allChats()));
  app.get('/_sim/state', (c) => c.json({ engine: state.engine, sessions: state.sessionsList(), faults: state.pendingFaults() }));
  app.get('/_sim/requests', (c) => c.json(state.requests));
  app.get('/_sim/webhooks', (c) => c.json(state.webhooks));
  app.delete('/_sim/requests', (c) => {
    state.clearLogs();
    return c.body(null, 204);
  });

  app.post('/_sim/faults', async (c) => {
    const raw = await jsonBody(c);
    if (!raw.ok) return raw.res;
    const opts = controlFaultSchema.safeParse(raw.value);
    const fault = faultSchema.safeParse(raw.value);
    if (!opts.success || !fault.success) return c.json(badRequest(zodMessages((fault.error ?? opts.error) as z.ZodError)), 400);
    try {
      state.injectFault(fault.data, { times: opts.data.times, op: opts.data.op });
    } catch (err) {
      return c.json(badRequest([err instanceof Error ? err.message : String(err)]), 400);
    }
    return c.json({ faults: state.pendingFaults() }, 201);
  });
  app.delete('/_sim/faults', (c) => {
    state.clearFaults();
    return c.body(null, 204);
  });

  app.post('/_sim/sessions/:session/status', async (c) => {
    const raw = await jsonBody(c);
    if (!raw.ok) return raw.res;
    const parsed = z.object({ status: z.enum(SIM_SESSION_STATUSES) }).safeParse(raw.value);
    if (!parsed.success) return c.json(badRequest(zodMessages(parsed.error)), 400);
    const name = c.req.param('session');
    if (!state.session(name)) state.addSession(name, { status: 'STOPPED' });
    state.setSessionStatus(name, parsed.data.status);
    return c.json({ name, status: parsed.data.status });
  });

  app.post('/_sim/sessions/:session/scan', (c) => {
    const name = c.req.param('session');
    if (!state.session(name)) return c.json(notFoundSession(name), 404);
    state.scanQr(name);
    if (c.req.query('redirect')) return c.redirect('/_sim/chats', 303);
    return c.json({ name, status: state.sessionStatus(name) });
  });

  app.post('/_sim/messages/incoming', async (c) => {
    const raw = await jsonBody(c);
    if (!raw.ok) return raw.res;
    const parsed = z.object({ from: z.string().min(5), body: z.string().min(1), session: z.string().optional() }).safeParse(raw.value);
    if (!parsed.success) return c.json(badRequest(zodMessages(parsed.error)), 400);
    try {
      return c.json(state.receiveMessage(parsed.data.from, parsed.data.body, { session: parsed.data.session }), 201);
    } catch (err) {
      return c.json(badRequest([err instanceof Error ? err.message : String(err)]), 400);
    }
  });

  app.post('/_sim/unregistered', async (c) => {
    const raw = await jsonBody(c);
    if (!raw.ok) return raw.res;
    const parsed = z.object({ phone: z.string().min(5) }).safeParse(raw.value);
    if (!parsed.success) return c.json(badRequest(zodMessages(parsed.error)), 400);
    state.markUnregistered(parsed.data.phone);
    return c.body(null, 204);
  });

  app.notFound((c) => c.json({ message: `Cannot ${c.req.method} ${c.req.path}`, error: 'Not Found', statusCode: 404 }, 404));
  return app;
}

export interface WahaSimulator {
  url: string;
  state: WahaSimState;
  app: Hono<Env>;
  close(): Promise<void>;
}

/** Serves the simulator on 127.0.0.1 (port 0 = any free port). */
export async function startWahaSimulator(options: WahaSimulatorOptions): Promise<WahaSimulator> {
  const state = new WahaSimState(options);
  const app = createWahaSimulatorApp(state);
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: '127.0.0.1' }, (info: AddressInfo) => resolve({ server, port: info.port }));
    server.once('error', reject);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    app,
    close: () => new Promise<void>((resolve) => {
      state.close();
      // Slow faults keep sockets open; a test's teardown must not wait for them.
      if ('closeAllConnections' in server && typeof server.closeAllConnections === 'function') server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

// Manual runs: `tsx simulators/waha/server.ts --engine NOWEB --port 3100 --api-key secret`.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { engine: { type: 'string', default: 'NOWEB' }, port: { type: 'string', default: '3100' }, 'api-key': { type: 'string' } } });
  const engine = z.enum(['WEBJS', 'NOWEB', 'GOWS']).parse(values.engine);
  const sim = await startWahaSimulator({ engine, port: Number(values.port), apiKey: values['api-key'] ?? null });
  process.stderr.write(`WAHA simulator (${engine}) on ${sim.url}; chats: ${sim.url}/_sim/chats\n`);
}
