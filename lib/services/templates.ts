import { and, desc, eq, inArray, isNull } from 'drizzle-orm';
import { z } from 'zod';
import { NOTIFY_EVENTS, stores, templateAttachments, templates, type AttachmentKind } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import type { Db } from '../db/client.ts';
import { SAMPLE_ORDER, tryRenderTemplate, validateTemplate } from '../templates/render.ts';
import { isUuid, requireStore, visibleStoresCondition, type Actor } from './access.ts';
import { recordAudit } from './audit.ts';
import { NotFoundError, parseOrThrow, ValidationError } from './errors.ts';
import { vmsg } from '../i18n/request-locale.ts';

/** A store's message templates (seed fields + event, weight, delay). Several active ones for an event are variants. */
export interface TemplateView {
  id: string;
  store_id: string;
  template_name: string;
  template_text: string;
  is_active: boolean;
  event: (typeof NOTIFY_EVENTS)[number];
  weight: number;
  delay_minutes: number;
  /** The picture or PDF sent with the text (its caption), or null; the bytes: lib/services/template-attachments.ts. */
  attachment: AttachmentView | null;
  created_at: string;
  updated_at: string;
}

/** A template's file as the pages and the API show it: what it is, never where it is kept. */
export interface AttachmentView {
  kind: AttachmentKind;
  mimetype: string;
  filename: string;
  size_bytes: number;
  sha256: string;
  created_at: string;
}

export const attachmentMetaColumns = {
  id: templateAttachments.id,
  templateId: templateAttachments.templateId,
  kind: templateAttachments.kind,
  mimetype: templateAttachments.mimetype,
  filename: templateAttachments.filename,
  sizeBytes: templateAttachments.sizeBytes,
  sha256: templateAttachments.sha256,
  createdAt: templateAttachments.createdAt,
};
type AttachmentMetaRow = { [K in keyof typeof attachmentMetaColumns]: (typeof templateAttachments.$inferSelect)[K] };

export function attachmentView(a: AttachmentMetaRow): AttachmentView {
  return { kind: a.kind as AttachmentKind, mimetype: a.mimetype, filename: a.filename, size_bytes: a.sizeBytes, sha256: a.sha256, created_at: a.createdAt.toISOString() };
}

/** The attachments of these templates, without their bytes. */
export async function attachmentsOf(db: Pick<Db, 'select'>, templateIds: string[]): Promise<Map<string, AttachmentView>> {
  if (templateIds.length === 0) return new Map();
  const rows = await db.select(attachmentMetaColumns).from(templateAttachments).where(inArray(templateAttachments.templateId, templateIds));
  return new Map(rows.map((r) => [r.templateId, attachmentView(r)]));
}

const fields = {
  template_name: z.string().trim().min(1, vmsg('templateNameRequired')).max(255, vmsg('maxChars255')),
  template_text: z.string(),
  is_active: z.boolean(),
  event: z.enum(NOTIFY_EVENTS, { message: `Событие: одно из ${NOTIFY_EVENTS.join(', ')}` }),
  weight: z.number().int(vmsg('integer')).min(0, vmsg('weightRange')).max(10000, vmsg('weightRange')),
  delay_minutes: z.number().int(vmsg('intMinutes')).min(0, vmsg('delayRange')).max(10080, vmsg('delayRange')),
};
const createSchema = z.object({
  template_name: fields.template_name,
  template_text: fields.template_text,
  is_active: fields.is_active.optional(),
  event: fields.event.optional(),
  weight: fields.weight.optional(),
  delay_minutes: fields.delay_minutes.optional(),
});
const updateSchema = z.object({
  template_name: fields.template_name.optional(),
  template_text: fields.template_text.optional(),
  is_active: fields.is_active.optional(),
  event: fields.event.optional(),
  weight: fields.weight.optional(),
  delay_minutes: fields.delay_minutes.optional(),
});
export type CreateTemplateInput = z.input<typeof createSchema>;
export type UpdateTemplateInput = z.input<typeof updateSchema>;

/** Every problem of the text in one Russian message; unknown placeholders are named (`{foo}`). */
export function templateTextError(text: string): string | null {
  const v = validateTemplate(text);
  return v.ok ? null : v.errors.map((e) => e.message).join(' ');
}

/** The editor's live preview: the sample order through the workflow's own renderer, in the store's name and zone. */
export type TemplatePreview = { kind: 'empty' } | { kind: 'ok'; text: string } | { kind: 'error'; error: string };

export function previewTemplate(text: string, store: { name: string; timezone: string }): TemplatePreview {
  if (text.trim() === '') return { kind: 'empty' };
  const r = tryRenderTemplate(text, SAMPLE_ORDER, { shopName: store.name, timezone: store.timezone });
  return r.ok ? { kind: 'ok', text: r.text } : { kind: 'error', error: r.errors.map((e) => e.message).join(' ') };
}

function checkText(text: string | undefined): void {
  if (text === undefined) return;
  const error = templateTextError(text);
  if (error) throw new ValidationError({ template_text: error }, 'invalid_template');
}

