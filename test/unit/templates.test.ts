import { describe, expect, it } from 'vitest';
import {
  MAX_MESSAGE_LENGTH,
  SAMPLE_ORDER,
  SAMPLE_RENDER_OPTIONS,
  TEMPLATE_VARIABLES,
  TemplateRenderError,
  chooseVariant,
  fnv1a32,
  renderTemplate,
  tryRenderTemplate,
  validateTemplate,
  type OrderForTemplate,
} from '../../lib/templates/render.ts';
import { deliveryTypeLabel, formatTenge } from '../../lib/templates/variables.ts';

const NBSP = '\u00A0';
const opts = { shopName: 'Электроника Плюс', timezone: 'Asia/Almaty' };

function order(over: Partial<OrderForTemplate> = {}): OrderForTemplate {
  return {
    code: '600123456',
    creationDate: new Date('2025-03-08T10:15:00+05:00').getTime(),
    totalPrice: 12990,
    deliveryMode: 'DELIVERY_PICKUP',
    isKaspiDelivery: false,
    plannedDeliveryDate: null,
    deliveryAddress: null,
    pickupPointId: '30012345_PP1',
    waybillNumber: null,
    customer: { firstName: 'Ерлан', lastName: 'Ахметов', name: null, cellPhone: '7771234567' },
    entries: [{ productName: 'Наушники JBL Tune 520BT', productCode: 'JBL-520', masterProductCode: '109876543', quantity: 1 }],
    ...over,
  };
}

describe('TEMPLATE_VARIABLES', () => {
  it('lists exactly the seventeen template variables, each with a Russian description', () => {
    const fromDesign = [
      'user_name', 'order_num', 'product_name', 'item_qty', 'shop_name', 'delivery_type', 'order_date',
      'total_amount', 'customer_phone', 'first_name', 'products', 'pickup_point', 'delivery_address',
      'planned_delivery_date', 'waybill_number', 'review_link',
    ];
    expect(TEMPLATE_VARIABLES.map((v) => v.name).sort()).toEqual([...fromDesign].sort());
    for (const v of TEMPLATE_VARIABLES) {
      expect(v.placeholder).toBe(`{${v.name}}`);
      expect(v.description).toMatch(/[а-яА-Я]/);
      expect(validateTemplate(v.placeholder)).toEqual({ ok: true });
    }
  });

  it('each palette sample is what the renderer gives for SAMPLE_ORDER', () => {
    for (const v of TEMPLATE_VARIABLES) {
      expect(renderTemplate(v.placeholder, SAMPLE_ORDER, SAMPLE_RENDER_OPTIONS), v.name).toBe(v.sample);
    }
  });
});

