import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  classifyFetchFailure,
  extractSentMessage,
  WahaAmbiguousError,
  WahaStoreDisabledError,
  WahaAuthError,
  WahaBadRequestError,
  WahaClient,
  WahaError,
  WahaNetworkError,
  WahaProtocolError,
  WahaRefusedError,
  WahaSessionNotReadyError,
} from '../../lib/waha/client.ts';
import { maskDigitRuns, redactString, redactWahaError } from '../../lib/waha/redact.ts';
import { startWahaSimulator, type WahaSimulator } from '../../simulators/waha/server.ts';

const PHONE = '77011234567';
const CHAT = `${PHONE}@c.us`;
const TEXT = 'Здравствуйте, Айгерим! Ваш заказ 463 принят, сумма 12 990 ₸';

interface Seen {
  url: URL;
  method: string;
  headers: Headers;
  body: unknown;
}

/** A fetch double: records each request and answers with the handler's Response (or throws its error). */
function fakeFetch(handler: (req: Seen) => Response | Promise<Response>) {
  const seen: Seen[] = [];
  const fn: typeof globalThis.fetch = async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const headers = new Headers(init?.headers);
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined;
    const req = { url, method: init?.method ?? 'GET', headers, body };
    seen.push(req);
    return handler(req);
  };
  return { fn, seen };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

function client(fetchFn: typeof globalThis.fetch, extra: { apiKey?: string | null; timeoutMs?: number } = {}) {
  return new WahaClient({ baseUrl: 'http://waha.test/', session: 'shop-1', apiKey: 'apiKey' in extra ? extra.apiKey : 'secret-key', timeoutMs: extra.timeoutMs, fetch: fetchFn });
}

/** WAHA's 500 body as documented: it echoes the request, including the buyer's text and chat id. */
function wahaServerError(message: string) {
  return {
    statusCode: 500,
    timestamp: '2026-11-26T10:00:00.000Z',
    exception: { message, name: 'Error', stack: `Error: ${message}\n    at send (${TEXT})` },
    request: { path: '/api/sendText', method: 'POST', body: { session: 'shop-1', chatId: CHAT, text: TEXT }, query: {} },
    version: { version: '2026.7.1', engine: 'NOWEB', tier: 'CORE', browser: null },
  };
}

async function caught(p: Promise<unknown>): Promise<WahaError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WahaError) return err;
    throw err;
  }
  throw new Error('expected a WahaError');
}

function expectNoPersonalData(err: Error) {
  const all = `${err.message} ${(err as WahaError).detail ?? ''} ${String(err.stack)}`;
  expect(all).not.toContain(PHONE);
  expect(all).not.toContain('Айгерим');
  expect(all).not.toContain(TEXT);
}

describe('redaction', () => {
  it('masks digit runs of 7 or more and keeps short codes', () => {
    expect(maskDigitRuns(`to ${PHONE}@c.us: error 463`)).toBe('to 7701*****67@c.us: error 463');
    expect(maskDigitRuns('order 123456')).toBe('order 123456');
  });

  it('removes the text (raw, JSON-escaped, line by line) and formatted phones', () => {
    const multi = 'Здравствуйте, Айгерим!\nВаш заказ "A-1" готов к выдаче';
    expect(redactString(`failed: ${multi}`, { text: multi })).toBe('failed: [text]');
    expect(redactString(`failed: ${JSON.stringify(multi)}`, { text: multi })).toBe('failed: "[text]"');
    expect(redactString('line: Ваш заказ "A-1" готов к выдаче', { text: multi })).toBe('line: [text]');
    expect(redactString('call +7 701 123-45-67', { phones: [PHONE] })).toBe('call +7701*****67');
  });

  it('keeps only exception name and message of a WAHA 500 body', () => {
    const detail = redactWahaError(JSON.stringify(wahaServerError(`Failed to send "${TEXT}" to ${CHAT}`)), { text: TEXT, phones: [CHAT] });
    expect(detail).toBe('Error: Failed to send "[text]" to 7701*****67@c.us');
    expect(detail).not.toContain('stack');
  });

  it('describes bodies it cannot read by size only', () => {
    expect(redactWahaError(`<html>${TEXT}</html>`)).toMatch(/^non-JSON body \(\d+ bytes\)$/);
    expect(redactWahaError('')).toBe('empty body');
    expect(redactWahaError({ statusCode: 400, message: ['chatId must be a string'], error: 'Bad Request' })).toBe('Bad Request: chatId must be a string');
    expect(redactWahaError({ error: 'Session status is not as expected.', status: 'SCAN_QR_CODE' })).toBe('Session status is not as expected.: status SCAN_QR_CODE');
  });
});

