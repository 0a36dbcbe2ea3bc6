import type { SimEngine } from '../../simulators/waha/server.ts';
import { startWahaSimulator } from '../../simulators/waha/server.ts';
import { startWeb } from '../../api/server.ts';
import { findFreePort } from '../../lib/runtime/ports.ts';
import { createTestContext, startTestWorker } from './context.ts';
import { SIM_SECOND_MS } from './whatsapp-store.ts';

export { connectWhatsAppStore, ENGINE_PROFILES, runNotification, SIM_SECOND_MS, type EngineProfile } from './whatsapp-store.ts';

/**
 * Everything a WhatsApp flow test needs: a context on the run's Temporal and PostgreSQL, a worker,
 * our web app (the simulator's webhooks land there) and a WAHA simulator. `close` stops them in
 * reverse order.
 */
export async function startWhatsAppHarness(options: { apiKey: string; ackDelaysMs?: [number, number, number]; engine?: SimEngine }) {
  const ctx = await createTestContext();
  const worker = await startTestWorker(ctx);
  const web = await startWeb(ctx, await findFreePort(), '127.0.0.1');
  const waha = await startWahaSimulator({ engine: options.engine ?? 'NOWEB', apiKey: options.apiKey, ackDelaysMs: options.ackDelaysMs ?? [50, 100, 150], secondMs: SIM_SECOND_MS });
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
