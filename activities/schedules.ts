import { and, eq, isNull, lt } from 'drizzle-orm';
import { notifications } from '../drizzle/schema.ts';
import type { AppContext } from '../lib/context.ts';
import { startQueuedNotifications } from '../lib/services/push-orders.ts';
import { reconcileSchedules, type ReconcileResult } from '../lib/temporal/schedules.ts';
import { heartbeat } from './heartbeat.ts';

/** A queued row this old without a workflow was missed (a failed start, a push-only store). */
export const STRANDED_AFTER_MS = 2 * 60_000;

export function createScheduleActivities(ctx: AppContext) {
  return {
    /** All stores from the Schedule; one store (`storeId`) when a caller scopes it. */
    async reconcileSchedules(input: { storeId?: string } = {}): Promise<ReconcileResult> {
      const result = await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE, { ...input, onProgress: heartbeat });
      // Push-only stores have no poll to pick up rows a failed start left queued; every store
      // gets this sweep every 5 minutes. AlreadyStarted counts as started, so it never doubles.
      const stranded = await ctx.db
        .selectDistinct({ storeId: notifications.storeId })
        .from(notifications)
        .where(and(
          eq(notifications.status, 'queued'),
          isNull(notifications.workflowId),
          lt(notifications.createdAt, new Date(ctx.now().getTime() - STRANDED_AFTER_MS)),
          input.storeId ? eq(notifications.storeId, input.storeId) : undefined,
        ));
      let swept = 0;
      for (const { storeId } of stranded) {
        const started = await startQueuedNotifications(ctx, storeId);
        swept += started.started + started.alreadyStarted;
      }
      ctx.logger.info({ ...result, swept }, 'poll schedules reconciled');
      return result;
    },
  };
}
export type ScheduleActivities = ReturnType<typeof createScheduleActivities>;
