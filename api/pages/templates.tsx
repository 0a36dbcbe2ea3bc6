import { Hono } from 'hono';
import { NOTIFY_EVENTS } from '../../drizzle/schema.ts';
import type { AppContext } from '../../lib/context.ts';
import type { AuthEnv } from '../../lib/auth/middleware.ts';
import { NotFoundError } from '../../lib/services/errors.ts';
import { archiveTemplate, createTemplate, getTemplate, listTemplates, templateTextError, updateTemplate, type TemplateView } from '../../lib/services/templates.ts';
import { getStore } from '../../lib/services/stores.ts';
import { SAMPLE_ORDER, TEMPLATE_VARIABLES, tryRenderTemplate } from '../../lib/templates/render.ts';
import { Alert, Card, Csrf, Empty, EventLabel, Field, PostButton } from '../../views/components.tsx';
import { fmt, ru } from '../../lib/i18n/messages.ts';
import { formatDateTime } from '../../views/format.ts';
import { bool, fieldErrors, int, loadStorePage, readForm, redirectWithFlash, renderShell, str, type Form, type PageContext, type StorePage } from './common.tsx';

interface FormValues {
  template_name: string;
  template_text: string;
  event: string;
  is_active: boolean;
  weight: string;
  delay_minutes: string;
}

const EMPTY: FormValues = { template_name: '', template_text: '', event: 'new', is_active: true, weight: '100', delay_minutes: '0' };

function fromView(t: TemplateView): FormValues {
  return { template_name: t.template_name, template_text: t.template_text, event: t.event, is_active: t.is_active, weight: String(t.weight), delay_minutes: String(t.delay_minutes) };
}

function fromForm(form: Form): FormValues {
  return {
    template_name: str(form, 'template_name'),
    template_text: str(form, 'template_text'),
    event: str(form, 'event'),
    is_active: bool(form, 'is_active'),
    weight: str(form, 'weight'),
    delay_minutes: str(form, 'delay_minutes'),
  };
}

function toInput(form: Form) {
  return {
    template_name: str(form, 'template_name'),
    template_text: str(form, 'template_text'),
    event: str(form, 'event') || undefined,
    is_active: bool(form, 'is_active'),
    weight: int(form, 'weight'),
    delay_minutes: int(form, 'delay_minutes'),
  };
}

/** zod stops at the first bad field; the text's own problems are shown next to it in the same round trip. */
function withTextError(errors: Record<string, string> | null, form: Form): Record<string, string> | null {
  if (!errors || errors.template_text) return errors;
  const textError = templateTextError(str(form, 'template_text'));
  return textError ? { ...errors, template_text: textError } : errors;
}

/** The live preview: SAMPLE_ORDER through the workflow's own renderer, with the store's name and zone. */
function Preview(props: { text: string; shopName: string; timezone: string; oob?: boolean }) {
  if (props.text.trim() === '') return <div class="preview-empty muted" id="preview-text">{ru.templates.previewHint}</div>;
  const r = tryRenderTemplate(props.text, SAMPLE_ORDER, { shopName: props.shopName, timezone: props.timezone });
  const error = r.ok ? null : r.errors.map((e) => e.message).join(' ');
  return (
    <>
      {r.ok ? <div class="bubble" id="preview-text">{r.text}</div> : <div class="preview-error" id="preview-text">{error}</div>}
      {props.oob ? <p class="field-error" id="template_text-live" hx-swap-oob="true" role="alert">{error ?? ''}</p> : null}
    </>
  );
}

