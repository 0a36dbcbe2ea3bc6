import { readFileSync } from 'node:fs';
import type { AppConfig } from '../config.ts';

type TemporalSecurity = Pick<AppConfig, 'TEMPORAL_API_KEY' | 'TEMPORAL_TLS' | 'TEMPORAL_TLS_CLIENT_CERT_PATH' | 'TEMPORAL_TLS_CLIENT_KEY_PATH'>;

/**
 * TLS and API-key options shared by the client and the worker connections, following Temporal's
 * client environment configuration: an API key implies TLS unless TEMPORAL_TLS=false; a client
 * certificate and key mean mTLS (Temporal Cloud's other way in). Plain TCP otherwise, as on the
 * dev server and `npm run cluster`, which listen on 127.0.0.1 only.
 */
export function temporalConnectionOptions(config: TemporalSecurity): {
  tls?: boolean | { clientCertPair: { crt: Buffer; key: Buffer } };
  apiKey?: string;
} {
  const mtls = config.TEMPORAL_TLS_CLIENT_CERT_PATH && config.TEMPORAL_TLS_CLIENT_KEY_PATH
    ? { clientCertPair: { crt: readFileSync(config.TEMPORAL_TLS_CLIENT_CERT_PATH), key: readFileSync(config.TEMPORAL_TLS_CLIENT_KEY_PATH) } }
    : undefined;
  const tlsWanted = config.TEMPORAL_TLS ? config.TEMPORAL_TLS === 'true' : Boolean(config.TEMPORAL_API_KEY || mtls);
  return {
    ...(tlsWanted ? { tls: mtls ?? true } : {}),
    ...(config.TEMPORAL_API_KEY ? { apiKey: config.TEMPORAL_API_KEY } : {}),
  };
}
