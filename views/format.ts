import { ru } from '../lib/i18n/messages.ts';

/** How the pages print durations and timestamps (Russian units from the catalogue). */

/** Human duration: "2 ч 15 мин", "45 с". */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} ${ru.seconds}`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} ${ru.minutes}`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} ${ru.hours} ${m % 60} ${ru.minutes}`;
  return `${Math.floor(h / 24)} ${ru.days} ${h % 24} ${ru.hours}`;
}

/** A timestamp in the store's zone: "05.03.2026 14:07". */
export function formatDateTime(iso: string | Date | null | undefined, timezone: string): string {
  if (!iso) return '—';
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  return new Intl.DateTimeFormat('ru-RU', { timeZone: timezone, day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' }).format(d);
}

/** A date in the store's zone: "05.03.2026". */
export function formatDate(iso: string | Date, timezone: string): string {
  return new Intl.DateTimeFormat('ru-RU', { timeZone: timezone, day: '2-digit', month: '2-digit', year: 'numeric' }).format(typeof iso === 'string' ? new Date(iso) : iso);
}

/** A calendar month in the store's zone: "декабрь 2026 г.". */
export function formatMonth(iso: string | Date, timezone: string): string {
  return new Intl.DateTimeFormat('ru-RU', { timeZone: timezone, month: 'long', year: 'numeric' }).format(typeof iso === 'string' ? new Date(iso) : iso);
}
