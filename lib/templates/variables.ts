import { formatKzPhone, kaspiPhoneDigits, normalizeKzPhone } from '../phones/phones.ts';

/**
 * The template variables: the nine of the original request plus eight more.
 * Values are plain text for WhatsApp; a variable without data renders as an empty string unless a
 * seed default applies ("Клиент", "Товар", "1", "Магазин").
 */

/** What the renderer reads from an order; structurally a subset of lib/kaspi/orders.ts `KaspiOrder`. */
export interface OrderForTemplate {
  code: string;
  /** Epoch ms. */
  creationDate: number;
  /** Tenge. */
  totalPrice: number;
  deliveryMode: string;
  isKaspiDelivery: boolean;
  /** Epoch ms (Kaspi sends it so); an ISO string is accepted too. */
  plannedDeliveryDate?: number | string | null;
  deliveryAddress?: string | null;
  pickupPointId?: string | null;
  waybillNumber?: string | null;
  customer: {
    firstName?: string | null;
    lastName?: string | null;
    name?: string | null;
    cellPhone?: string | null;
  };
  entries: readonly {
    productName: string;
    productCode: string;
    masterProductCode?: string | null;
    quantity: number;
  }[];
}

export interface RenderOptions {
  shopName: string;
  /** IANA zone of the store, e.g. `Asia/Almaty`: dates are shown as the buyer's calendar has them. */
  timezone: string;
  /**
   * Optional names for the store's Kaspi pickup points (`pickupPointId` → "ТЦ Мега, 1 этаж").
   * Without one, `{pickup_point}` shows the id without the merchant prefix (`30012345_PP1` → `PP1`).
   */
  pickupPointNames?: Readonly<Record<string, string>>;
  /**
   * What `{review_link}` renders: the store's own short link (lib/review-links/links.ts) when set;
   * Kaspi's review page for the first product otherwise.
   */
  reviewLink?: string | undefined;
}

export const TEMPLATE_VARIABLE_NAMES = [
  'user_name',
  'first_name',
  'order_num',
  'product_name',
  'item_qty',
  'products',
  'shop_name',
  'delivery_type',
  'order_date',
  'total_amount',
  'customer_phone',
  'pickup_point',
  'delivery_address',
  'planned_delivery_date',
  'waybill_number',
  'review_link',
] as const;
export type TemplateVariableName = (typeof TEMPLATE_VARIABLE_NAMES)[number];

export interface TemplateVariable {
  name: TemplateVariableName;
  /** As typed in a template, e.g. `{user_name}`. */
  placeholder: string;
  /** Russian, for the admin's palette. */
  description: string;
  /** The value for SAMPLE_ORDER with SAMPLE_RENDER_OPTIONS (a test keeps them in step). */
  sample: string;
}

/**
 * Between the digit groups and before ₸: U+00A0 NO-BREAK SPACE, the group separator Russian
 * typography and `Intl` (ru) use. WhatsApp shows it as an ordinary space but never breaks the
 * amount across lines. Used for every amount, so tests and admins see one form.
 */
export const AMOUNT_SPACE = '\u00A0';

const DEFAULT_CUSTOMER = 'Клиент';
const DEFAULT_PRODUCT = 'Товар';
const DEFAULT_SHOP = 'Магазин';

const REVIEW_URL = 'https://kaspi.kz/shop/review/productreview';

/** "12 990 ₸" — whole tenge (Kaspi prices have no tiyn; a fraction is rounded), U+00A0 spaces. */
export function formatTenge(amount: number): string {
  if (!Number.isFinite(amount)) return '';
  const rounded = Math.round(amount);
  const grouped = String(Math.abs(rounded)).replace(/\B(?=(\d{3})+(?!\d))/g, AMOUNT_SPACE);
  return `${rounded < 0 ? '-' : ''}${grouped}${AMOUNT_SPACE}₸`;
}

