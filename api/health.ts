import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import type { AppContext } from '../lib/context.ts';
import { SEARCH_ATTRIBUTES } from '../workflows/config.ts';

/**
 * /healthz: the process answers. /readyz: it can do its job — PostgreSQL answers and Temporal
 * answers with our search attributes registered (without them every notification start fails).
 */
export function healthRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/readyz', async (c) => {
    const failing: Record<string, string> = {};
    try {
      await ctx.db.execute(sql`select 1`);
    } catch (err) {
      failing.postgres = err instanceof Error ? err.message : String(err);
    }
    try {
      const response = await ctx.temporal.connection.operatorService.listSearchAttributes({ namespace: ctx.config.TEMPORAL_NAMESPACE });
      const registered = Object.keys(response.customAttributes ?? {});
      const missing = SEARCH_ATTRIBUTES.map((a) => a.name).filter((n) => !registered.includes(n));
      if (missing.length) failing.temporal = `search attributes not registered: ${missing.join(', ')}`;
    } catch (err) {
      failing.temporal = err instanceof Error ? err.message : String(err);
    }
    const ok = Object.keys(failing).length === 0;
    return c.json({ ok, ...(ok ? {} : { failing }) }, ok ? 200 : 503);
  });
  return app;
}
