import { readdirSync, readFileSync } from 'node:fs';

export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function summary(values: number[]): { n: number; p50: number | null; p95: number | null; p99: number | null; max: number | null } {
  return { n: values.length, p50: percentile(values, 50), p95: percentile(values, 95), p99: percentile(values, 99), max: values.length ? Math.max(...values) : null };
}

const CLK_TCK = 100; // Linux USER_HZ

/** CPU seconds of a group of processes (the worker processes of a run). */
export function workerCpuSeconds(worker: { pids: number[] }): number {
  return worker.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}

/** Two fields of /proc/<pid>/stat after "pid (comm) " (state=0, ppid=1, … utime=11, stime=12, cutime=13, cstime=14), summed, in seconds; 0 for a process gone. */
function statSeconds(pid: number, a: number, b: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[a]) + Number(fields[b])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** utime + stime of one process, in seconds. */
export function cpuSeconds(pid: number): number {
  return statSeconds(pid, 11, 12);
}

/** cutime + cstime: the CPU of the process's children that have exited and been waited for. */
function reapedChildrenCpuSeconds(pid: number): number {
  return statSeconds(pid, 13, 14);
}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

/** CPU seconds of a process and all its (live) descendants: PostgreSQL's backends, the CLI's server. */
export function treeCpuSeconds(root: number): number {
  const pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  const children = new Map<number, number[]>();
  for (const pid of pids) {
    const ppid = parentOf(pid);
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  let total = 0;
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    // A child that exited took its CPU along: once reaped it is in its parent's cutime/cstime
    // (PostgreSQL's backends end with their connections), so a tree counts both.
    total += cpuSeconds(pid) + reapedChildrenCpuSeconds(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

/** Resident set size in MB (VmRSS). */
export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, everyMs = 500): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return check();
}

export const round = (v: number | null | undefined, digits = 1): number | null => (v === null || v === undefined || !Number.isFinite(v) ? null : Math.round(v * 10 ** digits) / 10 ** digits);
