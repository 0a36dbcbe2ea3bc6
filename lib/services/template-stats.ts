import { stringify } from 'csv-stringify/sync';
import { and, eq, inArray, isNull, or, sql } from 'drizzle-orm';
import { z } from 'zod';
import { NOTIFY_EVENTS, stores, templates, type NotifyEvent } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import { fmt, LOCALE_TAGS, t, type Locale } from '../i18n/messages.ts';
import { localDayStart } from '../pacing/pacing.ts';
import { decide, wilsonInterval, type Decision, type RateInterval } from '../stats/proportions.ts';
import { isUuid, requireStore, visibleStoresCondition, type Actor } from './access.ts';
import { recordAudit } from './audit.ts';
import { NotFoundError, parseOrThrow, ValidationError } from './errors.ts';
import { neutralizeFormula } from './messages.ts';

/**
 * What each template variant achieved over a period, and which one to keep: the templates page's
 * statistics section, `GET /api/whatsapp/templates/:storeId/stats` and its CSV read this.
 *
 * A message counts in the period by the day it went out (store time, `from` and `to` inclusive).
 * Of the messages sent: delivered, read (blue ticks; a buyer with read receipts off never shows
 * one), replied (the buyer wrote within 24 h, lib/notifications/outcomes.ts), opted out (an
 * opt-out word within 24 h), and of the messages that carried a review short link: opened
 * (lib/review-links/links.ts). Every rate comes with its Wilson 95 % interval, and read, replied
 * and review-link-opened with a decision (lib/stats/proportions.ts) in plain words.
 */

export const STAT_METRICS = ['delivered', 'read', 'replied', 'opted_out', 'review_opened'] as const;
export type StatMetric = (typeof STAT_METRICS)[number];
/** The outcomes a seller wants more of, in the order the page lists their decisions. */
export const DECIDED_METRICS = ['review_opened', 'replied', 'read'] as const satisfies readonly StatMetric[];
export type DecidedMetric = (typeof DECIDED_METRICS)[number];

export interface StatsPeriod {
  /** YYYY-MM-DD, store time, inclusive. */
  from: string;
  to: string;
  timezone: string;
}

/** What a variant's sent messages led to over the period. */
interface OutcomeCounts {
  sent: number;
  delivered: number;
  read: number;
  replied: number;
  opted_out: number;
  /** Sent messages that carried a review short link: the base of `review_opened`. */
  review_links: number;
  review_opened: number;
}

export interface VariantStats extends OutcomeCounts {
  template_id: string;
  template_name: string;
  /** A, B, C… by creation within the event: a label for the page, not an id. */
  variant: string;
  is_active: boolean;
  weight: number;
  archived: boolean;
  rates: Record<StatMetric, RateInterval>;
}

export interface DecisionView {
  metric: DecidedMetric;
  kind: Decision['kind'] | 'equal';
  /** winner */
  best_template_id?: string;
  runner_up_template_id?: string;
  /** winner: best − runner-up, with its 95 % interval (Newcombe), as fractions. */
  difference?: number;
  difference_low?: number;
  difference_high?: number;
  p_value?: number;
  /** undecided / equal */
  leader_template_id?: string;
  observed_difference?: number;
  planned_difference?: number;
  sends_per_variant?: number;
  more_sends?: number;
  /** The decision in a sentence, in the request's language. */
  summary: string;
}

export interface EventStats {
  event: NotifyEvent;
  /** What this event's messages are for: review link opens where there are any, else replies. */
  primary_metric: DecidedMetric;
  variants: VariantStats[];
  decisions: DecisionView[];
}

export interface TemplateStats {
  period: StatsPeriod;
  review_links_enabled: boolean;
  events: EventStats[];
}

const MAX_PERIOD_DAYS = 366;
const DEFAULT_PERIOD_DAYS = 30;
const DAY_MS = 86_400_000;

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'Дата в формате ГГГГ-ММ-ДД').refine((s) => {
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s);
}, 'Такой даты нет');

const periodSchema = z.object({ from: isoDate.optional(), to: isoDate.optional() });

