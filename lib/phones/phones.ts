import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

/**
 * Buyer phone rules (docs/contracts/kaspi.md "Phones"). Kaspi sends `cellPhone` as 10
 * digits without the country code; admins type numbers in every local style. Only Kazakh mobile
 * numbers are messageable.
 *
 * Which numbers are mobile is decided by libphonenumber-js with its `max` metadata (the `min` set
 * only checks lengths and would accept landlines). The contract's pattern
 * `7(0[0-25-8]|47|6[0-4]|7[15-8]|85)XXXXXXX` is exactly libphonenumber's KZ mobile pattern in the
 * installed version; test/unit/phones.test.ts compares the two for every 7xx prefix, so a metadata
 * upgrade that moves a range fails CI and the contract is updated on purpose rather than silently.
 */

export type PhoneRejectCode = 'invalid_phone' | 'not_mobile' | 'not_kz';

export type NormalizedPhone =
  | { ok: true; e164: string; digits: string; chatId: string }
  | { ok: false; reasonCode: PhoneRejectCode; reason: string };

/** The contract's KZ mobile pattern for the 10-digit national number. */
export const KZ_MOBILE_NATIONAL_PATTERN = /^7(0[0-25-8]|47|6[0-4]|7[15-8]|85)\d{7}$/;

// Long enough for "+7 (701) 123-45-67" with stray spaces; longer input is not a phone number.
const MAX_INPUT_LENGTH = 40;

const reject = (reasonCode: PhoneRejectCode, reason: string): NormalizedPhone => ({ ok: false, reasonCode, reason });

/**
 * Digits in international form per the Kaspi rule, without validating anything: 10 digits get the
 * country code 7, a leading trunk 8 on 11 digits becomes 7, a leading + keeps what follows.
 * Other digit strings are returned as they are (they may be foreign numbers typed without +).
 */
export function kaspiPhoneDigits(raw: string): string {
  const digits = raw.replace(/\D/g, '');
  if (raw.trim().startsWith('+')) return digits;
  if (digits.length === 10) return `7${digits}`;
  if (digits.length === 11 && digits.startsWith('8')) return `7${digits.slice(1)}`;
  return digits;
}

/**
 * Accepts `7011234567` (Kaspi), `87011234567`, `77011234567`, `+77011234567`,
 * `+7 (701) 123-45-67`, `8 701 123 45 67` and the like. Returns the E.164 form, the bare digits and
 * the WAHA chat id, or a reason code with a Russian reason for the admin.
 */
export function normalizeKzPhone(raw: string | null | undefined): NormalizedPhone {
  const input = (raw ?? '').trim();
  if (input === '') return reject('invalid_phone', 'Номер телефона не указан');
  if (input.length > MAX_INPUT_LENGTH || /[^\d\s()+\-.]/.test(input) || input.lastIndexOf('+') > 0) {
    return reject('invalid_phone', 'Номер телефона содержит недопустимые символы');
  }
  const digits = kaspiPhoneDigits(input);
  if (digits.length < 11) return reject('invalid_phone', 'Номер телефона слишком короткий');

  const parsed = parsePhoneNumberFromString(`+${digits}`);
  if (!parsed) return reject('invalid_phone', 'Не удалось распознать номер телефона');
  // +7 is shared with Russia: the country, not the calling code, says whether it is Kazakh.
  if (parsed.country !== 'KZ') {
    return reject('not_kz', 'Номер не казахстанский: сообщения отправляются только на номера Казахстана (+7 7XX)');
  }
  if (!parsed.isPossible()) return reject('invalid_phone', 'Неверная длина номера телефона');
  const type = parsed.getType();
  if (!parsed.isValid() || (type !== 'MOBILE' && type !== 'FIXED_LINE_OR_MOBILE')) {
    return reject('not_mobile', 'Номер не мобильный: WhatsApp-сообщения отправляются только на мобильные номера Казахстана');
  }
  const national = String(parsed.nationalNumber);
  const normalized = `7${national}`;
  return { ok: true, e164: `+${normalized}`, digits: normalized, chatId: `${normalized}@c.us` };
}

/**
 * `+7 701 ***-**-67` for logs and admin lists: operator code and last two digits only, enough to
 * recognise a number without exposing it. Anything that is not an 11-digit +7 number keeps only its
 * last two digits.
 */
export function maskPhone(raw: string | null | undefined): string {
  const digits = kaspiPhoneDigits(raw ?? '');
  if (digits.length === 0) return '';
  if (digits.length === 11 && digits.startsWith('7')) {
    return `+7 ${digits.slice(1, 4)} ***-**-${digits.slice(9)}`;
  }
  return digits.length > 2 ? `***${digits.slice(-2)}` : '***';
}

/** `+7 701 123-45-67` for a number normalizeKzPhone accepted (templates show it to the buyer). */
export function formatKzPhone(digits: string): string {
  if (!/^7\d{10}$/.test(digits)) return digits;
  return `+7 ${digits.slice(1, 4)} ${digits.slice(4, 7)}-${digits.slice(7, 9)}-${digits.slice(9)}`;
}
