import { proxyActivities } from '@temporalio/workflow';
import type { ScheduleActivities } from '../activities/schedules.ts';

const { reconcileSchedules } = proxyActivities<ScheduleActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 3 },
});

/** Runs every 5 minutes from its own Schedule: puts every store's poll schedule right. */
export async function reconcileSchedulesWorkflow(): Promise<{ created: number; updated: number; unchanged: number; deleted: number }> {
  return reconcileSchedules();
}
