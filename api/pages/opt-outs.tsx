import { Hono } from 'hono';
import type { AppContext } from '../../lib/context.ts';
import type { AuthEnv } from '../../lib/auth/middleware.ts';
import { maskPhone } from '../../lib/phones/phones.ts';
import { addOptOut, listOptOuts, listUnmappedOptOuts, removeOptOut } from '../../lib/services/opt-outs.ts';
import { Alert, Card, Csrf, Empty, Field, PostButton } from '../../views/components.tsx';
import { ru } from '../../lib/i18n/messages.ts';
import { formatDateTime } from '../../views/format.ts';
import { fieldErrors, loadStorePage, readForm, redirectWithFlash, renderShell, str, type Form, type PageContext } from './common.tsx';

const L = ru.optOuts;

/** Opt-outs: list, add, remove. Mounted under /stores. */
export function optOutPageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  async function render(c: PageContext, submitted?: { form: Form; errors: Record<string, string> }) {
    const page = await loadStorePage(ctx, c);
    const list = await listOptOuts(ctx, c.get('actor'), page.store.store_id);
    const unmapped = await listUnmappedOptOuts(ctx, c.get('actor'), page.store.store_id);
    const e = submitted?.errors ?? {};
    return renderShell(c, page, { title: L.title, active: 'optOuts' }, (
      <>
        <h1>{L.title}</h1>
        <p class="muted">{L.hint}</p>
        <Card>
          <form method="post" action={`${page.base}/opt-outs`} class="form form-inline" novalidate id="opt-out-form">
            <Csrf token={page.csrf} />
            {e._ ? <Alert tone="bad">{e._}</Alert> : null}
            <Field label={L.phone} for="phone" error={e.phone}>
              <input type="tel" id="phone" name="phone" value={submitted ? str(submitted.form, 'phone') : ''} placeholder="+7 7XX XXX XX XX" required />
            </Field>
            <Field label={L.note} for="note" error={e.note}>
              <input type="text" id="note" name="note" value={submitted ? str(submitted.form, 'note') : ''} maxlength={500} />
            </Field>
            <div class="filter-actions"><button type="submit" class="btn btn-primary" id="add-opt-out">{L.add}</button></div>
          </form>
        </Card>
        <Card>
          {list.length === 0 ? <Empty text={L.empty} /> : (
            <div class="table-wrap">
              <table class="table" id="opt-outs-table">
                <thead><tr><th>{L.phone}</th><th>{L.source}</th><th>{L.matchedBy}</th><th>{L.note}</th><th>{L.added}</th><th></th></tr></thead>
                <tbody>
                  {list.map((o) => (
                    <tr>
                      <td class="nowrap">{maskPhone(o.phone)}</td>
                      <td>{L.sources[o.source] ?? o.source}</td>
                      <td class="matched-by">{o.matched_by ? (L.matches[o.matched_by] ?? o.matched_by) : '—'}</td>
                      <td>{o.note ?? '—'}</td>
                      <td class="nowrap">{formatDateTime(o.created_at, page.store.timezone)}</td>
                      <td class="row-actions">
                        <PostButton action={`${page.base}/opt-outs/remove`} csrf={page.csrf} label={L.remove} class="btn btn-small btn-danger-ghost" confirm={L.removeConfirm} hidden={{ phone: o.phone }} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>
        {unmapped.length === 0 ? null : (
          <Card title={L.unmappedTitle} id="unmapped-opt-outs">
            <p class="hint card-hint">{L.unmappedHint}</p>
            <table class="table">
              <thead><tr><th>{L.lid}</th><th>{L.added}</th></tr></thead>
              <tbody>
                {unmapped.map((u) => (
                  <tr><td class="nowrap">…{u.lid_suffix}</td><td class="nowrap">{formatDateTime(u.created_at, page.store.timezone)}</td></tr>
                ))}
              </tbody>
            </table>
          </Card>
        )}
      </>
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
