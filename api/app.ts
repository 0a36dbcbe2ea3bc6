import { Hono } from 'hono';
import type { AppContext } from '../lib/context.ts';
import { healthRoutes } from './health.ts';
import { metricsText } from '../lib/metrics.ts';

/** The whole web surface; each resource is its own file mounted here. */
export function createApp(ctx: AppContext): Hono {
  const app = new Hono();
  app.route('/', healthRoutes(ctx));
  app.get('/metrics', async (c) => {
    const { body, contentType } = await metricsText();
    return c.body(body, 200, { 'content-type': contentType });
  });
  return app;
}
