import { currentTag } from '../lib/i18n/request-locale.ts';

/**
 * How the pages print durations, numbers and timestamps: with Intl in the request's language
 * (ru-RU, kk-KZ, en), so units, month names and separators come from the runtime's CLDR data, not
 * from hand-written strings.
 */

const unit = (n: number, u: 'second' | 'minute' | 'hour' | 'day') =>
  new Intl.NumberFormat(currentTag(), { style: 'unit', unit: u, unitDisplay: 'short' }).format(n);

/** Human duration: "2 ч 15 мин", "2 сағ 15 мин", "2 hr 15 min". */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return unit(s, 'second');
  const m = Math.round(s / 60);
  if (m < 60) return unit(m, 'minute');
  const h = Math.floor(m / 60);
  if (h < 48) return `${unit(h, 'hour')} ${unit(m % 60, 'minute')}`;
  return `${unit(Math.floor(h / 24), 'day')} ${unit(h % 24, 'hour')}`;
}

/** A count with the language's grouping: "12 345", "12,345". */
export function formatNumber(n: number): string {
  return new Intl.NumberFormat(currentTag()).format(n);
}

const asDate = (iso: string | Date) => (typeof iso === 'string' ? new Date(iso) : iso);

/** A timestamp in the store's zone: "05.03.2026, 14:07". */
export function formatDateTime(iso: string | Date | null | undefined, timezone: string): string {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(currentTag(), { timeZone: timezone, day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' }).format(asDate(iso));
}

/** A date in the store's zone: "05.03.2026". */
export function formatDate(iso: string | Date, timezone: string): string {
  return new Intl.DateTimeFormat(currentTag(), { timeZone: timezone, day: '2-digit', month: '2-digit', year: 'numeric' }).format(asDate(iso));
}

/** A calendar month in the store's zone: "декабрь 2026 г.", "2026 ж. желтоқсан". */
export function formatMonth(iso: string | Date, timezone: string): string {
  return new Intl.DateTimeFormat(currentTag(), { timeZone: timezone, month: 'long', year: 'numeric' }).format(asDate(iso));
}
