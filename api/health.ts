import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import type { AppContext } from '../lib/context.ts';
import { loggableError } from '../lib/db/errors.ts';
import { SEARCH_ATTRIBUTES } from '../workflows/config.ts';

/**
 * /healthz: the process answers. /readyz: it can do its job — PostgreSQL answers and Temporal
 * answers with our search attributes registered (without them every notification start fails).
 */
export function healthRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/readyz', async (c) => {
    // Anyone can reach this: it names the part that is down; the reason goes to the log only
    // (driver messages carry host names, user names and addresses).
    const failing: Record<string, string> = {};
    try {
      await ctx.db.execute(sql`select 1`);
    } catch (err) {
      failing.postgres = 'unavailable';
      ctx.logger.warn({ err: loggableError(err) }, 'readiness: PostgreSQL does not answer');
    }
    try {
      const response = await ctx.temporal.connection.operatorService.listSearchAttributes({ namespace: ctx.config.TEMPORAL_NAMESPACE });
      const registered = Object.keys(response.customAttributes ?? {});
      const missing = SEARCH_ATTRIBUTES.map((a) => a.name).filter((n) => !registered.includes(n));
      if (missing.length) {
        failing.temporal = 'search_attributes_missing';
        ctx.logger.warn({ missing }, 'readiness: Temporal search attributes not registered');
      }
    } catch (err) {
      failing.temporal = 'unavailable';
      ctx.logger.warn({ err: loggableError(err) }, 'readiness: Temporal does not answer');
    }
    const ok = Object.keys(failing).length === 0;
    return c.json({ ok, ...(ok ? {} : { failing }) }, ok ? 200 : 503);
  });
  return app;
}
