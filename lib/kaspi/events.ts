// Type-only import: this module stays free of drizzle/pg at run time, so workflow code and the
// poll activity can share it.
import type { NotifyEvent } from '../../drizzle/schema.ts';
import type { KaspiOrder } from './orders.ts';

export type { NotifyEvent };

/**
 * From Kaspi state/status to the events we message about (docs/contracts/kaspi.md "Events"). This file is the only
 * place that knows the mapping; the poll, the pre-send re-check and the admin all ask it.
 */

/** Lifecycle order: when one poll finds several new events only the last of them is sent. */
export const EVENT_LIFECYCLE = [
  'new', 'accepted', 'ready_for_pickup', 'in_delivery', 'completed', 'cancelled',
] as const satisfies readonly NotifyEvent[];

// Fails to compile if drizzle/schema.ts gains an event this table does not order.
type _EveryEventOrdered = Exclude<NotifyEvent, (typeof EVENT_LIFECYCLE)[number]> extends never ? true : never;
const _everyEventOrdered: _EveryEventOrdered = true;
void _everyEventOrdered;

export function lifecycleRank(event: NotifyEvent): number {
  return EVENT_LIFECYCLE.indexOf(event);
}

/** What the mapping reads from an order; a full KaspiOrder or a stored snapshot both fit. */
export interface EventSource {
  state: string;
  status: string;
  courierTransmissionDate?: number | null;
}

export interface EventRule {
  event: NotifyEvent;
  /** Human-readable condition, shown in docs and tests. */
  when: string;
  matches: (order: EventSource) => boolean;
}

/**
 * THE mapping table. Rules are tried in order and every matching rule contributes its event
 * (PICKUP + ACCEPTED_BY_MERCHANT yields both `accepted` and `ready_for_pickup`), after the
 * vetoes in `eventsForOrder`.
 */
export const EVENT_RULES: readonly EventRule[] = [
  { event: 'new', when: 'state NEW', matches: (o) => o.state === 'NEW' },
  { event: 'new', when: 'status APPROVED_BY_BANK', matches: (o) => o.status === 'APPROVED_BY_BANK' },
  { event: 'accepted', when: 'status ACCEPTED_BY_MERCHANT', matches: (o) => o.status === 'ACCEPTED_BY_MERCHANT' },
  { event: 'ready_for_pickup', when: 'state PICKUP', matches: (o) => o.state === 'PICKUP' },
  { event: 'in_delivery', when: 'state DELIVERY', matches: (o) => o.state === 'DELIVERY' },
  {
    event: 'in_delivery',
    when: 'state KASPI_DELIVERY once courierTransmissionDate is set',
    matches: (o) => o.state === 'KASPI_DELIVERY' && typeof o.courierTransmissionDate === 'number',
  },
  { event: 'completed', when: 'state ARCHIVE + status COMPLETED', matches: (o) => o.state === 'ARCHIVE' && o.status === 'COMPLETED' },
  { event: 'cancelled', when: 'state CANCELLED', matches: (o) => o.state === 'CANCELLED' },
  { event: 'cancelled', when: 'status CANCELLED', matches: (o) => o.status === 'CANCELLED' },
];

/**
 * Statuses that silence every event:
 * - CANCELLING: a cancellation is under way (buyer request, failed delivery) but not final, and
 *   Kaspi can still settle it either way. Telling the buyer "accepted"/"on its way" would be wrong
 *   and "cancelled" premature, so we wait: the order stays open and `cancelled` fires once the
 *   status is CANCELLED.
 * - Returns: the buyer already has the goods and is sending them back; no template fits.
 */
export const SILENT_STATUSES: ReadonlySet<string> = new Set([
  'CANCELLING', 'KASPI_DELIVERY_RETURN_REQUESTED', 'RETURN_ACCEPTED_BY_MERCHANT', 'RETURNED',
]);

/** Credit papers not yet signed: not a real order yet (README). Never messaged. */
export const NEVER_MESSAGED_STATES: ReadonlySet<string> = new Set(['SIGN_REQUIRED']);

