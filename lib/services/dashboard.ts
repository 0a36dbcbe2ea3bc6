import { and, between, eq, sql } from 'drizzle-orm';
import { notificationDailyCounts, senders, type NotificationStatus } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import { estimateDrain, localDayStart, type DrainEstimate } from '../pacing/pacing.ts';
import { storedSessionIssues } from '../waha/session-health.ts';
import { requireStore, type Actor } from './access.ts';

/** What the dashboard shows for one store; every number comes from PostgreSQL, nothing from Temporal. */
export interface DashboardData {
  today: Record<string, number>;
  /** Last 30 local days, oldest first: date (YYYY-MM-DD), delivered-or-better, failed, skipped, other. */
  daily: { date: string; sent: number; failed: number; skipped: number; pending: number }[];
  queueDepth: number;
  drain: DrainEstimate | null;
  sender: {
    sessionStatus: string;
    sessionStatusAt: string | null;
    lastError: string | null;
    sentToday: number;
    dailyCap: number | null;
  } | null;
  alerts: { code: string; detail?: string | null }[];
}

const DAY_MS = 86_400_000;

type Series = 'sent' | 'failed' | 'skipped' | 'pending';

/** Which bar of the chart a status adds to: delivered-or-better, failed, skipped, still on its way. */
const SERIES_OF_STATUS: Record<NotificationStatus, Series> = {
  sent: 'sent',
  delivered: 'sent',
  read: 'sent',
  failed: 'failed',
  undelivered: 'failed',
  skipped: 'skipped',
  queued: 'pending',
  scheduled: 'pending',
  sending: 'pending',
};
const seriesOf = new Map<string, Series>(Object.entries(SERIES_OF_STATUS));

export async function getDashboard(ctx: AppContext, actor: Actor, storeId: unknown): Promise<DashboardData> {
  const store = await requireStore(ctx, actor, storeId);
  const now = ctx.now();
  const dayStart = localDayStart(now, store.timezone);
  const fmt = new Intl.DateTimeFormat('en-CA', { timeZone: store.timezone, year: 'numeric', month: '2-digit', day: '2-digit' });
  const dates: string[] = [];
  for (let i = 29; i >= 0; i--) dates.push(fmt.format(new Date(dayStart.getTime() - i * DAY_MS + 12 * 3600_000)));
  const todayDate = dates[dates.length - 1]!;

  // The rollup, not `notifications`: at most 30 days × 9 statuses rows however large the store.
  // A row's day is its store's local date when it was created (docs/architecture.md "The
  // dashboard's daily counts").
  const rows = await ctx.db
    .select({ day: notificationDailyCounts.day, status: notificationDailyCounts.status, count: notificationDailyCounts.count })
    .from(notificationDailyCounts)
    .where(and(eq(notificationDailyCounts.storeId, store.id), between(notificationDailyCounts.day, dates[0]!, todayDate)));
  const today: Record<string, number> = {};
  const byDate = new Map<string, DashboardData['daily'][number]>(dates.map((date) => [date, { date, sent: 0, failed: 0, skipped: 0, pending: 0 }]));
  for (const r of rows) {
    if (r.day === todayDate) today[r.status] = r.count;
    const day = byDate.get(r.day);
    const series = seriesOf.get(r.status);
    if (day && series) day[series] += r.count;
  }
  const daily = [...byDate.values()];

  const [queue] = (await ctx.db.execute<{ n: string }>(sql`
    select coalesce(sum(count), 0)::text as n from notification_daily_counts
    where store_id = ${store.id} and status in ('queued', 'scheduled')`)).rows;
  const queueDepth = Number(queue?.n ?? 0);

  let sender: DashboardData['sender'] = null;
  let drain: DrainEstimate | null = null;
  const alerts: DashboardData['alerts'] = [];
  if (store.senderId) {
    const [s] = await ctx.db.select().from(senders).where(eq(senders.id, store.senderId));
    if (s) {
      const senderDayStart = localDayStart(now, s.timezone);
      const [sent] = (await ctx.db.execute<{ n: string }>(sql`
        select count(*)::text as n from notifications n join stores st on st.id = n.store_id
        where st.sender_id = ${s.id} and n.sent_at >= ${senderDayStart}`)).rows;
      const sentToday = Number(sent?.n ?? 0);
      sender = { sessionStatus: s.sessionStatus, sessionStatusAt: s.sessionStatusAt?.toISOString() ?? null, lastError: s.lastError, sentToday, dailyCap: s.dailyCap };
      drain = estimateDrain(queueDepth, s, now, { sentToday });
      if (s.sessionStatus !== 'WORKING') alerts.push({ code: 'session_not_working', detail: s.sessionStatus });
      if (s.dailyCap !== null && sentToday >= s.dailyCap) alerts.push({ code: 'daily_cap_reached' });
      if (s.acksStalledSince) alerts.push({ code: 'acks_stalled' });
      for (const issue of storedSessionIssues(s.sessionHealth)) alerts.push({ code: `session_${issue.code}`, detail: 'events' in issue ? issue.events.join(', ') : null });
    }
  } else {
    alerts.push({ code: 'whatsapp_not_configured' });
  }
  if (store.tokenRejected) alerts.push({ code: 'token_rejected', detail: store.tokenRejectedReason });
  if (store.lastPollError) alerts.push({ code: 'poll_error', detail: store.lastPollError });
  if (store.sendingPaused) alerts.push({ code: 'sending_paused' });
  if (!store.enabled) alerts.push({ code: 'store_disabled' });
  if (!store.kaspiTokenEnc) alerts.push({ code: 'kaspi_token_missing' });
  return { today, daily, queueDepth, drain, sender, alerts };
}
