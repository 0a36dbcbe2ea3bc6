import { and, eq } from 'drizzle-orm';
import { storeAlertChannels, type AlertKind } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import { alertOutboundPolicy, outboundConfigFromEnv, outboundFetch, OutboundRedirectError, OutboundRefusedError, readCapped, type OutboundPolicy } from '../net/outbound.ts';

/**
 * Delivery of an alert to one channel: a Telegram chat (Bot API sendMessage) or an outgoing
 * webhook (JSON POST). Channel secrets (bot token, webhook URL) are stored encrypted and never
 * logged; a delivery error message carries the HTTP status only. The webhook URL is a store
 * admin's choice, so requests go through lib/net/outbound.ts like WAHA's: no redirects, a capped
 * answer, ALERT_WEBHOOK_ALLOWLIST, and no private addresses in production.
 */
export interface AlertNotice {
  alertId: string;
  state: 'firing' | 'resolved';
  storeId: string;
  storeName: string;
  kind: AlertKind;
  message: string;
  openedAt: Date;
  resolvedAt: Date | null;
}

export interface AlertDeliveryDeps {
  /** Telegram Bot API base (tests point it at a local server). */
  telegramApiUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Default: this process's NODE_ENV and ALERT_WEBHOOK_ALLOWLIST. */
  outbound?: OutboundPolicy;
}

/** The answer is read only to free the connection: a few KiB are plenty. */
const MAX_ALERT_ANSWER_BYTES = 64 * 1024;

export const ALERT_KIND_TITLES: Record<AlertKind, string> = {
  kaspi_token_rejected: 'Kaspi отклонил токен',
  whatsapp_session_down: 'WhatsApp не подключён',
  failure_rate: 'Много недоставленных сообщений',
  whatsapp_acks_stalled: 'WhatsApp не подтверждает отправку',
  whatsapp_unanswered: 'Много сообщений без ответа покупателей',
};

export function alertText(n: AlertNotice): string {
  const head = n.state === 'firing' ? `🔴 ${ALERT_KIND_TITLES[n.kind]}` : `✅ Решено: ${ALERT_KIND_TITLES[n.kind]}`;
  return `${head}\nМагазин: ${n.storeName}\n${n.state === 'firing' ? n.message : `Проблема устранена (открыта ${n.openedAt.toISOString()}).`}`;
}

export async function deliverAlert(ctx: Pick<AppContext, 'secrets'>, channel: typeof storeAlertChannels.$inferSelect, notice: AlertNotice, deps: AlertDeliveryDeps = {}): Promise<void> {
  const policy = deps.outbound ?? alertOutboundPolicy(outboundConfigFromEnv());
  // The Telegram API's address is ours, not the admin's: the allow-list is for webhook URLs.
  const telegramPolicy: OutboundPolicy = { ...policy, allowlist: [] };
  const doFetch = async (url: string, init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal }, p: OutboundPolicy): Promise<Response> => {
    try {
      return await outboundFetch(url, init, p, deps.fetch);
    } catch (err) {
      // The URL holds the bot token or the webhook's secret path: never in the message.
      if (err instanceof OutboundRefusedError) throw new Error(`${channel.kind} delivery refused: ${err.code === 'URL_NOT_ALLOWED' ? 'the URL is not in ALERT_WEBHOOK_ALLOWLIST' : 'the address is private or local (list it in ALERT_WEBHOOK_ALLOWLIST)'}`);
      if (err instanceof OutboundRedirectError) throw new Error(`${channel.kind} answered with a redirect (HTTP ${err.status}), which is not followed`);
      throw new Error(`${channel.kind} delivery failed (${err instanceof Error ? err.name : 'error'})`);
    }
  };
  const signal = AbortSignal.timeout(deps.timeoutMs ?? 10_000);
  let res: Response;
  if (channel.kind === 'telegram') {
    if (!channel.telegramBotTokenEnc || !channel.telegramChatId) throw new Error('Telegram channel without a bot token or chat id');
    const token = ctx.secrets.decrypt(channel.telegramBotTokenEnc);
    const base = (deps.telegramApiUrl ?? 'https://api.telegram.org').replace(/\/+$/, '');
    res = await doFetch(`${base}/bot${token}/sendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ chat_id: channel.telegramChatId, text: alertText(notice), disable_web_page_preview: true }),
      signal,
    }, telegramPolicy);
  } else {
    if (!channel.webhookUrlEnc) throw new Error('webhook channel without a URL');
    const url = ctx.secrets.decrypt(channel.webhookUrlEnc);
    res = await doFetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'kaspi-notify-alerts/1' },
      body: JSON.stringify({
        type: notice.state === 'firing' ? 'alert.firing' : 'alert.resolved',
        alertId: notice.alertId,
        storeId: notice.storeId,
        storeName: notice.storeName,
        kind: notice.kind,
        title: ALERT_KIND_TITLES[notice.kind],
        message: notice.message,
        text: alertText(notice),
        openedAt: notice.openedAt.toISOString(),
        resolvedAt: notice.resolvedAt?.toISOString() ?? null,
      }),
      signal,
    }, policy);
  }
  // Drain the body either way; its text may echo the token (Telegram), so it is not kept.
  await readCapped(res, MAX_ALERT_ANSWER_BYTES).catch(() => undefined);
  if (!res.ok) throw new Error(`${channel.kind} answered HTTP ${res.status}`);
}

export type AlertChannelInput = { kind: 'telegram'; botToken: string; chatId: string } | { kind: 'webhook'; url: string };

/** Adds a channel to a store; secrets are encrypted before they are stored. */
export async function addAlertChannel(ctx: Pick<AppContext, 'db' | 'secrets'>, storeId: string, input: AlertChannelInput): Promise<string> {
  if (input.kind === 'webhook' && !/^https?:\/\//.test(input.url)) throw new Error('webhook URL must start with http:// or https://');
  const [row] = await ctx.db
    .insert(storeAlertChannels)
    .values(
      input.kind === 'telegram'
        ? { storeId, kind: 'telegram', telegramBotTokenEnc: ctx.secrets.encrypt(input.botToken), telegramChatId: input.chatId }
        : { storeId, kind: 'webhook', webhookUrlEnc: ctx.secrets.encrypt(input.url) },
    )
    .returning({ id: storeAlertChannels.id });
  return row!.id;
}

/** The store's channels without their secrets (the webhook shown by host only). */
export async function listAlertChannels(ctx: Pick<AppContext, 'db' | 'secrets'>, storeId: string) {
  const rows = await ctx.db.select().from(storeAlertChannels).where(eq(storeAlertChannels.storeId, storeId));
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind as 'telegram' | 'webhook',
    enabled: r.enabled,
    telegramChatId: r.telegramChatId,
    webhookHost: r.webhookUrlEnc ? safeHost(ctx.secrets.decrypt(r.webhookUrlEnc)) : null,
  }));
}

function safeHost(url: string): string | null {
  try {
    return new URL(url).host;
  } catch {
    return null;
  }
}

export async function removeAlertChannel(ctx: Pick<AppContext, 'db'>, storeId: string, channelId: string): Promise<boolean> {
  const gone = await ctx.db.delete(storeAlertChannels).where(and(eq(storeAlertChannels.id, channelId), eq(storeAlertChannels.storeId, storeId))).returning({ id: storeAlertChannels.id });
  return gone.length > 0;
}
