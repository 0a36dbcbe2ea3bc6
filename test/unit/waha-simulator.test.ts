import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyWebhookHmac } from '../../lib/waha/webhooks.ts';
import { startWahaSimulator, type SimEngine, type WahaSimulator, type WahaSimulatorOptions } from '../../simulators/waha/server.ts';

const PHONE = '77011234567';
const CHAT = `${PHONE}@c.us`;
const KEY = 'api-key-1';
const HMAC = 'hmac-secret';

interface Delivery {
  at: number;
  headers: IncomingHttpHeaders;
  raw: string;
  body: { id: string; event: string; session: string; payload: Record<string, unknown> & { ack?: number; id?: string } };
}

/** Collects webhook deliveries; `statusFor` lets a test answer with errors to exercise retries. */
async function startReceiver(statusFor: (n: number) => number = () => 200) {
  const received: Delivery[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      received.push({ at: Date.now(), headers: req.headers, raw, body: JSON.parse(raw) as Delivery['body'] });
      res.statusCode = statusFor(received.length);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/waha/store-1`,
    received,
    of: (event: string) => received.filter((d) => d.body.event === event),
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

let sim: WahaSimulator | null = null;
let receiver: Receiver | null = null;
afterEach(async () => {
  await sim?.close();
  await receiver?.close();
  sim = null;
  receiver = null;
});

async function boot(engine: SimEngine, opts: Partial<WahaSimulatorOptions> = {}, webhooks = true) {
  sim = await startWahaSimulator({ engine, apiKey: KEY, ackDelaysMs: [10, 20, 30], ...opts });
  receiver = await startReceiver();
  if (webhooks) {
    sim.state.addSession('default', { status: 'WORKING', paired: true, config: {
      webhooks: [{ url: receiver.url, events: ['message.ack', 'message.any', 'session.status', 'message'], hmac: { key: HMAC } }],
      webjs: { tagsEventsOn: true },
    } });
  }
  return { sim, receiver };
}

function api(path: string, init: { method?: string; body?: unknown; key?: string | null; accept?: string } = {}) {
  if (!sim) throw new Error('simulator not started');
  const headers: Record<string, string> = { accept: init.accept ?? 'application/json' };
  const key = init.key === undefined ? KEY : init.key;
  if (key !== null) headers['x-api-key'] = key;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${sim.url}${path}`, { method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
}

const send = (text = 'Ваш заказ принят', extra: Record<string, unknown> = {}) =>
  api('/api/sendText', { body: { session: 'default', chatId: CHAT, text, ...extra } });

describe('contract enforcement', () => {
  it('401 with WAHA\'s body for a missing or wrong key; control endpoints need none', async () => {
    await boot('NOWEB');
    for (const key of [null, 'wrong']) {
      const res = await api('/api/sessions/default', { key });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ message: 'Unauthorized', statusCode: 401 });
    }
    expect((await api('/api/sessions/default')).status).toBe(200);
    expect((await api('/_sim/state', { key: null })).status).toBe(200);
  });

  it('404 for an unknown or stopped session, with WAHA\'s body', async () => {
    await boot('NOWEB');
    const res = await api('/api/sendText', { body: { session: 'ghost', chatId: CHAT, text: 'x' } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      statusCode: 404,
      message: "We didn't find a session with name 'ghost'. Please start it first by using POST /api/sessions/ghost/start request",
      error: 'Not Found',
    });
    sim?.state.setSessionStatus('default', 'STOPPED');
    expect((await send()).status).toBe(404);
  });

  it('422 without statusCode while the session is not WORKING', async () => {
    await boot('GOWS');
    sim?.state.setSessionStatus('default', 'SCAN_QR_CODE');
    const res = await send();
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({
      error: 'Session status is not as expected. Try again later or restart the session',
      session: 'default',
      status: 'SCAN_QR_CODE',
      expected: ['WORKING'],
    });
    expect(sim?.state.messages(CHAT)).toEqual([]);
  });

  it('waits for a STARTING session like WAHA before answering', async () => {
    await boot('NOWEB', { notWorkingWaitMs: 2_000, startDelayMs: 100 });
    sim?.state.start('default');
    expect(sim?.state.sessionStatus('default')).toBe('STARTING');
    expect((await send()).status).toBe(201);
  });

  it('400 for invalid bodies', async () => {
    await boot('NOWEB');
    for (const body of [{ session: 'default', chatId: CHAT }, { session: 'default', chatId: PHONE, text: 'x' }, { chatId: CHAT, text: 'x' }]) {
      const res = await api('/api/sendText', { body });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    }
    const notJson = await fetch(`${sim?.url}/api/sendText`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);
    expect((await api('/api/contacts/check-exists?session=default')).status).toBe(400);
  });
});