describe('renderTemplate', () => {
  it("renders the original request's example", () => {
    const seed =
      'Здравствуйте, {user_name}!\nВаш заказ Nº {order_num} "{product_name}", количество: {item_qty} шт готов к самовывозу.\nС уважением,\n{shop_name}';
    expect(renderTemplate(seed, order(), opts)).toBe(
      'Здравствуйте, Ерлан Ахметов!\nВаш заказ Nº 600123456 "Наушники JBL Tune 520BT", количество: 1 шт готов к самовывозу.\nС уважением,\nЭлектроника Плюс',
    );
  });

  it('user_name and first_name fall back to name, then to «Клиент»', () => {
    const r = (customer: OrderForTemplate['customer']) => renderTemplate('{user_name}|{first_name}', order({ customer }), opts);
    expect(r({ firstName: 'Ерлан', lastName: null })).toBe('Ерлан|Ерлан');
    expect(r({ firstName: ' ', lastName: 'Ахметов' })).toBe('Ахметов|Клиент');
    expect(r({ firstName: null, lastName: null, name: 'Ерлан Ахметов' })).toBe('Ерлан Ахметов|Ерлан');
    expect(r({ firstName: null, lastName: null, name: null })).toBe('Клиент|Клиент');
  });

  it('{products} lists every entry; {product_name}/{item_qty} are the first', () => {
    const entries = [
      { productName: 'Товар А', productCode: 'A', masterProductCode: null, quantity: 2 },
      { productName: 'Другой', productCode: 'B', masterProductCode: null, quantity: 1 },
      { productName: 'Третий', productCode: 'C', masterProductCode: null, quantity: 5 },
    ];
    expect(renderTemplate('{products} / {product_name} × {item_qty}', order({ entries }), opts)).toBe(
      'Товар А × 2, Другой × 1, Третий × 5 / Товар А × 2',
    );
    expect(renderTemplate('{product_name}, {item_qty}', order({ entries: [] }), opts)).toBe('Товар, 1');
  });

  it('tenge amounts: "12 990 ₸" with no-break spaces', () => {
    expect(renderTemplate('{total_amount}', order(), opts)).toBe(`12${NBSP}990${NBSP}₸`);
    expect(formatTenge(389980)).toBe(`389${NBSP}980${NBSP}₸`);
    expect(formatTenge(1_250_000)).toBe(`1${NBSP}250${NBSP}000${NBSP}₸`);
    expect(formatTenge(990)).toBe(`990${NBSP}₸`);
    expect(formatTenge(0)).toBe(`0${NBSP}₸`);
    expect(formatTenge(12990.4)).toBe(`12${NBSP}990${NBSP}₸`);
  });

  it('dates are the store-timezone calendar day', () => {
    // 20:30 UTC on 14 June is 01:30 on 15 June in Almaty.
    const late = order({ creationDate: Date.UTC(2025, 5, 14, 20, 30), plannedDeliveryDate: Date.UTC(2025, 5, 16, 19, 0) });
    expect(renderTemplate('{order_date} {planned_delivery_date}', late, opts)).toBe('15.06.2025 17.06.2025');
    expect(renderTemplate('{order_date}', late, { ...opts, timezone: 'UTC' })).toBe('14.06.2025');
    expect(renderTemplate('[{planned_delivery_date}]', order(), opts)).toBe('[]');
  });

  it('delivery types in Russian', () => {
    expect(deliveryTypeLabel('DELIVERY_PICKUP', false)).toBe('самовывоз');
    expect(deliveryTypeLabel('DELIVERY_PICKUP', true)).toBe('Kaspi Postomat');
    expect(deliveryTypeLabel('DELIVERY_LOCAL', false)).toBe('доставка');
    expect(deliveryTypeLabel('DELIVERY_LOCAL', true)).toBe('Kaspi Доставка');
    expect(deliveryTypeLabel('DELIVERY_REGIONAL_TODOOR', true)).toBe('Kaspi Доставка');
    expect(deliveryTypeLabel('SOMETHING_NEW', false)).toBe('доставка');
    expect(renderTemplate('{delivery_type}', order(), opts)).toBe('самовывоз');
  });

  it('phone, pickup point, address, waybill', () => {
    const o = order({ deliveryAddress: ' Астана, ул. Кенесары, 40 ', waybillNumber: '555000111' });
    expect(renderTemplate('{customer_phone}|{pickup_point}|{delivery_address}|{waybill_number}', o, opts)).toBe(
      '+7 777 123-45-67|PP1|Астана, ул. Кенесары, 40|555000111',
    );
    expect(
      renderTemplate('{pickup_point}', o, { ...opts, pickupPointNames: { '30012345_PP1': 'ТРЦ Mega, 1 этаж' } }),
    ).toBe('ТРЦ Mega, 1 этаж');
  });

  it('review link uses the master product code, else the product code', () => {
    expect(renderTemplate('{review_link}', order(), opts)).toBe(
      'https://kaspi.kz/shop/review/productreview?orderCode=600123456&productCode=109876543&rating=5',
    );
    const noMaster = order({ entries: [{ productName: 'X', productCode: 'SKU 1/2', masterProductCode: null, quantity: 1 }] });
    expect(renderTemplate('{review_link}', noMaster, opts)).toBe(
      'https://kaspi.kz/shop/review/productreview?orderCode=600123456&productCode=SKU%201%2F2&rating=5',
    );
  });

  it('{{ and }} are literal braces', () => {
    expect(renderTemplate('Скидка {{10%}} для {first_name}', order(), opts)).toBe('Скидка {10%} для Ерлан');
    expect(renderTemplate('{{{order_num}}}', order(), opts)).toBe('{600123456}');
    expect(renderTemplate('{{user_name}}', order(), opts)).toBe('{user_name}');
    expect(validateTemplate('{{ вообще }} любые {{скобки}}')).toEqual({ ok: true });
  });

  it('values are inserted once, never re-read as placeholders', () => {
    const sneaky = order({ customer: { firstName: '{order_num}', lastName: '}}', cellPhone: null } });
    expect(renderTemplate('{user_name}!', sneaky, opts)).toBe('{order_num} }}!');
  });

  it('CRLF from a browser textarea becomes LF', () => {
    expect(renderTemplate('Привет,\r\n{first_name}', order(), opts)).toBe('Привет,\nЕрлан');
  });

  it('refuses invalid templates instead of sending a raw placeholder', () => {
    expect(() => renderTemplate('Привет {name}', order(), opts)).toThrow(TemplateRenderError);
    const r = tryRenderTemplate('Привет {name}', order(), opts);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]).toMatchObject({ code: 'unknown_placeholder', placeholder: 'name' });
  });

  it('refuses a message that is empty after substitution', () => {
    const r = tryRenderTemplate(' {waybill_number} ', order(), opts);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]?.code).toBe('empty');
  });
});

