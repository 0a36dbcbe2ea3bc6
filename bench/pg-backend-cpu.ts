/**
 * CPU of the PostgreSQL backends serving the bench's databases, sampled once a second, for figures
 * that do not bracket it themselves (the polling figure reads the postmaster's whole process tree,
 * which goes backwards when another run's backends exit). Run beside a bench:
 *
 *   npx tsx bench/pg-backend-cpu.ts --match kaspi_notify_bench_ --seconds 400 > /tmp/pg-cpu.tsv
 *
 * Prints `epoch_ms  cumulative_cpu_seconds  backends` lines; the slope over a figure's window is
 * PostgreSQL's cores for it. A backend that exits keeps its last sampled CPU, a new one counts from
 * zero. Only databases whose name starts with --match count (and with --pid, only that bench
 * process's: kaspi_notify_bench_<pid>_…). --match takes several prefixes, comma-separated: the
 * cluster's own databases are temporal_bench_<pid> and temporal_visibility_bench_<pid>.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cpuSeconds, sleep } from './lib/stats.ts';

const { values } = parseArgs({ options: { match: { type: 'string', default: 'kaspi_notify_bench_' }, seconds: { type: 'string', default: '600' }, pid: { type: 'string' } } });
const prefixes = values.match.split(',').map((m) => (values.pid ? `${m}${values.pid}` : m));
const ours = (word: string) => prefixes.some((p) => (values.pid ? word === p || word.startsWith(`${p}_`) : word.startsWith(p)));

function backends(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() !== 'postgres') continue;
      const title = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (title.split(' ').some(ours)) out.push(Number(d));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

const seen = new Map<number, number>();
let gone = 0;
const until = Date.now() + Number(values.seconds) * 1000;
while (Date.now() < until) {
  const now = new Set(backends());
  for (const pid of now) seen.set(pid, cpuSeconds(pid) || (seen.get(pid) ?? 0));
  for (const [pid, c] of seen) {
    if (!now.has(pid)) {
      gone += c;
      seen.delete(pid);
    }
  }
  const total = gone + [...seen.values()].reduce((a, b) => a + b, 0);
  process.stdout.write(`${Date.now()}\t${total.toFixed(2)}\t${seen.size}\n`);
  await sleep(1000);
}
