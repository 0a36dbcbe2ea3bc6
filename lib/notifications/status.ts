import { sql } from 'drizzle-orm';
import type { NotificationStatus } from '../../drizzle/schema.ts';
import type { Db } from '../db/client.ts';
import { notificationsByStatus } from '../metrics.ts';

/**
 * The one way a notification's status changes. Status only moves forward:
 *   queued < scheduled < sending < sent = undelivered < delivered < read
 * `failed` and `skipped` are final, with one exception: a `failed` row whose outcome was unknown
 * (`outcome_unknown`) moves to sent/delivered/read when WhatsApp later proves it went out (a late
 * `message.any` echo or ack) — evidence, never a resend. An ERROR ack (−1) moves only
 * sent/undelivered to failed — an ERROR that arrives after READ changes nothing. The few backward
 * moves (an attempt proven not sent, a resend) go through reopenNotification, each recorded. Every change is one UPDATE whose WHERE clause
 * holds the rule, so concurrent writers (webhook handlers, the workflow) cannot move it backwards.
 */
export const STATUS_RANK: Record<NotificationStatus, number> = {
  queued: 0,
  scheduled: 1,
  sending: 2,
  sent: 3,
  undelivered: 3,
  delivered: 4,
  read: 5,
  failed: 100,
  skipped: 100,
};

export const FINAL_STATUSES: ReadonlySet<NotificationStatus> = new Set(['read', 'failed', 'skipped', 'undelivered', 'delivered']);

const rankSql = sql.raw(
  `(case prev.status ${Object.entries(STATUS_RANK).map(([s, r]) => `when '${s}' then ${r}`).join(' ')} else 100 end)`,
);

type Executor = Pick<Db, 'execute'>;

/** The reason code of a send whose outcome nobody could establish; later evidence may correct it. */
export const OUTCOME_UNKNOWN = 'outcome_unknown';

export interface StatusChange {
  notificationId: string;
  to: NotificationStatus;
  reasonCode?: string | null;
  reason?: string | null;
  /** Written to message_events as the audit trail of this change. */
  source: string;
  at: Date;
  /** Narrows the states this change may leave (e.g. an ERROR ack fails only sent/undelivered rows). */
  onlyFrom?: readonly NotificationStatus[];
}

/**
 * Applies a forward move (or failed/skipped from a non-final state). Returns the previous status
 * when the row changed, undefined when the rule refused it.
 */
export async function applyStatus(db: Executor, change: StatusChange): Promise<NotificationStatus | undefined> {
  const { notificationId, to, at } = change;
  let guard;
  if (change.onlyFrom) {
    guard = sql`prev.status in (${sql.join(change.onlyFrom.map((st) => sql`${st}`), sql`, `)}) and ${rankSql} <> ${STATUS_RANK[to]}`;
  } else if (to === 'failed') {
    // A send failure (from the workflow) or an ERROR ack: never after delivered/read.
    guard = sql`prev.status in ('queued', 'scheduled', 'sending', 'sent', 'undelivered')`;
  } else if (to === 'skipped') {
    guard = sql`prev.status in ('queued', 'scheduled')`;
  } else if (to === 'undelivered') {
    guard = sql`prev.status = 'sent'`;
  } else if (to === 'sent' || to === 'delivered' || to === 'read') {
    guard = sql`(${rankSql} < ${STATUS_RANK[to]} or (prev.status = 'failed' and prev.reason_code = ${OUTCOME_UNKNOWN}))`;
  } else {
    guard = sql`${rankSql} < ${STATUS_RANK[to]}`;
  }
  // FOR NO KEY UPDATE, not FOR UPDATE: webhook transactions first write message_events rows that
  // reference this notification (their foreign key takes KEY SHARE on it); a full FOR UPDATE
  // would wait for those and deadlock two acks of one message arriving together.
  const rows = await db.execute<{ previous: NotificationStatus; store_id: string; event: string }>(sql`
    with prev as (select id, status, reason_code from notifications where id = ${notificationId} for no key update)
    update notifications n set
      status = ${to},
      reason_code = case when ${to} in ('failed', 'skipped', 'undelivered') then ${change.reasonCode ?? null} when prev.status = 'failed' then null else n.reason_code end,
      reason = case when ${to} in ('failed', 'skipped', 'undelivered') then ${change.reason ?? null} when prev.status = 'failed' then null else n.reason end,
      sent_at = case when ${to} in ('sent', 'delivered', 'read') then coalesce(n.sent_at, ${at}) else n.sent_at end,
      delivered_at = case when ${to} in ('delivered', 'read') then coalesce(n.delivered_at, ${at}) else n.delivered_at end,
      read_at = case when ${to} = 'read' then coalesce(n.read_at, ${at}) else n.read_at end,
      updated_at = ${at}
    from prev
    where n.id = prev.id and ${guard}
    returning prev.status as previous, n.store_id, n.event`);
  const previous = rows.rows[0]?.previous;
  if (previous !== undefined) {
    notificationsByStatus.inc({ status: to, event: rows.rows[0]!.event, store: rows.rows[0]!.store_id });
    await db.execute(sql`
      insert into message_events (store_id, notification_id, kind, from_status, to_status, detail, created_at)
      select store_id, id, 'status', ${previous}, ${to}, ${JSON.stringify({ source: change.source, reasonCode: change.reasonCode ?? null })}::jsonb, ${at}
      from notifications where id = ${notificationId}`);
  }
  return previous;
}

