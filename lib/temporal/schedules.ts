import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleOptions,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleUpdateOptions,
} from '@temporalio/client';
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { stores } from '../../drizzle/schema.ts';
import { POLL_SCHEDULE_PREFIX, RECONCILE_SCHEDULE_ID, RECONCILE_WORKFLOW_ID, pollScheduleId, pollStart } from '../../workflows/config.ts';
import { kaspiPollWorkflow } from '../../workflows/kaspi-poll.ts';
import { reconcileSchedulesWorkflow } from '../../workflows/reconcile-schedules.ts';

/**
 * The database is the truth about which stores poll Kaspi and how often; Temporal Schedules are
 * derived from it. `reconcileSchedules` is idempotent and safe to run from many places at once
 * (after every store change, and every 5 minutes from its own Schedule): "already exists" and
 * "not found" both count as success.
 */
export interface DesiredPollSchedule {
  storeId: string;
  intervalSeconds: number;
  paused: boolean;
  note: string;
}

export interface ReconcileResult {
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
}

export async function desiredPollSchedules(db: Db, storeId?: string): Promise<DesiredPollSchedule[]> {
  const rows = await db
    .select({ id: stores.id, interval: stores.pollIntervalSeconds, enabled: stores.enabled, tokenRejected: stores.tokenRejected, token: stores.kaspiTokenEnc })
    .from(stores)
    .where(storeId ? eq(stores.id, storeId) : undefined);
  return rows.map((s) => {
    const paused = !s.enabled || s.tokenRejected || s.token === null;
    const note = !s.enabled ? 'store disabled' : s.tokenRejected ? 'Kaspi token rejected' : s.token === null ? 'no Kaspi token (push-only store)' : 'active';
    return { storeId: s.id, intervalSeconds: s.interval, paused, note };
  });
}

/**
 * Where in each interval a store's poll fires, in whole seconds (Temporal rounds an offset to the
 * second). An interval spec matches `epoch + n·every + offset`: without an offset every store
 * fires in the same second, while the server starts Schedule actions at most
 * `worker.schedulerNamespaceStartWorkflowRPS` a second per namespace (30 by default) and drops a
 * start that waited longer than the catch-up window — at 1,000 stores nearly half the polls were
 * lost that way (docs/performance.md). A hash of the store id spreads the stores evenly over the
 * interval and keeps each store's phase stable across reconciles, restarts and releases.
 */
