import { proxyActivities } from '@temporalio/workflow';
import type { MaintenanceActivities } from '../activities/maintenance.ts';

const { evaluateAlerts } = proxyActivities<MaintenanceActivities>({
  startToCloseTimeout: '2 minutes',
  // The next minute's run evaluates again; a long retry would only overlap it.
  retry: { maximumAttempts: 2 },
});

const { sweepMissingAcks, detectStalledReceipts } = proxyActivities<MaintenanceActivities>({
  startToCloseTimeout: '5 minutes',
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

/**
 * Every two minutes from the `delivery-receipts` Schedule: ask WAHA about messages whose acks never
 * came, then hold numbers whose receipts stopped (lib/notifications/receipts.ts). The sweep runs
 * first, so an ack it finds releases a number before the detector looks at it.
 */
export async function deliveryReceiptsWorkflow(): Promise<{ checked: number; updated: number; blind: number; held: number }> {
  const swept = await sweepMissingAcks();
  const { held } = await detectStalledReceipts();
  return { ...swept, held };
}

/** Daily from the `purge-personal-data` Schedule: phones and texts past each store's retention. */
export async function purgePersonalDataWorkflow(): Promise<{ attempts: number; orders: number; phoneChecks: number; buyerLids: number }> {
  return purgePersonalData();
}
