import type { temporal } from '@temporalio/proto';

/**
 * Billable actions counted from one workflow's history (Temporal Cloud's rules, see
 * bench/README.md "Counting rules"):
 *  - WorkflowExecutionStarted: 1 (client start, child start, schedule start). A child start is
 *    counted here, in the child's history, never again in the parent's StartChildWorkflowExecutionInitiated.
 *  - ActivityTaskScheduled: 1, plus (attempt − 1) for the retries of the attempt that started last.
 *  - TimerStarted: 1 (sleep, and condition() with a timeout).
 *  - WorkflowExecutionSignaled: 1 per signal received.
 *  - SignalExternalWorkflowExecutionInitiated: 1.
 *  - UpsertWorkflowSearchAttributes: 1. WorkflowPropertiesModified (upsertMemo): 1 (counted, to be safe).
 *  - MarkerRecorded (side effects, local activities): 1 (counted, to be safe).
 * Not in the history, added by the caller: activity heartbeats that reached the server, and the
 * Schedule's own action per scheduled run.
 */
export type ActionKind = 'workflowStarted' | 'activity' | 'activityRetry' | 'timer' | 'signal' | 'signalExternal' | 'searchAttributes' | 'memo' | 'marker' | 'childInitiated';

export function countActions(history: temporal.api.history.v1.IHistory): { total: number; by: Partial<Record<ActionKind, number>>; activities: Record<string, number> } {
  const by: Partial<Record<ActionKind, number>> = {};
  const activities: Record<string, number> = {};
  const add = (k: ActionKind, n = 1) => (by[k] = (by[k] ?? 0) + n);
  for (const e of history.events ?? []) {
    if (e.workflowExecutionStartedEventAttributes) add('workflowStarted');
    else if (e.activityTaskScheduledEventAttributes) {
      add('activity');
      const name = e.activityTaskScheduledEventAttributes.activityType?.name ?? '?';
      activities[name] = (activities[name] ?? 0) + 1;
    } else if (e.activityTaskStartedEventAttributes) {
      const attempt = e.activityTaskStartedEventAttributes.attempt ?? 1;
      if (attempt > 1) add('activityRetry', attempt - 1);
    } else if (e.timerStartedEventAttributes) add('timer');
    else if (e.workflowExecutionSignaledEventAttributes) add('signal');
    else if (e.signalExternalWorkflowExecutionInitiatedEventAttributes) add('signalExternal');
    else if (e.upsertWorkflowSearchAttributesEventAttributes) add('searchAttributes');
    else if (e.workflowPropertiesModifiedEventAttributes) add('memo');
    else if (e.markerRecordedEventAttributes) add('marker');
    else if (e.startChildWorkflowExecutionInitiatedEventAttributes) add('childInitiated');
  }
  const total = Object.entries(by).reduce((sum, [k, v]) => (k === 'childInitiated' ? sum : sum + v), 0);
  return { total, by, activities };
}

export function mergeCounts(into: Partial<Record<ActionKind, number>>, from: Partial<Record<ActionKind, number>>): void {
  for (const [k, v] of Object.entries(from) as [ActionKind, number][]) into[k] = (into[k] ?? 0) + v;
}