describe('extractSentMessage', () => {
  it('reads the WEBJS id object', () => {
    const r = extractSentMessage({ id: { fromMe: true, remote: CHAT, id: '3EB0AAA', _serialized: `true_${CHAT}_3EB0AAA` }, body: 'x' }, { chatId: CHAT });
    expect(r).toEqual({ messageId: `true_${CHAT}_3EB0AAA`, keyId: '3EB0AAA', engineShape: 'WEBJS' });
  });

  it('builds the NOWEB id from key {remoteJid, fromMe, id}', () => {
    const r = extractSentMessage({ key: { remoteJid: `${PHONE}@s.whatsapp.net`, fromMe: true, id: 'BAE5123' }, message: {}, messageTimestamp: '1', status: 'PENDING' }, { chatId: CHAT });
    expect(r).toEqual({ messageId: `true_${CHAT}_BAE5123`, keyId: 'BAE5123', engineShape: 'NOWEB' });
  });

  it('reads the GOWS id string', () => {
    const r = extractSentMessage({ id: `true_${CHAT}_3EB0BBB`, _data: {} }, { chatId: CHAT });
    expect(r).toEqual({ messageId: `true_${CHAT}_3EB0BBB`, keyId: '3EB0BBB', engineShape: 'GOWS' });
  });

  it('treats an empty or unknown 201 body as sent with an unknown id, unless an id was reserved', () => {
    expect(extractSentMessage(undefined, { chatId: CHAT })).toEqual({ messageId: null, keyId: null, engineShape: 'EMPTY' });
    expect(extractSentMessage({ ok: true }, { chatId: CHAT })).toEqual({ messageId: null, keyId: null, engineShape: 'EMPTY' });
    expect(extractSentMessage(undefined, { chatId: CHAT, reservedId: 'BAE5RES' })).toEqual({ messageId: `true_${CHAT}_BAE5RES`, keyId: 'BAE5RES', engineShape: 'EMPTY' });
  });
});

