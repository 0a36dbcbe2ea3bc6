import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { z } from 'zod';
import { createWahaSimulatorApp, type Env } from './routes.ts';
import { WahaSimState, type WahaSimulatorOptions } from './session-state.ts';

/**
 * A WAHA stand-in for tests, the demo and the benchmark, engine by engine (WEBJS, NOWEB, GOWS):
 * engines.ts holds the wire shapes, session-state.ts the world (sessions, chats, LIDs, faults),
 * webhooks.ts the signed deliveries with retries, routes.ts the HTTP API, chat-page.ts the chats
 * page. This file starts it and is the CLI entry; it re-exports what callers import.
 */

export type { SimBuild, SimEngine, SimMedia } from './engines.ts';
export {
  SIM_OPS, SIM_SESSION_STATUSES, WahaSimState,
  type InjectOptions, type SetLidOptions, type SimFault, type SimLid, type SimMessage, type SimOp, type SimRequest,
  type SimSessionStatus, type SimWebhookDelivery, type WahaSimulatorOptions,
} from './session-state.ts';
export { createWahaSimulatorApp } from './routes.ts';

export interface WahaSimulator {
  url: string;
  state: WahaSimState;
  app: Hono<Env>;
  close(): Promise<void>;
}

/** Serves the simulator on 127.0.0.1 (port 0 = any free port). */
export async function startWahaSimulator(options: WahaSimulatorOptions): Promise<WahaSimulator> {
  const state = new WahaSimState(options);
  const app = createWahaSimulatorApp(state);
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: '127.0.0.1' }, (info: AddressInfo) => resolve({ server, port: info.port }));
    server.once('error', reject);
  });
  state.baseUrl = `http://127.0.0.1:${port}`;
  return {
    url: state.baseUrl,
    state,
    app,
    close: () => new Promise<void>((resolve) => {
      state.close();
      // Slow faults keep sockets open; a test's teardown must not wait for them.
      if ('closeAllConnections' in server && typeof server.closeAllConnections === 'function') server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

// Manual runs: `tsx simulators/waha/server.ts --engine NOWEB --port 3100 --api-key secret [--second-ms 1000] [--build core-before-2026.6]`.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { engine: { type: 'string', default: 'NOWEB' }, port: { type: 'string', default: '3100' }, 'api-key': { type: 'string' }, 'second-ms': { type: 'string' }, build: { type: 'string', default: 'current' } } });
  const engine = z.enum(['WEBJS', 'NOWEB', 'GOWS']).parse(values.engine);
  const build = z.enum(['current', 'core-before-2026.6']).parse(values.build);
  const secondMs = values['second-ms'] === undefined ? undefined : z.coerce.number().positive().parse(values['second-ms']);
  const sim = await startWahaSimulator({ engine, port: Number(values.port), apiKey: values['api-key'] ?? null, secondMs, build });
  process.stderr.write(`WAHA simulator (${engine}) on ${sim.url}; chats: ${sim.url}/_sim/chats\n`);
}