export function pollPhaseSeconds(storeId: string, intervalSeconds: number): number {
  // FNV-1a (32-bit): tiny, stable and well spread for uuids; nothing here needs a cryptographic hash.
  let hash = 0x811c9dc5;
  for (let i = 0; i < storeId.length; i++) {
    hash ^= storeId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % intervalSeconds;
}

export function pollScheduleOptions(d: DesiredPollSchedule, taskQueue: string): ScheduleOptions<ScheduleOptionsStartWorkflowAction<typeof kaspiPollWorkflow>> {
  return {
    scheduleId: pollScheduleId(d.storeId),
    spec: { intervals: [{ every: `${d.intervalSeconds}s`, offset: `${pollPhaseSeconds(d.storeId, d.intervalSeconds)}s` }] },
    action: {
      type: 'startWorkflow',
      workflowType: kaspiPollWorkflow,
      taskQueue,
      ...pollStart(d.storeId),
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: `${d.intervalSeconds}s` },
    state: { paused: d.paused, note: d.note },
  };
}

/** What both a describe and a list entry carry: enough to tell whether a Schedule needs an update. */
type ScheduleShape = Pick<ScheduleDescription, 'spec'> & { state: { paused: boolean; note?: string } };

function differs(current: ScheduleShape, d: DesiredPollSchedule): boolean {
  const interval = current.spec.intervals?.[0];
  const everyMs = interval ? Number(interval.every) : NaN;
  const offsetMs = interval ? Number(interval.offset ?? 0) : NaN;
  return (
    current.spec.intervals?.length !== 1 ||
    everyMs !== d.intervalSeconds * 1000 ||
    offsetMs !== pollPhaseSeconds(d.storeId, d.intervalSeconds) * 1000 ||
    current.state.paused !== d.paused ||
    // The note says why a poll is paused; operators read it in the Temporal UI.
    (current.state.note ?? '') !== d.note
  );
}

/** Policies are only in a describe, not in a list entry: checked once a Schedule is described anyway. */
function policiesDiffer(current: ScheduleDescription, d: DesiredPollSchedule): boolean {
  return current.policies.overlap !== ScheduleOverlapPolicy.SKIP || current.policies.catchupWindow !== d.intervalSeconds * 1000;
}

async function upsertPollSchedule(client: Client, d: DesiredPollSchedule, taskQueue: string): Promise<'created' | 'updated' | 'unchanged'> {
  const options = pollScheduleOptions(d, taskQueue);
  const handle = client.schedule.getHandle(options.scheduleId);
  try {
    const current = await handle.describe();
    if (!differs(current, d) && !policiesDiffer(current, d)) return 'unchanged';
    // Pure: the SDK may call it more than once when the schedule changed underneath us.
    await handle.update((prev): ScheduleUpdateOptions => ({
      ...prev,
      spec: options.spec,
      policies: { ...prev.policies, ...options.policies },
      state: { ...prev.state, paused: d.paused, note: d.note },
    }));
    return 'updated';
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
    try {
      await client.schedule.create(options);
      return 'created';
    } catch (createErr) {
      if (createErr instanceof ScheduleAlreadyRunning) return 'unchanged';
      throw createErr;
    }
  }
}

/**
 * `onProgress` is called after each store: the reconcile activity heartbeats with it, because the
 * first pass after a change of every Schedule (a new phase, a new interval) updates them one by one.
 */
export async function reconcileSchedules(db: Db, client: Client, taskQueue: string, options: { storeId?: string; onProgress?: () => void } = {}): Promise<ReconcileResult> {
  const desired = await desiredPollSchedules(db, options.storeId);
  const result: ReconcileResult = { created: 0, updated: 0, unchanged: 0, deleted: 0 };
  const wanted = new Set(desired.map((d) => pollScheduleId(d.storeId)));
  const stale: string[] = [];
  if (options.storeId) {
    for (const d of desired) result[await upsertPollSchedule(client, d, taskQueue)]++;
    if (desired.length === 0) stale.push(pollScheduleId(options.storeId));
  } else {
    // A describe is a query answered by the Schedule's own workflow on the server's internal
    // worker — the worker that also fires every poll. The full pass (every 5 minutes) therefore
    // reads one visibility listing and describes only the Schedules that listing shows missing or
    // different (docs/performance.md). A listing that lags an update only costs a describe.
    const listed = new Map<string, ScheduleShape>();
    for await (const s of client.schedule.list()) {
      if (!s.scheduleId.startsWith(POLL_SCHEDULE_PREFIX)) continue;
      if (wanted.has(s.scheduleId)) {
        // An entry without list info decodes to no intervals, which differs: it gets a describe.
        listed.set(s.scheduleId, { spec: s.spec ?? {}, state: s.state });
      } else {
        stale.push(s.scheduleId);
      }
    }
    for (const d of desired) {
      const current = listed.get(pollScheduleId(d.storeId));
      if (current && !differs(current, d)) result.unchanged++;
      else result[await upsertPollSchedule(client, d, taskQueue)]++;
      options.onProgress?.();
    }
  }
  for (const id of stale) {
    try {
      await client.schedule.getHandle(id).delete();
      result.deleted++;
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
  }
  return result;
}

/** The Schedule that runs the reconciler itself, so a schedule deleted by hand comes back. */
export async function ensureReconcileSchedule(client: Client, taskQueue: string): Promise<void> {
  try {
    await client.schedule.create({
      scheduleId: RECONCILE_SCHEDULE_ID,
      spec: { intervals: [{ every: '5m' }] },
      action: { type: 'startWorkflow', workflowType: reconcileSchedulesWorkflow, workflowId: RECONCILE_WORKFLOW_ID, taskQueue, args: [] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '5m' },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
}
