import { fmt } from '../../lib/i18n/messages.ts';
import { tr } from '../../lib/i18n/request-locale.ts';
import type { DashboardData } from '../../lib/services/dashboard.ts';
import type { NumberHealthView } from '../../lib/services/number-health.ts';
import { Alert, Card, Empty, PostButton, SessionBadge, Stat } from '../components.tsx';
import { formatDate, formatDateTime, formatDuration, formatMonth } from '../format.ts';
import type { StorePage } from '../layout.tsx';

/** The store dashboard: alerts, today's counts, queue, session, 30-day chart, emergency controls. */

const SEVERE = new Set(['session_not_working', 'token_rejected', 'poll_error', 'whatsapp_not_configured', 'acks_stalled', 'session_webhook_missing', 'session_hmac_missing']);
const TODAY_ORDER = ['queued', 'scheduled', 'sent', 'delivered', 'read', 'failed', 'skipped'] as const;

export function DashboardPage(props: { page: StorePage; data: DashboardData; health?: NumberHealthView | null }) {
  const { page, data: d } = props;
  return (
    <>
      <div class="page-head">
        <h1>{page.store.name}</h1>
        <span class={`badge ${page.store.sending_paused ? 'badge-bad' : 'badge-ok'}`} id="sending-state">
          {page.store.sending_paused ? tr.dashboard.paused : tr.dashboard.running}
        </span>
      </div>
      <Alerts alerts={d.alerts} />
      <Today today={d.today} />
      <div class="grid-2">
        <Queue data={d} />
        <Session page={page} data={d} />
      </div>
      {props.health ? <NumberHealth page={page} health={props.health} /> : null}
      <DailyChart daily={d.daily} />
      <Emergency page={page} />
    </>
  );
}

function Alerts(props: { alerts: DashboardData['alerts'] }) {
  return (
    <Card title={tr.dashboard.alerts} id="alerts">
      {props.alerts.length === 0 ? <Alert tone="ok">{tr.dashboard.noAlerts}</Alert> : props.alerts.map((a) => (
        <Alert tone={SEVERE.has(a.code) ? 'bad' : 'warn'}>
          {fmt(tr.alerts[a.code] ?? a.code, { detail: a.code === 'session_not_working' ? (tr.sessionStatuses[a.detail ?? ''] ?? a.detail ?? '') : (a.detail ?? '') })}
        </Alert>
      ))}
    </Card>
  );
}

function Today(props: { today: DashboardData['today'] }) {
  return (
    <Card title={tr.dashboard.today} id="today">
      <p class="hint card-hint">{tr.dashboard.todayHint}</p>
      <div class="stats">
        {TODAY_ORDER.map((s) => <Stat label={tr.statuses[s] ?? s} value={props.today[s] ?? 0} tone={s} id={`today-${s}`} />)}
      </div>
    </Card>
  );
}

function Queue(props: { data: DashboardData }) {
  const { queueDepth, drain } = props.data;
  return (
    <Card title={tr.dashboard.queue} id="queue">
      <div class="stats">
        <Stat label={tr.dashboard.queueDepth} value={queueDepth} id="queue-depth" />
        <Stat
          label={drain?.finishesAt ? tr.dashboard.drain : tr.dashboard.drainDone}
          value={drain?.finishesAt ? formatDuration(drain.durationMs) : '—'}
          id="drain"
        />
      </div>
      {drain && Number.isFinite(drain.messagesPerHour) ? (
        <p class="muted">{fmt(tr.dashboard.rate, { n: Math.round(drain.messagesPerHour) })}</p>
      ) : null}
    </Card>
  );
}

function Session(props: { page: StorePage; data: DashboardData }) {
  const { sender } = props.data;
  const store = props.page.store;
  return (
    <Card title={tr.dashboard.session} id="session">
      <dl class="kv">
        <dt>{tr.dashboard.session}</dt>
        <dd>{sender ? <SessionBadge status={sender.sessionStatus} /> : '—'}</dd>
        <dt>{tr.dashboard.sentToday}</dt>
        <dd>{sender ? `${sender.sentToday}${sender.dailyCap !== null ? ` ${fmt(tr.dashboard.cap, { n: sender.dailyCap })}` : ''}` : '—'}</dd>
        <dt>{tr.dashboard.lastPoll}</dt>
        <dd>{store.last_poll_at ? formatDateTime(store.last_poll_at, store.timezone) : tr.dashboard.never}</dd>
        {store.last_poll_error ? (
          <>
            <dt>{tr.dashboard.lastPollError}</dt>
            <dd class="text-bad">{store.last_poll_error}</dd>
          </>
        ) : null}
      </dl>
    </Card>
  );
}

