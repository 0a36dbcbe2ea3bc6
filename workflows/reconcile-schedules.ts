import { proxyActivities } from '@temporalio/workflow';
import type { ScheduleActivities } from '../activities/schedules.ts';

const { reconcileSchedules } = proxyActivities<ScheduleActivities>({
  // The pass that moves every Schedule (a new phase for each store) updates them one by one: at
  // 10,000 stores that is minutes. It heartbeats per store, so a lost worker is still noticed soon.
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

/** Runs every 5 minutes from its own Schedule: puts every store's poll schedule right. */
export async function reconcileSchedulesWorkflow(): Promise<{ created: number; updated: number; unchanged: number; deleted: number }> {
  return reconcileSchedules();
}
