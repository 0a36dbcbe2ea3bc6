import { condition, continueAsNew, log, proxyActivities, setHandler, sleep, upsertMemo, workflowInfo } from '@temporalio/workflow';
import type { NotificationActivities, SendResult } from '../activities/notification.ts';
import type { NotifyEvent } from '../drizzle/schema.ts';
import { ackSignal, wakeSignal } from './signals.ts';

export interface NotificationInput {
  notificationId: string;
  storeId: string;
  orderCode: string;
  event: NotifyEvent;
  /** Overrides of the ack and lookup waits, in ms — for tests and the benchmark only. */
  timing?: { serverAckWaitMs?: number; deviceAckWaitMs?: number; ambiguousLookupDelayMs?: number };
}

export interface NotificationOutcome {
  status: string;
  reasonCode: string | null;
}

const { prepareNotification, deliveryState, finishNotification } = proxyActivities<NotificationActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2s', maximumInterval: '1 minute' },
});
// Re-reads the order at Kaspi and may wait for a slow WAHA (a 500 can take minutes).
const { claimAndSend } = proxyActivities<NotificationActivities>({
  startToCloseTimeout: '3 minutes',
  // It heartbeats during the send: a dead worker is noticed in seconds, not minutes.
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '5s', maximumInterval: '2 minutes' },
});
const { lookUpAttempt, checkSentMessage } = proxyActivities<NotificationActivities>({
  startToCloseTimeout: '3 minutes',
  retry: { initialInterval: '5s', maximumInterval: '2 minutes' },
});

/** How long to wait for WhatsApp's SERVER ack before asking WAHA about the message itself. */
export const SERVER_ACK_WAIT_MS = 2 * 60_000;
/** How long to wait for DEVICE before the notification counts as undelivered. */
export const DEVICE_ACK_WAIT_MS = 24 * 60 * 60_000;
/** A send whose outcome is unknown is looked up after this, giving a slow WAHA time to finish. */
const AMBIGUOUS_LOOKUP_DELAY_MS = 30_000;
const MIN_WAIT_MS = 1_000;
/** Past this many events a waiting notification continues as a new run (prepare is idempotent). */
const HISTORY_LIMIT = 2_000;
const MAX_STATUS_WAIT_MS = 10 * 60_000;

/**
 * One notification about one order event: prepare → (template delay) → claim a paced slot and
 * send through WAHA at most once → wait for SERVER, then DEVICE acks.
 * PostgreSQL holds the truth; this workflow decides what to do next and when.
 */
export async function notificationWorkflow(input: NotificationInput): Promise<NotificationOutcome> {
  const { notificationId } = input;
  const serverAckWait = input.timing?.serverAckWaitMs ?? SERVER_ACK_WAIT_MS;
  const deviceAckWait = input.timing?.deviceAckWaitMs ?? DEVICE_ACK_WAIT_MS;
  const lookupDelay = input.timing?.ambiguousLookupDelayMs ?? AMBIGUOUS_LOOKUP_DELAY_MS;
  let lastAck = -2; // nothing heard yet; −1 is WhatsApp's ERROR
  let woken = false;
  setHandler(ackSignal, ({ ack }) => {
    lastAck = ack < 0 ? (lastAck < 2 ? ack : lastAck) : Math.max(lastAck, ack);
  });
  setHandler(wakeSignal, () => {
    woken = true;
  });

  const prepared = await prepareNotification({ notificationId });
  if (prepared.action === 'done') return { status: prepared.status, reasonCode: prepared.reasonCode };
  if (prepared.notBefore > Date.now()) await sleep(prepared.notBefore - Date.now());

  let resends = 0;
  for (;;) {
    const sent = await sendOnce(input, lookupDelay, () => woken, () => (woken = false));
    if (sent.result === 'done') return { status: sent.status, reasonCode: sent.reasonCode };
    if (sent.result !== 'sent') throw new Error('unreachable');

    if (!(await condition(() => lastAck >= 1 || lastAck === -1, serverAckWait))) {
      const known = await deliveryState({ notificationId });
      if ((known.lastAck ?? -2) >= 1) lastAck = Math.max(lastAck, known.lastAck ?? -2);
      else {
        const check = await checkSentMessage({ notificationId, allowResend: resends === 0 });
        if (check.found === 'absent' && resends === 0) {
          // Proven absent: one resend with the same reserved id, then keep listening.
          resends++;
          log.warn('no SERVER ack and WAHA does not know the message: resending once', { notificationId });
          continue;
        }
      }
    }
    break;
  }

  if (lastAck === -1) {
    // WhatsApp reported an error for the message: fail it (refused after DELIVERED/READ).
    return { status: (await finishNotification({ notificationId, status: 'failed', reasonCode: 'ack_error' })).status, reasonCode: 'ack_error' };
  }
  if (!(await condition(() => lastAck >= 2 || lastAck === -1, deviceAckWait))) {
    let known = await deliveryState({ notificationId });
    if ((known.lastAck ?? -2) < 2 && known.status === 'sent') {
      // The DEVICE ack may have been lost on its way to us: ask WAHA before calling it undelivered.
      await checkSentMessage({ notificationId, allowResend: false });
      known = await deliveryState({ notificationId });
    }
    if ((known.lastAck ?? -2) < 2 && known.status === 'sent') {
      return { status: (await finishNotification({ notificationId, status: 'undelivered', reasonCode: 'undelivered' })).status, reasonCode: 'undelivered' };
    }
  }
  const final = await deliveryState({ notificationId });
  return { status: final.status, reasonCode: null };
}

/**
 * Claims and sends until the message is sent or the notification is over. A refused claim is a
 * durable sleep and a new claim — not an activity retry — so a backlog drains paced after an outage.
 */
async function sendOnce(input: NotificationInput, lookupDelayMs: number, isWoken: () => boolean, clearWoken: () => void): Promise<Exclude<SendResult, { result: 'wait' } | { result: 'ambiguous' }>> {
  const { notificationId } = input;
  let statusWaitMs = 30_000;
  for (;;) {
    const r = await claimAndSend({ notificationId });
    if (r.result === 'sent' || r.result === 'done') return r;
    if (r.result === 'ambiguous') {
      await sleep(lookupDelayMs);
      const found = await lookUpAttempt({ attemptId: r.attemptId });
      if (found.found === 'sent') return { result: 'sent', attemptId: r.attemptId, hasMessageId: true };
      if (found.found === 'absent') continue;
      const done = await finishNotification({ notificationId, status: 'failed', reasonCode: 'outcome_unknown' });
      return { result: 'done', status: done.status, reasonCode: 'outcome_unknown' };
    }
    // A very long wait (days of cap or outage) must not grow one history without bound.
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > HISTORY_LIMIT) await continueAsNew<typeof notificationWorkflow>(input);
    upsertMemo({ waitingFor: r.reason });
    clearWoken();
    if (r.retryAt !== null) {
      await condition(isWoken, Math.max(MIN_WAIT_MS, r.retryAt - Date.now()));
    } else {
      // Paused or WhatsApp not connected: back off, but wake at once when an admin fixes it.
      await condition(isWoken, statusWaitMs);
      statusWaitMs = Math.min(MAX_STATUS_WAIT_MS, statusWaitMs * 2);
    }
  }
}
