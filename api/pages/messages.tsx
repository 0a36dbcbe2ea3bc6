import { Readable } from 'node:stream';
import { Hono } from 'hono';
import { and, eq } from 'drizzle-orm';
import { NOTIFICATION_STATUSES, NOTIFY_EVENTS, notifications } from '../../drizzle/schema.ts';
import type { AppContext } from '../../lib/context.ts';
import type { AuthEnv } from '../../lib/auth/middleware.ts';
import { maskPhone } from '../../lib/phones/phones.ts';
import { isUuid, requireStore } from '../../lib/services/access.ts';
import { recordAudit } from '../../lib/services/audit.ts';
import { NotFoundError, ValidationError } from '../../lib/services/errors.ts';
import { getMessageDetail, getOrderDetail } from '../../lib/services/message-detail.ts';
import { exportMessagesCsv, listMessages, type MessageView } from '../../lib/services/messages.ts';
import { RESENDABLE_STATUSES, resendOne, type ResendableStatus } from '../../lib/services/resend.ts';
import { Alert, Card, Empty, EventLabel, Field, StatusBadge } from '../../views/components.tsx';
import { fmt, ru } from '../../lib/i18n/messages.ts';
import { formatDateTime } from '../../views/format.ts';
import { loadStorePage, renderShell, temporalWorkflowUrl, type StorePage } from './common.tsx';

const L = ru.messages;

function filtersOf(q: Record<string, string>) {
  return { status: q.status ?? '', event: q.event ?? '', order_code: (q.order_code ?? '').trim() };
}

