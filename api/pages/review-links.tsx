import { Hono } from 'hono';
import type { AppContext } from '../../lib/context.ts';
import type { AuthEnv } from '../../lib/auth/middleware.ts';
import { checkReviewLinks, getReviewLinkSettings, saveReviewLinkSettings } from '../../lib/services/review-links.ts';
import { getStore } from '../../lib/services/stores.ts';
import { bool } from '../../views/form.ts';
import { ReviewLinkCheckResult, ReviewLinkSettings } from '../../views/pages/review-links.tsx';
import { errorText, readForm, redirectWithFlash, type PageContext } from './common.tsx';

/**
 * The review short-link setting on the settings page (lib/services/review-links.ts): the card as
 * an htmx fragment, saving it, and the reachability check. Mounted under /stores.
 */
export function reviewLinkPageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  async function card(c: PageContext, extra: Partial<Parameters<typeof ReviewLinkSettings>[0]> = {}) {
    const storeId = c.req.param('storeId');
    const store = await getStore(ctx, c.get('actor'), storeId);
    const settings = await getReviewLinkSettings(ctx, c.get('actor'), storeId);
    return c.html(<ReviewLinkSettings base={`/stores/${store.store_id}`} csrf={c.get('session')?.csrfToken ?? ''} settings={settings} timezone={store.timezone} {...extra} />);
  }

  app.get('/:storeId/settings/review-links', (c) => card(c));

  app.post('/:storeId/settings/review-links', async (c) => {
    const storeId = c.req.param('storeId');
    const form = await readForm(c);
    try {
      const saved = await saveReviewLinkSettings(ctx, c.get('actor'), storeId, { review_links_enabled: bool(form, 'review_links_enabled') });
      if (!c.req.header('hx-request')) return redirectWithFlash(c, `/stores/${storeId}/settings`, 'review_links_saved');
      return card(c, { check: saved.check });
    } catch (err) {
      const error = errorText(err);
      if (!error) throw err;
      return card(c, { error });
    }
  });

  app.post('/:storeId/settings/review-links/check', async (c) => {
    const result = await checkReviewLinks(ctx, c.get('actor'), c.req.param('storeId'));
    return c.html(<ReviewLinkCheckResult result={result} />);
  });
  return app;
}
