import type { AppContext } from '../../lib/context.ts';
import { WahaClient } from '../../lib/waha/client.ts';
import type { NotifyEvent } from '../../drizzle/schema.ts';
import { startWahaSimulator, type WahaSimulator } from '../../simulators/waha/server.ts';
import { startWeb } from '../../api/server.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';
import { createTestContext, startTestWorker } from './context.ts';
import { eventually } from './eventually.ts';
import { createSender, createStore, createTemplate } from './fixtures.ts';

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
  },
) {
  const { waha, apiKey, webhookSecret } = options;
  const sender = await createSender(ctx, { wahaServerUrl: waha.url, apiKey, webhookSecret, ...options.sender });
  waha.state.addSession(sender.wahaSessionName, { status: 'WORKING', paired: true });
  const store = await createStore(ctx, { senderId: sender.id, ...options.store });
  await new WahaClient({ baseUrl: waha.url, apiKey, session: sender.wahaSessionName }).upsertSessionConfig({
    webhookUrl: `${options.webUrl}/webhooks/waha/${store.id}`,
    hmacKey: webhookSecret,
  });
  // Changing a session's config restarts it (STARTING → WORKING), as WAHA does.
  await eventually(() => waha.state.sessionStatus(sender.wahaSessionName) === 'WORKING');
  for (const [event, text] of Object.entries(options.templates ?? {})) await createTemplate(ctx, store.id, event as NotifyEvent, text);
  return { store, sender };
}

/**
 * Everything a WhatsApp flow test needs: a context on the run's Temporal and PostgreSQL, a worker,
 * our web app (the simulator's webhooks land there) and a WAHA simulator. `close` stops them in
 * reverse order.
 */
export async function startWhatsAppHarness(options: { apiKey: string; ackDelaysMs?: [number, number, number] }) {
  const ctx = await createTestContext();
  const worker = await startTestWorker(ctx);
  const web = await startWeb(ctx, await findFreePort(), '127.0.0.1');
  const waha = await startWahaSimulator({ engine: 'NOWEB', apiKey: options.apiKey, ackDelaysMs: options.ackDelaysMs ?? [50, 100, 150] });
  return {
    ctx,
    worker,
    web,
    waha,
    close: async () => {
      await waha.close();
      await web.close();
      await worker.shutdown();
      await ctx.close();
    },
  };
}