/** The events an order in this state/status stands for, in lifecycle order, without duplicates. */
export function eventsForOrder(order: EventSource): NotifyEvent[] {
  if (NEVER_MESSAGED_STATES.has(order.state) || SILENT_STATUSES.has(order.status)) return [];
  const events = new Set<NotifyEvent>();
  for (const rule of EVENT_RULES) if (rule.matches(order)) events.add(rule.event);
  // A cancelled order is only cancelled, whatever state it was cancelled in.
  if (events.has('cancelled')) return ['cancelled'];
  // Archived orders are history: only their outcome is news, not a stale status left on them.
  if (order.state === 'ARCHIVE') return events.has('completed') ? ['completed'] : [];
  return EVENT_LIFECYCLE.filter((event) => events.has(event));
}

/**
 * Whether `event` still describes the order, for the re-check just before sending: a buyer who
 * cancelled at 23:00 is not told "accepted" at 09:00, and a queued `new` whose order has moved on
 * is not sent (the poll has planned the newer event instead).
 */
export function isEventCurrent(order: EventSource, event: NotifyEvent): boolean {
  return eventsForOrder(order).includes(event);
}

/** States the poll re-reads by state filter on every run (docs/contracts/kaspi.md "Request"). */
export const REREAD_STATES = ['NEW', 'PICKUP', 'DELIVERY', 'KASPI_DELIVERY'] as const;

/**
 * Whether an order may still produce events, i.e. `orders.is_open`. SIGN_REQUIRED counts as open
 * although it is not re-read by state: a signed credit order turns NEW and the NEW re-read finds
 * it; one that never gets signed is settled by the by-code look-up (docs/contracts/kaspi.md "Request").
 * ARCHIVE and CANCELLED (and any state Kaspi may add) are closed.
 */
export function isOpenState(state: string): boolean {
  return state === 'SIGN_REQUIRED' || (REREAD_STATES as readonly string[]).includes(state);
}

const HOUR = 60 * 60 * 1000;

/** How long after the event a message still makes sense (docs/contracts/kaspi.md "Events"). */
export const FRESHNESS_MS: Readonly<Record<NotifyEvent, number>> = {
  new: 6 * HOUR,
  accepted: 6 * HOUR,
  ready_for_pickup: 24 * HOUR,
  in_delivery: 24 * HOUR,
  completed: 72 * HOUR,
  cancelled: 24 * HOUR,
};

/** Events whose freshness window starts after the template's delay (a review request waits days). */
export const FRESHNESS_AFTER_DELAY: ReadonlySet<NotifyEvent> = new Set<NotifyEvent>(['completed']);

/** The last instant (epoch ms) a message about this event may be sent. */
export function freshUntil(event: NotifyEvent, eventAt: Date | number, delayMinutes = 0): number {
  const delay = FRESHNESS_AFTER_DELAY.has(event) ? Math.max(0, delayMinutes) * 60_000 : 0;
  return toMs(eventAt) + delay + FRESHNESS_MS[event];
}

export function isFresh(event: NotifyEvent, eventAt: Date | number, now: Date | number, delayMinutes = 0): boolean {
  return toMs(now) <= freshUntil(event, eventAt, delayMinutes);
}

/** What the order itself tells about when the event happened; null when it does not say. */
export type EventTimestampSource = EventSource & Partial<Pick<KaspiOrder, 'creationDate' | 'approvedByBankDate'>>;

/**
 * The best timestamp the order gives for an event, or null (then the caller uses "now", i.e. first
 * seen). `new` counts from payment approval when known — a credit order may be created days before
 * it is signed and becomes NEW — else from creation; KASPI_DELIVERY `in_delivery` from the courier
 * hand-over. Kaspi gives no time for acceptance, pickup readiness, completion or cancellation.
 */
export function eventTimestamp(order: EventTimestampSource, event: NotifyEvent): number | null {
  switch (event) {
    case 'new':
      return order.approvedByBankDate ?? order.creationDate ?? null;
    case 'in_delivery':
      return order.state === 'KASPI_DELIVERY' ? (order.courierTransmissionDate ?? null) : null;
    default:
      return null;
  }
}

export type NotificationReasonCode = 'superseded' | 'expired' | 'no_active_template' | 'store_disabled';

export interface PlannedNotification {
  event: NotifyEvent;
  status: 'queued' | 'skipped';
  /**
   * The planner only emits `superseded` and `expired`. `no_active_template` and `store_disabled`
   * belong to the pre-send re-check (template deactivated or store disabled after queueing).
   */
  reasonCode: NotificationReasonCode | null;
  eventAt: Date;
}