function TemplateForm(props: { page: StorePage; values: FormValues; errors: Record<string, string>; action: string; isNew: boolean }) {
  const { page, values: v, errors } = props;
  return (
    <form method="post" action={props.action} class="form template-form" id="template-form" novalidate>
      <Csrf token={page.csrf} />
      {errors._ ? <Alert tone="bad">{errors._}</Alert> : null}
      <div class="editor">
        <div class="editor-main">
          <Field label={ru.templates.name} for="template_name" error={errors.template_name}>
            <input type="text" id="template_name" name="template_name" value={v.template_name} maxlength={255} required />
          </Field>
          <div class="row-3">
            <Field label={ru.templates.event} for="event" error={errors.event}>
              <select id="event" name="event">
                {NOTIFY_EVENTS.map((e) => <option value={e} selected={v.event === e}>{ru.events[e]}</option>)}
              </select>
            </Field>
            <Field label={ru.templates.weight} for="weight" error={errors.weight}>
              <input type="number" id="weight" name="weight" value={v.weight} min={0} max={10000} />
            </Field>
            <Field label={ru.templates.delay} for="delay_minutes" error={errors.delay_minutes}>
              <input type="number" id="delay_minutes" name="delay_minutes" value={v.delay_minutes} min={0} max={10080} />
            </Field>
          </div>
          <p class="hint">{ru.templates.weightHint} {ru.templates.delayHint}</p>
          <div class="field field-check">
            <input type="hidden" name="is_active" value="0" />
            <input type="checkbox" id="is_active" name="is_active" value="on" checked={v.is_active} />
            <label for="is_active">{ru.templates.active}</label>
          </div>
          <Field label={ru.templates.text} for="template_text" error={errors.template_text}>
            <textarea
              id="template_text"
              name="template_text"
              rows={9}
              required
              hx-post={`${page.base}/templates/preview`}
              hx-trigger="keyup changed delay:300ms, preview-refresh"
              hx-target="#preview"
              hx-swap="innerHTML"
              aria-describedby="template_text-live"
            >{v.template_text}</textarea>
            {errors.template_text ? null : <p class="field-error" id="template_text-live" role="alert"></p>}
          </Field>
          <div class="palette" aria-label={ru.templates.variables}>
            <p class="palette-title">{ru.templates.variables} <span class="muted">— {ru.templates.variablesHint}</span></p>
            <div class="chips">
              {TEMPLATE_VARIABLES.map((tv) => (
                <button type="button" class="chip" data-insert={tv.placeholder} data-target="template_text" title={`${tv.description}: ${tv.sample}`}>
                  {tv.placeholder}
                </button>
              ))}
            </div>
          </div>
          <div class="actions">
            <button type="submit" class="btn btn-primary" id="save-template">{props.isNew ? ru.templates.create : ru.templates.save}</button>
            <a class="btn btn-ghost" href={`${page.base}/templates`}>{ru.templates.cancel}</a>
          </div>
        </div>
        <aside class="editor-side">
          <h3>{ru.templates.preview}</h3>
          <div class="phone">
            <div class="phone-head">WhatsApp · {page.store.name}</div>
            <div class="phone-body" id="preview" aria-live="polite">
              <Preview text={v.template_text} shopName={page.store.name} timezone={page.store.timezone} />
            </div>
          </div>
          <p class="hint">{ru.templates.previewHint}</p>
        </aside>
      </div>
    </form>
  );
}

