/** `npm run db:migrate`: applies pending migrations (under an advisory lock) and exits. */
import { loadConfig } from '../lib/config.ts';
import { runMigrations } from '../lib/db/migrate.ts';
import { resolveConnections } from '../lib/runtime/state.ts';

try {
  const config = loadConfig();
  const databaseUrl = config.DATABASE_URL ?? resolveConnections(config, config.DATA_DIR).databaseUrl;
  await runMigrations(databaseUrl);
  process.stderr.write('Migrations applied.\n');
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
