import { createHmac } from 'node:crypto';
import { ulid } from 'ulid';

/**
 * Webhook delivery as WAHA does it: one POST per subscribed webhook and event, signed with
 * HMAC-SHA512 of the raw body when the webhook has an `hmac.key`, retried on failure per the
 * webhook's own `retries` config. Every attempt is recorded.
 */

export interface WebhookConfig {
  url: string;
  events: string[];
  hmac?: { key?: string | null } | null;
  retries?: { delaySeconds?: number; attempts?: number; policy?: 'linear' | 'exponential' | 'constant' } | null;
  customHeaders?: { name: string; value: string }[] | null;
}

export interface SimWebhookDelivery {
  at: number;
  url: string;
  event: string;
  envelopeId: string;
  requestId: string;
  /** 1 for the first POST, 2 for the first retry, … */
  attempt: number;
  status: number | null;
  error: string | null;
  envelope: Record<string, unknown>;
}

/** Lower-case hex HMAC-SHA512 of the raw body (X-Webhook-Hmac, algorithm `sha512`). */
export function signWebhook(body: string | Buffer, key: string): string {
  return createHmac('sha512', key).update(body).digest('hex');
}

// devlikeapro/waha#53: "15 attempts with 2 seconds delay between them on network or http errors"
// is what a webhook gets when it configures no retries.
export const DEFAULT_RETRIES = { policy: 'constant', delaySeconds: 2, attempts: 15 } as const;

/**
 * How long to wait before retry number `retry` (1-based), in WAHA seconds.
 * devlikeapro/waha#587: `constant` waits delaySeconds each time, `linear` delaySeconds × n,
 * `exponential` starts at delaySeconds and doubles (WAHA adds random jitter; the simulator does not,
 * so tests are deterministic).
 */
export function retryDelaySeconds(retries: WebhookConfig['retries'], retry: number): number {
  const delay = retries?.delaySeconds ?? DEFAULT_RETRIES.delaySeconds;
  const policy = retries?.policy ?? DEFAULT_RETRIES.policy;
  if (policy === 'exponential') return delay * 2 ** (retry - 1);
  if (policy === 'linear') return delay * retry;
  return delay;
}

/** devlikeapro/waha#53, #580: `attempts` counts the retries after the first POST; 0 turns retries off. */
export function retryCount(retries: WebhookConfig['retries']): number {
  return Math.max(0, Math.floor(retries?.attempts ?? DEFAULT_RETRIES.attempts));
}

export interface DispatcherOptions {
  /** Real milliseconds per WAHA second. */
  secondMs: number;
  /** When set, replaces `delaySeconds × secondMs` as the base delay of every retry. */
  retryBaseMs: number | null;
  /** Per-POST timeout. */
  timeoutMs?: number;
}

export class WebhookDispatcher {
  readonly deliveries: SimWebhookDelivery[] = [];
  readonly #options: DispatcherOptions;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #wakers = new Set<() => void>();
  #pending = 0;
  #inflight = new Set<Promise<unknown>>();
  #closed = false;

  constructor(options: DispatcherOptions) {
    this.#options = options;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Deliveries (one envelope to one webhook) not yet delivered nor given up, retries included. */
  pending(): number {
    return this.#pending;
  }

  /** Settles when every delivery in flight now and all their retries are done. */
  async drained(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  /**
   * Posts one envelope to one webhook (twice with `copies: 2`, same envelope id). Resolves after the
   * first attempt of each copy; retries go on in the background (see `pending()`).
   */
  deliver(hook: WebhookConfig, event: string, envelope: Record<string, unknown> & { id: string }, copies = 1): Promise<void> {
    const body = JSON.stringify(envelope);
    let firstDone!: () => void;
    const first = new Promise<void>((r) => (firstDone = r));
    const run = async () => {
      for (let copy = 0; copy < copies; copy++) {
        this.#pending += 1;
        try {
          await this.#attempts(hook, event, envelope, body, copy === copies - 1 ? firstDone : null);
        } finally {
          this.#pending -= 1;
        }
      }
    };
    const p = run().finally(() => firstDone());
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p)).catch(() => undefined);
    return first;
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const wake of this.#wakers) wake();
    this.#wakers.clear();
  }

  async #attempts(hook: WebhookConfig, event: string, envelope: Record<string, unknown> & { id: string }, body: string, onFirst: (() => void) | null): Promise<void> {
    const total = 1 + retryCount(hook.retries);
    for (let attempt = 1; attempt <= total && !this.#closed; attempt++) {
      const ok = await this.#post(hook, event, envelope, body, attempt);
      if (attempt === 1) onFirst?.();
      if (ok) return;
      if (attempt < total) {
        const base = this.#options.retryBaseMs;
        const ms = base === null
          ? retryDelaySeconds(hook.retries, attempt) * this.#options.secondMs
          : base * (retryDelaySeconds(hook.retries, attempt) / (hook.retries?.delaySeconds || DEFAULT_RETRIES.delaySeconds));
        await this.#sleep(ms);
      }
    }
  }

  /** One POST; true when the receiver answered 2xx (axios treats anything else as an error). */
  async #post(hook: WebhookConfig, event: string, envelope: Record<string, unknown> & { id: string }, body: string, attempt: number): Promise<boolean> {
    const requestId = `req_${ulid().toLowerCase()}`;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'WAHA/simulator',
      'x-webhook-request-id': requestId,
      'x-webhook-timestamp': String(Date.now()),
    };
    const key = hook.hmac?.key;
    if (key) {
      headers['x-webhook-hmac'] = signWebhook(body, key);
      headers['x-webhook-hmac-algorithm'] = 'sha512';
    }
    for (const h of hook.customHeaders ?? []) headers[h.name] = h.value;
    const record: SimWebhookDelivery = { at: Date.now(), url: hook.url, event, envelopeId: envelope.id, requestId, attempt, status: null, error: null, envelope };
    this.deliveries.push(record);
    try {
      const res = await fetch(hook.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.#options.timeoutMs ?? 5_000) });
      record.status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      return res.ok;
    } catch (err) {
      record.error = err instanceof Error ? err.message : String(err);
      return false;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.#closed) return resolve();
      const wake = () => {
        clearTimeout(t);
        this.#timers.delete(t);
        this.#wakers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      this.#timers.add(t);
      this.#wakers.add(wake);
    });
  }
}
