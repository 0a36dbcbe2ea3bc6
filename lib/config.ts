import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * Every environment variable the product reads, in one place. `docker-compose.yml` is checked
 * against `CONFIG_VARIABLES` by a test, so a variable set there that nothing reads fails CI.
 */
const port = z.coerce.number().int().min(1, 'must be a port number 1–65535').max(65535, 'must be a port number 1–65535');
const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : typeof v === 'string' ? v.trim() : v);
const optionalUrl = z.preprocess(blankToUndefined, z.url({ message: 'must be a URL such as http://host:port' }).optional());

function isHttpUrl(entry: string): boolean {
  try {
    const u = new URL(entry);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
  } catch {
    return false;
  }
}

const urlList = z
  .string()
  .optional()
  .transform((s) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean))
  .refine((list) => list.every(isHttpUrl), 'must be http(s) URLs separated by commas, e.g. http://waha:3000, https://waha.example.kz');

function isIpOrCidr(entry: string): boolean {
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (!family || rest.length) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** A connection string as it may be shown: the password masked, or nothing when it does not parse. */
export function redactDatabaseUrl(value: string): string {
  try {
    const u = new URL(value);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL, not shown)';
  }
}

const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z
    .string()
    .trim()
    .optional()
    .transform((s) => (s === '' ? undefined : s))
    .refine((s) => s === undefined || /^postgres(ql)?:\/\//.test(s), 'must start with postgres:// or postgresql://'),
  TEMPORAL_ADDRESS: z
    .string()
    .trim()
    .optional()
    .transform((s) => (s === '' ? undefined : s))
    .refine((s) => s === undefined || /^[\w.-]+:\d+$/.test(s), 'must be host:port, e.g. 127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().trim().min(1, 'must not be empty').default('default'),
  /**
   * An existing cluster or Temporal Cloud, under the names of Temporal's own client environment
   * configuration (docs/operations.md): an API key turns TLS on; mTLS takes a client certificate
   * and key; TEMPORAL_TLS=true alone is TLS with the system's CAs.
   */
  TEMPORAL_API_KEY: z.string().trim().optional().transform((s) => (s === '' ? undefined : s)),
  TEMPORAL_TLS: z.enum(['true', 'false']).optional(),
  TEMPORAL_TLS_CLIENT_CERT_PATH: z.preprocess(blankToUndefined, z.string().trim().min(1).optional()),
  TEMPORAL_TLS_CLIENT_KEY_PATH: z.preprocess(blankToUndefined, z.string().trim().min(1).optional()),
  TEMPORAL_TASK_QUEUE: z.string().trim().min(1, 'must not be empty').default('kaspi-notify'),
  TEMPORAL_UI_URL: optionalUrl,
  TEMPORAL_CLI: z.string().trim().optional(),
  PORT: port.default(3000),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  WORKER_METRICS_PORT: port.default(9464),
  /**
   * Workflows kept in the worker's cache. Each costs ~0.25 MB of RSS (its state in the workflow
   * thread and in the Rust core; bench/RESULTS.md "Worker memory with 10,000 notifications awaiting
   * acks"); one that falls out replays its short history when its next task comes. 100 keeps a worker
   * with 10,000 notifications awaiting acks under 300 MB. The maximum keeps the workflow thread well
   * inside the worker's heap limit (lib/temporal/worker-node-flags.ts).
   */
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(10, 'must be at least 10').max(2_000, 'must be at most 2000 (the worker heap limit; docs/operations.md, "Worker memory")').default(100),
  APP_SECRET: z
    .string()
    .trim()
    .optional()
    .transform((s) => (s === '' ? undefined : s))
    .refine((s) => s === undefined || s.length >= 32, 'must be at least 32 characters (try: openssl rand -hex 32)'),
  PUBLIC_URL: optionalUrl,
  KASPI_API_URL: z.url({ message: 'must be a URL such as https://kaspi.kz/shop/api/v2' }).default('https://kaspi.kz/shop/api/v2'),
  /**
   * /metrics on the web port lists every store's counters: served only with
   * `Authorization: Bearer <METRICS_TOKEN>`, and not at all while it is unset.
   */
  METRICS_TOKEN: z
    .string()
    .trim()
    .optional()
    .transform((s) => (s === '' ? undefined : s))
    .refine((s) => s === undefined || s.length >= 16, 'must be at least 16 characters (try: openssl rand -hex 32)'),
  /**
   * Reverse proxies whose X-Forwarded-For is believed, as IP addresses or CIDR ranges
   * (`127.0.0.1, 10.0.0.0/8, fd00::/8`). Empty: the socket address is the client.
   */
  TRUSTED_PROXIES: z
    .string()
    .optional()
    .transform((s) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean))
    .refine((list) => list.every(isIpOrCidr), 'must be IP addresses or CIDR ranges separated by commas, e.g. 127.0.0.1, 10.0.0.0/8'),
  /**
   * WAHA URLs store admins may use (`http://waha:3000, https://waha.example.kz/tenant1`), checked
   * when saved and on every request (lib/net/outbound.ts). Empty: any URL, but with
   * NODE_ENV=production only public addresses, so a WAHA on localhost or the compose network
   * must be listed here (docs/security.md).
   */
  WAHA_URL_ALLOWLIST: urlList,
  /** Alert webhook URLs likewise: empty = any public address in production; listed ones may be private. */
  ALERT_WEBHOOK_ALLOWLIST: urlList,
  DATA_DIR: z.string().trim().min(1).default('.data'),
  /** Words that, sent alone by a buyer, opt them out (comma-separated; replaces the RU/KZ/EN defaults). */
  OPT_OUT_WORDS: z
    .string()
    .optional()
    .transform((s) => (s ?? '').split(',').map((x) => x.trim().toLowerCase()).filter(Boolean)),
});

