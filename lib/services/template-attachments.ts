import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { templateAttachments } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import { fmt, ru, t } from '../i18n/messages.ts';
import { checkAttachment, formatBytes, type AttachmentProblem } from '../templates/attachments.ts';
import type { Actor } from './access.ts';
import { recordAudit } from './audit.ts';
import { NotFoundError, ValidationError } from './errors.ts';
import { attachmentMetaColumns as metaColumns, attachmentView as toView, requireTemplate, type AttachmentView } from './templates.ts';

/**
 * A template's attachment: set (a first one or a replacement), removed, read back. The bytes are
 * checked by lib/templates/attachments.ts and stored in PostgreSQL (drizzle/schema.ts
 * `template_attachments`); the outside world sees a name, a type, a size and a hash — never a path.
 * Every refusal is a ValidationError on the field `attachment` with a Russian sentence naming the
 * file, and changes nothing.
 */

/** What a caller hands over: the bytes and whatever it claims about them. */
export interface AttachmentUpload {
  bytes: Uint8Array;
  filename: string | null;
  declaredType: string | null;
}

/** The Russian sentence for a refused file, naming it. */
export function attachmentProblemText(problem: AttachmentProblem, filename: string): string {
  const E = ru.templates.attachment.errors;
  switch (problem.code) {
    case 'attachment_empty':
      return fmt(E.empty, { name: filename });
    case 'attachment_too_large':
      return fmt(E.tooLarge, { name: filename, size: formatBytes(problem.sizeBytes), kind: ru.templates.attachment.kindsInError[problem.kind] ?? problem.kind, limit: formatBytes(problem.limitBytes) });
    case 'attachment_bad_type':
      return fmt(E.badType, { name: filename, found: problem.found ? fmt(E.foundType, { type: problem.found }) : E.foundUnknown });
    case 'attachment_type_mismatch':
      return fmt(E.mismatch, { name: filename, claimed: problem.claimed, found: problem.found });
  }
}

function refuse(code: string, text: string): never {
  throw new ValidationError({ attachment: text }, code);
}

/**
 * JSON uploads follow WAHA's own BinaryFile: `{"file": {"data": "<base64>", "filename"?, "mimetype"?}}`.
 * A `file.url` is refused: fetching an admin-given URL from our network is a request forgery risk,
 * and the caller can send the bytes it has.
 */
const base64Upload = z.object({
  file: z.object({
    data: z.string().optional(),
    url: z.string().optional(),
    filename: z.string().max(1000).nullish(),
    mimetype: z.string().max(200).nullish(),
  }),
});

export function parseBase64Upload(body: unknown): AttachmentUpload {
  const parsed = base64Upload.safeParse(body);
  if (!parsed.success) refuse('attachment_missing', t('attachment_missing'));
  const file = parsed.data.file;
  if (file.data === undefined && file.url !== undefined) refuse('attachment_url_unsupported', t('attachment_url_unsupported'));
  const data = (file.data ?? '').replace(/\s+/g, '');
  // Buffer.from skips what is not base64 without a word: anything else must be refused here.
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 === 1) refuse('attachment_bad_type', t('attachment_bad_type'));
  return { bytes: Buffer.from(data, 'base64'), filename: file.filename ?? null, declaredType: file.mimetype ?? null };
}

/** Sets or replaces the template's file in one transaction (a replacement is a new row: a new id). */
export async function setTemplateAttachment(ctx: AppContext, actor: Actor, templateId: unknown, upload: AttachmentUpload): Promise<AttachmentView> {
  const template = await requireTemplate(ctx, actor, templateId);
  const checked = await checkAttachment({ bytes: upload.bytes, filename: upload.filename, declaredType: upload.declaredType });
  if (!checked.ok) refuse(checked.problem.code, attachmentProblemText(checked.problem, checked.filename));
  const a = checked.attachment;
  return ctx.db.transaction(async (tx) => {
    const [previous] = await tx.delete(templateAttachments).where(eq(templateAttachments.templateId, template.id)).returning({ filename: templateAttachments.filename });
    const [row] = await tx.insert(templateAttachments).values({
      templateId: template.id, kind: a.kind, mimetype: a.mimetype, filename: a.filename, sizeBytes: a.sizeBytes, sha256: a.sha256, content: a.content, createdAt: ctx.now(),
    }).returning(metaColumns);
    await recordAudit(tx, {
      storeId: template.storeId, actor, action: previous ? 'template.attachment.replace' : 'template.attachment.set',
      details: { template_id: template.id, kind: a.kind, filename: a.filename, size_bytes: a.sizeBytes, sha256: a.sha256, ...(previous ? { replaced: previous.filename } : {}) },
    });
    return toView(row!);
  });
}

/** Removes the template's file; a template without one is NotFoundError. */
export async function removeTemplateAttachment(ctx: AppContext, actor: Actor, templateId: unknown): Promise<void> {
  const template = await requireTemplate(ctx, actor, templateId);
  await ctx.db.transaction(async (tx) => {
    const [removed] = await tx.delete(templateAttachments).where(eq(templateAttachments.templateId, template.id)).returning({ filename: templateAttachments.filename, sha256: templateAttachments.sha256 });
    if (!removed) throw new NotFoundError();
    await recordAudit(tx, { storeId: template.storeId, actor, action: 'template.attachment.remove', details: { template_id: template.id, filename: removed.filename, sha256: removed.sha256 } });
  });
}

/** The file itself, for the editor's preview and the API's download. */
export async function templateAttachmentFile(ctx: AppContext, actor: Actor, templateId: unknown): Promise<AttachmentView & { storeId: string; content: Buffer }> {
  const template = await requireTemplate(ctx, actor, templateId);
  const [row] = await ctx.db.select({ ...metaColumns, content: templateAttachments.content }).from(templateAttachments).where(eq(templateAttachments.templateId, template.id));
  if (!row) throw new NotFoundError();
  return { ...toView(row), storeId: template.storeId, content: row.content };
}
