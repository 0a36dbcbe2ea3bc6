import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';

/**
 * The Schedules of maintenance work, created like the reconciler's (create; "already running"
 * is success). Called at start-up by `npm start` and by every `npm run worker`.
 */
export const ALERTS_SCHEDULE_ID = 'alerts';
export const PURGE_SCHEDULE_ID = 'purge-personal-data';
export const RECEIPTS_SCHEDULE_ID = 'delivery-receipts';

async function createOnce(client: Client, options: Parameters<Client['schedule']['create']>[0]): Promise<void> {
  try {
    await client.schedule.create(options);
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
}

export async function ensureMaintenanceSchedules(client: Client, taskQueue: string): Promise<void> {
  await createOnce(client, {
    scheduleId: ALERTS_SCHEDULE_ID,
    spec: { intervals: [{ every: '1m' }] },
    action: { type: 'startWorkflow', workflowType: 'alertsWorkflow', workflowId: 'alerts-run', taskQueue, args: [] },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
  });
  await createOnce(client, {
    scheduleId: RECEIPTS_SCHEDULE_ID,
    spec: { intervals: [{ every: '2m' }] },
    action: { type: 'startWorkflow', workflowType: 'deliveryReceiptsWorkflow', workflowId: 'delivery-receipts-run', taskQueue, args: [] },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '2m' },
  });
  await createOnce(client, {
    scheduleId: PURGE_SCHEDULE_ID,
    // 03:30 in Almaty: the quietest hour for the database.
    spec: { calendars: [{ hour: 3, minute: 30 }], timezone: 'Asia/Almaty' },
    action: { type: 'startWorkflow', workflowType: 'purgePersonalDataWorkflow', workflowId: 'purge-personal-data-run', taskQueue, args: [] },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
  });
}
