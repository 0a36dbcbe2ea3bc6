import { createContext } from '../lib/bootstrap.ts';
import { ConfigError, loadConfig, type AppConfig } from '../lib/config.ts';
import type { AppContext } from '../lib/context.ts';
import { loadOrCreateAppSecret } from '../lib/runtime/state.ts';

/**
 * Shared start-up of the production processes (`npm run web`, `npm run worker`): they connect to
 * an existing PostgreSQL and Temporal cluster given by DATABASE_URL and TEMPORAL_ADDRESS.
 */
export async function productionContext(): Promise<{ config: AppConfig; ctx: AppContext & { close(): Promise<void> } }> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  if (!config.DATABASE_URL || !config.TEMPORAL_ADDRESS) {
    process.stderr.write('DATABASE_URL and TEMPORAL_ADDRESS must be set for this process (npm start runs everything locally).\n');
    process.exit(1);
  }
  const appSecret = config.APP_SECRET ?? loadOrCreateAppSecret(config.DATA_DIR);
  const ctx = await createContext(config, { databaseUrl: config.DATABASE_URL, temporalAddress: config.TEMPORAL_ADDRESS, appSecret });
  return { config, ctx };
}

export function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = () => {
    if (stopping) process.exit(1);
    stopping = true;
    stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
