import { afterEach, describe, expect, it } from 'vitest';
import { catalogueFor, en, kk, LOCALES, MESSAGES, MESSAGES_KK, plural, ru, setMarkMissingKeys, t } from '../../lib/i18n/messages.ts';
import { currentLocale, tr, withLocale } from '../../lib/i18n/request-locale.ts';
import { DEFAULT_TEMPLATES } from '../../lib/templates/defaults.ts';
import { TEMPLATE_VARIABLE_NAMES } from '../../lib/templates/variables.ts';
import { formatDateTime, formatDuration, formatMonth, formatNumber } from '../../views/format.ts';

/**
 * The one catalogue (lib/i18n/messages.ts) in its three languages: every key of the Russian page
 * strings and of the error codes exists in Kazakh and English with the same placeholders, a missing
 * one is marked in tests, and dates, numbers and plurals come from Intl in the request's language.
 */

/** Every string leaf as path → text. */
function leaves(value: unknown, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  if (typeof value === 'string') out.set(prefix, value);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) for (const [p, s] of leaves(v, prefix ? `${prefix}.${k}` : k)) out.set(p, s);
  }
  return out;
}

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

afterEach(() => setMarkMissingKeys(false));

describe('the catalogue in every language', () => {
  const base = leaves(ru);

  for (const [name, lang] of [['kk', kk], ['en', en]] as const) {
    it(`${name} has every page string of ru, no other, none empty, with the same placeholders`, () => {
      const own = leaves(lang);
      expect([...base.keys()].filter((k) => !own.has(k)), `missing in ${name}`).toEqual([]);
      expect([...own.keys()].filter((k) => !base.has(k)), `unknown in ${name}`).toEqual([]);
      expect([...own].filter(([, v]) => v.trim() === '').map(([k]) => k), `empty in ${name}`).toEqual([]);
      const mismatched = [...base].filter(([k, v]) => own.has(k) && placeholders(v).join() !== placeholders(own.get(k)!).join()).map(([k]) => k);
      expect(mismatched, `placeholders differ in ${name}`).toEqual([]);
    });
  }

  it('every error code has Russian, Kazakh and English, with the same placeholders', () => {
    const codes = Object.keys(MESSAGES) as (keyof typeof MESSAGES)[];
    expect(codes.filter((c) => !MESSAGES_KK[c]), 'missing in MESSAGES_KK').toEqual([]);
    expect(Object.keys(MESSAGES_KK).filter((c) => !(c in MESSAGES)), 'unknown in MESSAGES_KK').toEqual([]);
    for (const c of codes) {
      expect(placeholders(MESSAGES_KK[c] ?? ''), c).toEqual(placeholders(MESSAGES[c].ru));
      expect(placeholders(MESSAGES[c].en), c).toEqual(placeholders(MESSAGES[c].ru));
    }
    expect(t('not_found', 'kk')).toBe('Табылмады');
    expect(t('not_found', 'en')).toBe('Not found');
  });

  it('Kazakh is Kazakh: most page strings differ from the Russian and use letters Russian lacks', () => {
    const own = leaves(kk);
    const differing = [...base].filter(([k, v]) => own.get(k) !== v).length;
    expect(differing / base.size).toBeGreaterThan(0.9);
    const kazakhLetters = [...own.values()].filter((v) => /[әғқңөұүһі]/i.test(v)).length;
    expect(kazakhLetters / own.size).toBeGreaterThan(0.6);
  });

  it('a key a language lacks falls back to Russian, or is marked while testing (the check itself can fail)', () => {
    Reflect.set(ru, 'zzProbe', 'Только по-русски');
    try {
      expect(catalogueFor('kk')).toHaveProperty('zzProbe', 'Только по-русски');
      setMarkMissingKeys(true);
      expect(Reflect.get(catalogueFor('kk'), 'zzProbe')).toBe('⟦kk:zzProbe⟧');
      expect(Reflect.get(catalogueFor('en'), 'zzProbe')).toBe('⟦en:zzProbe⟧');
      expect(Reflect.get(catalogueFor('ru'), 'zzProbe')).toBe('Только по-русски');
    } finally {
      Reflect.deleteProperty(ru, 'zzProbe');
    }
  });

  it('sections enumerate the same keys in every language', () => {
    for (const l of LOCALES) expect(Object.keys(catalogueFor(l).statuses)).toEqual(Object.keys(ru.statuses));
    expect(Object.entries(catalogueFor('kk').statuses).find(([k]) => k === 'read')?.[1]).toBe('Оқылды');
  });
});

