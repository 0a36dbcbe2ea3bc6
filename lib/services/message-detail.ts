import { and, asc, eq } from 'drizzle-orm';
import { messageAttempts, messageEvents, notifications, orders } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import { isUuid, requireStore, type Actor } from './access.ts';
import { recordAudit } from './audit.ts';
import { NotFoundError } from './errors.ts';
import { listMessages, type MessageView } from './messages.ts';
import { resendOne } from './resend.ts';

/** One notification with its status history (message_events) and attempts, for the log's row detail. */
export interface MessageDetail {
  notification: typeof notifications.$inferSelect;
  events: { id: number; kind: string; from_status: string | null; to_status: string | null; ack: number | null; detail: unknown; created_at: string }[];
  attempts: {
    attempt_no: number;
    outcome: string;
    phone: string | null;
    chat_id: string | null;
    rendered_text: string | null;
    waha_message_id: string | null;
    last_ack: number | null;
    error: string | null;
    started_at: string;
    finished_at: string | null;
    /** The template's file this attempt carried; `fallback` says why it went as text (null: the file went out). */
    attachment: { kind: string; filename: string; size_bytes: number | null; sha256: string | null; fallback: string | null } | null;
  }[];
}

export async function getMessageDetail(ctx: AppContext, actor: Actor, storeId: unknown, notificationId: unknown): Promise<MessageDetail> {
  const store = await requireStore(ctx, actor, storeId);
  if (!isUuid(notificationId)) throw new NotFoundError();
  const [n] = await ctx.db.select().from(notifications).where(and(eq(notifications.id, notificationId), eq(notifications.storeId, store.id)));
  if (!n) throw new NotFoundError();
  const events = await ctx.db.select().from(messageEvents).where(eq(messageEvents.notificationId, n.id)).orderBy(asc(messageEvents.createdAt), asc(messageEvents.id)).limit(200);
  const attempts = await ctx.db.select().from(messageAttempts).where(eq(messageAttempts.notificationId, n.id)).orderBy(asc(messageAttempts.attemptNo));
  return {
    notification: n,
    events: events.map((e) => ({ id: e.id, kind: e.kind, from_status: e.fromStatus, to_status: e.toStatus, ack: e.ack, detail: e.detail, created_at: e.createdAt.toISOString() })),
    attempts: attempts.map((a) => ({
      attempt_no: a.attemptNo,
      outcome: a.outcome,
      phone: a.phone,
      chat_id: a.chatId,
      rendered_text: a.renderedText,
      waha_message_id: a.wahaMessageId,
      last_ack: a.lastAck,
      error: a.error,
      started_at: a.startedAt.toISOString(),
      finished_at: a.finishedAt?.toISOString() ?? null,
      attachment: a.attachmentKind && a.attachmentFilename
        ? { kind: a.attachmentKind, filename: a.attachmentFilename, size_bytes: a.attachmentSize, sha256: a.attachmentSha256, fallback: a.attachmentFallback }
        : null,
    })),
  };
}

/** An order as last seen and every message of it (the order page). */
export interface OrderDetail {
  order: { code: string; state: string; status: string; source: string; is_open: boolean; creation_date: string; first_seen_at: string; last_seen_at: string } | null;
  messages: MessageView[];
}

export async function getOrderDetail(ctx: AppContext, actor: Actor, storeId: unknown, orderCode: unknown): Promise<OrderDetail> {
  const store = await requireStore(ctx, actor, storeId);
  if (typeof orderCode !== 'string' || orderCode.length === 0 || orderCode.length > 64) throw new NotFoundError();
  const [o] = await ctx.db.select().from(orders).where(and(eq(orders.storeId, store.id), eq(orders.code, orderCode)));
  const { messages } = await listMessages(ctx, actor, store.id, { order_code: orderCode, limit: 500 });
  if (!o && messages.length === 0) throw new NotFoundError();
  return {
    order: o ? {
      code: o.code, state: o.state, status: o.status, source: o.source, is_open: o.isOpen,
      creation_date: o.creationDate.toISOString(), first_seen_at: o.firstSeenAt.toISOString(), last_seen_at: o.lastSeenAt.toISOString(),
    } : null,
    messages: messages.slice().reverse(),
  };
}

/** What the row detail's resend button did (every outcome is shown; none is an error). */
export type PageResendOutcome =
  | { result: 'started'; attemptNo: number }
  | { result: 'expired' }
  | { result: 'in_progress' }
  /** The status is not (or no longer) failed / undelivered. */
  | { result: 'not_allowed'; status: string };

/**
 * The row detail's resend button (failed / undelivered only). The store and the notification are
 * checked here — resendOne itself takes any id — so another store's id is the same NotFoundError
 * as an unknown one. A started resend is audited.
 */
export async function resendFromLog(ctx: AppContext, actor: Actor, storeId: unknown, notificationId: unknown): Promise<PageResendOutcome> {
  const store = await requireStore(ctx, actor, storeId);
  if (!isUuid(notificationId)) throw new NotFoundError();
  const [n] = await ctx.db.select({ id: notifications.id, status: notifications.status }).from(notifications)
    .where(and(eq(notifications.id, notificationId), eq(notifications.storeId, store.id)));
  if (!n) throw new NotFoundError();
  const r = await resendOne(ctx, n.id, { requestedBy: `admin:${actor.userId}` });
  if (r.result === 'started') {
    await recordAudit(ctx.db, { storeId: store.id, actor, action: 'notification.resend', details: { notification_id: n.id, workflow_id: r.workflowId, attempt_no: r.attemptNo } });
    return { result: 'started', attemptNo: r.attemptNo };
  }
  if (r.result === 'skipped' && r.reason === 'not_found') throw new NotFoundError();
  if (r.result === 'skipped' && r.reason === 'expired') return { result: 'expired' };
  if (r.result === 'skipped' && r.reason === 'in_progress') return { result: 'in_progress' };
  const [now] = await ctx.db.select({ status: notifications.status }).from(notifications).where(eq(notifications.id, n.id));
  return { result: 'not_allowed', status: now?.status ?? n.status };
}
