import { Hono } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { isLocale } from '../../lib/i18n/messages.ts';
import { LOCALE_COOKIE, withLocale } from '../../lib/i18n/request-locale.ts';
import type { PageContext } from './common.tsx';
import type { AppContext } from '../../lib/context.ts';
import { requireSession, type AuthEnv } from '../../lib/auth/middleware.ts';
import { loadSession, SESSION_COOKIE } from '../../lib/auth/sessions.ts';
import { tr } from '../../lib/i18n/request-locale.ts';
import { listStores } from '../../lib/services/stores.ts';
import { Bare, Shell } from '../../views/layout.tsx';
import { LoginPage, NoStoresPage, type LoginError } from '../../views/pages/login.tsx';
import { loginCsrfToken, safeNext } from '../auth.ts';

const LOGIN_ERRORS: readonly string[] = ['invalid_credentials', 'rate_limited', 'csrf_failed', 'busy'] satisfies LoginError[];

/** GET /login (the form posts to api/auth.ts POST /login, which redirects back here with ?error=) and GET /. */
export function loginPageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  app.get('/login', async (c) => {
    // The language links under the form: a cookie (there is no user yet), then this page in it.
    const lang = c.req.query('lang');
    if (isLocale(lang)) {
      setCookie(c, LOCALE_COOKIE, lang, { httpOnly: true, sameSite: 'Lax', path: '/', maxAge: 365 * 24 * 3600 });
      return withLocale(lang, () => renderLogin(c));
    }
    return renderLogin(c);
  });

  async function renderLogin(c: PageContext) {
    const next = safeNext(c.req.query('next'));
    if (await loadSession(ctx, getCookie(c, SESSION_COOKIE))) return c.redirect(next, 303);
    const error = c.req.query('error');
    const known = error !== undefined && LOGIN_ERRORS.includes(error) ? (error as LoginError) : null;
    const csrf = loginCsrfToken(c, (ctx.config.PUBLIC_URL ?? '').startsWith('https://'));
    return c.html(
      <Bare title={tr.login.title}>
        <LoginPage csrf={csrf} next={next} error={known} />
      </Bare>,
    );
  }

  /** Home: the first visible store's dashboard, or an empty state. */
  app.get('/', requireSession(ctx), async (c) => {
    const stores = await listStores(ctx, c.get('actor'));
    const first = stores[0];
    if (first) return c.redirect(`/stores/${first.store_id}`, 303);
    const session = c.get('session');
    return c.html(
      <Shell title={tr.noStores.title} csrf={session?.csrfToken ?? ''} email={session?.email ?? ''} stores={[]} store={null}>
        <NoStoresPage />
      </Shell>,
    );
  });
  return app;
}