const dayNumber = (s: string) => Date.parse(`${s}T00:00:00Z`) / DAY_MS;
const dateOf = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);

/** Today's date where the store is. */
function todayIn(now: Date, timezone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

/** Midnight of a calendar date in the zone (noon UTC of that date is inside it for every zone Kaspi sellers use). */
function startOfDay(date: string, timezone: string): Date {
  return localDayStart(new Date(`${date}T12:00:00Z`), timezone);
}

/** The period asked for (default: the last 30 days); `from` after `to` or longer than a year is refused. */
export function parsePeriod(input: unknown, now: Date, timezone: string): StatsPeriod {
  const raw = (input ?? {}) as Record<string, unknown>;
  const blankToUndefined = (v: unknown) => (v === '' || v === null ? undefined : v);
  const fields = { from: blankToUndefined(raw.from), to: blankToUndefined(raw.to) };
  let parsed: z.infer<typeof periodSchema>;
  try {
    parsed = parseOrThrow(periodSchema, fields);
  } catch (err) {
    if (err instanceof ValidationError) throw new ValidationError(err.fields, 'invalid_period');
    throw err;
  }
  const to = parsed.to ?? todayIn(now, timezone);
  const from = parsed.from ?? dateOf(dayNumber(to) - (DEFAULT_PERIOD_DAYS - 1));
  if (dayNumber(from) > dayNumber(to)) throw new ValidationError({ from: t('invalid_period_order') }, 'invalid_period');
  if (dayNumber(to) - dayNumber(from) + 1 > MAX_PERIOD_DAYS) throw new ValidationError({ from: t('invalid_period_length') }, 'invalid_period');
  return { from, to, timezone };
}

interface CountsRow extends OutcomeCounts {
  event: string;
  template_id: string;
}

const ZERO = { sent: 0, delivered: 0, read: 0, replied: 0, opted_out: 0, review_links: 0, review_opened: 0 };

export async function getTemplateStats(ctx: AppContext, actor: Actor, storeId: unknown, query: unknown, locale: Locale = 'ru'): Promise<TemplateStats> {
  const store = await requireStore(ctx, actor, storeId);
  const period = parsePeriod(query, ctx.now(), store.timezone);
  const since = startOfDay(period.from, store.timezone);
  const until = startOfDay(dateOf(dayNumber(period.to) + 1), store.timezone);
  const counts = await ctx.db.execute<CountsRow & Record<string, unknown>>(sql`
    select n.event, n.template_id,
           count(*)::int as sent,
           count(n.delivered_at)::int as delivered,
           count(n.read_at)::int as read,
           count(n.replied_at)::int as replied,
           count(n.opted_out_at)::int as opted_out,
           count(r.id)::int as review_links,
           count(r.first_opened_at)::int as review_opened
    from notifications n
    left join review_links r on r.notification_id = n.id
    where n.store_id = ${store.id} and n.sent_at >= ${since} and n.sent_at < ${until} and n.template_id is not null
    group by n.event, n.template_id`);
  const byTemplate = new Map(counts.rows.map((r) => [r.template_id, r]));
  const sentIds = [...byTemplate.keys()];
  // Every active variant (even without sends yet) and every template that sent in the period.
  const rows = await ctx.db.select().from(templates).where(and(
    eq(templates.storeId, store.id),
    or(and(isNull(templates.deletedAt), eq(templates.isActive, true)), sentIds.length ? inArray(templates.id, sentIds) : sql`false`),
  )).orderBy(templates.createdAt, templates.id);

  const events: EventStats[] = [];
  for (const event of NOTIFY_EVENTS) {
    const mine = rows.filter((tpl) => tpl.event === event);
    if (mine.length === 0) continue;
    const variants = mine.map((tpl, i) => variantStats(tpl, byTemplate.get(tpl.id), i));
    const primary: DecidedMetric = variants.some((v) => v.review_links > 0) ? 'review_opened' : 'replied';
    const decisions = DECIDED_METRICS
      .filter((m) => m !== 'review_opened' || primary === 'review_opened')
      .map((m) => decisionView(m, variants, locale));
    events.push({ event, primary_metric: primary, variants, decisions });
  }
  return { period, review_links_enabled: store.reviewLinksEnabled, events };
}

function variantStats(tpl: typeof templates.$inferSelect, row: CountsRow | undefined, index: number): VariantStats {
  const c = row ?? { ...ZERO };
  const rates = {
    delivered: wilsonInterval(c.delivered, c.sent),
    read: wilsonInterval(c.read, c.sent),
    replied: wilsonInterval(c.replied, c.sent),
    opted_out: wilsonInterval(c.opted_out, c.sent),
    review_opened: wilsonInterval(c.review_opened, c.review_links),
  };
  return {
    template_id: tpl.id, template_name: tpl.name, variant: variantLabel(index), is_active: tpl.isActive && tpl.deletedAt === null, weight: tpl.weight,
    archived: tpl.deletedAt !== null, sent: c.sent, delivered: c.delivered, read: c.read, replied: c.replied, opted_out: c.opted_out,
    review_links: c.review_links, review_opened: c.review_opened, rates,
  };
}

/** A, B, …, Z, AA, AB, … */
function variantLabel(index: number): string {
  let n = index;
  let s = '';
  do {
    s = String.fromCharCode(65 + (n % 26)) + s;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return s;
}

/** The denominator of a metric: review links for opens, sends for the rest. */
function trialsOf(v: VariantStats, metric: StatMetric): number {
  return metric === 'review_opened' ? v.review_links : v.sent;
}

function decisionView(metric: DecidedMetric, variants: VariantStats[], locale: Locale): DecisionView {
  const arms = variants.map((v) => ({ id: v.template_id, successes: v[metric], trials: trialsOf(v, metric) }));
  const d = decide(arms);
  const byId = new Map(variants.map((v) => [v.template_id, v]));
  const name = (id: string) => byId.get(id)?.template_name ?? id;
  const rate = (id: string) => {
    const v = byId.get(id);
    return v ? percent(v[metric] / Math.max(1, trialsOf(v, metric)), locale) : '';
  };
  const metricName = t(`stats_metric_${metric}`, locale);
  if (d.kind === 'no_comparison') return { metric, kind: 'no_comparison', summary: t('stats_no_comparison', locale) };
  if (d.kind === 'winner') {
    return {
      metric, kind: 'winner', best_template_id: d.best, runner_up_template_id: d.runnerUp,
      difference: d.difference.difference, difference_low: d.difference.low, difference_high: d.difference.high, p_value: d.pValue,
      summary: fmt(t('stats_winner', locale), {
        best: name(d.best), runner: name(d.runnerUp), metric: metricName, best_rate: rate(d.best), runner_rate: rate(d.runnerUp),
        diff: points(d.difference.difference, locale), low: points(d.difference.low, locale), high: points(d.difference.high, locale),
      }),
    };
  }
  const common = {
    metric, leader_template_id: d.leader, runner_up_template_id: d.runnerUp, observed_difference: d.observed, planned_difference: d.plannedEffect,
    sends_per_variant: d.perArm, more_sends: d.moreTrials,
  };
  const vars = {
    leader: name(d.leader), runner: name(d.runnerUp), metric: metricName, leader_rate: rate(d.leader), runner_rate: rate(d.runnerUp),
    diff: points(d.observed, locale), planned: points(d.plannedEffect, locale), more: number(d.moreTrials, locale), per: number(d.perArm, locale),
    sends: t(`stats_sends_${new Intl.PluralRules(locale).select(d.moreTrials)}`, locale),
  };
  // Enough sends to see the smallest difference worth having, and still none: the variants are even.
  if (d.moreTrials === 0) return { ...common, kind: 'equal', summary: fmt(t('stats_equal', locale), vars) };
  return { ...common, kind: 'undecided', summary: fmt(t('stats_undecided', locale), vars) };
}

const localeTag = (locale: Locale) => (locale === 'en' ? 'en-GB' : LOCALE_TAGS[locale]);

export function percent(fraction: number, locale: Locale = 'ru'): string {
  return new Intl.NumberFormat(localeTag(locale), { style: 'percent', maximumFractionDigits: 0 }).format(fraction);
}

/** Percentage points, one decimal when below ten. */
export function points(fraction: number, locale: Locale = 'ru'): string {
  const p = fraction * 100;
  return new Intl.NumberFormat(localeTag(locale), { maximumFractionDigits: Math.abs(p) < 10 ? 1 : 0 }).format(p);
}

function number(n: number, locale: Locale): string {
  return new Intl.NumberFormat(localeTag(locale)).format(n);
}

// ---- CSV -------------------------------------------------------------------------------------

export const STATS_CSV_COLUMNS = [
  'period_from', 'period_to', 'event', 'variant', 'template_id', 'template_name', 'is_active', 'weight', 'sent',
  ...STAT_METRICS.flatMap((m) => [m, `${m}_rate`, `${m}_low`, `${m}_high`]),
  'review_links', ...DECIDED_METRICS.map((m) => `decision_${m}`),
] as const;

/** One row per event and variant, the decisions repeated on each row of their event (UTF-8 with BOM for Excel). */
export function templateStatsCsv(stats: TemplateStats): string {
  const records = stats.events.flatMap((e) => e.variants.map((v) => {
    const rec: Record<string, unknown> = {
      period_from: stats.period.from, period_to: stats.period.to, event: e.event, variant: v.variant, template_id: v.template_id,
      template_name: v.template_name, is_active: v.is_active, weight: v.weight, sent: v.sent, review_links: v.review_links,
    };
    for (const m of STAT_METRICS) {
      rec[m] = v[m];
      const r = v.rates[m];
      rec[`${m}_rate`] = r.rate === null ? '' : r.rate.toFixed(4);
      rec[`${m}_low`] = r.rate === null ? '' : r.low.toFixed(4);
      rec[`${m}_high`] = r.rate === null ? '' : r.high.toFixed(4);
    }
    for (const m of DECIDED_METRICS) rec[`decision_${m}`] = e.decisions.find((d) => d.metric === m)?.summary ?? '';
    return STATS_CSV_COLUMNS.map((c) => neutralizeFormula(rec[c] ?? ''));
  }));
  return stringify(records, { header: true, columns: [...STATS_CSV_COLUMNS], bom: true });
}

// ---- "make this the only variant" ------------------------------------------------------------

/**
 * Keeps one template as the event's only active variant: every other active template of the same
 * store and event is switched off, this one on, in one transaction with its audit entry. Archived
 * templates are not found (404).
 */
export async function makeOnlyVariant(ctx: AppContext, actor: Actor, storeId: unknown, templateId: unknown): Promise<{ template_id: string; template_name: string; event: NotifyEvent; deactivated: string[] }> {
  if (!isUuid(storeId) || !isUuid(templateId)) throw new NotFoundError();
  const [found] = await ctx.db.select({ t: templates }).from(templates)
    .innerJoin(stores, eq(stores.id, templates.storeId))
    .where(and(eq(templates.id, templateId), eq(templates.storeId, storeId), isNull(templates.deletedAt), visibleStoresCondition(actor)))
    .limit(1);
  if (!found) throw new NotFoundError();
  const tpl = found.t;
  return ctx.db.transaction(async (tx) => {
    const now = ctx.now();
    const off = await tx.update(templates).set({ isActive: false, updatedAt: now })
      .where(and(eq(templates.storeId, tpl.storeId), eq(templates.event, tpl.event), eq(templates.isActive, true), isNull(templates.deletedAt), sql`${templates.id} <> ${tpl.id}`))
      .returning({ id: templates.id, name: templates.name });
    if (!tpl.isActive) await tx.update(templates).set({ isActive: true, updatedAt: now }).where(eq(templates.id, tpl.id));
    await recordAudit(tx, {
      storeId: tpl.storeId, actor, action: 'template.make_only_variant',
      details: { template_id: tpl.id, template_name: tpl.name, event: tpl.event, deactivated: off.map((o) => o.id), deactivated_names: off.map((o) => o.name) },
    });
    return { template_id: tpl.id, template_name: tpl.name, event: tpl.event as NotifyEvent, deactivated: off.map((o) => o.id) };
  });
}
