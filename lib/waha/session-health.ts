import { z } from 'zod';
import type { WahaSessionInfo } from './client.ts';
import { WEBHOOK_EVENTS } from './webhooks.ts';

/**
 * What the live WAHA session lacks that the product relies on (docs/contracts/waha.md "What bites
 * in production"). Without the NOWEB store an ambiguous send cannot be looked up; without
 * `message.any` our own sends are not echoed; without `message`/`message.ack`/`session.status`
 * opt-outs, receipts and session changes never reach us; without HMAC we reject every delivery;
 * WEBJS sends no acks without `tagsEventsOn`. "Configure WAHA" fixes all of them.
 */
export type SessionIssue =
  | { code: 'webhook_missing' }
  | { code: 'events_missing'; events: string[] }
  | { code: 'hmac_missing' }
  | { code: 'store_off' }
  | { code: 'webjs_tags_off' };

const webhookShape = z.looseObject({
  url: z.string(),
  events: z.array(z.string()).nullish(),
  hmac: z.looseObject({ key: z.string().nullish() }).nullish(),
});
const configShape = z.looseObject({
  webhooks: z.array(z.unknown()).nullish(),
  noweb: z.looseObject({ store: z.looseObject({ enabled: z.boolean().nullish() }).nullish() }).nullish(),
  webjs: z.looseObject({ tagsEventsOn: z.boolean().nullish() }).nullish(),
});

export function assessSession(session: WahaSessionInfo, webhookUrl: string): SessionIssue[] {
  const config = configShape.safeParse(session.config ?? {});
  const c = config.success ? config.data : {};
  const ourPath = new URL(webhookUrl).pathname;
  const ours = (c.webhooks ?? [])
    .map((w) => webhookShape.safeParse(w))
    .flatMap((w) => (w.success ? [w.data] : []))
    .find((w) => w.url === webhookUrl || pathOf(w.url) === ourPath);
  const issues: SessionIssue[] = [];
  if (!ours) issues.push({ code: 'webhook_missing' });
  else {
    const events = ours.events ?? [];
    const missing = events.includes('*') ? [] : WEBHOOK_EVENTS.filter((e) => !events.includes(e));
    if (missing.length) issues.push({ code: 'events_missing', events: missing });
    // WAHA may mask the key in what it returns; only its absence counts.
    if (!ours.hmac?.key) issues.push({ code: 'hmac_missing' });
  }
  const engine = (session.engine ?? '').toUpperCase();
  if (engine === 'NOWEB' && c.noweb?.store?.enabled !== true) issues.push({ code: 'store_off' });
  if (engine === 'WEBJS' && c.webjs?.tagsEventsOn !== true) issues.push({ code: 'webjs_tags_off' });
  return issues;
}

function pathOf(url: string): string | null {
  try {
    return new URL(url).pathname;
  } catch {
    return null;
  }
}

export const sessionIssuesSchema = z.array(z.union([
  z.object({ code: z.literal('webhook_missing') }),
  z.object({ code: z.literal('events_missing'), events: z.array(z.string()) }),
  z.object({ code: z.literal('hmac_missing') }),
  z.object({ code: z.literal('store_off') }),
  z.object({ code: z.literal('webjs_tags_off') }),
]));

/** What was last stored on the sender; anything unreadable counts as nothing known. */
export function storedSessionIssues(value: unknown): SessionIssue[] {
  const parsed = sessionIssuesSchema.safeParse(value);
  return parsed.success ? parsed.data : [];
}
