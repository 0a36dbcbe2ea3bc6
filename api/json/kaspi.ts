import { Hono } from 'hono';
import type { AppContext } from '../../lib/context.ts';
import { requireApiAuth, type AuthEnv } from '../../lib/auth/middleware.ts';
import { ingestPushedOrders, startQueuedNotifications } from '../../lib/services/push-orders.ts';
import { jsonErrorHandler, readJson } from './respond.ts';
import { loggableError } from '../../lib/db/errors.ts';

/** `POST /api/kaspi/orders/:storeId` — push ingestion. Mounted at /api/kaspi. */
export function kaspiApiRoutes(ctx: AppContext, options: { startWorkflows?: boolean } = {}): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.use('*', requireApiAuth(ctx));
  app.onError(jsonErrorHandler(ctx));

  app.post('/orders/:storeId', async (c) => {
    const body = await readJson(c);
    const summary = await ingestPushedOrders(ctx, c.get('actor'), c.req.param('storeId'), body);
    if (summary.accepted > 0 && options.startWorkflows !== false) {
      // Push-only stores have no running poll to pick the rows up; start them now, best effort
      // (a row left queued is started by the next poll or the next push).
      try {
        await startQueuedNotifications(ctx, c.req.param('storeId'));
      } catch (err) {
        ctx.logger.warn({ err: loggableError(err) }, 'starting notification workflows after a push failed');
      }
    }
    return c.json({ success: true, ...summary });
  });
  return app;
}
