import type { Client } from '@temporalio/client';
import type { AppConfig } from './config.ts';
import type { SecretBox } from './crypto.ts';
import type { Db } from './db/client.ts';
import type { Logger } from './logger.ts';
import type pg from 'pg';

/** What every web route and activity is built from; tests build one against real services. */
export interface AppContext {
  config: AppConfig;
  db: Db;
  pool: pg.Pool;
  temporal: Client;
  secrets: SecretBox;
  logger: Logger;
  /** Injected so time rules (pacing, quiet hours, freshness) can be tested without waiting. */
  now: () => Date;
}
