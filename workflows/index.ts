// Everything the worker registers. Workflow code is bundled and replayed: deterministic only.
export { reconcileSchedulesWorkflow } from './reconcile-schedules.ts';
export { kaspiPollWorkflow } from './kaspi-poll.ts';
export { notificationWorkflow } from './notification.ts';
export { alertsWorkflow, deliveryReceiptsWorkflow, purgePersonalDataWorkflow } from './maintenance.ts';
