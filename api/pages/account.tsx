import { Hono } from 'hono';
import type { AppContext } from '../../lib/context.ts';
import { listApiTokens, revokeApiToken, tokenState } from '../../lib/auth/api-tokens.ts';
import { csrfProtect, requireSession, type AuthEnv } from '../../lib/auth/middleware.ts';
import { listStores } from '../../lib/services/stores.ts';
import { Card, Empty, PostButton } from '../../views/components.tsx';
import { ru } from '../../lib/i18n/messages.ts';
import { formatDateTime } from '../../views/format.ts';
import { Shell } from '../../views/layout.tsx';
import { notFoundPage, pageErrorHandler, redirectWithFlash, takeFlash } from './common.tsx';

const L = ru.tokens;
// Account pages have no store, so no store time zone: the service's home zone.
const TZ = 'Asia/Almaty';

/**
 * The signed-in user's API tokens (mounted at /account): when each was made, last used and
 * expires, and a revoke button. Tokens are issued from the CLI, which shows the token once.
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
    return c.html(
      <Shell title={L.title} csrf={csrf} email={session?.email ?? ''} stores={stores} store={null} flash={takeFlash(c)}>
        <h1>{L.title}</h1>
        <p class="hint">{L.intro}</p>
        <Card>
          {tokens.length === 0 ? <Empty text={L.empty} /> : (
            <div class="table-wrap">
              <table class="table" id="tokens-table">
                <thead><tr><th>{L.label}</th><th>{L.scope}</th><th>{L.created}</th><th>{L.lastUsed}</th><th>{L.expires}</th><th>{L.state}</th><th></th></tr></thead>
                <tbody>
                  {tokens.map((t) => {
                    const state = tokenState(t, now);
                    return (
                      <tr id={`token-${t.id}`}>
                        <td>{t.label ?? '—'}<br /><code class="muted">{t.id}</code></td>
                        <td>{t.storeId ? storeNames.get(t.storeId) ?? t.storeId : L.allStores}</td>
                        <td class="nowrap">{formatDateTime(t.createdAt, TZ)}</td>
                        <td class="nowrap">{t.lastUsedAt ? formatDateTime(t.lastUsedAt, TZ) : L.notUsed}</td>
                        <td class="nowrap">{t.expiresAt ? formatDateTime(t.expiresAt, TZ) : L.never}</td>
                        <td>{L.states[state]}</td>
                        <td>{state === 'active' ? <PostButton action={`/account/tokens/${t.id}/revoke`} csrf={csrf} label={L.revoke} class="btn btn-small btn-danger" confirm={L.revokeConfirm} id={`revoke-${t.id}`} /> : null}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </Card>
      </Shell>,
    );
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
