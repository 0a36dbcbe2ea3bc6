import { tr, trSection } from '../../lib/i18n/request-locale.ts';
import type { ApiTokenInfo } from '../../lib/auth/api-tokens.ts';
import { Card, Empty, LanguageSelect, PostButton } from '../components.tsx';
import { formatDateTime } from '../format.ts';

/** The signed-in user's API tokens: when each was made, last used and expires, and a revoke button. */

const L = trSection('tokens');

/** The language of every page this user sees. */
export function LanguageCard(props: { csrf: string }) {
  return (
    <Card title={tr.language.title} id="language-card">
      <p class="hint">{tr.language.hint}</p>
      <LanguageSelect csrf={props.csrf} id="account-locale" />
    </Card>
  );
}

export type TokenRow = ApiTokenInfo & { state: 'active' | 'revoked' | 'expired'; storeName: string | null };

/** Account pages have no store, so `timezone` is the service's home zone. */
export function TokensPage(props: { csrf: string; tokens: TokenRow[]; timezone: string }) {
  return (
    <>
      <h1>{L.title}</h1>
      <p class="hint">{L.intro}</p>
      <Card>
        {props.tokens.length === 0 ? <Empty text={L.empty} /> : (
          <div class="table-wrap">
            <table class="table" id="tokens-table">
              <thead><tr><th>{L.label}</th><th>{L.scope}</th><th>{L.created}</th><th>{L.lastUsed}</th><th>{L.expires}</th><th>{L.state}</th><th></th></tr></thead>
              <tbody>
                {props.tokens.map((t) => <TokenTableRow token={t} csrf={props.csrf} timezone={props.timezone} />)}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </>
  );
}

function TokenTableRow(props: { token: TokenRow; csrf: string; timezone: string }) {
  const { token: t, timezone: tz } = props;
  return (
    <tr id={`token-${t.id}`}>
      <td>{t.label ?? '—'}<br /><code class="muted">{t.id}</code></td>
      <td>{t.storeId ? t.storeName ?? t.storeId : L.allStores}</td>
      <td class="nowrap">{formatDateTime(t.createdAt, tz)}</td>
      <td class="nowrap">{t.lastUsedAt ? formatDateTime(t.lastUsedAt, tz) : L.notUsed}</td>
      <td class="nowrap">{t.expiresAt ? formatDateTime(t.expiresAt, tz) : L.never}</td>
      <td>{L.states[t.state]}</td>
      <td>{t.state === 'active' ? <PostButton action={`/account/tokens/${t.id}/revoke`} csrf={props.csrf} label={L.revoke} class="btn btn-small btn-danger" confirm={L.revokeConfirm} id={`revoke-${t.id}`} /> : null}</td>
    </tr>
  );
}