describe('engines', () => {
  it('WEBJS: id object with _serialized, ignores a caller id, no new-message-id (501)', async () => {
    await boot('WEBJS');
    const reserve = await api('/api/default/new-message-id');
    expect(reserve.status).toBe(501);
    expect(await reserve.json()).toEqual({
      message: "The method is not implemented by 'WEBJS' engine. Check the docs and try another engine: https://waha.devlike.pro/",
      error: 'Not Implemented',
      statusCode: 501,
    });
    const res = await send('a', { id: 'CALLERID' });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: { _serialized: string; id: string; fromMe: boolean; remote: string } };
    expect(body.id.fromMe).toBe(true);
    expect(body.id.remote).toBe(CHAT);
    expect(body.id.id).not.toBe('CALLERID');
    expect(body.id._serialized).toBe(`true_${CHAT}_${body.id.id}`);
    expect(sim?.state.messages(CHAT)[0]?.id).toBe(body.id._serialized);
  });

  it('NOWEB: {key:{remoteJid,fromMe,id}}, honours the reserved id', async () => {
    await boot('NOWEB');
    const { id } = (await (await api('/api/default/new-message-id')).json()) as { id: string };
    expect(id).toMatch(/^BAE5[0-9A-F]{12}$/);
    const body = (await (await send('b', { id })).json()) as { key: { remoteJid: string; fromMe: boolean; id: string }; status: string; messageTimestamp: string };
    expect(body.key).toEqual({ remoteJid: `${PHONE}@s.whatsapp.net`, fromMe: true, id });
    expect(body.status).toBe('PENDING');
    expect(sim?.state.messages(CHAT)[0]?.id).toBe(`true_${CHAT}_${id}`);
  });

  it('GOWS: {id, _data}, honours the reserved id, a resend with it does not duplicate', async () => {
    await boot('GOWS');
    const { id } = (await (await api('/api/default/new-message-id')).json()) as { id: string };
    const body = (await (await send('c', { id })).json()) as { id: string; _data: object };
    expect(body.id).toBe(`true_${CHAT}_${id}`);
    expect(body._data).toBeTypeOf('object');
    expect((await send('c', { id })).status).toBe(201);
    expect(sim?.state.messages(CHAT)).toHaveLength(1);
  });
});

describe('webhooks', () => {
  it('signs every delivery and sends message.any then acks 0→1→2→3', async () => {
    const { sim: s, receiver: r } = await boot('NOWEB');
    const res = await send('Привет');
    const { key } = (await res.json()) as { key: { id: string } };
    await s.state.idle();
    const messageId = `true_${CHAT}_${key.id}`;
    expect(r.of('message.any').map((d) => d.body.payload)).toEqual([expect.objectContaining({ id: messageId, fromMe: true, source: 'api', body: 'Привет' })]);
    expect(r.of('message.ack').map((d) => [d.body.payload.id, d.body.payload.ack])).toEqual([[messageId, 0], [messageId, 1], [messageId, 2], [messageId, 3]]);
    for (const d of r.received) {
      expect(verifyWebhookHmac(d.raw, d.headers['x-webhook-hmac'] as string, HMAC)).toBe(true);
      expect(d.headers['x-webhook-hmac-algorithm']).toBe('sha512');
      expect(d.headers['x-webhook-request-id']).toMatch(/^req_/);
      expect(Number(d.headers['x-webhook-timestamp'])).toBeGreaterThan(Date.now() - 60_000);
      expect(d.body.id).toMatch(/^evt_[0-9a-z]{26}$/);
      expect(d.body.session).toBe('default');
    }
    expect(new Set(r.received.map((d) => d.body.id)).size).toBe(r.received.length);
    expect(s.state.messages(CHAT)[0]?.ack).toBe(3);
  });

  it('WEBJS sends acks only with config.webjs.tagsEventsOn', async () => {
    const { sim: s, receiver: r } = await boot('WEBJS', {}, false);
    s.state.addSession('default', { status: 'WORKING', paired: true, config: { webhooks: [{ url: r.url, events: ['message.ack', 'message.any'] }] } });
    await send();
    await s.state.idle();
    expect(r.of('message.any')).toHaveLength(1);
    expect(r.of('message.ack')).toHaveLength(0);
    // Unsigned without an hmac key, as WAHA does.
    expect(r.received[0]?.headers['x-webhook-hmac']).toBeUndefined();
  });

  it('a config PUT restarts the session and reports session.status to the new webhook', async () => {
    const { sim: s, receiver: r } = await boot('GOWS', { startDelayMs: 5 }, false);
    const res = await api('/api/sessions/default', { method: 'PUT', body: { name: 'default', config: { webhooks: [{ url: r.url, events: ['session.status'], hmac: { key: HMAC } }] } } });
    expect(res.status).toBe(200);
    await s.state.idle();
    expect(r.of('session.status').map((d) => d.body.payload.status)).toEqual(['STARTING', 'WORKING']);
    s.state.setSessionStatus('default', 'FAILED');
    await s.state.idle();
    expect(r.of('session.status').at(-1)?.body.payload).toMatchObject({ name: 'default', status: 'FAILED' });
    expect(s.state.sessionConfig('default')).toMatchObject({ webhooks: [{ url: r.url }] });
  });

  it('delivers a buyer\'s message as `message`', async () => {
    const { sim: s, receiver: r } = await boot('NOWEB');
    s.state.receiveMessage('+7 701 123 45 67', 'СТОП');
    const viaHttp = await api('/_sim/messages/incoming', { key: null, body: { from: CHAT, body: 'Спасибо' } });
    expect(viaHttp.status).toBe(201);
    await s.state.idle();
    expect(r.of('message').map((d) => [d.body.payload.from, d.body.payload.fromMe, d.body.payload.body])).toEqual([[CHAT, false, 'СТОП'], [CHAT, false, 'Спасибо']]);
    expect(s.state.messages(CHAT).map((m) => m.fromMe)).toEqual([false, false]);
  });

  it('retries a failed delivery with the same envelope id', async () => {
    sim = await startWahaSimulator({ engine: 'NOWEB', webhookRetryDelayMs: 5 });
    receiver = await startReceiver((n) => (n === 1 ? 500 : 200));
    sim.state.addSession('default', { status: 'STOPPED', paired: true, config: { webhooks: [{ url: receiver.url, events: ['session.status'], retries: { attempts: 3, delaySeconds: 2, policy: 'constant' } }] } });
    sim.state.setSessionStatus('default', 'WORKING');
    await sim.state.idle();
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[0]?.body.id).toBe(receiver.received[1]?.body.id);
    expect(sim.state.webhooks.map((w) => [w.attempt, w.status])).toEqual([[1, 500], [2, 200]]);
  });
});

