import { Context } from '@temporalio/activity';
import type { AppContext } from '../lib/context.ts';
import { evaluateAlerts, type EvaluateResult } from '../lib/alerts/alerts.ts';
import { purgePersonalData, type PurgeResult } from '../lib/housekeeping/purge.ts';

/** Activities of the maintenance Schedules: alert evaluation (every minute) and the daily purge. */
export function createMaintenanceActivities(ctx: AppContext) {
  const heartbeat = () => {
    try {
      Context.current().heartbeat();
    } catch {
      // Called outside an activity (tests): nothing to heartbeat.
    }
  };
  return {
    async evaluateAlerts(): Promise<EvaluateResult> {
      return evaluateAlerts(ctx);
    },
    async purgePersonalData(): Promise<PurgeResult> {
      return purgePersonalData(ctx, { heartbeat });
    },
  };
}
export type MaintenanceActivities = ReturnType<typeof createMaintenanceActivities>;
