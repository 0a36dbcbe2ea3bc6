import type { AppContext } from '../lib/context.ts';
import { evaluateAlerts, type EvaluateResult } from '../lib/alerts/alerts.ts';
import { purgePersonalData, type PurgeResult } from '../lib/housekeeping/purge.ts';
import { detectStalledReceipts, sweepMissingAcks, type SweepResult } from '../lib/notifications/receipts.ts';
import { heartbeat } from './heartbeat.ts';

/**
 * Activities of the maintenance Schedules: alert evaluation (every minute), delivery receipts
 * (every two minutes) and the daily purge.
 */
export function createMaintenanceActivities(ctx: AppContext) {
  return {
    async evaluateAlerts(): Promise<EvaluateResult> {
      return evaluateAlerts(ctx);
    },
    async sweepMissingAcks(): Promise<SweepResult> {
      return sweepMissingAcks(ctx);
    },
    async detectStalledReceipts(): Promise<{ held: number }> {
      return { held: (await detectStalledReceipts(ctx)).length };
    },
    async purgePersonalData(): Promise<PurgeResult> {
      return purgePersonalData(ctx, { heartbeat });
    },
  };
}
export type MaintenanceActivities = ReturnType<typeof createMaintenanceActivities>;
