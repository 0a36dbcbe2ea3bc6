import { and, eq, lt, sql } from 'drizzle-orm';
import { loginFailures } from '../../drizzle/schema.ts';
import type { Db } from '../db/client.ts';

/**
 * Login rate limiting (decision): within 15 minutes, 5 failures per (email, client address),
 * 20 per email from anywhere and 20 per client address (an IPv6 address counts as its /64, which
 * one subscriber usually owns whole) block further attempts for that key until its oldest counted
 * failure ages out. A success clears the (email, address) pair only: an attacker's failures
 * against an account or from an address keep counting.
 *
 * Kept in PostgreSQL (login_failures) so that web replicas share the counts and a restart forgets
 * nothing. Rows older than the window are deleted at most once a minute per process.
 */
export interface LoginRateLimiter {
  /** Milliseconds until another attempt is allowed, 0 when allowed now. */
  retryAfterMs(email: string, ip: string, now?: number): Promise<number>;
  recordFailure(email: string, ip: string, now?: number): Promise<void>;
  recordSuccess(email: string, ip: string): Promise<void>;
}

export interface LoginLimits {
  windowMs: number;
  perPair: number;
  perAccount: number;
  perAddress: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { windowMs: 15 * 60_000, perPair: 5, perAccount: 20, perAddress: 20 };

const emailKey = (email: string) => email.trim().toLowerCase().slice(0, 320);

export function createLoginRateLimiter(db: Db, limits: Partial<LoginLimits> = {}): LoginRateLimiter {
  const { windowMs, perPair, perAccount, perAddress } = { ...DEFAULT_LOGIN_LIMITS, ...limits };
  let lastPrune = 0;
  return {
    async retryAfterMs(email, ip, now = Date.now()) {
      const e = emailKey(email);
      const a = addressKey(ip);
      const since = new Date(now - windowMs);
      // For each key: the failure that has to age out before the key is under its limit again
      // (the limit-th most recent one), if there are that many.
      const nth = (cond: ReturnType<typeof sql>, limit: number) =>
        sql`(select ${loginFailures.at} as at from ${loginFailures} where ${cond} and ${loginFailures.at} > ${since} order by ${loginFailures.at} desc offset ${limit - 1} limit 1)`;
      const result = await db.execute<{ at: Date | string }>(sql`
        ${nth(sql`${loginFailures.email} = ${e} and ${loginFailures.ip} = ${a}`, perPair)}
        union all ${nth(sql`${loginFailures.email} = ${e}`, perAccount)}
        union all ${nth(sql`${loginFailures.ip} = ${a}`, perAddress)}`);
      let wait = 0;
      for (const row of result.rows) wait = Math.max(wait, new Date(row.at).getTime() + windowMs - now);
      return wait > 0 ? Math.max(1, wait) : 0;
    },
    async recordFailure(email, ip, now = Date.now()) {
      await db.insert(loginFailures).values({ email: emailKey(email), ip: addressKey(ip), at: new Date(now) });
      if (now - lastPrune > 60_000) {
        lastPrune = now;
        await db.delete(loginFailures).where(lt(loginFailures.at, new Date(now - windowMs)));
      }
    },
    async recordSuccess(email, ip) {
      await db.delete(loginFailures).where(and(eq(loginFailures.email, emailKey(email)), eq(loginFailures.ip, addressKey(ip))));
    },
  };
}

/** The rate-limit key of a client address: IPv4 as is, IPv6 as its /64 prefix. */
export function addressKey(ip: string): string {
  const v4 = unmapIpv4(ip);
  if (v4 !== ip || !ip.includes(':')) return v4.slice(0, 64);
  const groups = ipv6Groups(ip);
  if (!groups) return ip.slice(0, 64);
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) → `10.0.0.1`. */
export function unmapIpv4(ip: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return m ? m[1]! : ip;
}

function ipv6Groups(ip: string): number[] | null {
  let a = ip.split('%')[0]!;
  const embedded = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (embedded) {
    const [b1, b2, b3, b4] = embedded.slice(2).map(Number) as [number, number, number, number];
    a = `${embedded[1]}${((b1 << 8) | b2).toString(16)}:${((b3 << 8) | b4).toString(16)}`;
  }
  const parts = a.split('::');
  if (parts.length > 2) return null;
  const head = parts[0] ? parts[0].split(':') : [];
  const tail = parts.length === 2 && parts[1] ? parts[1].split(':') : [];
  const fill = parts.length === 2 ? 8 - head.length - tail.length : 0;
  if (fill < 0) return null;
  const groups = [...head, ...Array<string>(fill).fill('0'), ...tail].map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN));
  return groups.length === 8 && groups.every((g) => !Number.isNaN(g)) ? groups : null;
}
