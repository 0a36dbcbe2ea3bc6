/**
 * The error/notice catalogue shared by the JSON API and the pages: Russian first, English second.
 * Keys are the stable snake_case `code`s of the JSON API. Add a language by adding a column.
 */
export type Locale = 'ru' | 'en';

export const MESSAGES = {
  unauthorized: { ru: 'Требуется авторизация: передайте действительный API-токен', en: 'Authentication required: send a valid API token' },
  not_found: { ru: 'Не найдено', en: 'Not found' },
  validation_failed: { ru: 'Проверьте введённые данные', en: 'Please check the submitted data' },
  invalid_json: { ru: 'Тело запроса не является корректным JSON', en: 'The request body is not valid JSON' },
  body_not_array: { ru: 'Ожидается JSON-массив заказов', en: 'A JSON array of orders is expected' },
  store_id_taken: { ru: 'Магазин с таким идентификатором уже существует', en: 'A store with this id already exists' },
  sender_in_use: {
    ru: 'Этот номер WhatsApp (сервер и сессия WAHA) уже используется другим магазином; укажите его API-ключ WAHA, чтобы подключиться',
    en: 'This WhatsApp number (WAHA server and session) is already used by another store; send its WAHA API key to join it',
  },
  settings_missing: { ru: 'Сначала сохраните настройки WhatsApp (адрес WAHA и сессию)', en: 'Save the WhatsApp settings (WAHA URL and session) first' },
  waha_url_not_allowed: { ru: 'Этот адрес WAHA не разрешён администратором сервиса', en: 'This WAHA URL is not allowed on this server' },
  waha_error: { ru: 'WAHA не смог отправить сообщение', en: 'WAHA could not send the message' },
  csrf_failed: { ru: 'Сессия формы устарела: обновите страницу и повторите', en: 'The form has expired: reload the page and try again' },
  invalid_credentials: { ru: 'Неверный email или пароль', en: 'Wrong email or password' },
  rate_limited: { ru: 'Слишком много неудачных попыток входа. Попробуйте позже', en: 'Too many failed login attempts. Try again later' },
  busy: { ru: 'Сервер сейчас проверяет слишком много входов. Повторите через несколько секунд', en: 'The server is checking too many logins right now. Try again in a few seconds' },
  internal_error: { ru: 'Внутренняя ошибка сервера', en: 'Internal server error' },
  method_not_allowed: { ru: 'Метод не поддерживается', en: 'Method not allowed' },
} as const satisfies Record<string, Record<Locale, string>>;

export type MessageCode = keyof typeof MESSAGES;

export function t(code: string, locale: Locale = 'ru'): string {
  const entry = (MESSAGES as Record<string, Record<Locale, string>>)[code];
  return entry ? entry[locale] : (MESSAGES.validation_failed[locale]);
}

/** ru unless the Accept-Language header prefers English over Russian. */
export function localeFromAcceptLanguage(header: string | null | undefined): Locale {
  if (!header) return 'ru';
  let best: { locale: Locale; q: number } | null = null;
  for (const part of header.split(',')) {
    const [tag = '', ...params] = part.trim().split(';');
    const lang = tag.trim().toLowerCase().split('-')[0];
    if (lang !== 'ru' && lang !== 'en') continue;
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q) || q <= 0) continue;
    if (!best || q > best.q) best = { locale: lang, q };
  }
  return best?.locale ?? 'ru';
}
