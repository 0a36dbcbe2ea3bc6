import { createStores } from '../lib/fixtures.ts';
import type { BenchEnv, WorkerProcess } from '../lib/env.ts';
import { cpuSeconds, workerCpuSeconds, round, sleep, summary, treeCpuSeconds } from '../lib/stats.ts';
import { deleteSchedules, startSchedules } from './latency.ts';

/**
 * N stores on their real Schedules (reconcileSchedules), each with an empty Kaspi, for a window of
 * `seconds`: CPU of the worker, the Temporal dev server and PostgreSQL (from /proc/<pid>/stat),
 * and poll lag = the poll run's start/close time minus the Schedule's nominal time
 * (TemporalScheduledStartTime), from visibility.
 */
export async function runPolling(env: BenchEnv, worker: WorkerProcess, o: { stores: number; intervalSeconds: number; seconds: number }, log: (s: string) => void) {
  const stores = await createStores(env, o.stores, { label: 'poll', waha: false, pollIntervalSeconds: o.intervalSeconds });
  const s0 = Date.now();
  await startSchedules(env, stores, 'bench-pipeline');
  log(`  ${stores.length} schedules created in ${Math.round((Date.now() - s0) / 1000)} s; warming up one interval…`);
  await sleep(o.intervalSeconds * 1000);
  const t0 = Date.now();
  const cpu0 = { worker: workerCpuSeconds(worker), temporal: treeCpuSeconds(env.temporalPid), postgres: env.postgresPid ? treeCpuSeconds(env.postgresPid) : null, bench: cpuSeconds(process.pid) };
  await sleep(o.seconds * 1000);
  const wall = (Date.now() - t0) / 1000;
  const cpu = {
    worker: (workerCpuSeconds(worker) - cpu0.worker) / wall,
    temporal: (treeCpuSeconds(env.temporalPid) - cpu0.temporal) / wall,
    postgres: cpu0.postgres === null ? null : (treeCpuSeconds(env.postgresPid!) - cpu0.postgres) / wall,
    benchProcess: (cpuSeconds(process.pid) - cpu0.bench) / wall,
  };
  const t1 = Date.now();
  await deleteSchedules(env, stores);
  env.kaspi.clearLogs();
  await sleep(3000);

  const startLag: number[] = [];
  const doneLag: number[] = [];
  let runs = 0;
  let open = 0;
  const query = `WorkflowType = "kaspiPollWorkflow" AND StartTime >= "${new Date(t0).toISOString()}" AND StartTime < "${new Date(t1).toISOString()}"`;
  for await (const wf of env.ctx.temporal.workflow.list({ query })) {
    const nominal = (wf.searchAttributes as Record<string, unknown[] | undefined>).TemporalScheduledStartTime?.[0];
    if (!nominal) continue;
    runs++;
    const at = new Date(nominal as string | Date).getTime();
    startLag.push(wf.startTime.getTime() - at);
    if (wf.closeTime) doneLag.push(wf.closeTime.getTime() - at);
    else open++;
  }
  const expected = Math.floor((o.stores * wall) / o.intervalSeconds);
  return {
    stores: o.stores,
    intervalSeconds: o.intervalSeconds,
    windowSeconds: round(wall, 1),
    pollsPerSecondNominal: round(o.stores / o.intervalSeconds, 1),
    runs,
    expectedRuns: expected,
    runsStillOpen: open,
    cpuCores: { worker: round(cpu.worker, 2), temporal: round(cpu.temporal, 2), postgres: round(cpu.postgres, 2), benchProcessKaspiSim: round(cpu.benchProcess, 2) },
    startLagMs: summary(startLag),
    pollDoneLagMs: summary(doneLag),
  };
}