describe('faults', () => {
  it('duplicate_webhooks: every event about the message twice, same envelope id', async () => {
    const { sim: s, receiver: r } = await boot('NOWEB');
    s.state.injectFault({ type: 'duplicate_webhooks' });
    await send();
    await s.state.idle();
    const acks = r.of('message.ack');
    expect(acks.map((d) => d.body.payload.ack)).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    expect(acks[0]?.body.id).toBe(acks[1]?.body.id);
    expect(acks[0]?.headers['x-webhook-request-id']).not.toBe(acks[1]?.headers['x-webhook-request-id']);
    expect(r.of('message.any')).toHaveLength(2);
  });

  it('missing_acks: none at all, or stopping after SERVER', async () => {
    const { sim: s, receiver: r } = await boot('GOWS');
    s.state.injectFault({ type: 'missing_acks' });
    s.state.injectFault({ type: 'missing_acks', upTo: 1 });
    await send('first');
    await send('second');
    await s.state.idle();
    expect(s.state.messages(CHAT).map((m) => m.ack)).toEqual([0, 1]);
    // None at all for the first; PENDING then SERVER for the second.
    expect(r.of('message.ack').map((d) => d.body.payload.ack)).toEqual([0, 1]);
  });

  it('ack_error: SERVER then ERROR (−1)', async () => {
    const { sim: s, receiver: r } = await boot('NOWEB');
    s.state.injectFault({ type: 'ack_error' });
    await send();
    await s.state.idle();
    expect(r.of('message.ack').map((d) => [d.body.payload.ack, d.body.payload.ackName])).toEqual([[0, 'PENDING'], [1, 'SERVER'], [-1, 'ERROR']]);
    expect(s.state.messages(CHAT)[0]?.ack).toBe(-1);
  });

  it('ack_before_response: the SERVER ack is delivered before the 201 arrives', async () => {
    const { sim: s, receiver: r } = await boot('NOWEB', { ackDelaysMs: [500, 600, 700] });
    s.state.injectFault({ type: 'ack_before_response' });
    const res = await send();
    expect(res.status).toBe(201);
    // Checked right after the response: the ack is already there although its timer is 500 ms.
    expect(r.of('message.ack').map((d) => d.body.payload.ack)).toEqual([0, 1]);
    await s.state.idle();
    expect(r.of('message.ack').map((d) => d.body.payload.ack)).toEqual([0, 1, 2, 3]);
  });

  it('slow_500_after_send: stored and acked, then a 500 echoing the request', async () => {
    const { sim: s, receiver: r } = await boot('GOWS');
    s.state.injectFault({ type: 'slow_500_after_send', delayMs: 150 });
    const started = Date.now();
    const res = await send('Секретный текст');
    expect(res.status).toBe(500);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const body = (await res.json()) as { statusCode: number; exception: { message: string }; request: { body: { text: string } } };
    expect(body.statusCode).toBe(500);
    expect(body.request.body.text).toBe('Секретный текст');
    expect(s.state.messages(CHAT)).toHaveLength(1);
    await s.state.idle();
    expect(r.of('message.ack')).toHaveLength(4);
  });

  it('refused_463: a 500 naming error 463, nothing sent', async () => {
    const { sim: s } = await boot('NOWEB');
    s.state.injectFault({ type: 'refused_463' });
    const res = await send();
    expect(res.status).toBe(500);
    expect(((await res.json()) as { exception: { message: string } }).exception.message).toMatch(/\b463\b/);
    expect(s.state.messages(CHAT)).toEqual([]);
  });

  it('empty_201: sent, empty body', async () => {
    const { sim: s } = await boot('WEBJS');
    s.state.injectFault({ type: 'empty_201' });
    const res = await send();
    expect(res.status).toBe(201);
    expect(await res.text()).toBe('');
    expect(s.state.messages(CHAT)).toHaveLength(1);
  });

  it('reset_after_send: the connection drops, the message exists', async () => {
    const { sim: s } = await boot('NOWEB');
    s.state.injectFault({ type: 'reset_after_send' });
    await expect(send()).rejects.toThrow();
    expect(s.state.messages(CHAT)).toHaveLength(1);
  });

  it('401/404/422/500 faults, N times, targeted at an operation', async () => {
    const { sim: s } = await boot('NOWEB');
    s.state.injectFault({ type: 'not_working', status: 'STARTING' }, { times: 2 });
    expect((await send()).status).toBe(422);
    expect((await send()).status).toBe(422);
    expect((await send()).status).toBe(201);
    s.state.injectFault({ type: 'unauthorized' });
    expect((await send()).status).toBe(401);
    s.state.injectFault({ type: 'session_not_found' }, { op: 'checkExists' });
    expect((await send()).status).toBe(201);
    expect((await api(`/api/contacts/check-exists?phone=${PHONE}&session=default`)).status).toBe(404);
    s.state.injectFault({ type: 'server_error' }, { op: 'any' });
    expect((await api('/api/default/new-message-id')).status).toBe(500);
    expect(() => s.state.injectFault({ type: 'empty_201' }, { op: 'getSession' })).toThrow(/only applies to sends/);
  });

  it('faults can be injected and cleared over HTTP', async () => {
    const { sim: s } = await boot('NOWEB');
    const ok = await api('/_sim/faults', { key: null, body: { type: 'refused_463', times: 2 } });
    expect(ok.status).toBe(201);
    expect(s.state.pendingFaults()).toEqual([{ fault: { type: 'refused_463' }, op: 'sendText', remaining: 2 }]);
    expect((await send()).status).toBe(500);
    expect((await api('/_sim/faults', { key: null, body: { type: 'no_such_fault' } })).status).toBe(400);
    expect((await api('/_sim/faults', { key: null, method: 'DELETE' })).status).toBe(204);
    expect((await send()).status).toBe(201);
  });
});

