import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { cpuSeconds, round, sleep, treeCpuSeconds } from './stats.ts';

/**
 * What a stretch of a bench run cost outside Temporal: PostgreSQL's work in the run's own database
 * (transactions and rows from pg_stat_database / pg_stat_user_tables, CPU of the backends serving
 * that database), the SQL statements each of our processes sent (bench/lib/pg-count.mjs, when the
 * run was started with it), the worker's CPU per thread (main JS thread, workflow threads, the
 * Temporal core's Rust threads, V8's helpers), and the HTTP round trips to the simulators.
 * Everything is a delta between start() and stop(), so one instance brackets one figure.
 */

/** Statements the measuring code itself sends: marked so they are left out of the counts. */
const MEASURE_MARK = '/* bench:measure */';
/** The throughput figure's own progress query (bench/figures/throughput.ts), not product work. */
const BENCH_LOOP_MARKERS = ["count(*) filter (where status = 'read')", MEASURE_MARK];

interface ServerStats {
  db: Record<string, number>;
  tables: Record<string, Record<string, number>>;
}

interface StatementCounts {
  total: number;
  counts: Record<string, number>;
}

const DB_COLUMNS = ['xact_commit', 'xact_rollback', 'tup_returned', 'tup_fetched', 'tup_inserted', 'tup_updated', 'tup_deleted', 'blks_read', 'blks_hit', 'temp_bytes'] as const;
const TABLE_COLUMNS = ['seq_scan', 'seq_tup_read', 'idx_scan', 'idx_tup_fetch', 'n_tup_ins', 'n_tup_upd', 'n_tup_hot_upd', 'n_tup_del'] as const;

async function serverStats(client: pg.Client): Promise<ServerStats> {
  // Shared-memory stats are cached per transaction; each query below is its own, but be explicit.
  await client.query(`${MEASURE_MARK} select pg_stat_clear_snapshot()`);
  const db = await client.query<Record<string, string>>(`${MEASURE_MARK} select ${DB_COLUMNS.join(', ')} from pg_stat_database where datname = current_database()`);
  const t = await client.query<Record<string, string>>(`${MEASURE_MARK} select relname, ${TABLE_COLUMNS.join(', ')} from pg_stat_user_tables`);
  const num = (row: Record<string, string> | undefined, cols: readonly string[]) => Object.fromEntries(cols.map((c) => [c, Number(row?.[c] ?? 0)]));
  return { db: num(db.rows[0], DB_COLUMNS), tables: Object.fromEntries(t.rows.map((r) => [r.relname!, num(r, TABLE_COLUMNS)])) };
}

/** The processes of `postmaster` serving `database` (their title reads "postgres: … <user> <database> <client> …"). */
function backendsOf(postmaster: number, database: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== postmaster) continue;
      const title = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (title.split(' ').includes(database)) out.push(Number(d));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** CPU seconds per thread name of a process (Node names its threads; the Rust core's are tokio-…). */
export function threadCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim().replace(/[\d-]+$/, '');
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[comm] = (out[comm] ?? 0) + (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      // Thread ended meanwhile: its CPU is lost to this figure (the process total still has it).
    }
  }
  return out;
}

function statementsOf(pid: number): StatementCounts | null {
  if (pid === process.pid) {
    const own = (globalThis as Record<symbol, { counts: Map<string, number>; total: number } | undefined>)[Symbol.for('kaspi-notify.bench.pgCount')];
    return own ? { total: own.total, counts: Object.fromEntries(own.counts) } : null;
  }
  const dir = process.env.KN_PG_COUNT_DIR;
  if (!dir) return null;
  try {
    return JSON.parse(readFileSync(path.join(dir, `pg-count-${pid}.json`), 'utf8')) as StatementCounts;
  } catch {
    return null;
  }
}

