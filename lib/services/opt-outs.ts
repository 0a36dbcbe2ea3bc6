import { and, desc, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import { optOuts, unmappedOptOuts } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import { normalizeKzPhone } from '../phones/phones.ts';
import { requireStore, type Actor } from './access.ts';
import { recordAudit } from './audit.ts';
import { ConflictError, parseOrThrow, ValidationError } from './errors.ts';
import { vmsg, vtext } from '../i18n/request-locale.ts';

/**
 * Buyers who asked not to be messaged (the notification workflow skips them). Phones are kept as
 * the normalized digits (`77011234567`), the form the workflow and the WAHA webhook use.
 */
export interface OptOutView {
  phone: string;
  source: string;
  /** How a WhatsApp reply was tied to the phone (drizzle/schema.ts OPT_OUT_MATCHES); null for older rows. */
  matched_by: string | null;
  note: string | null;
  created_at: string;
}

/** An opt-out word from a LID no route could map to a phone yet. */
export interface UnmappedOptOutView {
  lid_suffix: string;
  created_at: string;
}

const addSchema = z.object({
  phone: z.string().trim().min(1, vmsg('phoneRequired')),
  note: z.string().trim().max(500, vmsg('maxChars500')).optional(),
});

export async function listOptOuts(ctx: AppContext, actor: Actor, storeId: unknown): Promise<OptOutView[]> {
  const store = await requireStore(ctx, actor, storeId);
  const rows = await ctx.db.select().from(optOuts).where(eq(optOuts.storeId, store.id)).orderBy(desc(optOuts.createdAt)).limit(1000);
  return rows.map((r) => ({ phone: r.phone, source: r.source, matched_by: r.matchedBy ?? (r.source === 'whatsapp' ? 'phone' : null), note: r.note, created_at: r.createdAt.toISOString() }));
}

export async function listUnmappedOptOuts(ctx: AppContext, actor: Actor, storeId: unknown): Promise<UnmappedOptOutView[]> {
  const store = await requireStore(ctx, actor, storeId);
  const rows = await ctx.db
    .select()
    .from(unmappedOptOuts)
    .where(and(eq(unmappedOptOuts.storeId, store.id), isNull(unmappedOptOuts.matchedAt)))
    .orderBy(desc(unmappedOptOuts.createdAt))
    .limit(1000);
  // A LID identifies a person as a phone does: only its last digits are shown.
  return rows.map((r) => ({ lid_suffix: r.lid.replace(/@lid$/, '').slice(-4), created_at: r.createdAt.toISOString() }));
}

export async function addOptOut(ctx: AppContext, actor: Actor, storeId: unknown, input: unknown): Promise<OptOutView> {
  const store = await requireStore(ctx, actor, storeId);
  const data = parseOrThrow(addSchema, input);
  const phone = normalizeKzPhone(data.phone);
  if (!phone.ok) throw new ValidationError({ phone: phone.reason });
  const [row] = await ctx.db.insert(optOuts)
    .values({ storeId: store.id, phone: phone.digits, source: 'admin', matchedBy: 'admin', note: data.note || null, createdAt: ctx.now() })
    .onConflictDoNothing()
    .returning();
  if (!row) throw new ConflictError('opt_out_exists', 'already opted out', { phone: vtext('optOutExists') });
  await recordAudit(ctx.db, { storeId: store.id, actor, action: 'opt_out.add', details: { phone_suffix: phone.digits.slice(-4) } });
  return { phone: row.phone, source: row.source, matched_by: row.matchedBy, note: row.note, created_at: row.createdAt.toISOString() };
}

export async function removeOptOut(ctx: AppContext, actor: Actor, storeId: unknown, phone: unknown): Promise<boolean> {
  const store = await requireStore(ctx, actor, storeId);
  if (typeof phone !== 'string' || !/^\d{5,20}$/.test(phone)) return false;
  const removed = await ctx.db.delete(optOuts).where(and(eq(optOuts.storeId, store.id), eq(optOuts.phone, phone))).returning({ phone: optOuts.phone });
  if (removed.length) await recordAudit(ctx.db, { storeId: store.id, actor, action: 'opt_out.remove', details: { phone_suffix: phone.slice(-4) } });
  return removed.length > 0;
}
