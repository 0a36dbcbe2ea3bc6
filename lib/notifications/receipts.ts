import { sql } from 'drizzle-orm';
import { senders } from '../../drizzle/schema.ts';
import type { AppContext } from '../context.ts';
import { WahaError, type WahaClient } from '../waha/client.ts';
import { wahaClientForSender, type SenderRow } from '../waha/for-sender.ts';
import { recordAck } from './acks.ts';
import { signalAck, wakeWaiting } from './wake.ts';

/**
 * Delivery receipts that did not come (docs/contracts/waha.md "Acks"). WhatsApp acks reach us as
 * webhooks, and webhooks get lost: a receiver down past WAHA's retries, a session that keeps
 * reading WORKING while every message stays PENDING (WAHA issues #1721, #1379). Two jobs, run
 * every two minutes by `deliveryReceiptsWorkflow`:
 * - sweepMissingAcks asks WAHA about messages still `sent` after 10 minutes (and once about
 *   `delivered` ones, whose READ may be lost) and applies what it says through the status writer;
 * - detectStalledReceipts holds a number's queue when its recent sends got no SERVER ack while the
 *   session says WORKING. recordAck releases it when any ack returns.
 */

export interface ReceiptOptions {
  /** A message without an ack this long is asked about. */
  silentForMs?: number;
  /** Asked again at most this often while it stays `sent`. */
  recheckEveryMs?: number;
  /** Older messages are left to the workflow's DEVICE deadline. */
  maxAgeMs?: number;
  limit?: number;
  clientFor?: (sender: SenderRow) => Pick<WahaClient, 'getMessage'>;
}

export interface SweepResult {
  checked: number;
  updated: number;
  /** Senders whose session cannot answer a look-up (NOWEB without its store), skipped. */
  blind: number;
}

interface SilentRow extends Record<string, unknown> {
  attempt_id: string;
  notification_id: string;
  workflow_id: string | null;
  sender_id: string;
  chat_id: string;
  waha_message_id: string;
  last_ack: number | null;
}

export async function sweepMissingAcks(ctx: AppContext, options: ReceiptOptions = {}): Promise<SweepResult> {
  const now = ctx.now();
  const silentFor = options.silentForMs ?? 10 * 60_000;
  const recheck = options.recheckEveryMs ?? 30 * 60_000;
  const maxAge = options.maxAgeMs ?? 26 * 60 * 60_000;
  const silent = await ctx.db.execute<SilentRow>(sql`
    select a.id as attempt_id, a.notification_id, n.workflow_id, a.sender_id, a.chat_id, a.waha_message_id, a.last_ack
    from message_attempts a join notifications n on n.id = a.notification_id
    where a.outcome = 'sent' and a.waha_message_id is not null and a.chat_id is not null and a.sender_id is not null
      and a.started_at < ${new Date(now.getTime() - silentFor)} and a.started_at > ${new Date(now.getTime() - maxAge)}
      and ((n.status = 'sent' and (a.ack_checked_at is null or a.ack_checked_at < ${new Date(now.getTime() - recheck)}))
        or (n.status = 'delivered' and a.ack_checked_at is null))
    order by a.started_at
    limit ${options.limit ?? 200}`);
  const result: SweepResult = { checked: 0, updated: 0, blind: 0 };
  const clients = new Map<string, Pick<WahaClient, 'getMessage'> | null>();
  for (const row of silent.rows) {
    // Stamped first, also when the number cannot be asked: a blind or unreachable number must not
    // take the whole batch again on the next run and starve the others.
    await ctx.db.execute(sql`update message_attempts set ack_checked_at = ${now} where id = ${row.attempt_id}`);
    const client = await clientOf(ctx, clients, row.sender_id, options);
    if (!client) continue;
    let ack: number | null;
    try {
      ack = (await client.getMessage(row.chat_id, row.waha_message_id))?.ack ?? null;
    } catch (err) {
      if (!(err instanceof WahaError)) throw err;
      // A session that cannot answer (no NOWEB store, down) is not asked again in this sweep.
      if (err.kind === 'store_disabled') result.blind++;
      clients.set(row.sender_id, null);
      continue;
    }
    result.checked++;
    if (ack === null || ack <= (row.last_ack ?? -2)) continue;
    const { resumedSenderId } = await recordAck(ctx, row.attempt_id, row.notification_id, ack, 'sweep');
    result.updated++;
    await signalAck(ctx, row.workflow_id, ack);
    if (resumedSenderId) await wakeWaiting(ctx, resumedSenderId);
  }
  if (result.updated > 0 || result.blind > 0) ctx.logger.info({ ...result }, 'missing acks swept');
  return result;
}

async function clientOf(ctx: AppContext, cache: Map<string, Pick<WahaClient, 'getMessage'> | null>, senderId: string, options: ReceiptOptions) {
  if (cache.has(senderId)) return cache.get(senderId) ?? null;
  const [sender] = await ctx.db.select().from(senders).where(sql`${senders.id} = ${senderId}`);
  const client = sender ? (options.clientFor?.(sender) ?? wahaClientForSender(ctx, sender)) : null;
  cache.set(senderId, client);
  return client;
}

export interface StallOptions {
  /** How many of the number's latest sends must all lack a SERVER ack. */
  sends?: number;
  /** A send younger than this may still be acked: it does not count yet. */
  graceMs?: number;
  /** Look at these numbers only (tests; an operator checking one number). */
  senderIds?: string[];
  /** Sends older than this say nothing about the receipts now. */
  lookBackMs?: number;
}

/**
 * Marks numbers whose last `sends` messages (each older than the grace, younger than an hour and
 * sent after the last hold ended) have no SERVER ack while no newer message got one and the
 * session says WORKING. Returns the senders newly held.
 */
export async function detectStalledReceipts(ctx: AppContext, options: StallOptions = {}): Promise<string[]> {
  const now = ctx.now();
  const sends = options.sends ?? 3;
  const grace = options.graceMs ?? 3 * 60_000;
  const lookBack = options.lookBackMs ?? 60 * 60_000;
  const held = await ctx.db.execute<{ id: string }>(sql`
    update senders s set acks_stalled_since = ${now}, updated_at = ${now}
    where s.acks_stalled_since is null and s.session_status = 'WORKING'
      and (${options.senderIds ? sql`s.id in (${sql.join(options.senderIds.map((id) => sql`${id}::uuid`), sql`, `)})` : sql`true`})
      and (
        select count(*) from (
          select a.last_ack from message_attempts a
          where a.sender_id = s.id and a.outcome = 'sent' and a.started_at < ${new Date(now.getTime() - grace)}
            and a.started_at > greatest(coalesce(s.acks_released_at, '-infinity'), ${new Date(now.getTime() - lookBack)})
          order by a.started_at desc limit ${sends}
        ) latest where coalesce(latest.last_ack, 0) < 1
      ) = ${sends}
      and not exists (
        select 1 from message_attempts b
        where b.sender_id = s.id and b.outcome = 'sent' and coalesce(b.last_ack, 0) >= 1
          and b.started_at >= ${new Date(now.getTime() - grace)}
      )
    returning s.id`);
  for (const { id } of held.rows) ctx.logger.warn({ senderId: id }, 'WhatsApp acknowledges none of the latest sends: queue held');
  return held.rows.map((r) => r.id);
}
