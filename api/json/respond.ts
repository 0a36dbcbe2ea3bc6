import type { Context, ErrorHandler } from 'hono';
import { localeFromAcceptLanguage, t } from '../../lib/i18n/messages.ts';
import type { AppContext } from '../../lib/context.ts';
import { loggableError } from '../../lib/db/errors.ts';
import { ConflictError, NotFoundError, UpstreamError, ValidationError } from '../../lib/services/errors.ts';

/**
 * The JSON API's error shape: `{success:false, error:<text in the request's language>,
 * code:<snake_case>, fields?}`. Services throw typed errors; this is the only translation.
 * Unknown errors are a 500, logged once without their query parameters (lib/db/errors.ts).
 */
export function errorResponse(ctx: AppContext, c: Context, err: unknown): Response {
  const locale = localeFromAcceptLanguage(c.req.header('accept-language'));
  const body = (code: string, fields?: Record<string, string>) => ({ success: false as const, error: t(code, locale), code, ...(fields ? { fields } : {}) });
  if (err instanceof ValidationError) return c.json(body(err.code, err.fields), 400);
  if (err instanceof NotFoundError) return c.json(body('not_found'), 404);
  if (err instanceof ConflictError) return c.json(body(err.code, err.fields), 409);
  if (err instanceof UpstreamError) return c.json({ ...body(err.code), detail: err.detail }, 502);
  ctx.logger.error({ err: loggableError(err), path: c.req.path, method: c.req.method }, 'JSON API request failed');
  return c.json(body('internal_error'), 500);
}

/**
 * The JSON sub-apps' onError: a route reads its input, calls a service and answers the happy path;
 * whatever the service throws becomes the response above. Hono runs a sub-app's onError for its
 * middleware and handlers alike, as the pages' pageErrorHandler does.
 */
export function jsonErrorHandler(ctx: AppContext): ErrorHandler {
  return (err, c) => errorResponse(ctx, c, err);
}

/** Whether any string (key or value) holds U+0000, which PostgreSQL text and jsonb cannot store. */
function holdsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (depth > 64 || typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some((v) => holdsNul(v, depth + 1));
  return Object.entries(value).some(([k, v]) => k.includes('\u0000') || holdsNul(v, depth + 1));
}

/**
 * The request body as JSON; anything unparsable is a 400 `invalid_json`, never a 500. A NUL
 * character anywhere is refused here too: PostgreSQL would fail the write with an error of its own.
 */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw new ValidationError({ _: t('invalid_json') }, 'invalid_json');
  }
  if (holdsNul(value)) throw new ValidationError({ _: t('invalid_json') }, 'invalid_json');
  return value;
}
