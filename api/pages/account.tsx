import { Hono } from 'hono';
import type { AppContext } from '../../lib/context.ts';
import { listApiTokens, revokeApiToken, tokenState } from '../../lib/auth/api-tokens.ts';
import { csrfProtect, requireSession, type AuthEnv } from '../../lib/auth/middleware.ts';
import { tr } from '../../lib/i18n/request-locale.ts';
import { listStores } from '../../lib/services/stores.ts';
import { Shell } from '../../views/layout.tsx';
import { LanguageCard, TokensPage } from '../../views/pages/account.tsx';
import { setCookie } from 'hono/cookie';
import { setUserLocale } from '../../lib/auth/users.ts';
import { isLocale } from '../../lib/i18n/messages.ts';
import { LOCALE_COOKIE, tc } from '../../lib/i18n/request-locale.ts';
import { safeNext } from '../auth.ts';
import { notFoundPage, pageErrorHandler, redirectWithFlash, takeFlash } from './common.tsx';

// Account pages have no store, so no store time zone: the service's home zone.
const TZ = 'Asia/Almaty';

/**
 * The signed-in user's language and API tokens (mounted at /account). Tokens are issued from the
 * CLI, which shows the token once.
 */
export function accountPageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.use('*', requireSession(ctx), csrfProtect());
  app.use('*', async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store');
  });

  app.get('/tokens', async (c) => {
    const actor = c.get('actor');
    const session = c.get('session');
    const csrf = session?.csrfToken ?? '';
    const [tokens, stores] = await Promise.all([listApiTokens(ctx.db, actor.userId), listStores(ctx, actor)]);
    const storeNames = new Map(stores.map((s) => [s.store_id, s.name]));
    const now = ctx.now();
    const rows = tokens.map((t) => ({ ...t, state: tokenState(t, now), storeName: t.storeId ? storeNames.get(t.storeId) ?? null : null }));
    return c.html(
      <Shell title={tr.tokens.title} csrf={csrf} email={session?.email ?? ''} stores={stores} store={null} flash={takeFlash(c)}>
        <LanguageCard csrf={csrf} />
        <TokensPage csrf={csrf} tokens={rows} timezone={TZ} />
      </Shell>,
    );
  });

  // The language selector (header and this page): stored on the user, and in a cookie so the
  // sign-in page after a logout speaks it too. Back to the page it was chosen on.
  app.post('/locale', async (c) => {
    const form = await c.req.parseBody();
    const locale = form.locale;
    if (!isLocale(locale)) return c.text(tc('validation_failed'), 400);
    await setUserLocale(ctx.db, c.get('actor').userId, locale);
    setCookie(c, LOCALE_COOKIE, locale, { httpOnly: true, sameSite: 'Lax', path: '/', maxAge: 365 * 24 * 3600 });
    return c.redirect(typeof form.next === 'string' ? safeNext(form.next) : '/account/tokens', 303);
  });

  app.post('/tokens/:tokenId/revoke', async (c) => {
    // Only the user's own tokens: another user's id is the same 404 as an unknown one.
    const ok = await revokeApiToken(ctx.db, c.get('actor').userId, c.req.param('tokenId'), ctx.now());
    if (!ok) return notFoundPage(c);
    return redirectWithFlash(c, '/account/tokens', 'token_revoked');
  });

  app.notFound((c) => notFoundPage(c));
  app.onError(pageErrorHandler(ctx));
  return app;
}
