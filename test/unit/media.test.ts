import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { checkAttachment, cleanFilename, MAX_ATTACHMENT_BYTES } from '../../lib/templates/attachments.ts';
import { parseBase64Upload, attachmentProblemText } from '../../lib/services/template-attachments.ts';
import { ValidationError } from '../../lib/services/errors.ts';
import {
  WahaAmbiguousError,
  WahaBadRequestError,
  WahaClient,
  WahaMediaUnsupportedError,
  WahaSessionNotReadyError,
  type WahaError,
} from '../../lib/waha/client.ts';
import { startWahaSimulator, type WahaSimulator } from '../../simulators/waha/server.ts';
import { gifHeader, jpegHeader, makePdf, makePng } from '../support/media.ts';

/**
 * Attachments: what the product accepts as a template's file, how it hands a file to WAHA, and how
 * the WAHA simulator takes it per engine and per build (docs/contracts/waha.md "Media").
 */

const PHONE = '77011234567';
const CHAT = `${PHONE}@c.us`;
const CAPTION = 'Спасибо за заказ 600123456! Ваша гарантийная карта — во вложении.';

async function caught(p: Promise<unknown>): Promise<WahaError> {
  try {
    await p;
  } catch (err) {
    return err as WahaError;
  }
  throw new Error('expected a rejection');
}

describe('checkAttachment: by content, never by name', () => {
  it('accepts PNG, JPEG and PDF, with their detected type and a hash', async () => {
    const png = makePng(20, 10);
    const r = await checkAttachment({ bytes: png, filename: 'C:\\Users\\seller\\card.png', declaredType: 'image/png' });
    expect(r.ok && r.attachment).toMatchObject({ kind: 'image', mimetype: 'image/png', filename: 'card.png', sizeBytes: png.length, sha256: createHash('sha256').update(png).digest('hex') });
    const jpg = await checkAttachment({ bytes: jpegHeader(), filename: 'photo.jpeg' });
    expect(jpg.ok && jpg.attachment).toMatchObject({ kind: 'image', mimetype: 'image/jpeg', filename: 'photo.jpeg' });
    const pdf = await checkAttachment({ bytes: makePdf(), filename: 'Гарантия.pdf', declaredType: 'application/pdf' });
    expect(pdf.ok && pdf.attachment).toMatchObject({ kind: 'document', mimetype: 'application/pdf', filename: 'Гарантия.pdf' });
  });

  it('names a file without an extension, or with a foreign one, after its content', async () => {
    const r = await checkAttachment({ bytes: makePdf(), filename: 'scan' });
    expect(r.ok && r.attachment.filename).toBe('scan.pdf');
    const t = await checkAttachment({ bytes: makePng(2, 2), filename: 'notes.txt' });
    expect(t.ok && t.attachment.filename).toBe('notes.txt.png');
    const none = await checkAttachment({ bytes: makePng(2, 2), filename: null });
    expect(none.ok && none.attachment.filename).toBe('image.png');
  });

  it('refuses the wrong type behind a right name, and says what is inside', async () => {
    const text = await checkAttachment({ bytes: Buffer.from('<html><script>alert(1)</script></html>'), filename: 'card.png', declaredType: 'image/png' });
    expect(text).toMatchObject({ ok: false, problem: { code: 'attachment_bad_type', found: null } });
    const gif = await checkAttachment({ bytes: gifHeader(), filename: 'card.jpg' });
    expect(gif).toMatchObject({ ok: false, problem: { code: 'attachment_bad_type', found: 'GIF' } });
    expect(!gif.ok && attachmentProblemText(gif.problem, gif.filename)).toBe('Внутри файла «card.jpg» формат GIF, а прикрепить можно только картинку JPEG, PNG, WebP или документ PDF. Тип проверяется по содержимому, а не по имени файла.');
  });

  it('refuses an allowed type named as another allowed type (the seller picked the wrong file)', async () => {
    const r = await checkAttachment({ bytes: makePdf(), filename: 'card.png' });
    expect(r).toMatchObject({ ok: false, problem: { code: 'attachment_type_mismatch', claimed: 'PNG', found: 'PDF' } });
    expect(!r.ok && attachmentProblemText(r.problem, r.filename)).toBe('Файл «card.png» назван как PNG, но внутри PDF. Проверьте, тот ли файл выбран.');
    const declared = await checkAttachment({ bytes: makePng(2, 2), filename: 'x', declaredType: 'application/pdf' });
    expect(declared).toMatchObject({ ok: false, problem: { code: 'attachment_type_mismatch' } });
  });

  it('refuses an empty file and one over the cap of its kind', async () => {
    const empty = await checkAttachment({ bytes: Buffer.alloc(0), filename: 'a.png' });
    expect(empty).toMatchObject({ ok: false, problem: { code: 'attachment_empty' } });
    expect(!empty.ok && attachmentProblemText(empty.problem, empty.filename)).toBe('Файл «a.png» пустой.');
    // A "PNG" of 5 MB + 1 byte: a picture may be 5 MB, a PDF 10 MB.
    const big = Buffer.concat([makePng(2, 2), Buffer.alloc(MAX_ATTACHMENT_BYTES.image)]);
    const r = await checkAttachment({ bytes: big, filename: 'big.png' });
    expect(r).toMatchObject({ ok: false, problem: { code: 'attachment_too_large', kind: 'image', limitBytes: MAX_ATTACHMENT_BYTES.image } });
    expect(!r.ok && attachmentProblemText(r.problem, r.filename)).toBe('Файл «big.png» весит 5,0 МБ, а картинка может быть не больше 5,0 МБ.');
    const pdf = await checkAttachment({ bytes: Buffer.concat([makePdf(), Buffer.alloc(6 * 1024 * 1024)]), filename: 'long.pdf' });
    expect(pdf.ok).toBe(true);
    const tooBig = await checkAttachment({ bytes: Buffer.alloc(MAX_ATTACHMENT_BYTES.document + 1, 0x25), filename: 'x.pdf' });
    expect(tooBig).toMatchObject({ ok: false, problem: { code: 'attachment_too_large' } });
  });

  it('cleans names: no path, no control or reserved characters, at most 120 characters', () => {
    expect(cleanFilename('../../etc/passwd')).toBe('passwd');
    expect(cleanFilename('a\u0000b<c>:"d|e?*.png')).toBe('abcde.png');
    expect(cleanFilename('..hidden.pdf')).toBe('hidden.pdf');
    const long = cleanFilename(`${'я'.repeat(200)}.pdf`);
    expect(long).toHaveLength(120);
    expect(long.endsWith('.pdf')).toBe(true);
  });
});

