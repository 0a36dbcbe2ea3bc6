import type { senders } from '../../drizzle/schema.ts';
import type { AppConfig } from '../config.ts';
import type { SecretBox } from '../crypto.ts';
import { wahaOutboundPolicy } from '../net/outbound.ts';
import { WahaClient } from './client.ts';

export type SenderRow = typeof senders.$inferSelect;

/**
 * The WAHA client of one sending number, its API key decrypted only here, guarded by the
 * process's outbound policy (docs/security.md: no private addresses in production unless
 * WAHA_URL_ALLOWLIST names them).
 */
export function wahaClientForSender(ctx: { secrets: SecretBox; config: Pick<AppConfig, 'NODE_ENV' | 'WAHA_URL_ALLOWLIST'> }, sender: SenderRow, options: { timeoutMs?: number } = {}): WahaClient {
  const apiKey = sender.wahaApiKeyEnc ? ctx.secrets.decrypt(sender.wahaApiKeyEnc) : null;
  return new WahaClient({
    baseUrl: sender.wahaServerUrl,
    apiKey,
    session: sender.wahaSessionName,
    timeoutMs: options.timeoutMs ?? 30_000,
    outbound: wahaOutboundPolicy(ctx.config),
  });
}
