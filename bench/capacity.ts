/**
 * The sizing model of bench/CAPACITY.md: measured unit costs × how many of each a day, per store
 * count and order rate. `npx tsx bench/capacity.ts` prints the tables in CAPACITY.md; `--check`
 * prints the prediction for a polling run (stores, interval, busy share, orders an hour) to hold
 * against the polling figure's measured CPU. Change a unit here when a bench re-measures it.
 */
import { parseArgs } from 'node:util';

/** One unit's cost. CPU in ms of one core; `temporal` is the dev server's process (its SQLite in memory). */
export interface Unit {
  workerMs: number;
  temporalMs: number;
  postgresMs: number;
  /** The web app answering WAHA's webhooks (runs in the bench process beside the simulators: an upper bound). */
  webMs: number;
  actions: number;
  historyBytes: number;
  rowsWritten: number;
  statements: number;
  transactions: number;
}

/** bench/CAPACITY.md "Unit costs" says where each number comes from. */
export const UNITS = {
  idlePoll: { workerMs: 33, temporalMs: 69, postgresMs: 4.6, webMs: 0, actions: 3, historyBytes: 2146, rowsWritten: 1, statements: 9, transactions: 5 },
  /** What a poll that finds orders adds to an idle poll: markNotificationsStarted (activity, 1 UPDATE) and the child starts' parent events. */
  busyPollExtra: { workerMs: 5, temporalMs: 10, postgresMs: 1, webMs: 0, actions: 1, historyBytes: 1000, rowsWritten: 0, statements: 1, transactions: 1 },
  notification: { workerMs: 103, temporalMs: 103, postgresMs: 91, webMs: 85, actions: 6.65, historyBytes: 5935, rowsWritten: 60, statements: 80, transactions: 38 },
} satisfies Record<string, Unit>;

export interface Assumptions {
  pollIntervalSeconds: number;
  notificationsPerOrder: number;
  /** The busiest hour's share of a day's orders × 24 (1 = flat). Polls are flat by construction. */
  peakFactor: number;
  /** Production waits for real acks: SERVER and DEVICE waits start timers the bench's 10–30 ms acks skip. */
  productionActionsPerNotification: number;
  retentionDays: number;
  /** The cluster's Temporal server on PostgreSQL ÷ the dev server, CPU per notification (bench/RESULTS.md; 2.08 measured again here). */
  clusterTemporalFactor: number;
  /** The PostgreSQL behind the cluster's Temporal (its two databases) ÷ the dev server's CPU, per notification. */
  clusterTemporalPostgresFactor: number;
}

export const ASSUMPTIONS: Assumptions = {
  pollIntervalSeconds: 60,
  notificationsPerOrder: 3.5,
  peakFactor: 2,
  productionActionsPerNotification: 9,
  retentionDays: 30,
  clusterTemporalFactor: 2.1,
  clusterTemporalPostgresFactor: 1.4,
};

export function size(stores: number, ordersPerDay: number, a: Assumptions = ASSUMPTIONS) {
  const pollsPerDay = (stores * 86_400) / a.pollIntervalSeconds;
  const notificationsPerDay = stores * ordersPerDay * a.notificationsPerOrder;
  // Each event is found by one poll; a store with more events than polls finds several per poll.
  const busyPollsPerDay = Math.min(pollsPerDay, notificationsPerDay);
  const perSecond = (n: number) => n / 86_400;
  const cores = (k: keyof Unit, notificationFactor = 1) =>
    (perSecond(pollsPerDay) * UNITS.idlePoll[k] + perSecond(busyPollsPerDay) * UNITS.busyPollExtra[k] + perSecond(notificationsPerDay) * a.peakFactor * UNITS.notification[k] * notificationFactor) / 1000;
  const daily = (k: keyof Unit, notification = UNITS.notification[k]) => pollsPerDay * UNITS.idlePoll[k] + busyPollsPerDay * UNITS.busyPollExtra[k] + notificationsPerDay * notification;
  return {
    stores,
    ordersPerDay,
    pollsPerSecond: perSecond(pollsPerDay),
    notificationsPerDay,
    peakNotificationsPerSecond: perSecond(notificationsPerDay) * a.peakFactor,
    cores: {
      worker: cores('workerMs'),
      web: cores('webMs'),
      temporalDev: cores('temporalMs'),
      temporalCluster: cores('temporalMs') * a.clusterTemporalFactor,
      temporalClusterPostgres: cores('temporalMs') * a.clusterTemporalPostgresFactor,
      postgres: cores('postgresMs'),
    },
    actionsPerMonth: { measured: daily('actions') * 30, production: daily('actions', a.productionActionsPerNotification) * 30 },
    historyGbRetained: (daily('historyBytes') * a.retentionDays) / 1e9,
    rowsPerDay: daily('rowsWritten'),
    statementsPerSecond: daily('statements') / 86_400,
    scheduleStartsPerSecond: stores / a.pollIntervalSeconds,
  };
}

