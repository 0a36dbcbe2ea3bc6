import { readdirSync, readFileSync, realpathSync } from 'node:fs';

/**
 * Where a process's resident memory is, from /proc/<pid>/smaps: the mappings of files (code and
 * data of the node binary, the Temporal core's .node library, other shared libraries) and the
 * anonymous memory (V8 heaps of every isolate, malloc arenas of the Rust core and Node's own
 * threads, thread stacks). V8's part of the anonymous memory is what the isolates report; the rest
 * of it is native.
 */
export interface SmapsBreakdown {
  rssMb: number;
  nodeBinaryMb: number;
  temporalCoreLibMb: number;
  otherFilesMb: number;
  brkHeapMb: number;
  anonymousMb: number;
  stacksMb: number;
  threads: number;
}

const mb = (kb: number) => Math.round((kb / 1024) * 10) / 10;

export function smapsBreakdown(pid: number): SmapsBreakdown | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return null;
  }
  const node = realpathSync(process.execPath);
  const kb = { node: 0, core: 0, files: 0, brk: 0, anon: 0, stack: 0 };
  let bucket: keyof typeof kb = 'anon';
  for (const line of text.split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      const name = header[1] ?? '';
      bucket = name === '' ? 'anon'
        : name === '[heap]' ? 'brk'
          : name.startsWith('[stack') ? 'stack'
            : name.startsWith('[') ? 'anon'
              : name === node ? 'node'
                : /temporal.*\.node$|core-bridge.*\.node$/.test(name) ? 'core'
                  : 'files';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) kb[bucket] += Number(rss[1]);
  }
  let threads = 0;
  try {
    threads = readdirSync(`/proc/${pid}/task`).length;
  } catch {
    // the process ended between the two reads
  }
  const total = kb.node + kb.core + kb.files + kb.brk + kb.anon + kb.stack;
  return { rssMb: mb(total), nodeBinaryMb: mb(kb.node), temporalCoreLibMb: mb(kb.core), otherFilesMb: mb(kb.files), brkHeapMb: mb(kb.brk), anonymousMb: mb(kb.anon), stacksMb: mb(kb.stack), threads };
}

/** What one V8 heap snapshot holds: live bytes by node type and the largest constructors. */
export interface HeapSummary {
  file: string;
  totalMb: number;
  nodes: number;
  byTypeMb: Record<string, number>;
  topConstructors: { name: string; count: number; mb: number }[];
  /** The largest strings, by their first characters: module sources show up here. */
  largestStrings: { preview: string; mb: number }[];
}

interface SnapshotJson {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export function summarizeHeapSnapshot(file: string, top = 15): HeapSummary {
  const json = JSON.parse(readFileSync(file, 'utf8')) as SnapshotJson;
  const fields = json.snapshot.meta.node_fields;
  const types = json.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const byType = new Map<string, number>();
  const byName = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  const strings: { index: number; size: number }[] = [];
  for (let i = 0; i < json.nodes.length; i += width) {
    const type = types[json.nodes[i + typeAt]!] ?? '?';
    const size = json.nodes[i + sizeAt]!;
    total += size;
    byType.set(type, (byType.get(type) ?? 0) + size);
    if (type === 'string' && size > 65_536) strings.push({ index: json.nodes[i + nameAt]!, size });
    // Objects are named by their constructor; code and strings by their content, so they are grouped by type only.
    const name = type === 'object' || type === 'closure' ? `${type === 'closure' ? 'closure ' : ''}${json.strings[json.nodes[i + nameAt]!] ?? '?'}` : `(${type})`;
    const entry = byName.get(name) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += size;
    byName.set(name, entry);
  }
  const toMb = (b: number) => Math.round((b / 1048576) * 100) / 100;
  return {
    file,
    totalMb: toMb(total),
    nodes: json.nodes.length / width,
    byTypeMb: Object.fromEntries([...byType].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, toMb(v)])),
    topConstructors: [...byName].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top).map(([name, v]) => ({ name, count: v.count, mb: toMb(v.bytes) })),
    largestStrings: strings.sort((a, b) => b.size - a.size).slice(0, top).map((x) => ({ preview: (json.strings[x.index] ?? '').slice(0, 80).replace(/\s+/g, ' '), mb: toMb(x.size) })),
  };
}

/** Heap size of one V8 isolate (the main thread or a workflow thread) at its latest GC. */
export interface IsolateHeap {
  isolate: string;
  /** `main` or `workflow thread`: the main thread is the isolate whose size matches its heapTotal. */
  role: string;
  gcs: number;
  usedMb: number;
  committedMb: number;
  maxCommittedMb: number;
}

/**
 * Per-isolate heap sizes from the worker's `--trace-gc` lines
 * (`[pid:0xISOLATE] … ms: Scavenge 4.4 (5.5) -> 4.2 (6.0) MB, …`: used (committed) after the GC).
 * Node 20 cannot ask a worker thread for its heap statistics; its GC trace says them.
 */
export function isolateHeaps(traceFile: string, mainHeapTotalMb: number): IsolateHeap[] {
  let text: string;
  try {
    text = readFileSync(traceFile, 'utf8');
  } catch {
    return [];
  }
  const byIsolate = new Map<string, IsolateHeap>();
  for (const line of text.split('\n')) {
    const m = /^\[\d+:(0x[0-9a-f]+)\].*?-> ([\d.]+) \(([\d.]+)\) MB/.exec(line);
    if (!m) continue;
    const entry = byIsolate.get(m[1]!) ?? { isolate: m[1]!, role: 'workflow thread', gcs: 0, usedMb: 0, committedMb: 0, maxCommittedMb: 0 };
    entry.gcs++;
    entry.usedMb = Number(m[2]);
    entry.committedMb = Number(m[3]);
    entry.maxCommittedMb = Math.max(entry.maxCommittedMb, entry.committedMb);
    byIsolate.set(m[1]!, entry);
  }
  const all = [...byIsolate.values()];
  const main = all.reduce<IsolateHeap | undefined>((best, e) => (!best || Math.abs(e.committedMb - mainHeapTotalMb) < Math.abs(best.committedMb - mainHeapTotalMb) ? e : best), undefined);
  if (main) main.role = 'main';
  return all.sort((a, b) => (a.role === 'main' ? -1 : b.role === 'main' ? 1 : 0));
}