describe('numbers, messages, sessions, QR', () => {
  it('check-exists: registered unless marked; an unregistered number never gets past SERVER', async () => {
    const { sim: s, receiver: r } = await boot('NOWEB');
    expect(await (await api(`/api/contacts/check-exists?phone=${PHONE}&session=default`)).json()).toEqual({ numberExists: true, chatId: CHAT });
    expect((await api('/_sim/unregistered', { key: null, body: { phone: '+7 700 000 00 00' } })).status).toBe(204);
    expect(await (await api('/api/contacts/check-exists?phone=77000000000&session=default')).json()).toEqual({ numberExists: false });
    await api('/api/sendText', { body: { session: 'default', chatId: '77000000000@c.us', text: 'x' } });
    await s.state.idle();
    expect(r.of('message.ack').map((d) => d.body.payload.ack)).toEqual([0, 1]);
  });

  it('message lookup by id and chat listing with filters', async () => {
    const { sim: s } = await boot('GOWS');
    const a = (await (await send('one')).json()) as { id: string };
    s.state.receiveMessage(PHONE, 'reply');
    await send('two');
    await s.state.idle();
    const one = (await (await api(`/api/default/chats/${encodeURIComponent(CHAT)}/messages/${encodeURIComponent(a.id)}`)).json()) as { id: string; ack: number; ackName: string };
    expect(one).toMatchObject({ id: a.id, ack: 3, ackName: 'READ', body: 'one', fromMe: true });
    expect((await api(`/api/default/chats/${CHAT}/messages/true_${CHAT}_NOPE`)).status).toBe(404);
    const mine = (await (await api(`/api/default/chats/${CHAT}/messages?limit=10&filter.fromMe=true`)).json()) as { body: string }[];
    expect(mine.map((m) => m.body)).toEqual(['two', 'one']);
    const limited = (await (await api(`/api/default/chats/${CHAT}/messages?limit=1&sortOrder=asc`)).json()) as { body: string }[];
    expect(limited.map((m) => m.body)).toEqual(['one']);
    const future = Math.floor(Date.now() / 1000) + 3600;
    expect(await (await api(`/api/default/chats/${CHAT}/messages?limit=10&filter.timestamp.gte=${future}`)).json()).toEqual([]);
  });

  it('session lifecycle over the API: create → SCAN_QR_CODE → scan → WORKING, stop, start', async () => {
    const { sim: s, receiver: r } = await boot('NOWEB', { startDelayMs: 5 }, false);
    const created = await api('/api/sessions', { body: { name: 'shop-2', config: { webhooks: [{ url: r.url, events: ['session.status'] }] } } });
    expect(created.status).toBe(201);
    expect((await api('/api/sessions', { body: { name: 'shop-2' } })).status).toBe(422);
    await s.state.idle();
    expect(((await (await api('/api/sessions/shop-2')).json()) as { status: string }).status).toBe('SCAN_QR_CODE');
    expect((await api('/_sim/sessions/shop-2/scan', { key: null, method: 'POST' })).status).toBe(200);
    expect((await api('/api/sessions/shop-2/stop', { method: 'POST' })).status).toBe(201);
    const listed = (await (await api('/api/sessions')).json()) as { name: string }[];
    expect(listed.map((x) => x.name)).toEqual(['default']);
    expect(((await (await api('/api/sessions?all=true')).json()) as { name: string }[]).map((x) => x.name)).toEqual(['default', 'shop-2']);
    expect((await api('/api/sessions/shop-2/start', { method: 'POST' })).status).toBe(201);
    await s.state.idle();
    expect(r.of('session.status').map((d) => d.body.payload.status)).toEqual(['STARTING', 'SCAN_QR_CODE', 'WORKING', 'STOPPED', 'STARTING', 'WORKING']);
    expect((await api('/api/sessions/ghost', { method: 'PUT', body: { config: {} } })).status).toBe(404);
    expect((await api('/_sim/sessions/default/status', { key: null, body: { status: 'FAILED' } })).status).toBe(200);
    expect(s.state.sessionStatus('default')).toBe('FAILED');
  });

  it('QR: a new PNG each fetch, JSON and raw forms, 422 outside SCAN_QR_CODE', async () => {
    const { sim: s } = await boot('WEBJS');
    expect((await api('/api/default/auth/qr?format=image')).status).toBe(422);
    s.state.setSessionStatus('default', 'SCAN_QR_CODE');
    const png1 = Buffer.from(await (await api('/api/default/auth/qr?format=image', { accept: 'image/png' })).arrayBuffer());
    const res2 = await api('/api/default/auth/qr?format=image', { accept: 'image/png' });
    expect(res2.headers.get('content-type')).toBe('image/png');
    const png2 = Buffer.from(await res2.arrayBuffer());
    expect(png1.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(png1.equals(png2)).toBe(false);
    const asJson = (await (await api('/api/default/auth/qr?format=image', { accept: 'application/json' })).json()) as { mimetype: string; data: string };
    expect(asJson.mimetype).toBe('image/png');
    expect(Buffer.from(asJson.data, 'base64').subarray(1, 4).toString()).toBe('PNG');
    const raw = (await (await api('/api/default/auth/qr?format=raw')).json()) as { value: string };
    expect(raw.value).toMatch(/^2@/);
    expect((await api('/api/default/auth/qr?format=svg')).status).toBe(400);
  });

  it('logs API requests for assertions', async () => {
    const { sim: s } = await boot('NOWEB');
    await send('logged', { id: 'BAE5LOG' });
    await api('/api/sessions/default', { key: 'wrong' });
    const [first, second] = s.state.requests;
    expect(first).toMatchObject({ method: 'POST', path: '/api/sendText', status: 201, apiKey: KEY, body: { chatId: CHAT, text: 'logged', id: 'BAE5LOG' } });
    expect(second).toMatchObject({ method: 'GET', path: '/api/sessions/default', status: 401, apiKey: 'wrong' });
    const viaHttp = (await (await api('/_sim/requests', { key: null })).json()) as unknown[];
    expect(viaHttp).toHaveLength(2);
  });

  it('/_sim/chats shows chats like a buyer sees them, escaped, in Russian, without external assets', async () => {
    const { sim: s } = await boot('NOWEB');
    s.state.injectFault({ type: 'missing_acks' });
    await send('<script>alert(1)</script>');
    await send('Второе сообщение');
    s.state.receiveMessage(PHONE, 'Спасибо!');
    await s.state.idle();
    s.state.setSessionStatus('default', 'SCAN_QR_CODE');
    const res = await api('/_sim/chats', { key: null, accept: 'text/html' });
    const html = await res.text();
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(html).toContain('lang="ru"');
    expect(html).toContain(`Чат с +${PHONE}`);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>');
    expect(html).toContain('title="Прочитано"');
    expect(html).toContain('title="Ожидает отправки"');
    expect(html).toContain('Спасибо!');
    expect(html).toContain('Отсканировать QR');
    expect(html).not.toMatch(/(src|href)=["']?https?:/);
    expect(html).not.toMatch(/<link\b/);
  });
});

// ---- behaviour taken from WAHA's source and issue tracker ----------------------------------------

const STORE_ERROR = {
  message: 'Enable NOWEB store "config.noweb.store.enabled=True" and "config.noweb.store.full_sync=True" when starting a new session. Read more: https://waha.devlike.pro/docs/engines/noweb#store',
  error: 'Bad Request',
  statusCode: 400,
};

function hooks(r: Receiver, extra: Record<string, unknown> = {}) {
  return { webhooks: [{ url: r.url, events: ['message.ack', 'message.any', 'session.status', 'message'], hmac: { key: HMAC } }], webjs: { tagsEventsOn: true }, ...extra };
}

const gapsOf = (ats: number[]) => ats.slice(1).map((at, i) => at - (ats[i] ?? at));

describe('time scale', () => {
  it('secondMs scales WAHA\'s 5-second wait for a STARTING session', async () => {
    await boot('NOWEB', { secondMs: 20, startDelayMs: 5_000 });
    sim?.state.start('default');
    const started = Date.now();
    const res = await send();
    const waited = Date.now() - started;
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ status: 'STARTING', expected: ['WORKING'] });
    expect(waited).toBeGreaterThanOrEqual(95);
    expect(waited).toBeLessThan(2_000);
  });
});

describe('NOWEB store (NowebInMemoryStore)', () => {
  const reads = [
    '/api/default/chats',
    `/api/default/chats/${encodeURIComponent(CHAT)}/messages?limit=10`,
    `/api/default/chats/${encodeURIComponent(CHAT)}/messages/${encodeURIComponent(`true_${CHAT}_BAE5AAAA`)}`,
    '/api/default/lids',
    `/api/default/lids/pn/${PHONE}`,
  ];

  it('without config.noweb.store.enabled every chat, message and LID read answers 400', async () => {
    await boot('NOWEB');
    expect((await send('x')).status).toBe(201);
    for (const path of reads) {
      const res = await api(path);
      expect(res.status, path).toBe(400);
      expect(await res.json()).toEqual(STORE_ERROR);
    }
  });

  it('with the store the reads work; a config change counts from the next start', async () => {
    const { sim: s, receiver: r } = await boot('NOWEB', { startDelayMs: 5 }, false);
    s.state.addSession('default', { status: 'WORKING', paired: true, config: hooks(r, { noweb: { store: { enabled: true, fullSync: true } } }) });
    const sent = (await (await send('с хранилищем')).json()) as { key: { id: string } };
    expect((await api('/api/default/chats')).status).toBe(200);
    const one = await api(`/api/default/chats/${CHAT}/messages/true_${CHAT}_${sent.key.id}`);
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ body: 'с хранилищем', fromMe: true });
    // Switched off in the config, but the running engine still has its store …
    s.state.updateConfig('default', hooks(r));
    expect((await api('/api/default/chats')).status).toBe(200);
    // … until it starts again.
    s.state.start('default');
    await s.state.idle();
    expect((await api('/api/default/chats')).status).toBe(400);
    // A PUT restarts the session with the new config.
    expect((await api('/api/sessions/default', { method: 'PUT', body: { config: hooks(r, { noweb: { store: { enabled: true, fullSync: true } } }) } })).status).toBe(200);
    await s.state.idle();
    expect(s.state.sessionStatus('default')).toBe('WORKING');
    const chats = (await (await api('/api/default/chats')).json()) as { id: string }[];
    expect(chats.map((c) => c.id)).toEqual([CHAT]);
  });

  it('WEBJS and GOWS always have their reads', async () => {
    for (const engine of ['WEBJS', 'GOWS'] as const) {
      await boot(engine);
      await send('x');
      for (const path of reads.slice(0, 2)) expect((await api(path)).status, `${engine} ${path}`).toBe(200);
      await sim?.close();
      await receiver?.close();
      sim = null;
      receiver = null;
    }
  });
});

