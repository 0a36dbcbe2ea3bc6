import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AppContext } from '../lib/context.ts';
import { constantTimeEqual, randomToken } from '../lib/crypto.ts';
import { csrfProtect, requireSession, type AuthEnv } from '../lib/auth/middleware.ts';
import { clientAddressResolver } from '../lib/auth/client-ip.ts';
import { createLoginRateLimiter, type LoginRateLimiter } from '../lib/auth/rate-limit.ts';
import { destroySession, login, SESSION_COOKIE } from '../lib/auth/sessions.ts';
import { localeFromAcceptLanguage, t } from '../lib/i18n/messages.ts';

/**
 * POST /login and POST /logout, answering JSON to JSON callers and redirects to forms (the page
 * engineer renders GET /login and shows `?error=`). The client address for the login limits is
 * the socket's, or X-Forwarded-For's when the socket is one of TRUSTED_PROXIES
 * (lib/auth/client-ip.ts).
 */
export function clientIp(c: Context, resolve: ReturnType<typeof clientAddressResolver> = clientAddressResolver([])): string {
  let socket: string | undefined;
  try {
    socket = getConnInfo(c).remote.address;
  } catch {
    socket = undefined;
  }
  return resolve(socket, c.req.header('x-forwarded-for'));
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
  const limiter = options.limiter ?? createLoginRateLimiter(ctx.db);
  const resolveClient = clientAddressResolver(ctx.config.TRUSTED_PROXIES);
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
      // Control characters are never part of an address, and PostgreSQL refuses a NUL outright.
      email = typeof body.email === 'string' ? body.email.replace(/\p{Cc}/gu, '').trim() : '';
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
    const result = await login(ctx, limiter, { email, password, ip: clientIp(c, resolveClient) });
    if (!result.ok) {
      if (result.code !== 'invalid_credentials') c.header('Retry-After', String(Math.ceil(result.retryAfterMs / 1000)));
      const status = result.code === 'rate_limited' ? 429 : result.code === 'busy' ? 503 : 401;
      if (isJson) return c.json({ success: false, error: t(result.code, locale), code: result.code }, status);
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