describe('validateTemplate', () => {
  it('names each unknown placeholder once, in order', () => {
    const r = validateTemplate('Привет {usr_name}! {foo} и снова {foo}, заказ {order_num}, {Order_Num}');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => [e.code, e.placeholder])).toEqual([
      ['unknown_placeholder', 'usr_name'],
      ['unknown_placeholder', 'foo'],
      ['unknown_placeholder', 'Order_Num'],
    ]);
    expect(r.errors[0]?.message).toContain('{usr_name}');
    expect(r.errors[0]?.message).toContain('{user_name}'); // the typo hint
    expect(r.errors[2]?.message).toContain('{order_num}');
    expect(r.errors[1]?.message).not.toContain('Возможно');
  });

  it('unbalanced braces', () => {
    const cases = ['Привет {user_name', 'a } b', '{ab\ncd}', '{a{user_name}', '}}}'];
    for (const text of cases) {
      const r = validateTemplate(text);
      expect(r.ok, text).toBe(false);
      if (!r.ok) expect(r.errors.map((e) => e.code), text).toContain('unbalanced_brace');
    }
    const r = validateTemplate('ok } here');
    if (!r.ok) expect(r.errors[0]?.index).toBe(3);
  });

  it('empty and whitespace-only', () => {
    for (const text of ['', '   ', '\n\t']) {
      expect(validateTemplate(text)).toEqual({ ok: false, errors: [expect.objectContaining({ code: 'empty' })] });
    }
  });

  it('WhatsApp limit of 65,536 characters', () => {
    expect(MAX_MESSAGE_LENGTH).toBe(65_536);
    expect(validateTemplate('я'.repeat(65_536))).toEqual({ ok: true });
    const over = validateTemplate('я'.repeat(65_537));
    expect(over.ok).toBe(false);
    if (!over.ok) expect(over.errors.map((e) => e.code)).toEqual(['too_long']);
    // Errors are not hidden behind one another.
    const both = validateTemplate(`${'a'.repeat(65_537)}{bad}`);
    if (!both.ok) expect(both.errors.map((e) => e.code)).toEqual(['too_long', 'unknown_placeholder']);
  });

  it('the rendered message is held to the same limit', () => {
    const template = `${'a'.repeat(65_536 - '{order_num}'.length)}{order_num}`;
    expect(validateTemplate(template)).toEqual({ ok: true });
    // order_num "600123456" is shorter than the placeholder: fits.
    expect(renderTemplate(template, order(), opts)).toHaveLength(65_536 - 11 + 9);
    const longCode = order({ code: '6001234567890' });
    expect(() => renderTemplate(template, longCode, opts)).toThrow(TemplateRenderError);
    const r = tryRenderTemplate(template, longCode, opts);
    if (!r.ok) expect(r.errors.map((e) => e.code)).toEqual(['too_long']);
    expect(r.ok).toBe(false);
  });
});

