import { z } from 'zod';

/**
 * Kaspi Shop API v2 order pages (JSON:API) and the domain shape we keep of them.
 *
 * Parsing is two-level on purpose: the page envelope (`data`, `included`, `meta`) must be sound or
 * the whole read is unusable, but each order is parsed on its own so one odd order cannot hide its
 * page-mates (docs/contracts/kaspi.md: skipped and recorded with the reason; its page-mates still count).
 * Fields we do not use are not declared: zod objects strip unknown keys, so Kaspi adding fields
 * never breaks us, and removing one we rely on rejects only the orders that lack it.
 */

/** The states Kaspi documents; the API may add more, so parsed orders keep `state` as a string. */
export const KASPI_STATES = ['NEW', 'SIGN_REQUIRED', 'PICKUP', 'DELIVERY', 'KASPI_DELIVERY', 'ARCHIVE'] as const;
export type KaspiState = (typeof KASPI_STATES)[number];

export const KASPI_STATUSES = [
  'APPROVED_BY_BANK', 'ACCEPTED_BY_MERCHANT', 'COMPLETED', 'CANCELLED', 'CANCELLING',
  'KASPI_DELIVERY_RETURN_REQUESTED', 'RETURN_ACCEPTED_BY_MERCHANT', 'RETURNED',
] as const;
export type KaspiStatus = (typeof KASPI_STATUSES)[number];

export const KASPI_DELIVERY_MODES = [
  'DELIVERY_LOCAL', 'DELIVERY_PICKUP', 'DELIVERY_REGIONAL_TODOOR', 'DELIVERY_REGIONAL_PICKUP',
] as const;

export const JSON_API_MEDIA_TYPE = 'application/vnd.api+json';

// ---------------------------------------------------------------------------------------------
// Wire schemas
// ---------------------------------------------------------------------------------------------

const epochMs = z.number().int().nonnegative();
// Kaspi sends codes as strings, but some proxies and older clients turn digit-only strings into
// numbers; both mean the same order.
const codeString = z.union([z.string().min(1), z.number().int().nonnegative()]).transform(String);
const nullableString = z.string().nullish().transform((s) => s ?? null);
const nullableEpoch = epochMs.nullish().transform((n) => n ?? null);

const resourceRef = z.object({ type: z.string(), id: z.string().min(1) });

export const kaspiCustomerSchema = z.object({
  name: nullableString,
  firstName: nullableString,
  lastName: nullableString,
  cellPhone: z.union([z.string(), z.number()]).nullish().transform((p) => (p === null || p === undefined ? null : String(p))),
});

// Observed both as a plain reason code and as an object; we only need something readable.
const cancellationReason = z
  .union([
    z.string(),
    z.object({ code: z.string().nullish(), title: z.string().nullish(), name: z.string().nullish() }),
  ])
  .nullish()
  .transform((r) => {
    if (r === null || r === undefined) return null;
    if (typeof r === 'string') return r === '' ? null : r;
    return r.code ?? r.title ?? r.name ?? null;
  });

export const kaspiOrderResourceSchema = z.object({
  type: z.literal('orders'),
  id: z.string().min(1),
  attributes: z.object({
    code: codeString,
    totalPrice: z.number().nonnegative(),
    creationDate: epochMs,
    approvedByBankDate: nullableEpoch,
    state: z.string().min(1),
    status: z.string().min(1),
    deliveryMode: z.string().min(1),
    isKaspiDelivery: z.boolean(),
    plannedDeliveryDate: nullableEpoch,
    deliveryAddress: z.object({ formattedAddress: nullableString }).nullish(),
    pickupPointId: nullableString,
    kaspiDelivery: z
      .object({ waybillNumber: z.union([z.string(), z.number()]).nullish(), courierTransmissionDate: nullableEpoch })
      .nullish(),
    cancellationReason,
    customer: kaspiCustomerSchema,
  }),
  relationships: z
    .object({ entries: z.object({ data: z.array(resourceRef).nullish() }).nullish() })
    .nullish(),
});
export type KaspiOrderResource = z.infer<typeof kaspiOrderResourceSchema>;

export const kaspiOrderEntryResourceSchema = z.object({
  type: z.literal('orderentries'),
  id: z.string().min(1),
  attributes: z.object({
    offer: z.object({ code: codeString, name: z.string() }),
    quantity: z.number().int().positive(),
    basePrice: z.number().nonnegative(),
    totalPrice: z.number().nonnegative(),
  }),
});

