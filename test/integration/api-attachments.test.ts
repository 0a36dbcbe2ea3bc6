import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.ts';
import { auditLog, templateAttachments } from '../../drizzle/schema.ts';
import { createTestContext, type TestContext } from '../support/context.ts';
import { apiClient, newUser } from '../support/api.ts';
import { makePdf, makePng } from '../support/media.ts';

/**
 * The JSON API for a template's file (README "JSON API"): set and replace it as multipart (`file`)
 * or as WAHA's BinaryFile in JSON, read it back as bytes, remove it; refusals are 400 with a code
 * and a Russian sentence and change nothing; answers describe the file and never where it is kept;
 * another store's template is 404.
 */
let ctx: TestContext;
let app: ReturnType<typeof createApp>;
let call: ReturnType<typeof apiClient>;
let owner: Awaited<ReturnType<typeof newUser>>;
let stranger: Awaited<ReturnType<typeof newUser>>;
let templateId: string;
let storeId: string;

beforeAll(async () => {
  ctx = await createTestContext();
  app = createApp(ctx);
  call = apiClient(ctx, app);
  owner = await newUser(ctx);
  stranger = await newUser(ctx);
  const store = await call('POST', '/api/stores', { token: owner.token, body: { name: 'Файлы' } });
  storeId = store.body.store_id as string;
  const created = await call('POST', `/api/whatsapp/templates/${storeId}`, { token: owner.token, body: { template_name: 'С картинкой', template_text: 'Заказ {order_num} принят' } });
  templateId = created.body.template_id as string;
}, 120_000);
afterAll(async () => ctx?.close());

const url = () => `/api/whatsapp/templates/${templateId}/attachment`;

function multipart(token: string, bytes: Buffer, name: string, type = '') {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)], { type }), name);
  return app.request(url(), { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: form });
}

async function rows() {
  return ctx.db.select({ filename: templateAttachments.filename, sha256: templateAttachments.sha256 }).from(templateAttachments).where(eq(templateAttachments.templateId, templateId));
}

describe('template attachment over the JSON API', () => {
  it('multipart sets it; the answer and the template describe it without a path', async () => {
    const png = makePng(30, 20);
    const res = await multipart(owner.token, png, 'card.png', 'image/png');
    expect(res.status).toBe(200);
    const body = await res.json() as { success: boolean; attachment: Record<string, unknown> };
    expect(body).toMatchObject({ success: true, attachment: { kind: 'image', mimetype: 'image/png', filename: 'card.png', size_bytes: png.length } });
    expect(Object.keys(body.attachment).sort()).toEqual(['created_at', 'filename', 'kind', 'mimetype', 'sha256', 'size_bytes']);
    const list = await call('GET', `/api/whatsapp/templates/${storeId}`, { token: owner.token });
    expect((list.body.templates as { attachment: unknown }[])[0]?.attachment).toEqual(body.attachment);
    const got = await app.request(url(), { headers: { authorization: `Bearer ${owner.token}` } });
    expect(got.headers.get('content-type')).toBe('image/png');
    expect(got.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await got.arrayBuffer()).equals(png)).toBe(true);
    expect(JSON.stringify(body)).not.toMatch(/\/(tmp|var|data|home)\//);
  });

  it('JSON in WAHA\'s BinaryFile shape replaces it; the PDF is a download', async () => {
    const pdf = makePdf();
    const res = await call('PUT', url(), { token: owner.token, body: { file: { data: pdf.toString('base64'), filename: 'Гарантия.pdf', mimetype: 'application/pdf' } } });
    expect(res.status).toBe(200);
    expect(res.body.attachment).toMatchObject({ kind: 'document', filename: 'Гарантия.pdf' });
    expect(await rows()).toHaveLength(1);
    const got = await app.request(url(), { headers: { authorization: `Bearer ${owner.token}` } });
    expect(got.headers.get('content-disposition')).toBe(`attachment; filename*=UTF-8''${encodeURIComponent('Гарантия.pdf')}`);
    const audit = await ctx.db.select({ action: auditLog.action }).from(auditLog).where(eq(auditLog.storeId, storeId));
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['template.attachment.set', 'template.attachment.replace']));
  });

  it('bad uploads are 400 with a code and a Russian sentence, and change nothing', async () => {
    const before = await rows();
    const cases: [Response | Promise<Response>, string, RegExp][] = [
      [multipart(owner.token, Buffer.from('MZ\x90\x00 not an image'), 'card.png', 'image/png'), 'attachment_bad_type', /Внутри файла «card\.png»/],
      [multipart(owner.token, Buffer.alloc(0), 'empty.png'), 'attachment_empty', /Файл «empty\.png» пустой/],
      [multipart(owner.token, Buffer.concat([makePng(2, 2), Buffer.alloc(5 * 1024 * 1024)]), 'big.png'), 'attachment_too_large', /не больше 5,0 МБ/],
      [multipart(owner.token, makePdf(), 'photo.jpg'), 'attachment_type_mismatch', /назван как JPEG, но внутри PDF/],
    ];
    for (const [pending, code, text] of cases) {
      const res = await pending;
      const body = await res.json() as { success: boolean; code: string; error: string; fields: { attachment: string } };
      expect(res.status, code).toBe(400);
      expect(body).toMatchObject({ success: false, code });
      expect(body.fields.attachment).toMatch(text);
    }
    const url1 = await call('PUT', url(), { token: owner.token, body: { file: { url: 'http://169.254.169.254/latest/meta-data/', mimetype: 'image/png' } } });
    expect(url1.status).toBe(400);
    expect(url1.body.code).toBe('attachment_url_unsupported');
    const junk = await call('PUT', url(), { token: owner.token, body: { file: { data: '%%% not base64 %%%' } } });
    expect(junk.body.code).toBe('attachment_bad_type');
    const none = await call('PUT', url(), { token: owner.token, body: {} });
    expect(none.body.code).toBe('attachment_missing');
    expect(await rows()).toEqual(before);
  });

  it('another store\'s template is 404 for every verb; the file stays', async () => {
    const before = await rows();
    expect((await multipart(stranger.token, makePng(2, 2), 'x.png')).status).toBe(404);
    expect((await call('GET', url(), { token: stranger.token })).status).toBe(404);
    expect((await call('DELETE', url(), { token: stranger.token })).status).toBe(404);
    expect(await rows()).toEqual(before);
  });

  it('DELETE removes it; a second DELETE is 404', async () => {
    expect((await call('DELETE', url(), { token: owner.token })).body).toEqual({ success: true });
    expect(await rows()).toHaveLength(0);
    expect((await call('DELETE', url(), { token: owner.token })).status).toBe(404);
    expect((await call('GET', url(), { token: owner.token })).status).toBe(404);
  });
});
