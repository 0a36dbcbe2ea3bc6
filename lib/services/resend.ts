import { and, asc, count, eq, gte, inArray, lt, sql } from 'drizzle-orm';
import { messageAttempts, notifications, templates, type NotifyEvent } from '../../drizzle/schema.ts';
import { resendWorkflowId } from '../../workflows/config.ts';
import type { NotificationInput } from '../../workflows/notification.ts';
import type { AppContext } from '../context.ts';
import { isFresh } from '../kaspi/events.ts';
import { reopenNotification } from '../notifications/status.ts';
import { startNotificationWorkflow } from '../temporal/start-notification.ts';

/**
 * Resend (docs/operations.md): a new attempt for a notification that ended `failed` or `undelivered`
 * — never for one that was delivered, read, is being sent or has been sent. Used by
 * `npm run resend` and by the admin's resend button.
 *
 * A resend never creates a second notification (the unique (store, order, event) row is the guard
 * against duplicates). It:
 *  1. moves the notification back to `scheduled` from failed/undelivered through the status
 *     writer's backward move (`reopenNotification` in lib/notifications/status.ts), recorded as a
 *     `resend` message_event so the log shows why the status went back: applyStatus only moves
 *     forward, which is right for everything that OBSERVES a message, while a resend is an
 *     operator's DECISION to try again;
 *  2. marks the earlier attempts whose outcome would short-circuit the next claim (`sent`,
 *     `sending`, `unknown`, and `not_sent` with a reserved id that would be reused) as
 *     `superseded_by_resend`, so `claimAndSend` makes a NEW attempt with a new message id;
 *  3. starts a notification workflow `resend:<notificationId>:<n>` (n = attempts so far) with the
 *     same typed search attributes, and records it as the notification's workflow (acks signal it).
 * The workflow's claimAndSend creates the next attempt, paced like every other send, and
 * re-checks freshness, the order's current state and opt-outs first. An event past its freshness
 * window is not resent at all (the buyer would get a message that is no longer true): it is
 * reported as skipped `expired` and the notification is left as it was.
 */

export type ResendableStatus = 'failed' | 'undelivered';
export const RESENDABLE_STATUSES: readonly ResendableStatus[] = ['failed', 'undelivered'];
/** Attempt outcomes claimAndSend would act on instead of making a new attempt. */
const SHORT_CIRCUIT_OUTCOMES = ['sent', 'sending', 'unknown', 'not_sent'];
export const SUPERSEDED_BY_RESEND = 'superseded_by_resend';

export type ResendOneResult =
  | { notificationId: string; result: 'started'; workflowId: string; attemptNo: number }
  | { notificationId: string; result: 'skipped'; reason: 'not_found' | 'not_resendable' | 'expired' | 'in_progress'; status?: string }
  | { notificationId: string; result: 'would_start'; workflowId: string };

export interface ResendOptions {
  dryRun?: boolean;
  /** Ack waits of the started workflow — tests only. */
  timing?: NotificationInput['timing'];
  /** Who asked: written into the `resend` message_event (e.g. 'cli', 'admin:<userId>'). */
  requestedBy?: string;
}

export async function resendOne(ctx: AppContext, notificationId: string, options: ResendOptions = {}): Promise<ResendOneResult> {
  const [row] = await ctx.db
    .select({ n: notifications, delayMinutes: templates.delayMinutes })
    .from(notifications)
    .leftJoin(templates, eq(templates.id, notifications.templateId))
    .where(eq(notifications.id, notificationId));
  if (!row) return { notificationId, result: 'skipped', reason: 'not_found' };
  const { n } = row;
  if (!RESENDABLE_STATUSES.includes(n.status as ResendableStatus)) return { notificationId, result: 'skipped', reason: 'not_resendable', status: n.status };
  if (!isFresh(n.event as NotifyEvent, n.eventAt, ctx.now(), row.delayMinutes ?? 0)) return { notificationId, result: 'skipped', reason: 'expired', status: n.status };

  const [{ attempts } = { attempts: 0 }] = await ctx.db.select({ attempts: count() }).from(messageAttempts).where(eq(messageAttempts.notificationId, notificationId));
  const workflowId = resendWorkflowId(notificationId, attempts);
  if (options.dryRun) return { notificationId, result: 'would_start', workflowId };

  const previous = await reopenForResend(ctx, { notificationId, workflowId, attempts, requestedBy: options.requestedBy ?? null });
  // Someone else resent it (or a webhook moved it) between the read and the UPDATE.
  if (!previous) return { notificationId, result: 'skipped', reason: 'not_resendable' };

  // The previous run may still be waiting (an ERROR ack failed the row while it waited for DEVICE);
  // left alone it would finish the row on its own clock, about the new attempt. End it first.
  if (previous.previousWorkflowId) {
    await ctx.temporal.workflow
      .getHandle(previous.previousWorkflowId)
      .terminate('superseded by a resend')
      .catch(() => undefined); // already closed: nothing to stop
  }

  const input: NotificationInput = { notificationId, storeId: n.storeId, orderCode: n.orderCode, event: n.event as NotifyEvent, ...(options.timing ? { timing: options.timing } : {}) };
  try {
    const { alreadyStarted } = await startNotificationWorkflow(ctx, input, { kind: 'resend', attemptsBefore: attempts });
    if (alreadyStarted) return { notificationId, result: 'skipped', reason: 'in_progress' };
  } catch (err) {
    // Nothing will send it: put the notification back as it was, so it can be resent later.
    await reopenNotification(ctx.db, {
      notificationId,
      from: ['scheduled'],
      to: previous.previous,
      source: 'resend_start_failed',
      at: ctx.now(),
      workflowId: previous.previousWorkflowId,
      whileWorkflowId: workflowId,
    });
    throw err;
  }
  ctx.logger.info({ notificationId, storeId: n.storeId, orderCode: n.orderCode, event: n.event, workflowId, from: previous.previous }, 'notification resent');
  return { notificationId, result: 'started', workflowId, attemptNo: attempts + 1 };
}

