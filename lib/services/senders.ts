import { and, eq, ne } from 'drizzle-orm';
import { senders, stores } from '../../drizzle/schema.ts';
import type { Db } from '../db/client.ts';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * A store has left the sender row `senderId` (moved to another number or was deleted). When no
 * store uses the row any more its WAHA API key and webhook secret are wiped: the row itself stays
 * (opt-outs and buyer ids belong to the number), but whoever saves the same URL and session next
 * must bring the key again and gets a fresh webhook secret — the row's secrets never pass to a
 * tenant that did not set them. Locks the row so a concurrent join either sees the wipe or is
 * counted as a remaining store.
 */
export async function releaseSender(tx: Tx | Db, senderId: string, leavingStoreId: string, now: Date): Promise<boolean> {
  const [row] = await tx.select({ id: senders.id }).from(senders).where(eq(senders.id, senderId)).for('update');
  if (!row) return false;
  const others = await tx.select({ id: stores.id }).from(stores).where(and(eq(stores.senderId, senderId), ne(stores.id, leavingStoreId))).limit(1);
  if (others.length) return false;
  await tx.update(senders).set({ wahaApiKeyEnc: null, webhookSecretEnc: null, updatedAt: now }).where(eq(senders.id, senderId));
  return true;
}
