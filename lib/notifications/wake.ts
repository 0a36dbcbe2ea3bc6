import { WorkflowNotFoundError } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import { ackSignal, wakeSignal } from '../../workflows/signals.ts';

/** When WhatsApp comes back, notifications waiting for it claim again at once instead of after their backoff. */
export async function wakeWaiting(ctx: AppContext, senderId: string): Promise<number> {
  const waiting = await ctx.db.execute<{ workflow_id: string }>(sql`
    select n.workflow_id from notifications n join stores s on s.id = n.store_id
    where s.sender_id = ${senderId} and n.status in ('queued', 'scheduled') and n.workflow_id is not null
    limit 1000`);
  for (const { workflow_id } of waiting.rows) {
    try {
      await ctx.temporal.workflow.getHandle(workflow_id).signal(wakeSignal);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) ctx.logger.warn({ workflowId: workflow_id }, 'wake signal failed');
    }
  }
  return waiting.rows.length;
}

/**
 * Tells a waiting notification workflow about an ack PostgreSQL already holds. Best-effort: a
 * finished workflow no longer listens, and the workflow re-reads PostgreSQL when its wait ends.
 * Every signal is a billable action, so only what ends a wait is sent: DEVICE and above, or ERROR.
 */
export async function signalAck(ctx: Pick<AppContext, 'temporal' | 'logger'>, workflowId: string | null, ack: number): Promise<void> {
  if (!workflowId || !(ack >= 2 || ack === -1)) return;
  try {
    await ctx.temporal.workflow.getHandle(workflowId).signal(ackSignal, { ack });
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) ctx.logger.warn({ workflowId, err: (err as Error).message }, 'ack signal failed');
  }
}
