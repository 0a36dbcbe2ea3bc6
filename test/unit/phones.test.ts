import { describe, expect, it } from 'vitest';
import { formatKzPhone, maskPhone, normalizeKzPhone } from '../../lib/phones/phones.ts';

// Copied from docs/contracts/kaspi.md "Phones", not from the code under test.
const CONTRACT_KZ_MOBILE = /^7(0[0-25-8]|47|6[0-4]|7[15-8]|85)\d{7}$/;

describe('normalizeKzPhone accepts every usual way of writing one number', () => {
  it.each([
    '7011234567', // Kaspi cellPhone: 10 digits
    '87011234567',
    '77011234567',
    '+77011234567',
    '+7 (701) 123-45-67',
    '8 (701) 123 45 67',
    '8-701-123-45-67',
    '+7 701 123 4567',
    '  7011234567  ',
    '701.123.45.67',
  ])('%s', (raw) => {
    expect(normalizeKzPhone(raw)).toEqual({
      ok: true,
      e164: '+77011234567',
      digits: '77011234567',
      chatId: '77011234567@c.us',
    });
  });

  it.each(['7001234567', '7081234567', '7471234567', '7641234567', '7711234567', '7751234567', '7781234567', '7851234567'])(
    'operator range %s',
    (raw) => {
      const r = normalizeKzPhone(raw);
      expect(r.ok && r.digits).toBe(`7${raw}`);
    },
  );
});

describe('normalizeKzPhone rejects what cannot receive WhatsApp messages', () => {
  it.each([
    ['7172123456', 'not_mobile'], // Astana landline in Kaspi's 10-digit form
    ['+7 7172 12-34-56', 'not_mobile'],
    ['8 727 123 45 67', 'not_mobile'], // Almaty landline
    ['7031234567', 'not_mobile'], // unassigned 703
    ['+998 90 123 45 67', 'not_kz'], // Uzbekistan
    ['9161234567', 'not_kz'], // Russian mobile, Kaspi form
    ['+7 916 123-45-67', 'not_kz'],
    ['+44 7911 123456', 'not_kz'],
    ['701123456', 'invalid_phone'], // 9 digits
    ['+7701123456', 'invalid_phone'],
    ['12345', 'invalid_phone'],
    ['+77011234567890', 'invalid_phone'],
    ['', 'invalid_phone'],
    ['   ', 'invalid_phone'],
    ['не указан', 'invalid_phone'],
    ['7011234567 доб. 5', 'invalid_phone'],
    ['7+7011234567', 'invalid_phone'],
  ])('%s → %s', (raw, reasonCode) => {
    const r = normalizeKzPhone(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reasonCode).toBe(reasonCode);
      expect(r.reason).toMatch(/[а-яА-Я]/);
    }
  });

  it('null and undefined', () => {
    expect(normalizeKzPhone(null)).toMatchObject({ ok: false, reasonCode: 'invalid_phone' });
    expect(normalizeKzPhone(undefined)).toMatchObject({ ok: false, reasonCode: 'invalid_phone' });
  });

  it('libphonenumber and the contract agree on every 7xx prefix', () => {
    const disagreements: string[] = [];
    for (let prefix = 700; prefix <= 799; prefix++) {
      for (const rest of ['1234567', '9876543', '0000000']) {
        const national = `${prefix}${rest}`;
        const accepted = normalizeKzPhone(national).ok;
        if (accepted !== CONTRACT_KZ_MOBILE.test(national)) disagreements.push(national);
      }
    }
    expect(disagreements).toEqual([]);
  });
});

describe('maskPhone / formatKzPhone', () => {
  it.each(['77011234567', '7011234567', '+7 (701) 123-45-67', '87011234567'])('%s', (raw) => {
    expect(maskPhone(raw)).toBe('+7 701 ***-**-67');
  });

  it('never shows a foreign or odd number in full', () => {
    expect(maskPhone('+998901234567')).toBe('***67');
    expect(maskPhone('12')).toBe('***');
    expect(maskPhone('')).toBe('');
    expect(maskPhone(null)).toBe('');
  });

  it('formats for buyers', () => {
    expect(formatKzPhone('77011234567')).toBe('+7 701 123-45-67');
  });
});