/** A polling run's CPU in cores: its idle polls and the notifications of its busy stores. */
export function predictPolling(o: { stores: number; intervalSeconds: number; busyShare: number; busyOrdersPerHour: number }) {
  const polls = o.stores / o.intervalSeconds;
  const notifications = (Math.round(o.stores * o.busyShare) * o.busyOrdersPerHour) / 3600;
  const c = (k: 'workerMs' | 'temporalMs' | 'postgresMs') => (polls * UNITS.idlePoll[k] + notifications * (UNITS.notification[k] + UNITS.busyPollExtra[k])) / 1000;
  return { pollsPerSecond: polls, notificationsPerSecond: notifications, cores: { worker: c('workerMs'), temporal: c('temporalMs'), postgres: c('postgresMs') } };
}

const isMain = process.argv[1]?.endsWith('capacity.ts');
if (isMain) {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false }, stores: { type: 'string', default: '600' }, interval: { type: 'string', default: '30' }, 'busy-share': { type: 'string', default: '0.1' }, 'busy-orders-per-hour': { type: 'string', default: '60' } } });
  const f = (v: number, d = 2) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(d));
  if (values.check) {
    const p = predictPolling({ stores: Number(values.stores), intervalSeconds: Number(values.interval), busyShare: Number(values['busy-share']), busyOrdersPerHour: Number(values['busy-orders-per-hour']) });
    process.stdout.write(`${JSON.stringify(p, null, 2)}\n`);
  } else {
    process.stdout.write('| stores | orders/day/store | polls/s | notifications/day (peak /s) | cores: worker / web / Temporal dev / Temporal cluster + its PostgreSQL / PostgreSQL (app) | actions/month (measured rule / production) | history retained (GB, 30 d) | PostgreSQL rows/day | statements/s | Schedule starts/s |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n');
    for (const stores of [100, 1000, 10_000]) {
      for (const orders of [50, 500]) {
        const s = size(stores, orders);
        const c = s.cores;
        process.stdout.write(`| ${stores.toLocaleString('en-US')} | ${orders} | ${f(s.pollsPerSecond, 1)} | ${f(s.notificationsPerDay)} (${f(s.peakNotificationsPerSecond, 1)}) | ${f(c.worker)} / ${f(c.web)} / ${f(c.temporalDev)} / ${f(c.temporalCluster)} + ${f(c.temporalClusterPostgres)} / ${f(c.postgres)} | ${(s.actionsPerMonth.measured / 1e6).toFixed(1)} M / ${(s.actionsPerMonth.production / 1e6).toFixed(1)} M | ${f(s.historyGbRetained, 1)} | ${(s.rowsPerDay / 1e6).toFixed(2)} M | ${f(s.statementsPerSecond, 0)} | ${f(s.scheduleStartsPerSecond, 1)}${s.scheduleStartsPerSecond > 30 ? ' (> 30)' : ''} |\n`);
      }
    }
  }
}
