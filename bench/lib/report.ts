/* eslint-disable @typescript-eslint/no-explicit-any -- figures are plain JSON read back for printing */
export interface Results {
  machine: Record<string, unknown>;
  options: Record<string, unknown>;
  figures: Record<string, any>;
  durationSeconds?: number;
  error?: string;
}

type Row = [string, string, string, string];

const ms = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
const verdict = (ok: boolean | null) => (ok === null ? '' : ok ? 'MET' : 'MISSED');

export function rows(r: Results): Row[] {
  const f = r.figures;
  const out: Row[] = [];
  if (f.throughput) {
    out.push(['1 throughput (end to end, to read)', `${f.throughput.perSecond}/s (${f.throughput.read}/${f.throughput.notifications} in ${f.throughput.seconds} s)`, '', '']);
  }
  if (f.floor) out.push(['2 floor (no-op activities)', `${f.floor.perSecond}/s (${f.floor.notifications} in ${f.floor.seconds} s)`, '', '']);
  if (f.throughput && f.floor) {
    const ratio = f.throughput.perSecond / f.floor.perSecond;
    out.push(['  pipeline / floor', ratio.toFixed(2), '≥ 0.90', verdict(ratio >= 0.9)]);
  }
  if (f.latency) {
    const l = f.latency;
    out.push([`3 visible→sent p50/p95/p99 @ ${l.rate}/s, poll ${l.pollIntervalSeconds} s`, `${ms(l.visibleToSentMs.p50)} / ${ms(l.visibleToSentMs.p95)} / ${ms(l.visibleToSentMs.p99)}`, `p99 ≤ ${ms(l.targetP99Ms)}`, verdict(l.visibleToSentMs.p99 !== null && l.visibleToSentMs.p99 <= l.targetP99Ms)]);
    out.push(['  visible→read p50/p95/p99', `${ms(l.visibleToReadMs.p50)} / ${ms(l.visibleToReadMs.p95)} / ${ms(l.visibleToReadMs.p99)}`, '', '']);
    if (l.visibleToQueuedMs) out.push(['  visible→queued (poll wait + start lag + poll) p50/p95/p99', `${ms(l.visibleToQueuedMs.p50)} / ${ms(l.visibleToQueuedMs.p95)} / ${ms(l.visibleToQueuedMs.p99)}`, '', '']);
  }
  if (f.cost) {
    const c = f.cost;
    out.push(['4 actions per delivered notification', `${c.delivered.perNotificationWithPollShare} (one order per scheduled poll: ${c.delivered.perNotificationScheduledOnePerPoll})`, '≤ 8', verdict(c.delivered.perNotificationWithPollShare <= 8)]);
    out.push(['  actions per idle poll (incl. schedule)', String(c.idle.perIdlePoll), '≤ 4', verdict(c.idle.perIdlePoll !== null && c.idle.perIdlePoll <= 4)]);
  }
  if (f.memory) {
    const m = f.memory;
    const tuning = [...Object.entries(m.tuning ?? {}).map(([k, v]) => `${k} ${String(v)}`), ...(m.nodeFlags ?? []), ...Object.entries(m.workerEnv ?? {}).map(([k, v]) => `${k}=${String(v)}`)].join(', ');
    out.push([`5 worker RSS idle (cache ${m.maxCachedWorkflows}${tuning ? `, ${tuning}` : ''}; ${m.workerFrom})`, `${m.baselineMb} MB (main heap ${m.idle.mainHeapTotalMb}, external ${m.idle.externalMb}, anonymous ${m.idle.smaps?.anonymousMb ?? '–'}, files ${m.idle.smaps ? Math.round((m.idle.smaps.nodeBinaryMb + m.idle.smaps.temporalCoreLibMb + m.idle.smaps.otherFilesMb) * 10) / 10 : '–'})`, '', '']);
    out.push([`  at ${m.waiting} waiting${m.reached ? '' : ` (of ${m.requested} requested: budget ran out)`}`, `${m.waitingMb} MB (peak ${m.peakMb}, main heap ${m.atWaiting.mainHeapTotalMb})`, '≤ 300 MB at 10,000', m.waiting >= 10_000 ? verdict(m.waitingMb <= 300) : 'NOT MEASURED']);
    out.push(['  after release / +15 s', `${m.afterReleaseMb} / ${m.settled15sMb} MB${m.snapshotBeforeRelease ? ' (after a heap snapshot)' : ''}`, '', '']);
    out.push(['  sent / released per second', `${m.sentPerSecond}/s (${m.allSentSeconds} s) / ${m.releasedPerSecond}/s (${m.releaseSeconds} s)`, '', '']);
  }
  if (f.polling) {
    const p = f.polling;
    out.push([`6 polling ${p.stores} stores / ${p.intervalSeconds} s (${p.windowSeconds} s)`, `CPU cores: worker ${p.cpuCores.worker}, temporal ${p.cpuCores.temporal}, postgres ${p.cpuCores.postgres ?? '–'}`, '', '']);
    out.push(['  poll lag start p50/p99, done p50/p99', `${ms(p.startLagMs.p50)} / ${ms(p.startLagMs.p99)}, ${ms(p.pollDoneLagMs.p50)} / ${ms(p.pollDoneLagMs.p99)} (${p.runs}/${p.expectedRuns} runs)`, p.intervalSeconds === 60 ? 'start p99 ≤ 3 s' : '', p.intervalSeconds === 60 ? verdict(p.startLagMs.p99 !== null && p.startLagMs.p99 <= 3000) : '']);
    if (p.cpuCores.total !== undefined) out.push(['  total CPU (worker + temporal + postgres)', `${p.cpuCores.total} cores`, p.intervalSeconds === 60 ? '≤ 1 core' : '', p.intervalSeconds === 60 ? verdict(p.cpuCores.total <= 1) : '']);
    if (p.server?.scraped) out.push(['  server: starts / missed catch-up / rate-limited', `${p.server.scheduleActionSuccess} / ${p.server.scheduleMissedCatchupWindow} / ${p.server.scheduleRateLimited} (action delay p50 ≤ ${ms(p.server.scheduleActionDelayP50Ms)}, p99 ≤ ${ms(p.server.scheduleActionDelayP99Ms)})`, '', '']);
    if (p.actionsPerHour) out.push(['  actions per hour (our rules / server counter)', `${p.actionsPerHour.model} / ${p.actionsPerHour.serverActionCounter}`, '', '']);
    const b = p.busyOrders;
    if (b) out.push([`  busy stores' orders (${b.orders}): visible→queued / →sent p50/p99`, `${ms(b.visibleToQueuedMs.p50)} / ${ms(b.visibleToQueuedMs.p99)}, ${ms(b.visibleToSentMs.p50)} / ${ms(b.visibleToSentMs.p99)}`, `p99 ≤ ${ms(p.targetVisibleToSentP99Ms)}`, verdict(b.visibleToSentMs.p99 !== null && b.visibleToSentMs.p99 <= p.targetVisibleToSentP99Ms)]);
  }
  if (f.push) {
    const u = f.push;
    out.push([`3b push posted→sent p50/p95/p99 @ ${u.rate}/s`, `${ms(u.postedToSentMs.p50)} / ${ms(u.postedToSentMs.p95)} / ${ms(u.postedToSentMs.p99)} (request p99 ${ms(u.requestMs.p99)}; ${u.failed} failed)`, `p99 ≤ ${ms(u.targetP99Ms)}`, verdict(u.postedToSentMs.p99 !== null && u.postedToSentMs.p99 <= u.targetP99Ms)]);
  }
  if (f.admin) {
    const a = f.admin;
    const first = a.timingsMs['messages: first page'];
    out.push([`7 message-log first page @ ${a.rows} rows p50/p95`, `${first.p50} / ${first.p95} ms`, '≤ 10 ms', verdict(first.p95 <= 10)]);
    for (const [k, v] of Object.entries(a.timingsMs as Record<string, { p50: number; p95: number }>)) {
      if (k === 'messages: first page') continue;
      if (k === 'dashboard') out.push([`  ${k} p50/p95`, `${v.p50} / ${v.p95} ms`, 'p95 ≤ 100 ms', verdict(v.p95 <= 100)]);
      else out.push([`  ${k} p50/p95`, `${v.p50} / ${v.p95} ms`, '', '']);
    }
    out.push(['  page query indexes', (a.pageExplain?.indexes ?? []).join(', '), '', '']);
  }
  return out;
}

