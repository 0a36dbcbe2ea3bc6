import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { constantTimeEqual } from '../crypto.ts';
import type { AppContext } from '../context.ts';
import { localeFromAcceptLanguage, t } from '../i18n/messages.ts';
import type { Actor } from '../services/access.ts';
import { authenticateApiToken } from './api-tokens.ts';
import { loadSession, SESSION_COOKIE, type SessionInfo } from './sessions.ts';
import { withLocale } from '../i18n/request-locale.ts';

/** Hono variables set by the middleware below; type routes as `new Hono<AuthEnv>()`. */
export type AuthEnv = { Variables: { actor: Actor; session: SessionInfo | null } };

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function jsonError(c: Context, status: 401 | 403, code: string) {
  return c.json({ success: false, error: t(code, localeFromAcceptLanguage(c.req.header('accept-language'))), code }, status);
}

function bearer(c: Context): string | null {
  const h = c.req.header('authorization');
  const m = h ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  return m?.[1] ?? null;
}

/** `Authorization: Bearer kn_…` → actor; otherwise 401 JSON `{success:false, error, code:'unauthorized'}`. */
export function requireApiToken(ctx: AppContext): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const token = bearer(c);
    const actor = token ? await authenticateApiToken(ctx.db, token, ctx.now()) : null;
    if (!actor) return jsonError(c, 401, 'unauthorized');
    c.set('actor', actor);
    c.set('session', null);
    await next();
  };
}

/**
 * The JSON API's authentication: a Bearer token, or else the browser session cookie (so the
 * admin pages' htmx can call the same endpoints) — cookie-authenticated state changes then pass
 * `csrfProtect`. Neither → 401 JSON.
 */
export function requireApiAuth(ctx: AppContext): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const token = bearer(c);
    if (token) {
      const actor = await authenticateApiToken(ctx.db, token, ctx.now());
      if (!actor) return jsonError(c, 401, 'unauthorized');
      c.set('actor', actor);
      c.set('session', null);
      return next();
    }
    const session = await loadSession(ctx, getCookie(c, SESSION_COOKIE));
    if (!session) return jsonError(c, 401, 'unauthorized');
    c.set('actor', { kind: 'user', userId: session.userId, isSuperAdmin: session.isSuperAdmin });
    c.set('session', session);
    if (UNSAFE.has(c.req.method) && !(await csrfOk(c, session))) return jsonError(c, 403, 'csrf_failed');
    return next();
  };
}

/** Pages: a valid session cookie, else a redirect to /login?next=… */
export function requireSession(ctx: AppContext, options: { loginPath?: string } = {}): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const session = await loadSession(ctx, getCookie(c, SESSION_COOKIE));
    if (!session) {
      const next_ = encodeURIComponent(new URL(c.req.url).pathname + new URL(c.req.url).search);
      if (c.req.header('hx-request')) {
        c.header('HX-Redirect', `${options.loginPath ?? '/login'}?next=${next_}`);
        return c.body(null, 401);
      }
      return c.redirect(`${options.loginPath ?? '/login'}?next=${next_}`, 303);
    }
    c.set('actor', { kind: 'user', userId: session.userId, isSuperAdmin: session.isSuperAdmin });
    c.set('session', session);
    // Everything this request renders speaks the user's language.
    await withLocale(session.locale, next);
  };
}

async function csrfOk(c: Context, session: SessionInfo): Promise<boolean> {
  let sent = c.req.header('x-csrf-token') ?? null;
  if (!sent) {
    const type = c.req.header('content-type') ?? '';
    if (type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data')) {
      try {
        const body = await c.req.parseBody();
        sent = typeof body._csrf === 'string' ? body._csrf : null;
      } catch {
        sent = null;
      }
    }
  }
  return sent !== null && constantTimeEqual(sent, session.csrfToken);
}

/**
 * After requireSession: POST/PUT/PATCH/DELETE must carry the session's CSRF token in the
 * `X-CSRF-Token` header (htmx: hx-headers) or the `_csrf` form field; else 403. Requests
 * authenticated by a Bearer token (no session) are not subject to it.
 */
export function csrfProtect(): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const session = c.get('session');
    if (session && UNSAFE.has(c.req.method) && !(await csrfOk(c, session))) {
      const wantsJson = (c.req.header('accept') ?? '').includes('application/json') || (c.req.header('content-type') ?? '').includes('json');
      if (wantsJson) return jsonError(c, 403, 'csrf_failed');
      return c.text(t('csrf_failed', localeFromAcceptLanguage(c.req.header('accept-language'))), 403);
    }
    await next();
  };
}
