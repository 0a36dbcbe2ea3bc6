import type { AppContext } from '../lib/context.ts';
import { reconcileSchedules, type ReconcileResult } from '../lib/temporal/schedules.ts';

export function createScheduleActivities(ctx: AppContext) {
  return {
    async reconcileSchedules(): Promise<ReconcileResult> {
      const result = await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE);
      ctx.logger.info({ ...result }, 'poll schedules reconciled');
      return result;
    },
  };
}
export type ScheduleActivities = ReturnType<typeof createScheduleActivities>;
