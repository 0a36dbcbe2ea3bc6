import { eq, sql } from 'drizzle-orm';
import { senders } from '../../drizzle/schema.ts';
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

export async function getDashboard(ctx: AppContext, actor: Actor, storeId: unknown): Promise<DashboardData> {
  const store = await requireStore(ctx, actor, storeId);
  const now = ctx.now();
  const dayStart = localDayStart(now, store.timezone);
  const since = localDayStart(new Date(dayStart.getTime() - 29 * DAY_MS + 12 * 3600_000), store.timezone);

  const todayRows = await ctx.db.execute<{ status: string; n: string }>(sql`
    select status, count(*)::text as n from notifications
    where store_id = ${store.id} and created_at >= ${dayStart} group by status`);
  const today: Record<string, number> = {};
  for (const r of todayRows.rows) today[r.status] = Number(r.n);

  const dailyRows = await ctx.db.execute<{ d: string; sent: string; failed: string; skipped: string; pending: string }>(sql`
    select to_char(created_at at time zone ${store.timezone}, 'YYYY-MM-DD') as d,
           count(*) filter (where status in ('sent', 'delivered', 'read'))::text as sent,
           count(*) filter (where status in ('failed', 'undelivered'))::text as failed,
           count(*) filter (where status = 'skipped')::text as skipped,
           count(*) filter (where status in ('queued', 'scheduled', 'sending'))::text as pending
    from notifications where store_id = ${store.id} and created_at >= ${since}
    group by 1 order by 1`);
  const byDate = new Map(dailyRows.rows.map((r) => [r.d, r]));
  const daily: DashboardData['daily'] = [];
  const fmt = new Intl.DateTimeFormat('en-CA', { timeZone: store.timezone, year: 'numeric', month: '2-digit', day: '2-digit' });
  for (let i = 29; i >= 0; i--) {
    const date = fmt.format(new Date(dayStart.getTime() - i * DAY_MS + 12 * 3600_000));
    const r = byDate.get(date);
    daily.push({ date, sent: Number(r?.sent ?? 0), failed: Number(r?.failed ?? 0), skipped: Number(r?.skipped ?? 0), pending: Number(r?.pending ?? 0) });
  }

  const [queue] = (await ctx.db.execute<{ n: string }>(sql`
    select count(*)::text as n from notifications where store_id = ${store.id} and status in ('queued', 'scheduled')`)).rows;
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
