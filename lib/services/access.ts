import { and, eq, exists, inArray, sql, type SQL } from 'drizzle-orm';
import { storeMembers, stores } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import { NotFoundError } from './errors.ts';

/**
 * THE place that decides whether an actor may see a store. Every service calls `requireStore`
 * (or filters with `visibleStoresCondition`) before touching store data; everything the actor may
 * not see is a NotFoundError, so an id that exists elsewhere and one that never existed look alike.
 *
 * - super-admin (session or token without a store) sees every store;
 * - a user sees the stores they are a member of;
 * - an API token scoped to a store sees only that store, and only while its user still could;
 * - an API token without a store sees what its user sees, now and later.
 */
export type Actor =
  | { kind: 'user'; userId: string; isSuperAdmin: boolean }
  | { kind: 'token'; userId: string; isSuperAdmin: boolean; tokenId: string; storeId: string | null };

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_RE.test(value);
}

/** SQL condition over `stores` selecting what the actor can see. */
export function visibleStoresCondition(actor: Actor): SQL | undefined {
  const member = exists(
    sql`(select 1 from ${storeMembers} where ${storeMembers.storeId} = ${stores.id} and ${storeMembers.userId} = ${actor.userId})`,
  );
  const userCondition = actor.isSuperAdmin ? undefined : member;
  if (actor.kind === 'token' && actor.storeId) {
    return and(eq(stores.id, actor.storeId), userCondition);
  }
  return userCondition;
}

export async function canSeeStore(ctx: AppContext, actor: Actor, storeId: unknown): Promise<boolean> {
  if (!isUuid(storeId)) return false;
  const rows = await ctx.db.select({ id: stores.id }).from(stores).where(and(eq(stores.id, storeId), visibleStoresCondition(actor))).limit(1);
  return rows.length > 0;
}

/** The store row if the actor may see it; NotFoundError otherwise (also for malformed ids). */
export async function requireStore(ctx: AppContext, actor: Actor, storeId: unknown): Promise<typeof stores.$inferSelect> {
  if (!isUuid(storeId)) throw new NotFoundError();
  const [row] = await ctx.db.select().from(stores).where(and(eq(stores.id, storeId), visibleStoresCondition(actor))).limit(1);
  if (!row) throw new NotFoundError();
  return row;
}

/** Ids of the visible stores among `ids` (for checks over several stores at once). */
export async function visibleAmong(ctx: AppContext, actor: Actor, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await ctx.db.select({ id: stores.id }).from(stores).where(and(inArray(stores.id, ids), visibleStoresCondition(actor)));
  return new Set(rows.map((r) => r.id));
}
