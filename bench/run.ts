import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, startBenchEnv, startWorkerGroup, startWorkerProcess, type BenchEnv, type WorkerProcess } from './lib/env.ts';
import { runFloor, runThroughput } from './figures/throughput.ts';
import { runLatency } from './figures/latency.ts';
import { runCost } from './figures/cost.ts';
import { runMemory } from './figures/memory.ts';
import { runPolling } from './figures/polling.ts';
import { runPush } from './figures/push.ts';
import { runAdmin } from './figures/admin.ts';
import { renderMarkdown, renderTable, type Results } from './lib/report.ts';
import type { WorkerTuning } from '../lib/temporal/worker.ts';

/**
 * `npm run bench` — every figure, or `npm run bench -- --only throughput,latency`.
 * Sizes are flags (see bench/README.md). Prints a table, writes bench/results/latest.json and
 * bench/results/latest.md (this run; bench/RESULTS.md is the curated record).
 */
const FIGURES = ['throughput', 'floor', 'latency', 'push', 'cost', 'memory', 'polling', 'admin'] as const;
type Figure = (typeof FIGURES)[number];

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    stores: { type: 'string', default: '20' },
    orders: { type: 'string', default: '100' },
    'latency-stores': { type: 'string', default: '20' },
    'latency-seconds': { type: 'string', default: '60' },
    'latency-rate': { type: 'string' },
    'poll-interval': { type: 'string', default: '10' },
    'push-stores': { type: 'string', default: '10' },
    'push-seconds': { type: 'string', default: '30' },
    'push-rate': { type: 'string' },
    'memory-waiting': { type: 'string', default: '10000' },
    'memory-cache': { type: 'string' },
    'memory-budget-seconds': { type: 'string', default: '1800' },
    'memory-in-flight': { type: 'string', default: '200' },
    'memory-thread-pool': { type: 'string' },
    'memory-max-wft': { type: 'string' },
    'memory-max-activities': { type: 'string' },
    'memory-node-flags': { type: 'string' },
    'memory-malloc-arena-max': { type: 'string' },
    'memory-heap-snapshots': { type: 'boolean', default: false },
    'memory-trace-gc': { type: 'boolean', default: false },
    // The worker processes: the production build (dist/, plain node) or the sources (tsx).
    'worker-from': { type: 'string', default: 'dist' },
    'polling-stores': { type: 'string', default: '1000' },
    'polling-interval': { type: 'string', default: '30' },
    'polling-seconds': { type: 'string', default: '150' },
    'polling-busy-share': { type: 'string', default: '0.1' },
    'polling-busy-orders-per-hour': { type: 'string', default: '12' },
    'polling-same-second': { type: 'boolean', default: false },
    'polling-overlap': { type: 'string', default: 'skip' },
    'polling-idle-interval': { type: 'string' },
    // Dev server only: `key=json;key=json`, e.g. 'worker.perNamespaceWorkerCount=4'.
    'temporal-dynamic-config': { type: 'string' },
    'admin-rows': { type: 'string', default: '1000000' },
    'cpu-prof': { type: 'boolean', default: false },
    // The Temporal server under test: the dev server, or the production server on PostgreSQL.
    temporal: { type: 'string', default: 'dev' },
    workers: { type: 'string', default: '1' },
    'no-write': { type: 'boolean', default: false },
  },
});

const only = new Set<Figure>((values.only ? values.only.split(',').map((s) => s.trim()) : FIGURES) as Figure[]);
for (const f of only) if (!FIGURES.includes(f)) throw new Error(`unknown figure '${f}'; one of ${FIGURES.join(', ')}`);
const num = (k: keyof typeof values) => Number(values[k]);

/** A store's interval is 10–3600 whole seconds (the stores table's check). */
function pollingIdleInterval(value: number): number {
  if (Number.isInteger(value) && value >= 10 && value <= 3600) return value;
  throw new Error(`--polling-idle-interval must be whole seconds from 10 to 3600 (got ${value})`);
}

function pollingOverlap(value: unknown): 'skip' | 'allow-all' {
  if (value === 'skip' || value === 'allow-all') return value;
  throw new Error(`--polling-overlap must be skip or allow-all (got ${String(value)})`);
}
const log = (s: string) => process.stderr.write(`${s}\n`);

