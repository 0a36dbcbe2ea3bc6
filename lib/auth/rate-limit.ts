/**
 * Login rate limiting, in memory (decision): 5 failed attempts per (email, IP) within 15 minutes
 * block further attempts for that pair until the oldest failure ages out; a success clears it.
 * In memory because the web process is a single instance (npm start / one compose service) and a
 * restart forgetting counters is acceptable; several web replicas would each allow 5 — move it to
 * PostgreSQL then. The map is pruned as it is used, so it cannot grow without bound.
 */
export interface LoginRateLimiter {
  /** Milliseconds until another attempt is allowed, 0 when allowed now. */
  retryAfterMs(email: string, ip: string, now?: number): number;
  recordFailure(email: string, ip: string, now?: number): void;
  recordSuccess(email: string, ip: string): void;
}

export function createLoginRateLimiter(options: { maxFailures?: number; windowMs?: number; maxKeys?: number } = {}): LoginRateLimiter {
  const maxFailures = options.maxFailures ?? 5;
  const windowMs = options.windowMs ?? 15 * 60_000;
  const maxKeys = options.maxKeys ?? 100_000;
  const failures = new Map<string, number[]>();
  const key = (email: string, ip: string) => `${email.trim().toLowerCase()}\u0000${ip}`;
  const recent = (k: string, now: number) => {
    const list = (failures.get(k) ?? []).filter((t) => now - t < windowMs);
    if (list.length) failures.set(k, list);
    else failures.delete(k);
    return list;
  };
  return {
    retryAfterMs(email, ip, now = Date.now()) {
      const list = recent(key(email, ip), now);
      if (list.length < maxFailures) return 0;
      return Math.max(1, (list[list.length - maxFailures] ?? now) + windowMs - now);
    },
    recordFailure(email, ip, now = Date.now()) {
      const k = key(email, ip);
      const list = recent(k, now);
      list.push(now);
      failures.set(k, list);
      if (failures.size > maxKeys) {
        for (const [other] of failures) {
          recent(other, now);
          if (failures.size <= maxKeys) break;
          failures.delete(other);
        }
      }
    },
    recordSuccess(email, ip) {
      failures.delete(key(email, ip));
    },
  };
}
