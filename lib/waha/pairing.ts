import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { phoneOfJid } from './webhooks.ts';

/**
 * Which phone is paired with a sender's session, as WAHA tells us: a session that reads WORKING
 * carries `me` (the webhook envelope's `me`, and `GET /api/sessions/{name}` → `me`;
 * docs/contracts/waha.md "Sessions"). The first WORKING with a phone is the pairing that starts the
 * number's warm-up (lib/pacing/pacing.ts warmupState); the same phone seen again changes nothing,
 * and a different phone on the same session is a new number, whose warm-up starts again.
 */

/** The phone digits of `me.id` (`77001234567@c.us`, `77001234567:7@s.whatsapp.net`), else the id as given. */
export function pairedIdOf(meId: string): string {
  return phoneOfJid(meId) ?? meId.trim().slice(0, 100);
}

/**
 * Records the pairing seen at `at`; true when it is a new one (first phone, or another phone).
 * One UPDATE guarded by `is distinct from`, so concurrent webhooks and claims record it once. A
 * number the migration found already connected keeps its ended warm-up when its phone is first seen.
 */
export async function recordPairing(db: Pick<Db, 'execute'>, senderId: string, meId: string | null | undefined, at: Date): Promise<boolean> {
  if (!meId) return false;
  const id = pairedIdOf(meId);
  const r = await db.execute(sql`
    update senders set
      paired_at = case when paired_me_id is null then coalesce(paired_at, ${at}) else ${at} end,
      warmup_ended_at = case when paired_me_id is null then warmup_ended_at else null end,
      paired_me_id = ${id},
      updated_at = ${at}
    where id = ${senderId} and paired_me_id is distinct from ${id}`);
  return (r.rowCount ?? 0) > 0;
}
