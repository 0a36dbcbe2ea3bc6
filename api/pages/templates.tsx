import { Hono } from 'hono';
import { NOTIFY_EVENTS } from '../../drizzle/schema.ts';
import type { AppContext } from '../../lib/context.ts';
import type { AuthEnv } from '../../lib/auth/middleware.ts';
import { tr } from '../../lib/i18n/request-locale.ts';
import { NotFoundError, ValidationError } from '../../lib/services/errors.ts';
import { removeTemplateAttachment, setTemplateAttachment, templateAttachmentFile } from '../../lib/services/template-attachments.ts';
import { AttachmentUpdate } from '../../views/pages/template-attachment.tsx';
import { attachmentResponse, readAttachmentUpload } from '../uploads.ts';
import { getStore } from '../../lib/services/stores.ts';
import { archiveTemplate, createTemplate, getTemplate, listTemplates, previewTemplate, templateTextError, updateTemplate, type TemplateView } from '../../lib/services/templates.ts';
import { bool, str, type FieldErrors, type Form } from '../../views/form.ts';
import type { StorePage } from '../../views/layout.tsx';
import { Preview, TemplateEditPage, TemplatesPage, type TemplateFormValues } from '../../views/pages/templates.tsx';
import { fieldErrors, int, loadStorePage, readForm, redirectWithFlash, renderShell, type PageContext } from './common.tsx';

const EMPTY: TemplateFormValues = { template_name: '', template_text: '', event: 'new', is_active: true, weight: '100', delay_minutes: '0' };

function fromView(t: TemplateView): TemplateFormValues {
  return { template_name: t.template_name, template_text: t.template_text, event: t.event, is_active: t.is_active, weight: String(t.weight), delay_minutes: String(t.delay_minutes) };
}

function fromForm(form: Form): TemplateFormValues {
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
function withTextError(errors: FieldErrors | null, form: Form): FieldErrors | null {
  if (!errors || errors.template_text) return errors;
  const textError = templateTextError(str(form, 'template_text'));
  return textError ? { ...errors, template_text: textError } : errors;
}

/** Templates: list, create, edit, archive, live preview. Mounted under /stores. */
export function templatePageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  function renderEditor(c: PageContext, page: StorePage, editor: { values: TemplateFormValues; errors: FieldErrors; templateId?: string; attachment?: TemplateView['attachment']; attachmentError?: string }) {
    const isNew = editor.templateId === undefined;
    const action = isNew ? `${page.base}/templates` : `${page.base}/templates/${editor.templateId}`;
    const preview = previewTemplate(editor.values.template_text, page.store);
    return renderShell(c, page, { title: isNew ? tr.templates.new : tr.templates.edit, active: 'templates' }, (
      <TemplateEditPage
        page={page} values={editor.values} errors={editor.errors} action={action} isNew={isNew} preview={preview}
        attachment={editor.templateId === undefined ? undefined : { templateId: editor.templateId, view: editor.attachment ?? null, error: editor.attachmentError ?? null }}
      />
    ));
  }

  async function templateOfStore(c: PageContext, storeId: string): Promise<TemplateView> {
    const t = await getTemplate(ctx, c.get('actor'), c.req.param('templateId'));
    if (t.store_id !== storeId) throw new NotFoundError();
    return t;
  }

  app.get('/:storeId/templates', async (c) => {
    const page = await loadStorePage(ctx, c);
    const templates = await listTemplates(ctx, c.get('actor'), page.store.store_id);
    return renderShell(c, page, { title: tr.templates.title, active: 'templates' }, <TemplatesPage page={page} templates={templates} />);
  });

  app.get('/:storeId/templates/new', async (c) => {
    const page = await loadStorePage(ctx, c);
    const event = c.req.query('event');
    const values = { ...EMPTY, event: event && (NOTIFY_EVENTS as readonly string[]).includes(event) ? event : 'new' };
    return renderEditor(c, page, { values, errors: {} });
  });

  app.post('/:storeId/templates/preview', async (c) => {
    const store = await getStore(ctx, c.get('actor'), c.req.param('storeId'));
    const form = await readForm(c);
    return c.html(<Preview preview={previewTemplate(str(form, 'template_text'), store)} oob />);
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
      return renderEditor(c, page, { values: fromForm(form), errors });
    }
  });

  app.get('/:storeId/templates/:templateId', async (c) => {
    const page = await loadStorePage(ctx, c);
    const t = await templateOfStore(c, page.store.store_id);
    return renderEditor(c, page, { values: fromView(t), errors: {}, templateId: t.id, attachment: t.attachment });
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
      return renderEditor(c, page, { values: fromForm(form), errors, templateId: t.id, attachment: t.attachment });
    }
  });

  app.post('/:storeId/templates/:templateId/delete', async (c) => {
    const page = await loadStorePage(ctx, c);
    const t = await templateOfStore(c, page.store.store_id);
    await archiveTemplate(ctx, c.get('actor'), t.id);
    return redirectWithFlash(c, `${page.base}/templates`, 'template_deleted');
  });

  // ---- the template's picture or PDF (views/pages/template-attachment.tsx) ----

  app.get('/:storeId/templates/:templateId/attachment', async (c) => {
    const page = await loadStorePage(ctx, c);
    const t = await templateOfStore(c, page.store.store_id);
    return attachmentResponse(await templateAttachmentFile(ctx, c.get('actor'), t.id));
  });

  /** Sets or replaces the file. htmx gets the panel (and the preview's media slot); a plain form, the editor again. */
  app.post('/:storeId/templates/:templateId/attachment', async (c) => {
    const page = await loadStorePage(ctx, c);
    const t = await templateOfStore(c, page.store.store_id);
    let error: string | null = null;
    try {
      await setTemplateAttachment(ctx, c.get('actor'), t.id, await readAttachmentUpload(c, 'attachment'));
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      error = Object.values(err.fields).join(' ');
    }
    const current = await getTemplate(ctx, c.get('actor'), t.id);
    if (c.req.header('hx-request')) {
      // htmx swaps only 2xx answers: the refusal is the panel's content, with nothing changed.
      return c.html(<AttachmentUpdate page={page} templateId={t.id} attachment={current.attachment} error={error} />);
    }
    if (!error) return redirectWithFlash(c, `${page.base}/templates/${t.id}`, 'attachment_saved');
    // The editor again with the refusal in the panel, as a 400 (the shell answers 200 by default).
    const res = await renderEditor(c, page, { values: fromView(current), errors: {}, templateId: t.id, attachment: current.attachment, attachmentError: error });
    return new Response(res.body, { status: 400, headers: res.headers });
  });

  app.post('/:storeId/templates/:templateId/attachment/delete', async (c) => {
    const page = await loadStorePage(ctx, c);
    const t = await templateOfStore(c, page.store.store_id);
    // Removing what is already gone (a second tab, a double click) leaves the same result.
    if (t.attachment) await removeTemplateAttachment(ctx, c.get('actor'), t.id);
    if (c.req.header('hx-request')) return c.html(<AttachmentUpdate page={page} templateId={t.id} attachment={null} />);
    return redirectWithFlash(c, `${page.base}/templates/${t.id}`, 'attachment_removed');
  });
  return app;
}
