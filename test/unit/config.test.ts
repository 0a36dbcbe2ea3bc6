import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../lib/config.ts';

describe('config', () => {
  it('gives defaults with nothing set', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(3000);
    expect(config.TEMPORAL_PORT).toBe(7233);
    expect(config.TEMPORAL_UI_PORT).toBe(8233);
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.KASPI_API_URL).toBe('https://kaspi.kz/shop/api/v2');
    expect(config.WORKER_MAX_CACHED_WORKFLOWS).toBe(100);
  });

  it.each([
    [{ PORT: 'eighty' }, /^Invalid PORT \(got "eighty"\): /],
    [{ PORT: '70000' }, /^Invalid PORT .*1–65535/],
    [{ DATABASE_URL: 'mysql://x' }, /^Invalid DATABASE_URL .*postgres:\/\//],
    [{ TEMPORAL_ADDRESS: 'http://x' }, /^Invalid TEMPORAL_ADDRESS .*host:port/],
    [{ LOG_LEVEL: 'loud' }, /^Invalid LOG_LEVEL/],
    [{ PUBLIC_URL: 'not a url' }, /^Invalid PUBLIC_URL .*URL/],
    [{ WORKER_MAX_CACHED_WORKFLOWS: '5000' }, /^Invalid WORKER_MAX_CACHED_WORKFLOWS \(got "5000"\): must be at most 2000/],
  ])('names the variable and the problem in one line: %o', (env, message) => {
    expect(() => loadConfig(env)).toThrowError(ConfigError);
    try {
      loadConfig(env);
    } catch (err) {
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('never echoes APP_SECRET in its error', () => {
    expect(() => loadConfig({ APP_SECRET: 'short-secret' })).toThrowError(/^Invalid APP_SECRET: must be at least 32/);
    expect(() => loadConfig({ APP_SECRET: 'short-secret' })).not.toThrowError(/short-secret/);
  });

  it('requires APP_SECRET in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrowError(/APP_SECRET: required when NODE_ENV=production/);
    expect(loadConfig({ NODE_ENV: 'production', APP_SECRET: 'x'.repeat(32) }).NODE_ENV).toBe('production');
  });

  it('parses the WAHA allow-list', () => {
    expect(loadConfig({ WAHA_URL_ALLOWLIST: ' http://waha:3000 , https://w.example.kz ' }).WAHA_URL_ALLOWLIST).toEqual(['http://waha:3000', 'https://w.example.kz']);
    expect(loadConfig({}).WAHA_URL_ALLOWLIST).toEqual([]);
  });
});

describe('config secrets in errors (issue 12, item 8)', () => {
  it('a bad DATABASE_URL is not echoed with its password', () => {
    for (const url of ['mysql://kn:hunter2-secret@db:5432/kn', 'postgres://kn:hunter2-secret@db:5432/kn?sslmode=bogus x']) {
      let message = '';
      try {
        loadConfig({ DATABASE_URL: url, PORT: 'eighty' });
        loadConfig({ DATABASE_URL: url });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).not.toContain('hunter2');
    }
    expect(() => loadConfig({ DATABASE_URL: 'mysql://kn:hunter2-secret@db:5432/kn' })).toThrowError(/^Invalid DATABASE_URL/);
  });
});
