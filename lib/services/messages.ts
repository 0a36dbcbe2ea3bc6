import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { NOTIFICATION_STATUSES, NOTIFY_EVENTS } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import { requireStore, type Actor } from './access.ts';
import { parseOrThrow, ValidationError } from './errors.ts';

/**
 * The message log: one row per notification (order event), with the phone and text of its latest
 * attempt. Keyset pagination newest first on (created_at, id), served by the indexes
 * notifications_store_created_idx / notifications_store_status_created_idx. The cursor is opaque
 * (base64url JSON of the last row's created_at with microseconds, and its id).
 */
export interface MessageView {
  id: string;
  order_code: string;
  event: string;
  customer_phone: string | null;
  message_text: string | null;
  status: string;
  reason_code: string | null;
  reason: string | null;
  template_id: string | null;
  waha_message_id: string | null;
  workflow_id: string | null;
  created_at: string;
  updated_at: string;
  scheduled_for: string | null;
  sent_at: string | null;
  delivered_at: string | null;
  read_at: string | null;
  /** The file the latest attempt carried (image or document) and, when it went as text alone, why. */
  attachment_kind: string | null;
  attachment_filename: string | null;
  attachment_fallback: string | null;
}

export const DEFAULT_MESSAGES_LIMIT = 50;
export const MAX_MESSAGES_LIMIT = 500;

const filtersSchema = z.object({
  status: z.enum(NOTIFICATION_STATUSES, { message: `Статус: одно из ${NOTIFICATION_STATUSES.join(', ')}` }).optional(),
  event: z.enum(NOTIFY_EVENTS, { message: `Событие: одно из ${NOTIFY_EVENTS.join(', ')}` }).optional(),
  order_code: z.string().trim().min(1).max(64, 'Не длиннее 64 символов').refine((s) => !/\p{Cc}/u.test(s), 'Без управляющих символов').optional(),
});
export type MessageFilters = z.infer<typeof filtersSchema>;

export interface ListMessagesInput extends Partial<Record<keyof MessageFilters, string>> {
  limit?: string | number;
  cursor?: string;
}

interface Cursor {
  t: string;
  id: string;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.t, c.id]), 'utf8').toString('base64url');
}

function decodeCursor(raw: string): Cursor {
  try {
    const v: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string'
      && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(v[0]) && /^[0-9a-f-]{36}$/i.test(v[1])) {
      return { t: v[0], id: v[1] };
    }
  } catch {
    // fall through
  }
  throw new ValidationError({ cursor: 'Некорректный курсор: используйте next_cursor из предыдущего ответа' });
}

/** limit default 50, clamped to 1..500; garbage is a validation error. */
export function clampLimit(raw: string | number | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_MESSAGES_LIMIT;
  const n = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isFinite(n) || !Number.isInteger(n)) throw new ValidationError({ limit: 'Целое число от 1 до 500' });
  return Math.min(Math.max(n, 1), MAX_MESSAGES_LIMIT);
}

type TimeColumn = 'created_at' | 'updated_at' | 'scheduled_for' | 'sent_at' | 'delivered_at' | 'read_at';

/** A row as PostgreSQL returns it: the view's columns with times as Dates, plus the cursor's key. */
interface Row extends Omit<MessageView, TimeColumn> {
  created_at: Date;
  updated_at: Date;
  scheduled_for: Date | null;
  sent_at: Date | null;
  delivered_at: Date | null;
  read_at: Date | null;
  cursor_t: string;
}

const iso = (d: Date | null): string | null => (d ? new Date(d).toISOString() : null);

function toView(r: Row): MessageView {
  return {
    id: r.id,
    order_code: r.order_code,
    event: r.event,
    customer_phone: r.customer_phone,
    message_text: r.message_text,
    status: r.status,
    reason_code: r.reason_code,
    reason: r.reason,
    template_id: r.template_id,
    waha_message_id: r.waha_message_id,
    workflow_id: r.workflow_id,
    created_at: iso(r.created_at)!,
    updated_at: iso(r.updated_at)!,
    scheduled_for: iso(r.scheduled_for),
    sent_at: iso(r.sent_at),
    delivered_at: iso(r.delivered_at),
    read_at: iso(r.read_at),
    attachment_kind: r.attachment_kind ?? null,
    attachment_filename: r.attachment_filename ?? null,
    attachment_fallback: r.attachment_fallback ?? null,
  };
}