describe('WahaClient against a fetch double', () => {
  it('sends the API key and the sendText body WAHA expects', async () => {
    const f = fakeFetch(() => json(201, { id: `true_${CHAT}_3EB0X`, _data: {} }));
    await client(f.fn).sendText({ chatId: CHAT, text: TEXT, id: 'BAE5RES', linkPreview: false });
    const req = f.seen[0];
    expect(req?.method).toBe('POST');
    expect(req?.url.href).toBe('http://waha.test/api/sendText');
    expect(req?.headers.get('x-api-key')).toBe('secret-key');
    expect(req?.headers.get('content-type')).toBe('application/json');
    expect(req?.body).toEqual({ session: 'shop-1', chatId: CHAT, text: TEXT, id: 'BAE5RES', linkPreview: false });
  });

  it('omits X-Api-Key when no key is configured', async () => {
    const f = fakeFetch(() => json(200, { name: 'shop-1', status: 'WORKING', presence: {}, timestamps: {} }));
    await client(f.fn, { apiKey: null }).getSession();
    expect(f.seen[0]?.headers.has('x-api-key')).toBe(false);
  });

  it('returns EMPTY for the empty-201 regression', async () => {
    const f = fakeFetch(() => new Response(null, { status: 201 }));
    expect(await client(f.fn).sendText({ chatId: CHAT, text: TEXT })).toEqual({ messageId: null, keyId: null, engineShape: 'EMPTY' });
  });

  it('401 → WahaAuthError', async () => {
    const err = await caught(client(fakeFetch(() => json(401, { message: 'Unauthorized', statusCode: 401 })).fn).sendText({ chatId: CHAT, text: TEXT }));
    expect(err).toBeInstanceOf(WahaAuthError);
    expect(err.kind).toBe('auth');
    expect(err.safeToRetry).toBe(false);
    expect(err.httpStatus).toBe(401);
  });

  it('404 → WahaSessionNotReadyError without a status', async () => {
    const f = fakeFetch(() => json(404, { statusCode: 404, message: "We didn't find a session with name 'shop-1'.", error: 'Not Found' }));
    const err = await caught(client(f.fn).sendText({ chatId: CHAT, text: TEXT }));
    expect(err).toBeInstanceOf(WahaSessionNotReadyError);
    expect((err as WahaSessionNotReadyError).sessionStatus).toBeNull();
    expect(err.safeToRetry).toBe(true);
  });

  it('422 → WahaSessionNotReadyError carrying the status', async () => {
    const f = fakeFetch(() => json(422, { error: 'Session status is not as expected. Try again later or restart the session', session: 'shop-1', status: 'SCAN_QR_CODE', expected: ['WORKING'] }));
    const err = await caught(client(f.fn).sendText({ chatId: CHAT, text: TEXT }));
    expect(err).toBeInstanceOf(WahaSessionNotReadyError);
    expect(err.kind).toBe('session_not_ready');
    expect((err as WahaSessionNotReadyError).sessionStatus).toBe('SCAN_QR_CODE');
    expect(err.message).toContain('SCAN_QR_CODE');
  });

  it('500 with 463 → WahaRefusedError, redacted', async () => {
    const f = fakeFetch(() => json(500, wahaServerError(`Failed to send message to ${CHAT}: server returned error 463`)));
    const err = await caught(client(f.fn).sendText({ chatId: CHAT, text: TEXT }));
    expect(err).toBeInstanceOf(WahaRefusedError);
    expect(err.kind).toBe('refused');
    expect(err.detail).toBe('Error: Failed to send message to 7701*****67@c.us: server returned error 463');
    expectNoPersonalData(err);
  });

  it('500 without 463 → WahaAmbiguousError, even when the echoed text contains 463', async () => {
    // TEXT contains "463" (an order number): only the exception message may classify a refusal.
    const f = fakeFetch(() => json(500, wahaServerError(`Evaluation failed: "${TEXT}"`)));
    const err = await caught(client(f.fn).sendText({ chatId: CHAT, text: TEXT }));
    expect(err).toBeInstanceOf(WahaAmbiguousError);
    expect(err.kind).toBe('ambiguous');
    expect(err.safeToRetry).toBe(false);
    expect(err.detail).toBe('Error: Evaluation failed: "[text]"');
    expectNoPersonalData(err);
  });

  it('502 with an HTML body → ambiguous, body described by size', async () => {
    const f = fakeFetch(() => new Response(`<html>${TEXT}</html>`, { status: 502 }));
    const err = await caught(client(f.fn).sendText({ chatId: CHAT, text: TEXT }));
    expect(err).toBeInstanceOf(WahaAmbiguousError);
    expect(err.detail).toMatch(/^non-JSON body/);
    expectNoPersonalData(err);
  });

  it('400 → WahaBadRequestError, redacted', async () => {
    const f = fakeFetch(() => json(400, { statusCode: 400, message: [`chatId ${CHAT} is invalid`], error: 'Bad Request' }));
    const err = await caught(client(f.fn).sendText({ chatId: CHAT, text: TEXT }));
    expect(err).toBeInstanceOf(WahaBadRequestError);
    expect(err.kind).toBe('bad_request');
    expectNoPersonalData(err);
  });

  it('a timeout → WahaAmbiguousError (the message may have been sent)', async () => {
    const f = fakeFetch(() => new Promise<Response>((_resolve, reject) => {
      setTimeout(() => reject(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), 5);
    }));
    const err = await caught(client(f.fn).sendText({ chatId: CHAT, text: TEXT }));
    expect(err).toBeInstanceOf(WahaAmbiguousError);
    expect(err.message).toContain('no answer in time');
    expectNoPersonalData(err);
  });

  it('a 2xx body that does not match → WahaProtocolError for reads', async () => {
    const f = fakeFetch(() => json(200, { exists: 'maybe' }));
    const err = await caught(client(f.fn).checkExists(PHONE));
    expect(err).toBeInstanceOf(WahaProtocolError);
    expect(err.kind).toBe('protocol');
    expectNoPersonalData(err);
  });

  it('newMessageId: null when the engine cannot (404 route, 501), error for an unknown session', async () => {
    expect(await client(fakeFetch(() => json(404, { message: 'Cannot GET /api/shop-1/new-message-id', error: 'Not Found', statusCode: 404 })).fn).newMessageId()).toBeNull();
    expect(await client(fakeFetch(() => json(501, { statusCode: 501, message: 'Not implemented by engine' })).fn).newMessageId()).toBeNull();
    expect(await client(fakeFetch(() => json(200, { id: 'BAE5NEW' })).fn).newMessageId()).toBe('BAE5NEW');
    const err = await caught(client(fakeFetch(() => json(404, { statusCode: 404, message: "We didn't find a session with name 'shop-1'.", error: 'Not Found' })).fn).newMessageId());
    expect(err).toBeInstanceOf(WahaSessionNotReadyError);
  });

  it('getMessage: 404 → null, bare key id expanded, ack returned', async () => {
    const f = fakeFetch((req) => req.url.pathname.endsWith('MISSING')
      ? json(404, { statusCode: 404, message: 'Message not found', error: 'Not Found' })
      : json(200, { id: `true_${CHAT}_BAE5OK`, ack: 2, ackName: 'DEVICE', fromMe: true, body: TEXT, timestamp: 1 }));
    const c = client(f.fn);
    expect(await c.getMessage(CHAT, 'MISSING')).toBeNull();
    expect(await c.getMessage(CHAT, 'BAE5OK')).toEqual({ id: `true_${CHAT}_BAE5OK`, ack: 2, ackName: 'DEVICE' });
    expect(f.seen[1]?.url.pathname).toBe(`/api/shop-1/chats/${encodeURIComponent(CHAT)}/messages/${encodeURIComponent(`true_${CHAT}_BAE5OK`)}`);
    expect(f.seen[1]?.url.searchParams.get('downloadMedia')).toBe('false');
    expect(await client(fakeFetch(() => new Response('null', { status: 200 })).fn).getMessage(CHAT, 'X')).toBeNull();
    expect(await caught(client(fakeFetch(() => new Response('<html>', { status: 200 })).fn).getMessage(CHAT, 'X'))).toBeInstanceOf(WahaProtocolError);
  });

  it('checkExists strips formatting and returns WAHA\'s chat id', async () => {
    const f = fakeFetch((req) => req.url.searchParams.get('phone') === PHONE ? json(200, { numberExists: true, chatId: CHAT }) : json(200, { numberExists: false }));
    const c = client(f.fn);
    expect(await c.checkExists('+7 (701) 123-45-67')).toEqual({ numberExists: true, chatId: CHAT });
    expect(f.seen[0]?.url.searchParams.get('session')).toBe('shop-1');
    expect(await c.checkExists('77000000000')).toEqual({ numberExists: false, chatId: null });
  });

  it('listChatMessages sends WAHA\'s filters and applies them itself too', async () => {
    const since = new Date('2026-11-26T10:00:00Z');
    const sec = since.getTime() / 1000;
    const f = fakeFetch(() => json(200, [
      { id: `true_${CHAT}_A`, fromMe: true, body: TEXT, timestamp: sec + 5, ack: 1, ackName: 'SERVER' },
      { id: `true_${CHAT}_OLD`, fromMe: true, body: TEXT, timestamp: sec - 100, ack: 3, ackName: 'READ' },
      { id: `false_${CHAT}_B`, fromMe: false, body: 'Спасибо', timestamp: sec + 6 },
    ]));
    const list = await client(f.fn).listChatMessages(CHAT, { limit: 20, fromMe: true, since });
    expect(list.map((m) => m.keyId)).toEqual(['A']);
    const q = f.seen[0]?.url.searchParams;
    expect(q?.get('limit')).toBe('20');
    expect(q?.get('filter.fromMe')).toBe('true');
    expect(q?.get('filter.timestamp.gte')).toBe(String(sec));
    expect(q?.get('downloadMedia')).toBe('false');
  });

  it('getSession: null on 404, engine object flattened', async () => {
    expect(await client(fakeFetch(() => json(404, { statusCode: 404, message: 'nope' })).fn).getSession()).toBeNull();
    const s = await client(fakeFetch(() => json(200, { name: 'shop-1', status: 'WORKING', engine: { engine: 'GOWS' }, me: { id: '77000000001@c.us', pushName: 'Shop' }, presence: {}, timestamps: {} })).fn).getSession();
    expect(s).toMatchObject({ name: 'shop-1', status: 'WORKING', engine: 'GOWS', me: { id: '77000000001@c.us', pushName: 'Shop' } });
  });

  it('upsertSessionConfig keeps foreign webhooks and config, replaces ours, turns WEBJS tags on', async () => {
    const f = fakeFetch((req) => {
      if (req.method === 'GET') {
        return json(200, {
          name: 'shop-1', status: 'WORKING', presence: {}, timestamps: {},
          config: {
            proxy: { server: 'proxy:3128' },
            webjs: { other: 1 },
            noweb: { markOnline: false },
            webhooks: [
              { url: 'https://crm.example/hook', events: ['message'] },
              { url: 'https://old-host.example/webhooks/waha/store-1', events: ['message.ack'], hmac: { key: 'old' } },
            ],
          },
        });
      }
      return json(200, { name: 'shop-1', status: 'STARTING' });
    });
    const r = await client(f.fn).upsertSessionConfig({ webhookUrl: 'https://app.example/webhooks/waha/store-1', hmacKey: 'k1' });
    expect(r).toEqual({ created: false, name: 'shop-1', status: 'STARTING' });
    const put = f.seen[1];
    expect(put?.method).toBe('PUT');
    expect(put?.url.pathname).toBe('/api/sessions/shop-1');
    expect(put?.body).toEqual({
      name: 'shop-1',
      config: {
        proxy: { server: 'proxy:3128' },
        webjs: { other: 1, tagsEventsOn: true },
        // NOWEB answers no look-up without its store; the seller's own markOnline is kept.
        noweb: { markOnline: false, store: { enabled: true, fullSync: true } },
        webhooks: [
          { url: 'https://crm.example/hook', events: ['message'] },
          {
            url: 'https://app.example/webhooks/waha/store-1',
            events: ['message.ack', 'message.any', 'session.status', 'message'],
            hmac: { key: 'k1' },
            retries: { policy: 'exponential', delaySeconds: 2, attempts: 15 },
          },
        ],
      },
    });
  });

  it('upsertSessionConfig creates the session with POST when WAHA does not know it', async () => {
    const f = fakeFetch((req) => req.method === 'GET' ? json(404, { statusCode: 404, message: 'x' }) : json(201, { name: 'shop-1', status: 'STARTING' }));
    const r = await client(f.fn).upsertSessionConfig({ webhookUrl: 'http://127.0.0.1:3000/webhooks/waha/s', hmacKey: 'k' });
    expect(r.created).toBe(true);
    expect(f.seen[1]?.method).toBe('POST');
    expect(f.seen[1]?.url.pathname).toBe('/api/sessions');
    expect(f.seen[1]?.body).toMatchObject({ name: 'shop-1', start: true, config: { webjs: { tagsEventsOn: true } } });
  });

  it('getQr: PNG as is, JSON base64 decoded, 422 → null', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    const a = await client(fakeFetch(() => new Response(new Uint8Array(png), { status: 200, headers: { 'content-type': 'image/png' } })).fn).getQr();
    expect(a?.equals(png)).toBe(true);
    const b = await client(fakeFetch(() => json(200, { mimetype: 'image/png', data: png.toString('base64') })).fn).getQr();
    expect(b?.equals(png)).toBe(true);
    expect(await client(fakeFetch(() => json(422, { error: 'Session status is not as expected.', status: 'WORKING', expected: ['SCAN_QR_CODE'] })).fn).getQr()).toBeNull();
  });

  it('startSession returns the status; a 422 "already started" falls back to reading the session', async () => {
    expect(await client(fakeFetch(() => json(201, { name: 'shop-1', status: 'STARTING' })).fn).startSession()).toEqual({ name: 'shop-1', status: 'STARTING' });
    const f = fakeFetch((req) => req.method === 'POST'
      ? json(422, { statusCode: 422, message: 'Session already started' })
      : json(200, { name: 'shop-1', status: 'WORKING', presence: {}, timestamps: {} }));
    expect(await client(f.fn).startSession()).toEqual({ name: 'shop-1', status: 'WORKING' });
  });
});

