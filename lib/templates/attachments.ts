import { createHash } from 'node:crypto';
import { fileTypeFromBuffer } from 'file-type';
import type { AttachmentKind } from '../../drizzle/schema.ts';
import { ru } from '../i18n/messages.ts';

/**
 * What a template may carry besides its text: a picture or a PDF, judged by its bytes (never by its
 * name), under a size cap. Pure apart from reading the bytes; the services store what this accepts.
 *
 * The caps: 5 MB for a picture is WhatsApp's own limit for images (larger ones are recompressed or
 * refused); 10 MB for a PDF covers any pickup instruction or warranty card many times over while
 * the file still travels to WAHA with every message (base64, about 13.4 MB, well under WAHA's 50 MB
 * JSON body limit) and sits in PostgreSQL and its backups once per template.
 */

export const MAX_ATTACHMENT_BYTES: Readonly<Record<AttachmentKind, number>> = {
  image: 5 * 1024 * 1024,
  document: 10 * 1024 * 1024,
};
/** The largest file of any kind: what an upload route must let through before judging it. */
export const MAX_ANY_ATTACHMENT_BYTES = Math.max(...Object.values(MAX_ATTACHMENT_BYTES));

interface AllowedType {
  kind: AttachmentKind;
  ext: string;
  /** What the seller calls it in an error message. */
  label: string;
}

const ALLOWED: Readonly<Record<string, AllowedType>> = {
  'image/jpeg': { kind: 'image', ext: 'jpg', label: 'JPEG' },
  'image/png': { kind: 'image', ext: 'png', label: 'PNG' },
  'image/webp': { kind: 'image', ext: 'webp', label: 'WebP' },
  'application/pdf': { kind: 'document', ext: 'pdf', label: 'PDF' },
};

/** File name extensions and declared types that claim one of the allowed types. */
const CLAIMS: Readonly<Record<string, string>> = {
  jpg: 'image/jpeg', jpeg: 'image/jpeg', jpe: 'image/jpeg', jfif: 'image/jpeg', png: 'image/png', webp: 'image/webp', pdf: 'application/pdf',
  'image/jpeg': 'image/jpeg', 'image/jpg': 'image/jpeg', 'image/pjpeg': 'image/jpeg', 'image/png': 'image/png', 'image/webp': 'image/webp', 'application/pdf': 'application/pdf',
};

export interface AcceptedAttachment {
  kind: AttachmentKind;
  mimetype: string;
  /** Safe to show and to hand to WhatsApp: no path, no control characters, the right extension. */
  filename: string;
  sizeBytes: number;
  sha256: string;
  content: Buffer;
}

export type AttachmentProblem =
  | { code: 'attachment_empty' }
  | { code: 'attachment_too_large'; kind: AttachmentKind; sizeBytes: number; limitBytes: number }
  | { code: 'attachment_bad_type'; found: string | null }
  | { code: 'attachment_type_mismatch'; claimed: string; found: string };

export type AttachmentCheck = { ok: true; attachment: AcceptedAttachment } | { ok: false; problem: AttachmentProblem; filename: string };

/**
 * Accepts a JPEG, PNG, WebP or PDF within its cap. A name or declared type that claims one allowed
 * type while the bytes are another is refused (the seller most likely picked the wrong file); any
 * other name gets the right extension appended.
 */
export async function checkAttachment(input: { bytes: Uint8Array; filename?: string | null; declaredType?: string | null }): Promise<AttachmentCheck> {
  const content = Buffer.from(input.bytes.buffer, input.bytes.byteOffset, input.bytes.byteLength);
  const given = cleanFilename(input.filename ?? '');
  const fail = (problem: AttachmentProblem): AttachmentCheck => ({ ok: false, problem, filename: given || 'файл' });
  if (content.length === 0) return fail({ code: 'attachment_empty' });
  // Bigger than any kind may be: refused before the content is even looked at.
  if (content.length > MAX_ANY_ATTACHMENT_BYTES) return fail({ code: 'attachment_too_large', kind: 'document', sizeBytes: content.length, limitBytes: MAX_ANY_ATTACHMENT_BYTES });
  const detected = await fileTypeFromBuffer(content);
  const type = detected ? ALLOWED[detected.mime] : undefined;
  if (!detected || !type) return fail({ code: 'attachment_bad_type', found: detected ? detected.ext.toUpperCase() : null });
  for (const claim of [extensionOf(given), (input.declaredType ?? '').split(';')[0]?.trim().toLowerCase() ?? '']) {
    const claimed = CLAIMS[claim];
    if (claimed && claimed !== detected.mime) return fail({ code: 'attachment_type_mismatch', claimed: ALLOWED[claimed]?.label ?? claim, found: type.label });
  }
  const limit = MAX_ATTACHMENT_BYTES[type.kind];
  if (content.length > limit) return fail({ code: 'attachment_too_large', kind: type.kind, sizeBytes: content.length, limitBytes: limit });
  return {
    ok: true,
    attachment: {
      kind: type.kind,
      mimetype: detected.mime,
      filename: withExtension(given || (type.kind === 'image' ? 'image' : 'document'), type.ext),
      sizeBytes: content.length,
      sha256: createHash('sha256').update(content).digest('hex'),
      content,
    },
  };
}

/** The last path segment, NFC, without control or reserved characters, at most 120 characters. */
export function cleanFilename(raw: string): string {
  const base = raw.normalize('NFC').split(/[/\\]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const cleaned = base.replace(/[\u0000-\u001f\u007f-\u009f<>:"|?*]/g, '').replace(/\s+/g, ' ').trim().replace(/^\.+/, '');
  if (cleaned.length <= 120) return cleaned;
  const ext = extensionOf(cleaned);
  const keep = ext && ext.length <= 10 ? `.${ext}` : '';
  return `${cleaned.slice(0, 120 - keep.length).trimEnd()}${keep}`;
}

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

function withExtension(name: string, ext: string): string {
  const current = extensionOf(name);
  if (CLAIMS[current] && ALLOWED[CLAIMS[current]]?.ext === ext) return name;
  return `${name.slice(0, 120 - ext.length - 1)}.${ext}`;
}

/** "1,2 МБ" / "340 КБ", as the editor, the errors and the message log show sizes. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1).replace('.', ',')} ${ru.megabytes}`;
  return `${Math.max(1, Math.round(n / 1024))} ${ru.kilobytes}`;
}
