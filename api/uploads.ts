import type { Context } from 'hono';
import { t } from '../lib/i18n/messages.ts';
import { ValidationError } from '../lib/services/errors.ts';
import { parseBase64Upload, type AttachmentUpload } from '../lib/services/template-attachments.ts';
import type { AttachmentView } from '../lib/services/templates.ts';
import { readJson } from './json/respond.ts';

/**
 * A template's file as the pages and the JSON API receive and return it. In: multipart/form-data
 * (the editor's form, `curl -F file=@card.png`) or JSON in WAHA's own BinaryFile shape
 * `{"file": {"data": "<base64>", "filename", "mimetype"}}`. Out: the bytes with their checked type,
 * never a path. api/app.ts gives these routes the larger body limit.
 */

/** The upload of the request: multipart field `field`, else the JSON body. */
export async function readAttachmentUpload(c: Context, field: string): Promise<AttachmentUpload> {
  const type = c.req.header('content-type') ?? '';
  if (type.startsWith('multipart/form-data')) {
    const body = await c.req.parseBody();
    const file = body[field];
    if (!(file instanceof File)) throw new ValidationError({ attachment: t('attachment_missing') }, 'attachment_missing');
    return { bytes: new Uint8Array(await file.arrayBuffer()), filename: file.name || null, declaredType: file.type || null };
  }
  if (type.startsWith('application/json')) return parseBase64Upload(await readJson(c));
  throw new ValidationError({ attachment: t('attachment_missing') }, 'attachment_missing');
}

/**
 * The file itself. A picture is shown inline (its type was read from its bytes, and nosniff keeps
 * the browser to it); a PDF is always a download, never rendered on our origin.
 */
export function attachmentResponse(file: AttachmentView & { content: Buffer }): Response {
  const name = encodeURIComponent(file.filename);
  const disposition = file.kind === 'image' ? `inline; filename*=UTF-8''${name}` : `attachment; filename*=UTF-8''${name}`;
  return new Response(new Uint8Array(file.content), {
    headers: {
      'content-type': file.mimetype,
      'content-length': String(file.content.length),
      'content-disposition': disposition,
      'x-content-type-options': 'nosniff',
      // Nothing in it may run or load anything, should a browser ever treat it as a document.
      'content-security-policy': "default-src 'none'; img-src 'self'; sandbox",
    },
  });
}
