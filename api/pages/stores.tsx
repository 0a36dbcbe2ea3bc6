import { Hono } from 'hono';
import type { AppContext } from '../../lib/context.ts';
import type { AuthEnv } from '../../lib/auth/middleware.ts';
import { currentLocale, tr } from '../../lib/i18n/request-locale.ts';
import { createStore, listStores } from '../../lib/services/stores.ts';
import { str, type FieldErrors, type Form } from '../../views/form.ts';
import { Shell } from '../../views/layout.tsx';
import { NEW_STORE_DEFAULTS, NewStorePage, type NewStoreValues } from '../../views/pages/stores.tsx';
import { fieldErrors, int, readForm, redirectWithFlash, type PageContext } from './common.tsx';

/** GET/POST /stores/new. Mounted under /stores before the store pages, so "new" is never taken for a store id. */
export function storeCreatePageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  async function render(c: PageContext, form: Form | null, errors: FieldErrors) {
    const session = c.get('session');
    const csrf = session?.csrfToken ?? '';
    const stores = await listStores(ctx, c.get('actor'));
    const values: NewStoreValues = form
      ? { name: str(form, 'name'), kaspi_merchant_uid: str(form, 'kaspi_merchant_uid'), timezone: str(form, 'timezone'), poll_interval_seconds: str(form, 'poll_interval_seconds'), default_templates: str(form, 'default_templates') }
      // Templates for buyers in the admin's language when it is Kazakh, else Russian.
      : { ...NEW_STORE_DEFAULTS, default_templates: currentLocale() === 'kk' ? 'kk' : 'ru' };
    return c.html(
      <Shell title={tr.newStore.title} csrf={csrf} email={session?.email ?? ''} stores={stores} store={null}>
        <NewStorePage csrf={csrf} values={values} errors={errors} canCancel={stores.length > 0} />
      </Shell>,
      // Form errors re-render the form with 200 (like the other pages), so the browser console stays clean.
      200,
    );
  }

  app.get('/new', (c) => render(c, null, {}));

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
        default_templates: str(form, 'default_templates') || null,
      });
      return redirectWithFlash(c, `/stores/${store.store_id}/settings`, 'store_created');
    } catch (err) {
      const errors = fieldErrors(err);
      if (!errors) throw err;
      return render(c, form, errors);
    }
  });
  return app;
}