describe('parseBase64Upload: WAHA\'s BinaryFile shape for the JSON API', () => {
  it('decodes file.data and keeps the claimed name and type', () => {
    const png = makePng(3, 3);
    const up = parseBase64Upload({ file: { data: png.toString('base64'), filename: 'a.png', mimetype: 'image/png' } });
    expect(Buffer.from(up.bytes).equals(png)).toBe(true);
    expect(up).toMatchObject({ filename: 'a.png', declaredType: 'image/png' });
  });

  it('refuses a URL, a missing file and what is not base64', () => {
    const code = (body: unknown) => {
      try {
        parseBase64Upload(body);
      } catch (err) {
        return err instanceof ValidationError ? err.code : 'other';
      }
      return 'accepted';
    };
    expect(code({ file: { url: 'http://169.254.169.254/latest/meta-data' } })).toBe('attachment_url_unsupported');
    expect(code({})).toBe('attachment_missing');
    expect(code({ file: { data: 'not base64 at all!' } })).toBe('attachment_bad_type');
  });
});

/** WAHA's answers to a file send the client must tell apart (a fetch double). */
describe('WahaClient.sendMedia', () => {
  const answer = (status: number, body: unknown) => new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'content-type': typeof body === 'string' ? 'text/html' : 'application/json' } });
  const clientWith = (res: () => Response, seen: unknown[] = []) => new WahaClient({
    baseUrl: 'http://waha.test', session: 'shop-1', apiKey: 'k',
    fetch: async (_input, init) => {
      seen.push({ url: String(_input), body: JSON.parse(String(init?.body)) as unknown });
      return res();
    },
  });
  const file = { mimetype: 'image/png', filename: 'card.png', data: makePng(4, 4) };

  it('posts BinaryFile (base64) with the caption, and no id', async () => {
    const seen: { url: string; body: Record<string, unknown> }[] = [];
    const r = await clientWith(() => answer(201, { id: `true_${CHAT}_3EB0AA`, _data: {} }), seen).sendMedia({ kind: 'image', chatId: CHAT, caption: CAPTION, file });
    expect(r.messageId).toBe(`true_${CHAT}_3EB0AA`);
    expect(seen[0]?.url).toBe('http://waha.test/api/sendImage');
    expect(seen[0]?.body).toEqual({ session: 'shop-1', chatId: CHAT, caption: CAPTION, file: { mimetype: 'image/png', filename: 'card.png', data: file.data.toString('base64') } });
    await clientWith(() => answer(201, {}), seen).sendMedia({ kind: 'document', chatId: CHAT, caption: CAPTION, file: { ...file, mimetype: 'application/pdf', filename: 'a.pdf' } });
    expect(seen[1]?.url).toBe('http://waha.test/api/sendFile');
  });

  it('422 "available only in Plus" → media unsupported; 422 about the session stays "not ready"', async () => {
    const plus = await caught(clientWith(() => answer(422, { message: "The feature is available only in Plus version for 'NOWEB' engine. Check this out: https://waha.devlike.pro/", error: 'Unprocessable Entity', statusCode: 422 })).sendMedia({ kind: 'image', chatId: CHAT, caption: CAPTION, file }));
    expect(plus).toBeInstanceOf(WahaMediaUnsupportedError);
    expect(plus.safeToRetry).toBe(false);
    const session = await caught(clientWith(() => answer(422, { error: 'Session status is not as expected. Try again later or restart the session', session: 'shop-1', status: 'STARTING', expected: ['WORKING'] })).sendMedia({ kind: 'image', chatId: CHAT, caption: CAPTION, file }));
    expect(session).toBeInstanceOf(WahaSessionNotReadyError);
    const notImplemented = await caught(clientWith(() => answer(501, { message: "The method is not implemented by 'WEBJS' engine. Check the docs and try another engine: https://waha.devlike.pro/", error: 'Not Implemented', statusCode: 501 })).sendMedia({ kind: 'document', chatId: CHAT, caption: CAPTION, file }));
    expect(notImplemented).toBeInstanceOf(WahaMediaUnsupportedError);
  });

  it('NOWEB\'s 422 about the file itself is a refused request, not a session that is not ready', async () => {
    const err = await caught(clientWith(() => answer(422, { message: 'Either file.url or file.data must be specified.', error: 'Unprocessable Entity', statusCode: 422 })).sendMedia({ kind: 'image', chatId: CHAT, caption: CAPTION, file }));
    expect(err).toBeInstanceOf(WahaBadRequestError);
  });

  it('413 from WAHA or a proxy → bad request (nothing sent); 500 → ambiguous, without the caption', async () => {
    expect(await caught(clientWith(() => answer(413, '<pre>PayloadTooLargeError: request entity too large</pre>')).sendMedia({ kind: 'image', chatId: CHAT, caption: CAPTION, file }))).toBeInstanceOf(WahaBadRequestError);
    const amb = await caught(clientWith(() => answer(500, { statusCode: 500, exception: { name: 'Error', message: `cannot send "${CAPTION}" to ${PHONE}` }, request: { body: { caption: CAPTION } } })).sendMedia({ kind: 'image', chatId: CHAT, caption: CAPTION, file }));
    expect(amb).toBeInstanceOf(WahaAmbiguousError);
    expect(amb.safeToRetry).toBe(false);
    expect(amb.message).not.toContain(CAPTION);
    expect(amb.message).not.toContain(PHONE);
  });
});

