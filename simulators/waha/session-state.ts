import { ulid } from 'ulid';
import { z } from 'zod';
import {
  digitsOf, environment, isLid, meInfo, newKeyId, newLid, sendResponse, toChatId, toJid, waMessage, ackName,
  type SimBuild, type SimEngine, type SimMe, type SimMedia,
  type MessageView,
} from './engines.ts';
import { WebhookDispatcher, type SimWebhookDelivery, type WebhookConfig } from './webhooks.ts';

/**
 * The simulator's world: sessions with their status and config, chats and messages, buyers' LIDs,
 * armed faults and stalled receipts. Webhooks go out through the WebhookDispatcher.
 */

// src/structures/enums.dto.ts (WAHASessionStatus) plus the PASSKEY_* states of the 2026 OpenAPI
// (SessionStatusPoint). WAHA may add more: any other string is carried as is.
export const SIM_SESSION_STATUSES = [
  'STOPPED', 'STARTING', 'SCAN_QR_CODE', 'PASSKEY_REQUIRED', 'PASSKEY_CONFIRMATION_REQUIRED', 'WORKING', 'FAILED',
] as const;
export type KnownSessionStatus = (typeof SIM_SESSION_STATUSES)[number];
export type SimSessionStatus = KnownSessionStatus | (string & {});

export const SIM_OPS = [
  'sendText', 'sendImage', 'sendFile', 'checkExists', 'newMessageId', 'getMessage', 'listMessages', 'listChats', 'getLid', 'getSession', 'listSessions',
  'createSession', 'updateSession', 'startSession', 'stopSession', 'getQr', 'any',
] as const;
export type SimOp = (typeof SIM_OPS)[number];

const ackValue = z.number().int().min(-1).max(4);

export const faultSchema = z.discriminatedUnion('type', [
  /** 422: the session is reported as not WORKING (optionally with this status). */
  z.object({ type: z.literal('not_working'), status: z.string().min(1).optional() }),
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
  /** Acks stop after level `upTo` (0 = none at all: the message stays PENDING, no ack webhook). */
  z.object({ type: z.literal('missing_acks'), upTo: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional() }),
  /** SERVER, then ERROR. */
  z.object({ type: z.literal('ack_error') }),
  /** The SERVER ack webhook is delivered before the 201 answer leaves. */
  z.object({ type: z.literal('ack_before_response') }),
  /** Exactly this sequence of message.ack webhooks (repeats and disorder allowed), as WhatsApp sends them. */
  z.object({ type: z.literal('acks'), sequence: z.array(ackValue).max(50) }),
]);
export type SimFault = z.infer<typeof faultSchema>;
type FaultType = SimFault['type'];

// Faults that shape the answer of any operation; the rest only make sense for a send.
const RESPONSE_FAULTS: ReadonlySet<FaultType> = new Set(['not_working', 'session_not_found', 'unauthorized', 'server_error']);
/** The operations that put a message into a chat: the send-only faults apply to each. */
export const SEND_OPS: ReadonlySet<SimOp> = new Set(['sendText', 'sendImage', 'sendFile']);

export interface InjectOptions {
  /** How many matching requests the fault applies to (default 1). */
  times?: number;
  /** Which operation consumes it (default sendText). Only response faults may target operations that do not send. */
  op?: SimOp;
}

interface ArmedFault {
  fault: SimFault;
  op: SimOp;
  remaining: number;
}

