import { isIP } from 'node:net';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { isPublicAddress, outboundFetch, OutboundRedirectError, OutboundRefusedError, readCapped } from '../net/outbound.ts';
import { publicBase } from './links.ts';

/**
 * "Is PUBLIC_URL reachable?" — the test button beside the review short-link setting. The server
 * asks itself through PUBLIC_URL (`GET <PUBLIC_URL>/r/-/probe?nonce=…`, api/review-links.ts), and
 * only an answer carrying the nonce's MAC under this APP_SECRET counts: a proxy's error page, a
 * parked domain or another service at that address does not. In production the request is refused
 * when PUBLIC_URL resolves to a loopback or private address (lib/net/outbound.ts), because buyers'
 * phones on the internet could not open it; elsewhere it passes with a warning, so the demo and the
 * tests work on 127.0.0.1.
 */

export const PROBE_PATH = '/r/-/probe';
export const PROBE_PURPOSE = 'review-link-probe';
const NONCE_RE = /^[A-Za-z0-9_-]{16,64}$/;

export function isProbeNonce(value: string | undefined): value is string {
  return value !== undefined && NONCE_RE.test(value);
}

export type ReachabilityFailure = 'private_address' | 'unreachable' | 'redirect' | 'not_this_service';

export type Reachability =
  | { ok: true; url: string; /** Reachable, but a loopback/private address (outside production). */ localOnly: boolean }
  | { ok: false; url: string; reason: ReachabilityFailure; detail: string | null };

const probeAnswer = z.object({ service: z.literal('kaspi-notify'), proof: z.string() });

/** Whether the host names this machine or a private network: buyers on the internet cannot reach it. */
export function isLocalHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.local') || host.endsWith('.internal')) return true;
  return isIP(host) !== 0 && !isPublicAddress(host);
}

export async function checkPublicUrlReachable(ctx: Pick<AppContext, 'config' | 'secrets'>, options: { timeoutMs?: number } = {}): Promise<Reachability> {
  const base = publicBase(ctx.config);
  const nonce = randomBytes(18).toString('base64url');
  const url = `${base}${PROBE_PATH}?nonce=${nonce}`;
  try {
    const res = await outboundFetch(url, { method: 'GET', headers: { accept: 'application/json' }, signal: AbortSignal.timeout(options.timeoutMs ?? 5_000) }, { blockPrivate: ctx.config.NODE_ENV === 'production', allowlist: [] });
    const body = (await readCapped(res, 4096)).toString('utf8');
    let parsed: z.infer<typeof probeAnswer> | null = null;
    try {
      const json = probeAnswer.safeParse(JSON.parse(body));
      parsed = json.success ? json.data : null;
    } catch {
      parsed = null;
    }
    if (!res.ok || !parsed || parsed.proof !== ctx.secrets.mac(PROBE_PURPOSE, nonce)) {
      return { ok: false, url: base, reason: 'not_this_service', detail: `HTTP ${res.status}` };
    }
    return { ok: true, url: base, localOnly: isLocalHost(new URL(base).hostname) };
  } catch (err) {
    if (err instanceof OutboundRefusedError) return { ok: false, url: base, reason: 'private_address', detail: null };
    if (err instanceof OutboundRedirectError) return { ok: false, url: base, reason: 'redirect', detail: `HTTP ${err.status}` };
    const cause = err instanceof Error ? ((err.cause as { code?: string } | undefined)?.code ?? err.name) : 'error';
    return { ok: false, url: base, reason: 'unreachable', detail: cause };
  }
}
