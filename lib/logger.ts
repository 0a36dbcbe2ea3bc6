import pino, { type Logger } from 'pino';

/**
 * Structured logs. Redaction is a safety net, not the policy: code must not put tokens, full phones
 * or message texts into log fields at all (see lib/waha/redact.ts for scrubbing third-party text).
 */
export const REDACT_PATHS = [
  '*.token', '*.apiKey', '*.api_key', '*.password', '*.secret', '*.kaspiToken', '*.wahaApiKey',
  '*.text', '*.messageText', '*.phone', '*.chatId', 'headers["x-auth-token"]', 'headers["x-api-key"]',
  'headers.authorization', 'headers.cookie',
];

export function createLogger(options: { level?: string; name?: string; pretty?: boolean } = {}): Logger {
  const pretty = options.pretty ?? (process.env.NODE_ENV !== 'production' && process.stderr.isTTY === true);
  return pino({
    name: options.name ?? 'kaspi-notify',
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } } } : {}),
  }, pretty ? undefined : pino.destination(2));
}

export type { Logger };
