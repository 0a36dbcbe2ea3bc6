import { ApplicationFailure } from '@temporalio/common';
import { SecretDecryptError } from '../lib/crypto.ts';
import { databaseCause } from '../lib/db/errors.ts';
import { maskDigitRuns } from '../lib/waha/redact.ts';

/**
 * Everything an activity throws is stored in Temporal's history and shown in its UI, unencrypted.
 * Database drivers put the failed query's parameters into their messages (drizzle: "Failed query:
 * … params: <phone>, <message text>, <order snapshot>"), so an unexpected error leaves an activity
 * as a new failure that keeps only its class and the database's error code — never the cause.
 * Typed failures the activities raise on purpose (ApplicationFailure) pass through unchanged.
 */
export function sanitizeFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof SecretDecryptError) {
    // APP_SECRET changed: retrying cannot help until an operator restores it.
    return ApplicationFailure.nonRetryable('cannot decrypt a stored secret: APP_SECRET differs from the one that encrypted it', 'SecretUnreadable');
  }
  if (!(err instanceof Error)) return ApplicationFailure.retryable('activity failed', 'UnknownError');
  const pg = databaseCause(err);
  if (pg) return ApplicationFailure.retryable(`database error ${pg.code}${pg.constraint ? ` (${pg.constraint})` : ''}`, 'DatabaseError');
  // Our own errors carry ids and classes; masking digit runs keeps a stray phone out anyway.
  return ApplicationFailure.retryable(maskDigitRuns(err.message).slice(0, 500), err.name);
}

type AnyActivity = (...args: never[]) => Promise<unknown>;

export function withFailureBoundary<T extends Record<string, AnyActivity>>(activities: T): T {
  const out: Record<string, AnyActivity> = {};
  for (const [name, fn] of Object.entries(activities)) {
    out[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw sanitizeFailure(err);
      }
    };
  }
  return out as T;
}
