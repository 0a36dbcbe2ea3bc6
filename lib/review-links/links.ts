import { randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { reviewLinks } from '../../drizzle/schema.ts';
import type { Db } from '../db/client.ts';
import type { OrderForTemplate, RenderOptions } from '../templates/render.ts';
import { resolveVariable } from '../templates/variables.ts';

/**
 * The review short link: `{review_link}` renders as `<PUBLIC_URL>/r/<id>` when the store has
 * declared PUBLIC_URL reachable from the internet (lib/review-links/reachability.ts), and `/r/<id>`
 * redirects the buyer to Kaspi's review page, recording the first open (api/review-links.ts).
 *
 * - The id is 96 random bits (16 base64url characters): nothing about the buyer, the order or the
 *   store can be read from it, and nobody can guess another buyer's link.
 * - One link per notification, created on first use: every attempt and every retry of the claim
 *   renders the same text (the WEBJS echo is matched on the exact text).
 * - WAHA builds a link preview by fetching the first URL of a text before it sends it
 *   (docs/contracts/waha.md "Link previews"): a request that comes before the message was sent is
 *   that fetch, not the buyer, and is never counted as an open.
 */

export const REVIEW_LINK_PATH = '/r/';
const ID_RE = /^[A-Za-z0-9_-]{16}$/;

export function isReviewLinkId(value: string): boolean {
  return ID_RE.test(value);
}

/** The origin buyers and WAHA reach this service at: PUBLIC_URL, or this machine's port. */
export function publicBase(config: { PUBLIC_URL?: string | undefined; PORT: number }): string {
  return (config.PUBLIC_URL ?? `http://localhost:${config.PORT}`).replace(/\/+$/, '');
}

/** Whether a template uses `{review_link}` (a literal `{{review_link}}` costs one unused row, nothing more). */
export function usesReviewLink(templateText: string): boolean {
  return templateText.includes('{review_link}');
}

/** The link row of a notification, created once; its id. */
export async function reviewLinkIdFor(db: Pick<Db, 'insert' | 'select'>, r: { notificationId: string; storeId: string; targetUrl: string }): Promise<string> {
  await db.insert(reviewLinks).values({ id: randomBytes(12).toString('base64url'), notificationId: r.notificationId, storeId: r.storeId, targetUrl: r.targetUrl }).onConflictDoNothing({ target: reviewLinks.notificationId });
  const [row] = await db.select({ id: reviewLinks.id }).from(reviewLinks).where(eq(reviewLinks.notificationId, r.notificationId));
  if (!row) throw new Error(`review link of notification ${r.notificationId} vanished`);
  return row.id;
}

/**
 * The render options of one notification: with `reviewLink` set to its short link when the store
 * has short links on and the template asks for the link; unchanged otherwise (`{review_link}`
 * renders Kaspi's URL as before).
 */
export async function withReviewLink(
  db: Pick<Db, 'insert' | 'select'>,
  r: { enabled: boolean; base: string; notificationId: string; storeId: string; templateText: string; order: OrderForTemplate; options: RenderOptions },
): Promise<RenderOptions> {
  if (!r.enabled || !usesReviewLink(r.templateText)) return r.options;
  const targetUrl = resolveVariable('review_link', r.order, { ...r.options, reviewLink: undefined });
  const id = await reviewLinkIdFor(db, { notificationId: r.notificationId, storeId: r.storeId, targetUrl });
  return { ...r.options, reviewLink: `${r.base}${REVIEW_LINK_PATH}${id}` };
}

/**
 * A request for `/r/<id>`: where it leads, or null for an unknown id. Counted as an open only
 * once the message is sent (see above); the first counted open is kept.
 */
export async function openReviewLink(db: Pick<Db, 'execute'>, id: string, at: Date): Promise<{ targetUrl: string; counted: boolean } | null> {
  if (!isReviewLinkId(id)) return null;
  const opened = await db.execute<{ target_url: string }>(sql`
    update review_links r set
      first_opened_at = coalesce(r.first_opened_at, ${at}),
      last_opened_at = ${at},
      open_count = r.open_count + 1
    from notifications n
    where r.id = ${id} and n.id = r.notification_id and n.sent_at is not null and n.sent_at <= ${at}
    returning r.target_url`);
  const counted = opened.rows[0];
  if (counted) return { targetUrl: counted.target_url, counted: true };
  const rows = await db.execute<{ target_url: string }>(sql`select target_url from review_links where id = ${id}`);
  const row = rows.rows[0];
  return row ? { targetUrl: row.target_url, counted: false } : null;
}

