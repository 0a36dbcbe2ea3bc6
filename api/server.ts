import { serve, type ServerType } from '@hono/node-server';
import type { AppContext } from '../lib/context.ts';
import { createApp } from './app.ts';

export interface RunningWeb {
  url: string;
  close(): Promise<void>;
}

export async function startWeb(ctx: AppContext, port: number, hostname = '0.0.0.0'): Promise<RunningWeb> {
  const app = createApp(ctx);
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port, hostname }, () => resolve(s));
    s.once('error', reject);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