/** The number's warm-up (with "end it" for an old number) and this month's messages nobody answered. */
function NumberHealth(props: { page: StorePage; health: NumberHealthView }) {
  const { page, health: h } = props;
  const tz = page.store.timezone;
  const w = h.warmup;
  const u = h.unanswered;
  const over = u.threshold !== null && u.count >= u.threshold;
  return (
    <Card title={tr.dashboard.numberHealth} id="number-health">
      <div class="grid-2">
        <div id="warmup">
          <h3>{tr.dashboard.warmup}</h3>
          {w.active ? (
            <>
              <p>{fmt(tr.dashboard.warmupDay, { day: w.day, days: w.days })}</p>
              <div class="stats">
                <Stat label={tr.dashboard.warmupAllowance} value={w.allowance} id="warmup-allowance" />
                <Stat label={tr.dashboard.sentToday} value={w.sent_today} id="warmup-sent" tone={w.sent_today >= w.allowance ? 'failed' : undefined} />
              </div>
              <p class="muted" id="warmup-ends">{fmt(tr.dashboard.warmupEnds, { date: formatDate(w.ends_at, tz) })}</p>
              {w.sent_today >= w.allowance ? <Alert tone="warn">{tr.dashboard.warmupReached}</Alert> : null}
              <PostButton action={`${page.base}/end-warmup`} csrf={page.csrf} label={tr.dashboard.endWarmup} class="btn btn-warn" confirm={tr.dashboard.endWarmupConfirm} id="end-warmup" />
            </>
          ) : (
            <p class="muted">{w.ended_early_at ? fmt(tr.dashboard.warmupEndedEarly, { date: formatDateTime(w.ended_early_at, tz) }) : h.paired_at ? tr.dashboard.warmupOver : tr.dashboard.warmupNotPaired}</p>
          )}
        </div>
        <div id="unanswered">
          <h3>{tr.dashboard.unanswered}</h3>
          <div class="stats">
            <Stat label={fmt(tr.dashboard.unansweredMonth, { month: formatMonth(u.month_start, tz) })} value={u.count} id="unanswered-count" tone={over ? 'failed' : undefined} />
          </div>
          <p class="muted">{u.threshold !== null ? fmt(tr.dashboard.unansweredThreshold, { n: u.threshold }) : tr.dashboard.unansweredNoThreshold}</p>
          {over ? <Alert tone="warn">{tr.dashboard.unansweredOver}</Alert> : null}
        </div>
      </div>
    </Card>
  );
}

/** Chart.js reads the series from data-chart (/static/app.js); no inline script (CSP). */
function DailyChart(props: { daily: DashboardData['daily'] }) {
  const { daily } = props;
  const hasData = daily.some((x) => x.sent + x.failed + x.skipped + x.pending > 0);
  const chart = {
    labels: daily.map((x) => `${x.date.slice(8, 10)}.${x.date.slice(5, 7)}`),
    datasets: [
      { label: tr.dashboard.chartSent, data: daily.map((x) => x.sent), color: '#16a34a' },
      { label: tr.dashboard.chartFailed, data: daily.map((x) => x.failed), color: '#dc2626' },
      { label: tr.dashboard.chartSkipped, data: daily.map((x) => x.skipped), color: '#9ca3af' },
      { label: tr.dashboard.chartPending, data: daily.map((x) => x.pending), color: '#f59e0b' },
    ],
  };
  return (
    <Card title={tr.dashboard.chart} id="chart-card">
      {hasData ? (
        <div class="chart-box">
          <canvas id="daily-chart" data-chart={JSON.stringify(chart)} aria-label={tr.dashboard.chart} role="img"></canvas>
        </div>
      ) : <Empty text={tr.dashboard.noData} />}
    </Card>
  );
}

function Emergency(props: { page: StorePage }) {
  const { page } = props;
  return (
    <Card title={tr.dashboard.emergency} id="emergency">
      <div class="actions">
        {page.store.sending_paused
          ? <PostButton action={`${page.base}/resume`} csrf={page.csrf} label={tr.dashboard.resume} class="btn btn-primary" id="resume-sending" />
          : <PostButton action={`${page.base}/pause`} csrf={page.csrf} label={tr.dashboard.pause} class="btn btn-warn" id="pause-sending" />}
        <PostButton action={`${page.base}/cancel-queued`} csrf={page.csrf} label={tr.dashboard.cancelQueued} class="btn btn-danger" confirm={tr.dashboard.cancelConfirm} id="cancel-queued" />
      </div>
    </Card>
  );
}