describe('LIDs (lids.controller.ts)', () => {
  it('setLid registers a 15-digit LID; /lids/{lid} and /lids/pn/{phone} answer {lid, pn}', async () => {
    const { sim: s } = await boot('GOWS');
    const lid = s.state.setLid(PHONE);
    expect(lid).toMatch(/^[1-9]\d{14}@lid$/);
    const bare = lid.replace('@lid', '');
    for (const path of [`/api/default/lids/${bare}`, `/api/default/lids/${encodeURIComponent(lid)}`, `/api/default/lids/${lid}`]) {
      expect(await (await api(path)).json()).toEqual({ lid, pn: CHAT });
    }
    expect(await (await api(`/api/default/lids/pn/${PHONE}`)).json()).toEqual({ lid, pn: CHAT });
    expect(await (await api(`/api/default/lids/pn/${encodeURIComponent(CHAT)}`)).json()).toEqual({ lid, pn: CHAT });
    // Unknown either way: 200 with nulls, not 404.
    expect(await (await api('/api/default/lids/111111111111111')).json()).toEqual({ lid: '111111111111111@lid', pn: null });
    expect(await (await api('/api/default/lids/pn/77019999999')).json()).toEqual({ lid: null, pn: '77019999999@c.us' });
    // A LID passed as the number comes back as is.
    expect(await (await api(`/api/default/lids/pn/${lid}`)).json()).toEqual({ lid, pn: null });
    const invalid = await api(`/api/default/lids/${encodeURIComponent(CHAT)}`);
    expect(invalid.status).toBe(422);
    expect(await invalid.json()).toEqual({ message: 'Invalid LID - it must end with @lid', error: 'Unprocessable Entity', statusCode: 422 });
    expect(await (await api('/api/default/lids')).json()).toEqual([{ lid, pn: CHAT }]);
    expect(await (await api('/api/default/lids/count')).json()).toEqual({ count: 1 });
  });

  it('pnByLid: false → pn null (#1097, #1712); lidByPn: false → the LID is unknown by number', async () => {
    const { sim: s } = await boot('WEBJS');
    const hidden = s.state.setLid(PHONE, { pnByLid: false });
    expect(await (await api(`/api/default/lids/${hidden}`)).json()).toEqual({ lid: hidden, pn: null });
    expect(await (await api('/api/default/lids/count')).json()).toEqual({ count: 0 });
    const other = s.state.setLid('77017654321', { lid: '245896994390182', lidByPn: false });
    expect(other).toBe('245896994390182@lid');
    expect(await (await api('/api/default/lids/pn/77017654321')).json()).toEqual({ lid: null, pn: '77017654321@c.us' });
    expect(await (await api(`/api/default/lids/${other}`)).json()).toEqual({ lid: other, pn: '77017654321@c.us' });
  });

  it('NOWEB: a buyer writing from a LID has no phone except in _data.key.remoteJidAlt', async () => {
    const { sim: s, receiver: r } = await boot('NOWEB');
    const lid = s.state.setLid(PHONE);
    const hidden = s.state.setLid('77017654321', { remoteJidAlt: false });
    const msg = s.state.receiveMessage(PHONE, 'СТОП', { viaLid: true });
    s.state.receiveMessage(hidden, 'стоп');
    await s.state.idle();
    expect(msg.chatId).toBe(lid);
    const [first, second] = r.of('message');
    const p1 = first?.body.payload as { from: string; id: string; _data: { key: Record<string, unknown> } };
    expect(p1.from).toBe(lid);
    expect(p1.id).toBe(`false_${lid}_${msg.keyId}`);
    expect(p1._data.key).toMatchObject({ remoteJid: lid, fromMe: false, remoteJidAlt: `${PHONE}@s.whatsapp.net` });
    const p2 = second?.body.payload as { from: string; _data: { key: Record<string, unknown> } };
    expect(p2.from).toBe(hidden);
    expect(p2._data.key.remoteJidAlt).toBeUndefined();
    expect(p2._data.key.senderPn).toBeUndefined();
    expect(JSON.stringify(second?.body.payload)).not.toContain('77017654321');
    expect(r.of('message.any').map((d) => d.body.payload.from)).toEqual([lid, hidden]);
    expect(s.state.messages(lid).map((m) => m.body)).toEqual(['СТОП']);
  });

  it('WEBJS and GOWS: a LID message carries only the LID; a send to the phone chat still works', async () => {
    for (const engine of ['WEBJS', 'GOWS'] as const) {
      const { sim: s, receiver: r } = await boot(engine);
      const lid = s.state.setLid(PHONE);
      s.state.receiveMessage(PHONE, 'СТОП', { viaLid: true });
      await s.state.idle();
      const payload = r.of('message')[0]?.body.payload as { from: string; _data: { from?: string; Info?: { Chat: string; Sender: string } } };
      expect(payload.from).toBe(lid);
      expect(JSON.stringify(payload)).not.toContain(PHONE);
      if (engine === 'GOWS') expect(payload._data.Info).toMatchObject({ Chat: lid, Sender: lid });
      else expect(payload._data.from).toBe(lid);
      expect((await send('ответ')).status).toBe(201);
      await sim?.close();
      await receiver?.close();
      sim = null;
      receiver = null;
    }
  });
});

