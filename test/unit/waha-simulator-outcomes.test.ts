import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startWahaSimulator, type WahaSimulator } from '../../simulators/waha/server.ts';

/**
 * The two WhatsApp behaviours the template statistics rest on (docs/contracts/waha.md): a buyer
 * with read receipts off never produces READ, and WAHA fetches a text's link for its preview
 * before the message exists.
 */
const KEY = 'api-key-1';
let sim: WahaSimulator | null = null;
let closeSite: (() => Promise<void>) | null = null;
afterEach(async () => {
  await sim?.close();
  await closeSite?.();
  sim = null;
  closeSite = null;
});

async function send(text: string, extra: Record<string, unknown> = {}, chatId = '77011234567@c.us') {
  const res = await fetch(`${sim!.url}/api/sendText`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY },
    body: JSON.stringify({ session: 'default', chatId, text, ...extra }),
  });
  expect(res.status).toBe(201);
}

/** A local site that records what was asked of it, and whether the message existed at that moment. */
async function site(onRequest: () => void) {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    onRequest();
    res.statusCode = 302;
    res.setHeader('location', 'https://example.invalid/next');
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  closeSite = () => new Promise<void>((r) => server.close(() => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

describe('read receipts', () => {
  it('a buyer with read receipts off never shows READ; others do', async () => {
    sim = await startWahaSimulator({ engine: 'NOWEB', apiKey: KEY, ackDelaysMs: [5, 10, 15] });
    sim.state.setReadReceipts('77011234567', false);
    await send('Здравствуйте!');
    await send('Здравствуйте!', {}, '77017654321@c.us');
    await sim.state.idle();
    expect(sim.state.messages('77011234567@c.us')[0]!.ack).toBe(2);
    expect(sim.state.messages('77017654321@c.us')[0]!.ack).toBe(3);
    sim.state.setReadReceipts('77011234567', true);
    await send('Ещё раз');
    await sim.state.idle();
    expect(sim.state.messages('77011234567@c.us')[1]!.ack).toBe(3);
  });
});

describe('link previews', () => {
  it('fetches the first link before the message is stored, one hop, unless linkPreview is false', async () => {
    sim = await startWahaSimulator({ engine: 'NOWEB', apiKey: KEY, linkPreviews: true });
    const seenBefore: number[] = [];
    const s = await site(() => seenBefore.push(sim!.state.messages('77011234567@c.us').length));
    await send(`Оставьте отзыв: ${s.url}/r/abc и ещё ${s.url}/second`);
    expect(s.hits).toEqual(['GET /r/abc']);
    expect(seenBefore).toEqual([0]);
    expect(sim.state.previewFetches).toMatchObject([{ url: `${s.url}/r/abc`, status: 302 }]);
    await send(`Без превью: ${s.url}/r/def`, { linkPreview: false });
    expect(s.hits).toHaveLength(1);
  });

  it('never leaves the machine, and is off unless asked for', async () => {
    sim = await startWahaSimulator({ engine: 'NOWEB', apiKey: KEY, linkPreviews: true });
    await send('Отзыв: https://kaspi.kz/shop/review/productreview?orderCode=1');
    expect(sim.state.previewFetches).toEqual([]);
    await sim.close();
    sim = await startWahaSimulator({ engine: 'NOWEB', apiKey: KEY });
    const s = await site(() => undefined);
    await send(`Отзыв: ${s.url}/r/abc`);
    expect(s.hits).toEqual([]);
  });
});
