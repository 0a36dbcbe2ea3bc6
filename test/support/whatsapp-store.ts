import type { AppContext } from '../../lib/context.ts';
import { WahaClient } from '../../lib/waha/client.ts';
import { eq } from 'drizzle-orm';
import { notifications, type NotifyEvent } from '../../drizzle/schema.ts';
import { notificationStart } from '../../workflows/config.ts';
import { notificationWorkflow, type NotificationInput } from '../../workflows/notification.ts';
import type { SimEngine, WahaSimulator } from '../../simulators/waha/server.ts';
import { eventually } from './eventually.ts';
import { createSender, createStore, createTemplate } from './fixtures.ts';

/**
 * Wiring a store to a WAHA simulator session and running its notification workflow: shared by the
 * tests and test/replay/record-histories.ts, so nothing here may import vitest.
 */

/**
 * The engines as a seller runs them. NOWEB is WAHA's default engine, and without its message store
 * it cannot answer a look-up, so it counts twice (docs/contracts/waha.md).
 */
export interface EngineProfile {
  name: string;
  engine: SimEngine;
  /** Whether "Configure WAHA" turns NOWEB's store on (false: a session configured by hand without it). */
  nowebStore: boolean;
}
export const ENGINE_PROFILES: readonly EngineProfile[] = [
  { name: 'WEBJS', engine: 'WEBJS', nowebStore: false },
  { name: 'NOWEB with store', engine: 'NOWEB', nowebStore: true },
  { name: 'NOWEB without store', engine: 'NOWEB', nowebStore: false },
  { name: 'GOWS', engine: 'GOWS', nowebStore: false },
];

/** One simulated WAHA second, in real milliseconds: webhook retries and 422 waits stay short. */
export const SIM_SECOND_MS = 10;

/**
 * A store with its own WhatsApp session on the WAHA simulator, wired the way "Configure WAHA"
 * wires a real one: the session's webhooks point at our web app, signed with the store's secret.
 */
export async function connectWhatsAppStore(
  ctx: AppContext,
  options: {
    waha: WahaSimulator;
    webUrl: string;
    apiKey: string | null;
    webhookSecret: string;
    sender?: Partial<Parameters<typeof createSender>[1]>;
    store?: Parameters<typeof createStore>[1];
    templates?: Partial<Record<NotifyEvent, string>>;
    /** Default true, as "Configure WAHA" does. */
    nowebStore?: boolean;
    retries?: { policy: 'linear' | 'exponential' | 'constant'; delaySeconds: number; attempts: number };
  },
) {
  const { waha, apiKey, webhookSecret } = options;
  const sender = await createSender(ctx, { wahaServerUrl: waha.url, apiKey, webhookSecret, ...options.sender });
  waha.state.addSession(sender.wahaSessionName, { status: 'WORKING', paired: true });
  const store = await createStore(ctx, { senderId: sender.id, ...options.store });
  await new WahaClient({ baseUrl: waha.url, apiKey, session: sender.wahaSessionName }).upsertSessionConfig({
    webhookUrl: `${options.webUrl}/webhooks/waha/${store.id}`,
    hmacKey: webhookSecret,
    nowebStore: options.nowebStore ?? true,
    ...(options.retries ? { retries: options.retries } : {}),
  });
  // Changing a session's config restarts it (STARTING → WORKING), as WAHA does.
  await eventually(() => waha.state.sessionStatus(sender.wahaSessionName) === 'WORKING');
  for (const [event, text] of Object.entries(options.templates ?? {})) await createTemplate(ctx, store.id, event as NotifyEvent, text);
  return { store, sender };
}


/** Starts the notification workflow as the poll does (workflows/config.ts notificationStart), recording its id on the row. */
export async function startNotification(ctx: AppContext, storeId: string, n: { id: string; orderCode: string; event: string }, timing: NotificationInput['timing']) {
  const input: NotificationInput = { notificationId: n.id, storeId, orderCode: n.orderCode, event: n.event as NotifyEvent, ...(timing ? { timing } : {}) };
  const start = notificationStart(input, { kind: 'first' });
  await ctx.db.update(notifications).set({ workflowId: start.workflowId }).where(eq(notifications.id, n.id));
  return ctx.temporal.workflow.start(notificationWorkflow, { taskQueue: ctx.config.TEMPORAL_TASK_QUEUE, ...start });
}

/** The same, waiting for the workflow's outcome. */
export async function runNotification(ctx: AppContext, storeId: string, n: { id: string; orderCode: string; event: string }, timing: NotificationInput['timing']) {
  return (await startNotification(ctx, storeId, n, timing)).result();
}
