import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { notificationStart, type NotificationStartKind } from '../../workflows/config.ts';
import { notificationWorkflow, type NotificationInput } from '../../workflows/notification.ts';
import type { AppContext } from '../context.ts';

/**
 * Starts notificationWorkflow from outside a workflow (a push, the sweep of stranded rows, a
 * resend) with the ids, search attributes and reuse policy the poll gives its children
 * (workflows/config.ts). The workflow function is imported as a value only so the input is
 * type-checked against it; the client sends just its name.
 *
 * `alreadyStarted`: the id was refused as a duplicate. What that means is the caller's to say
 * (see NotificationStartKind); any other failure is thrown.
 */
export async function startNotificationWorkflow(
  ctx: Pick<AppContext, 'temporal' | 'config'>,
  input: NotificationInput,
  kind: NotificationStartKind,
): Promise<{ workflowId: string; alreadyStarted: boolean }> {
  const start = notificationStart(input, kind);
  try {
    await ctx.temporal.workflow.start(notificationWorkflow, { taskQueue: ctx.config.TEMPORAL_TASK_QUEUE, ...start });
    return { workflowId: start.workflowId, alreadyStarted: false };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { workflowId: start.workflowId, alreadyStarted: true };
    throw err;
  }
}