/** The envelope only; orders and included resources are parsed one by one afterwards. */
export const kaspiOrdersPageSchema = z.object({
  data: z.array(z.unknown()),
  included: z.array(z.unknown()).nullish(),
  meta: z.object({ pageCount: z.number().int().nonnegative(), totalCount: z.number().int().nonnegative() }),
});

/** `GET /orderentries/{id}/product`. */
export const kaspiMasterProductResponseSchema = z.object({
  data: z.object({
    type: z.string(),
    id: z.string(),
    attributes: z.object({ code: codeString, name: z.string().nullish() }),
  }).nullable(),
});

// ---------------------------------------------------------------------------------------------
// Domain shape
// ---------------------------------------------------------------------------------------------

export interface KaspiOrderEntry {
  /** Opaque Kaspi id of the order entry: the key for `GET /orderentries/{id}/product`. */
  entryId: string;
  productName: string;
  /** The seller's SKU (`offer.code`). */
  productCode: string;
  /** Kaspi's master product code (review link); unknown until looked up, so usually null. */
  masterProductCode: string | null;
  quantity: number;
  basePrice: number;
  totalPrice: number;
}

/**
 * One order as we understand it. Only JSON types (strings, finite numbers, booleans, null,
 * arrays, plain objects): it is stored as `orders.snapshot` and read back with
 * `kaspiOrderSnapshotSchema`. Dates are epoch milliseconds, as Kaspi sends them.
 */
export interface KaspiOrder {
  kaspiId: string;
  code: string;
  state: string;
  status: string;
  creationDate: number;
  /** When the bank approved payment; for credit orders that is when SIGN_REQUIRED became NEW. */
  approvedByBankDate: number | null;
  totalPrice: number;
  deliveryMode: string;
  isKaspiDelivery: boolean;
  plannedDeliveryDate: number | null;
  deliveryAddress: string | null;
  pickupPointId: string | null;
  waybillNumber: string | null;
  courierTransmissionDate: number | null;
  cancellationReason: string | null;
  customer: { firstName: string | null; lastName: string | null; name: string | null; cellPhone: string | null };
  entries: KaspiOrderEntry[];
}

export interface RejectedOrder {
  kaspiId: string | null;
  code: string | null;
  reason: string;
}

export const kaspiOrderSnapshotSchema = z.object({
  kaspiId: z.string(),
  code: z.string(),
  state: z.string(),
  status: z.string(),
  creationDate: z.number(),
  approvedByBankDate: z.number().nullable().default(null),
  totalPrice: z.number(),
  deliveryMode: z.string(),
  isKaspiDelivery: z.boolean(),
  plannedDeliveryDate: z.number().nullable(),
  deliveryAddress: z.string().nullable(),
  pickupPointId: z.string().nullable(),
  waybillNumber: z.string().nullable(),
  courierTransmissionDate: z.number().nullable(),
  cancellationReason: z.string().nullable(),
  customer: z.object({
    firstName: z.string().nullable(),
    lastName: z.string().nullable(),
    name: z.string().nullable(),
    cellPhone: z.string().nullable(),
  }),
  entries: z.array(z.object({
    entryId: z.string(),
    productName: z.string(),
    productCode: z.string(),
    masterProductCode: z.string().nullable(),
    quantity: z.number(),
    basePrice: z.number(),
    totalPrice: z.number(),
  })),
}) satisfies z.ZodType<KaspiOrder, unknown>;

/** Reads `orders.snapshot` back; throws a ZodError when the stored JSON is not a KaspiOrder. */
export function parseOrderSnapshot(json: unknown): KaspiOrder {
  return kaspiOrderSnapshotSchema.parse(json);
}

// ---------------------------------------------------------------------------------------------
// Page parsing
// ---------------------------------------------------------------------------------------------

export interface ParsedOrdersPage {
  orders: KaspiOrder[];
  rejected: RejectedOrder[];
  pageCount: number;
  totalCount: number;
}

export type ParseOrdersPageResult =
  | { success: true; page: ParsedOrdersPage }
  | { success: false; reason: string };

/** Zod's first issue as one short line, e.g. `attributes.totalPrice: Invalid input: expected number`. */
export function describeZodError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.map(String).join('.');
  const more = error.issues.length > 1 ? ` (+${error.issues.length - 1} more)` : '';
  return `${path === '' ? '(root)' : path}: ${issue.message}${more}`;
}

