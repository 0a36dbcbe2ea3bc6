import { NOTIFICATION_STATUSES, NOTIFY_EVENTS } from '../../drizzle/schema.ts';
import { fmt } from '../../lib/i18n/messages.ts';
import { tr, trSection } from '../../lib/i18n/request-locale.ts';
import { maskPhone } from '../../lib/phones/phones.ts';
import { formatBytes } from '../../lib/templates/attachments.ts';
import type { MessageDetail as MessageDetailData, OrderDetail, PageResendOutcome } from '../../lib/services/message-detail.ts';
import type { MessageView } from '../../lib/services/messages.ts';
import { Alert, Card, Empty, EventLabel, Field, StatusBadge } from '../components.tsx';
import type { FieldErrors } from '../form.ts';
import { formatDateTime } from '../format.ts';
import type { StorePage } from '../layout.tsx';

/** The message log (filters, keyset pages, row detail with resend) and the order page. */

const L = trSection('messages');

/**
 * Why a message waits or ended, in the reader's language: from its code through the catalogue; the
 * Russian text stored beside the code only for a code the catalogue does not know.
 */
function reasonText(m: { status: string; reason_code: string | null; reason: string | null }): string | null {
  const code = m.reason_code;
  if (!code) return m.reason;
  const waiting = m.status === 'queued' || m.status === 'scheduled';
  return (waiting ? tr.waitReasons[code] ?? tr.reasons[code] : tr.reasons[code] ?? tr.waitReasons[code]) ?? m.reason;
}

export type MessageFilterValues = {
  status: string;
  event: string;
  order_code: string;
};

/** Builds a Temporal UI link for a workflow id (the route knows the address). */
export type WorkflowLink = (workflowId: string) => string;

