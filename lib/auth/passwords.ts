import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { availableParallelism } from 'node:os';

const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))));

/**
 * OWASP Password Storage Cheat Sheet: scrypt N=2^17, r=8, p=1 or an equivalent; N=2^15, r=8, p=3
 * is one of its listed equivalents and keeps each hash at 32 MiB instead of 128 MiB, which matters
 * more here than CPU (the hashing cap below bounds both). Parameters are stored with each hash and
 * an older hash is replaced at the next successful login (needsRehash).
 */
const PARAMS = { N: 32768, r: 8, p: 3 };
const MAXMEM = 64 * 1024 * 1024;

/**
 * Password checks are the one expensive thing a stranger can ask for (32 MiB and ~0.3 s each), so
 * at most one per core runs at once and a few more may wait; beyond that a login is refused as
 * busy rather than queued without bound. Hashing a new password (admin CLI, first admin) waits.
 */
const MAX_ACTIVE = Math.max(2, Math.min(availableParallelism(), 8));
const MAX_WAITING = 16;
let active = 0;
const waiting: Array<() => void> = [];

export class PasswordCheckBusyError extends Error {
  override name = 'PasswordCheckBusyError';
}

async function withHashSlot<T>(fn: () => Promise<T>, bounded: boolean): Promise<T> {
  if (active < MAX_ACTIVE) {
    active++;
  } else {
    if (bounded && waiting.length >= MAX_WAITING) throw new PasswordCheckBusyError('too many password checks at once');
    // The finishing holder hands its slot over, so `active` stays counted.
    await new Promise<void>((resolve) => waiting.push(resolve));
  }
  try {
    return await fn();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else active--;
  }
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await withHashSlot(() => scrypt(password, salt, 32, { ...PARAMS, maxmem: MAXMEM }), false);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Throws PasswordCheckBusyError when too many checks are running and waiting. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const actual = await withHashSlot(() => scrypt(password, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: MAXMEM }), true);
  return timingSafeEqual(actual, expected);
}

/** True when `stored` was made with other parameters than today's. */
export function needsRehash(stored: string): boolean {
  return !stored.startsWith(`scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$`);
}

/** A well-formed hash of nothing, checked when the email is unknown so the answer takes as long. */
export const DUMMY_HASH = `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;

export const MIN_PASSWORD_LENGTH = 10;
