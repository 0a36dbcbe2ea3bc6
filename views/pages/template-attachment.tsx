import { trSection } from '../../lib/i18n/request-locale.ts';
import type { AttachmentView } from '../../lib/services/templates.ts';
import { formatBytes } from '../../lib/templates/attachments.ts';
import { Csrf } from '../components.tsx';
import type { StorePage } from '../layout.tsx';

/**
 * A template's picture or PDF in the editor: the panel that uploads, replaces and removes it (its
 * own forms, outside the template's, so the text being edited stays as typed), and the file as
 * WhatsApp shows it above the caption in the live preview.
 */

const A = trSection('templates', 'attachment');

/** The file's address on our origin; the hash changes the URL whenever the file does. */
export function attachmentUrl(base: string, templateId: string, a: Pick<AttachmentView, 'sha256'>): string {
  return `${base}/templates/${templateId}/attachment?v=${a.sha256.slice(0, 16)}`;
}

/**
 * The preview's media slot: the picture itself, or a document card (icon, name, type and size), as
 * WhatsApp draws them in the bubble above the caption. Empty without a file. As an htmx fragment
 * (`oob`) it replaces itself after an upload or a removal.
 */
export function PreviewMedia(props: { url: string | null; attachment: AttachmentView | null; oob?: boolean }) {
  const a = props.attachment;
  return (
    <div id="preview-media" class="preview-media" hx-swap-oob={props.oob ? 'true' : undefined}>
      {a && props.url ? (a.kind === 'image'
        ? <img src={props.url} alt={a.filename} class="bubble-image" id="preview-image" />
        : (
          <div class="bubble-doc" id="preview-document">
            <span class="doc-icon" aria-hidden="true">PDF</span>
            <span class="doc-meta"><strong>{a.filename}</strong><small>PDF · {formatBytes(a.size_bytes)}</small></span>
          </div>
        )) : null}
    </div>
  );
}

/** The template's file: what it is, download, remove; then the form that sets or replaces it. */
export function AttachmentPanel(props: { page: StorePage; templateId: string; attachment: AttachmentView | null; error?: string | null }) {
  const { page, templateId, attachment: a } = props;
  const action = `${page.base}/templates/${templateId}/attachment`;
  return (
    <section id="attachment-panel" class="attachment-panel" aria-labelledby="attachment-title">
      <h3 id="attachment-title">{A.title}</h3>
      <p class="hint">{A.hint}</p>
      {props.error ? <p class="field-error" role="alert" id="attachment-error">{props.error}</p> : null}
      {a ? (
        <div class="attachment-current" id="attachment-current">
          <span class="badge badge-muted">{A.kinds[a.kind] ?? a.kind}</span>
          <a href={attachmentUrl(page.base, templateId, a)} id="attachment-link" download={a.filename}>{a.filename}</a>
          <span class="muted">{formatBytes(a.size_bytes)}</span>
          <form method="post" action={`${action}/delete`} class="inline" hx-post={`${action}/delete`} hx-target="#attachment-panel" hx-swap="outerHTML" hx-confirm={A.removeConfirm}>
            <Csrf token={page.csrf} />
            <button type="submit" class="btn btn-small btn-danger-ghost" id="attachment-remove">{A.remove}</button>
          </form>
        </div>
      ) : <p class="muted" id="attachment-none">{A.none}</p>}
      <form
        method="post"
        action={action}
        enctype="multipart/form-data"
        class="attachment-form"
        id="attachment-form"
        hx-post={action}
        hx-encoding="multipart/form-data"
        hx-target="#attachment-panel"
        hx-swap="outerHTML"
      >
        <Csrf token={page.csrf} />
        <label for="attachment" class="sr-only">{A.file}</label>
        <input type="file" id="attachment" name="attachment" accept="image/jpeg,image/png,image/webp,application/pdf,.jpg,.jpeg,.png,.webp,.pdf" required />
        <button type="submit" class="btn" id="attachment-upload">{a ? A.replace : A.upload}</button>
      </form>
    </section>
  );
}

/** For a template not saved yet: where the file will be set. */
export function AttachmentAfterSave() {
  return (
    <section class="attachment-panel" id="attachment-panel">
      <h3>{A.title}</h3>
      <p class="hint" id="attachment-after-save">{A.afterSave}</p>
    </section>
  );
}

/** The upload's answer to htmx: the panel, and the preview's media slot out of band. */
export function AttachmentUpdate(props: { page: StorePage; templateId: string; attachment: AttachmentView | null; error?: string | null }) {
  const url = props.attachment ? attachmentUrl(props.page.base, props.templateId, props.attachment) : null;
  return (
    <>
      <AttachmentPanel {...props} />
      <PreviewMedia url={url} attachment={props.attachment} oob />
    </>
  );
}
