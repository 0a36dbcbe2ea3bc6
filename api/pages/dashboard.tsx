import { Hono } from 'hono';
import type { AppContext } from '../../lib/context.ts';
import type { AuthEnv } from '../../lib/auth/middleware.ts';
import { tr } from '../../lib/i18n/request-locale.ts';
import { getDashboard } from '../../lib/services/dashboard.ts';
import { endWarmup, getNumberHealth } from '../../lib/services/number-health.ts';
import { cancelQueued, pauseSending, resumeSending } from '../../lib/services/sending-control.ts';
import { DashboardPage } from '../../views/pages/dashboard.tsx';
import { loadStorePage, redirectWithFlash, renderShell } from './common.tsx';

/** The store dashboard, the emergency controls (pause / resume / cancel queued) and ending a warm-up. Mounted under /stores. */
export function dashboardPageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  // The store switcher submits here.
  app.get('/', (c) => {
    const id = c.req.query('store');
    return c.redirect(id ? `/stores/${encodeURIComponent(id)}` : '/', 303);
  });

  app.get('/:storeId', async (c) => {
    const page = await loadStorePage(ctx, c);
    const data = await getDashboard(ctx, c.get('actor'), page.store.store_id);
    const health = await getNumberHealth(ctx, c.get('actor'), page.store.store_id);
    return renderShell(c, page, { title: tr.dashboard.title, active: 'dashboard', scripts: ['/static/chart.umd.js'] }, <DashboardPage page={page} data={data} health={health} />);
  });

  app.post('/:storeId/pause', async (c) => {
    const s = await pauseSending(ctx, c.get('actor'), c.req.param('storeId'));
    return redirectWithFlash(c, `/stores/${s.store_id}`, 'paused');
  });
  app.post('/:storeId/resume', async (c) => {
    const s = await resumeSending(ctx, c.get('actor'), c.req.param('storeId'));
    return redirectWithFlash(c, `/stores/${s.store_id}`, 'resumed');
  });
  app.post('/:storeId/end-warmup', async (c) => {
    const id = c.req.param('storeId');
    await endWarmup(ctx, c.get('actor'), id);
    return redirectWithFlash(c, `/stores/${id}`, 'warmup_ended');
  });
  app.post('/:storeId/cancel-queued', async (c) => {
    const id = c.req.param('storeId');
    const n = await cancelQueued(ctx, c.get('actor'), id);
    return redirectWithFlash(c, `/stores/${id}`, 'cancelled', { n });
  });
  return app;
}
