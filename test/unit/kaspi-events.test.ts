import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import {
  EVENT_LIFECYCLE,
  FRESHNESS_MS,
  MAX_CATCH_UP_MS,
  REREAD_STATES,
  eventTimestamp,
  eventsForOrder,
  freshUntil,
  isEventCurrent,
  isFresh,
  isOpenState,
  planNotifications,
  pollWindow,
  type NotifyEvent,
  type PlanNotificationsInput,
} from '../../lib/kaspi/events.ts';
import { KASPI_STATUSES, parseOrdersPage, type KaspiOrder } from '../../lib/kaspi/orders.ts';

const HOUR = 60 * 60 * 1000;
const NOW = Date.UTC(2026, 5, 1, 8, 0, 0);
const ALL: ReadonlySet<NotifyEvent> = new Set(EVENT_LIFECYCLE);

function order(patch: Partial<KaspiOrder> = {}): KaspiOrder {
  return {
    kaspiId: 'T1', code: '700000001', state: 'NEW', status: 'APPROVED_BY_BANK',
    creationDate: NOW - 10 * 60_000, approvedByBankDate: NOW - 9 * 60_000, totalPrice: 1000,
    deliveryMode: 'DELIVERY_PICKUP', isKaspiDelivery: false, plannedDeliveryDate: null, deliveryAddress: null,
    pickupPointId: 'PP1', waybillNumber: null, courierTransmissionDate: null, cancellationReason: null,
    customer: { firstName: 'A', lastName: 'B', name: null, cellPhone: '7011234567' },
    entries: [],
    ...patch,
  };
}

function plan(patch: Partial<PlanNotificationsInput> & { order: KaspiOrder }) {
  return planNotifications({
    now: NOW, previous: null, storeEnabled: true, activeTemplateEvents: ALL, templateDelayMinutes: {},
    ...patch,
  });
}

describe('eventsForOrder: the mapping table', () => {
  const rows: [state: string, status: string, courier: number | null, expected: NotifyEvent[]][] = [
    ['NEW', 'APPROVED_BY_BANK', null, ['new']],
    ['NEW', 'ACCEPTED_BY_MERCHANT', null, ['new', 'accepted']],
    ['PICKUP', 'APPROVED_BY_BANK', null, ['new', 'ready_for_pickup']],
    ['PICKUP', 'ACCEPTED_BY_MERCHANT', null, ['accepted', 'ready_for_pickup']],
    ['DELIVERY', 'ACCEPTED_BY_MERCHANT', null, ['accepted', 'in_delivery']],
    ['KASPI_DELIVERY', 'ACCEPTED_BY_MERCHANT', null, ['accepted']],
    ['KASPI_DELIVERY', 'ACCEPTED_BY_MERCHANT', NOW, ['accepted', 'in_delivery']],
    ['ARCHIVE', 'COMPLETED', null, ['completed']],
    ['ARCHIVE', 'COMPLETED', NOW, ['completed']],
    ['ARCHIVE', 'CANCELLED', null, ['cancelled']],
    ['CANCELLED', 'CANCELLED', null, ['cancelled']],
    ['CANCELLED', 'APPROVED_BY_BANK', null, ['cancelled']],
    ['KASPI_DELIVERY', 'CANCELLED', NOW, ['cancelled']],
    ['NEW', 'CANCELLED', null, ['cancelled']],
    ['ARCHIVE', 'ACCEPTED_BY_MERCHANT', null, []],
    ['ARCHIVE', 'RETURNED', null, []],
    ['KASPI_DELIVERY', 'CANCELLING', NOW, []],
    ['PICKUP', 'CANCELLING', null, []],
    ['DELIVERY', 'KASPI_DELIVERY_RETURN_REQUESTED', null, []],
    ['ARCHIVE', 'RETURN_ACCEPTED_BY_MERCHANT', null, []],
  ];
  it.each(rows)('%s + %s (courier %s) → %j', (state, status, courier, expected) => {
    expect(eventsForOrder({ state, status, courierTransmissionDate: courier })).toEqual(expected);
  });

  it('never messages SIGN_REQUIRED, whatever its status', () => {
    for (const status of KASPI_STATUSES) {
      expect(eventsForOrder({ state: 'SIGN_REQUIRED', status, courierTransmissionDate: NOW })).toEqual([]);
    }
    expect(plan({ order: order({ state: 'SIGN_REQUIRED', approvedByBankDate: null }) })).toEqual([]);
  });

  it('maps the three contract orders to new, accepted and completed', () => {
    const page = parseOrdersPage(JSON.parse(readFileSync(new URL('../fixtures/kaspi-orders-page.json', import.meta.url), 'utf8')));
    if (!page.success) throw new Error(page.reason);
    expect(page.page.orders.map((o) => eventsForOrder(o))).toEqual([['new'], ['accepted'], ['completed']]);
  });

  it('isEventCurrent says whether a queued event still describes the order', () => {
    expect(isEventCurrent({ state: 'PICKUP', status: 'ACCEPTED_BY_MERCHANT' }, 'accepted')).toBe(true);
    expect(isEventCurrent({ state: 'ARCHIVE', status: 'CANCELLED' }, 'accepted')).toBe(false);
    expect(isEventCurrent({ state: 'PICKUP', status: 'CANCELLING' }, 'ready_for_pickup')).toBe(false);
  });
});