/** A stored message: what an engine renders, plus the session it belongs to. */
export interface SimMessage extends MessageView {
  session: string;
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

export type { SimWebhookDelivery };

export interface SimSession {
  name: string;
  status: SimSessionStatus;
  /** Whether a phone is linked: a start ends in WORKING when paired, SCAN_QR_CODE otherwise. */
  paired: boolean;
  config: Record<string, unknown>;
  webhooks: WebhookConfig[];
  me: SimMe;
  statuses: { status: SimSessionStatus; timestamp: number }[];
  /** NOWEB: whether the running session was started with `config.noweb.store.enabled`. */
  storeEnabled: boolean;
  /** Receipts stopped (devlikeapro/waha#1721): acks above PENDING are held back. */
  acksStalled: boolean;
  heldAcks: { msg: SimMessage; ack: number; duplicate: boolean }[];
}

export interface SimLid {
  /** `245896994390182@lid` */
  lid: string;
  /** Digits only. */
  phone: string;
  /** GET /lids/{lid} knows the number (false → `pn: null`, devlikeapro/waha#1097, #1712). */
  pnByLid: boolean;
  /** GET /lids/pn/{phone} knows the LID. */
  lidByPn: boolean;
  /** NOWEB payloads carry `_data.key.remoteJidAlt` / `senderPn`. */
  remoteJidAlt: boolean;
}

export interface SetLidOptions {
  lid?: string;
  pnByLid?: boolean;
  lidByPn?: boolean;
  remoteJidAlt?: boolean;
}

export interface WahaSimulatorOptions {
  port?: number;
  apiKey?: string | null;
  engine: SimEngine;
  /** Sessions at start; default one paired WORKING session named "default". */
  sessions?: { name: string; status?: SimSessionStatus; paired?: boolean; me?: { id: string; pushName: string; lid?: string }; config?: Record<string, unknown> }[];
  /** Offsets from the send at which acks 1, 2, 3 fire (PENDING goes at once). */
  ackDelaysMs?: [number, number, number];
  /** STARTING lasts this long before WORKING / SCAN_QR_CODE. */
  startDelayMs?: number;
  /** Real milliseconds one WAHA second lasts (default 1000): scales retry delays and the STARTING wait. */
  secondMs?: number;
  /** Overrides the base delay of webhook retries (instead of `retries.delaySeconds × secondMs`). */
  webhookRetryDelayMs?: number;
  /** WAHA waits up to 5 s for a STARTING session before answering 422; default 5 × secondMs. */
  notWorkingWaitMs?: number;
  /** Which WAHA: `current` (2026.7.1, media in Core) or `core-before-2026.6` (media answers 422). */
  build?: SimBuild;
  /**
   * Fetch the first link of a text before sending it, as WAHA does to build its preview
   * (`linkPreview`, default true in sendText). Off by default; only loopback URLs are fetched, and
   * no redirect is followed: the simulator never reaches outside this machine.
   */
  linkPreviews?: boolean;
}

const webhookConfigSchema = z.object({
  url: z.url(),
  events: z.array(z.string().min(1)).min(1),
  hmac: z.object({ key: z.string().nullish() }).nullish(),
  retries: z.object({ delaySeconds: z.number().min(0).optional(), attempts: z.number().int().min(0).optional(), policy: z.enum(['linear', 'exponential', 'constant']).optional() }).nullish(),
  customHeaders: z.array(z.object({ name: z.string().min(1), value: z.string() })).nullish(),
});
export const sessionConfigSchema = z.looseObject({
  webhooks: z.array(webhookConfigSchema).optional(),
  webjs: z.looseObject({ tagsEventsOn: z.boolean().optional() }).nullish(),
  // NowebConfig / NowebStoreConfig in the OpenAPI: `fullSync` is the key; the error text says full_sync.
  noweb: z.looseObject({
    markOnline: z.boolean().optional(),
    store: z.looseObject({ enabled: z.boolean().optional(), fullSync: z.boolean().optional(), full_sync: z.boolean().optional() }).nullish(),
  }).nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class WahaSimState {
  readonly engine: SimEngine;
  readonly build: SimBuild;
  /** Where this simulator is reached (set once it listens): events point `media.url` at it. */
  baseUrl: string | null = null;
  apiKey: string | null;
  ackDelaysMs: [number, number, number];
  startDelayMs: number;
  readonly secondMs: number;
  /** Base retry delay override, or null for WAHA's `delaySeconds × secondMs`. */
  readonly webhookRetryDelayMs: number | null;
  notWorkingWaitMs: number;
  readonly requests: SimRequest[] = [];
  readonly webhooks: SimWebhookDelivery[];
  readonly #dispatcher: WebhookDispatcher;
  readonly #sessions = new Map<string, SimSession>();
  readonly #chats = new Map<string, Map<string, SimMessage[]>>();
  readonly #unregistered = new Set<string>();
  readonly #lids = new Map<string, SimLid>();
  readonly #lidByPhone = new Map<string, string>();
  /** The files of sent media messages, by session and message id. */
  readonly #mediaBytes = new Map<string, Buffer>();
  /** Buyers (digits) whose WhatsApp has read receipts turned off: our messages never show READ. */
  readonly #noReadReceipts = new Set<string>();
  readonly linkPreviews: boolean;
  /** The preview fetches made, in order (for tests: they come before the message exists). */
  readonly previewFetches: { url: string; at: number; status: number | null }[] = [];
  #faults: ArmedFault[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inflight = new Set<Promise<unknown>>();
  #closed = false;

  constructor(options: WahaSimulatorOptions) {
    this.engine = options.engine;
    this.build = options.build ?? 'current';
    this.linkPreviews = options.linkPreviews ?? false;
    this.apiKey = options.apiKey ?? null;
    this.ackDelaysMs = options.ackDelaysMs ?? [50, 100, 150];
    this.startDelayMs = options.startDelayMs ?? 20;
    this.secondMs = options.secondMs ?? 1000;
    this.webhookRetryDelayMs = options.webhookRetryDelayMs ?? null;
    // src/nestjs/pipes/SessionPipe.ts (WorkingSessionPipe → waitUntilStatus in src/core/abc/manager.abc.ts):
    // a request to a session that is not yet WORKING waits up to 5 WAHA seconds before the 422.
    this.notWorkingWaitMs = options.notWorkingWaitMs ?? 5 * this.secondMs;
    this.#dispatcher = new WebhookDispatcher({ secondMs: this.secondMs, retryBaseMs: this.webhookRetryDelayMs });
    this.webhooks = this.#dispatcher.deliveries;
    for (const s of options.sessions ?? [{ name: 'default', status: 'WORKING' as const, paired: true }]) {
      this.addSession(s.name, { status: s.status ?? 'WORKING', paired: s.paired ?? s.status === 'WORKING', me: s.me, config: s.config });
    }
  }

  // ---- control -------------------------------------------------------------------------------

  addSession(name: string, opts: { status?: SimSessionStatus; paired?: boolean; me?: { id: string; pushName: string; lid?: string }; config?: Record<string, unknown> } = {}): void {
    const status = opts.status ?? 'STOPPED';
    this.#sessions.set(name, {
      name,
      status,
      paired: opts.paired ?? status === 'WORKING',
      config: {},
      webhooks: [],
      me: { lid: newLid(), ...(opts.me ?? { id: '77000000001@c.us', pushName: 'Магазин (симулятор)' }) },
      statuses: [{ status, timestamp: Date.now() }],
      storeEnabled: false,
      acksStalled: false,
      heldAcks: [],
    });
    if (opts.config) this.#applyConfig(name, opts.config);
    // A session added as running counts as started with its config.
    if (status !== 'STOPPED') this.#snapshotStartConfig(name);
  }

  sessionStatus(name = 'default'): SimSessionStatus | null {
    return this.#sessions.get(name)?.status ?? null;
  }

  sessionConfig(name = 'default'): Record<string, unknown> | null {
    return this.#sessions.get(name)?.config ?? null;
  }

  /** Changes the status at once and tells the webhooks, as WAHA does. Unknown statuses are carried as is. */
  setSessionStatus(name: string, status: SimSessionStatus): void {
    const s = this.#sessions.get(name);
    if (!s) throw new Error(`no simulated session '${name}'`);
    if (status === 'WORKING') s.paired = true;
    if (s.status === status) return;
    const previous = s.status;
    s.status = status;
    // The engine reads its config when it starts: STARTING, or straight to WORKING from a stop.
    if (status === 'STARTING' || (status === 'WORKING' && (previous === 'STOPPED' || previous === 'FAILED'))) this.#snapshotStartConfig(name);
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
    if (!SEND_OPS.has(op) && !RESPONSE_FAULTS.has(parsed.type)) {
      throw new Error(`fault '${parsed.type}' only applies to sends (${[...SEND_OPS].join(', ')})`);
    }
    this.#faults.push({ fault: parsed, op, remaining: Math.max(1, options.times ?? 1) });
  }

  clearFaults(): void {
    this.#faults = [];
  }

  pendingFaults(): { fault: SimFault; op: SimOp; remaining: number }[] {
    return this.#faults.map((f) => ({ ...f }));
  }

  /**
   * Registers a buyer's linked id (devlikeapro/waha#1073, #1703): returns it as `<15 digits>@lid`.
   * `pnByLid: false` → GET /lids/{lid} answers `pn: null` (#1097, #1712); `lidByPn: false` →
   * GET /lids/pn/{phone} does not know it; `remoteJidAlt: false` → NOWEB payloads lack the phone.
   */
  setLid(phone: string, opts: SetLidOptions = {}): string {
    const digits = digitsOf(phone.split('@')[0] ?? phone);
    if (digits.length < 5) throw new Error(`not a phone number: '${phone}'`);
    const given = opts.lid ? (opts.lid.includes('@') ? opts.lid : `${opts.lid}@lid`) : null;
    if (given !== null && !isLid(given)) throw new Error(`not a LID: '${opts.lid ?? ''}'`);
    const previous = this.#lidByPhone.get(digits);
    if (previous && previous !== given) this.#lids.delete(previous);
    const lid = given ?? previous ?? newLid();
    this.#lids.set(lid, { lid, phone: digits, pnByLid: opts.pnByLid ?? true, lidByPn: opts.lidByPn ?? true, remoteJidAlt: opts.remoteJidAlt ?? true });
    this.#lidByPhone.set(digits, lid);
    return lid;
  }

  lidInfo(lid: string): SimLid | null {
    const e = this.#lids.get(lid);
    return e ? { ...e } : null;
  }

  lidOfPhone(phone: string): SimLid | null {
    const lid = this.#lidByPhone.get(digitsOf(phone.split('@')[0] ?? phone));
    return lid ? this.lidInfo(lid) : null;
  }

  allLids(): SimLid[] {
    return [...this.#lids.values()].map((e) => ({ ...e }));
  }

  /**
   * Receipts stop (devlikeapro/waha#1721, #1379): the session stays WORKING and sends succeed, but
   * no ack above PENDING arrives and the stored message stays at 0. Un-stalling delivers the held
   * acks in order, as WhatsApp does once the connection recovers.
   */
  stallAcks(session: string, stalled: boolean): void {
    const s = this.#sessions.get(session);
    if (!s) throw new Error(`no simulated session '${session}'`);
    s.acksStalled = stalled;
    if (stalled) return;
    const held = s.heldAcks.splice(0);
    let chain: Promise<void> = Promise.resolve();
    for (const h of held) chain = chain.then(() => this.#ack(s, h.msg, h.ack, h.duplicate));
    void this.#track(chain);
  }

  /**
   * The buyer's privacy setting "Read receipts": when off, WhatsApp never tells the sender that a
   * message was read — acks stop at DEVICE (docs/contracts/waha.md "Acks").
   */
  setReadReceipts(phone: string, enabled: boolean): void {
    const digits = digitsOf(phone.split('@')[0] ?? phone);
    if (enabled) this.#noReadReceipts.delete(digits);
    else this.#noReadReceipts.add(digits);
  }

  /**
   * Before a text with a link goes out, WAHA fetches the link to build its preview
   * (docs/contracts/waha.md "Link previews"). Loopback URLs only, first hop only.
   */
  async fetchLinkPreview(text: string): Promise<void> {
    if (!this.linkPreviews) return;
    const url = /https?:\/\/[^\s]+/.exec(text)?.[0];
    if (!url) return;
    let host: string;
    try {
      host = new URL(url).hostname;
    } catch {
      return;
    }
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) return;
    const record = { url, at: Date.now(), status: null as number | null };
    this.previewFetches.push(record);
    try {
      const res = await fetch(url, { redirect: 'manual', headers: { 'user-agent': 'WAHA/simulator link preview' }, signal: AbortSignal.timeout(5_000) });
      record.status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch {
      // A preview that cannot be built leaves the message without one; it is still sent.
    }
  }

  /** A buyer writes to the seller: stored and delivered as `message` and `message.any`. */
  receiveMessage(from: string, body: string, options: { session?: string; viaLid?: boolean; pushName?: string } = {}): SimMessage {
    const session = this.#sessions.get(options.session ?? 'default');
    if (!session) throw new Error(`no simulated session '${options.session ?? 'default'}'`);
    let chatId = toChatId(from);
    if (options.viaLid && !isLid(chatId)) chatId = this.lidOfPhone(chatId)?.lid ?? this.setLid(chatId);
    const keyId = newKeyId(this.engine);
    const msg: SimMessage = {
      id: `false_${chatId}_${keyId}`, keyId, session: session.name, chatId, fromMe: false, body,
      timestamp: Math.floor(Date.now() / 1000), ack: 1, source: 'app',
    };
    this.#store(msg);
    const payload = this.payload(session, msg, true, options.pushName);
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

  /** Deliveries still under way, waiting retries included. */
  pendingDeliveries(): number {
    return this.#dispatcher.pending();
  }

  /** Resolves once no ack timer, status change, webhook delivery or webhook retry is pending. */
  async idle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#timers.size > 0 || this.#inflight.size > 0 || this.#dispatcher.pending() > 0) {
      if (Date.now() > deadline) throw new Error('WAHA simulator did not become idle in time');
      if (this.#inflight.size > 0) await Promise.race([Promise.allSettled([...this.#inflight]), sleep(Math.max(1, deadline - Date.now()))]);
      else await sleep(5);
    }
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#dispatcher.close();
  }

  // ---- internals used by the routes ------------------------------------------------------------

  session(name: string): SimSession | undefined {
    return this.#sessions.get(name);
  }

  sessionNames(): string[] {
    return [...this.#sessions.keys()];
  }

  /** NOWEB without a store answers 400 on every chat, message and LID read (NowebInMemoryStore). */
  hasStore(s: SimSession): boolean {
    return this.engine !== 'NOWEB' || s.storeEnabled;
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

  #snapshotStartConfig(name: string): void {
    const s = this.#sessions.get(name);
    if (!s) return;
    // src/core/engines/noweb/session.noweb.core.ts (connectStore): the store exists only when
    // `config.noweb.store.enabled` was set when the engine started; `fullSync` only shapes the sync.
    const noweb = s.config.noweb as { store?: { enabled?: unknown } | null } | null | undefined;
    s.storeEnabled = noweb?.store?.enabled === true;
  }

  /** STARTING, then WORKING or SCAN_QR_CODE after startDelayMs. */
  start(name: string): void {
    const s = this.#sessions.get(name);
    if (!s) return;
    if (s.status === 'STARTING') this.#snapshotStartConfig(name);
    this.setSessionStatus(name, 'STARTING');
    this.#later(this.startDelayMs, () => {
      if (s.status === 'STARTING') this.setSessionStatus(name, s.paired ? 'WORKING' : 'SCAN_QR_CODE');
    });
  }

  /** src/nestjs/pipes/SessionPipe.ts: WAHA waits for a STARTING session before it answers 422. */
  async waitForWorking(s: SimSession): Promise<void> {
    const deadline = Date.now() + this.notWorkingWaitMs;
    while (s.status === 'STARTING' && Date.now() < deadline && !this.#closed) await sleep(Math.min(10, this.notWorkingWaitMs));
  }

  /**
   * Stores a sent message unless this chat already holds the same key id (a resend with a reserved
   * id). A file comes with its bytes; `text` is then the caption.
   */
  storeSent(session: SimSession, chatId: string, text: string, requestedId: string | null, file?: { media: SimMedia; bytes: Buffer }): { msg: SimMessage; duplicate: boolean } {
    const keyId = this.engine !== 'WEBJS' && requestedId ? requestedId : newKeyId(this.engine);
    const existing = this.#chats.get(session.name)?.get(chatId)?.find((m) => m.keyId === keyId && m.fromMe);
    if (existing) return { msg: existing, duplicate: true };
    const msg: SimMessage = {
      id: `true_${chatId}_${keyId}`, keyId, session: session.name, chatId, fromMe: true, body: text,
      timestamp: Math.floor(Date.now() / 1000), ack: 0, source: 'api', media: file?.media ?? null,
    };
    if (file) this.#mediaBytes.set(`${session.name}/${msg.id}`, file.bytes);
    this.#store(msg);
    return { msg, duplicate: false };
  }

  /** The bytes of a sent file (the chats page and /api/files show them). */
  mediaBytes(session: string, messageId: string): Buffer | null {
    return this.#mediaBytes.get(`${session}/${messageId}`) ?? null;
  }

  #store(msg: SimMessage): void {
    let chats = this.#chats.get(msg.session);
    if (!chats) this.#chats.set(msg.session, (chats = new Map()));
    const list = chats.get(msg.chatId) ?? [];
    list.push(msg);
    chats.set(msg.chatId, list);
  }

  /** The address NOWEB puts in `_data.key.remoteJidAlt` for this chat, when WhatsApp sends one. */
  #remoteJidAlt(chatId: string): string | null {
    if (this.engine !== 'NOWEB') return null;
    if (isLid(chatId)) {
      const e = this.#lids.get(chatId);
      return e?.remoteJidAlt ? `${e.phone}@s.whatsapp.net` : null;
    }
    const e = this.lidOfPhone(chatId);
    return e?.remoteJidAlt ? e.lid : null;
  }

  /** A message as the engine renders it: `event` for webhooks, otherwise a store look-up. */
  payload(session: SimSession, msg: SimMessage, event: boolean, pushName?: string): Record<string, unknown> {
    return waMessage(this.engine, session.me, msg, { event, remoteJidAlt: this.#remoteJidAlt(msg.chatId), pushName: pushName ?? 'Покупатель', mediaBaseUrl: this.baseUrl ?? undefined });
  }

  /** @deprecated kept for callers of the single-file simulator; use `payload`. */
  waMessage(session: SimSession, msg: SimMessage): Record<string, unknown> {
    return this.payload(session, msg, false);
  }

  sendResponse(session: SimSession, msg: SimMessage): Record<string, unknown> {
    return sendResponse(this.engine, session.me, msg);
  }

  environment(): Record<string, unknown> {
    return environment(this.engine, this.build);
  }

  /**
   * After a send: the `message.any` echo with `source: "api"` at once, then the acks. The default
   * receipts are PENDING, SERVER, DEVICE, READ; an unregistered number never gets past SERVER.
   */
  async afterSend(session: SimSession, msg: SimMessage, fault: SimFault | null): Promise<void> {
    const duplicate = fault?.type === 'duplicate_webhooks';
    void this.#emit(session, 'message.any', this.payload(session, msg, true), duplicate);
    const [d1, d2, d3] = this.ackDelaysMs;
    let plan: { ack: number; at: number }[] = [{ ack: 0, at: 0 }, { ack: 1, at: d1 }, { ack: 2, at: d2 }, { ack: 3, at: d3 }];
    if (this.isUnregistered(msg.chatId)) plan = plan.filter((p) => p.ack <= 1);
    if (this.#noReadReceipts.has(digitsOf(msg.chatId.split('@')[0] ?? ''))) plan = plan.filter((p) => p.ack < 3);
    if (fault?.type === 'missing_acks') plan = (fault.upTo ?? 0) === 0 ? [] : plan.filter((p) => p.ack <= (fault.upTo ?? 0));
    if (fault?.type === 'ack_error') plan = [{ ack: 0, at: 0 }, { ack: 1, at: d1 }, { ack: -1, at: d2 }];
    if (fault?.type === 'acks') {
      const gap = Math.max(1, d2 - d1);
      plan = fault.sequence.map((ack, i) => ({ ack, at: i * gap }));
    }
    let chain: Promise<void> = Promise.resolve();
    const fire = (ack: number) => {
      chain = chain.then(() => this.#ackOrHold(session, msg, ack, duplicate));
      void this.#track(chain);
      return chain;
    };
    if (fault?.type === 'ack_before_response') {
      const upTo = plan.findIndex((p) => p.ack === 1);
      for (const p of plan.splice(0, upTo + 1)) await fire(p.ack);
    }
    for (const p of plan) this.#later(p.at, () => void fire(p.ack));
  }

  async #ackOrHold(session: SimSession, msg: SimMessage, ack: number, duplicate: boolean): Promise<void> {
    if (session.acksStalled && ack !== 0) {
      session.heldAcks.push({ msg, ack, duplicate });
      return;
    }
    await this.#ack(session, msg, ack, duplicate);
  }

  /** Every ack WhatsApp sends is forwarded; the stored ack never goes down, except ERROR after SERVER. */
  async #ack(session: SimSession, msg: SimMessage, ack: number, duplicate: boolean): Promise<void> {
    if (ack > msg.ack || (ack === -1 && msg.ack <= 1)) msg.ack = ack;
    // WEBJS only reports acks with tagsEventsOn (devlikeapro/waha#1311).
    if (this.engine === 'WEBJS' && !this.#tagsEventsOn(session)) return;
    await this.#emit(session, 'message.ack', {
      id: msg.id, from: session.me.id, to: msg.chatId, fromMe: true, ack, ackName: ackName(ack), _data: this.#ackData(msg, ack),
    }, duplicate);
  }

  #ackData(msg: SimMessage, ack: number): Record<string, unknown> {
    switch (this.engine) {
      // src/core/engines/noweb/session.noweb.core.ts (convertMessageUpdateToMessageAck): ack = status − 1.
      case 'NOWEB': return { key: { remoteJid: toJid(msg.chatId), fromMe: true, id: msg.keyId }, update: { status: ack + 1 } };
      case 'GOWS': return { MessageIDs: [msg.keyId], Chat: toJid(msg.chatId), Type: ack >= 3 ? 'read' : ack === 2 ? '' : 'sender' };
      case 'WEBJS': return {};
    }
  }

  #tagsEventsOn(session: SimSession): boolean {
    const webjs = session.config.webjs;
    return typeof webjs === 'object' && webjs !== null && (webjs as { tagsEventsOn?: unknown }).tagsEventsOn === true;
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
    const deliveries = hooks.map((hook) => {
      const envelope = {
        id: `evt_${ulid().toLowerCase()}`,
        timestamp: Date.now(),
        event,
        session: session.name,
        metadata: (session.config.metadata as Record<string, unknown> | undefined) ?? {},
        me: meInfo(this.engine, session.me),
        payload,
        engine: this.engine,
        environment: this.environment(),
      };
      return this.#dispatcher.deliver(hook, event, envelope, duplicate ? 2 : 1);
    });
    return this.#track(Promise.all(deliveries).then(() => undefined));
  }
}
