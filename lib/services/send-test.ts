import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { normalizeKzPhone } from '../phones/phones.ts';
import { SAMPLE_ORDER, tryRenderTemplate, type OrderForTemplate } from '../templates/render.ts';
import { WahaClient, WahaError } from '../waha/client.ts';
import { requireStore, type Actor } from './access.ts';
import { recordAudit } from './audit.ts';
import { ConflictError, parseOrThrow, UpstreamError, ValidationError } from './errors.ts';
import { getWahaConnection } from './settings.ts';
import { templateTextError } from './templates.ts';
import { wahaOutboundPolicy } from '../net/outbound.ts';
import { vmsg } from '../i18n/request-locale.ts';

/**
 * `POST /api/whatsapp/send-test/:storeId` (body `{phone_number, template_text, sample_data}`):
 * renders the text with the sample order — the realistic SAMPLE_ORDER overridden by the request's
 * sample_data keys — and sends it through the store's WAHA at once. A test message is not an order
 * notification: it is not paced, not written to the message log, but it is audited.
 */
const sampleSchema = z.object({
  customer_name: z.string().max(300).optional(),
  order_id: z.union([z.string(), z.number()]).transform(String).optional(),
  product_name: z.string().max(1000).optional(),
  quantity: z.coerce.number().int().min(1).max(100000).optional(),
  total_amount: z.coerce.number().min(0).max(1e12).optional(),
  delivery_type: z.string().max(100).optional(),
  order_date: z.union([z.string(), z.number()]).optional(),
  shop_name: z.string().max(300).optional(),
  customer_phone: z.string().max(40).optional(),
}).loose();

const sendTestSchema = z.object({
  phone_number: z.string().trim().min(1, vmsg('phoneRequired')),
  template_text: z.string(),
  sample_data: sampleSchema.nullish(),
});

export interface SendTestResult {
  chat_id: string;
  message_id: string | null;
  text: string;
}

function parseSampleDate(v: string | number | undefined): number | null {
  if (v === undefined || v === '') return null;
  if (typeof v === 'number') return v;
  const m = /^(\d\d)\.(\d\d)\.(\d{4})$/.exec(v.trim());
  if (m) return Date.UTC(Number(m[3]), Number(m[2]) - 1, Number(m[1]), 6, 0);
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : null;
}

export function sampleOrderFrom(sample: z.infer<typeof sampleSchema> | null | undefined): { order: OrderForTemplate; shopName: string } {
  const s = sample ?? {};
  const base = SAMPLE_ORDER;
  const first = base.entries[0];
  const delivery = s.delivery_type?.toLowerCase();
  const names = s.customer_name?.trim().split(/\s+/) ?? [];
  const order: OrderForTemplate = {
    ...base,
    code: s.order_id ?? base.code,
    totalPrice: s.total_amount ?? base.totalPrice,
    creationDate: parseSampleDate(s.order_date) ?? base.creationDate,
    ...(delivery
      ? delivery.includes('самовывоз') || delivery.includes('pickup')
        ? { deliveryMode: 'DELIVERY_PICKUP', isKaspiDelivery: false }
        : { deliveryMode: 'DELIVERY_LOCAL', isKaspiDelivery: false }
      : {}),
    customer: s.customer_name !== undefined
      ? { firstName: names[0] ?? null, lastName: names.slice(1).join(' ') || null, name: s.customer_name, cellPhone: s.customer_phone ?? base.customer.cellPhone }
      : { ...base.customer, cellPhone: s.customer_phone ?? base.customer.cellPhone },
    entries: first
      ? [{ ...first, productName: s.product_name ?? first.productName, quantity: s.quantity ?? first.quantity }, ...base.entries.slice(1)]
      : base.entries,
  };
  return { order, shopName: s.shop_name ?? '' };
}

export async function sendTestMessage(ctx: AppContext, actor: Actor, storeId: unknown, input: unknown, options: { fetch?: typeof globalThis.fetch } = {}): Promise<SendTestResult> {
  const store = await requireStore(ctx, actor, storeId);
  const data = parseOrThrow(sendTestSchema, input);
  const fields: Record<string, string> = {};
  const phone = normalizeKzPhone(data.phone_number);
  if (!phone.ok) fields.phone_number = phone.reason;
  const textError = templateTextError(data.template_text);
  if (textError) fields.template_text = textError;
  if (Object.keys(fields).length) throw new ValidationError(fields);
  const { order, shopName } = sampleOrderFrom(data.sample_data);
  const rendered = tryRenderTemplate(data.template_text, order, { shopName: shopName || store.name, timezone: store.timezone });
  if (!rendered.ok) throw new ValidationError({ template_text: rendered.errors.map((e) => e.message).join(' ') });
  if (!phone.ok) throw new Error('unreachable');

  const conn = await getWahaConnection(ctx, actor, store.id);
  if (!conn) throw new ConflictError('settings_missing', 'WhatsApp settings missing');
  const client = new WahaClient({ baseUrl: conn.baseUrl, apiKey: conn.apiKey, session: conn.session, fetch: options.fetch, outbound: wahaOutboundPolicy(ctx.config) });
  try {
    const sent = await client.sendText({ chatId: phone.chatId, text: rendered.text });
    await recordAudit(ctx.db, { storeId: store.id, actor, action: 'whatsapp.send_test', details: { chat_id_suffix: phone.chatId.slice(-6), message_id: sent.messageId } });
    return { chat_id: phone.chatId, message_id: sent.messageId, text: rendered.text };
  } catch (err) {
    if (err instanceof WahaError) {
      ctx.logger.warn({ storeId: store.id, kind: err.kind, operation: err.operation }, 'test send failed');
      throw new UpstreamError('waha_error', err.message);
    }
    throw err;
  }
}
