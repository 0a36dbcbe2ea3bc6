import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions, type ScheduleOptionsStartWorkflowAction, type Workflow } from '@temporalio/client';
import {
  ALERTS_SCHEDULE_ID,
  ALERTS_WORKFLOW_ID,
  PURGE_SCHEDULE_ID,
  PURGE_WORKFLOW_ID,
  RECEIPTS_SCHEDULE_ID,
  RECEIPTS_WORKFLOW_ID,
} from '../../workflows/config.ts';
import { alertsWorkflow, deliveryReceiptsWorkflow, purgePersonalDataWorkflow } from '../../workflows/maintenance.ts';

/**
 * The Schedules of maintenance work, created like the reconciler's (create; "already running"
 * is success). Called at start-up by `npm start` and by every `npm run worker`.
 */

async function createOnce<W extends Workflow>(client: Client, options: ScheduleOptions<ScheduleOptionsStartWorkflowAction<W>>): Promise<void> {
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
    action: { type: 'startWorkflow', workflowType: alertsWorkflow, workflowId: ALERTS_WORKFLOW_ID, taskQueue, args: [] },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
  });
  await createOnce(client, {
    scheduleId: RECEIPTS_SCHEDULE_ID,
    spec: { intervals: [{ every: '2m' }] },
    action: { type: 'startWorkflow', workflowType: deliveryReceiptsWorkflow, workflowId: RECEIPTS_WORKFLOW_ID, taskQueue, args: [] },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '2m' },
  });
  await createOnce(client, {
    scheduleId: PURGE_SCHEDULE_ID,
    // 03:30 in Almaty: the quietest hour for the database.
    spec: { calendars: [{ hour: 3, minute: 30 }], timezone: 'Asia/Almaty' },
    action: { type: 'startWorkflow', workflowType: purgePersonalDataWorkflow, workflowId: PURGE_WORKFLOW_ID, taskQueue, args: [] },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
  });
}
