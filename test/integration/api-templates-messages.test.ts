import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageAttempts, notifications } from '../../drizzle/schema.ts';
import { apiClient, newUser } from '../support/api.ts';
import { createTestContext, type TestContext } from '../support/context.ts';

let ctx: TestContext;
let call: ReturnType<typeof apiClient>;
let owner: Awaited<ReturnType<typeof newUser>>;
let storeId: string;

beforeAll(async () => {
  ctx = await createTestContext();
  call = apiClient(ctx);
  owner = await newUser(ctx);
  const r = await call('POST', '/api/stores', { token: owner.token, body: { name: 'Шаблоны' } });
  storeId = r.body.store_id as string;
});
afterAll(async () => {
  await ctx.close();
});

describe('templates', () => {
  it('creates with defaults, lists newest first, PUT changes only what is sent, DELETE archives', async () => {
    const url = `/api/whatsapp/templates/${storeId}`;
    const a = await call('POST', url, { token: owner.token, body: { template_name: 'Первый', template_text: 'Здравствуйте, {user_name}! Заказ {order_num}' } });
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ success: true, template_id: expect.any(String) });
    expect(a.body.template).toMatchObject({ event: 'new', weight: 100, delay_minutes: 0, is_active: true });
    await new Promise((r) => setTimeout(r, 5));
    const b = await call('POST', url, { token: owner.token, body: { template_name: 'Второй', template_text: 'Принят {order_num}', event: 'accepted', weight: 30, delay_minutes: 15, is_active: false } });
    expect(b.status).toBe(201);

    let list = await call('GET', url, { token: owner.token });
    expect((list.body.templates as { id: string }[]).map((t) => t.id)).toEqual([b.body.template_id, a.body.template_id]);
    expect(list.body.templates).toEqual(expect.arrayContaining([expect.objectContaining({ template_name: 'Второй', event: 'accepted', weight: 30, delay_minutes: 15, is_active: false })]));

    const put = await call('PUT', `/api/whatsapp/templates/${a.body.template_id}`, { token: owner.token, body: { weight: 70 } });
    expect(put.status).toBe(200);
    expect(put.body.template).toMatchObject({ weight: 70, template_name: 'Первый', template_text: 'Здравствуйте, {user_name}! Заказ {order_num}', event: 'new' });

    const del = await call('DELETE', `/api/whatsapp/templates/${a.body.template_id}`, { token: owner.token });
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ success: true });
    list = await call('GET', url, { token: owner.token });
    expect((list.body.templates as { id: string }[]).map((t) => t.id)).toEqual([b.body.template_id]);
    const again = await call('DELETE', `/api/whatsapp/templates/${a.body.template_id}`, { token: owner.token });
    expect(again.status).toBe(404);
    const putDeleted = await call('PUT', `/api/whatsapp/templates/${a.body.template_id}`, { token: owner.token, body: { weight: 1 } });
    expect(putDeleted.status).toBe(404);
  });

  it('an unknown placeholder is a 400 naming it; bad event/weight are field errors', async () => {
    const url = `/api/whatsapp/templates/${storeId}`;
    const r = await call('POST', url, { token: owner.token, body: { template_name: 'x', template_text: 'Привет {usr_name}, заказ {order_num} {bogus_var}' } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ success: false, code: 'invalid_template' });
    expect(r.body.fields?.template_text).toContain('{usr_name}');
    expect(r.body.fields?.template_text).toContain('{bogus_var}');
    expect(r.body.fields?.template_text).toContain('{user_name}');

    const created = await call('POST', url, { token: owner.token, body: { template_name: 'ok', template_text: 'ok {order_num}' } });
    const put = await call('PUT', `/api/whatsapp/templates/${created.body.template_id}`, { token: owner.token, body: { template_text: '{nope}' } });
    expect(put.status).toBe(400);
    expect(put.body.fields?.template_text).toContain('{nope}');

    const bad = await call('POST', url, { token: owner.token, body: { template_name: '', template_text: 'x', event: 'shipped', weight: -1 } });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body.fields ?? {}).sort()).toEqual(['event', 'template_name', 'weight']);
    const missing = await call('POST', url, { token: owner.token, body: {} });
    expect(missing.body.fields).toMatchObject({ template_name: 'Обязательное поле', template_text: 'Обязательное поле' });
  });
});

