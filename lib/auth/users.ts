import { and, eq, isNull, sql } from 'drizzle-orm';
import { apiTokens, sessions, storeMembers, stores, users } from '../../drizzle/schema.ts';
import type { Db } from '../db/client.ts';
import type { Locale } from '../i18n/messages.ts';
import { hashPassword, MIN_PASSWORD_LENGTH } from './passwords.ts';

/** Account operations shared by the admin CLI and (later) the pages. Errors are plain messages. */
export class AccountError extends Error {
  override name = 'AccountError';
}

export type UserRow = typeof users.$inferSelect;

const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(sql`lower(${users.email}) = lower(${email.trim()})`).limit(1);
  return row;
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new AccountError(`password must be at least ${MIN_PASSWORD_LENGTH} characters`);
}

export async function createUser(db: Db, input: { email: string; password: string; isSuperAdmin?: boolean }): Promise<UserRow> {
  const email = input.email.trim();
  if (!EMAIL_RE.test(email) || email.length > 320) throw new AccountError(`not an email address: ${email}`);
  checkPassword(input.password);
  const [row] = await db.insert(users)
    .values({ email, passwordHash: await hashPassword(input.password), isSuperAdmin: input.isSuperAdmin ?? false })
    .onConflictDoNothing()
    .returning();
  if (!row) throw new AccountError(`a user with email ${email} already exists`);
  return row;
}

export async function setPassword(db: Db, email: string, password: string): Promise<void> {
  checkPassword(password);
  const user = await findUserByEmail(db, email);
  if (!user) throw new AccountError(`no user with email ${email}`);
  const passwordHash = await hashPassword(password);
  await db.transaction(async (tx) => {
    await tx.update(users).set({ passwordHash, updatedAt: new Date() }).where(eq(users.id, user.id));
    // A new password ends every open session and API token: whoever knew the old one (and made
    // a token with it) is shut out too.
    await tx.delete(sessions).where(eq(sessions.userId, user.id));
    await tx.update(apiTokens).set({ revokedAt: new Date() }).where(and(eq(apiTokens.userId, user.id), isNull(apiTokens.revokedAt)));
  });
}

export async function addMember(db: Db, email: string, storeId: string): Promise<void> {
  const user = await findUserByEmail(db, email);
  if (!user) throw new AccountError(`no user with email ${email}`);
  if (!/^[0-9a-f-]{36}$/i.test(storeId)) throw new AccountError(`not a store id: ${storeId}`);
  const [store] = await db.select({ id: stores.id }).from(stores).where(eq(stores.id, storeId));
  if (!store) throw new AccountError(`no store with id ${storeId}`);
  await db.insert(storeMembers).values({ storeId, userId: user.id }).onConflictDoNothing();
}

/** The admin's language for every page they see (users.locale); the caller has validated it. */
export async function setUserLocale(db: Db, userId: string, locale: Locale): Promise<void> {
  await db.update(users).set({ locale, updatedAt: new Date() }).where(eq(users.id, userId));
}
