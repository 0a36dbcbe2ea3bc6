import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Ids, queue names and search attributes: the one place that names things in Temporal.
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

export const pollScheduleId = (storeId: string): string => `kaspi-poll:${storeId}`;
export const POLL_SCHEDULE_PREFIX = 'kaspi-poll:';
export const pollWorkflowId = (storeId: string): string => `kaspi-poll-run:${storeId}`;
export const notifyWorkflowId = (storeId: string, orderCode: string, event: string): string => `notify:${storeId}:${orderCode}:${event}`;
export const RECONCILE_SCHEDULE_ID = 'reconcile-schedules';