/** Templates: list, create, edit, archive, live preview. Mounted under /stores. */
export function templatePageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  app.get('/:storeId/templates', async (c) => {
    const page = await loadStorePage(ctx, c);
    const list = await listTemplates(ctx, c.get('actor'), page.store.store_id);
    const active = (e: string) => list.filter((t) => t.is_active && t.event === e);
    const both = active('accepted').length > 0 && active('ready_for_pickup').length > 0;
    return renderShell(c, page, { title: ru.templates.title, active: 'templates' }, (
      <>
        <div class="page-head">
          <h1>{ru.templates.title}</h1>
          <a class="btn btn-primary" href={`${page.base}/templates/new`} id="new-template">{ru.templates.new}</a>
        </div>
        {both ? <Alert tone="warn" id="both-warning">{ru.templates.both}</Alert> : null}
        <Card>
          {list.length === 0 ? <Empty text={ru.templates.empty} /> : (
            <div class="table-wrap">
              <table class="table" id="templates-table">
                <thead>
                  <tr>
                    <th>{ru.templates.columns.name}</th><th>{ru.templates.columns.event}</th><th>{ru.templates.columns.status}</th>
                    <th class="num">{ru.templates.columns.weight}</th><th class="num">{ru.templates.columns.delay}</th><th>{ru.templates.columns.updated}</th><th></th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((t) => {
                    const variants = active(t.event).length;
                    return (
                      <tr>
                        <td>
                          <a href={`${page.base}/templates/${t.id}`} class="strong">{t.template_name}</a>
                          <div class="muted clamp">{t.template_text}</div>
                        </td>
                        <td><EventLabel event={t.event} />{t.is_active && variants > 1 ? <div class="muted small">{fmt(ru.templates.variants, { n: variants })}</div> : null}</td>
                        <td><span class={`badge ${t.is_active ? 'badge-ok' : 'badge-muted'}`}>{t.is_active ? ru.templates.active : ru.templates.inactive}</span></td>
                        <td class="num">{t.weight}</td>
                        <td class="num">{t.delay_minutes ? `${t.delay_minutes} ${ru.minutes}` : '—'}</td>
                        <td class="nowrap">{formatDateTime(t.updated_at, page.store.timezone)}</td>
                        <td class="row-actions">
                          <a class="btn btn-small" href={`${page.base}/templates/${t.id}`}>{ru.templates.editLink}</a>
                          <PostButton action={`${page.base}/templates/${t.id}/delete`} csrf={page.csrf} label={ru.templates.delete} class="btn btn-small btn-danger-ghost" confirm={ru.templates.deleteConfirm} />
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </Card>
      </>
    ));
  });

  app.get('/:storeId/templates/new', async (c) => {
    const page = await loadStorePage(ctx, c);
    const event = c.req.query('event');
    const values = { ...EMPTY, event: event && (NOTIFY_EVENTS as readonly string[]).includes(event) ? event : 'new' };
    return renderShell(c, page, { title: ru.templates.new, active: 'templates' }, (
      <>
        <h1>{ru.templates.new}</h1>
        <Card><TemplateForm page={page} values={values} errors={{}} action={`${page.base}/templates`} isNew /></Card>
      </>
    ));
  });

  app.post('/:storeId/templates/preview', async (c) => {
    const store = await getStore(ctx, c.get('actor'), c.req.param('storeId'));
    const form = await readForm(c);
    return c.html(<Preview text={str(form, 'template_text')} shopName={store.name} timezone={store.timezone} oob />);
  });

  app.post('/:storeId/templates', async (c) => {
    const page = await loadStorePage(ctx, c);
    const form = await readForm(c);
    try {
      await createTemplate(ctx, c.get('actor'), page.store.store_id, toInput(form));
      return redirectWithFlash(c, `${page.base}/templates`, 'template_created');
    } catch (err) {
      const errors = withTextError(fieldErrors(err), form);
      if (!errors) throw err;
      return renderShell(c, page, { title: ru.templates.new, active: 'templates' }, (
        <>
          <h1>{ru.templates.new}</h1>
          <Card><TemplateForm page={page} values={fromForm(form)} errors={errors} action={`${page.base}/templates`} isNew /></Card>
        </>
      ));
    }
  });

  async function templateOfStore(c: PageContext, storeId: string): Promise<TemplateView> {
    const t = await getTemplate(ctx, c.get('actor'), c.req.param('templateId'));
    if (t.store_id !== storeId) throw new NotFoundError();
    return t;
  }

  app.get('/:storeId/templates/:templateId', async (c) => {
    const page = await loadStorePage(ctx, c);
    const t = await templateOfStore(c, page.store.store_id);
    return renderShell(c, page, { title: ru.templates.edit, active: 'templates' }, (
      <>
        <h1>{ru.templates.edit}</h1>
        <Card><TemplateForm page={page} values={fromView(t)} errors={{}} action={`${page.base}/templates/${t.id}`} isNew={false} /></Card>
      </>
    ));
  });

  app.post('/:storeId/templates/:templateId', async (c) => {
    const page = await loadStorePage(ctx, c);
    const t = await templateOfStore(c, page.store.store_id);
    const form = await readForm(c);
    try {
      await updateTemplate(ctx, c.get('actor'), t.id, toInput(form));
      return redirectWithFlash(c, `${page.base}/templates`, 'template_saved');
    } catch (err) {
      const errors = withTextError(fieldErrors(err), form);
      if (!errors) throw err;
      return renderShell(c, page, { title: ru.templates.edit, active: 'templates' }, (
        <>
          <h1>{ru.templates.edit}</h1>
          <Card><TemplateForm page={page} values={fromForm(form)} errors={errors} action={`${page.base}/templates/${t.id}`} isNew={false} /></Card>
        </>
      ));
    }
  });

  app.post('/:storeId/templates/:templateId/delete', async (c) => {
    const page = await loadStorePage(ctx, c);
    const t = await templateOfStore(c, page.store.store_id);
    await archiveTemplate(ctx, c.get('actor'), t.id);
    return redirectWithFlash(c, `${page.base}/templates`, 'template_deleted');
  });
  return app;
}