/** `?a=1&b=2` of the non-empty values, or "". */
export function queryString(params: Record<string, string | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

export function MessagesPage(props: { page: StorePage; filters: MessageFilterValues; errors: FieldErrors; messages: MessageView[]; nextCursor: string | null }) {
  const { page, filters } = props;
  return (
    <>
      <div class="page-head">
        <h1>{L.title}</h1>
        <a class="btn" href={`${page.base}/messages.csv${queryString({ ...filters })}`} download id="export-csv">{L.export}</a>
      </div>
      <Card>
        <MessageFilters page={page} filters={filters} errors={props.errors} />
      </Card>
      <Card>
        {props.messages.length === 0 ? <Empty text={L.empty} /> : (
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
                  <MessageRows page={page} messages={props.messages} />
                </tbody>
                <tfoot>
                  <PagerRow page={page} filters={filters} cursor={props.nextCursor} />
                </tfoot>
              </table>
            </div>
          </>
        )}
      </Card>
    </>
  );
}

function MessageFilters(props: { page: StorePage; filters: MessageFilterValues; errors: FieldErrors }) {
  const { page, filters, errors } = props;
  return (
    <form method="get" action={`${page.base}/messages`} class="filters" id="filters">
      <Field label={L.status} for="f-status" error={errors.status}>
        <select id="f-status" name="status">
          <option value="">{L.any}</option>
          {NOTIFICATION_STATUSES.map((s) => <option value={s} selected={filters.status === s}>{tr.statuses[s]}</option>)}
        </select>
      </Field>
      <Field label={L.event} for="f-event" error={errors.event}>
        <select id="f-event" name="event">
          <option value="">{L.any}</option>
          {NOTIFY_EVENTS.map((e) => <option value={e} selected={filters.event === e}>{tr.events[e]}</option>)}
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
  );
}

/** The next keyset page (htmx appends it): its rows, and the new "Далее" out of band. */
export function MessageRowsPage(props: { page: StorePage; filters: MessageFilterValues; messages: MessageView[]; nextCursor: string | null }) {
  return (
    <>
      <MessageRows page={props.page} messages={props.messages} />
      <PagerRow page={props.page} filters={props.filters} cursor={props.nextCursor} oob />
    </>
  );
}

/** Each message is two rows: the summary and a hidden one its "Подробнее" fills with MessageDetail. */
function MessageRows(props: { page: StorePage; messages: MessageView[] }) {
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
            <td class="msg-text"><div class="clamp">{m.message_text ?? '—'}</div>{reasonText(m) ? <div class="muted small">{reasonText(m)}</div> : null}</td>
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
function PagerRow(props: { page: StorePage; filters: MessageFilterValues; cursor: string | null; oob?: boolean }) {
  const q = props.cursor ? queryString({ ...props.filters, cursor: props.cursor }) : '';
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

// ---- the row detail (an htmx fragment) ---------------------------------------------------------

export function MessageDetail(props: { page: StorePage; detail: MessageDetailData; resendable: boolean; workflowUrl: WorkflowLink }) {
  const { page, detail: d } = props;
  const n = d.notification;
  return (
    <div class="detail" id={`detail-body-${n.id}`}>
      {props.resendable ? <ResendButton base={page.base} notificationId={n.id} /> : null}
      {n.workflowId ? (
        <p>
          <a href={props.workflowUrl(n.workflowId)} target="_blank" rel="noopener noreferrer" class="workflow-link">
            {L.workflow}: <code>{n.workflowId}</code>
          </a>
        </p>
      ) : null}
      <div class="grid-2">
        <div>
          <h4>{L.history}</h4>
          <StatusHistory events={d.events} timezone={page.store.timezone} />
        </div>
        <div>
          <h4>{L.attempts}</h4>
          <Attempts attempts={d.attempts} timezone={page.store.timezone} />
        </div>
      </div>
    </div>
  );
}

function ResendButton(props: { base: string; notificationId: string }) {
  const id = props.notificationId;
  return (
    <div class="resend" id={`resend-${id}`}>
      <button type="button" class="btn btn-small btn-primary" hx-post={`${props.base}/messages/${id}/resend`}
        hx-target={`#resend-${id}`} hx-swap="innerHTML" hx-confirm={L.resendConfirm} id={`resend-button-${id}`}>
        {L.resend}
      </button>
      <span class="hint"> {L.resendHint}</span>
    </div>
  );
}

function StatusHistory(props: { events: MessageDetailData['events']; timezone: string }) {
  if (props.events.length === 0) return <Empty text={L.noHistory} />;
  return (
    <table class="table table-compact history">
      <thead><tr><th>{L.event_.time}</th><th>{L.event_.kind}</th><th>{L.event_.change}</th><th>{L.event_.source}</th></tr></thead>
      <tbody>
        {props.events.map((e) => {
          const detail = (e.detail ?? {}) as { source?: unknown; reasonCode?: unknown };
          return (
            <tr>
              <td class="nowrap">{formatDateTime(e.created_at, props.timezone)}</td>
              <td>{e.kind}{e.ack !== null ? ` (ack ${e.ack})` : ''}</td>
              <td>{e.from_status || e.to_status ? <>{e.from_status ? <StatusBadge status={e.from_status} /> : null} → {e.to_status ? <StatusBadge status={e.to_status} /> : null}</> : '—'}</td>
              <td>{typeof detail.source === 'string' ? detail.source : '—'}{typeof detail.reasonCode === 'string' ? ` · ${detail.reasonCode}` : ''}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** Which file an attempt carried, and why it went as text alone when it did. */
function AttemptAttachment(props: { attachment: NonNullable<MessageDetailData['attempts'][number]['attachment']> }) {
  const a = props.attachment;
  const what = { kind: L.attachmentKinds[a.kind] ?? a.kind, name: a.filename, size: a.size_bytes === null ? '—' : formatBytes(a.size_bytes) };
  if (!a.fallback) return <>{fmt(L.attachmentSent, what)}</>;
  return <span class="text-warn">{fmt(L.attachmentNotSent, { ...what, why: L.attachmentFallbacks[a.fallback] ?? a.fallback })}</span>;
}

function Attempts(props: { attempts: MessageDetailData['attempts']; timezone: string }) {
  if (props.attempts.length === 0) return <Empty text={L.noAttempts} />;
  return (
    <>
      {props.attempts.map((a) => (
        <div class="attempt">
          <dl class="kv">
            <dt>{L.attempt.no}</dt><dd>{a.attempt_no} · {a.outcome}</dd>
            <dt>{L.attempt.started}</dt><dd>{formatDateTime(a.started_at, props.timezone)}</dd>
            <dt>{L.attempt.chat}</dt><dd>{a.phone ? maskPhone(a.phone) : '—'}</dd>
            <dt>{L.attempt.messageId}</dt><dd><code class="break">{a.waha_message_id ?? '—'}</code></dd>
            <dt>{L.attempt.ack}</dt><dd>{a.last_ack ?? '—'}</dd>
            {a.error ? <><dt>{L.attempt.error}</dt><dd class="text-bad">{a.error}</dd></> : null}
            {a.attachment ? <><dt>{L.attempt.attachment}</dt><dd class="attempt-attachment"><AttemptAttachment attachment={a.attachment} /></dd></> : null}
          </dl>
          {a.rendered_text ? <div class="bubble">{a.rendered_text}</div> : null}
        </div>
      ))}
    </>
  );
}

/** What the resend button did: a 200 fragment for every outcome (htmx swaps only 2xx). */
export function ResendResult(props: { outcome: PageResendOutcome }) {
  const o = props.outcome;
  if (o.result === 'started') return <Alert tone="ok" id="resend-result">{fmt(L.resendStarted, { n: o.attemptNo })}</Alert>;
  if (o.result === 'expired') return <Alert tone="warn" id="resend-result">{L.resendExpired}</Alert>;
  if (o.result === 'in_progress') return <Alert tone="warn" id="resend-result">{L.resendInProgress}</Alert>;
  return <Alert tone="bad" id="resend-result">{fmt(L.resendNotAllowed, { status: tr.statuses[o.status] ?? o.status })}</Alert>;
}

// ---- the order page ----------------------------------------------------------------------------

const O = trSection('order');

export function OrderPage(props: { page: StorePage; code: string; detail: OrderDetail; workflowUrl: WorkflowLink }) {
  const { page, detail: d } = props;
  return (
    <>
      <p><a href={`${page.base}/messages`}>{O.back}</a></p>
      <h1>{fmt(O.title, { code: props.code })}</h1>
      <Card id="order-info">
        {d.order ? <OrderInfo order={d.order} timezone={page.store.timezone} /> : <Alert tone="info">{O.unknown}</Alert>}
      </Card>
      <Card title={O.messages} id="order-messages">
        <ol class="timeline">
          {d.messages.map((m) => <OrderMessage message={m} timezone={page.store.timezone} workflowUrl={props.workflowUrl} />)}
        </ol>
      </Card>
    </>
  );
}

function OrderInfo(props: { order: NonNullable<OrderDetail['order']>; timezone: string }) {
  const { order: o, timezone: tz } = props;
  return (
    <dl class="kv kv-wide">
      <dt>{O.state}</dt><dd>{o.state} / {o.status} <span class={`badge ${o.is_open ? 'badge-ok' : 'badge-muted'}`}>{o.is_open ? O.open : O.closed}</span></dd>
      <dt>{O.source}</dt><dd>{O.sources[o.source] ?? o.source}</dd>
      <dt>{O.created}</dt><dd>{formatDateTime(o.creation_date, tz)}</dd>
      <dt>{O.firstSeen}</dt><dd>{formatDateTime(o.first_seen_at, tz)}</dd>
      <dt>{O.lastSeen}</dt><dd>{formatDateTime(o.last_seen_at, tz)}</dd>
    </dl>
  );
}

function OrderMessage(props: { message: MessageView; timezone: string; workflowUrl: WorkflowLink }) {
  const { message: m, timezone: tz } = props;
  return (
    <li class="timeline-item">
      <div class="timeline-head">
        <EventLabel event={m.event} /> <StatusBadge status={m.status} />
        <span class="muted small">{formatDateTime(m.created_at, tz)}</span>
      </div>
      {m.message_text ? <div class="bubble">{m.message_text}</div> : null}
      {reasonText(m) ? <p class="muted small">{reasonText(m)}</p> : null}
      <p class="small muted">
        {m.sent_at ? `${tr.statuses.sent}: ${formatDateTime(m.sent_at, tz)} ` : ''}
        {m.delivered_at ? `· ${tr.statuses.delivered}: ${formatDateTime(m.delivered_at, tz)} ` : ''}
        {m.read_at ? `· ${tr.statuses.read}: ${formatDateTime(m.read_at, tz)}` : ''}
      </p>
      {m.workflow_id ? <a class="small" href={props.workflowUrl(m.workflow_id)} target="_blank" rel="noopener noreferrer">{L.workflow}</a> : null}
    </li>
  );
}