function query(params: Record<string, string | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

function Rows(props: { page: StorePage; messages: MessageView[] }) {
  const { page } = props;
  return (
    <>
      {props.messages.map((m) => (
        <>
          <tr class="msg-row" id={`msg-${m.id}`}>
            <td class="nowrap">{formatDateTime(m.created_at, page.store.timezone)}</td>
            <td><a href={`${page.base}/orders/${encodeURIComponent(m.order_code)}`} class="order-link">{m.order_code}</a></td>
            <td><EventLabel event={m.event} /></td>
            <td><StatusBadge status={m.status} /></td>
            <td class="nowrap">{m.customer_phone ? maskPhone(m.customer_phone) : '—'}</td>
            <td class="msg-text"><div class="clamp">{m.message_text ?? '—'}</div>{m.reason ? <div class="muted small">{m.reason}</div> : null}</td>
            <td>
              <button type="button" class="btn btn-small" hx-get={`${page.base}/messages/${m.id}`} hx-target={`#detail-${m.id}`} hx-swap="innerHTML" data-toggle-row={`detail-row-${m.id}`}>
                {L.details}
              </button>
            </td>
          </tr>
          <tr class="detail-row" id={`detail-row-${m.id}`} hidden>
            <td colspan={7} id={`detail-${m.id}`}></td>
          </tr>
        </>
      ))}
    </>
  );
}

/** The pager lives in the table's <tfoot> as a row, so the htmx response (rows + this row out of band) stays valid table markup. */
function PagerRow(props: { page: StorePage; filters: Record<string, string>; cursor: string | null; oob?: boolean }) {
  const q = props.cursor ? query({ ...props.filters, cursor: props.cursor }) : '';
  return (
    <tr id="pager-row" hx-swap-oob={props.oob ? 'true' : undefined}>
      <td colspan={7} class="pager">
        {props.cursor ? (
          <a class="btn" href={`${props.page.base}/messages${q}`} hx-get={`${props.page.base}/messages/rows${q}`} hx-target="#messages-body" hx-swap="beforeend" id="next-link">
            {L.next}
          </a>
        ) : null}
      </td>
    </tr>
  );
}

/** The message log (filters, keyset pages, row detail, CSV) and the order page. Mounted under /stores. */
export function messagePageRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();

  app.get('/:storeId/messages', async (c) => {
    const page = await loadStorePage(ctx, c);
    const filters = filtersOf(c.req.query());
    let result: Awaited<ReturnType<typeof listMessages>> = { messages: [], next_cursor: null };
    let errors: Record<string, string> = {};
    try {
      result = await listMessages(ctx, c.get('actor'), page.store.store_id, { ...filters, cursor: c.req.query('cursor') || undefined });
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      errors = err.fields;
    }
    const csv = `${page.base}/messages.csv${query(filters)}`;
    return renderShell(c, page, { title: L.title, active: 'messages' }, (
      <>
        <div class="page-head">
          <h1>{L.title}</h1>
          <a class="btn" href={csv} download id="export-csv">{L.export}</a>
        </div>
        <Card>
          <form method="get" action={`${page.base}/messages`} class="filters" id="filters">
            <Field label={L.status} for="f-status" error={errors.status}>
              <select id="f-status" name="status">
                <option value="">{L.any}</option>
                {NOTIFICATION_STATUSES.map((s) => <option value={s} selected={filters.status === s}>{ru.statuses[s]}</option>)}
              </select>
            </Field>
            <Field label={L.event} for="f-event" error={errors.event}>
              <select id="f-event" name="event">
                <option value="">{L.any}</option>
                {NOTIFY_EVENTS.map((e) => <option value={e} selected={filters.event === e}>{ru.events[e]}</option>)}
              </select>
            </Field>
            <Field label={L.orderCode} for="f-order" error={errors.order_code ?? errors.cursor}>
              <input type="search" id="f-order" name="order_code" value={filters.order_code} maxlength={64} />
            </Field>
            <div class="filter-actions">
              <button type="submit" class="btn btn-primary">{L.apply}</button>
              <a class="btn btn-ghost" href={`${page.base}/messages`}>{L.reset}</a>
            </div>
          </form>
        </Card>
        <Card>
          {result.messages.length === 0 ? <Empty text={L.empty} /> : (
            <>
              <div class="table-wrap">
                <table class="table" id="messages-table">
                  <thead>
                    <tr>
                      <th>{L.columns.created}</th><th>{L.columns.order}</th><th>{L.columns.event}</th><th>{L.columns.status}</th>
                      <th>{L.columns.phone}</th><th>{L.columns.text}</th><th></th>
                    </tr>
                  </thead>
                  <tbody id="messages-body">
                    <Rows page={page} messages={result.messages} />
                  </tbody>
                  <tfoot>
                    <PagerRow page={page} filters={filters} cursor={result.next_cursor} />
                  </tfoot>
                </table>
              </div>
            </>
          )}
        </Card>
      </>
    ));
  });

  /** The next keyset page as rows (appended by htmx) plus the new "Далее" button out of band. */
  app.get('/:storeId/messages/rows', async (c) => {
    const page = await loadStorePage(ctx, c);
    const filters = filtersOf(c.req.query());
    const result = await listMessages(ctx, c.get('actor'), page.store.store_id, { ...filters, cursor: c.req.query('cursor') || undefined });
    return c.html(
      <>
        <Rows page={page} messages={result.messages} />
        <PagerRow page={page} filters={filters} cursor={result.next_cursor} oob />
      </>,
    );
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
    const d = await getMessageDetail(ctx, c.get('actor'), page.store.store_id, c.req.param('notificationId'));
    const tz = page.store.timezone;
    return c.html(
      <div class="detail" id={`detail-body-${d.notification.id}`}>
        {RESENDABLE_STATUSES.includes(d.notification.status as ResendableStatus) ? (
          <div class="resend" id={`resend-${d.notification.id}`}>
            <button type="button" class="btn btn-small btn-primary" hx-post={`${page.base}/messages/${d.notification.id}/resend`}
              hx-target={`#resend-${d.notification.id}`} hx-swap="innerHTML" hx-confirm={L.resendConfirm} id={`resend-button-${d.notification.id}`}>
              {L.resend}
            </button>
            <span class="hint"> {L.resendHint}</span>
          </div>
        ) : null}
        {d.notification.workflowId ? (
          <p>
            <a href={temporalWorkflowUrl(ctx, d.notification.workflowId)} target="_blank" rel="noopener noreferrer" class="workflow-link">
              {L.workflow}: <code>{d.notification.workflowId}</code>
            </a>
          </p>
        ) : null}
        <div class="grid-2">
          <div>
            <h4>{L.history}</h4>
            {d.events.length === 0 ? <Empty text={L.noHistory} /> : (
              <table class="table table-compact history">
                <thead><tr><th>{L.event_.time}</th><th>{L.event_.kind}</th><th>{L.event_.change}</th><th>{L.event_.source}</th></tr></thead>
                <tbody>
                  {d.events.map((e) => {
                    const detail = (e.detail ?? {}) as { source?: unknown; reasonCode?: unknown };
                    return (
                      <tr>
                        <td class="nowrap">{formatDateTime(e.created_at, tz)}</td>
                        <td>{e.kind}{e.ack !== null ? ` (ack ${e.ack})` : ''}</td>
                        <td>{e.from_status || e.to_status ? <>{e.from_status ? <StatusBadge status={e.from_status} /> : null} → {e.to_status ? <StatusBadge status={e.to_status} /> : null}</> : '—'}</td>
                        <td>{typeof detail.source === 'string' ? detail.source : '—'}{typeof detail.reasonCode === 'string' ? ` · ${detail.reasonCode}` : ''}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            )}
          </div>
          <div>
            <h4>{L.attempts}</h4>
            {d.attempts.length === 0 ? <Empty text={L.noAttempts} /> : d.attempts.map((a) => (
              <div class="attempt">
                <dl class="kv">
                  <dt>{L.attempt.no}</dt><dd>{a.attempt_no} · {a.outcome}</dd>
                  <dt>{L.attempt.started}</dt><dd>{formatDateTime(a.started_at, tz)}</dd>
                  <dt>{L.attempt.chat}</dt><dd>{a.phone ? maskPhone(a.phone) : '—'}</dd>
                  <dt>{L.attempt.messageId}</dt><dd><code class="break">{a.waha_message_id ?? '—'}</code></dd>
                  <dt>{L.attempt.ack}</dt><dd>{a.last_ack ?? '—'}</dd>
                  {a.error ? <><dt>{L.attempt.error}</dt><dd class="text-bad">{a.error}</dd></> : null}
                </dl>
                {a.rendered_text ? <div class="bubble">{a.rendered_text}</div> : null}
              </div>
            ))}
          </div>
        </div>
      </div>,
    );
  });

  /**
   * The detail's resend button (failed / undelivered only). The store and the notification are
   * checked here — resendOne itself takes any id — so another store's id is the same 404 as an
   * unknown one. Every outcome is a 200 fragment (htmx swaps only 2xx) saying what happened.
   */
  app.post('/:storeId/messages/:notificationId/resend', async (c) => {
    const actor = c.get('actor');
    const store = await requireStore(ctx, actor, c.req.param('storeId'));
    const id = c.req.param('notificationId');
    if (!isUuid(id)) throw new NotFoundError();
    const [n] = await ctx.db.select({ id: notifications.id, status: notifications.status }).from(notifications)
      .where(and(eq(notifications.id, id), eq(notifications.storeId, store.id)));
    if (!n) throw new NotFoundError();
    const r = await resendOne(ctx, n.id, { requestedBy: `admin:${actor.userId}` });
    if (r.result === 'started') {
      await recordAudit(ctx.db, { storeId: store.id, actor, action: 'notification.resend', details: { notification_id: n.id, workflow_id: r.workflowId, attempt_no: r.attemptNo } });
      return c.html(<Alert tone="ok" id="resend-result">{fmt(L.resendStarted, { n: r.attemptNo })}</Alert>);
    }
    if (r.result === 'skipped' && r.reason === 'not_found') throw new NotFoundError();
    if (r.result === 'skipped' && r.reason === 'expired') return c.html(<Alert tone="warn" id="resend-result">{L.resendExpired}</Alert>);
    if (r.result === 'skipped' && r.reason === 'in_progress') return c.html(<Alert tone="warn" id="resend-result">{L.resendInProgress}</Alert>);
    // not_resendable: the status is not (or no longer) failed / undelivered.
    const [now] = await ctx.db.select({ status: notifications.status }).from(notifications).where(eq(notifications.id, n.id));
    const status = now?.status ?? n.status;
    return c.html(<Alert tone="bad" id="resend-result">{fmt(L.resendNotAllowed, { status: ru.statuses[status] ?? status })}</Alert>);
  });

  app.get('/:storeId/orders/:orderCode', async (c) => {
    const page = await loadStorePage(ctx, c);
    const code = c.req.param('orderCode');
    const d = await getOrderDetail(ctx, c.get('actor'), page.store.store_id, code);
    const O = ru.order;
    const tz = page.store.timezone;
    return renderShell(c, page, { title: fmt(O.title, { code }), active: 'messages' }, (
      <>
        <p><a href={`${page.base}/messages`}>{O.back}</a></p>
        <h1>{fmt(O.title, { code })}</h1>
        <Card id="order-info">
          {d.order ? (
            <dl class="kv kv-wide">
              <dt>{O.state}</dt><dd>{d.order.state} / {d.order.status} <span class={`badge ${d.order.is_open ? 'badge-ok' : 'badge-muted'}`}>{d.order.is_open ? O.open : O.closed}</span></dd>
              <dt>{O.source}</dt><dd>{O.sources[d.order.source] ?? d.order.source}</dd>
              <dt>{O.created}</dt><dd>{formatDateTime(d.order.creation_date, tz)}</dd>
              <dt>{O.firstSeen}</dt><dd>{formatDateTime(d.order.first_seen_at, tz)}</dd>
              <dt>{O.lastSeen}</dt><dd>{formatDateTime(d.order.last_seen_at, tz)}</dd>
            </dl>
          ) : <Alert tone="info">{O.unknown}</Alert>}
        </Card>
        <Card title={O.messages} id="order-messages">
          <ol class="timeline">
            {d.messages.map((m) => (
              <li class="timeline-item">
                <div class="timeline-head">
                  <EventLabel event={m.event} /> <StatusBadge status={m.status} />
                  <span class="muted small">{formatDateTime(m.created_at, tz)}</span>
                </div>
                {m.message_text ? <div class="bubble">{m.message_text}</div> : null}
                {m.reason ? <p class="muted small">{m.reason}</p> : null}
                <p class="small muted">
                  {m.sent_at ? `${ru.statuses.sent}: ${formatDateTime(m.sent_at, tz)} ` : ''}
                  {m.delivered_at ? `· ${ru.statuses.delivered}: ${formatDateTime(m.delivered_at, tz)} ` : ''}
                  {m.read_at ? `· ${ru.statuses.read}: ${formatDateTime(m.read_at, tz)}` : ''}
                </p>
                {m.workflow_id ? <a class="small" href={temporalWorkflowUrl(ctx, m.workflow_id)} target="_blank" rel="noopener noreferrer">{L.workflow}</a> : null}
              </li>
            ))}
          </ol>
        </Card>
      </>
    ));
  });
  return app;
}
