import { maskDigitRuns } from '../waha/redact.ts';

/**
 * Database drivers put the failed query and its parameters into their messages (drizzle:
 * "Failed query: … params: <phone>, <message text>, <order snapshot>") and onto the error object
 * (`query`, `params`). Anything that leaves the process — Temporal history, logs — keeps only the
 * PostgreSQL error code and constraint name.
 */
export function databaseCause(err: Error): { code: string; constraint?: string } | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
      const constraint = (e as { constraint?: unknown }).constraint;
      return { code, ...(typeof constraint === 'string' ? { constraint } : {}) };
    }
  }
  return err.message.startsWith('Failed query') ? { code: 'query_failed' } : undefined;
}

/**
 * What a log line may carry of an unexpected error: for a database error its class, code,
 * constraint and our own stack frames; for anything else its message with digit runs masked (a
 * phone that slipped into a message). pino serialises the result like an Error.
 */
export function loggableError(err: unknown): { name: string; message: string; code?: string; constraint?: string; stack?: string } {
  if (!(err instanceof Error)) return { name: typeof err, message: 'non-Error thrown' };
  const frames = (err.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)).join('\n');
  const pg = databaseCause(err);
  if (pg) {
    const message = `database error ${pg.code}${pg.constraint ? ` (${pg.constraint})` : ''}`;
    return { name: err.name, message, ...pg, stack: `${err.name}: ${message}\n${frames}` };
  }
  const message = maskDigitRuns(err.message).slice(0, 500);
  return { name: err.name, message, stack: `${err.name}: ${message}\n${frames}` };
}