/** dd.mm.yyyy of an instant in `timezone`; empty for a missing or invalid date. */
export function formatLocalDate(value: number | string | null | undefined, timezone: string): string {
  if (value === null || value === undefined || value === '') return '';
  const epoch = typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(epoch)) return '';
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).formatToParts(epoch);
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('day')}.${get('month')}.${get('year')}`;
}

/**
 * Russian words for Kaspi's delivery modes. DELIVERY_PICKUP with Kaspi delivery is a Kaspi
 * Postomat (contract); unknown future modes read as plain "доставка" rather than the raw code.
 */
export function deliveryTypeLabel(deliveryMode: string, isKaspiDelivery: boolean): string {
  switch (deliveryMode) {
    case 'DELIVERY_PICKUP':
      return isKaspiDelivery ? 'Kaspi Postomat' : 'самовывоз';
    case 'DELIVERY_LOCAL':
      return isKaspiDelivery ? 'Kaspi Доставка' : 'доставка';
    case 'DELIVERY_REGIONAL_TODOOR':
      return isKaspiDelivery ? 'Kaspi Доставка' : 'доставка до двери';
    case 'DELIVERY_REGIONAL_PICKUP':
      return isKaspiDelivery ? 'Kaspi Доставка до пункта выдачи' : 'доставка до пункта выдачи';
    default:
      return 'доставка';
  }
}

const clean = (s: string | null | undefined): string => (s ?? '').trim();

function userName(c: OrderForTemplate['customer']): string {
  const full = [clean(c.firstName), clean(c.lastName)].filter((s) => s !== '').join(' ');
  return full || clean(c.name) || DEFAULT_CUSTOMER;
}

function firstName(c: OrderForTemplate['customer']): string {
  return clean(c.firstName) || clean(c.name).split(/\s+/)[0] || DEFAULT_CUSTOMER;
}

function pickupPoint(id: string | null | undefined, names: RenderOptions['pickupPointNames']): string {
  const raw = clean(id);
  if (raw === '') return '';
  const named = names?.[raw];
  if (named) return named;
  const underscore = raw.indexOf('_');
  return underscore >= 0 && underscore < raw.length - 1 ? raw.slice(underscore + 1) : raw;
}

function customerPhone(raw: string | null | undefined): string {
  const phone = normalizeKzPhone(raw);
  if (phone.ok) return formatKzPhone(phone.digits);
  // Still show what the buyer gave; a wrong number is a reason to skip sending, not to hide it.
  const digits = kaspiPhoneDigits(raw ?? '');
  return digits ? `+${digits}` : '';
}

function reviewLink(order: OrderForTemplate): string {
  const first = order.entries[0];
  const params = [`orderCode=${encodeURIComponent(order.code)}`];
  const productCode = clean(first?.masterProductCode) || clean(first?.productCode);
  if (productCode) params.push(`productCode=${encodeURIComponent(productCode)}`);
  params.push('rating=5');
  return `${REVIEW_URL}?${params.join('&')}`;
}

type Resolver = (order: OrderForTemplate, options: RenderOptions) => string;

const RESOLVERS: Record<TemplateVariableName, Resolver> = {
  user_name: (o) => userName(o.customer),
  first_name: (o) => firstName(o.customer),
  order_num: (o) => o.code,
  product_name: (o) => clean(o.entries[0]?.productName) || DEFAULT_PRODUCT,
  item_qty: (o) => String(o.entries[0]?.quantity ?? 1),
  products: (o) =>
    o.entries.length === 0
      ? DEFAULT_PRODUCT
      : o.entries.map((e) => `${clean(e.productName) || DEFAULT_PRODUCT} × ${e.quantity}`).join(', '),
  shop_name: (_o, opt) => clean(opt.shopName) || DEFAULT_SHOP,
  delivery_type: (o) => deliveryTypeLabel(o.deliveryMode, o.isKaspiDelivery),
  order_date: (o, opt) => formatLocalDate(o.creationDate, opt.timezone),
  total_amount: (o) => formatTenge(o.totalPrice),
  customer_phone: (o) => customerPhone(o.customer.cellPhone),
  pickup_point: (o, opt) => pickupPoint(o.pickupPointId, opt.pickupPointNames),
  delivery_address: (o) => clean(o.deliveryAddress),
  planned_delivery_date: (o, opt) => formatLocalDate(o.plannedDeliveryDate, opt.timezone),
  waybill_number: (o) => clean(o.waybillNumber),
  review_link: (o, opt) => opt.reviewLink ?? reviewLink(o),
};

export function isTemplateVariableName(name: string): name is TemplateVariableName {
  return Object.prototype.hasOwnProperty.call(RESOLVERS, name);
}

/** The value of one variable for an order. */
export function resolveVariable(name: TemplateVariableName, order: OrderForTemplate, options: RenderOptions): string {
  return RESOLVERS[name](order, options);
}

/**
 * A realistic order for live previews: Kaspi Доставка in Almaty, two products, 12 990 ₸.
 * 14.06.2025 11:30 Almaty time; delivery planned for 16.06.2025.
 */
export const SAMPLE_ORDER: OrderForTemplate = Object.freeze({
  code: '512345678',
  creationDate: Date.UTC(2025, 5, 14, 6, 30),
  totalPrice: 12990,
  deliveryMode: 'DELIVERY_LOCAL',
  isKaspiDelivery: true,
  plannedDeliveryDate: Date.UTC(2025, 5, 15, 19, 0),
  deliveryAddress: 'Алматы, пр. Абая, 150, кв. 12',
  pickupPointId: '30012345_PP1',
  waybillNumber: '101110589',
  customer: Object.freeze({ firstName: 'Айгерим', lastName: 'Серикова', name: null, cellPhone: '7011234567' }),
  entries: Object.freeze([
    Object.freeze({
      productName: 'Чехол для iPhone 15, силикон',
      productCode: 'CASE-IP15-SIL',
      masterProductCode: '118475698',
      quantity: 2,
    }),
    Object.freeze({
      productName: 'Защитное стекло для iPhone 15',
      productCode: 'GLASS-IP15',
      masterProductCode: '117330012',
      quantity: 1,
    }),
  ]),
});

export const SAMPLE_RENDER_OPTIONS: RenderOptions = Object.freeze({ shopName: 'Мой магазин', timezone: 'Asia/Almaty' });

const nbsp = AMOUNT_SPACE;

/** The palette of the template editor, in display order. */
export const TEMPLATE_VARIABLES: readonly TemplateVariable[] = Object.freeze(
  (
    [
      ['user_name', 'Имя и фамилия покупателя (или «Клиент»)', 'Айгерим Серикова'],
      ['first_name', 'Имя покупателя (или «Клиент»)', 'Айгерим'],
      ['order_num', 'Номер заказа в Kaspi', '512345678'],
      ['product_name', 'Название первого товара в заказе', 'Чехол для iPhone 15, силикон'],
      ['item_qty', 'Количество первого товара', '2'],
      ['products', 'Все товары заказа с количеством', 'Чехол для iPhone 15, силикон × 2, Защитное стекло для iPhone 15 × 1'],
      ['shop_name', 'Название магазина', 'Мой магазин'],
      ['delivery_type', 'Способ получения: самовывоз, доставка, Kaspi Доставка, Kaspi Postomat', 'Kaspi Доставка'],
      ['order_date', 'Дата заказа (дд.мм.гггг, время магазина)', '14.06.2025'],
      ['total_amount', 'Сумма заказа в тенге', `12${nbsp}990${nbsp}₸`],
      ['customer_phone', 'Телефон покупателя', '+7 701 123-45-67'],
      ['pickup_point', 'Пункт выдачи (пусто, если не указан)', 'PP1'],
      ['delivery_address', 'Адрес доставки (пусто при самовывозе)', 'Алматы, пр. Абая, 150, кв. 12'],
      ['planned_delivery_date', 'Планируемая дата доставки (пусто, если не известна)', '16.06.2025'],
      ['waybill_number', 'Номер накладной Kaspi Доставки (пусто, если нет)', '101110589'],
      [
        'review_link',
        'Ссылка на отзыв о первом товаре (оценка 5 звёзд)',
        `${REVIEW_URL}?orderCode=512345678&productCode=118475698&rating=5`,
      ],
    ] as const
  ).map(([name, description, sample]) => Object.freeze({ name, placeholder: `{${name}}`, description, sample })),
);