function statementDelta(before: StatementCounts | null, after: StatementCounts | null) {
  if (!after) return null;
  const counts: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.counts)) {
    const d = v - (before?.counts[k] ?? 0);
    if (d > 0 && !BENCH_LOOP_MARKERS.some((m) => k.includes(m))) counts[k] = d;
  }
  const benchLoop = Object.entries(after.counts).filter(([k]) => BENCH_LOOP_MARKERS.some((m) => k.includes(m))).reduce((s, [k, v]) => s + v - (before?.counts[k] ?? 0), 0);
  const total = Object.values(counts).reduce((s, v) => s + v, 0);
  const tx = (re: RegExp) => Object.entries(counts).filter(([k]) => re.test(k)).reduce((s, [, v]) => s + v, 0);
  return { total, begin: tx(/^begin/i), commit: tx(/^commit/i), rollback: tx(/^rollback/i), excludedBenchStatements: benchLoop, counts };
}

function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = (b[k] ?? 0) - (a[k] ?? 0);
    if (d !== 0) out[k] = round(d, 2)!;
  }
  return out;
}

const pathShape = (p: string) => p.split('?')[0]!.split('/').map((s) => (/\d/.test(s) ? ':x' : s)).join('/');

function countBy<T>(items: T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const it of items) out[key(it)] = (out[key(it)] ?? 0) + 1;
  return out;
}

export interface PgWorkSources {
  databaseUrl: string;
  postgresPid: number | null;
  workerPids: number[];
  /** The simulators' request logs, read at stop (cleared by the caller before start). */
  wahaRequests?: () => { method: string; path: string }[];
  webhooks?: () => { event: string; status: number | null }[];
  kaspiRequests?: () => { method: string; path: string }[];
}

export type PgWorkResult = Awaited<ReturnType<Awaited<ReturnType<typeof startPgWork>>['stop']>>;

