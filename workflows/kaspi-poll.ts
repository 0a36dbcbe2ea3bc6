import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, proxyActivities, startChild } from '@temporalio/workflow';
import type { KaspiPollActivities } from '../activities/kaspi-poll.ts';
import { notificationStart } from './config.ts';
import { notificationWorkflow } from './notification.ts';

/**
 * Started by the store's Schedule (`kaspi-poll:<storeId>`, overlap SKIP). Polls Kaspi once, then
 * starts one notification workflow per queued row. Ids only in inputs, results and search
 * attributes: the Temporal UI shows them unencrypted.
 *
 * Order: start all children at once, THEN record their ids with one activity. A run that dies in
 * between leaves rows `queued` without a workflow id; the next poll returns them again, the start
 * answers AlreadyStarted (REJECT_DUPLICATE also refuses a closed id), which counts as success, and
 * the id is recorded then. Recording first would lose a row for good if its start never happened.
 */

const { pollKaspiStore } = proxyActivities<KaspiPollActivities>({
  // Paging 250+ orders with 200 ms spacing and 25 s request timeouts stays far below this.
  startToCloseTimeout: '10 minutes',
  // The activity heartbeats per page and per look-up once it has run 10 s (an idle poll never
  // does: activities/kaspi-poll.ts); a lost worker is noticed within a minute.
  heartbeatTimeout: '1 minute',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    // Overlap SKIP: while this run retries, the store's next scheduled polls are skipped. A few
    // attempts ride out a blip; a longer outage is left to the following scheduled runs.
    maximumAttempts: 5,
    nonRetryableErrorTypes: ['KaspiTokenRejected', 'KaspiTokenUnreadable', 'KaspiBadRequest'],
  },
});

const { markNotificationsStarted } = proxyActivities<KaspiPollActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

export interface KaspiPollWorkflowResult {
  queued: number;
  started: number;
  alreadyStarted: number;
}

export async function kaspiPollWorkflow(input: { storeId: string }): Promise<KaspiPollWorkflowResult> {
  const { storeId } = input;
  const queued = await pollKaspiStore({ storeId });
  let started = 0;
  let alreadyStarted = 0;
  const starts = queued.map((ref) => notificationStart({ notificationId: ref.notificationId, storeId, orderCode: ref.orderCode, event: ref.event }, { kind: 'first' }));
  // ABANDON: the poll ends right after these starts, and the default (TERMINATE) would end the notifications with it.
  const results = await Promise.allSettled(starts.map((start) => startChild(notificationWorkflow, { ...start, parentClosePolicy: ParentClosePolicy.ABANDON })));
  const marks: { notificationId: string; workflowId: string }[] = [];
  let failure: unknown;
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') started++;
    else if (r.reason instanceof WorkflowExecutionAlreadyStartedError) alreadyStarted++;
    else {
      failure ??= r.reason;
      return;
    }
    marks.push({ notificationId: queued[i]!.notificationId, workflowId: starts[i]!.workflowId });
  });
  // An idle poll schedules nothing after pollKaspiStore: its history (and its bill) stays that short.
  if (marks.length) await markNotificationsStarted({ items: marks });
  // Rows whose start failed stay queued without a workflow id: the next poll returns them.
  if (failure !== undefined) throw failure;
  return { queued: queued.length, started, alreadyStarted };
}
