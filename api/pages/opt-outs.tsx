import { Hono } from 'hono';
import type { AppContext } from '../../lib/context.ts';
import type { AuthEnv } from '../../lib/auth/middleware.ts';
import { tr } from '../../lib/i18n/request-locale.ts';
import { addOptOut, listOptOuts, listUnmappedOptOuts, removeOptOut } from '../../lib/services/opt-outs.ts';
import { str, type FieldErrors, type Form } from '../../views/form.ts';
import { OptOutsPage } from '../../views/pages/opt-outs.tsx';
import { fieldErrors, loadStorePage, readForm, redirectWithFlash, renderShell, type PageContext } from './common.tsx';

/** Opt-outs: list, add, remove. Mounted under /stores. */
export function optOutPageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  async function render(c: PageContext, submitted?: { form: Form; errors: FieldErrors }) {
    const page = await loadStorePage(ctx, c);
    const optOuts = await listOptOuts(ctx, c.get('actor'), page.store.store_id);
    const unmapped = await listUnmappedOptOuts(ctx, c.get('actor'), page.store.store_id);
    return renderShell(c, page, { title: tr.optOuts.title, active: 'optOuts' }, (
      <OptOutsPage page={page} optOuts={optOuts} unmapped={unmapped} submitted={submitted} />
    ));
  }

  app.get('/:storeId/opt-outs', (c) => render(c));

  app.post('/:storeId/opt-outs', async (c) => {
    const id = c.req.param('storeId');
    const form = await readForm(c);
    try {
      await addOptOut(ctx, c.get('actor'), id, { phone: str(form, 'phone'), note: str(form, 'note') });
      return redirectWithFlash(c, `/stores/${id}/opt-outs`, 'opt_out_added');
    } catch (err) {
      const errors = fieldErrors(err);
      if (!errors) throw err;
      return render(c, { form, errors });
    }
  });

  app.post('/:storeId/opt-outs/remove', async (c) => {
    const id = c.req.param('storeId');
    const form = await readForm(c);
    await removeOptOut(ctx, c.get('actor'), id, str(form, 'phone'));
    return redirectWithFlash(c, `/stores/${id}/opt-outs`, 'opt_out_removed');
  });
  return app;
}
