import { Hono } from 'hono';
import type { AppContext } from '../lib/context.ts';
import { authRoutes } from './auth.ts';
import { healthRoutes } from './health.ts';
import { kaspiApiRoutes } from './json/kaspi.ts';
import { storesApiRoutes } from './json/stores.ts';
import { whatsappApiRoutes } from './json/whatsapp.ts';
import { wahaWebhookRoutes } from './webhooks/waha.ts';
import { metricsText } from '../lib/metrics.ts';
import { collectQueueDepthFrom, wahaWebhooks } from '../lib/metrics.ts';
import { loginPageRoutes, staticRoutes, storePageRoutes } from './pages/index.ts';

/** The whole web surface; each resource is its own file mounted here. */
export function createApp(ctx: AppContext): Hono {
  const app = new Hono();
  app.route('/', healthRoutes(ctx));
  app.route('/', authRoutes(ctx));
  app.route('/api/stores', storesApiRoutes(ctx));
  app.route('/api/whatsapp', whatsappApiRoutes(ctx));
  app.route('/api/kaspi', kaspiApiRoutes(ctx));
  collectQueueDepthFrom(ctx.pool);
  app.use('/webhooks/waha/*', async (c, next) => {
    await next();
    wahaWebhooks.inc({ code: String(c.res.status) });
  });
  app.route('/', wahaWebhookRoutes(ctx));
  app.route('/', staticRoutes());
  app.route('/', loginPageRoutes(ctx));
  app.route('/stores', storePageRoutes(ctx));
  app.get('/metrics', async (c) => {
    const { body, contentType } = await metricsText();
    return c.body(body, 200, { 'content-type': contentType });
  });
  return app;
}
