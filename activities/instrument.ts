import { ApplicationFailure } from '@temporalio/common';
import { eq } from 'drizzle-orm';
import { notifications, stores } from '../drizzle/schema.ts';
import type { AppContext } from '../lib/context.ts';
import { eventToSent, kaspiErrors, kaspiPolls, ordersSeen, sendLatency, wahaErrors } from '../lib/metrics.ts';

/**
 * Metrics of the activities, measured around them so the activities themselves stay about their
 * work: polls by outcome, orders seen, Kaspi errors by class (from the failures
 * the poll's error contract promises), send duration, event-to-sent delay, WAHA errors by class
 * (from the claim results the notification activities' error contract returns). Labels carry
 * store ids and classes only.
 */
const KASPI_CLASSES: Record<string, string> = {
  KaspiTokenRejected: 'token_rejected',
  KaspiTokenUnreadable: 'token_unreadable',
  KaspiRateLimited: 'rate_limited',
  KaspiBadRequest: 'bad_request',
  KaspiAuthError: 'token_rejected',
  KaspiRateLimitError: 'rate_limited',
  KaspiUnavailableError: 'unavailable',
  KaspiBadRequestError: 'bad_request',
  KaspiProtocolError: 'protocol',
};

export function kaspiErrorClass(err: unknown): string {
  if (err instanceof ApplicationFailure && err.type) return KASPI_CLASSES[err.type] ?? 'other';
  if (err instanceof Error) return KASPI_CLASSES[err.name] ?? 'other';
  return 'other';
}

/** WAHA error class a claim result stands for, or undefined when WAHA did not fail. */
export function wahaErrorClass(result: { result: string; reason?: string; reasonCode?: string | null }): string | undefined {
  if (result.result === 'ambiguous') return 'ambiguous';
  if (result.result === 'wait') {
    if (result.reason === 'waha_unauthorized') return 'auth';
    if (result.reason === 'waha_unreachable') return 'network';
    if (result.reason === 'session_not_working') return 'session_not_ready';
  }
  if (result.result === 'done') {
    if (result.reasonCode === 'cold_outreach_refused') return 'refused';
    if (result.reasonCode === 'waha_rejected') return 'rejected';
  }
  return undefined;
}

type AnyActivities = Record<string, (...args: never[]) => Promise<unknown>>;

export function instrumentActivities<T extends AnyActivities>(ctx: AppContext, activities: T): T {
  const out: AnyActivities = { ...activities };
  const poll = activities.pollKaspiStore as ((input: { storeId: string }) => Promise<unknown>) | undefined;
  if (poll) {
    out.pollKaspiStore = async (input: { storeId: string }) => {
      try {
        const result = await poll(input);
        kaspiPolls.inc({ outcome: 'ok' });
        const [s] = await ctx.db.select({ n: stores.lastPollOrders, at: stores.lastPollAt }).from(stores).where(eq(stores.id, input.storeId));
        if (s?.n) ordersSeen.inc({ store: input.storeId }, s.n);
        return result;
      } catch (err) {
        const cls = kaspiErrorClass(err);
        kaspiPolls.inc({ outcome: cls === 'other' ? 'error' : cls });
        kaspiErrors.inc({ class: cls });
        throw err;
      }
    };
  }
  const claim = activities.claimAndSend as ((input: { notificationId: string }) => Promise<{ result: string; reason?: string; reasonCode?: string | null }>) | undefined;
  if (claim) {
    out.claimAndSend = async (input: { notificationId: string }) => {
      const started = process.hrtime.bigint();
      const result = await claim(input);
      const cls = wahaErrorClass(result);
      if (cls) wahaErrors.inc({ class: cls });
      if (result.result === 'sent') {
        sendLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
        const [n] = await ctx.db.select({ eventAt: notifications.eventAt, sentAt: notifications.sentAt }).from(notifications).where(eq(notifications.id, input.notificationId));
        if (n?.sentAt) eventToSent.observe(Math.max(0, (n.sentAt.getTime() - n.eventAt.getTime()) / 1000));
      }
      return result;
    };
  }
  return out as T;
}
