import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * WAHA webhook deliveries: signature, envelope and the payloads we act on (see
 * docs/contracts/waha.md "Webhooks"). Verification happens on the raw bytes before any parsing, because
 * re-serialising parsed JSON does not reproduce the bytes WAHA signed.
 */

export const WEBHOOK_EVENTS = ['message.ack', 'message.any', 'session.status', 'message'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const WEBHOOK_HEADERS = {
  requestId: 'x-webhook-request-id',
  timestamp: 'x-webhook-timestamp',
  hmac: 'x-webhook-hmac',
  algorithm: 'x-webhook-hmac-algorithm',
} as const;

/** Lower-case hex HMAC-SHA512 of the raw body, as WAHA computes it. */
export function signWebhook(body: string | Buffer, key: string): string {
  return createHmac('sha512', key).update(body).digest('hex');
}

export function verifyWebhookHmac(rawBody: string | Buffer, headerHex: string | undefined, key: string): boolean {
  if (headerHex === undefined || key === '') return false;
  const given = headerHex.trim().toLowerCase();
  // SHA-512 is 64 bytes; checking the form first keeps Buffer.from('hex') from silently truncating.
  if (!/^[0-9a-f]{128}$/.test(given)) return false;
  const expected = Buffer.from(signWebhook(rawBody, key), 'hex');
  return timingSafeEqual(expected, Buffer.from(given, 'hex'));
}

export const SESSION_STATUS_VALUES = [
  'STOPPED', 'STARTING', 'SCAN_QR_CODE', 'PASSKEY_REQUIRED', 'PASSKEY_CONFIRMATION_REQUIRED', 'WORKING', 'FAILED',
] as const;
/**
 * What WAHA reports. Newer builds add states (the passkey ones arrived that way), so any string is
 * accepted at the boundary and read through normalizeSessionStatus (docs/contracts/waha.md).
 */
export type WahaSessionStatus = string;

/** The statuses our database knows (drizzle/schema.ts SESSION_STATUSES minus UNKNOWN). */
export type KnownSessionStatus = 'STOPPED' | 'STARTING' | 'SCAN_QR_CODE' | 'WORKING' | 'FAILED';
const KNOWN: ReadonlySet<string> = new Set(['STOPPED', 'STARTING', 'SCAN_QR_CODE', 'WORKING', 'FAILED']);

/**
 * Passkey states mean "a person must act on the phone before this session can send", which is what
 * the admin needs to be told, as for SCAN_QR_CODE. A state we do not know is never WORKING: it is
 * kept as FAILED, so nothing is sent and the session-down alert speaks after its delay.
 */
export function normalizeSessionStatus(status: string): KnownSessionStatus {
  if (status === 'PASSKEY_REQUIRED' || status === 'PASSKEY_CONFIRMATION_REQUIRED') return 'SCAN_QR_CODE';
  return KNOWN.has(status) ? (status as KnownSessionStatus) : 'FAILED';
}

export const meSchema = z.object({ id: z.string(), pushName: z.string().nullish(), lid: z.string().nullish() });

export const webhookEnvelopeSchema = z.object({
  id: z.string().min(1),
  timestamp: z.number(),
  event: z.string().min(1),
  session: z.string().min(1),
  me: meSchema.nullish(),
  payload: z.unknown(),
  engine: z.string().nullish(),
  environment: z.record(z.string(), z.unknown()).nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
});
export type WebhookEnvelope = z.infer<typeof webhookEnvelopeSchema>;

// Only `id` and `ack` are needed to correlate; the rest is optional so that an engine omitting a
// field we do not use cannot make us drop a delivery status.
export const messageAckPayloadSchema = z.object({
  id: z.string().min(1),
  from: z.string().nullish(),
  to: z.string().nullish(),
  participant: z.string().nullish(),
  fromMe: z.boolean().nullish(),
  ack: z.number().int().min(-1).max(4),
  ackName: z.string().nullish(),
});
export type MessageAckPayload = z.infer<typeof messageAckPayloadSchema>;

export const sessionStatusPayloadSchema = z.object({
  name: z.string().min(1),
  status: z.string().min(1),
  statuses: z.array(z.object({ status: z.string(), timestamp: z.number() })).nullish(),
});
export type SessionStatusPayload = z.infer<typeof sessionStatusPayloadSchema>;

export const messagePayloadSchema = z.object({
  id: z.string().min(1),
  from: z.string(),
  to: z.string().nullish(),
  fromMe: z.boolean(),
  // Media without a caption has no body on some engines; an empty string is what we compare with.
  body: z.string().nullish().transform((b) => b ?? ''),
  // `api` for what the session sent through WAHA, `app` for the phone; other values may come.
  source: z.string().nullish(),
  timestamp: z.number(),
  hasMedia: z.boolean().nullish(),
  // NOWEB carries the number behind a LID sender here (docs/contracts/waha.md "Buyers behind LIDs").
  _data: z.looseObject({
    key: z.looseObject({ remoteJidAlt: z.string().nullish(), senderPn: z.string().nullish(), participantAlt: z.string().nullish() }).nullish(),
  }).nullish().catch(null),
});
export type MessagePayload = z.infer<typeof messagePayloadSchema>;

/** `245896994390182@lid`: WhatsApp hides the sender's number behind a linked id. */
export function isLid(jid: string): boolean {
  return /@lid$/i.test(jid.trim());
}

/** The phone digits of a `@c.us` / `@s.whatsapp.net` jid (device suffix dropped); null for a LID or group. */
export function phoneOfJid(jid: string | null | undefined): string | null {
  if (!jid) return null;
  const m = /^(\d{6,15})(?::\d+)?@(c\.us|s\.whatsapp\.net)$/i.exec(jid.trim());
  return m?.[1] ?? null;
}

/** The number NOWEB puts beside a LID sender, when it does. */
export function altPhoneOf(payload: MessagePayload): string | null {
  const key = payload._data?.key;
  return phoneOfJid(key?.remoteJidAlt) ?? phoneOfJid(key?.senderPn) ?? null;
}

export type ParsedWebhook =
  | { event: 'message.ack'; envelope: WebhookEnvelope; payload: MessageAckPayload }
  | { event: 'session.status'; envelope: WebhookEnvelope; payload: SessionStatusPayload }
  | { event: 'message' | 'message.any'; envelope: WebhookEnvelope; payload: MessagePayload }
  | { event: 'ignored'; envelope: WebhookEnvelope };

export class WebhookPayloadError extends Error {
  override name = 'WebhookPayloadError';
  readonly kind = 'bad_payload' as const;
}

/**
 * Zod issue messages may quote received values (a buyer's text, a phone); only paths and codes
 * leave this module.
 */
function describeIssues(error: z.ZodError): string {
  return error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.code}`).join(', ');
}

/** Parses a delivery whose signature was already verified. Events we do not use come back as `ignored`. */
export function parseWebhook(raw: unknown): ParsedWebhook {
  let value: unknown = raw;
  if (typeof raw === 'string' || Buffer.isBuffer(raw)) {
    try {
      value = JSON.parse(raw.toString()) as unknown;
    } catch {
      throw new WebhookPayloadError('webhook body is not JSON');
    }
  }
  const env = webhookEnvelopeSchema.safeParse(value);
  if (!env.success) throw new WebhookPayloadError(`webhook envelope invalid: ${describeIssues(env.error)}`);
  const envelope = env.data;
  const payloadOf = <T extends z.ZodType>(schema: T): z.infer<T> => {
    const p = schema.safeParse(envelope.payload);
    if (!p.success) throw new WebhookPayloadError(`${envelope.event} payload invalid: ${describeIssues(p.error)}`);
    return p.data;
  };
  switch (envelope.event) {
    case 'message.ack':
      return { event: 'message.ack', envelope, payload: payloadOf(messageAckPayloadSchema) };
    case 'session.status':
      return { event: 'session.status', envelope, payload: payloadOf(sessionStatusPayloadSchema) };
    case 'message':
    case 'message.any':
      return { event: envelope.event, envelope, payload: payloadOf(messagePayloadSchema) };
    default:
      return { event: 'ignored', envelope };
  }
}

/**
 * The WhatsApp key id inside a serialized message id `{fromMe}_{chatId}_{keyId}[_{participant}]`:
 * what acks are correlated on, since engines disagree on the chat part (`@c.us`, `@s.whatsapp.net`,
 * `@lid`) but never on the key. For 1:1 chats that is the last `_` segment; a group id's trailing
 * participant is skipped. A bare key id (from new-message-id) is returned as is.
 */
export function keyIdOf(messageId: string): string {
  const m = /^(?:true|false)_[^_]+_([^_]+)(?:_.+)?$/.exec(messageId);
  if (m?.[1]) return m[1];
  const parts = messageId.split('_');
  return parts[parts.length - 1] ?? messageId;
}

export const ACK = { ERROR: -1, PENDING: 0, SERVER: 1, DEVICE: 2, READ: 3, PLAYED: 4 } as const;
export const ACK_NAMES: Readonly<Record<number, string>> = {
  [-1]: 'ERROR', 0: 'PENDING', 1: 'SERVER', 2: 'DEVICE', 3: 'READ', 4: 'PLAYED',
};

export type AckStatus = 'failed' | 'sent' | 'delivered' | 'read';

/**
 * What an ack means for a notification. `failed` may only replace `sent`/`undelivered` (a message
 * already delivered cannot un-deliver); that rule lives in the monotonic UPDATE, not here.
 * PENDING says nothing new and maps to null.
 */
export function ackToStatus(ack: number): AckStatus | null {
  switch (ack) {
    case ACK.ERROR: return 'failed';
    case ACK.SERVER: return 'sent';
    case ACK.DEVICE: return 'delivered';
    case ACK.READ:
    case ACK.PLAYED: return 'read';
    default: return null;
  }
}