describe('open states', () => {
  it('re-reads NEW, PICKUP, DELIVERY and KASPI_DELIVERY; SIGN_REQUIRED is open too; ARCHIVE is closed', () => {
    expect([...REREAD_STATES]).toEqual(['NEW', 'PICKUP', 'DELIVERY', 'KASPI_DELIVERY']);
    for (const state of REREAD_STATES) expect(isOpenState(state)).toBe(true);
    expect(isOpenState('SIGN_REQUIRED')).toBe(true);
    expect(isOpenState('ARCHIVE')).toBe(false);
    expect(isOpenState('CANCELLED')).toBe(false);
    expect(isOpenState('SOMETHING_NEW')).toBe(false);
  });
});

describe('freshness', () => {
  it('has the documented limits', () => {
    expect(FRESHNESS_MS).toEqual({
      new: 6 * HOUR, accepted: 6 * HOUR, ready_for_pickup: 24 * HOUR, in_delivery: 24 * HOUR, completed: 72 * HOUR, cancelled: 24 * HOUR,
    });
  });

  it('counts completed from after its template delay, the others from the event', () => {
    const at = NOW;
    expect(freshUntil('completed', at, 120)).toBe(at + 2 * HOUR + 72 * HOUR);
    expect(freshUntil('new', at, 120)).toBe(at + 6 * HOUR);
    expect(isFresh('completed', at, at + 73 * HOUR, 120)).toBe(true);
    expect(isFresh('completed', at, at + 75 * HOUR, 120)).toBe(false);
    expect(isFresh('new', new Date(at), new Date(at + 6 * HOUR))).toBe(true);
    expect(isFresh('new', at, at + 6 * HOUR + 1)).toBe(false);
  });

  it('takes the best timestamp the order gives', () => {
    const o = order({ state: 'KASPI_DELIVERY', status: 'ACCEPTED_BY_MERCHANT', courierTransmissionDate: NOW - HOUR });
    expect(eventTimestamp(o, 'new')).toBe(o.approvedByBankDate);
    expect(eventTimestamp({ ...o, approvedByBankDate: null }, 'new')).toBe(o.creationDate);
    expect(eventTimestamp(o, 'in_delivery')).toBe(NOW - HOUR);
    expect(eventTimestamp({ ...o, state: 'DELIVERY' }, 'in_delivery')).toBeNull();
    expect(eventTimestamp(o, 'accepted')).toBeNull();
  });
});

