import { Hono } from 'hono';
import type { AppContext } from '../../lib/context.ts';
import type { AuthEnv } from '../../lib/auth/middleware.ts';
import { currentLocale, tr } from '../../lib/i18n/request-locale.ts';
import { ValidationError } from '../../lib/services/errors.ts';
import { getTemplateStats, makeOnlyVariant, templateStatsCsv } from '../../lib/services/template-stats.ts';
import { TemplateStatsSection } from '../../views/pages/template-stats.tsx';
import { errorText, redirectWithFlash, type PageContext } from './common.tsx';

/**
 * The templates page's statistics: the section (htmx fragment, loaded by the page and re-loaded by
 * its period form), its CSV, and "keep only this variant". Mounted under /stores; the session,
 * CSRF and store checks are the store pages' (api/pages/index.ts) and the services'.
 */
export function templateStatsPageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const base = (c: PageContext) => `/stores/${c.req.param('storeId')}`;

  /** The stats of the period asked for; a bad period shows the default one with the reason. */
  async function statsOrDefault(c: PageContext) {
    try {
      return { stats: await getTemplateStats(ctx, c.get('actor'), c.req.param('storeId'), c.req.query(), currentLocale()), error: null };
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return { stats: await getTemplateStats(ctx, c.get('actor'), c.req.param('storeId'), {}, currentLocale()), error: errorText(err) };
    }
  }

  app.get('/:storeId/template-stats', async (c) => {
    const { stats, error } = await statsOrDefault(c);
    return c.html(<TemplateStatsSection base={base(c)} csrf={c.get('session')?.csrfToken ?? ''} stats={stats} error={error} />);
  });

  app.get('/:storeId/template-stats/export.csv', async (c) => {
    const stats = await getTemplateStats(ctx, c.get('actor'), c.req.param('storeId'), c.req.query(), currentLocale());
    return c.body(templateStatsCsv(stats), 200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="template-stats-${stats.period.from}-${stats.period.to}.csv"`,
    });
  });

  app.post('/:storeId/template-stats/:templateId/make-only', async (c) => {
    const storeId = c.req.param('storeId');
    const done = await makeOnlyVariant(ctx, c.get('actor'), storeId, c.req.param('templateId'));
    return redirectWithFlash(c, `/stores/${storeId}/templates`, 'only_variant', { event: tr.events[done.event] ?? done.event, name: done.template_name, n: done.deactivated.length });
  });
  return app;
}