export interface PreviousOrderState {
  state: string;
  status: string;
  /** Pass it from the stored snapshot: KASPI_DELIVERY only means `in_delivery` once it is set. */
  courierTransmissionDate?: number | null;
  /** Events that already have a notifications row (any status). */
  events: Iterable<NotifyEvent>;
}

export interface PlanNotificationsInput {
  now: Date | number;
  /** What we stored for this order before this poll; null when first seen. */
  previous: PreviousOrderState | null;
  order: EventTimestampSource;
  storeEnabled: boolean;
  activeTemplateEvents: ReadonlySet<NotifyEvent>;
  templateDelayMinutes: Partial<Record<NotifyEvent, number>>;
}

/**
 * The notifications rows one poll should insert for one order. Pure: same input, same rows.
 *
 * 1. Only events the order newly stands for count: not already recorded, and not already implied
 *    by the previous state. The second part is how "notified only if first seen while the store
 *    was enabled and its template active" holds without storing rows for unmessaged events: an
 *    event first seen while the template was off stays unmessaged when the template is turned on.
 * 2. Events without an active template, and everything while the store is disabled, get no row at
 *    all, like SIGN_REQUIRED and orders older than the look-back (Kaspi issue: they "get none").
 *    That filter comes before step 3 so a seller with only an `accepted` template still gets it
 *    for pickup orders, where `ready_for_pickup` arrives in the same poll.
 * 3. Of the remaining events the latest in lifecycle order is queued; the earlier ones are
 *    skipped `superseded` — one message per poll, never two back to back.
 * 4. The queued one is skipped `expired` instead when it is already past its freshness window,
 *    measured from `eventTimestamp` (else now); `eventAt` carries that instant.
 */
export function planNotifications(input: PlanNotificationsInput): PlannedNotification[] {
  if (!input.storeEnabled) return [];
  const now = toMs(input.now);
  const seen = new Set<NotifyEvent>(input.previous ? input.previous.events : []);
  if (input.previous) for (const event of eventsForOrder(input.previous)) seen.add(event);

  const candidates = eventsForOrder(input.order)
    .filter((event) => !seen.has(event) && input.activeTemplateEvents.has(event));
  const latest = candidates.at(-1);
  if (latest === undefined) return [];

  return candidates.map((event) => {
    // A timestamp later than now is clock skew; it must not make a stale event look fresh.
    const eventAt = Math.min(eventTimestamp(input.order, event) ?? now, now);
    if (event !== latest) return { event, status: 'skipped', reasonCode: 'superseded', eventAt: new Date(eventAt) };
    const fresh = isFresh(event, eventAt, now, input.templateDelayMinutes[event] ?? 0);
    return fresh
      ? { event, status: 'queued', reasonCode: null, eventAt: new Date(eventAt) }
      : { event, status: 'skipped', reasonCode: 'expired', eventAt: new Date(eventAt) };
  });
}

/** Catching up further back than one Kaspi window only finds orders whose news is long stale. */
export const MAX_CATCH_UP_MS = 14 * 24 * HOUR;

export interface PollWindowInput {
  now: Date | number;
  /** The `createdTo` of the last successful new-orders read; null before the first poll. */
  cursor: Date | number | null;
  connectedAt: Date | number;
  lookbackMinutes: number;
  /** Re-read this much before the cursor: orders can become visible a little after their creationDate. */
  overlapMs: number;
}

export interface PollWindow {
  createdFrom: number;
  createdTo: number;
}

/**
 * Where the "new orders" read (docs/contracts/kaspi.md "Request") starts and ends. Never before
 * `connectedAt - lookback` (older orders are history, not news), from the cursor minus the overlap
 * after the first poll, and at most MAX_CATCH_UP_MS back (a store re-enabled after weeks does not
 * read, or message, the weeks it missed).
 */
export function pollWindow(input: PollWindowInput): PollWindow {
  const now = toMs(input.now);
  const floor = toMs(input.connectedAt) - Math.max(0, input.lookbackMinutes) * 60_000;
  let from = input.cursor === null ? floor : Math.max(floor, toMs(input.cursor) - Math.max(0, input.overlapMs));
  from = Math.max(from, now - MAX_CATCH_UP_MS);
  return { createdFrom: Math.min(from, now), createdTo: now };
}

function toMs(value: Date | number): number {
  return typeof value === 'number' ? value : value.getTime();
}
