/**
 * `npm run resend -- --store <id> --status failed,undelivered --since <date> [--until <date>] [--dry-run]`
 * Starts a new attempt for each matching notification (never for a delivered one): see
 * lib/services/resend.ts. Finds the database and Temporal by DATABASE_URL / TEMPORAL_ADDRESS, else
 * ./.data/runtime.json written by `npm start`. Dates: ISO 8601 (`2025-01-15`, `2025-01-15T09:00+05:00`).
 * Exit 0 done (or nothing matched), 1 error or any notification that could not be resent, 2 usage.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SingleBar, Presets } from 'cli-progress';
import { eq } from 'drizzle-orm';
import { stores } from '../drizzle/schema.ts';
import { createContext } from '../lib/bootstrap.ts';
import { ConfigError, loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import { loadOrCreateAppSecret, resolveConnections } from '../lib/runtime/state.ts';
import { RESENDABLE_STATUSES, resendNotifications, type ResendableStatus } from '../lib/services/resend.ts';

const USAGE = `usage: npm run resend -- --store STORE_ID --status failed,undelivered --since DATE [--until DATE] [--dry-run]`;
class UsageError extends Error {}
const err = (line: string) => process.stderr.write(`${line}\n`);

function parseDate(name: string, value: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new UsageError(`--${name}: not a date: ${value} (use e.g. 2025-01-15 or 2025-01-15T09:00:00+05:00)`);
  return d;
}

async function main(argv: string[]): Promise<number> {
  let values: { store?: string; status?: string; since?: string; until?: string; 'dry-run'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { store: { type: 'string' }, status: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const missing = (['store', 'status', 'since'] as const).filter((k) => !values[k]);
  if (missing.length) throw new UsageError(`missing ${missing.map((m) => `--${m}`).join(', ')}`);
  const statuses = values.status!.split(',').map((s) => s.trim()).filter(Boolean);
  const wrong = statuses.filter((s) => !RESENDABLE_STATUSES.includes(s as ResendableStatus));
  if (wrong.length || statuses.length === 0) throw new UsageError(`--status: only ${RESENDABLE_STATUSES.join(', ')} can be resent (got ${values.status})`);
  const since = parseDate('since', values.since!);
  const until = values.until ? parseDate('until', values.until) : undefined;
  if (until && until <= since) throw new UsageError('--until must be after --since');
  if (!/^[0-9a-f-]{36}$/i.test(values.store!)) throw new UsageError(`--store: not a store id: ${values.store}`);

  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
  const dataDir = path.resolve(config.DATA_DIR);
  const { databaseUrl, temporalAddress } = resolveConnections(process.env, dataDir);
  const ctx = await createContext(config, { databaseUrl, temporalAddress, appSecret: config.APP_SECRET ?? loadOrCreateAppSecret(dataDir) }, {
    // Progress goes to the terminal; only problems are logged.
    logger: createLogger({ level: 'warn', name: 'resend', pretty: false }),
    poolSize: 2,
  });
  try {
    const [store] = await ctx.db.select({ id: stores.id, name: stores.name }).from(stores).where(eq(stores.id, values.store!));
    if (!store) {
      err(`error: no store ${values.store}`);
      return 1;
    }
    const dryRun = values['dry-run'] ?? false;
    err(`${dryRun ? 'Dry run: nothing is changed. ' : ''}Resending ${statuses.join(' and ')} notifications of «${store.name}» created ${since.toISOString()} … ${(until ?? new Date()).toISOString()}`);
    const bar = new SingleBar({ format: ' {bar} {value}/{total} | started {started} | skipped {skipped} | errors {errors}', hideCursor: true, stream: process.stderr }, Presets.shades_classic);
    let barStarted = false;
    const tally = { started: 0, skipped: 0, errors: 0 };
    const summary = await resendNotifications(ctx, {
      storeId: store.id,
      statuses: statuses as ResendableStatus[],
      since,
      until,
      dryRun,
      requestedBy: 'cli',
      onProgress: (done, total, last) => {
        if (!barStarted) {
          bar.start(total, 0, tally);
          barStarted = true;
        }
        if (last.result === 'started' || last.result === 'would_start') tally.started++;
        else if (last.result === 'skipped') tally.skipped++;
        else tally.errors++;
        bar.update(done, tally);
      },
    });
    if (barStarted) bar.stop();

    const skipped = Object.entries(summary.skipped).map(([reason, n]) => `${n} ${reason.replaceAll('_', ' ')}`).join(', ');
    process.stdout.write(
      [
        `matched:  ${summary.matched}`,
        dryRun ? `would resend: ${summary.wouldStart}` : `resent:   ${summary.started}`,
        `skipped:  ${Object.values(summary.skipped).reduce((a, b) => a + b, 0)}${skipped ? ` (${skipped})` : ''}`,
        `errors:   ${summary.errors.length}`,
        ...summary.errors.slice(0, 20).map((e) => `  ${e.notificationId}: ${e.error}`),
      ].join('\n') + '\n',
    );
    return summary.errors.length > 0 ? 1 : 0;
  } finally {
    await ctx.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      err(`error: ${e.message}\n${USAGE}`);
      process.exit(2);
    }
    const cause = e instanceof Error && e.cause instanceof Error ? e.cause : e;
    err(`error: ${cause instanceof Error ? cause.message : String(cause)}`);
    process.exit(1);
  },
);
