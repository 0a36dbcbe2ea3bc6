import { Hono } from 'hono';
import type { AppContext } from '../../lib/context.ts';
import type { AuthEnv } from '../../lib/auth/middleware.ts';
import { createStore, listStores } from '../../lib/services/stores.ts';
import { Alert, Card, Csrf, Field } from '../../views/components.tsx';
import { ru } from '../../lib/i18n/messages.ts';
import { Shell } from '../../views/layout.tsx';
import { fieldErrors, int, readForm, redirectWithFlash, str, type Form, type PageContext } from './common.tsx';

const L = ru.newStore;
const TIMEZONES = ['Asia/Almaty', 'Asia/Aqtobe', 'Asia/Aqtau', 'Asia/Atyrau', 'Asia/Oral', 'Asia/Qostanay', 'Asia/Qyzylorda', 'UTC'];
const DEFAULTS = { name: '', kaspi_merchant_uid: '', timezone: 'Asia/Almaty', poll_interval_seconds: '60' };

/**
 * "Новый магазин": the form a seller without a store (or with several) uses instead of the JSON
 * API. The Kaspi token is a write-only password field: it is never rendered back, not even after a
 * validation error (the seller types it again).
 */
async function renderForm(ctx: AppContext, c: PageContext, form: Form | null, errors: Record<string, string>) {
  const session = c.get('session');
  const csrf = session?.csrfToken ?? '';
  const stores = await listStores(ctx, c.get('actor'));
  const val = (key: keyof typeof DEFAULTS) => (form ? str(form, key) : DEFAULTS[key]);
  return c.html(
    <Shell title={L.title} csrf={csrf} email={session?.email ?? ''} stores={stores} store={null}>
      <h1>{L.title}</h1>
      <Card id="new-store">
        <p class="muted" style="margin-top: 0">{L.intro}</p>
        <form method="post" action="/stores/new" class="form" novalidate id="new-store-form">
          <Csrf token={csrf} />
          {errors._ ? <Alert tone="bad">{errors._}</Alert> : null}
          <div class="row-2">
            <Field label={ru.settings.storeName} for="name" error={errors.name}>
              <input type="text" id="name" name="name" value={val('name')} maxlength={200} required autofocus />
            </Field>
            <Field label={ru.settings.merchantUid} for="kaspi_merchant_uid" error={errors.kaspi_merchant_uid} hint={L.optional}>
              <input type="text" id="kaspi_merchant_uid" name="kaspi_merchant_uid" value={val('kaspi_merchant_uid')} maxlength={100} />
            </Field>
          </div>
          <Field label={ru.settings.kaspiToken} for="kaspi_api_token" error={errors.kaspi_api_token} hint={L.tokenHint}>
            <input type="password" id="kaspi_api_token" name="kaspi_api_token" value="" autocomplete="new-password" />
          </Field>
          <div class="row-2">
            <Field label={ru.settings.timezone} for="timezone" error={errors.timezone}>
              <input type="text" id="timezone" name="timezone" value={val('timezone')} list="timezones" />
              <datalist id="timezones">{TIMEZONES.map((z) => <option value={z} />)}</datalist>
            </Field>
            <Field label={ru.settings.pollInterval} for="poll_interval_seconds" error={errors.poll_interval_seconds}>
              <input type="number" id="poll_interval_seconds" name="poll_interval_seconds" value={val('poll_interval_seconds')} min={10} max={3600} />
            </Field>
          </div>
          <div class="actions">
            <button type="submit" class="btn btn-primary" id="create-store">{L.submit}</button>
            {stores.length > 0 ? <a class="btn btn-ghost" href="/">{ru.templates.cancel}</a> : null}
          </div>
        </form>
      </Card>
    </Shell>,
    // Form errors re-render the form with 200 (like the other pages), so the browser console stays clean.
    200,
  );
}

/** GET/POST /stores/new. Mounted under /stores before the store pages, so "new" is never taken for a store id. */
export function storeCreatePageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  app.get('/new', (c) => renderForm(ctx, c, null, {}));

  app.post('/new', async (c) => {
    const form = await readForm(c);
    const token = str(form, 'kaspi_api_token').trim();
    const merchant = str(form, 'kaspi_merchant_uid').trim();
    const timezone = str(form, 'timezone').trim();
    try {
      const store = await createStore(ctx, c.get('actor'), {
        name: str(form, 'name'),
        // Blank = a push-only store (orders arrive through the API, nothing is polled).
        kaspi_api_token: token === '' ? null : token,
        kaspi_merchant_uid: merchant === '' ? null : merchant,
        timezone: timezone === '' ? undefined : timezone,
        poll_interval_seconds: int(form, 'poll_interval_seconds'),
      });
      return redirectWithFlash(c, `/stores/${store.store_id}/settings`, 'store_created');
    } catch (err) {
      const errors = fieldErrors(err);
      if (!errors) throw err;
      return renderForm(ctx, c, form, errors);
    }
  });
  return app;
}