/**
 * The row back to `scheduled` for the new workflow (through the status writer, recorded as a
 * `resend`), and attempts that would short-circuit the new claim marked superseded — together.
 */
async function reopenForResend(ctx: AppContext, r: { notificationId: string; workflowId: string; attempts: number; requestedBy: string | null }) {
  const now = ctx.now();
  return ctx.db.transaction(async (tx) => {
    const moved = await reopenNotification(tx, {
      notificationId: r.notificationId,
      from: ['failed', 'undelivered'],
      to: 'scheduled',
      source: 'resend',
      kind: 'resend',
      at: now,
      clearReason: true,
      scheduledFor: now,
      workflowId: r.workflowId,
      detail: { requestedBy: r.requestedBy, workflowId: r.workflowId, attemptsBefore: r.attempts },
    });
    if (!moved) return undefined;
    await tx
      .update(messageAttempts)
      .set({ outcome: SUPERSEDED_BY_RESEND, finishedAt: sql`coalesce(${messageAttempts.finishedAt}, ${now})` })
      .where(and(eq(messageAttempts.notificationId, r.notificationId), inArray(messageAttempts.outcome, SHORT_CIRCUIT_OUTCOMES)));
    return moved;
  });
}

export interface ResendSelection {
  storeId: string;
  statuses: ResendableStatus[];
  /** Notifications created at or after this instant… */
  since: Date;
  /** …and before this one (default: now). */
  until?: Date;
  dryRun: boolean;
  onProgress?: (done: number, total: number, last: ResendOneResult | { notificationId: string; result: 'error'; error: string }) => void;
  timing?: NotificationInput['timing'];
  requestedBy?: string;
}

export interface ResendSummary {
  dryRun: boolean;
  matched: number;
  started: number;
  /** Dry run: how many would be started. */
  wouldStart: number;
  skipped: Record<string, number>;
  errors: { notificationId: string; error: string }[];
}

/** Every notification of the store in the given statuses and period, one at a time, oldest first. */
export async function resendNotifications(ctx: AppContext, selection: ResendSelection): Promise<ResendSummary> {
  const statuses = selection.statuses.filter((s) => RESENDABLE_STATUSES.includes(s));
  if (statuses.length === 0) throw new Error(`only ${RESENDABLE_STATUSES.join(' and ')} notifications can be resent`);
  const until = selection.until ?? ctx.now();
  const rows = await ctx.db
    .select({ id: notifications.id })
    .from(notifications)
    .where(and(eq(notifications.storeId, selection.storeId), inArray(notifications.status, statuses), gte(notifications.createdAt, selection.since), lt(notifications.createdAt, until)))
    .orderBy(asc(notifications.createdAt), asc(notifications.id));
  const summary: ResendSummary = { dryRun: selection.dryRun, matched: rows.length, started: 0, wouldStart: 0, skipped: {}, errors: [] };
  let done = 0;
  for (const { id } of rows) {
    let outcome: ResendOneResult | { notificationId: string; result: 'error'; error: string };
    try {
      outcome = await resendOne(ctx, id, { dryRun: selection.dryRun, timing: selection.timing, requestedBy: selection.requestedBy });
    } catch (err) {
      outcome = { notificationId: id, result: 'error', error: err instanceof Error ? err.message : String(err) };
    }
    if (outcome.result === 'started') summary.started++;
    else if (outcome.result === 'would_start') summary.wouldStart++;
    else if (outcome.result === 'skipped') summary.skipped[outcome.reason] = (summary.skipped[outcome.reason] ?? 0) + 1;
    else summary.errors.push({ notificationId: id, error: outcome.error });
    selection.onProgress?.(++done, rows.length, outcome);
  }
  return summary;
}
