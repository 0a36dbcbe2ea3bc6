import { and, desc, eq, gt, isNull, or } from 'drizzle-orm';
import { apiTokens, storeMembers, users } from '../../drizzle/schema.ts';
import { randomToken, sha256Hex } from '../crypto.ts';
import type { Db } from '../db/client.ts';
import type { Actor } from '../services/access.ts';
import { AccountError } from './users.ts';

/**
 * API tokens: `kn_` + 32 random bytes (base64url). Only sha256 is stored; the plaintext is shown
 * once. A token is scoped to one store or (store null) to every store its user can see, now and
 * later; revoking sets revoked_at. Issuing a store-scoped token requires that the user can see the
 * store (member or super-admin). A token may expire (expires_at; null = never, as tokens issued
 * before expiry existed); a new password revokes all of the user's tokens (users.ts setPassword).
 */
export const API_TOKEN_PREFIX = 'kn_';

export async function issueApiToken(db: Db, input: { userId: string; storeId?: string | null; label?: string | null; expiresAt?: Date | null }): Promise<{ id: string; token: string }> {
  const [user] = await db.select().from(users).where(eq(users.id, input.userId));
  if (!user) throw new AccountError('no such user');
  if (input.storeId) {
    if (!/^[0-9a-f-]{36}$/i.test(input.storeId)) throw new AccountError(`not a store id: ${input.storeId}`);
    if (!user.isSuperAdmin) {
      const [m] = await db.select().from(storeMembers).where(and(eq(storeMembers.storeId, input.storeId), eq(storeMembers.userId, user.id)));
      if (!m) throw new AccountError(`${user.email} is not a member of store ${input.storeId}`);
    }
  }
  const token = `${API_TOKEN_PREFIX}${randomToken(32)}`;
  const [row] = await db.insert(apiTokens).values({
    userId: user.id, storeId: input.storeId ?? null, tokenHash: sha256Hex(token), label: input.label ?? null, expiresAt: input.expiresAt ?? null,
  }).returning({ id: apiTokens.id });
  return { id: row!.id, token };
}

/** The actor a bearer token stands for, or null (unknown, revoked, malformed, user gone). */
export async function authenticateApiToken(db: Db, token: string, now: Date = new Date()): Promise<Actor | null> {
  if (!token.startsWith(API_TOKEN_PREFIX) || token.length > 200) return null;
  const [row] = await db.select({ id: apiTokens.id, userId: apiTokens.userId, storeId: apiTokens.storeId, isSuperAdmin: users.isSuperAdmin, lastUsedAt: apiTokens.lastUsedAt })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(and(eq(apiTokens.tokenHash, sha256Hex(token)), isNull(apiTokens.revokedAt), or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now))))
    .limit(1);
  if (!row) return null;
  // At most one write a minute per token.
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > 60_000) {
    await db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, row.id));
  }
  return { kind: 'token', userId: row.userId, isSuperAdmin: row.isSuperAdmin, tokenId: row.id, storeId: row.storeId };
}

export async function revokeApiToken(db: Db, userId: string, tokenId: string, now: Date = new Date()): Promise<boolean> {
  if (!/^[0-9a-f-]{36}$/i.test(tokenId)) return false;
  const rows = await db.update(apiTokens).set({ revokedAt: now })
    .where(and(eq(apiTokens.id, tokenId), eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt)))
    .returning({ id: apiTokens.id });
  return rows.length > 0;
}

export interface ApiTokenInfo {
  id: string;
  storeId: string | null;
  label: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export function tokenState(t: Pick<ApiTokenInfo, 'revokedAt' | 'expiresAt'>, now: Date = new Date()): 'active' | 'revoked' | 'expired' {
  if (t.revokedAt) return 'revoked';
  if (t.expiresAt && t.expiresAt <= now) return 'expired';
  return 'active';
}

/** The user's tokens, newest first; never the token itself (only its hash is stored). */
export async function listApiTokens(db: Db, userId: string): Promise<ApiTokenInfo[]> {
  return db.select({ id: apiTokens.id, storeId: apiTokens.storeId, label: apiTokens.label, createdAt: apiTokens.createdAt, lastUsedAt: apiTokens.lastUsedAt, expiresAt: apiTokens.expiresAt, revokedAt: apiTokens.revokedAt })
    .from(apiTokens).where(eq(apiTokens.userId, userId)).orderBy(desc(apiTokens.createdAt), desc(apiTokens.id));
}