export interface Reopen {
  notificationId: string;
  /** The states this move may leave; from anything else it is refused. */
  from: readonly NotificationStatus[];
  to: NotificationStatus;
  source: string;
  at: Date;
  /** Written to message_events as `kind` (default `status`). */
  kind?: string;
  detail?: Record<string, unknown>;
  clearReason?: boolean;
  scheduledFor?: Date;
  /** undefined keeps the row's workflow id. */
  workflowId?: string | null;
  /** Only when the row still belongs to this workflow (undoing our own move). */
  whileWorkflowId?: string;
}

/**
 * The backward moves, each for a named reason and each recorded: an attempt proven not sent goes
 * back to `scheduled` for the next claim; a resend reopens a failed/undelivered row; a resend whose
 * workflow could not start puts the row back. Returns what the row was, or undefined when refused.
 */
export async function reopenNotification(db: Executor, r: Reopen): Promise<{ previous: NotificationStatus; previousWorkflowId: string | null } | undefined> {
  const rows = await db.execute<{ previous: NotificationStatus; previous_workflow_id: string | null; store_id: string; event: string }>(sql`
    with prev as (select id, status, workflow_id from notifications where id = ${r.notificationId} for no key update)
    update notifications n set
      status = ${r.to},
      reason_code = case when ${r.clearReason ?? false} then null else n.reason_code end,
      reason = case when ${r.clearReason ?? false} then null else n.reason end,
      scheduled_for = coalesce(${r.scheduledFor ?? null}, n.scheduled_for),
      workflow_id = case when ${r.workflowId === undefined} then n.workflow_id else ${r.workflowId ?? null} end,
      updated_at = ${r.at}
    from prev
    where n.id = prev.id
      and prev.status in (${sql.join(r.from.map((st) => sql`${st}`), sql`, `)})
      and (${r.whileWorkflowId ?? null}::text is null or prev.workflow_id = ${r.whileWorkflowId ?? null})
    returning prev.status as previous, prev.workflow_id as previous_workflow_id, n.store_id, n.event`);
  const row = rows.rows[0];
  if (!row) return undefined;
  notificationsByStatus.inc({ status: r.to, event: row.event, store: row.store_id });
  await db.execute(sql`
    insert into message_events (store_id, notification_id, kind, from_status, to_status, detail, created_at)
    values (${row.store_id}, ${r.notificationId}, ${r.kind ?? 'status'}, ${row.previous}, ${r.to}, ${JSON.stringify({ source: r.source, ...r.detail })}::jsonb, ${r.at})`);
  return { previous: row.previous, previousWorkflowId: row.previous_workflow_id };
}

/** Non-final bookkeeping on a live notification (what it waits for), without moving its status. */
export async function setWaitingReason(db: Executor, notificationId: string, reasonCode: string | null, reason: string | null, scheduledFor: Date | null): Promise<void> {
  await db.execute(sql`
    update notifications set reason_code = ${reasonCode}, reason = ${reason}, scheduled_for = coalesce(${scheduledFor}, scheduled_for), updated_at = now()
    where id = ${notificationId} and status in ('queued', 'scheduled')`);
}

/** Maps a WhatsApp ack number to the status it proves. */
export function statusForAck(ack: number): NotificationStatus | undefined {
  if (ack < 0) return 'failed';
  if (ack === 1) return 'sent';
  if (ack === 2) return 'delivered';
  if (ack >= 3) return 'read';
  return undefined;
}