async function fetchPage(ctx: AppContext, storeId: string, filters: MessageFilters, limit: number, after: Cursor | null): Promise<Row[]> {
  const conds: SQL[] = [sql`n.store_id = ${storeId}`];
  if (filters.status) conds.push(sql`n.status = ${filters.status}`);
  if (filters.event) conds.push(sql`n.event = ${filters.event}`);
  if (filters.order_code) conds.push(sql`n.order_code = ${filters.order_code}`);
  if (after) conds.push(sql`(n.created_at, n.id) < (${after.t}::timestamptz, ${after.id}::uuid)`);
  const result = await ctx.db.execute<Row & Record<string, unknown>>(sql`
    select n.id, n.order_code, n.event, a.phone as customer_phone, a.rendered_text as message_text, n.status,
           n.reason_code, n.reason, n.template_id, a.waha_message_id, n.workflow_id, n.created_at, n.updated_at,
           n.scheduled_for, n.sent_at, n.delivered_at, n.read_at,
           a.attachment_kind, a.attachment_filename, a.attachment_fallback,
           to_char(n.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_t
    from (
      select * from notifications n where ${sql.join(conds, sql` and `)}
      order by n.created_at desc, n.id desc
      limit ${limit}
    ) n
    left join lateral (
      select ma.phone, ma.rendered_text, ma.waha_message_id, ma.attachment_kind, ma.attachment_filename, ma.attachment_fallback from message_attempts ma
      where ma.notification_id = n.id order by ma.attempt_no desc limit 1
    ) a on true
    order by n.created_at desc, n.id desc`);
  return result.rows as Row[];
}

export interface MessagesPage {
  messages: MessageView[];
  next_cursor: string | null;
}

export async function listMessages(ctx: AppContext, actor: Actor, storeId: unknown, input: ListMessagesInput = {}): Promise<MessagesPage> {
  const store = await requireStore(ctx, actor, storeId);
  const filters = parseOrThrow(filtersSchema, {
    status: input.status || undefined,
    event: input.event || undefined,
    order_code: input.order_code || undefined,
  });
  const limit = clampLimit(input.limit);
  const after = input.cursor ? decodeCursor(input.cursor) : null;
  const rows = await fetchPage(ctx, store.id, filters, limit + 1, after);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    messages: page.map(toView),
    next_cursor: rows.length > limit && last ? encodeCursor({ t: last.cursor_t, id: last.id }) : null,
  };
}

/**
 * A cell a spreadsheet would run as a formula (a buyer can put `=HYPERLINK(...)` in a name that a
 * template echoes) is prefixed with an apostrophe, as OWASP advises for CSV exports.
 */
export function neutralizeFormula(value: unknown): unknown {
  return typeof value === 'string' && /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

export const CSV_COLUMNS = [
  'id', 'created_at', 'order_code', 'event', 'status', 'reason_code', 'reason', 'customer_phone', 'message_text',
  'template_id', 'waha_message_id', 'workflow_id', 'scheduled_for', 'sent_at', 'delivered_at', 'read_at',
  'attachment_filename', 'attachment_fallback',
] as const satisfies readonly (keyof MessageView)[];

/**
 * The filtered log as CSV (UTF-8 with BOM so Excel shows Cyrillic), streamed page by page so a
 * million rows never sit in memory. Access is checked before the first byte.
 */
export async function exportMessagesCsv(ctx: AppContext, actor: Actor, storeId: unknown, input: ListMessagesInput = {}): Promise<Readable> {
  const store = await requireStore(ctx, actor, storeId);
  const filters = parseOrThrow(filtersSchema, {
    status: input.status || undefined,
    event: input.event || undefined,
    order_code: input.order_code || undefined,
  });
  const pageSize = 1000;
  async function* rows() {
    let after: Cursor | null = null;
    for (;;) {
      const page = await fetchPage(ctx, store.id, filters, pageSize, after);
      for (const r of page) {
        const v = toView(r);
        yield CSV_COLUMNS.map((c) => neutralizeFormula(v[c] ?? ''));
      }
      const last = page[page.length - 1];
      if (page.length < pageSize || !last) return;
      after = { t: last.cursor_t, id: last.id };
    }
  }
  const csv = stringify({ header: true, columns: [...CSV_COLUMNS], bom: true });
  return Readable.from(rows()).pipe(csv);
}