describe('WahaClient network failures (real sockets)', () => {
  const servers: { close(): void }[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  it('connection refused → WahaNetworkError (safe to retry)', async () => {
    const srv = createNetServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const { port } = srv.address() as AddressInfo;
    await new Promise<void>((r) => srv.close(() => r()));
    const c = new WahaClient({ baseUrl: `http://127.0.0.1:${port}`, session: 'default' });
    const err = await caught(c.sendText({ chatId: CHAT, text: TEXT }));
    expect(err).toBeInstanceOf(WahaNetworkError);
    expect((err as WahaNetworkError).code).toBe('ECONNREFUSED');
    expect(err.safeToRetry).toBe(true);
    expectNoPersonalData(err);
  });

  it('connection reset after the request was read → WahaAmbiguousError', async () => {
    const srv = createHttpServer((req) => req.on('data', () => undefined).on('end', () => req.socket.destroy()));
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const { port } = srv.address() as AddressInfo;
    const err = await caught(new WahaClient({ baseUrl: `http://127.0.0.1:${port}`, session: 'default' }).sendText({ chatId: CHAT, text: TEXT }));
    expect(err).toBeInstanceOf(WahaAmbiguousError);
    expectNoPersonalData(err);
  });

  it('a server that never answers → WahaAmbiguousError after timeoutMs', async () => {
    const srv = createHttpServer(() => undefined);
    servers.push({ close: () => { srv.closeAllConnections(); srv.close(); } });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const { port } = srv.address() as AddressInfo;
    const started = Date.now();
    const err = await caught(new WahaClient({ baseUrl: `http://127.0.0.1:${port}`, session: 'default', timeoutMs: 200 }).sendText({ chatId: CHAT, text: TEXT }));
    expect(err).toBeInstanceOf(WahaAmbiguousError);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('classifyFetchFailure tells connect-phase errors from the rest', () => {
    const wrap = (cause: unknown) => Object.assign(new TypeError('fetch failed'), { cause });
    expect(classifyFetchFailure(wrap(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })))).toEqual({ beforeSend: true, code: 'ECONNREFUSED' });
    expect(classifyFetchFailure(wrap(Object.assign(new AggregateError([Object.assign(new Error('x'), { code: 'ENOTFOUND' })]))))).toEqual({ beforeSend: true, code: 'ENOTFOUND' });
    expect(classifyFetchFailure(wrap(Object.assign(new Error('x'), { code: 'ECONNRESET' })))).toEqual({ beforeSend: false, code: 'ECONNRESET' });
    expect(classifyFetchFailure(wrap(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })))).toEqual({ beforeSend: false, code: 'UND_ERR_SOCKET' });
    expect(classifyFetchFailure(new DOMException('t', 'TimeoutError'))).toEqual({ beforeSend: false, code: 'TIMEOUT' });
  });
});

