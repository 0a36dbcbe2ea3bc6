import { and, eq, inArray, isNull } from 'drizzle-orm';
import { buyerLids, optOuts, stores, unmappedOptOuts, type OptOutMatch } from '../../drizzle/schema.ts';
import type { Db } from '../db/client.ts';
import { WahaError } from '../waha/client.ts';

/**
 * Buyers behind linked ids (docs/contracts/waha.md "Buyers behind LIDs"). WhatsApp shows many
 * buyers as `…@lid` instead of their number, so a reply — "стоп" above all — may carry no phone.
 * We learn each buyer's LID when we send to them (WAHA `lids/pn/{phone}`) and keep it beside the
 * phone; a reply from a LID is matched through that table first, then WAHA's `lids/{lid}` (which
 * may answer `pn: null`), then NOWEB's `remoteJidAlt` in the payload.
 */

type Executor = Pick<Db, 'select' | 'insert' | 'update'>;

export interface LidLookups {
  lidForPhone(phone: string): Promise<string | null>;
  phoneForLid(lid: string): Promise<string | null>;
}

export async function rememberLid(db: Executor, row: { senderId: string; lid: string; phone: string; source: string; at: Date }): Promise<void> {
  await db
    .insert(buyerLids)
    .values({ senderId: row.senderId, lid: row.lid, phone: row.phone, source: row.source, learnedAt: row.at })
    .onConflictDoUpdate({ target: [buyerLids.senderId, buyerLids.lid], set: { phone: row.phone, source: row.source, learnedAt: row.at } });
}

export async function knownPhoneOfLid(db: Pick<Db, 'select'>, senderId: string, lid: string): Promise<string | null> {
  const [row] = await db.select({ phone: buyerLids.phone }).from(buyerLids).where(and(eq(buyerLids.senderId, senderId), eq(buyerLids.lid, lid)));
  return row?.phone ?? null;
}

/**
 * Before the first message to a phone from this number: ask WAHA for the buyer's LID and keep it.
 * A buyer who already wrote "стоп" from that LID (kept unmapped) is opted out now, in every store
 * of this number that received the word. Returns the stores where the phone is now opted out.
 * WAHA failing to answer is not a reason to hold the message: the LID is asked again next time.
 */
export async function learnLidBeforeSend(
  ctx: { db: Db; now: () => Date },
  waha: Pick<LidLookups, 'lidForPhone'>,
  input: { senderId: string; phone: string },
): Promise<{ lid: string | null; optedOutStoreIds: string[] }> {
  const [known] = await ctx.db.select({ lid: buyerLids.lid }).from(buyerLids).where(and(eq(buyerLids.senderId, input.senderId), eq(buyerLids.phone, input.phone))).limit(1);
  // Known already (another store's reply mapped it): a «стоп» one of this number's stores kept
  // unmapped for that LID still applies.
  if (known) return { lid: known.lid, optedOutStoreIds: await ctx.db.transaction((tx) => matchUnmappedOptOuts(tx, { senderId: input.senderId, lid: known.lid, phone: input.phone, at: ctx.now() })) };
  let lid: string | null;
  try {
    lid = await waha.lidForPhone(input.phone);
  } catch (err) {
    if (err instanceof WahaError) return { lid: null, optedOutStoreIds: [] };
    throw err;
  }
  if (!lid) return { lid: null, optedOutStoreIds: [] };
  const at = ctx.now();
  const optedOutStoreIds = await ctx.db.transaction(async (tx) => {
    await rememberLid(tx, { senderId: input.senderId, lid, phone: input.phone, source: 'send', at });
    return matchUnmappedOptOuts(tx, { senderId: input.senderId, lid, phone: input.phone, at });
  });
  return { lid, optedOutStoreIds };
}

/** Turns unmapped opt-outs of this LID (in the number's stores) into opt-outs of the phone. */
async function matchUnmappedOptOuts(tx: Executor, input: { senderId: string; lid: string; phone: string; at: Date }): Promise<string[]> {
  const waiting = await tx
    .select({ storeId: unmappedOptOuts.storeId })
    .from(unmappedOptOuts)
    .innerJoin(stores, eq(stores.id, unmappedOptOuts.storeId))
    .where(and(eq(stores.senderId, input.senderId), eq(unmappedOptOuts.lid, input.lid), isNull(unmappedOptOuts.matchedAt)));
  const storeIds = waiting.map((w) => w.storeId);
  if (storeIds.length === 0) return [];
  for (const storeId of storeIds) {
    await tx.insert(optOuts).values({ storeId, phone: input.phone, source: 'whatsapp', matchedBy: 'lid_later', lid: input.lid, createdAt: input.at }).onConflictDoNothing();
  }
  await tx
    .update(unmappedOptOuts)
    .set({ matchedPhone: input.phone, matchedAt: input.at })
    .where(and(eq(unmappedOptOuts.lid, input.lid), inArray(unmappedOptOuts.storeId, storeIds)));
  return storeIds;
}

export type SenderMatch = { phone: string; matchedBy: OptOutMatch } | null;

/**
 * Which buyer wrote from this LID: our table, then WAHA's `lids/{lid}`, then the number NOWEB put
 * beside it. A match found outside the table is remembered for next time.
 */
export async function resolveLidSender(
  ctx: { db: Db; now: () => Date },
  waha: Pick<LidLookups, 'phoneForLid'> | null,
  input: { senderId: string; lid: string; altPhone: string | null },
): Promise<SenderMatch> {
  const known = await knownPhoneOfLid(ctx.db, input.senderId, input.lid);
  if (known) return { phone: known, matchedBy: 'lid_table' };
  let fromApi: string | null = null;
  if (waha) {
    try {
      fromApi = await waha.phoneForLid(input.lid);
    } catch (err) {
      if (!(err instanceof WahaError)) throw err;
    }
  }
  const match: SenderMatch = fromApi ? { phone: fromApi, matchedBy: 'lid_api' } : input.altPhone ? { phone: input.altPhone, matchedBy: 'remote_jid_alt' } : null;
  if (match) await rememberLid(ctx.db, { senderId: input.senderId, lid: input.lid, phone: match.phone, source: match.matchedBy, at: ctx.now() });
  return match;
}
