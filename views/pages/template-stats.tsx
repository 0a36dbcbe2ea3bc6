import { fmt } from '../../lib/i18n/messages.ts';
import { trSection } from '../../lib/i18n/request-locale.ts';
import type { DecisionView, EventStats, StatMetric, TemplateStats, VariantStats } from '../../lib/services/template-stats.ts';
import { percent } from '../../lib/services/template-stats.ts';
import type { RateInterval } from '../../lib/stats/proportions.ts';
import { Alert, Empty, EventLabel, PostButton } from '../components.tsx';

/**
 * The templates page's statistics section (an htmx fragment, api/pages/template-stats.tsx): per
 * event, the decision in words first, then each variant's rates with their 95 % intervals, and
 * "keep only this one" beside each variant.
 */

const L = trSection('templateStats');

/** What the templates page holds until the fragment arrives. */
export function TemplateStatsPlaceholder(props: { base: string }) {
  return (
    <section class="card" id="template-stats" hx-get={`${props.base}/template-stats`} hx-trigger="load" hx-swap="outerHTML">
      <p class="muted">{L.loading}</p>
    </section>
  );
}

export function TemplateStatsSection(props: { base: string; csrf: string; stats: TemplateStats; error?: string | null }) {
  const { base, stats } = props;
  const query = `from=${stats.period.from}&to=${stats.period.to}`;
  const reviewEvent = stats.events.some((e) => e.event === 'completed');
  return (
    <section class="card" id="template-stats">
      <header class="card-head">
        <h2>{L.title}</h2>
        <div class="card-actions">
          <a class="btn btn-small" id="stats-csv" href={`${base}/template-stats/export.csv?${query}`}>{L.csv}</a>
        </div>
      </header>
      <PeriodForm base={base} stats={stats} />
      {props.error ? <Alert tone="bad">{props.error}</Alert> : null}
      <p class="hint">{L.intro}</p>
      {reviewEvent && !stats.review_links_enabled ? <p class="hint" id="review-links-off">{L.reviewLinksOff}</p> : null}
      {stats.events.length === 0 ? <Empty text={L.empty} /> : stats.events.map((e) => <EventBlock base={base} csrf={props.csrf} event={e} />)}
    </section>
  );
}

function PeriodForm(props: { base: string; stats: TemplateStats }) {
  const { base, stats } = props;
  return (
    <form class="stats-period" method="get" action={`${base}/templates`} hx-get={`${base}/template-stats`} hx-target="#template-stats" hx-swap="outerHTML">
      <label>{L.from} <input type="date" name="from" id="stats-from" value={stats.period.from} required /></label>
      <label>{L.to} <input type="date" name="to" id="stats-to" value={stats.period.to} required /></label>
      <button type="submit" class="btn btn-small">{L.show}</button>
    </form>
  );
}

// Labels are read when a page renders: the catalogue answers in the reader's language.
const COLUMNS: { metric: StatMetric; label: () => string }[] = [
  { metric: 'delivered', label: () => L.delivered },
  { metric: 'read', label: () => L.read },
  { metric: 'replied', label: () => L.replied },
  { metric: 'opted_out', label: () => L.optedOut },
  { metric: 'review_opened', label: () => L.reviewOpened },
];

function EventBlock(props: { base: string; csrf: string; event: EventStats }) {
  const { event: e } = props;
  const columns = COLUMNS.filter((c) => c.metric !== 'review_opened' || e.primary_metric === 'review_opened');
  const winners = new Set(e.decisions.filter((d) => d.kind === 'winner').map((d) => d.best_template_id));
  const primaryWinner = e.decisions.find((d) => d.metric === e.primary_metric && d.kind === 'winner')?.best_template_id;
  const activeCount = e.variants.filter((v) => v.is_active).length;
  return (
    <div class="stats-event" id={`stats-${e.event}`}>
      <h3><EventLabel event={e.event} /></h3>
      <div class="stats-decisions">
        {e.decisions.map((d) => <DecisionLine decision={d} primary={d.metric === e.primary_metric} />)}
      </div>
      <div class="table-wrap">
        <table class="table stats-table">
          <thead>
            <tr>
              <th>{L.variant}</th>
              <th class="num">{L.sent}</th>
              {columns.map((c) => <th class="num">{c.label()}</th>)}
              <th></th>
            </tr>
          </thead>
          <tbody>
            {e.variants.map((v) => (
              <VariantRow base={props.base} csrf={props.csrf} variant={v} columns={columns} best={winners.has(v.template_id)}
                primaryBest={primaryWinner === v.template_id} canKeepOnly={v.is_active ? activeCount > 1 : !v.archived && v.sent > 0} />
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function DecisionLine(props: { decision: DecisionView; primary: boolean }) {
  const d = props.decision;
  const tone = d.kind === 'winner' ? 'ok' : 'info';
  return (
    <div class={`stats-decision stats-decision-${d.kind}`} data-metric={d.metric}>
      <Alert tone={tone}>
        {props.primary ? <span class="badge badge-sent">{L.primary}</span> : null} {d.summary}
      </Alert>
    </div>
  );
}

function VariantRow(props: { base: string; csrf: string; variant: VariantStats; columns: { metric: StatMetric }[]; best: boolean; primaryBest: boolean; canKeepOnly: boolean }) {
  const { variant: v } = props;
  return (
    <tr data-template-id={v.template_id}>
      <td>
        <span class="variant-letter">{v.variant}</span>{' '}
        <a href={`${props.base}/templates/${v.template_id}`} class="strong">{v.template_name}</a>
        {props.best ? <> <span class="badge badge-ok">{L.best}</span></> : null}
        {v.archived ? <> <span class="badge badge-muted">{L.archived}</span></> : !v.is_active ? <> <span class="badge badge-muted">{L.inactive}</span></> : null}
        <div class="muted small">{L.weight}: {v.weight}</div>
      </td>
      <td class="num strong">{v.sent}</td>
      {props.columns.map((c) => <td class="num"><Rate count={v[c.metric]} interval={v.rates[c.metric]} /></td>)}
      <td class="row-actions">
        {props.canKeepOnly ? (
          <PostButton action={`${props.base}/template-stats/${v.template_id}/make-only`} csrf={props.csrf} label={L.makeOnly}
            class={`btn btn-small ${props.primaryBest ? 'btn-primary' : ''}`} confirm={L.makeOnlyConfirm} />
        ) : null}
      </td>
    </tr>
  );
}

/** "40 %" with its count, the 95 % interval in words and as a band on a 0–100 % track. */
function Rate(props: { count: number; interval: RateInterval }) {
  const { interval: r } = props;
  if (r.rate === null) return <span class="muted">—</span>;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return (
    <div class="rate">
      <span class="rate-value">{percent(r.rate)}</span> <span class="muted small">({props.count})</span>
      <div class="rate-ci muted small">{fmt('{low}–{high}', { low: percent(r.low), high: percent(r.high) })}</div>
      <div class="rate-track" aria-hidden="true">
        <span class="rate-band" style={`left:${pct(r.low)};width:${pct(Math.max(0.005, r.high - r.low))}`}></span>
        <span class="rate-dot" style={`left:${pct(r.rate)}`}></span>
      </div>
    </div>
  );
}
