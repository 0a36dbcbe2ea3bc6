import { describe, expect, it } from 'vitest';
import {
  ackToStatus,
  keyIdOf,
  normalizeSessionStatus,
  parseWebhook,
  signWebhook,
  verifyWebhookHmac,
  WebhookPayloadError,
} from '../../lib/waha/webhooks.ts';

// The vector published in WAHA's documentation (docs/contracts/waha.md).
const VECTOR_KEY = 'my-secret-key';
const VECTOR_BODY = '{"event":"message","session":"default","engine":"WEBJS"}';
const VECTOR_HMAC =
  '208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8097c462b2b17a6ce93b6b47a136cf2e78a33a63f6752c2c1631777076153fa89';

describe('webhook HMAC', () => {
  it('reproduces the test vector from WAHA docs', () => {
    expect(signWebhook(VECTOR_BODY, VECTOR_KEY)).toBe(VECTOR_HMAC);
    expect(signWebhook(Buffer.from(VECTOR_BODY), VECTOR_KEY)).toBe(VECTOR_HMAC);
  });

  it('accepts the vector from a string or a Buffer body', () => {
    expect(verifyWebhookHmac(VECTOR_BODY, VECTOR_HMAC, VECTOR_KEY)).toBe(true);
    expect(verifyWebhookHmac(Buffer.from(VECTOR_BODY, 'utf8'), VECTOR_HMAC, VECTOR_KEY)).toBe(true);
    // Hex is case-insensitive; a proxy that upper-cases headers values must not break verification.
    expect(verifyWebhookHmac(VECTOR_BODY, VECTOR_HMAC.toUpperCase(), VECTOR_KEY)).toBe(true);
  });

  it('rejects a wrong key, a changed body, a missing or malformed header', () => {
    expect(verifyWebhookHmac(VECTOR_BODY, VECTOR_HMAC, 'other-key')).toBe(false);
    expect(verifyWebhookHmac(`${VECTOR_BODY} `, VECTOR_HMAC, VECTOR_KEY)).toBe(false);
    expect(verifyWebhookHmac('{"session":"default","event":"message","engine":"WEBJS"}', VECTOR_HMAC, VECTOR_KEY)).toBe(false);
    expect(verifyWebhookHmac(VECTOR_BODY, undefined, VECTOR_KEY)).toBe(false);
    expect(verifyWebhookHmac(VECTOR_BODY, '', VECTOR_KEY)).toBe(false);
    expect(verifyWebhookHmac(VECTOR_BODY, VECTOR_HMAC.slice(0, 64), VECTOR_KEY)).toBe(false);
    expect(verifyWebhookHmac(VECTOR_BODY, `${VECTOR_HMAC.slice(0, 127)}z`, VECTOR_KEY)).toBe(false);
    expect(verifyWebhookHmac(VECTOR_BODY, VECTOR_HMAC, '')).toBe(false);
  });
});

const envelope = (event: string, payload: unknown) => ({
  id: 'evt_01jabcdefghjkmnpqrstvwxyz0',
  timestamp: 1_700_000_000_123,
  event,
  session: 'default',
  me: { id: '77000000001@c.us', pushName: 'Shop' },
  payload,
  engine: 'NOWEB',
  environment: { version: '2026.7.1', engine: 'NOWEB', tier: 'CORE', browser: null, platform: 'linux/x64', worker: { id: null } },
  metadata: {},
});

