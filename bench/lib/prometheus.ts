/**
 * Reads the Temporal server's own Prometheus endpoint (text format 0.0.4) so a figure can report
 * what the server counted over its window: Schedule starts, missed catch-up windows, rate-limited
 * starts, task-queue schedule-to-start latency. Only what the figures need: samples by name and
 * labels, differences of two scrapes, and a quantile from histogram buckets.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

export async function scrape(url: string): Promise<Sample[]> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    return res.ok ? parsePrometheus(await res.text()) : [];
  } catch {
    return [];
  }
}

type Filter = Record<string, string>;
const matches = (s: Sample, name: string, filter: Filter) => s.name === name && Object.entries(filter).every(([k, v]) => s.labels[k] === v);

/** Sum of every series of `name` matching `filter`. */
export function total(samples: Sample[], name: string, filter: Filter = {}): number {
  return samples.filter((s) => matches(s, name, filter)).reduce((sum, s) => sum + s.value, 0);
}

/** How much a counter grew between two scrapes (summed over matching series). */
export function delta(before: Sample[], after: Sample[], name: string, filter: Filter = {}): number {
  return total(after, name, filter) - total(before, name, filter);
}

/**
 * The q-quantile (0–1) of the observations a histogram received between two scrapes, as the upper
 * bound of the bucket it falls in (so "≤ x"); null when nothing was observed. Buckets are summed
 * over the matching series first, as `histogram_quantile(sum by (le))` would.
 */
export function histogramQuantile(before: Sample[], after: Sample[], name: string, q: number, filter: Filter = {}): number | null {
  const buckets = new Map<number, number>();
  for (const [samples, sign] of [[after, 1], [before, -1]] as const) {
    for (const s of samples) {
      if (!matches(s, `${name}_bucket`, filter)) continue;
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      buckets.set(le, (buckets.get(le) ?? 0) + sign * s.value);
    }
  }
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const count = sorted.at(-1)?.[1] ?? 0;
  if (count <= 0) return null;
  const rank = q * count;
  for (const [le, cumulative] of sorted) if (cumulative >= rank) return le;
  return Infinity;
}
