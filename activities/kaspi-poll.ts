/**
 * The Kaspi poll (docs/architecture.md steps 1–2, docs/contracts/kaspi.md): read a store's orders from the Shop API,
 * then in ONE transaction upsert `orders`, insert the `notifications` rows the planner asks for and
 * move the store's cursor. The poll workflow starts one notification workflow per returned id.
 *
 * Error contract (what the poll workflow's retry policy sees):
 * - Kaspi 401/403 (KaspiAuthError): the store gets `token_rejected = true` with a readable Russian
 *   reason and `last_poll_error`, its schedule is paused (reconcileSchedules for that store), and
 *   the activity throws ApplicationFailure.nonRetryable(type 'KaspiTokenRejected'). A new token
 *   (token_rejected = false + reconcile) resumes it.
 * - Kaspi 429 (KaspiRateLimitError): retryable ApplicationFailure type 'KaspiRateLimited' with
 *   `nextRetryDelay` = Retry-After when Kaspi sent one; `last_poll_error` is recorded.
 * - 5xx, timeouts, network errors, unparsable pages (KaspiUnavailableError / KaspiProtocolError):
 *   `last_poll_error` is recorded and the error is rethrown as is (retryable, normal back-off).
 * - 400 on a request we believed valid (KaspiBadRequestError) and an undecryptable token:
 *   non-retryable ('KaspiBadRequest' / 'KaspiTokenUnreadable'); the next scheduled run tries again.
 * - Database errors: rethrown (retryable). Nothing is written before the final transaction, so a
 *   failed attempt loses nothing: the cursor only moves when the rows are in.
 * - One malformed order (`rejected` by the parser): skipped, logged with its code only, counted in
 *   `last_poll_error`; its page-mates are processed. Not an activity failure.
 * - Store disabled, without a token, or with a rejected token: returns [] without calling Kaspi.
 *
 * Personal data: logs, heartbeats, errors and the result carry store ids, order codes, events and
 * row ids only. The token lives only in the KaspiClient; buyer names/phones only in `orders.snapshot`.
 */
import { activityContext } from './heartbeat.ts';
import { ApplicationFailure } from '@temporalio/common';
import { and, asc, eq, inArray, isNull, max, sql } from 'drizzle-orm';
import { notifications, orders, stores, templates, type NotifyEvent } from '../drizzle/schema.ts';
import type { AppContext } from '../lib/context.ts';
import { SecretDecryptError } from '../lib/crypto.ts';
import {
  KaspiAuthError,
  KaspiBadRequestError,
  KaspiClient,
  KaspiError,
  KaspiProtocolError,
  KaspiRateLimitError,
  type OrdersPageInfo,
} from '../lib/kaspi/client.ts';
import { REREAD_STATES, isOpenState, planNotifications, pollWindow, type PlannedNotification } from '../lib/kaspi/events.ts';
import type { KaspiOrder, RejectedOrder } from '../lib/kaspi/orders.ts';
import { reconcileSchedules } from '../lib/temporal/schedules.ts';

/** Re-read this much before the cursor: Kaspi can show an order a little after its creationDate. */
export const POLL_OVERLAP_MS = 10 * 60 * 1000;
/** At most this many ids per poll; the rest stay `queued` and the next poll returns them. */
export const MAX_QUEUED_IDS = 200;
/** By-code look-ups per poll; open orders beyond it are looked up by the following polls. */
export const MAX_LOOKUPS_PER_POLL = 100;
export const KASPI_USER_AGENT = 'kaspi-notify/0.1';

export const TOKEN_REJECTED_REASON =
  'Kaspi отклонил API-токен магазина. Создайте новый токен в кабинете продавца Kaspi ' +
  '(Настройки → Токен API) и сохраните его в настройках магазина: опрос заказов приостановлен до этого.';

const REASON_TEXT: Record<string, string> = {
  superseded: 'Заказ сразу перешёл к более позднему событию: отправляется только последнее.',
  expired: 'Событие замечено слишком поздно: сообщение уже неактуально.',
};

export interface PollKaspiStoreInput {
  storeId: string;
}

/** Ids only: the Temporal UI shows activity results unencrypted. */
export interface QueuedNotificationRef {
  notificationId: string;
  orderCode: string;
  event: NotifyEvent;
}

export interface KaspiStoreCredentials {
  storeId: string;
  token: string;
  merchantUid: string | null;
}