describe('parseWebhook', () => {
  it('parses message.ack from the raw body', () => {
    const raw = JSON.stringify(envelope('message.ack', {
      id: 'true_77011234567@c.us_BAE5F00D12345678', from: '77000000001@c.us', to: '77011234567@c.us', fromMe: true, ack: 2, ackName: 'DEVICE',
    }));
    const parsed = parseWebhook(raw);
    expect(parsed.event).toBe('message.ack');
    if (parsed.event !== 'message.ack') throw new Error('narrowing');
    expect(parsed.envelope.id).toBe('evt_01jabcdefghjkmnpqrstvwxyz0');
    expect(parsed.payload.ack).toBe(2);
    expect(keyIdOf(parsed.payload.id)).toBe('BAE5F00D12345678');
  });

  it('parses session.status, message and message.any', () => {
    const status = parseWebhook(envelope('session.status', { name: 'default', status: 'SCAN_QR_CODE', statuses: [{ status: 'STARTING', timestamp: 1 }] }));
    expect(status.event === 'session.status' && status.payload.status).toBe('SCAN_QR_CODE');

    const incoming = parseWebhook(Buffer.from(JSON.stringify(envelope('message', {
      id: 'false_77011234567@c.us_3EB0AA', from: '77011234567@c.us', to: '77000000001@c.us', fromMe: false, body: 'СТОП', timestamp: 1_700_000_000,
    }))));
    expect(incoming.event).toBe('message');
    expect(incoming.event === 'message' && incoming.payload.body).toBe('СТОП');

    const echo = parseWebhook(envelope('message.any', {
      id: 'true_77011234567@c.us_3EB0BB', from: '77000000001@c.us', fromMe: true, source: 'api', body: null, timestamp: 1_700_000_000,
    }));
    expect(echo.event === 'message.any' && echo.payload).toMatchObject({ source: 'api', body: '' });
  });

  it('returns events we do not handle as ignored', () => {
    expect(parseWebhook(envelope('presence.update', { whatever: true })).event).toBe('ignored');
  });

  it('rejects a bad envelope or payload without quoting personal data', () => {
    expect(() => parseWebhook('not json')).toThrow(WebhookPayloadError);
    expect(() => parseWebhook(JSON.stringify({ event: 'message.ack' }))).toThrow(/envelope invalid/);
    const bad = envelope('message.ack', { id: 'true_77011234567@c.us_X', ack: 'Здравствуйте, Айгерим! 77011234567' });
    let message = '';
    try {
      parseWebhook(bad);
    } catch (err) {
      expect(err).toBeInstanceOf(WebhookPayloadError);
      message = (err as Error).message;
    }
    expect(message).toMatch(/message\.ack payload invalid: ack/);
    expect(message).not.toContain('Айгерим');
    expect(message).not.toContain('77011234567');
  });

  it('accepts a session status it does not know (newer WAHA) and rejects an ack outside −1..4', () => {
    const parsed = parseWebhook(envelope('session.status', { name: 'default', status: 'SLEEPING' }));
    expect(parsed).toMatchObject({ event: 'session.status', payload: { status: 'SLEEPING' } });
    expect(() => parseWebhook(envelope('message.ack', { id: 'x', ack: 5 }))).toThrow(WebhookPayloadError);
  });
});

describe('keyIdOf', () => {
  it('takes the WhatsApp key id from every engine\'s ids', () => {
    expect(keyIdOf('true_77011234567@c.us_3EB0C0FFEE1234567890')).toBe('3EB0C0FFEE1234567890');
    expect(keyIdOf('true_77011234567@c.us_BAE5F00D12345678')).toBe('BAE5F00D12345678');
    expect(keyIdOf('false_77011234567@s.whatsapp.net_ABC')).toBe('ABC');
    expect(keyIdOf('true_123456789@lid_3EB0AB')).toBe('3EB0AB');
  });

  it('skips a group message\'s participant and passes a bare key through', () => {
    expect(keyIdOf('false_120363000000000000@g.us_3EB0DD_77011234567@c.us')).toBe('3EB0DD');
    expect(keyIdOf('BAE5F00D12345678')).toBe('BAE5F00D12345678');
  });
});

describe('ackToStatus', () => {
  it('maps every ack WAHA defines', () => {
    expect(ackToStatus(-1)).toBe('failed');
    expect(ackToStatus(0)).toBeNull();
    expect(ackToStatus(1)).toBe('sent');
    expect(ackToStatus(2)).toBe('delivered');
    expect(ackToStatus(3)).toBe('read');
    expect(ackToStatus(4)).toBe('read');
    expect(ackToStatus(7)).toBeNull();
  });
});

describe('normalizeSessionStatus', () => {
  it('folds passkey states into SCAN_QR_CODE and keeps the rest', () => {
    expect(normalizeSessionStatus('PASSKEY_REQUIRED')).toBe('SCAN_QR_CODE');
    expect(normalizeSessionStatus('PASSKEY_CONFIRMATION_REQUIRED')).toBe('SCAN_QR_CODE');
    for (const s of ['STOPPED', 'STARTING', 'SCAN_QR_CODE', 'WORKING', 'FAILED'] as const) expect(normalizeSessionStatus(s)).toBe(s);
  });

  it('never takes a state it does not know for WORKING', () => {
    for (const s of ['SLEEPING', 'working', 'WORKING_SOON', '']) expect(normalizeSessionStatus(s)).toBe('FAILED');
  });
});