describe('WahaClient against the simulator, every engine', () => {
  let sim: WahaSimulator | null = null;
  afterEach(async () => {
    await sim?.close();
    sim = null;
  });

  for (const engine of ['WEBJS', 'NOWEB', 'GOWS'] as const) {
    it(`${engine}: send, correlate, look up`, async () => {
      // Look-ups need NOWEB's store (without it WAHA answers 400), so the session is started with one.
      const config = { noweb: { store: { enabled: true, fullSync: true } } };
      sim = await startWahaSimulator({ engine, apiKey: 'k', ackDelaysMs: [5, 10, 15], sessions: [{ name: 'default', status: 'WORKING', paired: true, config }] });
      const c = new WahaClient({ baseUrl: sim.url, apiKey: 'k', session: 'default' });
      const reserved = await c.newMessageId();
      expect(reserved === null).toBe(engine === 'WEBJS');
      const exists = await c.checkExists(PHONE);
      expect(exists).toEqual({ numberExists: true, chatId: CHAT });
      const sent = await c.sendText({ chatId: CHAT, text: TEXT, id: reserved });
      expect(sent.engineShape).toBe(engine);
      const stored = sim.state.messages(CHAT);
      expect(stored).toHaveLength(1);
      expect(sent.messageId).toBe(stored[0]?.id);
      expect(sent.keyId).toBe(stored[0]?.keyId);
      if (reserved !== null) expect(sent.keyId).toBe(reserved);
      await sim.state.idle();
      expect(await c.getMessage(CHAT, sent.messageId ?? '')).toEqual({ id: sent.messageId, ack: 3, ackName: 'READ' });
      expect(await c.getMessage(CHAT, 'BAE5NOTTHERE')).toBeNull();
      const mine = await c.findOwnMessagesByText({ chatId: CHAT, text: TEXT, since: new Date(Date.now() - 60_000) });
      expect(mine.map((m) => m.id)).toEqual([sent.messageId]);
      expect(await c.findOwnMessagesByText({ chatId: CHAT, text: `${TEXT}!`, since: new Date(Date.now() - 60_000) })).toEqual([]);
    });
  }

  it('maps the simulator\'s injected faults to the error classes', async () => {
    sim = await startWahaSimulator({ engine: 'NOWEB', apiKey: 'k' });
    const c = new WahaClient({ baseUrl: sim.url, apiKey: 'k', session: 'default', timeoutMs: 2_000 });
    const send = () => c.sendText({ chatId: CHAT, text: TEXT });
    sim.state.injectFault({ type: 'unauthorized' });
    expect(await caught(send())).toBeInstanceOf(WahaAuthError);
    sim.state.injectFault({ type: 'session_not_found' });
    expect(await caught(send())).toBeInstanceOf(WahaSessionNotReadyError);
    sim.state.injectFault({ type: 'not_working', status: 'SCAN_QR_CODE' });
    const nw = await caught(send());
    expect((nw as WahaSessionNotReadyError).sessionStatus).toBe('SCAN_QR_CODE');
    sim.state.injectFault({ type: 'refused_463' });
    const refused = await caught(send());
    expect(refused).toBeInstanceOf(WahaRefusedError);
    expectNoPersonalData(refused);
    sim.state.injectFault({ type: 'server_error' });
    expect(await caught(send())).toBeInstanceOf(WahaAmbiguousError);
    expect(sim.state.messages(CHAT)).toHaveLength(0);
    const wrongKey = new WahaClient({ baseUrl: sim.url, apiKey: 'wrong', session: 'default' });
    expect(await caught(wrongKey.getSession())).toBeInstanceOf(WahaAuthError);
    expect(await caught(new WahaClient({ baseUrl: sim.url, apiKey: 'k', session: 'nope' }).sendText({ chatId: CHAT, text: TEXT }))).toBeInstanceOf(WahaSessionNotReadyError);
    const bad = await caught(c.sendText({ chatId: PHONE, text: TEXT }));
    expect(bad).toBeInstanceOf(WahaBadRequestError);
    expectNoPersonalData(bad);
  });

  it('slow 500 after the message was sent: ambiguous to the client, found by lookup', async () => {
    sim = await startWahaSimulator({ engine: 'GOWS' });
    const c = new WahaClient({ baseUrl: sim.url, session: 'default', timeoutMs: 300 });
    const reserved = await c.newMessageId();
    sim.state.injectFault({ type: 'slow_500_after_send', delayMs: 1_000 });
    const err = await caught(c.sendText({ chatId: CHAT, text: TEXT, id: reserved }));
    expect(err).toBeInstanceOf(WahaAmbiguousError);
    expect(err.message).toContain('no answer in time');
    expect(await c.getMessage(CHAT, reserved ?? '')).not.toBeNull();
    // Resending with the same reserved id does not create a second message.
    await c.sendText({ chatId: CHAT, text: TEXT, id: reserved });
    expect(sim.state.messages(CHAT)).toHaveLength(1);
  });

  it('NOWEB without its store: every look-up is a WahaStoreDisabledError (never "absent")', async () => {
    sim = await startWahaSimulator({ engine: 'NOWEB', sessions: [{ name: 'default', status: 'WORKING', paired: true }] });
    const c = new WahaClient({ baseUrl: sim.url, session: 'default' });
    const reserved = await c.newMessageId();
    await c.sendText({ chatId: CHAT, text: TEXT, id: reserved });
    for (const lookup of [c.getMessage(CHAT, reserved ?? ''), c.getMessage(CHAT, 'BAE5NOTTHERE'), c.listChatMessages(CHAT, { limit: 5 })]) {
      const err = await caught(lookup);
      expect(err).toBeInstanceOf(WahaStoreDisabledError);
      expect((err as WahaStoreDisabledError).kind).toBe('store_disabled');
    }
  });

  for (const engine of ['WEBJS', 'NOWEB', 'GOWS'] as const) {
    it(`${engine}: LIDs both ways, pn: null and unknown numbers`, async () => {
      const config = { noweb: { store: { enabled: true, fullSync: true } } };
      sim = await startWahaSimulator({ engine, sessions: [{ name: 'default', status: 'WORKING', paired: true, config }] });
      const c = new WahaClient({ baseUrl: sim.url, session: 'default' });
      const lid = sim.state.setLid(PHONE);
      expect(lid).toMatch(/^\d{15}@lid$/);
      expect(await c.lidForPhone(PHONE)).toBe(lid);
      expect(await c.phoneForLid(lid)).toBe(PHONE);
      expect(await c.lidForPhone('77019998877')).toBeNull();
      const hidden = sim.state.setLid('77015554433', { pnByLid: false });
      expect(await c.phoneForLid(hidden)).toBeNull();
      expect(await c.lidForPhone('77015554433')).toBe(hidden);
    });
  }

  it('empty 201 with a reserved id still yields the message id', async () => {
    sim = await startWahaSimulator({ engine: 'NOWEB' });
    const c = new WahaClient({ baseUrl: sim.url, session: 'default' });
    const reserved = await c.newMessageId();
    sim.state.injectFault({ type: 'empty_201' });
    const r = await c.sendText({ chatId: CHAT, text: TEXT, id: reserved });
    expect(r).toEqual({ messageId: `true_${CHAT}_${reserved}`, keyId: reserved, engineShape: 'EMPTY' });
    expect(sim.state.messages(CHAT)[0]?.id).toBe(r.messageId);
  });

  it('sessions: create via upsert, QR while SCAN_QR_CODE, start', async () => {
    sim = await startWahaSimulator({ engine: 'WEBJS', sessions: [], startDelayMs: 5 });
    const c = new WahaClient({ baseUrl: sim.url, session: 'shop-2' });
    expect(await c.getSession()).toBeNull();
    // Nobody listens on this port: no retries, so idle() does not wait out a retry schedule.
    const up = await c.upsertSessionConfig({ webhookUrl: 'http://127.0.0.1:9/webhooks/waha/x', hmacKey: 'k', retries: { policy: 'constant', delaySeconds: 0, attempts: 0 } });
    expect(up.created).toBe(true);
    await sim.state.idle();
    expect((await c.getSession())?.status).toBe('SCAN_QR_CODE');
    const qr1 = await c.getQr();
    const qr2 = await c.getQr();
    expect(qr1?.subarray(0, 4).toString('hex')).toBe('89504e47');
    expect(qr1?.equals(qr2 ?? Buffer.alloc(0))).toBe(false);
    sim.state.scanQr('shop-2');
    expect(await c.getQr()).toBeNull();
    expect((await c.listSessions()).map((s) => [s.name, s.status])).toEqual([['shop-2', 'WORKING']]);
    sim.state.setSessionStatus('shop-2', 'STOPPED');
    expect((await c.startSession()).status).toBe('STARTING');
    await sim.state.idle();
    expect((await c.getSession())?.status).toBe('WORKING');
  });
});
