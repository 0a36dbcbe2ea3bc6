import { Hono } from 'hono';
import type { AppContext } from '../../lib/context.ts';
import { requireApiAuth, type AuthEnv } from '../../lib/auth/middleware.ts';
import { createStore, deleteStore, listStores } from '../../lib/services/stores.ts';
import { jsonErrorHandler, readJson } from './respond.ts';

/**
 * `POST /api/stores` → 201 `{success, store_id}`; `GET /api/stores` → `{success, stores}`;
 * `DELETE /api/stores/:storeId` → `{success}` (404 for a store the caller cannot see). Mounted at /api/stores.
 */
export function storesApiRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.use('*', requireApiAuth(ctx));
  app.onError(jsonErrorHandler(ctx));

  app.post('/', async (c) => {
    const store = await createStore(ctx, c.get('actor'), await readJson(c));
    return c.json({ success: true, store_id: store.store_id, store }, 201);
  });
  app.get('/', async (c) => c.json({ success: true, stores: await listStores(ctx, c.get('actor')) }));
  app.delete('/:storeId', async (c) => {
    await deleteStore(ctx, c.get('actor'), c.req.param('storeId'));
    return c.json({ success: true });
  });
  return app;
}
