import { describe, expect, it } from 'vitest';
import { SecretBox, SecretDecryptError, constantTimeEqual, sha256Hex } from '../../lib/crypto.ts';

const KEY_A = 'a'.repeat(40);
const KEY_B = 'b'.repeat(40);

describe('SecretBox', () => {
  it('round-trips and never stores the plaintext', () => {
    const box = new SecretBox(KEY_A);
    const sealed = box.encrypt('kaspi-token-123');
    expect(sealed).toMatch(/^v1:/);
    expect(sealed).not.toContain('kaspi-token-123');
    expect(box.decrypt(sealed)).toBe('kaspi-token-123');
  });

  it('uses a fresh IV every time', () => {
    const box = new SecretBox(KEY_A);
    expect(box.encrypt('same')).not.toBe(box.encrypt('same'));
  });

  it('fails loudly with a wrong key', () => {
    const sealed = new SecretBox(KEY_A).encrypt('secret');
    expect(() => new SecretBox(KEY_B).decrypt(sealed)).toThrowError(SecretDecryptError);
    expect(() => new SecretBox(KEY_B).decrypt(sealed)).toThrowError(/APP_SECRET differs/);
  });

  it('detects tampering', () => {
    const box = new SecretBox(KEY_A);
    const [v, iv, tag, body] = box.encrypt('secret').split(':');
    const flipped = Buffer.from(body!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    expect(() => box.decrypt([v, iv, tag, flipped.toString('base64url')].join(':'))).toThrowError(SecretDecryptError);
    expect(() => box.decrypt('garbage')).toThrowError(SecretDecryptError);
  });

  it('refuses a short key', () => {
    expect(() => new SecretBox('short')).toThrowError(/32 characters/);
  });
});

describe('helpers', () => {
  it('hashes and compares', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
  });
});
