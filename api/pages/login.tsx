import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import type { AppContext } from '../../lib/context.ts';
import { requireSession, type AuthEnv } from '../../lib/auth/middleware.ts';
import { loadSession, SESSION_COOKIE } from '../../lib/auth/sessions.ts';
import { listStores } from '../../lib/services/stores.ts';
import { Field } from '../../views/components.tsx';
import { ru, t } from '../../lib/i18n/messages.ts';
import { Bare, Shell } from '../../views/layout.tsx';
import { loginCsrfToken, safeNext } from '../auth.ts';

/** GET /login (the form posts to api/auth.ts POST /login, which redirects back here with ?error=) and GET /. */
export function loginPageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  app.get('/login', async (c) => {
    const next = safeNext(c.req.query('next'));
    if (await loadSession(ctx, getCookie(c, SESSION_COOKIE))) return c.redirect(next, 303);
    const error = c.req.query('error');
    const known = error === 'invalid_credentials' || error === 'rate_limited' || error === 'csrf_failed' || error === 'busy' ? error : null;
    const csrf = loginCsrfToken(c, (ctx.config.PUBLIC_URL ?? '').startsWith('https://'));
    return c.html(
      <Bare title={ru.login.title}>
        <div class="card login-card">
          <div class="login-brand">
            <img src="/static/favicon.svg" alt="" width="40" height="40" />
            <div>
              <h1>{ru.appName}</h1>
              <p class="muted">{ru.login.subtitle}</p>
            </div>
          </div>
          {known && known !== 'invalid_credentials' ? <div class="alert alert-bad" role="alert" id="login-error">{t(known)}</div> : null}
          <form method="post" action="/login" class="form" novalidate>
            <input type="hidden" name="_csrf" value={csrf} />
            <input type="hidden" name="next" value={next} />
            <Field label={ru.login.email} for="email">
              <input type="email" name="email" id="email" autocomplete="username" required autofocus />
            </Field>
            <Field label={ru.login.password} for="password" error={known === 'invalid_credentials' ? t('invalid_credentials') : null}>
              <input type="password" name="password" id="password" autocomplete="current-password" required />
            </Field>
            <button type="submit" class="btn btn-primary btn-block">{ru.login.submit}</button>
          </form>
        </div>
      </Bare>,
    );
  });

  /** Home: the first visible store's dashboard, or an empty state. */
  app.get('/', requireSession(ctx), async (c) => {
    const stores = await listStores(ctx, c.get('actor'));
    const first = stores[0];
    if (first) return c.redirect(`/stores/${first.store_id}`, 303);
    const session = c.get('session');
    return c.html(
      <Shell title={ru.noStores.title} csrf={session?.csrfToken ?? ''} email={session?.email ?? ''} stores={[]} store={null}>
        <div class="card" id="no-stores">
          <h1>{ru.noStores.title}</h1>
          <p>{ru.noStores.text}</p>
          <div class="actions">
            <a class="btn btn-primary" href="/stores/new" id="create-first-store">{ru.noStores.create}</a>
          </div>
          <p class="hint">{ru.noStores.apiNote}</p>
        </div>
      </Shell>,
    );
  });
  return app;
}