export function renderTable(r: Results): string {
  const all: Row[] = [['figure', 'result', 'target', ''], ...rows(r)];
  const w = [0, 1, 2, 3].map((i) => Math.max(...all.map((row) => row[i]!.length)));
  return all.map((row) => row.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd()).join('\n');
}

export function renderMarkdown(r: Results, _table: string): string {
  const lines = [
    '# Benchmark: last run',
    '',
    `Written by \`npm run bench\` (${r.durationSeconds ?? '?'} s). Raw numbers: \`bench/results/latest.json\` (not committed). How to read them: bench/README.md.`,
    '',
    `Machine: ${r.machine.nproc} cores (${r.machine.cpuModel}); memory ${r.machine.memory}; Node ${r.machine.node}; ${r.machine.temporalCli}; Temporal TS SDK ${r.machine.temporalSdk}; ${r.machine.temporal}; ${r.machine.database}; ${r.machine.date}.`,
    '',
    `Options: \`${JSON.stringify(r.options)}\``,
    '',
    '| figure | result | target | |',
    '| --- | --- | --- | --- |',
    ...rows(r).map((row) => `| ${row.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`),
    '',
  ];
  if (r.figures.admin?.pageExplain?.plan) {
    lines.push('Message-log page plan (EXPLAIN ANALYZE):', '', '```', r.figures.admin.pageExplain.plan, '```', '');
  }
  if (r.figures.cost) {
    lines.push('Cost detail:', '', '```json', JSON.stringify(r.figures.cost, null, 2), '```', '');
  }
  return `${lines.join('\n')}\n`;
}
