import { randomBytes } from 'node:crypto';
import type { HttpBindings } from '@hono/node-server';
import { createHash } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import QRCode from 'qrcode';
import { z } from 'zod';
import { chatsPage } from './chat-page.ts';
import {
  availableInPlusOnly, badRequest, buildVersion, digitsOf, engineInfo, invalidLid, isLid, meInfo, newKeyId, notImplementedByEngine,
  nowebStoreDisabled, toChatId, type SimEngine, type SimMedia,
} from './engines.ts';
import {
  faultSchema, sessionConfigSchema, SIM_OPS, type SimFault, type SimMessage, type SimRequest, type SimSession, type SimSessionStatus, type WahaSimState,
} from './session-state.ts';

/** The HTTP surface: WAHA's API under /api (API key required) and the simulator's controls under /_sim. */

export type Env = { Bindings: HttpBindings };
type Ctx = Context<Env>;

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
/**
 * MessageImageRequest / MessageFileRequest (src/structures/chatting.dto.ts). WAHA runs no
 * validation pipe on these routes (src/api/chatting.controller.ts), so the engines get the body as
 * sent: `file` is RemoteFile `{mimetype, url, filename?}` or BinaryFile `{mimetype, data, filename?}`,
 * and an `id` the spec does not list still reaches the engine (only GOWS reads it).
 */
const chatIdField = z.string().regex(/^[^@\s]+@(c\.us|s\.whatsapp\.net|g\.us|lid)$/, 'chatId must look like 77011234567@c.us');
const sendMediaSchema = z.object({
  session: z.string().min(1).default('default'),
  chatId: chatIdField,
  file: z.object({ mimetype: z.string().nullish(), filename: z.string().nullish(), url: z.string().nullish(), data: z.string().nullish() }).loose(),
  caption: z.string().max(65_536).nullish(),
  reply_to: z.string().nullish(),
  mentions: z.array(z.string()).nullish(),
  id: z.string().nullish(),
});
type SendMediaRequest = z.infer<typeof sendMediaSchema>;

/** src/main.ts: `app.use(json({ limit: '50mb' }))`; body-parser's refusal reaches Express's own error page. */
const WAHA_JSON_LIMIT = 50 * 1024 * 1024;

const paginationSchema = z.object({
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  offset: z.coerce.number().int().min(0).default(0),
});

function zodMessages(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
}

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

function serverError(c: Ctx, state: WahaSimState, message: string, body: unknown) {
  const engine = state.engine;
  // Shaped like WAHA's: the request body (the buyer's message) is echoed back, which is why the
  // client must redact it.
  return c.json({
    statusCode: 500,
    timestamp: new Date().toISOString(),
    exception: { message, name: 'Error', stack: `Error: ${message}\n    at WhatsappSession${engine}.sendText (/app/dist/core/engines/session.js:1:1)` },
    request: { path: c.req.path, method: c.req.method, body, query: c.req.query() },
    version: { version: buildVersion(state.build), engine, tier: 'CORE', browser: null },
  }, 500);
}

/** Answers 401/404/422/500 for a response fault; null when the fault is not one of those. */
function responseFault(c: Ctx, state: WahaSimState, fault: SimFault | null, sessionName: string, body: unknown): Response | null {
  if (!fault) return null;
  switch (fault.type) {
    case 'unauthorized': return c.json({ message: 'Unauthorized', statusCode: 401 }, 401);
    case 'session_not_found': return c.json(notFoundSession(sessionName), 404);
    case 'not_working': return c.json(notExpected(sessionName, fault.status ?? 'STARTING', ['WORKING']), 422);
    case 'server_error': return serverError(c, state, 'Protocol error (Runtime.callFunctionOn): Target closed.', body);
    default: return null;
  }
}

