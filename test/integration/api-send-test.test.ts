import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWahaSimulator, type WahaSimulator } from '../../simulators/waha/server.ts';
import { apiClient, newUser } from '../support/api.ts';
import { createTestContext, type TestContext } from '../support/context.ts';

let ctx: TestContext;
let waha: WahaSimulator;
let call: ReturnType<typeof apiClient>;
let owner: Awaited<ReturnType<typeof newUser>>;
let storeId: string;

beforeAll(async () => {
  ctx = await createTestContext();
  waha = await startWahaSimulator({ engine: 'NOWEB', apiKey: 'sim-api-key-123' });
  call = apiClient(ctx);
  owner = await newUser(ctx);
  storeId = (await call('POST', '/api/stores', { token: owner.token, body: { name: 'Тест-магазин' } })).body.store_id as string;
});
afterAll(async () => {
  await waha.close();
  await ctx.close();
});

describe('POST /api/whatsapp/send-test/:storeId through the WAHA simulator', () => {
  it('renders the text with sample_data and sends it to the normalised chat id', async () => {
    const saved = await call('POST', `/api/whatsapp/settings/${storeId}`, { token: owner.token, body: { waha_server_url: waha.url, waha_session_name: 'default', waha_api_key: 'sim-api-key-123' } });
    expect(saved.status).toBe(200);
    const r = await call('POST', `/api/whatsapp/send-test/${storeId}`, {
      token: owner.token,
      body: { phone_number: '8 (701) 123-45-67', template_text: 'Здравствуйте, {user_name}! Заказ №{order_num}: {product_name} × {item_qty}, {shop_name}', sample_data: { customer_name: 'Ерлан Ахметов', order_id: '600123', product_name: 'Чайник', quantity: 2, shop_name: 'Дом' } },
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ success: true, result: { chat_id: '77011234567@c.us', message_id: expect.any(String), text: 'Здравствуйте, Ерлан Ахметов! Заказ №600123: Чайник × 2, Дом' } });
    const sent = waha.state.messages('77011234567@c.us');
    expect(sent.map((m) => m.body)).toContain('Здравствуйте, Ерлан Ахметов! Заказ №600123: Чайник × 2, Дом');
    expect(r.text).not.toContain('sim-api-key-123');
  });

  it('a wrong WAHA API key is a 502 waha_error, not a 500', async () => {
    await call('POST', `/api/whatsapp/settings/${storeId}`, { token: owner.token, body: { waha_api_key: 'wrong-key' } });
    const r = await call('POST', `/api/whatsapp/send-test/${storeId}`, { token: owner.token, body: { phone_number: '87011234567', template_text: 'Тест' } });
    expect(r.status).toBe(502);
    expect(r.body).toMatchObject({ success: false, code: 'waha_error' });
    expect(r.text).not.toContain('wrong-key');
  });
});