export type AppConfig = z.infer<typeof configSchema>;
export const CONFIG_VARIABLES: readonly string[] = Object.keys(configSchema.shape);

const outboundSchema = configSchema.pick({ NODE_ENV: true, WAHA_URL_ALLOWLIST: true, ALERT_WEBHOOK_ALLOWLIST: true });
export type OutboundConfig = z.infer<typeof outboundSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; the first problem becomes one line that names the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue?.path[0] ?? 'environment');
    const value = env[variable];
    const shown = value === undefined || variable === 'APP_SECRET' || variable === 'METRICS_TOKEN' || variable === 'TEMPORAL_API_KEY' ? ''
      : variable === 'DATABASE_URL' ? ` (got "${redactDatabaseUrl(value)}")` : ` (got "${value}")`;
    throw new ConfigError(`Invalid ${variable}${shown}: ${issue?.message ?? 'invalid value'}`);
  }
  const config = parsed.data;
  if (!config.TEMPORAL_TLS_CLIENT_CERT_PATH !== !config.TEMPORAL_TLS_CLIENT_KEY_PATH) {
    throw new ConfigError('Invalid TEMPORAL_TLS_CLIENT_CERT_PATH/TEMPORAL_TLS_CLIENT_KEY_PATH: set both (mTLS) or neither');
  }
  if (config.NODE_ENV === 'production' && !config.APP_SECRET) {
    throw new ConfigError('Invalid APP_SECRET: required when NODE_ENV=production (try: openssl rand -hex 32)');
  }
  return config;
}

/**
 * Only the variables that decide where outbound requests may go; for code without an AppContext
 * (lib/net/outbound.ts). Other variables are not required here (APP_SECRET may come from DATA_DIR).
 */
export function loadOutboundConfig(env: NodeJS.ProcessEnv = process.env): OutboundConfig {
  const parsed = outboundSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`Invalid ${String(issue?.path[0] ?? 'environment')}: ${issue?.message ?? 'invalid value'}`);
  }
  return parsed.data;
}
