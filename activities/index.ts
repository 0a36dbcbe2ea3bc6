import type { AppContext } from '../lib/context.ts';
import { createScheduleActivities } from './schedules.ts';
import { createNotificationActivities } from './notification.ts';
import { createKaspiPollActivities } from './kaspi-poll.ts';
import { createMaintenanceActivities } from './maintenance.ts';
import { instrumentActivities } from './instrument.ts';
import { withFailureBoundary } from './failure-boundary.ts';

export function createActivities(ctx: AppContext) {
  return withFailureBoundary(instrumentActivities(ctx, {
    ...createScheduleActivities(ctx),
    ...createNotificationActivities(ctx),
    ...createKaspiPollActivities(ctx),
    ...createMaintenanceActivities(ctx),
  }));
}
export type Activities = ReturnType<typeof createActivities>;
