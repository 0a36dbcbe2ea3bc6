import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AppContext } from '../lib/context.ts';
import { constantTimeEqual, randomToken } from '../lib/crypto.ts';
import { csrfProtect, requireSession, type AuthEnv } from '../lib/auth/middleware.ts';
import { createLoginRateLimiter, type LoginRateLimiter } from '../lib/auth/rate-limit.ts';
import { destroySession, login, SESSION_COOKIE } from '../lib/auth/sessions.ts';
import { localeFromAcceptLanguage, t } from '../lib/i18n/messages.ts';

/**
 * POST /login and POST /logout, answering JSON to JSON callers and redirects to forms (the page
 * engineer renders GET /login and shows `?error=`). The client IP is the socket address — a
 * spoofable X-Forwarded-For is not trusted; behind a reverse proxy every client then shares the
 * proxy's address, which makes the per-(email, IP) limit stricter, not weaker.
 */
export function clientIp(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Only same-site relative paths: `/x`, never `//evil`, `https://…` or `/\t/evil` (browsers drop
 * tabs and newlines in a Location, turning it into `//evil`).
 */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])[^\s\\\p{Cc}]*$/u.test(next) ? next : '/';
}

/**
 * Login CSRF: without it another site could post its own credentials to /login and have the
 * victim's browser work, unnoticed, in the attacker's account. GET /login puts a random token in
 * a cookie only /login receives and in the form; POST /login (forms) needs both to match. A JSON
 * login is exempt: a cross-site page cannot send `application/json` without a CORS preflight,
 * which this server never grants.
 */
export const LOGIN_CSRF_COOKIE = 'kn_login_csrf';

export function loginCsrfToken(c: Context, secure: boolean): string {
  const existing = getCookie(c, LOGIN_CSRF_COOKIE);
  if (existing && /^[\w-]{32}$/.test(existing)) return existing;
  const token = randomToken(24);
  setCookie(c, LOGIN_CSRF_COOKIE, token, { httpOnly: true, sameSite: 'Lax', secure, path: '/login', maxAge: 24 * 3600 });
  return token;
}

/** The media type without parameters: `text/plain; x=application/json` is not JSON. */
function isJsonBody(c: Context): boolean {
  return (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

export function authRoutes(ctx: AppContext, options: { limiter?: LoginRateLimiter } = {}): Hono<AuthEnv> {
  const limiter = options.limiter ?? createLoginRateLimiter();
  const secure = (ctx.config.PUBLIC_URL ?? '').startsWith('https://');
  const app = new Hono<AuthEnv>();

  app.post('/login', async (c) => {
    const isJson = isJsonBody(c);
    let email = '';
    let password = '';
    let next: unknown;
    let csrf: unknown;
    try {
      const body = isJson ? ((await c.req.json()) as Record<string, unknown>) : await c.req.parseBody();
      email = typeof body.email === 'string' ? body.email.trim() : '';
      password = typeof body.password === 'string' ? body.password : '';
      next = body.next;
      csrf = body._csrf;
    } catch {
      // An unreadable body is a failed login like any other.
    }
    const nextQuery = typeof next === 'string' ? `&next=${encodeURIComponent(safeNext(next))}` : '';
    if (!isJson) {
      const cookie = getCookie(c, LOGIN_CSRF_COOKIE);
      if (!cookie || typeof csrf !== 'string' || !constantTimeEqual(cookie, csrf)) return c.redirect(`/login?error=csrf_failed${nextQuery}`, 303);
    }
    const locale = localeFromAcceptLanguage(c.req.header('accept-language'));
    const result = await login(ctx, limiter, { email, password, ip: clientIp(c) });
    if (!result.ok) {
      if (result.code === 'rate_limited') c.header('Retry-After', String(Math.ceil(result.retryAfterMs / 1000)));
      if (isJson) return c.json({ success: false, error: t(result.code, locale), code: result.code }, result.code === 'rate_limited' ? 429 : 401);
      return c.redirect(`/login?error=${result.code}${nextQuery}`, 303);
    }
    setCookie(c, SESSION_COOKIE, result.token, { httpOnly: true, sameSite: 'Lax', secure, path: '/', expires: result.expiresAt });
    if (isJson) return c.json({ success: true, csrf_token: result.csrfToken });
    return c.redirect(safeNext(next), 303);
  });

  app.post('/logout', requireSession(ctx), csrfProtect(), async (c) => {
    await destroySession(ctx, getCookie(c, SESSION_COOKIE));
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure });
    if ((c.req.header('accept') ?? '').includes('application/json')) return c.json({ success: true });
    return c.redirect('/login', 303);
  });
  return app;
}
