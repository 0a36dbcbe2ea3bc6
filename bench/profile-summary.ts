/**
 * Where a worker's JavaScript time went: reads `node --cpu-prof` output (`npm run bench -- --cpu-prof`
 * writes it to bench/results/profiles/) and prints the top entries by self time, grouped by
 * package / product file / function.
 *
 *   npx tsx bench/profile-summary.ts bench/results/profiles/CPU.….cpuprofile [more…] [--top 15]
 *   npx tsx bench/profile-summary.ts --newest 2        # the two most recent profiles in that folder
 *
 * Self time of a sample is the gap to the next sample (as Chrome DevTools counts it). `(idle)` is
 * the thread waiting for work and is left out of the percentages; `(garbage collector)` and
 * `(program)` (native code outside JS: the Temporal core's calls, bindings) stay in.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const REPO = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** The package (node_modules/<pkg> or @scope/pkg), `node:` internals, or the repository's own code. */
export function packageOf(url: string): string {
  if (!url) return '(native / VM)';
  if (url.startsWith('node:')) return 'node internals';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  // The workflow bundle is one webpack file: its code is the SDK's workflow runtime plus ours.
  if (url.includes('workflow-bundle')) return 'workflow bundle';
  return 'kaspi-notify';
}

export function fileOf(url: string): string {
  if (!url) return '(native / VM)';
  const p = url.replace(/^file:\/\//, '');
  const nm = p.lastIndexOf('node_modules/');
  if (nm >= 0) return p.slice(nm + 'node_modules/'.length);
  return p.startsWith(REPO) ? path.relative(REPO, p) : p;
}

export function summarize(profile: CpuProfile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = i + 1 < profile.timeDeltas.length ? profile.timeDeltas[i + 1]! : 0;
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + dt);
  }
  const groups = { package: new Map<string, number>(), file: new Map<string, number>(), function: new Map<string, number>() };
  let busy = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    const special = f.functionName.startsWith('(') ? f.functionName : null;
    const add = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + us);
    add(groups.package, special ?? packageOf(f.url));
    add(groups.file, special ?? fileOf(f.url));
    add(groups.function, special ?? `${f.functionName || '(anonymous)'} ${fileOf(f.url)}:${f.lineNumber + 1}`);
  }
  return { wallSeconds: (profile.endTime - profile.startTime) / 1e6, busySeconds: busy / 1e6, idleSeconds: idle / 1e6, groups };
}

function print(file: string, top: number): void {
  const s = summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  process.stdout.write(`\n${path.basename(file)}: ${s.wallSeconds.toFixed(1)} s profiled, ${s.busySeconds.toFixed(2)} s busy (not idle)\n`);
  for (const [name, m] of Object.entries(s.groups)) {
    process.stdout.write(`  by ${name}:\n`);
    for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`    ${(us / 1e6).toFixed(2).padStart(7)} s ${((100 * us) / 1e6 / s.busySeconds).toFixed(1).padStart(5)} %  ${k}\n`);
    }
  }
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '15' }, newest: { type: 'string' }, dir: { type: 'string', default: path.join(REPO, 'bench', 'results', 'profiles') } } });
  let files = positionals;
  if (values.newest) {
    files = readdirSync(values.dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => path.join(values.dir, f))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
      .slice(0, Number(values.newest));
  }
  if (!files.length) throw new Error('no profiles: give files or --newest N');
  for (const f of files) print(f, Number(values.top));
}
