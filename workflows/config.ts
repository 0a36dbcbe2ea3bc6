import { defineSearchAttributeKey, SearchAttributeType, WorkflowIdReusePolicy, type SearchAttributePair } from '@temporalio/common';
import type { NotificationInput } from './notification.ts';

/**
 * Ids, queue names and search attributes: the one place that names things in Temporal. Pure, so
 * workflow code (the poll's child starts) and the client (pushes, resends, Schedules) share it.
 * Ids carry store ids, order codes and events only — Temporal UI shows them unencrypted, so no
 * phones, names or texts ever go into an id, an input or a search attribute.
 */
export const DEFAULT_TASK_QUEUE = 'kaspi-notify';

export const StoreIdKey = defineSearchAttributeKey('StoreId', SearchAttributeType.KEYWORD);
export const OrderCodeKey = defineSearchAttributeKey('OrderCode', SearchAttributeType.KEYWORD);
export const NotifyEventKey = defineSearchAttributeKey('NotifyEvent', SearchAttributeType.KEYWORD);

/** Registered by `npm start` (dev server flags) and by admin-tools in docker-compose.yml. */
export const SEARCH_ATTRIBUTES: ReadonlyArray<{ name: string; type: 'Keyword' }> = [
  { name: StoreIdKey.name, type: 'Keyword' },
  { name: OrderCodeKey.name, type: 'Keyword' },
  { name: NotifyEventKey.name, type: 'Keyword' },
];

export const POLL_SCHEDULE_PREFIX = 'kaspi-poll:';
export const pollScheduleId = (storeId: string): string => `${POLL_SCHEDULE_PREFIX}${storeId}`;
export const pollWorkflowId = (storeId: string): string => `kaspi-poll-run:${storeId}`;

/** What a store's poll Schedule starts (lib/temporal/schedules.ts). */
export function pollStart(storeId: string): { workflowId: string; args: [{ storeId: string }]; typedSearchAttributes: SearchAttributePair[] } {
  return { workflowId: pollWorkflowId(storeId), args: [{ storeId }], typedSearchAttributes: [{ key: StoreIdKey, value: storeId }] };
}

export const notifyWorkflowId = (storeId: string, orderCode: string, event: string): string => `notify:${storeId}:${orderCode}:${event}`;
/** n = the notification's attempts before this resend, so each resend that made an attempt gets a new id. */
export const resendWorkflowId = (notificationId: string, n: number): string => `resend:${notificationId}:${n}`;

/**
 * `first`: the one run of a (store, order, event) row — a child of the poll, or started for a push
 * or by the sweep of stranded rows. REJECT_DUPLICATE refuses the id even after that run closed, so
 * a second start can never send twice; callers count AlreadyStarted as started.
 * `resend`: an operator's new attempt. A resend whose run ended without making an attempt keeps
 * its number, so the id must be reusable once that run has closed (ALLOW_DUPLICATE); AlreadyStarted
 * then means the earlier resend is still running.
 */
export type NotificationStartKind = { kind: 'first' } | { kind: 'resend'; attemptsBefore: number };

export interface NotificationStart {
  workflowId: string;
  args: [NotificationInput];
  workflowIdReusePolicy: WorkflowIdReusePolicy;
  typedSearchAttributes: SearchAttributePair[];
}

/** The start options every start of notificationWorkflow shares; callers add the task queue or parent policy. */
export function notificationStart(input: NotificationInput, start: NotificationStartKind): NotificationStart {
  return {
    workflowId: start.kind === 'first' ? notifyWorkflowId(input.storeId, input.orderCode, input.event) : resendWorkflowId(input.notificationId, start.attemptsBefore),
    args: [input],
    workflowIdReusePolicy: start.kind === 'first' ? WorkflowIdReusePolicy.REJECT_DUPLICATE : WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: [
      { key: StoreIdKey, value: input.storeId },
      { key: OrderCodeKey, value: input.orderCode },
      { key: NotifyEventKey, value: input.event },
    ],
  };
}

// The maintenance Schedules and the workflow id each gives its runs (Temporal appends the run's time).
export const RECONCILE_SCHEDULE_ID = 'reconcile-schedules';
export const RECONCILE_WORKFLOW_ID = 'reconcile-schedules-run';
export const ALERTS_SCHEDULE_ID = 'alerts';
export const ALERTS_WORKFLOW_ID = 'alerts-run';
export const RECEIPTS_SCHEDULE_ID = 'delivery-receipts';
export const RECEIPTS_WORKFLOW_ID = 'delivery-receipts-run';
export const PURGE_SCHEDULE_ID = 'purge-personal-data';
export const PURGE_WORKFLOW_ID = 'purge-personal-data-run';
