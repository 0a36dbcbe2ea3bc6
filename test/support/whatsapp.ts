import type { AppContext } from '../../lib/context.ts';
import { WahaClient } from '../../lib/waha/client.ts';
import type { NotifyEvent } from '../../drizzle/schema.ts';
import type { WahaSimulator } from '../../simulators/waha/server.ts';
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
