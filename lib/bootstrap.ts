import type { AppConfig } from './config.ts';
import { setMarkMissingKeys } from './i18n/messages.ts';
import type { AppContext } from './context.ts';
import { SecretBox } from './crypto.ts';
import { openDatabase } from './db/client.ts';
import { createLogger, type Logger } from './logger.ts';
import { connectTemporal } from './temporal/client.ts';
import { temporalConnectionOptions } from './temporal/connection-options.ts';

export interface Connections {
  databaseUrl: string;
  temporalAddress: string;
  appSecret: string;
}

/** Opens the database and Temporal connections a process needs, and closes them in reverse. */
export async function createContext(config: AppConfig, connections: Connections, options: { logger?: Logger; poolSize?: number } = {}): Promise<AppContext & { close(): Promise<void> }> {
  const logger = options.logger ?? createLogger({ level: config.LOG_LEVEL });
  // In tests a page that shows an untranslated string says so (⟦kk:path⟧) instead of falling back.
  setMarkMissingKeys(config.NODE_ENV === 'test');
  const database = openDatabase(connections.databaseUrl, { max: options.poolSize });
  const temporal = await connectTemporal(connections.temporalAddress, config.TEMPORAL_NAMESPACE, temporalConnectionOptions(config));
  return {
    config: { ...config, DATABASE_URL: connections.databaseUrl, TEMPORAL_ADDRESS: connections.temporalAddress },
    db: database.db,
    pool: database.pool,
    temporal: temporal.client,
    secrets: new SecretBox(connections.appSecret),
    logger,
    now: () => new Date(),
    close: async () => {
      await temporal.close();
      await database.close();
    },
  };
}
