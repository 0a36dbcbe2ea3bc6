import { proxyActivities } from '@temporalio/workflow';
import type { MaintenanceActivities } from '../activities/maintenance.ts';

const { evaluateAlerts } = proxyActivities<MaintenanceActivities>({
  startToCloseTimeout: '2 minutes',
  // The next minute's run evaluates again; a long retry would only overlap it.
  retry: { maximumAttempts: 2 },
});

const { purgePersonalData } = proxyActivities<MaintenanceActivities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '1 minute', maximumAttempts: 5 },
});

/** Every minute from the `alerts` Schedule: open, resolve and deliver alerts of every store. */
export async function alertsWorkflow(): Promise<{ stores: number; opened: number; resolved: number; delivered: number; deliveryErrors: number }> {
  return evaluateAlerts();
}

/** Daily from the `purge-personal-data` Schedule: phones and texts past each store's retention. */
export async function purgePersonalDataWorkflow(): Promise<{ attempts: number; orders: number; phoneChecks: number }> {
  return purgePersonalData();
}