// Best effort, for the rejected list only: what identifies a resource we could not parse.
function identify(raw: unknown): { kaspiId: string | null; code: string | null } {
  if (typeof raw !== 'object' || raw === null) return { kaspiId: null, code: null };
  const record = raw as Record<string, unknown>;
  const kaspiId = typeof record.id === 'string' ? record.id : null;
  const attributes = record.attributes;
  let code: string | null = null;
  if (typeof attributes === 'object' && attributes !== null) {
    const value = (attributes as Record<string, unknown>).code;
    if (typeof value === 'string' || typeof value === 'number') code = String(value);
  }
  return { kaspiId, code };
}

type EntryLookup = Map<string, { ok: true; entry: KaspiOrderEntry } | { ok: false; reason: string }>;

function indexEntries(included: readonly unknown[]): EntryLookup {
  const lookup: EntryLookup = new Map();
  for (const raw of included) {
    const { kaspiId } = identify(raw);
    const type = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).type : undefined;
    // `include[orders]=user` adds customers; only entries matter here.
    if (type !== 'orderentries' || kaspiId === null) continue;
    const parsed = kaspiOrderEntryResourceSchema.safeParse(raw);
    if (!parsed.success) {
      lookup.set(kaspiId, { ok: false, reason: `entry ${kaspiId} malformed: ${describeZodError(parsed.error)}` });
      continue;
    }
    const { offer, quantity, basePrice, totalPrice } = parsed.data.attributes;
    lookup.set(kaspiId, {
      ok: true,
      entry: { entryId: kaspiId, productName: offer.name, productCode: offer.code, masterProductCode: null, quantity, basePrice, totalPrice },
    });
  }
  return lookup;
}

function toDomain(resource: KaspiOrderResource, entries: KaspiOrderEntry[]): KaspiOrder {
  const a = resource.attributes;
  const waybill = a.kaspiDelivery?.waybillNumber;
  return {
    kaspiId: resource.id,
    code: a.code,
    state: a.state,
    status: a.status,
    creationDate: a.creationDate,
    approvedByBankDate: a.approvedByBankDate,
    totalPrice: a.totalPrice,
    deliveryMode: a.deliveryMode,
    isKaspiDelivery: a.isKaspiDelivery,
    plannedDeliveryDate: a.plannedDeliveryDate,
    deliveryAddress: a.deliveryAddress?.formattedAddress ?? null,
    pickupPointId: a.pickupPointId,
    waybillNumber: waybill === null || waybill === undefined || waybill === '' ? null : String(waybill),
    courierTransmissionDate: a.kaspiDelivery?.courierTransmissionDate ?? null,
    cancellationReason: a.cancellationReason,
    customer: {
      firstName: a.customer.firstName,
      lastName: a.customer.lastName,
      name: a.customer.name,
      cellPhone: a.customer.cellPhone,
    },
    entries,
  };
}

/**
 * Parses one response page. Envelope problems fail the page (`success: false`); a problem with
 * one order or one of its entries rejects only that order.
 *
 * Entries are joined through `relationships.entries.data`. When the page has no `included` at all
 * (entries were not requested) orders get `entries: []`; when it does, an order whose entry is
 * missing or malformed is rejected, since messages built from it would name the wrong products.
 */
export function parseOrdersPage(json: unknown): ParseOrdersPageResult {
  const envelope = kaspiOrdersPageSchema.safeParse(json);
  if (!envelope.success) return { success: false, reason: `not a Kaspi orders page: ${describeZodError(envelope.error)}` };
  const { data, included, meta } = envelope.data;
  const entriesIncluded = included !== null && included !== undefined;
  const entryLookup = indexEntries(included ?? []);

  const orders: KaspiOrder[] = [];
  const rejected: RejectedOrder[] = [];
  for (const raw of data) {
    const parsed = kaspiOrderResourceSchema.safeParse(raw);
    if (!parsed.success) {
      rejected.push({ ...identify(raw), reason: describeZodError(parsed.error) });
      continue;
    }
    const refs = parsed.data.relationships?.entries?.data ?? [];
    const entries: KaspiOrderEntry[] = [];
    let problem: string | null = null;
    if (entriesIncluded) {
      for (const ref of refs) {
        const found = entryLookup.get(ref.id);
        if (!found) { problem = `entry ${ref.id} not in included`; break; }
        if (!found.ok) { problem = found.reason; break; }
        entries.push(found.entry);
      }
    }
    if (problem !== null) {
      rejected.push({ kaspiId: parsed.data.id, code: parsed.data.attributes.code, reason: problem });
      continue;
    }
    orders.push(toDomain(parsed.data, entries));
  }
  return { success: true, page: { orders, rejected, pageCount: meta.pageCount, totalCount: meta.totalCount } };
}
