import type { AppContext } from '../lib/context.ts';
import { createScheduleActivities } from './schedules.ts';

export function createActivities(ctx: AppContext) {
  return {
    ...createScheduleActivities(ctx),
  };
}
export type Activities = ReturnType<typeof createActivities>;