export interface KaspiPollDeps {
  /** Builds the Kaspi client for a store; tests pass shorter timeouts and no request spacing. */
  kaspiClientFor?(store: KaspiStoreCredentials): KaspiClient;
  /** How long a poll runs before its first heartbeat (default HEARTBEAT_QUIET_MS). */
  heartbeatQuietMs?: number;
}

/**
 * A heartbeat is a billed action (and a write on the Temporal server), and most polls are idle and
 * over in well under a second: its one heartbeat was a quarter of an idle poll's actions
 * (docs/performance.md). A poll that runs longer — pages, look-ups — heartbeats from then on, well
 * inside the poll's one-minute heartbeat timeout (workflows/kaspi-poll.ts).
 */
export const HEARTBEAT_QUIET_MS = 10_000;

interface HeldOpenOrder {
  code: string;
  creationDate: Date;
}

interface PreviousRow {
  state: string;
  status: string;
  courierTransmissionDate: number | null;
  lastSeenAt: Date;
}

/**
 * Heartbeats only make sense inside an activity; called directly (scripts), they are no-ops. None
 * before `quietMs` of the activity's own run time (a monotonic clock: this is about the process,
 * not the business day of ctx.now).
 */
function heartbeater(quietMs: number): Heartbeat {
  const context = activityContext();
  const started = performance.now();
  return (details) => {
    if (performance.now() - started >= quietMs) context?.heartbeat(details);
  };
}

function describeRejected(rejected: RejectedOrder[]): string {
  const shown = rejected.slice(0, 3).map((r) => `${r.code ?? r.kaspiId ?? '?'}: ${r.reason}`).join('; ');
  const more = rejected.length > 3 ? `; и ещё ${rejected.length - 3}` : '';
  return `Пропущено заказов Kaspi с некорректными данными: ${rejected.length} (${shown}${more}).`;
}

function readableKaspiError(error: KaspiError): string {
  if (error instanceof KaspiRateLimitError) return `Kaspi ограничил частоту запросов, повтор позже: ${error.message}`;
  if (error instanceof KaspiProtocolError) return `Kaspi ответил в неожиданном формате, повтор позже: ${error.message}`;
  if (error instanceof KaspiBadRequestError) return `Kaspi отклонил запрос: ${error.message}`;
  return `Kaspi недоступен, повтор позже: ${error.message}`;
}

type Heartbeat = (details: Record<string, unknown>) => void;
type Tx = Parameters<Parameters<AppContext['db']['transaction']>[0]>[0];

interface KaspiRead {
  seen: Map<string, KaspiOrder>;
  rejected: RejectedOrder[];
  /** Held open, looked up by code, and unknown to Kaspi. */
  closedUnknown: string[];
  heldOpen: HeldOpenOrder[];
}

/**
 * The events with an active template, and the longest delay among each event's variants: the
 * planner's freshness follows the longest (it would otherwise expire a review request whose
 * variant waits longer).
 */
async function activeTemplates(tx: Tx, storeId: string): Promise<{ activeTemplateEvents: Set<NotifyEvent>; templateDelayMinutes: Partial<Record<NotifyEvent, number>> }> {
  const rows = await tx
    .select({ event: templates.event, delay: max(templates.delayMinutes) })
    .from(templates)
    .where(and(eq(templates.storeId, storeId), eq(templates.isActive, true), isNull(templates.deletedAt)))
    .groupBy(templates.event);
  const templateDelayMinutes: Partial<Record<NotifyEvent, number>> = {};
  for (const t of rows) templateDelayMinutes[t.event as NotifyEvent] = t.delay ?? 0;
  return { activeTemplateEvents: new Set(rows.map((t) => t.event as NotifyEvent)), templateDelayMinutes };
}