describe('the WAHA simulator takes files per engine (docs/contracts/waha.md "Media")', () => {
  let sim: WahaSimulator | null = null;
  afterEach(async () => {
    await sim?.close();
    sim = null;
  });

  for (const engine of ['WEBJS', 'NOWEB', 'GOWS'] as const) {
    it(`${engine}: an image and a PDF arrive with the caption as body, look-up finds them by it`, async () => {
      const config = { noweb: { store: { enabled: true, fullSync: true } } };
      sim = await startWahaSimulator({ engine, apiKey: 'k', ackDelaysMs: [5, 10, 15], sessions: [{ name: 'default', status: 'WORKING', paired: true, config }] });
      const c = new WahaClient({ baseUrl: sim.url, apiKey: 'k', session: 'default' });
      const png = makePng(8, 8);
      const img = await c.sendMedia({ kind: 'image', chatId: CHAT, caption: CAPTION, file: { mimetype: 'image/png', filename: 'card.png', data: png } });
      const pdf = makePdf();
      const doc = await c.sendMedia({ kind: 'document', chatId: CHAT, caption: 'Инструкция по получению', file: { mimetype: 'application/pdf', filename: 'pickup.pdf', data: pdf } });
      expect(img.engineShape).toBe(engine);
      const [m1, m2] = sim.state.messages(CHAT);
      expect(m1).toMatchObject({ id: img.messageId, body: CAPTION, media: { kind: 'image', mimetype: 'image/png', filename: 'card.png', size: png.length } });
      expect(m2).toMatchObject({ id: doc.messageId, body: 'Инструкция по получению', media: { kind: 'document', filename: 'pickup.pdf' } });
      expect(sim.state.mediaBytes('default', m1!.id)?.equals(png)).toBe(true);
      expect(sim.state.mediaBytes('default', m2!.id)?.equals(pdf)).toBe(true);
      await sim.state.idle();
      const found = await c.findOwnMessagesByText({ chatId: CHAT, text: CAPTION, since: new Date(Date.now() - 60_000) });
      expect(found.map((m) => m.id)).toEqual([img.messageId]);
      // The chats page shows the picture and the document card.
      const page = await (await fetch(`${sim.url}/_sim/chats`)).text();
      expect(page).toContain(`src="/_sim/media/default/${encodeURIComponent(m1!.id)}"`);
      expect(page).toContain('pickup.pdf');
      const served = await fetch(`${sim.url}/_sim/media/default/${encodeURIComponent(m1!.id)}`);
      expect(served.headers.get('content-type')).toBe('image/png');
      expect(Buffer.from(await served.arrayBuffer()).equals(png)).toBe(true);
    });
  }

  it('only GOWS takes the `id` the spec does not list; NOWEB and WEBJS make their own', async () => {
    for (const engine of ['GOWS', 'NOWEB', 'WEBJS'] as const) {
      const s = await startWahaSimulator({ engine });
      const res = await fetch(`${s.url}/api/sendImage`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ session: 'default', chatId: CHAT, id: 'BAE5CHOSEN1', caption: 'x', file: { mimetype: 'image/png', data: makePng(2, 2).toString('base64') } }) });
      expect(res.status).toBe(201);
      expect(s.state.messages(CHAT)[0]?.keyId === 'BAE5CHOSEN1').toBe(engine === 'GOWS');
      await s.close();
    }
  });

  it('a file without url or data: NOWEB 422, WEBJS and GOWS fail in the engine (500); nothing is sent', async () => {
    for (const [engine, status] of [['NOWEB', 422], ['WEBJS', 500], ['GOWS', 500]] as const) {
      const s = await startWahaSimulator({ engine });
      const res = await fetch(`${s.url}/api/sendFile`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ session: 'default', chatId: CHAT, file: { mimetype: 'application/pdf' } }) });
      expect(res.status).toBe(status);
      expect(s.state.messages(CHAT)).toHaveLength(0);
      await s.close();
    }
  });

  it('a Core build before 2026.6 answers 422 AvailableInPlusVersion on every engine, after the session check', async () => {
    for (const engine of ['WEBJS', 'NOWEB', 'GOWS'] as const) {
      const s = await startWahaSimulator({ engine, build: 'core-before-2026.6' });
      const c = new WahaClient({ baseUrl: s.url, session: 'default' });
      const err = await caught(c.sendMedia({ kind: 'image', chatId: CHAT, caption: CAPTION, file: { mimetype: 'image/png', filename: 'a.png', data: makePng(2, 2) } }));
      expect(err).toBeInstanceOf(WahaMediaUnsupportedError);
      expect(err.detail).toContain(`available only in Plus version for '${engine}' engine`);
      expect(s.state.messages(CHAT)).toHaveLength(0);
      // Text still works on that build.
      expect((await c.sendText({ chatId: CHAT, text: CAPTION })).engineShape).toBe(engine);
      const stopped = new WahaClient({ baseUrl: s.url, session: 'nope' });
      expect(await caught(stopped.sendMedia({ kind: 'image', chatId: CHAT, caption: 'x', file: { mimetype: 'image/png', filename: 'a.png', data: makePng(2, 2) } }))).toBeInstanceOf(WahaSessionNotReadyError);
      await s.close();
    }
  });

  it('the send faults apply to files too: a 500 after sending is ambiguous and the message exists', async () => {
    sim = await startWahaSimulator({ engine: 'NOWEB' });
    const c = new WahaClient({ baseUrl: sim.url, session: 'default', timeoutMs: 5_000 });
    sim.state.injectFault({ type: 'slow_500_after_send', delayMs: 10 }, { op: 'sendImage' });
    const err = await caught(c.sendMedia({ kind: 'image', chatId: CHAT, caption: CAPTION, file: { mimetype: 'image/png', filename: 'a.png', data: makePng(2, 2) } }));
    expect(err).toBeInstanceOf(WahaAmbiguousError);
    expect(sim.state.messages(CHAT)).toHaveLength(1);
    // The request log keeps the file's size, not its bytes.
    const logged = sim.state.requests.find((r) => r.path === '/api/sendImage')?.body as { file: { data: string } };
    expect(logged.file.data).toMatch(/^<base64, \d+ characters>$/);
  });
});