describe('message log', () => {
  it('keyset pagination newest first across pages, with filters, opaque cursor, clamped limit; CSV export', async () => {
    const base = Date.UTC(2025, 0, 10, 12, 0, 0);
    const rows = Array.from({ length: 23 }, (_, i) => ({
      storeId,
      orderCode: `ORD${String(i).padStart(3, '0')}`,
      event: i % 2 === 0 ? 'new' : 'accepted',
      status: i % 3 === 0 ? 'sent' : 'queued',
      // Pairs share a timestamp: the id must break ties without skipping or repeating rows.
      createdAt: new Date(base + Math.floor(i / 2) * 1000),
    }));
    const inserted = await ctx.db.insert(notifications).values(rows).returning({ id: notifications.id, orderCode: notifications.orderCode });
    const first = inserted.find((r) => r.orderCode === 'ORD000')!;
    await ctx.db.insert(messageAttempts).values([
      { notificationId: first.id, attemptNo: 1, renderedText: 'old text', phone: '+77010000001', wahaMessageId: 'true_1@c.us_OLD' },
      { notificationId: first.id, attemptNo: 2, renderedText: 'Привет, Айгерим', phone: '+77011234567', wahaMessageId: 'true_77011234567@c.us_NEW' },
    ]);

    const url = `/api/whatsapp/messages/${storeId}`;
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await call('GET', `${url}?limit=5${cursor ? `&cursor=${cursor}` : ''}`, { token: owner.token });
      expect(r.status).toBe(200);
      const msgs = r.body.messages as { id: string; created_at: string }[];
      expect(msgs.length).toBeLessThanOrEqual(5);
      seen.push(...msgs.map((m) => m.id));
      cursor = r.body.next_cursor as string | null;
      pages++;
    } while (cursor && pages < 20);
    expect(pages).toBe(5);
    expect(new Set(seen).size).toBe(23);
    const all = await call('GET', `${url}?limit=100`, { token: owner.token });
    const msgs = all.body.messages as { id: string; order_code: string; created_at: string; customer_phone: string | null; message_text: string | null; waha_message_id: string | null }[];
    expect(msgs.map((m) => m.id)).toEqual(seen);
    expect(all.body.next_cursor).toBeNull();
    expect(msgs[0]!.order_code).toBe('ORD022');
    const sorted = [...msgs].sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : a.id < b.id ? 1 : -1));
    expect(msgs.map((m) => m.id)).toEqual(sorted.map((m) => m.id));
    const detail = msgs.find((m) => m.order_code === 'ORD000')!;
    expect(detail).toMatchObject({ customer_phone: '+77011234567', message_text: 'Привет, Айгерим', waha_message_id: 'true_77011234567@c.us_NEW' });
    expect(detail.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const unsent = msgs.find((m) => m.order_code === 'ORD001')!;
    expect(unsent).toMatchObject({ waha_message_id: null, customer_phone: null, message_text: null });

    // Filters across pages: status=sent & event=new → i ≡ 0 mod 6 → ORD000, 006, 012, 018.
    const filtered: string[] = [];
    cursor = null;
    do {
      const r = await call('GET', `${url}?status=sent&event=new&limit=3${cursor ? `&cursor=${cursor}` : ''}`, { token: owner.token });
      filtered.push(...(r.body.messages as { order_code: string }[]).map((m) => m.order_code));
      cursor = r.body.next_cursor as string | null;
    } while (cursor);
    expect(filtered).toEqual(['ORD018', 'ORD012', 'ORD006', 'ORD000']);
    const byCode = await call('GET', `${url}?order_code=ORD007`, { token: owner.token });
    expect((byCode.body.messages as { order_code: string }[]).map((m) => m.order_code)).toEqual(['ORD007']);

    const clamped = await call('GET', `${url}?limit=100000`, { token: owner.token });
    expect(clamped.status).toBe(200);
    const defaults = await call('GET', url, { token: owner.token });
    expect((defaults.body.messages as unknown[]).length).toBe(23);

    for (const q of ['cursor=garbage', 'status=teleported', 'event=x', 'limit=abc']) {
      const r = await call('GET', `${url}?${q}`, { token: owner.token });
      expect(r.status, q).toBe(400);
      expect(r.body.success).toBe(false);
    }

    const csv = await call('GET', `${url}/export.csv?event=new`, { token: owner.token });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = csv.text.replace(/^\uFEFF/, '').trim().split('\n');
    expect(lines[0]).toContain('order_code');
    expect(lines).toHaveLength(1 + 12);
    expect(csv.text).toContain('Привет, Айгерим');
  });

  it('an empty log is an empty page with a null cursor', async () => {
    const r = await call('POST', '/api/stores', { token: owner.token, body: { name: 'Пусто', store_id: randomUUID() } });
    const res = await call('GET', `/api/whatsapp/messages/${r.body.store_id}`, { token: owner.token });
    expect(res.body).toEqual({ success: true, messages: [], next_cursor: null });
  });
});
