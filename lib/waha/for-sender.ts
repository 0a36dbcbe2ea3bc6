import type { senders } from '../../drizzle/schema.ts';
import type { SecretBox } from '../crypto.ts';
import { WahaClient } from './client.ts';

export type SenderRow = typeof senders.$inferSelect;

/** The WAHA client of one sending number, its API key decrypted only here. */
export function wahaClientForSender(secrets: SecretBox, sender: SenderRow, options: { timeoutMs?: number } = {}): WahaClient {
  const apiKey = sender.wahaApiKeyEnc ? secrets.decrypt(sender.wahaApiKeyEnc) : null;
  return new WahaClient({ baseUrl: sender.wahaServerUrl, apiKey, session: sender.wahaSessionName, timeoutMs: options.timeoutMs ?? 30_000 });
}