describe('the language of a request', () => {
  it('tr reads the catalogue of the current request, Russian outside any', async () => {
    expect(currentLocale()).toBe('ru');
    expect(tr.nav.templates).toBe('Шаблоны');
    await withLocale('kk', async () => {
      await Promise.resolve();
      expect(tr.nav.templates).toBe('Үлгілер');
      expect(tr.statuses.read).toBe('Оқылды');
    });
    expect(withLocale('en', () => tr.nav.templates)).toBe('Templates');
  });

  it('dates, months, numbers and durations come from Intl in that language', () => {
    const at = new Date('2026-12-05T10:07:00Z');
    expect(withLocale('ru', () => formatDateTime(at, 'Asia/Almaty'))).toBe('05.12.2026, 15:07');
    expect(withLocale('kk', () => formatMonth(at, 'Asia/Almaty'))).toBe('2026 ж. желтоқсан');
    expect(withLocale('ru', () => formatMonth(at, 'Asia/Almaty'))).toBe('декабрь 2026 г.');
    expect(withLocale('en', () => formatMonth(at, 'Asia/Almaty'))).toBe('December 2026');
    expect(withLocale('en', () => formatNumber(12345))).toBe('12,345');
    expect(withLocale('kk', () => formatNumber(12345))).toBe('12\u00a0345');
    expect(withLocale('kk', () => formatDuration(2 * 3_600_000 + 15 * 60_000))).toBe('2 сағ 15 мин');
    expect(withLocale('ru', () => formatDuration(2 * 3_600_000 + 15 * 60_000))).toBe('2 ч 15 мин');
    expect(withLocale('en', () => formatDuration(45_000))).toBe('45 sec');
  });

  it('plurals by Intl.PluralRules: Russian has one/few/many, Kazakh and English one/other', () => {
    const ruForms = { one: '{n} вариант', few: '{n} варианта', many: '{n} вариантов', other: '{n} варианта' };
    expect([1, 3, 5, 21, 1.5].map((n) => plural(ruForms, n, 'ru'))).toEqual(['1 вариант', '3 варианта', '5 вариантов', '21 вариант', '1,5 варианта']);
    expect([1, 5].map((n) => plural({ other: '{n} нұсқа' }, n, 'kk'))).toEqual(['1 нұсқа', '5 нұсқа']);
    expect([1, 5].map((n) => plural({ one: '{n} variant', other: '{n} variants' }, n, 'en'))).toEqual(['1 variant', '5 variants']);
  });
});

describe('default templates for a new store', () => {
  it('one per event in Russian and in Kazakh, with known variables only', () => {
    for (const lang of ['ru', 'kk'] as const) {
      expect(DEFAULT_TEMPLATES[lang].map((d) => d.event).sort()).toEqual(['accepted', 'cancelled', 'completed', 'in_delivery', 'new', 'ready_for_pickup']);
      for (const d of DEFAULT_TEMPLATES[lang]) {
        for (const v of placeholders(d.text)) expect(TEMPLATE_VARIABLE_NAMES, `${lang} ${d.event}`).toContain(v);
      }
    }
    const kkTexts = DEFAULT_TEMPLATES.kk.map((d) => d.text).join(' ');
    expect(kkTexts).toMatch(/тапсырыс/);
    expect(kkTexts).not.toMatch(/заказ/);
  });
});