describe('planNotifications', () => {
  it('queues new for a fresh NEW order, timed from payment approval', () => {
    const o = order();
    expect(plan({ order: o })).toEqual([{ event: 'new', status: 'queued', reasonCode: null, eventAt: new Date(o.approvedByBankDate!) }]);
  });

  it('queues only the latest of several events found in one poll; the rest are superseded', () => {
    const rows = plan({ order: order({ state: 'PICKUP', status: 'ACCEPTED_BY_MERCHANT' }) });
    expect(rows).toEqual([
      { event: 'accepted', status: 'skipped', reasonCode: 'superseded', eventAt: new Date(NOW) },
      { event: 'ready_for_pickup', status: 'queued', reasonCode: null, eventAt: new Date(NOW) },
    ]);
  });

  it('supersedes across a jump: NEW recorded, then found PICKUP + accepted', () => {
    const rows = plan({
      previous: { state: 'NEW', status: 'APPROVED_BY_BANK', events: ['new'] },
      order: order({ state: 'PICKUP', status: 'ACCEPTED_BY_MERCHANT' }),
    });
    expect(rows.map((r) => [r.event, r.status, r.reasonCode])).toEqual([
      ['accepted', 'skipped', 'superseded'],
      ['ready_for_pickup', 'queued', null],
    ]);
  });

  it('plans nothing for events already recorded', () => {
    const previous = { state: 'PICKUP', status: 'ACCEPTED_BY_MERCHANT', events: ['new', 'accepted', 'ready_for_pickup'] as NotifyEvent[] };
    expect(plan({ previous, order: order({ state: 'PICKUP', status: 'ACCEPTED_BY_MERCHANT' }) })).toEqual([]);
    const done = plan({ previous, order: order({ state: 'ARCHIVE', status: 'COMPLETED' }) });
    expect(done.map((r) => [r.event, r.status])).toEqual([['completed', 'queued']]);
  });

  it('marks an event first seen past its freshness window expired', () => {
    const old = order({ creationDate: NOW - 7 * HOUR, approvedByBankDate: NOW - 7 * HOUR + 20_000 });
    expect(plan({ order: old })).toEqual([{ event: 'new', status: 'skipped', reasonCode: 'expired', eventAt: new Date(old.approvedByBankDate!) }]);

    const handed = order({ state: 'KASPI_DELIVERY', status: 'ACCEPTED_BY_MERCHANT', isKaspiDelivery: true, courierTransmissionDate: NOW - 25 * HOUR });
    const rows = plan({ previous: { state: 'KASPI_DELIVERY', status: 'ACCEPTED_BY_MERCHANT', courierTransmissionDate: null, events: ['accepted'] }, order: handed });
    expect(rows.map((r) => [r.event, r.status, r.reasonCode])).toEqual([['in_delivery', 'skipped', 'expired']]);
  });

  it('measures from now when the order gives no timestamp, so a late-seen acceptance is fresh', () => {
    const rows = plan({ previous: { state: 'NEW', status: 'APPROVED_BY_BANK', events: ['new'] }, order: order({ creationDate: NOW - 48 * HOUR, status: 'ACCEPTED_BY_MERCHANT', state: 'KASPI_DELIVERY' }) });
    expect(rows).toEqual([{ event: 'accepted', status: 'queued', reasonCode: null, eventAt: new Date(NOW) }]);
  });

  it('clamps a timestamp in the future to now', () => {
    const rows = plan({ order: order({ creationDate: NOW + HOUR, approvedByBankDate: NOW + HOUR }) });
    expect(rows[0]!.eventAt).toEqual(new Date(NOW));
  });

  it('gives events without an active template no row, and still sends the latest that has one', () => {
    expect(plan({ order: order(), activeTemplateEvents: new Set(['accepted']) })).toEqual([]);
    const rows = plan({ order: order({ state: 'PICKUP', status: 'ACCEPTED_BY_MERCHANT' }), activeTemplateEvents: new Set(['accepted']) });
    expect(rows.map((r) => [r.event, r.status])).toEqual([['accepted', 'queued']]);
  });

  it('gives nothing while the store is disabled', () => {
    expect(plan({ order: order(), storeEnabled: false })).toEqual([]);
  });

  it('does not message an event first seen while its template was off, once the template is on', () => {
    // Earlier poll: order NEW, no `new` template → no row. Template turned on; order still NEW.
    expect(plan({ previous: { state: 'NEW', status: 'APPROVED_BY_BANK', events: [] }, order: order() })).toEqual([]);
  });

  it('messages a signed credit order as new, from its approval time', () => {
    const signed = order({ creationDate: NOW - 72 * HOUR, approvedByBankDate: NOW - 5 * 60_000 });
    const rows = plan({ previous: { state: 'SIGN_REQUIRED', status: 'APPROVED_BY_BANK', events: [] }, order: signed });
    expect(rows.map((r) => [r.event, r.status])).toEqual([['new', 'queued']]);
  });

  it('applies the completed delay before its 72 h window', () => {
    const completed = order({ state: 'ARCHIVE', status: 'COMPLETED' });
    const previous = { state: 'PICKUP', status: 'ACCEPTED_BY_MERCHANT', events: ['ready_for_pickup'] as NotifyEvent[] };
    expect(plan({ previous, order: completed, templateDelayMinutes: { completed: 60 * 24 } })[0]!.status).toBe('queued');
  });

  it('cancels: CANCELLING waits, CANCELLED queues cancelled', () => {
    const previous = { state: 'PICKUP', status: 'ACCEPTED_BY_MERCHANT', events: ['ready_for_pickup'] as NotifyEvent[] };
    expect(plan({ previous, order: order({ state: 'PICKUP', status: 'CANCELLING' }) })).toEqual([]);
    const rows = plan({ previous: { ...previous, status: 'CANCELLING' }, order: order({ state: 'ARCHIVE', status: 'CANCELLED' }) });
    expect(rows.map((r) => [r.event, r.status])).toEqual([['cancelled', 'queued']]);
  });
});

describe('pollWindow', () => {
  const connectedAt = NOW - 10 * 24 * HOUR;

  it('starts the first read at connectedAt minus the look-back', () => {
    expect(pollWindow({ now: NOW, cursor: null, connectedAt, lookbackMinutes: 60, overlapMs: 60_000 }))
      .toEqual({ createdFrom: connectedAt - HOUR, createdTo: NOW });
  });

  it('continues from the cursor minus the overlap, never before the look-back floor', () => {
    expect(pollWindow({ now: NOW, cursor: new Date(NOW - 60_000), connectedAt: new Date(connectedAt), lookbackMinutes: 0, overlapMs: 5 * 60_000 }))
      .toEqual({ createdFrom: NOW - 6 * 60_000, createdTo: NOW });
    expect(pollWindow({ now: NOW, cursor: connectedAt + 1000, connectedAt, lookbackMinutes: 0, overlapMs: 60_000 }).createdFrom).toBe(connectedAt);
  });

  it('does not catch up further than 14 days', () => {
    const w = pollWindow({ now: NOW, cursor: NOW - 60 * 24 * HOUR, connectedAt: NOW - 90 * 24 * HOUR, lookbackMinutes: 0, overlapMs: 0 });
    expect(w.createdFrom).toBe(NOW - MAX_CATCH_UP_MS);
  });

  it('never starts after now', () => {
    expect(pollWindow({ now: NOW, cursor: null, connectedAt: NOW + HOUR, lookbackMinutes: 0, overlapMs: 0 }).createdFrom).toBe(NOW);
  });
});