/** What we knew of these orders before this poll: their last state and the events already recorded. */
async function knownOrders(tx: Tx, storeId: string, codes: string[]): Promise<{ previous: Map<string, PreviousRow>; recorded: Map<string, NotifyEvent[]> }> {
  const previous = new Map<string, PreviousRow>();
  const recorded = new Map<string, NotifyEvent[]>();
  for (let i = 0; i < codes.length; i += 1000) {
    const chunk = codes.slice(i, i + 1000);
    const prevRows = await tx
      .select({
        code: orders.code,
        state: orders.state,
        status: orders.status,
        courierTransmissionDate: sql<string | null>`${orders.snapshot}->>'courierTransmissionDate'`,
        lastSeenAt: orders.lastSeenAt,
      })
      .from(orders)
      .where(and(eq(orders.storeId, storeId), inArray(orders.code, chunk)));
    for (const p of prevRows) {
      const ctd = p.courierTransmissionDate === null ? null : Number(p.courierTransmissionDate);
      previous.set(p.code, { state: p.state, status: p.status, courierTransmissionDate: Number.isFinite(ctd) ? ctd : null, lastSeenAt: p.lastSeenAt });
    }
    const eventRows = await tx
      .select({ code: notifications.orderCode, event: notifications.event })
      .from(notifications)
      .where(and(eq(notifications.storeId, storeId), inArray(notifications.orderCode, chunk)));
    for (const e of eventRows) recorded.set(e.code, [...(recorded.get(e.code) ?? []), e.event as NotifyEvent]);
  }
  return { previous, recorded };
}

/** The rows this poll writes: every order it read, and the notifications the planner asks for. */
function planRows(input: {
  storeId: string;
  read: KaspiRead;
  known: { previous: Map<string, PreviousRow>; recorded: Map<string, NotifyEvent[]> };
  fetchedAt: Date;
  storeEnabled: boolean;
  activeTemplateEvents: Set<NotifyEvent>;
  templateDelayMinutes: Partial<Record<NotifyEvent, number>>;
}) {
  const { storeId, fetchedAt } = input;
  const orderRows: (typeof orders.$inferInsert)[] = [];
  const notificationRows: (typeof notifications.$inferInsert)[] = [];
  let stale = 0;
  for (const order of input.read.seen.values()) {
    const prev = input.known.previous.get(order.code);
    // A racing poll that read Kaspi later already wrote this order: ours is older news.
    if (prev && prev.lastSeenAt.getTime() > fetchedAt.getTime()) {
      stale++;
      continue;
    }
    const open = isOpenState(order.state);
    orderRows.push({
      storeId, code: order.code, kaspiId: order.kaspiId, state: order.state, status: order.status, snapshot: order, source: 'poll',
      creationDate: new Date(order.creationDate), firstSeenAt: fetchedAt, lastSeenAt: fetchedAt, isOpen: open, closedAt: open ? null : fetchedAt,
    });
    const planned: PlannedNotification[] = planNotifications({
      now: fetchedAt,
      previous: prev ? { state: prev.state, status: prev.status, courierTransmissionDate: prev.courierTransmissionDate, events: input.known.recorded.get(order.code) ?? [] } : null,
      order,
      storeEnabled: input.storeEnabled,
      activeTemplateEvents: input.activeTemplateEvents,
      templateDelayMinutes: input.templateDelayMinutes,
    });
    for (const p of planned) {
      notificationRows.push({
        storeId, orderCode: order.code, event: p.event, status: p.status, reasonCode: p.reasonCode,
        reason: p.reasonCode === null ? null : (REASON_TEXT[p.reasonCode] ?? null), eventAt: p.eventAt,
      });
    }
  }
  return { orderRows, notificationRows, stale };
}

/** Newer news wins: a row written by a poll that read Kaspi later is not overwritten. */
async function upsertOrders(tx: Tx, rows: (typeof orders.$inferInsert)[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    await tx
      .insert(orders)
      .values(rows.slice(i, i + 500))
      .onConflictDoUpdate({
        target: [orders.storeId, orders.code],
        set: {
          kaspiId: sql`excluded.kaspi_id`,
          state: sql`excluded.state`,
          status: sql`excluded.status`,
          snapshot: sql`excluded.snapshot`,
          creationDate: sql`excluded.creation_date`,
          lastSeenAt: sql`excluded.last_seen_at`,
          isOpen: sql`excluded.is_open`,
          closedAt: sql`case when excluded.is_open then null else coalesce(${orders.closedAt}, excluded.closed_at) end`,
        },
        setWhere: sql`${orders.lastSeenAt} <= excluded.last_seen_at`,
      });
  }
}

/** The unique (store, order, event) key is the guard against a second notification: conflicts are skipped. */
async function insertNotifications(tx: Tx, rows: (typeof notifications.$inferInsert)[]): Promise<number> {
  let inserted = 0;
  for (let i = 0; i < rows.length; i += 500) {
    const out = await tx
      .insert(notifications)
      .values(rows.slice(i, i + 500))
      .onConflictDoNothing({ target: [notifications.storeId, notifications.orderCode, notifications.event] })
      .returning({ id: notifications.id });
    inserted += out.length;
  }
  return inserted;
}

