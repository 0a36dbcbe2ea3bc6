import { and, desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { optOuts } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import { normalizeKzPhone } from '../phones/phones.ts';
import { requireStore, type Actor } from './access.ts';
import { recordAudit } from './audit.ts';
import { ConflictError, parseOrThrow, ValidationError } from './errors.ts';

/**
 * Buyers who asked not to be messaged (the notification workflow skips them). Phones are kept as
 * the normalized digits (`77011234567`), the form the workflow and the WAHA webhook use.
 */
export interface OptOutView {
  phone: string;
  source: string;
  note: string | null;
  created_at: string;
}

const addSchema = z.object({
  phone: z.string().trim().min(1, 'Укажите номер телефона'),
  note: z.string().trim().max(500, 'Не длиннее 500 символов').optional(),
});

export async function listOptOuts(ctx: AppContext, actor: Actor, storeId: unknown): Promise<OptOutView[]> {
  const store = await requireStore(ctx, actor, storeId);
  const rows = await ctx.db.select().from(optOuts).where(eq(optOuts.storeId, store.id)).orderBy(desc(optOuts.createdAt)).limit(1000);
  return rows.map((r) => ({ phone: r.phone, source: r.source, note: r.note, created_at: r.createdAt.toISOString() }));
}

export async function addOptOut(ctx: AppContext, actor: Actor, storeId: unknown, input: unknown): Promise<OptOutView> {
  const store = await requireStore(ctx, actor, storeId);
  const data = parseOrThrow(addSchema, input);
  const phone = normalizeKzPhone(data.phone);
  if (!phone.ok) throw new ValidationError({ phone: phone.reason });
  const [row] = await ctx.db.insert(optOuts)
    .values({ storeId: store.id, phone: phone.digits, source: 'admin', note: data.note || null, createdAt: ctx.now() })
    .onConflictDoNothing()
    .returning();
  if (!row) throw new ConflictError('opt_out_exists', 'already opted out', { phone: 'Этот номер уже в списке отказов' });
  await recordAudit(ctx.db, { storeId: store.id, actor, action: 'opt_out.add', details: { phone_suffix: phone.digits.slice(-4) } });
  return { phone: row.phone, source: row.source, note: row.note, created_at: row.createdAt.toISOString() };
}

export async function removeOptOut(ctx: AppContext, actor: Actor, storeId: unknown, phone: unknown): Promise<boolean> {
  const store = await requireStore(ctx, actor, storeId);
  if (typeof phone !== 'string' || !/^\d{5,20}$/.test(phone)) return false;
  const removed = await ctx.db.delete(optOuts).where(and(eq(optOuts.storeId, store.id), eq(optOuts.phone, phone))).returning({ phone: optOuts.phone });
  if (removed.length) await recordAudit(ctx.db, { storeId: store.id, actor, action: 'opt_out.remove', details: { phone_suffix: phone.slice(-4) } });
  return removed.length > 0;
}