/**
 * 404 for an unknown or stopped session, 422 unless in the expected status (after waiting for a
 * STARTING one: src/nestjs/pipes/SessionPipe.ts); the session otherwise. Any status other than the
 * expected one — PASSKEY_*, or one the simulator has never heard of — is "not WORKING".
 */
async function sessionGate(c: Ctx, state: WahaSimState, name: string, expected: SimSessionStatus = 'WORKING'): Promise<{ error: Response } | { session: SimSession }> {
  const s = state.session(name);
  if (!s || s.status === 'STOPPED') return { error: c.json(notFoundSession(name), 404) };
  if (s.status !== expected) await state.waitForWorking(s);
  if (s.status !== expected) return { error: c.json(notExpected(name, s.status, [expected]), 422) };
  return { session: s };
}

/** Gate plus NOWEB's store check for reads (src/core/engines/noweb/store/NowebInMemoryStore.ts). */
async function readGate(c: Ctx, state: WahaSimState, name: string): Promise<{ error: Response } | { session: SimSession }> {
  const gate = await sessionGate(c, state, name);
  if ('error' in gate) return gate;
  if (!state.hasStore(gate.session)) return { error: c.json(nowebStoreDisabled(), 400) };
  return gate;
}

async function jsonBody(c: Ctx): Promise<{ ok: true; value: unknown } | { ok: false; res: Response }> {
  try {
    return { ok: true, value: (await c.req.json()) as unknown };
  } catch {
    return { ok: false, res: c.json(badRequest(['body must be JSON']), 400) };
  }
}

/**
 * The session's config as WAHA echoes it: stored as given, the webhooks' hmac key included
 * (devlikeapro/waha#165 shows a GET /api/sessions answer with the webhook config as it was set).
 */
function configView(s: SimSession): Record<string, unknown> {
  return s.config;
}

function sessionInfo(state: WahaSimState, s: SimSession) {
  const working = s.status === 'WORKING';
  return {
    name: s.name,
    status: s.status,
    config: configView(s),
    // WAHA knows the account only once paired and running; NOWEB/GOWS include its LID (MeInfo).
    me: working ? meInfo(state.engine, s.me) : null,
    assignedWorker: '',
    presence: {},
    timestamps: { activity: Date.now() },
    engine: engineInfo(state.engine, working),
  };
}

function sessionDto(s: SimSession) {
  return { name: s.name, status: s.status, config: configView(s) };
}

function chatSummary(state: WahaSimState, chatId: string, session: string) {
  const messages = state.messages(chatId, session);
  const last = messages.at(-1);
  return { id: chatId, name: null, conversationTimestamp: last?.timestamp ?? null };
}

/** What a send answers once the message is stored: the fault's shape, else the engine's 201. */
async function answerSend(c: Ctx, state: WahaSimState, session: SimSession, stored: { msg: SimMessage; duplicate: boolean }, fault: SimFault | null, chatId: string, body: unknown): Promise<Response> {
  const { msg, duplicate } = stored;
  if (!duplicate) await state.afterSend(session, msg, fault);
  if (fault?.type === 'slow_500_after_send') {
    await new Promise((r) => setTimeout(r, fault.delayMs ?? 2_000));
    return serverError(c, state, `Evaluation failed: timeout while sending to ${chatId}`, body);
  }
  if (fault?.type === 'reset_after_send') {
    c.env?.incoming?.socket.destroy();
    return c.body(null, 500);
  }
  if (fault?.type === 'empty_201') return c.body(null, 201);
  return c.json(state.sendResponse(session, msg), 201);
}

/**
 * The engine turns `file` into bytes before anything is sent. NOWEB refuses a file with neither
 * url nor data (422 "Either file.url or file.data must be specified."); WEBJS and GOWS fail inside
 * the engine (500). A `file.url` is downloaded by WAHA itself, from its own network: one it cannot
 * fetch is a 500. A missing mimetype breaks WEBJS's MessageMedia; NOWEB and GOWS fall back to a
 * default. Nothing reaches WhatsApp in any of these cases.
 */