describe('message.any echoes and acks', () => {
  it('every API send is echoed as message.any with source "api"; a buyer\'s message has no source', async () => {
    const { sim: s, receiver: r } = await boot('GOWS');
    const { id } = (await (await api('/api/default/new-message-id')).json()) as { id: string };
    await send('Ваш заказ принят', { id });
    s.state.receiveMessage(PHONE, 'Спасибо');
    await s.state.idle();
    const [echo, incoming] = r.of('message.any').map((d) => d.body.payload);
    expect(echo).toMatchObject({ id: `true_${CHAT}_${id}`, fromMe: true, source: 'api', to: CHAT, body: 'Ваш заказ принят' });
    expect(incoming).toMatchObject({ fromMe: false, from: CHAT, body: 'Спасибо' });
    expect(incoming).not.toHaveProperty('source');
    // Look-ups come from the store, which does not know who sent a message.
    const looked = (await (await api(`/api/default/chats/${CHAT}/messages/true_${CHAT}_${id}`)).json()) as Record<string, unknown>;
    expect(looked).not.toHaveProperty('source');
  });

  it('acks fault: exactly the given sequence; the stored ack never goes down', async () => {
    const { sim: s, receiver: r } = await boot('NOWEB');
    s.state.injectFault({ type: 'acks', sequence: [0, 3, 1, 2, 2, 4] });
    await send();
    await s.state.idle();
    expect(r.of('message.ack').map((d) => [d.body.payload.ack, d.body.payload.ackName])).toEqual([
      [0, 'PENDING'], [3, 'READ'], [1, 'SERVER'], [2, 'DEVICE'], [2, 'DEVICE'], [4, 'PLAYED'],
    ]);
    expect(s.state.messages(CHAT)[0]?.ack).toBe(4);
    s.state.injectFault({ type: 'acks', sequence: [3, 1] });
    await send('second');
    await s.state.idle();
    expect(s.state.messages(CHAT)[1]?.ack).toBe(3);
    expect(() => s.state.injectFault({ type: 'acks', sequence: [5] })).toThrow();
  });

  it('stallAcks: sends succeed but stay PENDING (#1721, #1379); un-stalling delivers the held acks', async () => {
    const { sim: s, receiver: r } = await boot('GOWS');
    s.state.stallAcks('default', true);
    const a = (await (await send('first')).json()) as { id: string };
    const b = (await (await send('second')).json()) as { id: string };
    await s.state.idle();
    expect(s.state.sessionStatus('default')).toBe('WORKING');
    expect(r.of('message.ack').map((d) => d.body.payload.ack)).toEqual([0, 0]);
    expect(s.state.messages(CHAT).map((m) => m.ack)).toEqual([0, 0]);
    expect(await (await api(`/api/default/chats/${CHAT}/messages/${a.id}`)).json()).toMatchObject({ ack: 0, ackName: 'PENDING' });
    expect((await api('/_sim/sessions/default/stall-acks', { key: null, body: { stalled: false } })).status).toBe(200);
    await s.state.idle();
    const byId = (id: string) => r.of('message.ack').filter((d) => d.body.payload.id === id).map((d) => d.body.payload.ack);
    expect(byId(a.id)).toEqual([0, 1, 2, 3]);
    expect(byId(b.id)).toEqual([0, 1, 2, 3]);
    expect(s.state.messages(CHAT).map((m) => m.ack)).toEqual([3, 3]);
    const c = (await (await send('third')).json()) as { id: string };
    await s.state.idle();
    expect(byId(c.id)).toEqual([0, 1, 2, 3]);
  });
});

