import { Hono } from 'hono';
import type { AppContext } from '../../lib/context.ts';
import type { AuthEnv } from '../../lib/auth/middleware.ts';
import { getDashboard } from '../../lib/services/dashboard.ts';
import { cancelQueued, pauseSending, resumeSending } from '../../lib/services/sending-control.ts';
import { Alert, Card, Empty, PostButton, SessionBadge, Stat } from '../../views/components.tsx';
import { fmt, ru } from '../../lib/i18n/messages.ts';
import { formatDateTime, formatDuration } from '../../views/format.ts';
import { loadStorePage, redirectWithFlash, renderShell } from './common.tsx';

const SEVERE = new Set(['session_not_working', 'token_rejected', 'poll_error', 'whatsapp_not_configured', 'acks_stalled', 'session_webhook_missing', 'session_hmac_missing']);
const TODAY_ORDER = ['queued', 'scheduled', 'sent', 'delivered', 'read', 'failed', 'skipped'] as const;

/** The store dashboard and the emergency controls (pause / resume / cancel queued). Mounted under /stores. */
export function dashboardPageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  // The store switcher submits here.
  app.get('/', (c) => {
    const id = c.req.query('store');
    return c.redirect(id ? `/stores/${encodeURIComponent(id)}` : '/', 303);
  });

  app.get('/:storeId', async (c) => {
    const page = await loadStorePage(ctx, c);
    const d = await getDashboard(ctx, c.get('actor'), page.store.store_id);
    const tz = page.store.timezone;
    const hasChartData = d.daily.some((x) => x.sent + x.failed + x.skipped + x.pending > 0);
    const chart = {
      labels: d.daily.map((x) => `${x.date.slice(8, 10)}.${x.date.slice(5, 7)}`),
      datasets: [
        { label: ru.dashboard.chartSent, data: d.daily.map((x) => x.sent), color: '#16a34a' },
        { label: ru.dashboard.chartFailed, data: d.daily.map((x) => x.failed), color: '#dc2626' },
        { label: ru.dashboard.chartSkipped, data: d.daily.map((x) => x.skipped), color: '#9ca3af' },
        { label: ru.dashboard.chartPending, data: d.daily.map((x) => x.pending), color: '#f59e0b' },
      ],
    };
    return renderShell(c, page, { title: ru.dashboard.title, active: 'dashboard', scripts: ['/static/chart.umd.js'] }, (
      <>
        <div class="page-head">
          <h1>{page.store.name}</h1>
          <span class={`badge ${page.store.sending_paused ? 'badge-bad' : 'badge-ok'}`} id="sending-state">
            {page.store.sending_paused ? ru.dashboard.paused : ru.dashboard.running}
          </span>
        </div>

        <Card title={ru.dashboard.alerts} id="alerts">
          {d.alerts.length === 0 ? <Alert tone="ok">{ru.dashboard.noAlerts}</Alert> : d.alerts.map((a) => (
            <Alert tone={SEVERE.has(a.code) ? 'bad' : 'warn'}>
              {fmt(ru.alerts[a.code] ?? a.code, { detail: a.code === 'session_not_working' ? (ru.sessionStatuses[a.detail ?? ''] ?? a.detail ?? '') : (a.detail ?? '') })}
            </Alert>
          ))}
        </Card>

        <Card title={ru.dashboard.today} id="today">
          <p class="hint card-hint">{ru.dashboard.todayHint}</p>
          <div class="stats">
            {TODAY_ORDER.map((s) => <Stat label={ru.statuses[s] ?? s} value={d.today[s] ?? 0} tone={s} id={`today-${s}`} />)}
          </div>
        </Card>

        <div class="grid-2">
          <Card title={ru.dashboard.queue} id="queue">
            <div class="stats">
              <Stat label={ru.dashboard.queueDepth} value={d.queueDepth} id="queue-depth" />
              <Stat
                label={d.drain?.finishesAt ? ru.dashboard.drain : ru.dashboard.drainDone}
                value={d.drain?.finishesAt ? formatDuration(d.drain.durationMs) : '—'}
                id="drain"
              />
            </div>
            {d.drain && Number.isFinite(d.drain.messagesPerHour) ? (
              <p class="muted">{fmt(ru.dashboard.rate, { n: Math.round(d.drain.messagesPerHour) })}</p>
            ) : null}
          </Card>
          <Card title={ru.dashboard.session} id="session">
            <dl class="kv">
              <dt>{ru.dashboard.session}</dt>
              <dd>{d.sender ? <SessionBadge status={d.sender.sessionStatus} /> : '—'}</dd>
              <dt>{ru.dashboard.sentToday}</dt>
              <dd>{d.sender ? `${d.sender.sentToday}${d.sender.dailyCap !== null ? ` ${fmt(ru.dashboard.cap, { n: d.sender.dailyCap })}` : ''}` : '—'}</dd>
              <dt>{ru.dashboard.lastPoll}</dt>
              <dd>{page.store.last_poll_at ? formatDateTime(page.store.last_poll_at, tz) : ru.dashboard.never}</dd>
              {page.store.last_poll_error ? (
                <>
                  <dt>{ru.dashboard.lastPollError}</dt>
                  <dd class="text-bad">{page.store.last_poll_error}</dd>
                </>
              ) : null}
            </dl>
          </Card>
        </div>

        <Card title={ru.dashboard.chart} id="chart-card">
          {hasChartData ? (
            <div class="chart-box">
              <canvas id="daily-chart" data-chart={JSON.stringify(chart)} aria-label={ru.dashboard.chart} role="img"></canvas>
            </div>
          ) : <Empty text={ru.dashboard.noData} />}
        </Card>

        <Card title={ru.dashboard.emergency} id="emergency">
          <div class="actions">
            {page.store.sending_paused
              ? <PostButton action={`${page.base}/resume`} csrf={page.csrf} label={ru.dashboard.resume} class="btn btn-primary" id="resume-sending" />
              : <PostButton action={`${page.base}/pause`} csrf={page.csrf} label={ru.dashboard.pause} class="btn btn-warn" id="pause-sending" />}
            <PostButton action={`${page.base}/cancel-queued`} csrf={page.csrf} label={ru.dashboard.cancelQueued} class="btn btn-danger" confirm={ru.dashboard.cancelConfirm} id="cancel-queued" />
          </div>
        </Card>
      </>
    ));
  });

  app.post('/:storeId/pause', async (c) => {
    const s = await pauseSending(ctx, c.get('actor'), c.req.param('storeId'));
    return redirectWithFlash(c, `/stores/${s.store_id}`, 'paused');
  });
  app.post('/:storeId/resume', async (c) => {
    const s = await resumeSending(ctx, c.get('actor'), c.req.param('storeId'));
    return redirectWithFlash(c, `/stores/${s.store_id}`, 'resumed');
  });
  app.post('/:storeId/cancel-queued', async (c) => {
    const id = c.req.param('storeId');
    const n = await cancelQueued(ctx, c.get('actor'), id);
    return redirectWithFlash(c, `/stores/${id}`, 'cancelled', { n });
  });
  return app;
}