async function readFile(engine: SimEngine, kind: SimMedia['kind'], req: SendMediaRequest): Promise<{ media: SimMedia; bytes: Buffer } | { error: 422; body: unknown } | { error: 500; message: string }> {
  const { file } = req;
  let bytes: Buffer;
  if (file.url) {
    try {
      const res = await fetch(file.url, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) return { error: 500, message: `Request failed with status code ${res.status}` };
      bytes = Buffer.from(await res.arrayBuffer());
    } catch (err) {
      return { error: 500, message: `connect failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  } else if (file.data) {
    bytes = Buffer.from(file.data, 'base64');
  } else if (engine === 'NOWEB') {
    return { error: 422, body: { message: 'Either file.url or file.data must be specified.', error: 'Unprocessable Entity', statusCode: 422 } };
  } else {
    return { error: 500, message: 'The "data" argument must be of type string. Received undefined' };
  }
  if (bytes.length === 0) return { error: 500, message: 'Cannot send an empty file' };
  if (!file.mimetype && engine === 'WEBJS') return { error: 500, message: 'Evaluation failed: TypeError: Cannot read properties of undefined (reading \'split\')' };
  const mimetype = file.mimetype ?? (kind === 'image' ? 'image/jpeg' : 'application/octet-stream');
  return { media: { kind, mimetype, filename: file.filename ?? null, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }, bytes };
}

/** The request log keeps a file's size, not its base64: tests read the bytes from the stored message. */
function shortenFileData(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || !('file' in body)) return body;
  const file = (body as { file?: unknown }).file;
  if (typeof file !== 'object' || file === null || typeof (file as { data?: unknown }).data !== 'string') return body;
  const data = (file as { data: string }).data;
  return { ...body, file: { ...file, data: `<base64, ${data.length} characters>` } };
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
        body = raw === '' ? null : shortenFileData(JSON.parse(raw) as unknown);
      } catch {
        body = raw.length > 4096 ? `${raw.slice(0, 4096)}…` : raw;
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
      return serverError(c, state, `Failed to send message to ${req.chatId}: server returned error 463`, raw.value);
    }
    // WAHA builds a link preview (fetching the text's first URL) before it sends (docs/contracts/waha.md).
    if (req.linkPreview !== false) await state.fetchLinkPreview(req.text);
    // A phone chat id works even when WhatsApp moved the buyer to a LID; the message stays in that chat.
    const stored = state.storeSent(session, toChatId(req.chatId), req.text, req.id ?? null);
    return answerSend(c, state, session, stored, fault, req.chatId, raw.value);
  });

  // ---- files: src/api/chatting.controller.ts (sendImage, sendFile) and each engine's session ----

  for (const [path, kind] of [['/api/sendImage', 'image'], ['/api/sendFile', 'document']] as const) {
    app.post(path, bodyLimit({ maxSize: WAHA_JSON_LIMIT, onError: (c) => c.html('<!DOCTYPE html><html><body><pre>PayloadTooLargeError: request entity too large</pre></body></html>', 413) }), async (c) => {
      const raw = await jsonBody(c);
      if (!raw.ok) return raw.res;
      const parsed = sendMediaSchema.safeParse(raw.value);
      if (!parsed.success) return c.json(badRequest(zodMessages(parsed.error)), 400);
      const req = parsed.data;
      const fault = state.takeFault(kind === 'image' ? 'sendImage' : 'sendFile');
      const early = responseFault(c, state, fault, req.session, raw.value);
      if (early) return early;
      // The controller asks for a WORKING session first; only then does the engine method run.
      const gate = await sessionGate(c, state, req.session);
      if ('error' in gate) return gate.error;
      if (state.build === 'core-before-2026.6') return c.json(availableInPlusOnly(state.engine), 422);
      const file = await readFile(state.engine, kind, req);
      if ('error' in file) return file.error === 422 ? c.json(file.body, 422) : serverError(c, state, file.message, raw.value);
      if (fault?.type === 'refused_463') {
        return serverError(c, state, `Failed to send message to ${req.chatId}: server returned error 463`, raw.value);
      }
      // GOWS passes `id` on to whatsmeow (src/plus/engines/gows session: `id: request.id`); NOWEB's
      // getMessageOptions generates its own, and WEBJS has none.
      const requestedId = state.engine === 'GOWS' ? req.id ?? null : null;
      const stored = state.storeSent(gate.session, toChatId(req.chatId), req.caption ?? '', requestedId, file);
      return answerSend(c, state, gate.session, stored, fault, req.chatId, raw.value);
    });
  }

  // WAHA's local media storage, where `media.url` of events points.
  app.get('/api/files/:session/:file', (c) => {
    const name = c.req.param('session');
    const messageId = c.req.param('file').replace(/\.[a-z0-9]+$/i, '');
    const msg = state.allChats().filter((x) => x.session === name).flatMap((x) => x.messages).find((m) => m.id === messageId);
    const bytes = msg ? state.mediaBytes(name, msg.id) : null;
    if (!msg?.media || !bytes) return c.json({ statusCode: 404, message: 'File not found', error: 'Not Found' }, 404);
    return c.body(new Uint8Array(bytes), 200, { 'content-type': msg.media.mimetype });
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
    // src/core/exceptions.ts (NotImplementedByEngineError): WEBJS cannot reserve an id → 501.
    if (state.engine === 'WEBJS') return c.json(notImplementedByEngine(state.engine), 501);
    return c.json({ id: newKeyId(state.engine) });
  });

  app.get('/api/:session/chats', async (c) => {
    const name = c.req.param('session');
    const early = responseFault(c, state, state.takeFault('listChats'), name, null);
    if (early) return early;
    const gate = await readGate(c, state, name);
    if ('error' in gate) return gate.error;
    const q = paginationSchema.extend({ sortOrder: z.enum(['asc', 'desc']).default('desc') }).safeParse(c.req.query());
    if (!q.success) return c.json(badRequest(zodMessages(q.error)), 400);
    let chats = state.allChats().filter((x) => x.session === name).map((x) => chatSummary(state, x.chatId, name));
    chats.sort((a, b) => (a.conversationTimestamp ?? 0) - (b.conversationTimestamp ?? 0));
    if (q.data.sortOrder === 'desc') chats = chats.reverse();
    return c.json(chats.slice(q.data.offset, q.data.limit === undefined ? undefined : q.data.offset + q.data.limit));
  });

  app.get('/api/:session/chats/:chatId/messages/:messageId', async (c) => {
    const name = c.req.param('session');
    const early = responseFault(c, state, state.takeFault('getMessage'), name, null);
    if (early) return early;
    const gate = await readGate(c, state, name);
    if ('error' in gate) return gate.error;
    const chatId = toChatId(c.req.param('chatId'));
    const messageId = c.req.param('messageId');
    const msg = state.messages(chatId, name).find((m) => m.id === messageId || `${m.fromMe}_${chatId}_${m.keyId}` === messageId);
    if (!msg) return c.json({ statusCode: 404, message: 'Message not found', error: 'Not Found' }, 404);
    return c.json(state.payload(gate.session, msg, false));
  });

  app.get('/api/:session/chats/:chatId/messages', async (c) => {
    const name = c.req.param('session');
    const early = responseFault(c, state, state.takeFault('listMessages'), name, null);
    if (early) return early;
    const gate = await readGate(c, state, name);
    if ('error' in gate) return gate.error;
    const q = z.object({
      limit: z.coerce.number().int().min(1).max(1000).default(10),
      offset: z.coerce.number().int().min(0).default(0),
      'filter.fromMe': z.enum(['true', 'false']).optional(),
      'filter.timestamp.gte': z.coerce.number().optional(),
      'filter.timestamp.lte': z.coerce.number().optional(),
      'filter.ack': z.coerce.number().int().min(-1).max(4).optional(),
      sortOrder: z.enum(['asc', 'desc']).default('desc'),
    }).safeParse(c.req.query());
    if (!q.success) return c.json(badRequest(zodMessages(q.error)), 400);
    const f = q.data;
    let list = state.messages(toChatId(c.req.param('chatId')), name)
      .filter((m) => f['filter.fromMe'] === undefined || String(m.fromMe) === f['filter.fromMe'])
      .filter((m) => f['filter.timestamp.gte'] === undefined || m.timestamp >= f['filter.timestamp.gte'])
      .filter((m) => f['filter.timestamp.lte'] === undefined || m.timestamp <= f['filter.timestamp.lte'])
      .filter((m) => f['filter.ack'] === undefined || m.ack === f['filter.ack']);
    list = f.sortOrder === 'asc' ? list : list.reverse();
    return c.json(list.slice(f.offset, f.offset + f.limit).map((m) => state.payload(gate.session, m, false)));
  });

  // ---- LIDs: src/api/lids.controller.ts (WorkingSessionParam; NOWEB reads them from its store) ----

  const knownMappings = () => state.allLids().filter((l) => l.pnByLid).sort((a, b) => a.lid.localeCompare(b.lid));

  app.get('/api/:session/lids/count', async (c) => {
    const name = c.req.param('session');
    const early = responseFault(c, state, state.takeFault('getLid'), name, null);
    if (early) return early;
    const gate = await readGate(c, state, name);
    if ('error' in gate) return gate.error;
    return c.json({ count: knownMappings().length });
  });

  app.get('/api/:session/lids/pn/:phoneNumber', async (c) => {
    const name = c.req.param('session');
    const early = responseFault(c, state, state.takeFault('getLid'), name, null);
    if (early) return early;
    const gate = await readGate(c, state, name);
    if ('error' in gate) return gate.error;
    const phoneNumber = c.req.param('phoneNumber');
    // lids.controller.ts (findLIDByPhoneNumber): a LID given as the number comes back as is.
    if (isLid(phoneNumber)) return c.json({ lid: phoneNumber, pn: null });
    const digits = digitsOf(phoneNumber.split('@')[0] ?? phoneNumber);
    const entry = state.lidOfPhone(digits);
    return c.json({ lid: entry?.lidByPn ? entry.lid : null, pn: `${digits}@c.us` });
  });

  app.get('/api/:session/lids/:lid', async (c) => {
    const name = c.req.param('session');
    const early = responseFault(c, state, state.takeFault('getLid'), name, null);
    if (early) return early;
    const gate = await readGate(c, state, name);
    if ('error' in gate) return gate.error;
    // lids.controller.ts (findPNByLid): the `@lid` suffix is optional; any other suffix is a 422.
    let lid = c.req.param('lid');
    if (!lid.includes('@')) lid = `${lid}@lid`;
    if (!isLid(lid)) return c.json(invalidLid(), 422);
    const entry = state.lidInfo(lid);
    return c.json({ lid, pn: entry?.pnByLid ? `${entry.phone}@c.us` : null });
  });

  app.get('/api/:session/lids', async (c) => {
    const name = c.req.param('session');
    const early = responseFault(c, state, state.takeFault('getLid'), name, null);
    if (early) return early;
    const gate = await readGate(c, state, name);
    if ('error' in gate) return gate.error;
    const q = paginationSchema.safeParse(c.req.query());
    if (!q.success) return c.json(badRequest(zodMessages(q.error)), 400);
    // lids.controller.ts (getAll): sorted by lid ascending, limit 100 by default.
    const limit = q.data.limit ?? 100;
    return c.json(knownMappings().slice(q.data.offset, q.data.offset + limit).map((l) => ({ lid: l.lid, pn: `${l.phone}@c.us` })));
  });

  // ---- sessions ----------------------------------------------------------------------------------

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

  app.get('/api/sessions/:session/me', (c) => {
    const name = c.req.param('session');
    const early = responseFault(c, state, state.takeFault('getSession'), name, null);
    if (early) return early;
    const s = state.session(name);
    if (!s) return c.json(notFoundSession(name), 404);
    return c.json(s.status === 'WORKING' ? meInfo(state.engine, s.me) : null);
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
    // WAHA restarts a running session to apply a new config (the engine reads it when it starts).
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
  app.get('/_sim/media/:session/:messageId', (c) => {
    const msg = state.allChats().flatMap((x) => x.messages).find((m) => m.session === c.req.param('session') && m.id === c.req.param('messageId'));
    const bytes = msg?.media ? state.mediaBytes(msg.session, msg.id) : null;
    if (!msg?.media || !bytes) return c.json({ message: 'no such file' }, 404);
    const disposition = msg.media.kind === 'image' ? 'inline' : `attachment; filename*=UTF-8''${encodeURIComponent(msg.media.filename ?? 'file')}`;
    return c.body(new Uint8Array(bytes), 200, { 'content-type': msg.media.mimetype, 'content-disposition': disposition, 'x-content-type-options': 'nosniff' });
  });
  app.get('/_sim/state', (c) => c.json({ engine: state.engine, sessions: state.sessionsList(), faults: state.pendingFaults(), lids: state.allLids(), pendingDeliveries: state.pendingDeliveries() }));
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
    const parsed = z.object({ status: z.string().min(1).regex(/^[A-Z_]+$/, 'status must look like WORKING') }).safeParse(raw.value);
    if (!parsed.success) return c.json(badRequest(zodMessages(parsed.error)), 400);
    const name = c.req.param('session');
    if (!state.session(name)) state.addSession(name, { status: 'STOPPED' });
    state.setSessionStatus(name, parsed.data.status);
    return c.json({ name, status: parsed.data.status });
  });

  app.post('/_sim/sessions/:session/stall-acks', async (c) => {
    const raw = await jsonBody(c);
    if (!raw.ok) return raw.res;
    const parsed = z.object({ stalled: z.boolean() }).safeParse(raw.value);
    if (!parsed.success) return c.json(badRequest(zodMessages(parsed.error)), 400);
    const name = c.req.param('session');
    if (!state.session(name)) return c.json(notFoundSession(name), 404);
    state.stallAcks(name, parsed.data.stalled);
    return c.json({ name, stalled: parsed.data.stalled });
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
    const parsed = z.object({ from: z.string().min(5), body: z.string().min(1), session: z.string().optional(), viaLid: z.boolean().optional(), pushName: z.string().optional() }).safeParse(raw.value);
    if (!parsed.success) return c.json(badRequest(zodMessages(parsed.error)), 400);
    try {
      const { from, body, ...options } = parsed.data;
      return c.json(state.receiveMessage(from, body, options), 201);
    } catch (err) {
      return c.json(badRequest([err instanceof Error ? err.message : String(err)]), 400);
    }
  });

  app.post('/_sim/lids', async (c) => {
    const raw = await jsonBody(c);
    if (!raw.ok) return raw.res;
    const parsed = z.object({
      phone: z.string().min(5), lid: z.string().min(5).optional(),
      pnByLid: z.boolean().optional(), lidByPn: z.boolean().optional(), remoteJidAlt: z.boolean().optional(),
    }).safeParse(raw.value);
    if (!parsed.success) return c.json(badRequest(zodMessages(parsed.error)), 400);
    try {
      const { phone, ...opts } = parsed.data;
      return c.json({ lid: state.setLid(phone, opts) }, 201);
    } catch (err) {
      return c.json(badRequest([err instanceof Error ? err.message : String(err)]), 400);
    }
  });
  app.get('/_sim/lids', (c) => c.json(state.allLids()));

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
