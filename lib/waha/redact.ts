import { z } from 'zod';

/**
 * WAHA's 500 body echoes the whole request (`request.body` = the buyer's message and chat id) and
 * engine exceptions often name the chat. What we keep of a WAHA error goes into logs, the database
 * and the admin UI, so only `exception.name`/`message` survive, with the message text and every
 * long digit run masked.
 */

export interface RedactSecrets {
  /** The message text sent in the failed request, if any. */
  text?: string | null;
  /** Phones or chat ids involved; their digits are masked even in short or formatted forms. */
  phones?: readonly (string | null | undefined)[];
}

const MAX_DETAIL = 300;
const TEXT_MARK = '[text]';

/**
 * `77011234567` → `7701*****67`. Seven digits is shorter than any phone we send to and longer than
 * WhatsApp error codes such as 463, which must stay readable.
 */
export function maskDigitRuns(input: string): string {
  return input.replace(/\d{7,}/g, (run) => `${run.slice(0, 4)}${'*'.repeat(run.length - 6)}${run.slice(-2)}`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Removes the text (as sent, JSON-escaped, and line by line) and the phones, then masks digit runs. */
export function redactString(input: string, secrets: RedactSecrets = {}): string {
  let out = input;
  const text = secrets.text ?? '';
  if (text.trim().length >= 3) {
    // Engines quote the text raw, JSON-escaped, or one line of it; longest first so a line inside
    // the full text does not leave the rest of the text behind.
    const variants = new Set<string>([text, JSON.stringify(text).slice(1, -1)]);
    for (const line of text.split(/\r?\n/)) if (line.trim().length >= 8) variants.add(line);
    for (const v of [...variants].sort((a, b) => b.length - a.length)) {
      out = out.split(v).join(TEXT_MARK);
    }
  }
  for (const phone of secrets.phones ?? []) {
    const digits = (phone ?? '').replace(/\D/g, '');
    if (digits.length < 5) continue;
    // A phone may appear formatted (+7 701 123-45-67): match its digits with any separators between.
    const pattern = new RegExp(digits.split('').map(escapeRegExp).join('[\\s()+-]*'), 'g');
    out = out.replace(pattern, `${digits.slice(0, 4)}${'*'.repeat(Math.max(digits.length - 6, 1))}${digits.slice(-2)}`);
  }
  return maskDigitRuns(out);
}

const wahaErrorBody = z.object({
  exception: z.object({ name: z.string().optional(), message: z.string().optional() }).optional(),
  // Nest's own errors (400/404) carry `message` as a string or a list of validation messages.
  message: z.union([z.string(), z.array(z.string())]).optional(),
  error: z.string().optional(),
  status: z.string().optional(),
});

/**
 * The one place a WAHA error body becomes text. Unknown shapes (an HTML page from a proxy, a
 * truncated body) are described by size only: they could contain anything.
 */
export function redactWahaError(body: unknown, secrets: RedactSecrets = {}): string {
  let value = body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    const raw = body.toString();
    if (raw.trim() === '') return 'empty body';
    try {
      value = JSON.parse(raw) as unknown;
    } catch {
      return `non-JSON body (${Buffer.byteLength(raw)} bytes)`;
    }
  }
  const parsed = wahaErrorBody.safeParse(value);
  if (!parsed.success) return 'unrecognised error body';
  const b = parsed.data;
  let detail: string;
  if (b.exception && (b.exception.name !== undefined || b.exception.message !== undefined)) {
    detail = [b.exception.name, b.exception.message].filter((s) => s !== undefined && s !== '').join(': ');
  } else {
    const message = Array.isArray(b.message) ? b.message.join('; ') : b.message;
    detail = [b.error, message, b.status === undefined ? undefined : `status ${b.status}`]
      .filter((s) => s !== undefined && s !== '')
      .join(': ');
  }
  if (detail === '') return 'error body without a message';
  const redacted = redactString(detail, secrets);
  return redacted.length > MAX_DETAIL ? `${redacted.slice(0, MAX_DETAIL)}…` : redacted;
}
