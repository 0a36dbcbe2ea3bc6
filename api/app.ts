import { Hono } from 'hono';
import type { AppContext } from '../lib/context.ts';
import { healthRoutes } from './health.ts';

/** The whole web surface; each resource is its own file mounted here. */
export function createApp(ctx: AppContext): Hono {
  const app = new Hono();
  app.route('/', healthRoutes(ctx));
  return app;
}