export function createKaspiPollActivities(ctx: AppContext, deps: KaspiPollDeps = {}) {
  const kaspiClientFor = deps.kaspiClientFor ?? ((store: KaspiStoreCredentials) => new KaspiClient({
    baseUrl: ctx.config.KASPI_API_URL,
    token: store.token,
    merchantUid: store.merchantUid,
    userAgent: KASPI_USER_AGENT,
    now: () => ctx.now().getTime(),
  }));

  async function recordPollError(storeId: string, message: string, extra: Partial<typeof stores.$inferInsert> = {}): Promise<void> {
    try {
      await ctx.db.update(stores).set({ lastPollError: message.slice(0, 2000), ...extra }).where(eq(stores.id, storeId));
    } catch (error) {
      ctx.logger.warn({ storeId, err: error instanceof Error ? error.message : String(error) }, 'could not record the poll error');
    }
  }

  /** Maps a Kaspi error to the failure the contract above promises; never returns. */
  async function failWith(storeId: string, error: unknown): Promise<never> {
    const log = ctx.logger.child({ storeId });
    if (error instanceof KaspiAuthError) {
      log.warn({ status: error.status }, 'Kaspi rejected the store token; pausing its poll schedule');
      await recordPollError(storeId, TOKEN_REJECTED_REASON, { tokenRejected: true, tokenRejectedReason: TOKEN_REJECTED_REASON });
      try {
        await reconcileSchedules(ctx.db, ctx.temporal, ctx.config.TEMPORAL_TASK_QUEUE, { storeId });
      } catch (reconcileError) {
        // The 5-minute reconcile schedule pauses it later; the failure below still stops this run.
        log.warn({ err: reconcileError instanceof Error ? reconcileError.message : String(reconcileError) }, 'could not pause the poll schedule');
      }
      throw ApplicationFailure.nonRetryable(`Kaspi rejected the token of store ${storeId} (HTTP ${error.status ?? '?'})`, 'KaspiTokenRejected');
    }
    if (error instanceof KaspiRateLimitError) {
      log.warn({ retryAfterMs: error.retryAfterMs }, 'Kaspi rate limit');
      await recordPollError(storeId, readableKaspiError(error));
      throw ApplicationFailure.create({
        message: error.message,
        type: 'KaspiRateLimited',
        nonRetryable: false,
        ...(error.retryAfterMs === null ? {} : { nextRetryDelay: Math.max(1000, error.retryAfterMs) }),
      });
    }
    if (error instanceof KaspiBadRequestError) {
      log.error({ status: error.status, err: error.message }, 'Kaspi refused a poll request');
      await recordPollError(storeId, readableKaspiError(error));
      throw ApplicationFailure.nonRetryable(error.message, 'KaspiBadRequest');
    }
    if (error instanceof KaspiError) {
      log.warn({ status: error.status, err: error.message }, 'Kaspi poll failed; will retry');
      await recordPollError(storeId, readableKaspiError(error));
      throw error;
    }
    throw error;
  }

  /** The store and its decrypted token, or null when it is not to be polled (missing, off, no or rejected token). */
  async function loadPollableStore(storeId: string): Promise<{ store: typeof stores.$inferSelect; token: string } | null> {
    const [store] = await ctx.db.select().from(stores).where(eq(stores.id, storeId));
    if (!store || !store.enabled || store.kaspiTokenEnc === null || store.tokenRejected) {
      ctx.logger.info({ storeId, found: store !== undefined }, 'store not polled (missing, disabled, without a token or token rejected)');
      return null;
    }
    try {
      return { store, token: ctx.secrets.decrypt(store.kaspiTokenEnc) };
    } catch (error) {
      if (!(error instanceof SecretDecryptError)) throw error;
      await recordPollError(storeId, 'Не удалось расшифровать токен Kaspi (изменился APP_SECRET?): сохраните токен заново.');
      throw ApplicationFailure.nonRetryable('cannot decrypt the store token', 'KaspiTokenUnreadable');
    }
  }

  /** Everything Kaspi says in one poll: (a) new orders, (b) held open ones re-read by state, (c) vanished ones by code. */
  async function readFromKaspi(client: KaspiClient, storeId: string, window: { createdFrom: number; createdTo: number }, heartbeat: Heartbeat): Promise<KaspiRead> {
    const log = ctx.logger.child({ storeId });
    const read: KaspiRead = { seen: new Map(), rejected: [], closedUnknown: [], heldOpen: [] };
    const onPage = (phase: string) => (info: OrdersPageInfo) => {
      heartbeat({ phase, window: info.window, page: info.page, pageCount: info.pageCount });
      for (const r of info.rejected) log.warn({ orderCode: r.code, kaspiId: r.kaspiId }, 'malformed Kaspi order skipped');
    };
    // (a) Orders created since the cursor minus the overlap (the first poll: since connecting
    // minus the look-back).
    const fresh = await client.listOrders({ createdFrom: window.createdFrom, createdTo: window.createdTo, onPage: onPage('new') });
    for (const order of fresh.orders) read.seen.set(order.code, order);
    read.rejected.push(...fresh.rejected);
    await rereadHeldOpen(client, storeId, window.createdTo, read, onPage);
    await lookUpVanished(client, read, heartbeat, log);
    return read;
  }

  /**
   * (b) Orders we hold open, re-read by state back to the oldest of them: Kaspi filters by creation
   * date only, so this is how old orders' state changes are seen. Only codes we hold count: an
   * unknown order found here predates the look-back and is not news.
   */
  async function rereadHeldOpen(client: KaspiClient, storeId: string, createdTo: number, read: KaspiRead, onPage: (phase: string) => (info: OrdersPageInfo) => void): Promise<void> {
    read.heldOpen = await ctx.db
      .select({ code: orders.code, creationDate: orders.creationDate })
      .from(orders)
      .where(and(eq(orders.storeId, storeId), eq(orders.isOpen, true)))
      .orderBy(asc(orders.creationDate));
    const heldCodes = new Set(read.heldOpen.map((o) => o.code));
    const oldest = read.heldOpen[0];
    if (!oldest) return;
    const from = Math.min(oldest.creationDate.getTime(), createdTo);
    for (const state of REREAD_STATES) {
      const reread = await client.listOrders({ createdFrom: from, createdTo, state, onPage: onPage(`reread:${state}`) });
      for (const order of reread.orders) if (heldCodes.has(order.code) && !read.seen.has(order.code)) read.seen.set(order.code, order);
      read.rejected.push(...reread.rejected.filter((r) => r.code === null || heldCodes.has(r.code)));
    }
  }

  /** (c) Open orders that left the open states: each looked up by code to learn how it ended. */
  async function lookUpVanished(client: KaspiClient, read: KaspiRead, heartbeat: Heartbeat, log: AppContext['logger']): Promise<void> {
    const missing = read.heldOpen.filter((o) => !read.seen.has(o.code)).map((o) => o.code);
    if (missing.length > MAX_LOOKUPS_PER_POLL) log.info({ missing: missing.length }, 'more vanished open orders than one poll looks up');
    for (const [i, code] of missing.slice(0, MAX_LOOKUPS_PER_POLL).entries()) {
      heartbeat({ phase: 'lookup', done: i, of: Math.min(missing.length, MAX_LOOKUPS_PER_POLL) });
      try {
        const order = await client.getOrderByCode(code);
        if (order) read.seen.set(code, order);
        else read.closedUnknown.push(code);
      } catch (error) {
        // One malformed order must not block the store's polls; the client names it so.
        if (!(error instanceof KaspiProtocolError && error.message.includes(`order ${code} is malformed`))) throw error;
        log.warn({ orderCode: code }, 'malformed Kaspi order skipped');
        read.rejected.push({ kaspiId: null, code, reason: error.message.replace(/^Kaspi order \S+ is malformed: /, '') });
      }
    }
  }

  /**
   * The one transaction of a poll: lock the store (racing polls plan against each other's rows),
   * plan each order's events against what we knew, upsert orders, insert notifications, close
   * vanished orders and move the cursor. Null when the store was deleted meanwhile.
   */
  async function writePoll(storeId: string, read: KaspiRead, fetchedAt: Date, createdTo: number) {
    return ctx.db.transaction(async (tx) => {
      // NO KEY UPDATE serializes racing polls just the same; FOR UPDATE would also hold the store's
      // webhooks and pushes, whose inserts check their foreign key to the store, for the whole poll.
      const [locked] = await tx.select({ enabled: stores.enabled }).from(stores).where(eq(stores.id, storeId)).for('no key update');
      if (!locked) return null;
      const templatesInfo = await activeTemplates(tx, storeId);
      const known = await knownOrders(tx, storeId, [...read.seen.keys()]);
      const planned = planRows({ storeId, read, known, fetchedAt, storeEnabled: locked.enabled, ...templatesInfo });
      await upsertOrders(tx, planned.orderRows);
      const inserted = await insertNotifications(tx, planned.notificationRows);
      // Open orders Kaspi no longer knows: nothing to tell anyone, stop re-reading them.
      if (read.closedUnknown.length > 0) {
        await tx
          .update(orders)
          .set({ isOpen: false, closedAt: fetchedAt, lastSeenAt: fetchedAt })
          .where(and(eq(orders.storeId, storeId), inArray(orders.code, read.closedUnknown), eq(orders.isOpen, true)));
      }
      await tx
        .update(stores)
        .set({
          pollCursor: sql`greatest(coalesce(${stores.pollCursor}, ${new Date(createdTo)}), ${new Date(createdTo)})`,
          lastPollAt: fetchedAt,
          lastPollError: read.rejected.length > 0 ? describeRejected(read.rejected) : null,
          lastPollOrders: read.seen.size,
        })
        .where(eq(stores.id, storeId));
      return { orders: planned.orderRows.length, stale: planned.stale, notifications: inserted };
    });
  }

  async function queuedRefs(storeId: string): Promise<QueuedNotificationRef[]> {
    const rows = await ctx.db
      .select({ notificationId: notifications.id, orderCode: notifications.orderCode, event: notifications.event })
      .from(notifications)
      .where(and(eq(notifications.storeId, storeId), eq(notifications.status, 'queued'), isNull(notifications.workflowId)))
      .orderBy(asc(notifications.createdAt), asc(notifications.id))
      .limit(MAX_QUEUED_IDS);
    return rows.map((r) => ({ ...r, event: r.event as NotifyEvent }));
  }

  return {
    /**
     * One poll of one store. Returns at most MAX_QUEUED_IDS `queued` notifications of the store
     * that have no workflow yet (this poll's and any left over by an earlier run).
     */
    async pollKaspiStore(input: PollKaspiStoreInput): Promise<QueuedNotificationRef[]> {
      const { storeId } = input;
      const log = ctx.logger.child({ storeId });
      const pollable = await loadPollableStore(storeId);
      if (!pollable) return [];
      const { store, token } = pollable;
      const heartbeat = heartbeater(deps.heartbeatQuietMs ?? HEARTBEAT_QUIET_MS);
      const fetchedAt = ctx.now();
      const window = pollWindow({ now: fetchedAt, cursor: store.pollCursor, connectedAt: store.connectedAt, lookbackMinutes: store.lookbackMinutes, overlapMs: POLL_OVERLAP_MS });

      let read: KaspiRead;
      try {
        read = await readFromKaspi(kaspiClientFor({ storeId, token, merchantUid: store.kaspiMerchantUid }), storeId, window, heartbeat);
      } catch (error) {
        return failWith(storeId, error);
      }
      heartbeat({ phase: 'write', orders: read.seen.size });
      const counts = await writePoll(storeId, read, fetchedAt, window.createdTo);
      if (counts === null) {
        log.info('store deleted during the poll');
        return [];
      }
      log.info({ ...counts, rejected: read.rejected.length, lookedUp: read.closedUnknown.length, heldOpen: read.heldOpen.length }, 'Kaspi poll done');
      return queuedRefs(storeId);
    },

    /** Records the workflow ids of the children a poll started, in one round trip; only the first writer wins. */
    async markNotificationsStarted(input: { items: { notificationId: string; workflowId: string }[] }): Promise<number> {
      if (input.items.length === 0) return 0;
      const rows = await ctx.db.execute(sql`
        update notifications n set workflow_id = v.workflow_id, updated_at = ${ctx.now()}
        from (select * from jsonb_to_recordset(${JSON.stringify(input.items)}::jsonb) as x("notificationId" uuid, "workflowId" text)) v(id, workflow_id)
        where n.id = v.id and n.workflow_id is null`);
      return rows.rowCount ?? 0;
    },
  };
}

export type KaspiPollActivities = ReturnType<typeof createKaspiPollActivities>;
