import { tc, tr } from '../../lib/i18n/request-locale.ts';
import { Field } from '../components.tsx';

/** The sign-in form, and the home page of a user with no store yet. */

export type LoginError = 'invalid_credentials' | 'rate_limited' | 'csrf_failed' | 'busy';

/** A wrong password is shown under the password field; the other errors above the form. */
export function LoginPage(props: { csrf: string; next: string; error: LoginError | null }) {
  const { error } = props;
  return (
    <div class="card login-card">
      <div class="login-brand">
        <img src="/static/favicon.svg" alt="" width="40" height="40" />
        <div>
          <h1>{tr.appName}</h1>
          <p class="muted">{tr.login.subtitle}</p>
        </div>
      </div>
      {error && error !== 'invalid_credentials' ? <div class="alert alert-bad" role="alert" id="login-error">{tc(error)}</div> : null}
      <form method="post" action="/login" class="form" novalidate>
        <input type="hidden" name="_csrf" value={props.csrf} />
        <input type="hidden" name="next" value={props.next} />
        <Field label={tr.login.email} for="email">
          <input type="email" name="email" id="email" autocomplete="username" required autofocus />
        </Field>
        <Field label={tr.login.password} for="password" error={error === 'invalid_credentials' ? tc('invalid_credentials') : null}>
          <input type="password" name="password" id="password" autocomplete="current-password" required />
        </Field>
        <button type="submit" class="btn btn-primary btn-block">{tr.login.submit}</button>
      </form>
    </div>
  );
}

export function NoStoresPage() {
  return (
    <div class="card" id="no-stores">
      <h1>{tr.noStores.title}</h1>
      <p>{tr.noStores.text}</p>
      <div class="actions">
        <a class="btn btn-primary" href="/stores/new" id="create-first-store">{tr.noStores.create}</a>
      </div>
      <p class="hint">{tr.noStores.apiNote}</p>
    </div>
  );
}
