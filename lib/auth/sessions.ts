import { and, eq, gt, lt } from 'drizzle-orm';
import { sessions, users } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import { randomToken, sha256Hex } from '../crypto.ts';
import { DUMMY_HASH, hashPassword, needsRehash, PasswordCheckBusyError, verifyPassword } from './passwords.ts';
import type { LoginRateLimiter } from './rate-limit.ts';
import { DEFAULT_LOCALE, isLocale, type Locale } from '../i18n/messages.ts';
import { findUserByEmail } from './users.ts';

/**
 * Browser sessions: the cookie `kn_session` holds 32 random bytes; the database holds only their
 * sha256 (a leaked table hands out no live sessions), the user, a per-session CSRF token and an
 * absolute expiry (14 days). Logging out deletes the row.
 */
export const SESSION_COOKIE = 'kn_session';
export const SESSION_TTL_MS = 14 * 24 * 3600_000;

export interface SessionInfo {
  userId: string;
  email: string;
  isSuperAdmin: boolean;
  csrfToken: string;
  expiresAt: Date;
  /** The admin's language (users.locale): ru, kk or en. */
  locale: Locale;
}

export async function createSession(ctx: AppContext, userId: string): Promise<{ token: string; csrfToken: string; expiresAt: Date }> {
  const token = randomToken(32);
  const csrfToken = randomToken(24);
  const expiresAt = new Date(ctx.now().getTime() + SESSION_TTL_MS);
  await ctx.db.insert(sessions).values({ idHash: sha256Hex(token), userId, csrfToken, expiresAt });
  // Housekeeping: expired rows of this user go when they log in again.
  await ctx.db.delete(sessions).where(and(eq(sessions.userId, userId), lt(sessions.expiresAt, ctx.now())));
  return { token, csrfToken, expiresAt };
}

export async function loadSession(ctx: AppContext, token: string | undefined): Promise<SessionInfo | null> {
  if (!token || token.length > 100) return null;
  const [row] = await ctx.db
    .select({ userId: sessions.userId, email: users.email, isSuperAdmin: users.isSuperAdmin, csrfToken: sessions.csrfToken, expiresAt: sessions.expiresAt, locale: users.locale })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.idHash, sha256Hex(token)), gt(sessions.expiresAt, ctx.now())))
    .limit(1);
  return row ? { ...row, locale: isLocale(row.locale) ? row.locale : DEFAULT_LOCALE } : null;
}

export async function destroySession(ctx: AppContext, token: string | undefined): Promise<void> {
  if (!token) return;
  await ctx.db.delete(sessions).where(eq(sessions.idHash, sha256Hex(token)));
}

export type LoginResult =
  | { ok: true; userId: string; token: string; csrfToken: string; expiresAt: Date }
  | { ok: false; code: 'invalid_credentials' }
  | { ok: false; code: 'rate_limited'; retryAfterMs: number }
  | { ok: false; code: 'busy'; retryAfterMs: number };

/** Email + password → a new session, with the limits of rate-limit.ts and the hashing cap of passwords.ts. */
export async function login(ctx: AppContext, limiter: LoginRateLimiter, input: { email: string; password: string; ip: string }): Promise<LoginResult> {
  const now = ctx.now().getTime();
  const wait = await limiter.retryAfterMs(input.email, input.ip, now);
  if (wait > 0) return { ok: false, code: 'rate_limited', retryAfterMs: wait };
  const user = input.email && input.email.length <= 320 ? await findUserByEmail(ctx.db, input.email) : undefined;
  const password = input.password.slice(0, 1024);
  let valid: boolean;
  try {
    // Verifying against DUMMY_HASH when the email is unknown keeps the response time the same.
    valid = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
  } catch (err) {
    // Nothing was checked, so nothing is counted as a failure.
    if (err instanceof PasswordCheckBusyError) return { ok: false, code: 'busy', retryAfterMs: 1000 };
    throw err;
  }
  if (!user || !valid) {
    await limiter.recordFailure(input.email, input.ip, now);
    return { ok: false, code: 'invalid_credentials' };
  }
  await limiter.recordSuccess(input.email, input.ip);
  if (needsRehash(user.passwordHash)) {
    // The password is at hand only now: move the hash to today's parameters. Only if it is still
    // the hash just verified — a password set meanwhile wins.
    const passwordHash = await hashPassword(password);
    await ctx.db.update(users).set({ passwordHash }).where(and(eq(users.id, user.id), eq(users.passwordHash, user.passwordHash)));
  }
  const s = await createSession(ctx, user.id);
  return { ok: true, userId: user.id, ...s };
}
