import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Secrets at rest (Kaspi tokens, WAHA API keys, webhook secrets) are AES-256-GCM ciphertext.
 * Format: `v1:<iv b64url>:<tag b64url>:<ciphertext b64url>`; the version lets us rotate the scheme.
 * The key is SHA-256 of APP_SECRET so any long random string works as a secret.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(appSecret: string) {
    if (appSecret.length < 32) throw new Error('APP_SECRET must be at least 32 characters');
    this.#key = createHash('sha256').update(appSecret, 'utf8').digest();
  }

  encrypt(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join(':');
  }

  /**
   * HMAC-SHA256 of `value` under a key of its own per `purpose`: proof that an answer comes from a
   * server holding this APP_SECRET (lib/review-links/reachability.ts), which never reveals the key
   * or decrypts anything for the asker.
   */
  mac(purpose: string, value: string): string {
    const key = createHmac('sha256', this.#key).update(`purpose:${purpose}`, 'utf8').digest();
    return createHmac('sha256', key).update(value, 'utf8').digest('base64url');
  }

  decrypt(sealed: string): string {
    const [version, iv, tag, body] = sealed.split(':');
    if (version !== 'v1' || !iv || !tag || body === undefined) throw new SecretDecryptError('not a v1 sealed secret');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      // GCM refuses a wrong key and a tampered ciphertext alike; both mean APP_SECRET changed or data is corrupt.
      throw new SecretDecryptError('cannot decrypt: APP_SECRET differs from the one that encrypted this value, or the value was altered');
    }
  }
}

export class SecretDecryptError extends Error {
  override name = 'SecretDecryptError';
}

/** Tokens we hand out (API tokens, session ids) are stored only as this hash. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