describe('session states', () => {
  it('PASSKEY_* and unknown states are reported as is and are not WORKING', async () => {
    const { sim: s, receiver: r } = await boot('NOWEB', { secondMs: 1 });
    for (const status of ['PASSKEY_REQUIRED', 'PASSKEY_CONFIRMATION_REQUIRED', 'SOMETHING_NEW']) {
      s.state.setSessionStatus('default', status);
      expect(((await (await api('/api/sessions/default')).json()) as { status: string }).status).toBe(status);
      const res = await send();
      expect(res.status).toBe(422);
      expect(await res.json()).toMatchObject({ status, expected: ['WORKING'] });
    }
    await s.state.idle();
    expect(r.of('session.status').map((d) => d.body.payload.status)).toEqual(['PASSKEY_REQUIRED', 'PASSKEY_CONFIRMATION_REQUIRED', 'SOMETHING_NEW']);
    expect((await api('/_sim/sessions/default/status', { key: null, body: { status: 'PASSKEY_REQUIRED' } })).status).toBe(200);
    expect(s.state.sessionStatus('default')).toBe('PASSKEY_REQUIRED');
  });

  it('GET /api/sessions/{name}: config with webhooks as WAHA echoes them, engine, me with lid on NOWEB/GOWS', async () => {
    for (const engine of ['NOWEB', 'WEBJS'] as const) {
      const { receiver: r } = await boot(engine);
      const info = (await (await api('/api/sessions/default')).json()) as { config: { webhooks: Record<string, unknown>[] }; engine: { engine: string }; me: Record<string, unknown> };
      expect(info.engine.engine).toBe(engine);
      expect(info.config.webhooks[0]).toEqual({ url: r.url, events: ['message.ack', 'message.any', 'session.status', 'message'], hmac: { key: HMAC } });
      if (engine === 'NOWEB') expect(info.me.lid).toMatch(/@lid$/);
      else expect(info.me).not.toHaveProperty('lid');
      await sim?.close();
      await receiver?.close();
      sim = null;
      receiver = null;
    }
  });
});