function toView(t: typeof templates.$inferSelect, attachment: AttachmentView | null = null): TemplateView {
  return {
    id: t.id,
    store_id: t.storeId,
    template_name: t.name,
    template_text: t.text,
    is_active: t.isActive,
    event: t.event as TemplateView['event'],
    weight: t.weight,
    delay_minutes: t.delayMinutes,
    attachment,
    created_at: t.createdAt.toISOString(),
    updated_at: t.updatedAt.toISOString(),
  };
}

/** Non-deleted templates, newest first. */
export async function listTemplates(ctx: AppContext, actor: Actor, storeId: unknown): Promise<TemplateView[]> {
  const store = await requireStore(ctx, actor, storeId);
  const rows = await ctx.db.select().from(templates)
    .where(and(eq(templates.storeId, store.id), isNull(templates.deletedAt)))
    .orderBy(desc(templates.createdAt), desc(templates.id));
  const attachments = await attachmentsOf(ctx.db, rows.map((r) => r.id));
  return rows.map((r) => toView(r, attachments.get(r.id) ?? null));
}

export async function createTemplate(ctx: AppContext, actor: Actor, storeId: unknown, input: unknown): Promise<TemplateView> {
  const store = await requireStore(ctx, actor, storeId);
  const data = parseOrThrow(createSchema, input);
  checkText(data.template_text);
  return ctx.db.transaction(async (tx) => {
    const [row] = await tx.insert(templates).values({
      storeId: store.id,
      name: data.template_name,
      text: data.template_text,
      isActive: data.is_active ?? true,
      event: data.event ?? 'new',
      weight: data.weight ?? 100,
      delayMinutes: data.delay_minutes ?? 0,
      createdAt: ctx.now(),
      updatedAt: ctx.now(),
    }).returning();
    await recordAudit(tx, { storeId: store.id, actor, action: 'template.create', details: { template_id: row!.id, template_name: row!.name, event: row!.event, is_active: row!.isActive } });
    return toView(row!);
  });
}

/** The template if its store is visible to the actor and it is not archived. */
export async function getTemplate(ctx: AppContext, actor: Actor, templateId: unknown): Promise<TemplateView> {
  const t = await requireTemplate(ctx, actor, templateId);
  return toView(t, (await attachmentsOf(ctx.db, [t.id])).get(t.id) ?? null);
}

export async function requireTemplate(ctx: AppContext, actor: Actor, templateId: unknown): Promise<typeof templates.$inferSelect> {
  if (!isUuid(templateId)) throw new NotFoundError();
  const [row] = await ctx.db.select({ t: templates }).from(templates)
    .innerJoin(stores, eq(stores.id, templates.storeId))
    .where(and(eq(templates.id, templateId), isNull(templates.deletedAt), visibleStoresCondition(actor)))
    .limit(1);
  if (!row) throw new NotFoundError();
  return row.t;
}

/** Changes only the fields sent. */
export async function updateTemplate(ctx: AppContext, actor: Actor, templateId: unknown, input: unknown): Promise<TemplateView> {
  const current = await requireTemplate(ctx, actor, templateId);
  const data = parseOrThrow(updateSchema, input);
  checkText(data.template_text);
  const set: Partial<typeof templates.$inferInsert> = {};
  if (data.template_name !== undefined) set.name = data.template_name;
  if (data.template_text !== undefined) set.text = data.template_text;
  if (data.is_active !== undefined) set.isActive = data.is_active;
  if (data.event !== undefined) set.event = data.event;
  if (data.weight !== undefined) set.weight = data.weight;
  if (data.delay_minutes !== undefined) set.delayMinutes = data.delay_minutes;
  const attachment = (await attachmentsOf(ctx.db, [current.id])).get(current.id) ?? null;
  if (Object.keys(set).length === 0) return toView(current, attachment);
  return ctx.db.transaction(async (tx) => {
    const [row] = await tx.update(templates).set({ ...set, updatedAt: ctx.now() }).where(eq(templates.id, current.id)).returning();
    await recordAudit(tx, {
      storeId: current.storeId, actor, action: 'template.update',
      details: { template_id: current.id, fields: Object.keys(data).filter((k) => (data as Record<string, unknown>)[k] !== undefined) },
    });
    return toView(row!, attachment);
  });
}

/** Archives (deleted_at); notifications keep pointing at it. A second delete is 404. */
export async function archiveTemplate(ctx: AppContext, actor: Actor, templateId: unknown): Promise<void> {
  const current = await requireTemplate(ctx, actor, templateId);
  await ctx.db.transaction(async (tx) => {
    await tx.update(templates).set({ deletedAt: ctx.now(), isActive: false, updatedAt: ctx.now() }).where(eq(templates.id, current.id));
    await recordAudit(tx, { storeId: current.storeId, actor, action: 'template.delete', details: { template_id: current.id, template_name: current.name } });
  });
}
