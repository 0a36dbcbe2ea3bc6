import { z } from 'zod';
import { currentLocale, vtext } from '../i18n/request-locale.ts';

const ru = z.locales.ru();
const en = z.locales.en();

/**
 * Messages for zod's built-in checks in the request's language (Russian outside a request, so the
 * JSON API keeps answering in Russian); a missing field reads «Обязательное поле». zod has no Kazakh
 * locale: Kazakh names a missing field and otherwise says the value is invalid.
 */
export const ruErrorMap: z.core.$ZodErrorMap = (issue) => {
  const missing = issue.code === 'invalid_type' && issue.input === undefined;
  const locale = currentLocale();
  if (missing) return vtext('required');
  if (locale === 'kk') return vtext('invalidValue');
  return (locale === 'en' ? en : ru).localeError(issue);
};

/**
 * Typed errors every service throws. Routes (JSON API, pages) translate them into responses; the
 * services never know about HTTP. Field messages are Russian and shown next to the field as is.
 */
export class ServiceError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export class ValidationError extends ServiceError {
  override name = 'ValidationError';
  constructor(readonly fields: Record<string, string>, code = 'validation_failed') {
    super(code, Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('; '));
  }
}

/** Anything the actor cannot see, or that does not exist, or a malformed id: one answer for all. */
export class NotFoundError extends ServiceError {
  override name = 'NotFoundError';
  constructor(code = 'not_found') {
    super(code, 'not found');
  }
}

export class ConflictError extends ServiceError {
  override name = 'ConflictError';
  constructor(code: string, readonly detail: string, readonly fields?: Record<string, string>) {
    super(code, detail);
  }
}

/** An upstream (WAHA) failure: not the caller's fault, not ours either. */
export class UpstreamError extends ServiceError {
  override name = 'UpstreamError';
  constructor(code: string, readonly detail: string) {
    super(code, detail);
  }
}

/** zod issues → { field: first Russian message } (nested paths joined with "."). */
export function zodFields(error: z.ZodError): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    const key = issue.path.length ? issue.path.map(String).join('.') : '_';
    if (!(key in fields)) fields[key] = issue.message;
  }
  return fields;
}

export function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const parsed = schema.safeParse(input, { error: ruErrorMap });
  if (!parsed.success) throw new ValidationError(zodFields(parsed.error));
  return parsed.data;
}