describe('webhook retries per the session config', () => {
  async function failing(statusFor: (n: number) => number, retries: Record<string, unknown> | undefined, secondMs = 10) {
    sim = await startWahaSimulator({ engine: 'NOWEB', secondMs });
    receiver = await startReceiver(statusFor);
    sim.state.addSession('default', { status: 'STOPPED', paired: true, config: { webhooks: [{ url: receiver.url, events: ['session.status'], ...(retries ? { retries } : {}) }] } });
    sim.state.setSessionStatus('default', 'WORKING');
    await sim.state.idle();
    return sim.state.webhooks;
  }

  it('attempts = retries after the first POST; constant/linear/exponential delays × secondMs', async () => {
    const constant = await failing(() => 500, { policy: 'constant', delaySeconds: 2, attempts: 3 });
    expect(constant.map((w) => [w.attempt, w.status])).toEqual([[1, 500], [2, 500], [3, 500], [4, 500]]);
    for (const g of gapsOf(constant.map((w) => w.at))) expect(g).toBeGreaterThanOrEqual(18);
    await sim?.close();
    const linear = await failing(() => 500, { policy: 'linear', delaySeconds: 2, attempts: 3 });
    const lg = gapsOf(linear.map((w) => w.at));
    expect(lg[2]).toBeGreaterThanOrEqual(58);
    await sim?.close();
    const exponential = await failing(() => 500, { policy: 'exponential', delaySeconds: 2, attempts: 3 });
    const eg = gapsOf(exponential.map((w) => w.at));
    expect(eg[2]).toBeGreaterThanOrEqual(78);
    expect(sim?.state.pendingDeliveries()).toBe(0);
  });

  it('a receiver that comes back within the window gets the delivery; attempts 0 means one POST', async () => {
    const back = await failing((n) => (n <= 2 ? 503 : 200), { policy: 'constant', delaySeconds: 1, attempts: 5 });
    expect(back.map((w) => w.status)).toEqual([503, 503, 200]);
    expect(new Set(back.map((w) => w.envelopeId)).size).toBe(1);
    await sim?.close();
    await receiver?.close();
    const once = await failing(() => 500, { attempts: 0 });
    expect(once).toHaveLength(1);
  });

  it('without retries config: 15 retries 2 s apart (#53); a dead receiver is recorded as an error', async () => {
    const defaults = await failing(() => 500, undefined, 1);
    expect(defaults).toHaveLength(16);
    await sim?.close();
    await receiver?.close();
    sim = await startWahaSimulator({ engine: 'GOWS', secondMs: 1 });
    receiver = null;
    sim.state.addSession('default', { status: 'STOPPED', paired: true, config: { webhooks: [{ url: 'http://127.0.0.1:9/down', events: ['session.status'], retries: { attempts: 1, delaySeconds: 1 } }] } });
    sim.state.setSessionStatus('default', 'WORKING');
    expect(sim.state.pendingDeliveries()).toBe(1);
    await sim.state.idle();
    expect(sim.state.webhooks.map((w) => [w.attempt, w.status, typeof w.error])).toEqual([[1, null, 'string'], [2, null, 'string']]);
  });
});

describe('/_sim controls for LIDs, stalled receipts and LID messages', () => {
  it('POST /_sim/lids, /_sim/messages/incoming with viaLid, and the chat page shows the LID chat with its phone', async () => {
    const { sim: s, receiver: r } = await boot('NOWEB');
    const res = await api('/_sim/lids', { key: null, body: { phone: `+${PHONE}`, lid: '245896994390182', pnByLid: false } });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ lid: '245896994390182@lid' });
    expect(s.state.lidInfo('245896994390182@lid')).toMatchObject({ phone: PHONE, pnByLid: false, lidByPn: true, remoteJidAlt: true });
    expect((await api('/_sim/messages/incoming', { key: null, body: { from: CHAT, body: 'СТОП', viaLid: true } })).status).toBe(201);
    await s.state.idle();
    expect(r.of('message')[0]?.body.payload.from).toBe('245896994390182@lid');
    const html = await (await api('/_sim/chats', { key: null, accept: 'text/html' })).text();
    expect(html).toContain('Чат с LID 245896994390182@lid');
    expect(html).toContain(`номер +${PHONE}`);
    expect((await api('/_sim/sessions/ghost/stall-acks', { key: null, body: { stalled: true } })).status).toBe(404);
    expect((await api('/_sim/lids', { key: null, body: { phone: PHONE, lid: 'x@c.us' } })).status).toBe(400);
  });
});

describe('simulators stay independent of the product', () => {
  it('no file under simulators/ imports from lib/, api/, activities/, workflows/, drizzle/, views/ or bin/', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const path = await import('node:path');
    const root = path.resolve(import.meta.dirname, '../../simulators');
    const files = (await readdir(root, { recursive: true })).filter((f) => /\.(ts|js|mjs)$/.test(f));
    expect(files.length).toBeGreaterThan(5);
    const offending: string[] = [];
    for (const file of files) {
      const text = await readFile(path.join(root, file), 'utf8');
      for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const spec = m[1] ?? m[2] ?? '';
        if (!spec.startsWith('.')) continue;
        const target = path.relative(path.resolve(import.meta.dirname, '../..'), path.resolve(path.dirname(path.join(root, file)), spec));
        if (/^(lib|api|activities|workflows|drizzle|views|bin)(\/|$)/.test(target)) offending.push(`${file}: ${spec}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('the Kaspi simulator\'s own copy of Kaspi\'s states and statuses matches the client\'s', async () => {
    const sim = await import('../../simulators/kaspi/server.ts');
    const product = await import('../../lib/kaspi/orders.ts');
    expect(sim.KASPI_STATES).toEqual(product.KASPI_STATES);
    expect(sim.KASPI_STATUSES).toEqual(product.KASPI_STATUSES);
    expect(sim.JSON_API_MEDIA_TYPE).toBe(product.JSON_API_MEDIA_TYPE);
  });
});
