import { NOTIFY_EVENTS } from '../../drizzle/schema.ts';
import { fmt } from '../../lib/i18n/messages.ts';
import { tr, trSection } from '../../lib/i18n/request-locale.ts';
import type { TemplatePreview, TemplateView } from '../../lib/services/templates.ts';
import { TEMPLATE_VARIABLES } from '../../lib/templates/render.ts';
import { Alert, Card, Csrf, EventLabel, Empty, Field, PostButton } from '../components.tsx';
import type { FieldErrors } from '../form.ts';
import { formatDateTime } from '../format.ts';
import type { StorePage } from '../layout.tsx';
import { TemplateStatsPlaceholder } from './template-stats.tsx';
import { AttachmentAfterSave, AttachmentPanel, attachmentUrl, PreviewMedia } from './template-attachment.tsx';
import type { AttachmentView } from '../../lib/services/templates.ts';

/** Templates: the list, the editor (new and edit) and its live preview fragment. */

const L = trSection('templates');

/** The editor's fields as text, the way the form shows them. */
export interface TemplateFormValues {
  template_name: string;
  template_text: string;
  event: string;
  is_active: boolean;
  weight: string;
  delay_minutes: string;
}

export function TemplatesPage(props: { page: StorePage; templates: TemplateView[] }) {
  const { page, templates } = props;
  const activeVariants = (event: string) => templates.filter((t) => t.is_active && t.event === event).length;
  const both = activeVariants('accepted') > 0 && activeVariants('ready_for_pickup') > 0;
  return (
    <>
      <div class="page-head">
        <h1>{L.title}</h1>
        <a class="btn btn-primary" href={`${page.base}/templates/new`} id="new-template">{L.new}</a>
      </div>
      {both ? <Alert tone="warn" id="both-warning">{L.both}</Alert> : null}
      <Card>
        {templates.length === 0 ? <Empty text={L.empty} /> : (
          <div class="table-wrap">
            <table class="table" id="templates-table">
              <thead>
                <tr>
                  <th>{L.columns.name}</th><th>{L.columns.event}</th><th>{L.columns.status}</th>
                  <th class="num">{L.columns.weight}</th><th class="num">{L.columns.delay}</th><th>{L.columns.updated}</th><th></th>
                </tr>
              </thead>
              <tbody>
                {templates.map((t) => <TemplateRow page={page} template={t} variants={activeVariants(t.event)} />)}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      {templates.length > 0 ? <TemplateStatsPlaceholder base={page.base} /> : null}
    </>
  );
}

function TemplateRow(props: { page: StorePage; template: TemplateView; variants: number }) {
  const { page, template: t, variants } = props;
  return (
    <tr>
      <td>
        <a href={`${page.base}/templates/${t.id}`} class="strong">{t.template_name}</a>
        <div class="muted clamp">{t.template_text}</div>
        {t.attachment ? <div class="small muted attachment-mark"><span class="badge badge-muted">{L.attachment.kinds[t.attachment.kind] ?? t.attachment.kind}</span> {t.attachment.filename}</div> : null}
      </td>
      <td><EventLabel event={t.event} />{t.is_active && variants > 1 ? <div class="muted small">{fmt(L.variants, { n: variants })}</div> : null}</td>
      <td><span class={`badge ${t.is_active ? 'badge-ok' : 'badge-muted'}`}>{t.is_active ? L.active : L.inactive}</span></td>
      <td class="num">{t.weight}</td>
      <td class="num">{t.delay_minutes ? `${t.delay_minutes} ${tr.minutes}` : '—'}</td>
      <td class="nowrap">{formatDateTime(t.updated_at, page.store.timezone)}</td>
      <td class="row-actions">
        <a class="btn btn-small" href={`${page.base}/templates/${t.id}`}>{L.editLink}</a>
        <PostButton action={`${page.base}/templates/${t.id}/delete`} csrf={page.csrf} label={L.delete} class="btn btn-small btn-danger-ghost" confirm={L.deleteConfirm} />
      </td>
    </tr>
  );
}

export interface TemplateFormProps {
  page: StorePage;
  values: TemplateFormValues;
  errors: FieldErrors;
  /** `/templates` for a new one, `/templates/<id>` for an edit. */
  action: string;
  isNew: boolean;
  preview: TemplatePreview;
  /** A saved template's file (null: none yet) and the error of a refused upload; absent for a new template. */
  attachment?: { templateId: string; view: AttachmentView | null; error?: string | null };
}

/** "Новый шаблон" and "Редактирование шаблона": the heading and the editor. */
export function TemplateEditPage(props: TemplateFormProps) {
  const title = props.isNew ? L.new : L.edit;
  return (
    <>
      <h1>{title}</h1>
      <Card><TemplateForm {...props} /></Card>
      <Card>
        {props.attachment
          ? <AttachmentPanel page={props.page} templateId={props.attachment.templateId} attachment={props.attachment.view} error={props.attachment.error} />
          : <AttachmentAfterSave />}
      </Card>
    </>
  );
}

function TemplateForm(props: TemplateFormProps) {
  const { page, errors } = props;
  return (
    <form method="post" action={props.action} class="form template-form" id="template-form" novalidate>
      <Csrf token={page.csrf} />
      {errors._ ? <Alert tone="bad">{errors._}</Alert> : null}
      <div class="editor">
        <div class="editor-main">
          <TemplateSettingsFields values={props.values} errors={errors} />
          <TemplateTextField base={page.base} text={props.values.template_text} error={errors.template_text} />
          <VariablePalette />
          <div class="actions">
            <button type="submit" class="btn btn-primary" id="save-template">{props.isNew ? L.create : L.save}</button>
            <a class="btn btn-ghost" href={`${page.base}/templates`}>{L.cancel}</a>
          </div>
        </div>
        <aside class="editor-side">
          <h3>{L.preview}</h3>
          <div class="phone">
            <div class="phone-head">WhatsApp · {page.store.name}</div>
            <div class="phone-body">
              <div class="wa-message">
                <PreviewMedia
                  attachment={props.attachment?.view ?? null}
                  url={props.attachment?.view ? attachmentUrl(page.base, props.attachment.templateId, props.attachment.view) : null}
                />
                <div id="preview" aria-live="polite">
                  <Preview preview={props.preview} />
                </div>
              </div>
            </div>
          </div>
          <p class="hint">{L.previewHint}</p>
        </aside>
      </div>
    </form>
  );
}

/** Name, event, weight, delay and the active switch. */
function TemplateSettingsFields(props: { values: TemplateFormValues; errors: FieldErrors }) {
  const { values: v, errors } = props;
  return (
    <>
      <Field label={L.name} for="template_name" error={errors.template_name}>
        <input type="text" id="template_name" name="template_name" value={v.template_name} maxlength={255} required />
      </Field>
      <div class="row-3">
        <Field label={L.event} for="event" error={errors.event}>
          <select id="event" name="event">
            {NOTIFY_EVENTS.map((e) => <option value={e} selected={v.event === e}>{tr.events[e]}</option>)}
          </select>
        </Field>
        <Field label={L.weight} for="weight" error={errors.weight}>
          <input type="number" id="weight" name="weight" value={v.weight} min={0} max={10000} />
        </Field>
        <Field label={L.delay} for="delay_minutes" error={errors.delay_minutes}>
          <input type="number" id="delay_minutes" name="delay_minutes" value={v.delay_minutes} min={0} max={10080} />
        </Field>
      </div>
      <p class="hint">{L.weightHint} {L.delayHint}</p>
      <div class="field field-check">
        <input type="hidden" name="is_active" value="0" />
        <input type="checkbox" id="is_active" name="is_active" value="on" checked={v.is_active} />
        <label for="is_active">{L.active}</label>
      </div>
    </>
  );
}

/** The text posts itself to /templates/preview as the seller types (300 ms after the last key). */
function TemplateTextField(props: { base: string; text: string; error?: string }) {
  return (
    <Field label={L.text} for="template_text" error={props.error}>
      <textarea
        id="template_text"
        name="template_text"
        rows={9}
        required
        hx-post={`${props.base}/templates/preview`}
        hx-trigger="keyup changed delay:300ms, preview-refresh"
        hx-target="#preview"
        hx-swap="innerHTML"
        aria-describedby="template_text-live"
      >{props.text}</textarea>
      {props.error ? null : <p class="field-error" id="template_text-live" role="alert"></p>}
    </Field>
  );
}

/** Chips that insert a placeholder at the cursor (/static/app.js). */
function VariablePalette() {
  return (
    <div class="palette" aria-label={L.variables}>
      <p class="palette-title">{L.variables} <span class="muted">— {L.variablesHint}</span></p>
      <div class="chips">
        {TEMPLATE_VARIABLES.map((tv) => (
          <button type="button" class="chip" data-insert={tv.placeholder} data-target="template_text" title={`${tr.templates.variableHelp[tv.name] ?? tv.description}: ${tv.sample}`}>
            {tv.placeholder}
          </button>
        ))}
      </div>
    </div>
  );
}

/**
 * The preview bubble. As the live fragment (`oob`) it also replaces the text's error line out of
 * band, so a broken placeholder is named under the field while the seller types.
 */
export function Preview(props: { preview: TemplatePreview; oob?: boolean }) {
  const p = props.preview;
  if (p.kind === 'empty') return <div class="preview-empty muted" id="preview-text">{L.previewHint}</div>;
  const error = p.kind === 'error' ? p.error : null;
  return (
    <>
      {p.kind === 'ok' ? <div class="bubble" id="preview-text">{p.text}</div> : <div class="preview-error" id="preview-text">{error}</div>}
      {props.oob ? <p class="field-error" id="template_text-live" hx-swap-oob="true" role="alert">{error ?? ''}</p> : null}
    </>
  );
}