function machine() {
  const sh = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  };
  return {
    nproc: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memory: sh('free', ['-h']).split('\n')[1]?.replace(/\s+/g, ' ') ?? 'unknown',
    node: process.version,
    temporalCli: '',
    temporalSdk: '1.24',
    date: new Date().toISOString(),
  };
}

const started = Date.now();
const results: Results = { machine: machine(), options: { ...values }, figures: {} };
let env: BenchEnv | undefined;
let realWorker: WorkerProcess | undefined;
try {
  if (values.temporal !== 'dev' && values.temporal !== 'cluster') throw new Error(`--temporal must be dev or cluster, not '${values.temporal}'`);
  if (values['worker-from'] !== 'dist' && values['worker-from'] !== 'source') throw new Error(`--worker-from must be dist or source, not '${values['worker-from']}'`);
  const temporalDynamicConfig = Object.fromEntries(
    (values['temporal-dynamic-config'] ?? '').split(';').filter(Boolean).map((kv): [string, unknown] => {
      const at = kv.indexOf('=');
      return [kv.slice(0, at).trim(), JSON.parse(kv.slice(at + 1)) as unknown];
    }),
  );
  env = await startBenchEnv(log, { temporal: values.temporal, workerFrom: values['worker-from'], temporalDynamicConfig });
  results.machine.temporalCli = execFileSync(env.temporalCli, ['--version'], { encoding: 'utf8' }).trim();
  results.machine.database = process.env.DATABASE_URL ? 'PostgreSQL at DATABASE_URL (fresh database)' : 'embedded PostgreSQL (fresh, temp folder)';
  results.machine.workerFrom = values['worker-from'] === 'dist' ? 'production build (dist/, plain node)' : 'sources (tsx)';
  results.machine.temporal = values.temporal === 'cluster' ? `temporal-server 1.29.1 on PostgreSQL, ${num('workers')} worker process(es)` : `temporal server start-dev, in memory, ${num('workers')} worker process(es)`;
  const profDir = values['cpu-prof'] ? path.join(BENCH_DIR, 'results', 'profiles') : undefined;
  const needsReal = ['throughput', 'latency', 'push', 'cost', 'polling'].some((f) => only.has(f as Figure));
  if (needsReal) realWorker = await startWorkerGroup(env, { mode: 'real', taskQueue: 'bench-pipeline', cpuProfDir: profDir }, num('workers'));
  const sizes = { stores: num('stores'), ordersPerStore: num('orders'), timeoutMs: 8 * 60_000 };

  if (only.has('throughput')) {
    log(`throughput: ${sizes.stores} stores × ${sizes.ordersPerStore} orders`);
    results.figures.throughput = await runThroughput(env, realWorker!, sizes, log);
    log(`  → ${JSON.stringify(results.figures.throughput)}`);
  }
  if (only.has('floor')) {
    const floorWorker = await startWorkerProcess(env, { mode: 'noop', taskQueue: 'bench-floor', cpuProfDir: profDir });
    try {
      results.figures.floor = await runFloor(env, floorWorker, sizes, log);
      log(`  → ${JSON.stringify(results.figures.floor)}`);
    } finally {
      await floorWorker.stop();
    }
  }
  if (only.has('latency')) {
    const max = results.figures.throughput?.perSecond;
    const rate = values['latency-rate'] ? Number(values['latency-rate']) : max ? max / 2 : 5;
    log(`latency: ${rate.toFixed(2)}/s for ${values['latency-seconds']} s over ${values['latency-stores']} stores, poll interval ${values['poll-interval']} s`);
    results.figures.latency = await runLatency(env, { stores: num('latency-stores'), seconds: num('latency-seconds'), rate, pollIntervalSeconds: num('poll-interval'), maxRate: max ?? null }, log);
    log(`  → ${JSON.stringify(results.figures.latency)}`);
  }
  if (only.has('push')) {
    const max = results.figures.throughput?.perSecond;
    const rate = values['push-rate'] ? Number(values['push-rate']) : max ? max / 2 : 2;
    log(`push: ${rate.toFixed(2)}/s for ${values['push-seconds']} s over ${values['push-stores']} stores (POST /api/kaspi/orders)`);
    results.figures.push = await runPush(env, { stores: num('push-stores'), seconds: num('push-seconds'), rate }, log);
    log(`  → ${JSON.stringify(results.figures.push)}`);
  }
  if (only.has('cost')) {
    log('cost: billable actions from histories');
    results.figures.cost = await runCost(env, realWorker!, { pollIntervalSeconds: 10 }, log);
    log(`  → ${JSON.stringify(results.figures.cost)}`);
  }
  if (only.has('polling')) {
    log(`polling: ${values['polling-stores']} stores every ${values['polling-interval']} s${values['polling-idle-interval'] !== undefined ? ` (idle ones every ${values['polling-idle-interval']} s)` : ''} for ${values['polling-seconds']} s`);
    results.figures.polling = await runPolling(env, realWorker!, { stores: num('polling-stores'), intervalSeconds: num('polling-interval'), seconds: num('polling-seconds'), busyShare: num('polling-busy-share'), busyOrdersPerHour: num('polling-busy-orders-per-hour'), sameSecond: values['polling-same-second'] === true, overlap: pollingOverlap(values['polling-overlap']), ...(values['polling-idle-interval'] !== undefined ? { idleIntervalSeconds: pollingIdleInterval(num('polling-idle-interval')) } : {}) }, log);
    log(`  → ${JSON.stringify(results.figures.polling)}`);
  }
  if (realWorker) {
    await realWorker.stop();
    realWorker = undefined;
  }
  if (only.has('memory')) {
    log(`memory: ${values['memory-waiting']} waiting (budget ${values['memory-budget-seconds']} s)`);
    const optional = (k: keyof typeof values) => (values[k] !== undefined ? num(k) : undefined);
    const tuning: WorkerTuning = {
      ...(optional('memory-thread-pool') !== undefined ? { workflowThreadPoolSize: optional('memory-thread-pool') } : {}),
      ...(optional('memory-max-wft') !== undefined ? { maxConcurrentWorkflowTaskExecutions: optional('memory-max-wft') } : {}),
      ...(optional('memory-max-activities') !== undefined ? { maxConcurrentActivityTaskExecutions: optional('memory-max-activities') } : {}),
    };
    // The product refuses a cache above 2000 (lib/config.ts): the worker's heap limit would not hold
    // the workflow thread. A larger one is measurable only without that limit.
    const memoryCache = optional('memory-cache');
    if (memoryCache !== undefined && memoryCache > 2000 && values['memory-node-flags'] === undefined) {
      throw new Error(`--memory-cache ${memoryCache} is above the product's maximum of 2000: add --memory-node-flags= (no heap limit) or a larger --max-old-space-size`);
    }
    results.figures.memory = await runMemory(env, {
      waiting: num('memory-waiting'),
      cache: memoryCache,
      budgetSeconds: num('memory-budget-seconds'),
      inFlight: num('memory-in-flight'),
      tuning: Object.keys(tuning).length ? tuning : undefined,
      nodeFlags: values['memory-node-flags']?.split(/\s+/).filter(Boolean),
      workerEnv: values['memory-malloc-arena-max'] ? { MALLOC_ARENA_MAX: values['memory-malloc-arena-max'] } : undefined,
      heapSnapshots: values['memory-heap-snapshots'] === true,
      traceGc: values['memory-trace-gc'] === true,
      cpuProfDir: profDir,
    }, log);
    log(`  → ${JSON.stringify(results.figures.memory)}`);
  }
  if (only.has('admin')) {
    log(`admin: ${values['admin-rows']} notification rows`);
    results.figures.admin = await runAdmin(env, { rows: num('admin-rows') }, log);
    log(`  → ${JSON.stringify(results.figures.admin)}`);
  }
} catch (error) {
  log(`bench failed: ${(error as Error).stack ?? String(error)}`);
  results.error = (error as Error).message;
} finally {
  await realWorker?.stop().catch(() => undefined);
  await env?.close().catch((e: unknown) => log(`cleanup: ${(e as Error).message}`));
}
results.durationSeconds = Math.round((Date.now() - started) / 1000);

const table = renderTable(results);
process.stdout.write(`${table}\n`);
if (!values['no-write']) {
  mkdirSync(path.join(BENCH_DIR, 'results'), { recursive: true });
  writeFileSync(path.join(BENCH_DIR, 'results', 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  // The committed bench/RESULTS.md holds a curated before/after; each run writes its own next to its JSON.
  writeFileSync(path.join(BENCH_DIR, 'results', 'latest.md'), renderMarkdown(results, table));
  log(`wrote bench/results/latest.json and bench/results/latest.md (${results.durationSeconds} s)`);
}
process.exit(0);