describe('chooseVariant', () => {
  it('FNV-1a matches the published test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('is deterministic per key and independent of input order', () => {
    const t = [
      { id: 'tpl-a', weight: 50 },
      { id: 'tpl-b', weight: 30 },
      { id: 'tpl-c', weight: 20 },
    ];
    const reversed = [...t].reverse();
    for (let i = 0; i < 200; i++) {
      const key = `store-1:51234${i}:accepted`;
      const first = chooseVariant(t, key);
      expect(chooseVariant(t, key)).toBe(first);
      expect(chooseVariant(reversed, key)).toBe(first);
    }
  });

  it('distribution follows the weights; weight 0 is never chosen', () => {
    const t = [
      { id: 1, weight: 70 },
      { id: 2, weight: 20 },
      { id: 3, weight: 10 },
      { id: 4, weight: 0 },
    ];
    const counts = new Map<number, number>();
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const id = chooseVariant(t, `9b2f3c1e-store:${500000000 + i}:new`);
      if (id === null) throw new Error('no variant');
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect(counts.get(4)).toBeUndefined();
    expect((counts.get(1) ?? 0) / n).toBeCloseTo(0.7, 1);
    expect(Math.abs((counts.get(1) ?? 0) / n - 0.7)).toBeLessThan(0.02);
    expect(Math.abs((counts.get(2) ?? 0) / n - 0.2)).toBeLessThan(0.02);
    expect(Math.abs((counts.get(3) ?? 0) / n - 0.1)).toBeLessThan(0.02);
  });

  it('short keys that differ in their last digits are spread evenly too', () => {
    const t = [
      { id: 'a', weight: 1 },
      { id: 'b', weight: 1 },
      { id: 'c', weight: 1 },
      { id: 'd', weight: 1 },
      { id: 'e', weight: 1 },
    ];
    const n = 5000;
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const id = chooseVariant(t, String(i)) ?? 'none';
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    // Chi-square with 4 degrees of freedom: 18.5 is the 0.1% critical value.
    const chi = [...counts.values()].reduce((s, c) => s + (c - n / 5) ** 2 / (n / 5), 0);
    expect(counts.size).toBe(5);
    expect(chi).toBeLessThan(18.5);
  });

  it('different events of one order can pick different variants', () => {
    const t = [
      { id: 'a', weight: 1 },
      { id: 'b', weight: 1 },
    ];
    const picks = new Set(['new', 'accepted', 'ready_for_pickup', 'in_delivery', 'completed', 'cancelled', 'x', 'y'].map((e) => chooseVariant(t, `s:1:${e}`)));
    expect(picks).toEqual(new Set(['a', 'b']));
  });

  it('nothing to choose → null', () => {
    expect(chooseVariant([], 'k')).toBeNull();
    expect(chooseVariant([{ id: 'a', weight: 0 }], 'k')).toBeNull();
    expect(chooseVariant([{ id: 'a', weight: Number.NaN }, { id: 'b', weight: -5 }], 'k')).toBeNull();
    expect(chooseVariant([{ id: 'a', weight: 0 }, { id: 'b', weight: 3 }], 'k')).toBe('b');
  });
});
