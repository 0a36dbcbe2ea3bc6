import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { users } from '../drizzle/schema.ts';
import { hashPassword } from './auth/passwords.ts';
import type { Db } from './db/client.ts';

/**
 * On an empty database `npm start` creates the first super-admin and prints its password once, so
 * a newcomer can log in without reading docs. It never runs again once any user exists.
 */
export async function ensureFirstAdmin(db: Db): Promise<{ created: true; email: string; password: string } | { created: false }> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(users);
  if ((row?.n ?? 0) > 0) return { created: false };
  const email = 'admin@localhost';
  const password = randomBytes(12).toString('base64url');
  const inserted = await db
    .insert(users)
    .values({ email, passwordHash: await hashPassword(password), isSuperAdmin: true })
    .onConflictDoNothing()
    .returning({ id: users.id });
  return inserted.length ? { created: true, email, password } : { created: false };
}