/** Starts measuring; stop(units) returns the totals and the same per unit (a notification, a poll). */
export async function startPgWork(src: PgWorkSources) {
  const database = new URL(src.databaseUrl).pathname.slice(1);
  const client = new pg.Client({ connectionString: src.databaseUrl });
  await client.connect();
  const s0 = await serverStats(client);
  // Backends of this database, sampled every second: a backend that ends mid-run keeps the CPU
  // it had at its last sample; one that starts mid-run counts from zero.
  const backendCpu = new Map<number, { first: number; last: number }>();
  const sample = () => {
    if (!src.postgresPid) return;
    for (const pid of backendsOf(src.postgresPid, database)) {
      const c = cpuSeconds(pid);
      const e = backendCpu.get(pid);
      if (e) e.last = c;
      else backendCpu.set(pid, { first: c, last: c });
    }
  };
  sample();
  const started = new Set(backendCpu.keys());
  for (const pid of [...backendCpu.keys()]) backendCpu.get(pid)!.first = backendCpu.get(pid)!.last;
  const timer = setInterval(sample, 1000);
  // What the busy backends wait for, four times a second: lock waits name the contended rows'
  // statements (a hot row serializes its writers), IO/LWLock waits the server itself.
  const waits = new Map<string, number>();
  let waitSamples = 0;
  let sampling = false;
  const waitTimer = setInterval(() => {
    if (sampling) return;
    sampling = true;
    client
      .query<{ w: string; q: string }>(`${MEASURE_MARK} select coalesce(wait_event_type || ':' || wait_event, 'CPU') as w, left(regexp_replace(query, '\\s+', ' ', 'g'), 70) as q from pg_stat_activity where datname = current_database() and state = 'active' and pid <> pg_backend_pid()`)
      .then((r) => {
        waitSamples++;
        for (const row of r.rows) {
          const key = row.w.startsWith('Lock') ? `${row.w} ${row.q}` : row.w;
          waits.set(key, (waits.get(key) ?? 0) + 1);
        }
      }, () => undefined)
      .finally(() => (sampling = false));
  }, 250);
  const pids = [process.pid, ...src.workerPids];
  const st0 = new Map(pids.map((p) => [p, statementsOf(p)]));
  const th0 = new Map(src.workerPids.map((p) => [p, threadCpu(p)]));
  const postmasterTree0 = src.postgresPid ? treeCpuSeconds(src.postgresPid) : null;
  const t0 = Date.now();

  return {
    async stop(units: number) {
      const wall = (Date.now() - t0) / 1000;
      // Backends flush their table and transaction counts about once a second when idle.
      await sleep(2500);
      sample();
      clearInterval(timer);
      clearInterval(waitTimer);
      while (sampling) await sleep(50);
      const s1 = await serverStats(client);
      await client.end();
      const per = (v: number | null | undefined, d = 2) => (v === null || v === undefined || !units ? null : round(v / units, d));
      let backendSeconds = 0;
      for (const [pid, c] of backendCpu) backendSeconds += c.last - (started.has(pid) ? c.first : 0);
      const statements = Object.fromEntries(pids.map((p) => [p === process.pid ? 'benchProcess' : `worker ${p}`, statementDelta(st0.get(p) ?? null, statementsOf(p))]));
      const product = Object.values(statements).reduce((s, v) => s + (v?.total ?? 0), 0);
      const excluded = Object.values(statements).reduce((s, v) => s + (v?.excludedBenchStatements ?? 0), 0);
      const db = delta(s0.db, s1.db);
      // The measuring and progress statements are autocommit transactions of their own.
      const xacts = (db.xact_commit ?? 0) - excluded - 3;
      const tables: Record<string, Record<string, number>> = {};
      for (const [t, v] of Object.entries(s1.tables)) {
        const d = delta(s0.tables[t] ?? {}, v);
        if (Object.keys(d).length) tables[t] = d;
      }
      const rowsWritten = Object.values(tables).reduce((s, t) => s + (t.n_tup_ins ?? 0) + (t.n_tup_upd ?? 0) + (t.n_tup_del ?? 0), 0);
      const threads = src.workerPids.map((p) => delta(th0.get(p) ?? {}, threadCpu(p)));
      const waha = src.wahaRequests ? countBy(src.wahaRequests(), (r) => `${r.method} ${pathShape(r.path)}`) : null;
      const webhooks = src.webhooks ? countBy(src.webhooks(), (w) => `${w.event} ${w.status ?? 'no answer'}`) : null;
      const kaspi = src.kaspiRequests ? countBy(src.kaspiRequests(), (r) => `${r.method} ${pathShape(r.path)}`) : null;
      const sum = (r: Record<string, number> | null) => (r ? Object.values(r).reduce((s, v) => s + v, 0) : null);
      return {
        units,
        wallSeconds: round(wall, 1),
        perUnit: {
          postgresBackendCpuMs: per(backendSeconds * 1000, 1),
          transactions: per(xacts),
          statements: statements.benchProcess || src.workerPids.some((p) => statements[`worker ${p}`]) ? per(product) : null,
          rowsWritten: per(rowsWritten),
          tupReturned: per(db.tup_returned),
          tupFetched: per(db.tup_fetched),
          wahaRequests: per(sum(waha)),
          webhooks: per(sum(webhooks)),
          kaspiRequests: per(sum(kaspi)),
        },
        postgres: {
          backendCpuSeconds: round(backendSeconds, 2),
          backends: backendCpu.size,
          postmasterTreeCpuSeconds: postmasterTree0 === null ? null : round(treeCpuSeconds(src.postgresPid!) - postmasterTree0, 2),
          database: db,
          transactionsExcludingBench: xacts,
          rowsWritten,
          tables,
        },
        statements,
        // Backends seen in each state per sample (mean over the samples): how many wait, and on what.
        activeBackends: { samples: waitSamples, meanByWait: Object.fromEntries([...waits].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round(v / (waitSamples || 1), 2)])) },
        workerThreadsCpuSeconds: threads,
        waha,
        webhooks,
        kaspi,
      };
    },
  };
}

/** Top statements by count, for printing. */
export function topStatements(r: PgWorkResult, n = 25): { process: string; perUnit: number; text: string }[] {
  const out: { process: string; perUnit: number; text: string }[] = [];
  for (const [proc, s] of Object.entries(r.statements)) {
    for (const [text, count] of Object.entries(s?.counts ?? {})) out.push({ process: proc.startsWith('worker') ? 'worker' : 'bench', perUnit: round(count / (r.units || 1), 2)!, text });
  }
  return out.sort((a, b) => b.perUnit - a.perUnit).slice(0, n);
}
