import { Readable } from 'node:stream';
import { Hono, type Context } from 'hono';
import type { AppContext } from '../../lib/context.ts';
import { requireApiAuth, type AuthEnv } from '../../lib/auth/middleware.ts';
import { exportMessagesCsv, listMessages } from '../../lib/services/messages.ts';
import { sendTestMessage } from '../../lib/services/send-test.ts';
import { getWhatsappSettings, saveWhatsappSettings } from '../../lib/services/settings.ts';
import { archiveTemplate, createTemplate, listTemplates, updateTemplate } from '../../lib/services/templates.ts';
import { removeTemplateAttachment, setTemplateAttachment, templateAttachmentFile } from '../../lib/services/template-attachments.ts';
import { attachmentResponse, readAttachmentUpload } from '../uploads.ts';
import { getTemplateStats, templateStatsCsv } from '../../lib/services/template-stats.ts';
import { localeFromAcceptLanguage } from '../../lib/i18n/messages.ts';
import { jsonErrorHandler, readJson } from './respond.ts';

/** The /whatsapp/* endpoints of the original request, under /api/whatsapp (README "JSON API for Kaspi Demper"). Mounted at /api/whatsapp. */
export function whatsappApiRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.use('*', requireApiAuth(ctx));
  app.onError(jsonErrorHandler(ctx));

  app.get('/settings/:storeId', async (c) => {
    return c.json({ success: true, settings: await getWhatsappSettings(ctx, c.get('actor'), c.req.param('storeId')) });
  });
  app.post('/settings/:storeId', async (c) => {
    const body = await readJson(c);
    return c.json({ success: true, settings: await saveWhatsappSettings(ctx, c.get('actor'), c.req.param('storeId'), body) });
  });

  app.get('/templates/:storeId', async (c) => {
    return c.json({ success: true, templates: await listTemplates(ctx, c.get('actor'), c.req.param('storeId')) });
  });
  app.post('/templates/:storeId', async (c) => {
    const body = await readJson(c);
    const template = await createTemplate(ctx, c.get('actor'), c.req.param('storeId'), body);
    return c.json({ success: true, template_id: template.id, template }, 201);
  });
  app.put('/templates/:templateId', async (c) => {
    const body = await readJson(c);
    return c.json({ success: true, template: await updateTemplate(ctx, c.get('actor'), c.req.param('templateId'), body) });
  });
  // Outcomes per template and variant over ?from=&to= (store days, inclusive), with the decision (lib/services/template-stats.ts).
  app.get('/templates/:storeId/stats', async (c) => {
    const stats = await getTemplateStats(ctx, c.get('actor'), c.req.param('storeId'), c.req.query(), localeFromAcceptLanguage(c.req.header('accept-language')));
    return c.json({ success: true, ...stats });
  });
  app.get('/templates/:storeId/stats.csv', async (c) => {
    const stats = await getTemplateStats(ctx, c.get('actor'), c.req.param('storeId'), c.req.query(), localeFromAcceptLanguage(c.req.header('accept-language')));
    return c.body(templateStatsCsv(stats), 200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="template-stats-${stats.period.from}-${stats.period.to}.csv"`,
    });
  });
  app.delete('/templates/:templateId', async (c) => {
    await archiveTemplate(ctx, c.get('actor'), c.req.param('templateId'));
    return c.json({ success: true });
  });

  // A template's picture or PDF: set or replace (multipart field `file`, or WAHA's BinaryFile as
  // JSON), read back as the file itself, remove. Responses describe it, never where it is kept.
  const setAttachment = async (c: Context<AuthEnv>) => {
    const attachment = await setTemplateAttachment(ctx, c.get('actor'), c.req.param('templateId'), await readAttachmentUpload(c, 'file'));
    return c.json({ success: true, attachment });
  };
  app.put('/templates/:templateId/attachment', setAttachment);
  app.post('/templates/:templateId/attachment', setAttachment);
  app.get('/templates/:templateId/attachment', async (c) => attachmentResponse(await templateAttachmentFile(ctx, c.get('actor'), c.req.param('templateId'))));
  app.delete('/templates/:templateId/attachment', async (c) => {
    await removeTemplateAttachment(ctx, c.get('actor'), c.req.param('templateId'));
    return c.json({ success: true });
  });

  app.post('/send-test/:storeId', async (c) => {
    const body = await readJson(c);
    return c.json({ success: true, result: await sendTestMessage(ctx, c.get('actor'), c.req.param('storeId'), body) });
  });

  app.get('/messages/:storeId', async (c) => {
    const page = await listMessages(ctx, c.get('actor'), c.req.param('storeId'), c.req.query());
    return c.json({ success: true, ...page });
  });
  // Not in the original request: the same filters as CSV, streamed (the pages link here too).
  app.get('/messages/:storeId/export.csv', async (c) => {
    const stream = await exportMessagesCsv(ctx, c.get('actor'), c.req.param('storeId'), c.req.query());
    return new Response(Readable.toWeb(stream) as ReadableStream, {
      headers: {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="messages-${c.req.param('storeId')}.csv"`,
      },
    });
  });
  return app;
}
