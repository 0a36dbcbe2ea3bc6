import { Hono } from 'hono';
import type { AppContext } from '../../lib/context.ts';
import { csrfProtect, requireSession, type AuthEnv } from '../../lib/auth/middleware.ts';
import { auditPageRoutes } from './audit.tsx';
import { notFoundPage, pageErrorHandler } from './common.tsx';
import { dashboardPageRoutes } from './dashboard.tsx';
import { messagePageRoutes } from './messages.tsx';
import { optOutPageRoutes } from './opt-outs.tsx';
import { settingsPageRoutes } from './settings.tsx';
import { storeCreatePageRoutes } from './stores.tsx';
import { templatePageRoutes } from './templates.tsx';
import { templateStatsPageRoutes } from './template-stats.tsx';
import { reviewLinkPageRoutes } from './review-links.tsx';

export { accountPageRoutes } from './account.tsx';
export { loginPageRoutes } from './login.tsx';
export { staticRoutes } from './static.ts';

/**
 * Every store page, mounted at /stores: one session check and one CSRF check for all of them
 * (state changes carry the token as the `_csrf` field or htmx's X-CSRF-Token header), and one
 * error handler turning NotFoundError (invisible store, unknown id) into the 404 page.
 */
export function storePageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.use('*', requireSession(ctx), csrfProtect());
  app.use('*', async (c, next) => {
    await next();
    // CSP, framing and the other browser headers come from api/app.ts for every route.
    c.header('Cache-Control', 'no-store');
  });
  // Before the store pages: /stores/new is not a store id.
  app.route('/', storeCreatePageRoutes(ctx));
  app.route('/', dashboardPageRoutes(ctx));
  app.route('/', templatePageRoutes(ctx));
  app.route('/', templateStatsPageRoutes(ctx));
  app.route('/', reviewLinkPageRoutes(ctx));
  app.route('/', settingsPageRoutes(ctx));
  app.route('/', messagePageRoutes(ctx));
  app.route('/', optOutPageRoutes(ctx));
  app.route('/', auditPageRoutes(ctx));
  app.notFound((c) => notFoundPage(c));
  app.onError(pageErrorHandler(ctx));
  return app;
}
