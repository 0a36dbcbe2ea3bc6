import { inArray, isNotNull, and } from 'drizzle-orm';
import proto from '@temporalio/proto';
import { notifications } from '../../drizzle/schema.ts';
import { countActions, mergeCounts, type ActionKind } from '../lib/actions.ts';
import { createOrder, createStores, pool, statusCounts } from '../lib/fixtures.ts';
import type { BenchEnv, HeartbeatStats, WorkerProcess } from '../lib/env.ts';
import { round, sleep, waitFor } from '../lib/stats.ts';
import { startPgWork } from '../lib/pg-work.ts';
import { deleteSchedules, startSchedules } from './latency.ts';
import { pollUntilDrained } from './throughput.ts';

function heartbeatDelta(after: HeartbeatStats, before: HeartbeatStats): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v.withHeartbeat - (before[k]?.withHeartbeat ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

/** What the server stores for a history (Temporal Cloud bills storage by it): its protobuf size. */
const historyBytes = (h: proto.temporal.api.history.v1.IHistory) => proto.temporal.api.history.v1.History.encode(h).finish().length;

/**
 * Billable actions from real histories: (a) 2 stores × 10 orders through the real pipeline, each
 * poll started directly (no schedule) — per delivered notification; (b) one store on its Schedule
 * with no orders for ~3 runs — per idle poll, plus the Schedule's own action per run.
 * Heartbeats are not in histories: the worker counts activity executions that heartbeated; each
 * here is shorter than the SDK's throttle interval (80 % of the heartbeat timeout), so each
 * sent exactly one heartbeat to the server.
 */
export async function runCost(env: BenchEnv, worker: WorkerProcess, o: { pollIntervalSeconds: number }, log: (s: string) => void) {
  const client = env.ctx.temporal;
  // (a) delivered notifications
  const stores = await createStores(env, 2, { label: 'cost' });
  const ids = stores.map((s) => s.id);
  for (const s of stores) for (let i = 0; i < 10; i++) createOrder(env, s);
  const hb0 = await worker.heartbeats();
  const deliveredWork = await startPgWork({ databaseUrl: env.databaseUrl, postgresPid: env.postgresPid, workerPids: worker.pids });
  await pollUntilDrained(env, 'bench-pipeline', ids, 'cost');
  await waitFor(async () => ((await statusCounts(env, ids)).read ?? 0) >= 20, 120_000);
  await sleep(1000);
  const hb1 = await worker.heartbeats();
  const rows = await env.ctx.db.select({ wf: notifications.workflowId }).from(notifications).where(and(inArray(notifications.storeId, ids), isNotNull(notifications.workflowId)));
  const notifBy: Partial<Record<ActionKind, number>> = {};
  const activityNames: Record<string, number> = {};
  let notifTotal = 0;
  const notifBytes: number[] = [];
  await pool(rows, 10, async (r) => {
    const h = await client.workflow.getHandle(r.wf!).fetchHistory();
    notifBytes.push(historyBytes(h));
    const c = countActions(h);
    notifTotal += c.total;
    mergeCounts(notifBy, c.by);
    for (const [k, v] of Object.entries(c.activities)) activityNames[k] = (activityNames[k] ?? 0) + v;
  });
  const pollBy: Partial<Record<ActionKind, number>> = {};
  const pollActivities: Record<string, number> = {};
  let pollTotal = 0;
  const pollBytes: number[] = [];
  for (const [i] of ids.entries()) {
    const h = await client.workflow.getHandle(`kaspi-poll-run:${ids[i]}:cost-${i}-0`).fetchHistory();
    pollBytes.push(historyBytes(h));
    const c = countActions(h);
    pollTotal += c.total;
    mergeCounts(pollBy, c.by);
    for (const [k, v] of Object.entries(c.activities)) pollActivities[k] = (pollActivities[k] ?? 0) + v;
  }
  const hbDelivered = heartbeatDelta(hb1, hb0);
  const hbNotif = (hbDelivered.claimAndSend ?? 0) + (hbDelivered.lookUpAttempt ?? 0) + (hbDelivered.checkSentMessage ?? 0);
  const hbPoll = hbDelivered.pollKaspiStore ?? 0;
  const n = rows.length;
  const perNotificationOwn = (notifTotal + hbNotif) / n;
  // No poll action grows with the rows it finds (one markNotificationsStarted records all of them;
  // child starts are billed in the children's histories): the poll's actions are all fixed part.
  const perNotification = perNotificationOwn;
  const fixedPoll = (pollTotal + hbPoll) / ids.length; // start + pollKaspiStore + heartbeat + markNotificationsStarted

  // (b) idle polls on a Schedule
  log('  idle store on its Schedule…');
  const [idle] = await createStores(env, 1, { label: 'idle', pollIntervalSeconds: o.pollIntervalSeconds, waha: false });
  const delivered = await deliveredWork.stop(rows.length);
  const hb2 = await worker.heartbeats();
  const idleWork = await startPgWork({ databaseUrl: env.databaseUrl, postgresPid: env.postgresPid, workerPids: worker.pids });
  await startSchedules(env, [idle!], 'bench-pipeline');
  await sleep(o.pollIntervalSeconds * 3000 + 3000);
  await deleteSchedules(env, [idle!]);
  await sleep(1500);
  const hb3 = await worker.heartbeats();
  const idleBy: Partial<Record<ActionKind, number>> = {};
  let idleTotal = 0;
  let runs = 0;
  const idleBytes: number[] = [];
  for await (const wf of client.workflow.list({ query: `WorkflowType = "kaspiPollWorkflow" AND StoreId = "${idle!.id}" AND ExecutionStatus = "Completed"` })) {
    const h = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    idleBytes.push(historyBytes(h));
    const c = countActions(h);
    idleTotal += c.total;
    mergeCounts(idleBy, c.by);
    runs++;
  }
  const hbIdle = heartbeatDelta(hb3, hb2).pollKaspiStore ?? 0;
  const perIdle = runs ? (idleTotal + Math.min(hbIdle, runs) + runs /* schedule action */) / runs : null;
  // The idle store's polls are the only database work here (its Schedule runs every interval).
  const idleDb = await idleWork.stop(runs);
  const mean = (v: number[]) => (v.length ? Math.round(v.reduce((a, b) => a + b, 0) / v.length) : null);

  return {
    delivered: {
      notifications: n,
      polls: ids.length,
      pollHistoryActions: pollBy,
      pollActivitiesScheduled: pollActivities,
      notificationHistoryActions: notifBy,
      activitiesScheduled: activityNames,
      heartbeats: hbDelivered,
      perNotificationOwn: round(perNotificationOwn, 2),
      perNotificationWithPollShare: round(perNotification, 2),
      pollFixedActions: round(fixedPoll, 2),
      perNotificationScheduledOnePerPoll: round(perNotification + (fixedPoll + 1), 2),
    },
    idle: { runs, historyActions: idleBy, heartbeats: hbIdle, scheduleActionsPerRun: 1, perIdlePoll: round(perIdle, 2) },
    // Bytes of the stored histories (protobuf), mean per workflow: what a retention period keeps.
    historyBytes: { notification: mean(notifBytes), pollWithOrders: mean(pollBytes), idlePoll: mean(idleBytes) },
    // PostgreSQL work and round trips: (a) per delivered notification, its poll's share included; (b) per idle poll.
    database: { delivered: { perUnit: delivered.perUnit, tables: delivered.postgres.tables, statements: delivered.statements }, idlePoll: { perUnit: idleDb.perUnit, tables: idleDb.postgres.tables, statements: idleDb.statements } },
    targets: { perNotification: 8, perIdlePoll: 4 },
  };
}
