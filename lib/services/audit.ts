import { and, desc, eq, inArray, lt } from 'drizzle-orm';
import { auditLog, users } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import type { Db } from '../db/client.ts';
import { requireStore, type Actor } from './access.ts';

/** Secrets are recorded only as this marker, never their value. */
export const SECRET_CHANGED = 'changed';
export const SECRET_REMOVED = 'removed';

type Executor = Pick<Db, 'insert'>;

export async function recordAudit(
  db: Executor,
  entry: { storeId: string | null; actor: Actor | null; action: string; details: Record<string, unknown> },
): Promise<void> {
  const details = entry.actor?.kind === 'token' ? { ...entry.details, via: 'api_token' } : entry.details;
  await db.insert(auditLog).values({ storeId: entry.storeId, userId: entry.actor?.userId ?? null, action: entry.action, details });
}

export interface AuditEntry {
  id: number;
  action: string;
  userId: string | null;
  details: unknown;
  createdAt: Date;
}

/** The audit log of one store, newest first (for the audit page). */
export async function listAudit(ctx: AppContext, actor: Actor, storeId: string, options: { limit?: number; beforeId?: number } = {}): Promise<AuditEntry[]> {
  await requireStore(ctx, actor, storeId);
  const limit = Math.min(Math.max(options.limit ?? 100, 1), 500);
  return ctx.db
    .select({ id: auditLog.id, action: auditLog.action, userId: auditLog.userId, details: auditLog.details, createdAt: auditLog.createdAt })
    .from(auditLog)
    .where(and(eq(auditLog.storeId, storeId), options.beforeId ? lt(auditLog.id, options.beforeId) : undefined))
    .orderBy(desc(auditLog.id))
    .limit(limit);
}

/** The e-mail of each user who appears in these entries (the audit page's "who"). */
export async function auditUserEmails(ctx: AppContext, entries: readonly AuditEntry[]): Promise<Map<string, string>> {
  const ids = [...new Set(entries.map((e) => e.userId).filter((x): x is string => x !== null))];
  if (ids.length === 0) return new Map();
  const rows = await ctx.db.select({ id: users.id, email: users.email }).from(users).where(inArray(users.id, ids));
  return new Map(rows.map((u) => [u.id, u.email]));
}
