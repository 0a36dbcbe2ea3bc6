import { readdirSync, readFileSync } from 'node:fs';

/** Every process below `pid`, read from /proc (ps may not be installed). */
export function descendants(pid: number): number[] {
  const table = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map((d) => {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      return { pid: Number(d), ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) };
    } catch {
      return { pid: Number(d), ppid: -1 };
    }
  });
  const found: number[] = [];
  const stack = [pid];
  while (stack.length) {
    const parent = stack.pop();
    for (const row of table) if (row.ppid === parent) { found.push(row.pid); stack.push(row.pid); }
  }
  return found;
}
