import { Hono } from 'hono';
import type { AppContext } from '../lib/context.ts';
import { openReviewLink } from '../lib/review-links/links.ts';
import { isProbeNonce, PROBE_PATH, PROBE_PURPOSE } from '../lib/review-links/reachability.ts';

/**
 * The buyers' side of the review short link (lib/review-links/links.ts), without a session:
 * `GET /r/<id>` redirects to Kaspi's review page and counts the first open; `GET /r/-/probe` answers
 * the reachability check (lib/review-links/reachability.ts). Unknown ids are one plain 404. No
 * caching (every open is seen) and no referrer sent on to Kaspi.
 */
export function reviewLinkRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  app.use('/r/*', async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store');
    c.header('Referrer-Policy', 'no-referrer');
    c.header('X-Robots-Tag', 'noindex, nofollow');
  });

  app.get(PROBE_PATH, (c) => {
    const nonce = c.req.query('nonce');
    if (!isProbeNonce(nonce)) return c.json({ service: 'kaspi-notify', error: 'nonce' }, 400);
    return c.json({ service: 'kaspi-notify', proof: ctx.secrets.mac(PROBE_PURPOSE, nonce) });
  });

  app.get('/r/:id', async (c) => {
    const id = c.req.param('id');
    // HEAD is what link checkers send; only a GET can be a buyer opening the page.
    const link = c.req.method === 'HEAD'
      ? await openReviewLink(ctx.db, id, new Date(0))
      : await openReviewLink(ctx.db, id, ctx.now());
    if (!link) return c.text('Not found', 404);
    if (link.counted) ctx.logger.debug({ path: '/r' }, 'review link opened');
    return c.redirect(link.targetUrl, 302);
  });
  return app;
}
