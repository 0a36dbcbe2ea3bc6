import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { stores } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import { fmt, t } from '../i18n/messages.ts';
import { publicBase } from '../review-links/links.ts';
import { checkPublicUrlReachable, type Reachability } from '../review-links/reachability.ts';
import { requireStore, type Actor } from './access.ts';
import { recordAudit } from './audit.ts';
import { parseOrThrow, ValidationError } from './errors.ts';

/**
 * The store's review short-link setting (lib/review-links/links.ts): off by default; turning it
 * on runs the reachability check through PUBLIC_URL first and refuses when it fails, so buyers are
 * never sent a link their phones cannot open.
 */

export interface ReviewLinkSettingsView {
  enabled: boolean;
  checked_at: string | null;
  public_url: string;
}

const saveSchema = z.object({ review_links_enabled: z.boolean() });

function view(ctx: AppContext, row: typeof stores.$inferSelect): ReviewLinkSettingsView {
  return { enabled: row.reviewLinksEnabled, checked_at: row.reviewLinksCheckedAt?.toISOString() ?? null, public_url: publicBase(ctx.config) };
}

export async function getReviewLinkSettings(ctx: AppContext, actor: Actor, storeId: unknown): Promise<ReviewLinkSettingsView> {
  return view(ctx, await requireStore(ctx, actor, storeId));
}

/** The test button: checks PUBLIC_URL and remembers when it last passed. */
export async function checkReviewLinks(ctx: AppContext, actor: Actor, storeId: unknown): Promise<Reachability> {
  const store = await requireStore(ctx, actor, storeId);
  const result = await checkPublicUrlReachable(ctx);
  if (result.ok) await ctx.db.update(stores).set({ reviewLinksCheckedAt: ctx.now() }).where(eq(stores.id, store.id));
  return result;
}

/** The check's outcome as the Russian sentence the page shows. */
export function reachabilityText(r: Reachability): string {
  if (r.ok) return fmt(t(r.localOnly ? 'review_check_local' : 'review_check_ok'), { url: r.url });
  return fmt(t(`review_check_${r.reason}`), { url: r.url, detail: r.detail ?? '' });
}

export async function saveReviewLinkSettings(ctx: AppContext, actor: Actor, storeId: unknown, input: unknown): Promise<{ settings: ReviewLinkSettingsView; check: Reachability | null }> {
  const store = await requireStore(ctx, actor, storeId);
  const data = parseOrThrow(saveSchema, input);
  let check: Reachability | null = null;
  if (data.review_links_enabled && !store.reviewLinksEnabled) {
    check = await checkPublicUrlReachable(ctx);
    if (!check.ok) throw new ValidationError({ review_links_enabled: `${t('review_links_unreachable')}. ${reachabilityText(check)}` }, 'review_links_unreachable');
  }
  if (data.review_links_enabled === store.reviewLinksEnabled) return { settings: view(ctx, store), check };
  const row = await ctx.db.transaction(async (tx) => {
    const [updated] = await tx.update(stores)
      .set({ reviewLinksEnabled: data.review_links_enabled, ...(check?.ok ? { reviewLinksCheckedAt: ctx.now() } : {}), updatedAt: ctx.now() })
      .where(eq(stores.id, store.id))
      .returning();
    await recordAudit(tx, { storeId: store.id, actor, action: 'store.review_links', details: { review_links_enabled: data.review_links_enabled, public_url: publicBase(ctx.config) } });
    return updated!;
  });
  return { settings: view(ctx, row), check };
}
