import { Readable } from 'node:stream';
import { Hono } from 'hono';
import type { AppContext } from '../../lib/context.ts';
import type { AuthEnv } from '../../lib/auth/middleware.ts';
import { fmt } from '../../lib/i18n/messages.ts';
import { tr } from '../../lib/i18n/request-locale.ts';
import { ValidationError } from '../../lib/services/errors.ts';
import { getMessageDetail, getOrderDetail, resendFromLog } from '../../lib/services/message-detail.ts';
import { exportMessagesCsv, listMessages, type MessagesPage as MessagesResult } from '../../lib/services/messages.ts';
import { RESENDABLE_STATUSES, type ResendableStatus } from '../../lib/services/resend.ts';
import type { FieldErrors } from '../../views/form.ts';
import { MessageDetail, MessageRowsPage, MessagesPage, OrderPage, ResendResult, type MessageFilterValues } from '../../views/pages/messages.tsx';
import { loadStorePage, renderShell, temporalWorkflowUrl } from './common.tsx';

function filtersOf(q: Record<string, string>): MessageFilterValues {
  return { status: q.status ?? '', event: q.event ?? '', order_code: (q.order_code ?? '').trim() };
}

/** The message log (filters, keyset pages, row detail, CSV) and the order page. Mounted under /stores. */
export function messagePageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const workflowUrl = (id: string) => temporalWorkflowUrl(ctx, id);

  app.get('/:storeId/messages', async (c) => {
    const page = await loadStorePage(ctx, c);
    const filters = filtersOf(c.req.query());
    let result: MessagesResult = { messages: [], next_cursor: null };
    let errors: FieldErrors = {};
    try {
      result = await listMessages(ctx, c.get('actor'), page.store.store_id, { ...filters, cursor: c.req.query('cursor') || undefined });
    } catch (err) {
      // A bad filter is shown next to its field, with an empty log.
      if (!(err instanceof ValidationError)) throw err;
      errors = err.fields;
    }
    return renderShell(c, page, { title: tr.messages.title, active: 'messages' }, (
      <MessagesPage page={page} filters={filters} errors={errors} messages={result.messages} nextCursor={result.next_cursor} />
    ));
  });

  /** The next keyset page as rows (appended by htmx) plus the new "Далее" button out of band. */
  app.get('/:storeId/messages/rows', async (c) => {
    const page = await loadStorePage(ctx, c);
    const filters = filtersOf(c.req.query());
    const result = await listMessages(ctx, c.get('actor'), page.store.store_id, { ...filters, cursor: c.req.query('cursor') || undefined });
    return c.html(<MessageRowsPage page={page} filters={filters} messages={result.messages} nextCursor={result.next_cursor} />);
  });

  app.get('/:storeId/messages.csv', async (c) => {
    const page = await loadStorePage(ctx, c);
    const stream = await exportMessagesCsv(ctx, c.get('actor'), page.store.store_id, filtersOf(c.req.query()));
    const day = new Date().toISOString().slice(0, 10);
    return c.body(Readable.toWeb(stream) as ReadableStream, 200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="messages-${day}.csv"`,
      'cache-control': 'no-store',
    });
  });

  app.get('/:storeId/messages/:notificationId', async (c) => {
    const page = await loadStorePage(ctx, c);
    const detail = await getMessageDetail(ctx, c.get('actor'), page.store.store_id, c.req.param('notificationId'));
    const resendable = RESENDABLE_STATUSES.includes(detail.notification.status as ResendableStatus);
    return c.html(<MessageDetail page={page} detail={detail} resendable={resendable} workflowUrl={workflowUrl} />);
  });

  app.post('/:storeId/messages/:notificationId/resend', async (c) => {
    const outcome = await resendFromLog(ctx, c.get('actor'), c.req.param('storeId'), c.req.param('notificationId'));
    return c.html(<ResendResult outcome={outcome} />);
  });

  app.get('/:storeId/orders/:orderCode', async (c) => {
    const page = await loadStorePage(ctx, c);
    const code = c.req.param('orderCode');
    const detail = await getOrderDetail(ctx, c.get('actor'), page.store.store_id, code);
    return renderShell(c, page, { title: fmt(tr.order.title, { code }), active: 'messages' }, (
      <OrderPage page={page} code={code} detail={detail} workflowUrl={workflowUrl} />
    ));
  });
  return app;
}
