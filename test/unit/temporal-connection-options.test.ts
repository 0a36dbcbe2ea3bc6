import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../lib/config.ts';
import { temporalConnectionOptions } from '../../lib/temporal/connection-options.ts';

describe('Temporal connection security (existing cluster, Temporal Cloud)', () => {
  it('is plain TCP when nothing is set, as on the dev server and npm run cluster', () => {
    expect(temporalConnectionOptions(loadConfig({}))).toEqual({});
  });

  it('an API key turns TLS on, unless TEMPORAL_TLS=false says otherwise', () => {
    expect(temporalConnectionOptions(loadConfig({ TEMPORAL_API_KEY: 'key-123' }))).toEqual({ tls: true, apiKey: 'key-123' });
    expect(temporalConnectionOptions(loadConfig({ TEMPORAL_API_KEY: 'key-123', TEMPORAL_TLS: 'false' }))).toEqual({ apiKey: 'key-123' });
  });

  it('a client certificate and key are mTLS', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kn-mtls-'));
    writeFileSync(path.join(dir, 'client.pem'), 'CERT');
    writeFileSync(path.join(dir, 'client.key'), 'KEY');
    const options = temporalConnectionOptions(loadConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: path.join(dir, 'client.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: path.join(dir, 'client.key') }));
    expect(options.tls).toEqual({ clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') } });
  });

  it('refuses half an mTLS pair, and never prints the API key in a config error', () => {
    expect(() => loadConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/tmp/c.pem' })).toThrow(ConfigError);
    try {
      loadConfig({ TEMPORAL_API_KEY: 'secret-key', TEMPORAL_TLS: 'yes' });
    } catch (err) {
      expect((err as Error).message).toContain('TEMPORAL_TLS');
      expect((err as Error).message).not.toContain('secret-key');
    }
    expect(() => loadConfig({ TEMPORAL_API_KEY: 'secret-key', TEMPORAL_TLS: 'yes' })).toThrow(ConfigError);
  });
});

describe('blank Temporal security variables', () => {
  it('count as unset (npm run cluster blanks them for its local workers)', () => {
    const config = loadConfig({ TEMPORAL_API_KEY: '', TEMPORAL_TLS: 'false', TEMPORAL_TLS_CLIENT_CERT_PATH: '', TEMPORAL_TLS_CLIENT_KEY_PATH: '' });
    expect(temporalConnectionOptions(config)).toEqual({});
  });
});
