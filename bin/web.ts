/** `npm run web`: the admin pages, JSON API, WAHA webhooks, health and metrics (production). */
import { startWeb } from '../api/server.ts';
import { onShutdown, productionContext } from './process-main.ts';

const { config, ctx } = await productionContext();
const web = await startWeb(ctx, config.PORT);
ctx.logger.info({ port: config.PORT }, 'web server listening');
onShutdown(async () => {
  await web.close();
  await ctx.close();
});
